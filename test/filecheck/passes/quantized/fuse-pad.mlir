// RUN: npuc-opt %s --split-input-file -p quantized-fuse-pad | filecheck %s

// A pad with the input's zero point (-5) folds into the conv's padding; the
// pad, now unused, goes.
// CHECK-LABEL: func.func @conv
// CHECK-NOT:   quantized.pad
// CHECK:       quantized.conv2d %{{.*}} {layer = "conv", strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 0, 1, 1>, activation = "none"}
func.func @conv(%x: tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.1:-5>>) -> tensor<1x2x2x3x!quantized.uniform<i8:f32, 0.1:-5>> {
  %p = quantized.pad %x {paddings = array<i64: 0, 0, 1, 1, 0, 1, 0, 0>, mode = "constant", value = -5 : i64} : tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.1:-5>> -> tensor<1x6x5x2x!quantized.uniform<i8:f32, 0.1:-5>>
  %w = quantized.constant dense<1> : tensor<3x3x3x2xi8> -> tensor<3x3x3x2x!quantized.uniform<i8:f32, 0.02:0>>
  %b = quantized.constant dense<0> : tensor<3xi32>
  %c = quantized.conv2d %p, %w, %b {layer = "conv", strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x6x5x2x!quantized.uniform<i8:f32, 0.1:-5>>, tensor<3x3x3x2x!quantized.uniform<i8:f32, 0.02:0>>, tensor<3xi32>) -> tensor<1x2x2x3x!quantized.uniform<i8:f32, 0.1:-5>>
  func.return %c : tensor<1x2x2x3x!quantized.uniform<i8:f32, 0.1:-5>>
}

// -----

// A pad with the storage minimum folds into a max pool whose windows keep a
// real element; a pad with another value stays in front of the conv.
// CHECK-LABEL: func.func @pool_and_other_value
// CHECK:       quantized.max_pool2d %{{.*}} {{{.*}}padding = array<i64: 1, 1, 1, 1>
// CHECK-NEXT:  %[[P:.*]] = quantized.pad %{{.*}} {{.*}}value = 0 : i64}
// CHECK:       quantized.conv2d %[[P]]
func.func @pool_and_other_value(%x: tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.1:-5>>) -> (tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.1:-5>>, tensor<1x4x4x3x!quantized.uniform<i8:f32, 0.1:-5>>) {
  %m = quantized.pad %x {paddings = array<i64: 0, 0, 1, 1, 1, 1, 0, 0>, mode = "constant", value = -128 : i64} : tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.1:-5>> -> tensor<1x6x6x2x!quantized.uniform<i8:f32, 0.1:-5>>
  %pool = quantized.max_pool2d %m {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x6x6x2x!quantized.uniform<i8:f32, 0.1:-5>>) -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.1:-5>>
  %p = quantized.pad %x {paddings = array<i64: 0, 0, 1, 1, 1, 1, 0, 0>, mode = "constant", value = 0 : i64} : tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.1:-5>> -> tensor<1x6x6x2x!quantized.uniform<i8:f32, 0.1:-5>>
  %w = quantized.constant dense<1> : tensor<3x3x3x2xi8> -> tensor<3x3x3x2x!quantized.uniform<i8:f32, 0.02:0>>
  %b = quantized.constant dense<0> : tensor<3xi32>
  %c = quantized.conv2d %p, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x6x6x2x!quantized.uniform<i8:f32, 0.1:-5>>, tensor<3x3x3x2x!quantized.uniform<i8:f32, 0.02:0>>, tensor<3xi32>) -> tensor<1x4x4x3x!quantized.uniform<i8:f32, 0.1:-5>>
  func.return %pool, %c : tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.1:-5>>, tensor<1x4x4x3x!quantized.uniform<i8:f32, 0.1:-5>>
}
