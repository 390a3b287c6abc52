// RUN: npuc-opt %s -p npu-lower | filecheck %s

// An int8 softmax becomes 28 pool/elementwise commands of its layer: the row
// maximum, the exps through a lut (a new constant after the model's, counted
// in the weights memory's usage), their sum, its reciprocal (Newton-Raphson on
// row scalars) and the scaled exps shifted into the OFM. Intermediates live in
// the layer's scratch buffer (npu.scratch_offset 32): exps at 32, per-row
// values from 128. An Ethos-U command's scalar operand is a 16-bit register:
// the chain's wider constants become int32 constants too, after the lut (one
// per value), read as a one-element IFM2.

// CHECK-LABEL: builtin.module attributes {npu.memory_usage = {flash = 1108 : i64, sram = 400 : i64}, npu.target = "ethos-u55-128"}
// CHECK-NEXT:  npu.constant {buffer = #npu.buf<flash, 48, 1024>, value = dense<"0x{{[0-9A-F]+}}"> : tensor<256xi32>}
// CHECK-NEXT:  npu.constant {buffer = #npu.buf<flash, 1072, 4>, value = dense<-1010580540> : tensor<1xi32>}
// CHECK-NEXT:  npu.constant {buffer = #npu.buf<flash, 1088, 4>, value = dense<1515870810> : tensor<1xi32>}
// CHECK-NEXT:  npu.constant {buffer = #npu.buf<flash, 1104, 4>, value = dense<536870912> : tensor<1xi32>}
// CHECK-NEXT:  npu.input
// CHECK-NEXT:  npu.pool {layer = "probs", kind = "max", ifm = #npu.fm<sram, 0, [1, 1, 10, 1], {{.*}}>, ofm = #npu.fm<sram, 128, [1, 1, 1, 1], {{.*}}>, kernel = array<i64: 1, 10>,
// CHECK-NEXT:  npu.elementwise {layer = "probs", kind = "sub", ifm = #npu.fm<sram, 0, [1, 1, 1, 10], {{.*}}>, ifm2 = #npu.fm<sram, 128, {{.*}}>, ofm = #npu.fm<sram, 32, [1, 1, 1, 10], [40, 40, 40, 4], !quantized.uniform<i32:f32, 1.0:127>>, act_min = -128 : i32, act_max = 127 : i32, rescale = array<i64: 1, 0>, rounding = "half_up", lut = #npu.buf<flash, 48, 1024>,
// CHECK-NEXT:  npu.elementwise {layer = "probs", kind = "asr", ifm = #npu.fm<sram, 32, {{.*}}>, scalar = 12 : i32,
// CHECK-NEXT:  npu.pool {layer = "probs", kind = "reduce_sum", ifm = #npu.fm<sram, 80, [1, 1, 1, 10], {{.*}}>, ofm = #npu.fm<sram, 144, [1, 1, 1, 1], {{.*}}>, kernel = array<i64: 1, 1>,
// CHECK-NEXT:  npu.elementwise {layer = "probs", kind = "clz", ifm = #npu.fm<sram, 144,
// CHECK-NEXT:  npu.elementwise {layer = "probs", kind = "sub", {{.*}} scalar = 35 : i32, reversed,
// CHECK-NEXT:  npu.elementwise {layer = "probs", kind = "sub", {{.*}} scalar = 1 : i32,
// CHECK-NEXT:  npu.elementwise {layer = "probs", kind = "shl", ifm = #npu.fm<sram, 144,
// CHECK-NEXT:  npu.elementwise {layer = "probs", kind = "mul", {{.*}} ifm2 = #npu.fm<flash, 1072, [1, 1, 1, 1], [4, 4, 4, 4], !quantized.uniform<i32:f32, 1.0:0>>, {{.*}} rescale = array<i64: 1, 31>, rounding = "half_up",
// CHECK-NEXT:  npu.elementwise {layer = "probs", kind = "add", {{.*}} ifm2 = #npu.fm<flash, 1088, [1, 1, 1, 1],
// CHECK-COUNT-3: npu.elementwise {layer = "probs", kind = "sub", {{.*}} ifm2 = #npu.fm<flash, 1104, [1, 1, 1, 1], {{.*}}, reversed,
// CHECK:       npu.elementwise {layer = "probs", kind = "shl", {{.*}} scalar = 1 : i32,
// CHECK-NEXT:  npu.elementwise {layer = "probs", kind = "mul", ifm = #npu.fm<sram, 32, [1, 1, 1, 10], {{.*}}>, ifm2 = #npu.fm<sram, 320, {{.*}} rescale = array<i64: 1, 31>,
// CHECK-NEXT:  npu.elementwise {layer = "probs", kind = "asr", ifm = #npu.fm<sram, 80, {{.*}}>, ifm2 = #npu.fm<sram, 176, {{.*}}>, ofm = #npu.fm<sram, 16, [1, 1, 1, 10], [10, 10, 10, 1], !quantized.uniform<i8:f32, 0.00390625:-128>>, act_min = -128 : i32, act_max = 127 : i32, rescale = array<i64: 1, 0>, rounding = "half_up",
// CHECK-NEXT:  npu.output {tensor = "probs", fm = #npu.fm<sram, 16, [1, 10],
builtin.module attributes {npu.memory_usage = {flash = 40 : i64, sram = 400 : i64}} {
  func.func @probs(%x: tensor<1x10x!quantized.uniform<i8:f32, 0.1:0>> {graph.name = "logits", npu.memory = "sram", npu.offset = 0 : i64}) -> (tensor<1x10x!quantized.uniform<i8:f32, 0.00390625:-128>> {graph.name = "probs"}) {
    %y = quantized.softmax %x {layer = "probs", axis = 1 : i64, beta = 1.0 : f32, npu.placement = "npu", npu.block = array<i64: 1, 2, 16>, npu.stripe = array<i64: 1, 1, 10>, npu.memory = "sram", npu.offset = 16 : i64, npu.scratch_memory = "sram", npu.scratch_offset = 32 : i64} : tensor<1x10x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x10x!quantized.uniform<i8:f32, 0.00390625:-128>>
    func.return %y : tensor<1x10x!quantized.uniform<i8:f32, 0.00390625:-128>>
  }
}
