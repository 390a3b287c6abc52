// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p quantized-fuse-pad | filecheck %s

// The pad's result keeps its input's quantization (it moves values): other IR
// is rejected before the pass.
func.func @requantizing_pad(%x: tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.1:-5>>) -> tensor<1x4x2x1x!quantized.uniform<i8:f32, 0.2:0>> {
  %p = quantized.pad %x {paddings = array<i64: 0, 0, 1, 1, 0, 0, 0, 0>, mode = "constant", value = -5 : i64} : tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.1:-5>> -> tensor<1x4x2x1x!quantized.uniform<i8:f32, 0.2:0>>
  func.return %p : tensor<1x4x2x1x!quantized.uniform<i8:f32, 0.2:0>>
}
// CHECK: Operation does not verify: result must have the same quantization as the input
