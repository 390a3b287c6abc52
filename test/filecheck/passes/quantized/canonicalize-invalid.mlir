// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p quantized-canonicalize | filecheck %s

// The pass reads the window from the op and relies on the verifier for its shape.

func.func @kernel_beyond_input(%x: tensor<1x4x4x1x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x1x1x1x!quantized.uniform<i8:f32, 0.02:-128>> {
  %p = quantized.avg_pool2d %x {layer = "pool", kernel = array<i64: 6, 4>, strides = array<i64: 6, 4>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x1x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x1x1x1x!quantized.uniform<i8:f32, 0.02:-128>>
  func.return %p : tensor<1x1x1x1x!quantized.uniform<i8:f32, 0.02:-128>>
}
// CHECK: Operation does not verify: kernel is larger than the padded ifm
