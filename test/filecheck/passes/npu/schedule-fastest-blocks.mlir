// RUN: npuc-opt %s -p npu-schedule | filecheck %s
// RUN: npuc-opt %s -p 'npu-schedule{vela-blocks=true}' | filecheck %s --check-prefix=VELA

// npu-tile gives this 3x3 conv over a one-channel 28x28 input the block
// Vela's search picks, 9x14x16: the fewest IFM and weight elements fetched
// per output. Once npu-schedule has decided where its weights are read
// from (in place: staging them does not pay), it gives the layer the
// block of that depth the cost model prices fastest (npuc.backend.fastest_blocks):
// 4x6x16, whose partial edge blocks waste less of the 28x28 OFM and whose
// pipeline fills less (the network estimate: 9,737 cycles instead of
// 10,820). With vela-blocks=true the layer keeps Vela's block.
// CHECK:      quantized.conv2d {{.*}}npu.block = array<i64: 4, 6, 16>, npu.stripe = array<i64: 28, 28, 16>
// VELA:       quantized.conv2d {{.*}}npu.block = array<i64: 9, 14, 16>, npu.stripe = array<i64: 28, 28, 16>
func.func @main(%x: tensor<1x28x28x1x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x28x28x16x!quantized.uniform<i8:f32, 0.05:-128>> {
  %w = quantized.constant dense<1> : tensor<16x3x3x1xi8> -> tensor<16x3x3x1x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<16xi32>
  %c = quantized.conv2d %x, %w, %b {layer = "conv", npu.placement = "npu", npu.block = array<i64: 9, 14, 16>, npu.stripe = array<i64: 28, 28, 16>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "relu"} : (tensor<1x28x28x1x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<16x3x3x1x!quantized.uniform<i8:f32, 0.01:0>>, tensor<16xi32>) -> tensor<1x28x28x16x!quantized.uniform<i8:f32, 0.05:-128>>
  func.return %c : tensor<1x28x28x16x!quantized.uniform<i8:f32, 0.05:-128>>
}
