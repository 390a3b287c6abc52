// RUN: npuc-opt %s --split-input-file -p 'npu-allocate{target="%S/Inputs/ethos-u55-128-raw.toml"}' | filecheck %s

// Raw weights, so that buffer sizes are the tensors' (lower-encoded.mlir
// allocates encoded ones).

// conv -> pool -> reshape -> fc after npu-schedule. SRAM buffers share bytes
// once dead: the staged fc weights (1280 bytes) reuse the conv's OFM and
// staged conv weights; the reshape shares the pool's buffer. Flash constants
// live for the whole program and so never overlap; the 10-entry bias table
// (120 bytes) goes on top, where its rounding to 16 bytes costs nothing
// (1720 bytes, the peak-live bound). The f32 argument and
// the host's dequantize result are host memory: no offset.
// CHECK-LABEL: builtin.module attributes {npu.memory_usage = {sram = 1418 : i64, flash = 1720 : i64}}
// CHECK-SAME:  {
// CHECK:       func.func @conv_fc(%{{.*}}: tensor<1x8x8x3xf32> {graph.name = "x"})
// CHECK-NEXT:  quantized.quantize {{.*}} {npu.placement = "host", npu.memory = "sram", npu.offset = 736 : i64}
// CHECK-NEXT:  quantized.constant {npu.memory = "flash", npu.offset = 1376 : i64} dense<1> : tensor<8x3x3x3xi8>
// CHECK-NEXT:  quantized.constant {npu.memory = "flash", npu.offset = 0 : i64} dense<0> : tensor<8xi32>
// CHECK-NEXT:  npu.stage {{.*}} {layer = "conv", npu.memory = "sram", npu.offset = 512 : i64}
// CHECK-NEXT:  quantized.conv2d {{.*}}, npu.memory = "sram", npu.offset = 0 : i64,
// CHECK-NEXT:  quantized.max_pool2d {{.*}}, npu.memory = "sram", npu.offset = 1280 : i64,
// CHECK-NEXT:  quantized.reshape {{.*}}, npu.memory = "sram", npu.offset = 1280 : i64}
// CHECK-NEXT:  quantized.constant {npu.memory = "flash", npu.offset = 96 : i64} dense<1> : tensor<10x128xi8>
// CHECK-NEXT:  quantized.constant {npu.memory = "flash", npu.offset = 1600 : i64} dense<0> : tensor<10xi32>
// CHECK-NEXT:  npu.stage {{.*}} {layer = "fc", npu.memory = "sram", npu.offset = 0 : i64}
// CHECK-NEXT:  quantized.fully_connected {{.*}}, npu.memory = "sram", npu.offset = 1408 : i64,
// CHECK-NEXT:  quantized.dequantize {{.*}} {npu.placement = "host"} :
func.func @conv_fc(%x: tensor<1x8x8x3xf32> {graph.name = "x"}) -> (tensor<1x10xf32> {graph.name = "y"}) {
  %q = quantized.quantize %x {npu.placement = "host", npu.memory = "sram"} : tensor<1x8x8x3xf32> -> tensor<1x8x8x3x!quantized.uniform<i8:f32, 0.02:-128>>
  %w = quantized.constant {npu.memory = "flash"} dense<1> : tensor<8x3x3x3xi8> -> tensor<8x3x3x3x!quantized.uniform<i8:f32:0, {0.01:0, 0.01:0, 0.01:0, 0.01:0, 0.01:0, 0.01:0, 0.01:0, 0.01:0}>>
  %b = quantized.constant {npu.memory = "flash"} dense<0> : tensor<8xi32>
  %0 = npu.stage %w to "sram" {layer = "conv", npu.memory = "sram"} : tensor<8x3x3x3x!quantized.uniform<i8:f32:0, {0.01:0, 0.01:0, 0.01:0, 0.01:0, 0.01:0, 0.01:0, 0.01:0, 0.01:0}>>
  %c = quantized.conv2d %q, %0, %b {layer = "conv", npu.placement = "npu", npu.block = array<i64: 8, 8, 8>, npu.stripe = array<i64: 8, 8, 8>, npu.memory = "sram", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "relu"} : (tensor<1x8x8x3x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<8x3x3x3x!quantized.uniform<i8:f32:0, {0.01:0, 0.01:0, 0.01:0, 0.01:0, 0.01:0, 0.01:0, 0.01:0, 0.01:0}>>, tensor<8xi32>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.05:-128>>
  %p = quantized.max_pool2d %c {layer = "pool", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 4, 4, 8>, npu.memory = "sram", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.05:-128>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-128>>
  %r = quantized.reshape %p {layer = "flatten", npu.placement = "npu", npu.memory = "sram"} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-128>> -> tensor<1x128x!quantized.uniform<i8:f32, 0.05:-128>>
  %fw = quantized.constant {npu.memory = "flash"} dense<1> : tensor<10x128xi8> -> tensor<10x128x!quantized.uniform<i8:f32, 0.01:0>>
  %fb = quantized.constant {npu.memory = "flash"} dense<0> : tensor<10xi32>
  %1 = npu.stage %fw to "sram" {layer = "fc", npu.memory = "sram"} : tensor<10x128x!quantized.uniform<i8:f32, 0.01:0>>
  %f = quantized.fully_connected %r, %1, %fb {layer = "fc", npu.placement = "npu", npu.block = array<i64: 1, 2, 16>, npu.stripe = array<i64: 1, 1, 10>, npu.memory = "sram", activation = "none"} : (tensor<1x128x!quantized.uniform<i8:f32, 0.05:-128>>, tensor<10x128x!quantized.uniform<i8:f32, 0.01:0>>, tensor<10xi32>) -> tensor<1x10x!quantized.uniform<i8:f32, 0.1:0>>
  %y = quantized.dequantize %f {npu.placement = "host"} : tensor<1x10x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x10xf32>
  func.return %y : tensor<1x10xf32>
}


// -----

// A chain of CPU ops on a quantized argument: each 256-byte tensor dies once
// its consumer ran, so two slots suffice (512 bytes, not 1024).
// CHECK-LABEL: builtin.module attributes {npu.memory_usage = {sram = 512 : i64, flash = 0 : i64}}
// CHECK:       func.func @a_b(%{{.*}}: tensor<1x4x8x8x!quantized.uniform<i8:f32, 0.1:0>> {npu.memory = "sram", npu.offset = 256 : i64})
// CHECK-NEXT:  quantized.transpose {{.*}} npu.memory = "sram", npu.offset = 0 : i64,
// CHECK-NEXT:  quantized.transpose {{.*}} npu.memory = "sram", npu.offset = 256 : i64,
// CHECK-NEXT:  quantized.transpose {{.*}} npu.memory = "sram", npu.offset = 0 : i64,
func.func @a_b(%x: tensor<1x4x8x8x!quantized.uniform<i8:f32, 0.1:0>> {npu.memory = "sram"}) -> tensor<1x8x4x8x!quantized.uniform<i8:f32, 0.1:0>> {
  %a = quantized.transpose %x {layer = "a", npu.placement = "cpu", npu.cpu_reason = "no NPU operator", npu.memory = "sram", perm = array<i64: 0, 2, 1, 3>} : tensor<1x4x8x8x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x8x4x8x!quantized.uniform<i8:f32, 0.1:0>>
  %b = quantized.transpose %a {layer = "b", npu.placement = "cpu", npu.cpu_reason = "no NPU operator", npu.memory = "sram", perm = array<i64: 0, 2, 1, 3>} : tensor<1x8x4x8x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x4x8x8x!quantized.uniform<i8:f32, 0.1:0>>
  %c = quantized.transpose %b {layer = "c", npu.placement = "cpu", npu.cpu_reason = "no NPU operator", npu.memory = "sram", perm = array<i64: 0, 2, 1, 3>} : tensor<1x4x8x8x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x8x4x8x!quantized.uniform<i8:f32, 0.1:0>>
  func.return %c : tensor<1x8x4x8x!quantized.uniform<i8:f32, 0.1:0>>
}
