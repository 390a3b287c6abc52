// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p quantized-concat-requantize | filecheck %s

// Concat inputs share the output's storage type (the requantize the pass
// inserts changes scale and zero point only): other IR is rejected.
func.func @concat_storage(%x: tensor<1x3x!quantized.uniform<i16:f32, 0.1:0>>, %y: tensor<1x1x!quantized.uniform<i8:f32, 0.2:-1>>) -> tensor<1x4x!quantized.uniform<i8:f32, 0.2:-1>> {
  %c = quantized.concat %x, %y {axis = 1 : i64} : (tensor<1x3x!quantized.uniform<i16:f32, 0.1:0>>, tensor<1x1x!quantized.uniform<i8:f32, 0.2:-1>>) -> tensor<1x4x!quantized.uniform<i8:f32, 0.2:-1>>
  func.return %c : tensor<1x4x!quantized.uniform<i8:f32, 0.2:-1>>
}
// CHECK: Operation does not verify: ifm and ofm storage types differ
