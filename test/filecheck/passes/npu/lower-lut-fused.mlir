// RUN: npuc-opt %s -p npu-lower | filecheck %s

// A lookup-table activation right after the convolution that alone reads it
// is fused into the convolution's command, as Vela fuses TABLE_LOOKUP: the
// command writes the activation's OFM (offset 256, which npu-allocate kept
// live from the convolution on) through the table, its OFM descriptor in the
// convolution's quantization (the table's index); the activation has no
// command of its own.

// CHECK-LABEL: builtin.module
// CHECK:       npu.constant {buffer = #npu.buf<flash, 128, 256>, value = dense<"0x{{[0-9A-F]+}}"> : tensor<256xi8>}
// CHECK-NEXT:  npu.input
// CHECK-NEXT:  npu.conv2d {layer = "conv", ifm = #npu.fm<sram, 0, {{.*}}>, ofm = #npu.fm<sram, 256, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.1:5>>, {{.*}} act_min = -128 : i32, act_max = 127 : i32, lut = #npu.buf<flash, 128, 256>,
// CHECK-NEXT:  npu.output {tensor = "y", fm = #npu.fm<sram, 256, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.00390625:-128>>}
// CHECK-NOT:   npu.elementwise
builtin.module attributes {npu.memory_usage = {sram = 384 : i64, flash = 128 : i64}} {
  func.func @main(%x: tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-3>> {graph.name = "x", npu.memory = "sram", npu.offset = 0 : i64}) -> (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.00390625:-128>> {graph.name = "y"}) {
    %w = quantized.constant {npu.memory = "flash", npu.offset = 80 : i64} dense<3> : tensor<8x1x1x8xi8> -> tensor<8x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>
    %b = quantized.constant {npu.memory = "flash", npu.offset = 0 : i64} dense<5> : tensor<8xi32>
    %c = quantized.conv2d %x, %w, %b {layer = "conv", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 4, 4, 8>, npu.memory = "sram", npu.offset = 128 : i64, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-3>>, tensor<8x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>, tensor<8xi32>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:5>>
    %y = quantized.logistic %c {layer = "sigmoid", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 4, 4, 8>, npu.memory = "sram", npu.offset = 256 : i64} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:5>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.00390625:-128>>
    func.return %y : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.00390625:-128>>
  }
}

