// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p quantized-width-to-depth | filecheck %s
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'quantized-width-to-depth{target=ethos-u99}' | filecheck %s --check-prefix=TARGET

// A convolution whose output shape does not follow from its window is
// rejected before the pass folds anything.
func.func @bad_ofm(%x: tensor<1x6x8x1x!quantized.uniform<i8:f32, 0.1:-5>>) -> tensor<1x2x4x1x!quantized.uniform<i8:f32, 0.2:-3>> {
  %w = quantized.constant dense<1> : tensor<1x4x4x1xi8> -> tensor<1x4x4x1x!quantized.uniform<i8:f32:0, {0.01:0}>>
  %b = quantized.constant dense<[7]> : tensor<1xi32>
  %y = quantized.conv2d %x, %w, %b {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x6x8x1x!quantized.uniform<i8:f32, 0.1:-5>>, tensor<1x4x4x1x!quantized.uniform<i8:f32:0, {0.01:0}>>, tensor<1xi32>) -> tensor<1x2x4x1x!quantized.uniform<i8:f32, 0.2:-3>>
  func.return %y : tensor<1x2x4x1x!quantized.uniform<i8:f32, 0.2:-3>>
}
// CHECK: ofm shape is [1, 2, 4, 1], expected [1, 2, 3, 1]

// -----

// The target whose NPU the folded convolutions must suit has to exist.
func.func @unknown_target(%x: tensor<1x6x8x1x!quantized.uniform<i8:f32, 0.1:-5>>) -> tensor<1x2x3x1x!quantized.uniform<i8:f32, 0.2:-3>> {
  %w = quantized.constant dense<1> : tensor<1x4x4x1xi8> -> tensor<1x4x4x1x!quantized.uniform<i8:f32:0, {0.01:0}>>
  %b = quantized.constant dense<[7]> : tensor<1xi32>
  %y = quantized.conv2d %x, %w, %b {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x6x8x1x!quantized.uniform<i8:f32, 0.1:-5>>, tensor<1x4x4x1x!quantized.uniform<i8:f32:0, {0.01:0}>>, tensor<1xi32>) -> tensor<1x2x3x1x!quantized.uniform<i8:f32, 0.2:-3>>
  func.return %y : tensor<1x2x3x1x!quantized.uniform<i8:f32, 0.2:-3>>
}
// TARGET: quantized-width-to-depth: unknown target 'ethos-u99'
