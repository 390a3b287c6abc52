// RUN: npuc-opt %s --split-input-file -p quantized-mean-to-depthwise | filecheck %s

// A global average pool that drops H and W: a 2x3 depthwise of ones with a zero
// bias and MEAN's rescale (in/out = 2: QuantizeMultiplier gives 2^30, shift 2;
// 6 elements: 2^30 << 2 // 6 = 715827882, shift 2 - 2 = 0), then a reshape.
// CHECK-LABEL: func.func @drop_dims
// CHECK:       %[[W:.*]] = quantized.constant {layer = "mean"} dense<1> : tensor<1x2x3x4xi8> -> tensor<1x2x3x4x!quantized.uniform<i8:f32, 1.0:0>>
// CHECK-NEXT:  %[[B:.*]] = quantized.constant {layer = "mean"} dense<0> : tensor<4xi32>
// CHECK-NEXT:  %[[D:.*]] = quantized.depthwise_conv2d %{{.*}}, %[[W]], %[[B]] {layer = "mean", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none", rescale = array<i32: 715827882, 0>} : {{.*}} -> tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.01:-3>>
// CHECK-NEXT:  %[[R:.*]] = quantized.reshape %[[D]] {layer = "mean"} : tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.01:-3>> -> tensor<1x4x!quantized.uniform<i8:f32, 0.01:-3>>
// CHECK-NEXT:  func.return %[[R]]
// CHECK-NOT:   quantized.reduce
func.func @drop_dims(%x: tensor<1x2x3x4x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x4x!quantized.uniform<i8:f32, 0.01:-3>> {
  %m = quantized.reduce %x {layer = "mean", kind = "mean", axes = array<i64: 1, 2>} : tensor<1x2x3x4x!quantized.uniform<i8:f32, 0.02:-128>> -> tensor<1x4x!quantized.uniform<i8:f32, 0.01:-3>>
  func.return %m : tensor<1x4x!quantized.uniform<i8:f32, 0.01:-3>>
}

// -----

// keep_dims: the depthwise result is the mean's, no reshape. int16 keeps an i32
// bias (TFLite's int32 rescale path, as MEAN computes).
// CHECK-LABEL: func.func @keep_dims_int16
// CHECK:       quantized.constant {{.*}} : tensor<1x7x7x2xi8> -> tensor<1x7x7x2x!quantized.uniform<i8:f32, 1.0:0>>
// CHECK-NEXT:  quantized.constant dense<0> : tensor<2xi32>
// CHECK-NEXT:  %[[D:.*]] = quantized.depthwise_conv2d {{.*}} rescale = array<i32: {{-?[0-9]+}}, {{-?[0-9]+}}>} : {{.*}} -> tensor<1x1x1x2x!quantized.uniform<i16:f32, 0.001:0>>
// CHECK-NEXT:  func.return %[[D]]
func.func @keep_dims_int16(%x: tensor<1x7x7x2x!quantized.uniform<i16:f32, 0.002:0>>) -> tensor<1x1x1x2x!quantized.uniform<i16:f32, 0.001:0>> {
  %m = quantized.reduce %x {kind = "mean", axes = array<i64: 1, 2>} : tensor<1x7x7x2x!quantized.uniform<i16:f32, 0.002:0>> -> tensor<1x1x1x2x!quantized.uniform<i16:f32, 0.001:0>>
  func.return %m : tensor<1x1x1x2x!quantized.uniform<i16:f32, 0.001:0>>
}

// -----

// A mean over another run of adjacent axes reads its input, unmoved, as
// [1, outer, reduced, inner] (a reshape) and takes a 1 x reduced window: over
// the channels [1, 6, 4, 1] with a 1x4 kernel, over H [1, 1, 2, 12] with a 1x2
// kernel (in/out = 1: 2^30, shift 1; 4 elements: 2^30 << 2 // 4, shift -1).
// CHECK-LABEL: func.func @adjacent_axes
// CHECK:       %[[H:.*]] = quantized.reshape %{{.*}} : tensor<1x2x3x4x{{.*}}> -> tensor<1x1x2x12x!quantized.uniform<i8:f32, 0.02:-128>>
// CHECK-NEXT:  quantized.constant dense<1> : tensor<1x1x2x12xi8>
// CHECK-NEXT:  quantized.constant dense<0> : tensor<12xi32>
// CHECK-NEXT:  %[[HD:.*]] = quantized.depthwise_conv2d %[[H]], {{.*}} -> tensor<1x1x1x12x
// CHECK-NEXT:  quantized.reshape %[[HD]] : tensor<1x1x1x12x{{.*}}> -> tensor<1x1x3x4x
// CHECK-NEXT:  %[[C:.*]] = quantized.reshape %{{.*}} : tensor<1x2x3x4x{{.*}}> -> tensor<1x6x4x1x!quantized.uniform<i8:f32, 0.02:-128>>
// CHECK-NEXT:  quantized.constant dense<1> : tensor<1x1x4x1xi8>
// CHECK-NEXT:  quantized.constant dense<0> : tensor<1xi32>
// CHECK-NEXT:  %[[CD:.*]] = quantized.depthwise_conv2d %[[C]], {{.*}} rescale = array<i32: 1073741824, -1>} : {{.*}} -> tensor<1x6x1x1x
// CHECK-NEXT:  quantized.reshape %[[CD]] : tensor<1x6x1x1x{{.*}}> -> tensor<1x2x3x1x
// CHECK-NEXT:  func.return
func.func @adjacent_axes(%x: tensor<1x2x3x4x!quantized.uniform<i8:f32, 0.02:-128>>) -> (tensor<1x1x3x4x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<1x2x3x1x!quantized.uniform<i8:f32, 0.02:-128>>) {
  %h = quantized.reduce %x {kind = "mean", axes = array<i64: 1>} : tensor<1x2x3x4x!quantized.uniform<i8:f32, 0.02:-128>> -> tensor<1x1x3x4x!quantized.uniform<i8:f32, 0.02:-128>>
  %c = quantized.reduce %x {kind = "mean", axes = array<i64: 3>} : tensor<1x2x3x4x!quantized.uniform<i8:f32, 0.02:-128>> -> tensor<1x2x3x1x!quantized.uniform<i8:f32, 0.02:-128>>
  func.return %h, %c : tensor<1x1x3x4x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<1x2x3x1x!quantized.uniform<i8:f32, 0.02:-128>>
}

// -----

// Axes that are not adjacent (H and C) are no single window, and a sum is no mean: both stay.
// CHECK-LABEL: func.func @not_adjacent
// CHECK-NEXT:  quantized.reduce %{{.*}} {kind = "mean", axes = array<i64: 1, 3>}
// CHECK-NEXT:  quantized.reduce %{{.*}} {kind = "sum", axes = array<i64: 1, 2>}
// CHECK-NOT:   quantized.depthwise_conv2d
func.func @not_adjacent(%x: tensor<1x2x3x4x!quantized.uniform<i8:f32, 0.02:-128>>) -> (tensor<1x1x3x1x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.1:0>>) {
  %hc = quantized.reduce %x {kind = "mean", axes = array<i64: 1, 3>} : tensor<1x2x3x4x!quantized.uniform<i8:f32, 0.02:-128>> -> tensor<1x1x3x1x!quantized.uniform<i8:f32, 0.02:-128>>
  %s = quantized.reduce %x {kind = "sum", axes = array<i64: 1, 2>} : tensor<1x2x3x4x!quantized.uniform<i8:f32, 0.02:-128>> -> tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.1:0>>
  func.return %hc, %s : tensor<1x1x3x1x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.1:0>>
}

// -----

// A QDQ model (onnxruntime rounding) keeps its mean: the onnxruntime conv
// reference rescales from the scales, not from an explicit rescale.
// CHECK-LABEL: func.func @onnxruntime_rounding
// CHECK-NEXT:  quantized.reduce
builtin.module attributes {quantized.rounding = "onnxruntime"} {
  func.func @onnxruntime_rounding(%x: tensor<1x2x3x4x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.02:-128>> {
    %m = quantized.reduce %x {kind = "mean", axes = array<i64: 1, 2>} : tensor<1x2x3x4x!quantized.uniform<i8:f32, 0.02:-128>> -> tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.02:-128>>
    func.return %m : tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.02:-128>>
  }
}
