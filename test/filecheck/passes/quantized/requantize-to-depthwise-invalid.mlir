// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p quantized-requantize-to-depthwise | filecheck %s

// A requantize reads and writes per-tensor quantized maps: a per-axis input is
// rejected before the pass.
func.func @per_axis(%x: tensor<1x1x1x2x!quantized.uniform<i8:f32:3, {0.1:0, 0.2:0}>>) -> tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.2:-1>> {
  %r = quantized.requantize %x : tensor<1x1x1x2x!quantized.uniform<i8:f32:3, {0.1:0, 0.2:0}>> -> tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.2:-1>>
  func.return %r : tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.2:-1>>
}
// CHECK: Operation does not verify: input must be quantized per tensor
