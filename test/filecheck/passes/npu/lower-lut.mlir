// RUN: npuc-opt %s -p npu-lower | filecheck %s

// An int8 activation becomes one elementwise command: the raw IFM plus the
// scalar 0 (rescale 1), looked up in a 256-entry int8 table, a new constant
// after the model's in the weights memory. The command's OFM carries the IFM's
// zero point, so the table index is the stored input value; the npu.output
// keeps the layer's own parameters. Two layers computing the same function
// share one table.

// CHECK-LABEL: builtin.module attributes {npu.memory_usage = {sram = 512 : i64, flash = 512 : i64}, npu.target = "ethos-u55-128"}
// CHECK-NEXT:  npu.constant {buffer = #npu.buf<flash, 0, 256>, value = dense<"0x808080808080808181{{[0-9A-F]+}}7F7F"> : tensor<256xi8>}
// CHECK-NEXT:  npu.constant {buffer = #npu.buf<flash, 256, 256>, value = dense<"0x8080{{[0-9A-F]+}}"> : tensor<256xi8>}
// CHECK-NEXT:  npu.input
// CHECK-NEXT:  npu.elementwise {layer = "y", kind = "add", ifm = #npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.05:3>>, scalar = 0 : i32, ofm = #npu.fm<sram, 256, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.00390625:3>>, act_min = -128 : i32, act_max = 127 : i32, rescale = array<i64: 1, 0>, rounding = "half_up", lut = #npu.buf<flash, 0, 256>, block = array<i64: 4, 4, 8>}
// CHECK-NEXT:  npu.elementwise {layer = "z", {{.*}} lut = #npu.buf<flash, 0, 256>,
// CHECK-NEXT:  npu.elementwise {layer = "t", {{.*}} ofm = #npu.fm<sram, 128, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.0078125:3>>, {{.*}} lut = #npu.buf<flash, 256, 256>,
// CHECK-NEXT:  npu.output {tensor = "y", fm = #npu.fm<sram, 256, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.00390625:-128>>}
builtin.module attributes {npu.memory_usage = {sram = 512 : i64, flash = 0 : i64}} {
  func.func @main(%x: tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:3>> {graph.name = "x", npu.memory = "sram", npu.offset = 0 : i64}) -> (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.00390625:-128>> {graph.name = "y"}, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.00390625:-128>> {graph.name = "z"}, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.0078125:0>> {graph.name = "t"}) {
    %y = quantized.logistic %x {layer = "y", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 4, 4, 8>, npu.memory = "sram", npu.offset = 256 : i64} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.00390625:-128>>
    %z = quantized.logistic %x {layer = "z", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 4, 4, 8>, npu.memory = "sram", npu.offset = 384 : i64} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.00390625:-128>>
    %t = quantized.tanh %x {layer = "t", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 4, 4, 8>, npu.memory = "sram", npu.offset = 128 : i64} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.0078125:0>>
    func.return %y, %z, %t : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.00390625:-128>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.00390625:-128>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.0078125:0>>
  }
}

