// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p quantized-conv-patches | filecheck %s

// A conv whose weights are not per-channel int8 is rejected before the pass.
func.func @float_weights(%x: tensor<1x4x4x3x!quantized.uniform<i8:f32, 0.1:0>>, %w: tensor<1x2x2x3xf32>) -> tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.2:-3>> {
  %b = quantized.constant dense<[7]> : tensor<1xi32>
  %y = quantized.conv2d %x, %w, %b {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x3x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x2x2x3xf32>, tensor<1xi32>) -> tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.2:-3>>
  func.return %y : tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.2:-3>>
}
// CHECK: weights must have a !quantized.uniform element type
