// RUN: npuc-opt %s --split-input-file --verify-diagnostics | filecheck %s

// A batch matmul of mixed storage types does not verify.

// CHECK: storage types differ (i8 vs i16)

func.func @mixed_storage(%x: tensor<1x6x16x!quantized.uniform<i8:f32, 0.1:-3>>, %k: tensor<1x16x6x!quantized.uniform<i16:f32, 0.001:0>>) -> tensor<1x6x6x!quantized.uniform<i8:f32, 0.5:0>> {
  %s = quantized.batch_matmul %x, %k : (tensor<1x6x16x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x16x6x!quantized.uniform<i16:f32, 0.001:0>>) -> tensor<1x6x6x!quantized.uniform<i8:f32, 0.5:0>>
  func.return %s : tensor<1x6x6x!quantized.uniform<i8:f32, 0.5:0>>
}
