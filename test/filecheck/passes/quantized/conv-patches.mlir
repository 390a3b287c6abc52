// RUN: npuc-opt %s --split-input-file -p quantized-conv-patches | filecheck %s

// A 2x2 kernel with stride 2 over a 4x4x3 input: the input reshaped to
// [N x 2 patch rows, 2 kernel rows, 2 patch columns, 2 x 3 channels], the
// weights to [O, 2, 1, 6], a 2x1 convolution with unit strides, the result
// reshaped back; every new op keeps the layer (the old weights are left to
// layer-dce).
// CHECK-LABEL: func.func @patches
// CHECK:       %[[I:.*]] = quantized.reshape %{{.*}} {layer = "embed"} : tensor<1x4x4x3x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<2x2x2x6x!quantized.uniform<i8:f32, 0.1:0>>
// CHECK-NEXT:  %[[W:.*]] = quantized.constant {layer = "embed"} dense<{{\[}}{{\[}}{{\[}}{{\[}}1, 2, 3, 4, 5, 6]], {{\[}}{{\[}}7, 8, 9, 10, 11, 12]]]]> : tensor<1x2x1x6xi8>
// CHECK-NEXT:  %[[C:.*]] = quantized.conv2d %[[I]], %[[W]], %{{.*}} {layer = "embed", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : {{.*}} -> tensor<2x1x2x1x!quantized.uniform<i8:f32, 0.2:-3>>
// CHECK-NEXT:  %[[O:.*]] = quantized.reshape %[[C]] {layer = "embed"} : tensor<2x1x2x1x!quantized.uniform<i8:f32, 0.2:-3>> -> tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.2:-3>>
// CHECK-NEXT:  func.return %[[O]]
func.func @patches(%x: tensor<1x4x4x3x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.2:-3>> {
  %w = quantized.constant dense<[[[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]]]> : tensor<1x2x2x3xi8> -> tensor<1x2x2x3x!quantized.uniform<i8:f32:0, {0.01:0}>>
  %b = quantized.constant dense<[7]> : tensor<1xi32>
  %y = quantized.conv2d %x, %w, %b {layer = "embed", strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : (tensor<1x4x4x3x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x2x2x3x!quantized.uniform<i8:f32:0, {0.01:0}>>, tensor<1xi32>) -> tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.2:-3>>
  func.return %y : tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.2:-3>>
}

// -----

// Overlapping windows (kernel 3, stride 2), a 1x1 kernel, padding, or patches
// that do not tile the input (5 rows for a stride of 2) leave the conv alone.
// CHECK-LABEL: func.func @stays
// CHECK-NOT:   quantized.reshape
func.func @stays(%x: tensor<1x5x4x3x!quantized.uniform<i8:f32, 0.1:0>>) -> (tensor<1x2x1x1x!quantized.uniform<i8:f32, 0.2:-3>>, tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.2:-3>>) {
  %w3 = quantized.constant dense<1> : tensor<1x3x3x3xi8> -> tensor<1x3x3x3x!quantized.uniform<i8:f32:0, {0.01:0}>>
  %w2 = quantized.constant dense<1> : tensor<1x2x2x3xi8> -> tensor<1x2x2x3x!quantized.uniform<i8:f32:0, {0.01:0}>>
  %b = quantized.constant dense<[7]> : tensor<1xi32>
  %a = quantized.conv2d %x, %w3, %b {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x5x4x3x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x3x3x3x!quantized.uniform<i8:f32:0, {0.01:0}>>, tensor<1xi32>) -> tensor<1x2x1x1x!quantized.uniform<i8:f32, 0.2:-3>>
  %c = quantized.conv2d %x, %w2, %b {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x5x4x3x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x2x2x3x!quantized.uniform<i8:f32:0, {0.01:0}>>, tensor<1xi32>) -> tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.2:-3>>
  func.return %a, %c : tensor<1x2x1x1x!quantized.uniform<i8:f32, 0.2:-3>>, tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.2:-3>>
}
