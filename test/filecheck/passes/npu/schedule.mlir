// RUN: npuc-opt %s --split-input-file -p 'npu-schedule{weight-staging=fits}' | filecheck %s
// RUN: npuc-opt %s --split-input-file -p 'npu-schedule{target="%S/Inputs/ethos-u65-256-raw.toml" weight-staging=fits}' | filecheck %s --check-prefix=DEDICATED

// Staging mechanics (what is staged, where the copies go) with every
// weight staged that fits (weight-staging=fits); which weights the default
// rule stages: schedule-weight-staging.mlir.

// conv -> pool -> reshape -> fc: the conv's weights and bias (its scale/bias
// table) are staged into SRAM, and the conv reads the staged copies; the
// stages have no earlier NPU op to overlap, so they stay right before the
// conv. The fc's OFM is one block position: it reads its weights once, in
// place in flash (Vela's rule), so they are not staged. The float argument and the host's dequantize result are host
// memory; the host-written quantize result is in the arena.
// CHECK-LABEL: func.func @conv_fc
// CHECK-SAME:  (%{{.*}}: tensor<1x8x8x3xf32>)
// CHECK:       %[[Q:.*]] = quantized.quantize %{{.*}} {npu.placement = "host", npu.memory = "sram"}
// CHECK:       %[[W:.*]] = quantized.constant {npu.memory = "flash"} dense<1>
// CHECK:       %[[B:.*]] = quantized.constant {npu.memory = "flash"} dense<0>
// CHECK-NEXT:  %[[SB:.*]] = npu.stage %[[B]] to "sram" {layer = "conv", npu.memory = "sram"}
// CHECK-NEXT:  %[[SW:.*]] = npu.stage %[[W]] to "sram" {layer = "conv", npu.memory = "sram"}
// CHECK-NEXT:  %[[C:.*]] = quantized.conv2d %[[Q]], %[[SW]], %[[SB]] {layer = "conv", {{.*}}, npu.memory = "sram",
// CHECK-NEXT:  %[[P:.*]] = quantized.max_pool2d %[[C]] {layer = "pool", {{.*}}, npu.memory = "sram",
// CHECK-NEXT:  %[[R:.*]] = quantized.reshape %[[P]] {layer = "flatten", npu.placement = "npu", npu.memory = "sram"}
// CHECK-NEXT:  %[[FW:.*]] = quantized.constant {npu.memory = "flash"} dense<1>
// CHECK-NEXT:  %[[FB:.*]] = quantized.constant {npu.memory = "flash"} dense<0>
// CHECK-NEXT:  %[[F:.*]] = quantized.fully_connected %[[R]], %[[FW]], %[[FB]] {layer = "fc", {{.*}}, npu.memory = "sram",
// CHECK-NEXT:  quantized.dequantize %[[F]] {npu.placement = "host"} :
// On ethos-u65-256 the arena is in DRAM and weights are staged into a 384 KiB
// SRAM: the feature maps only NPU commands touch (conv, pool and the reshape
// aliasing it) move to the SRAM too; the host-written quantize result and
// the fc result the host reads stay in the arena.
// DEDICATED-LABEL: func.func @conv_fc
// DEDICATED:       quantized.quantize %{{.*}} {npu.placement = "host", npu.memory = "dram"}
// DEDICATED:       quantized.conv2d {{.*}} {layer = "conv", {{.*}}, npu.memory = "sram",
// DEDICATED:       quantized.max_pool2d {{.*}} {layer = "pool", {{.*}}, npu.memory = "sram",
// DEDICATED-NEXT:  quantized.reshape {{.*}} {layer = "flatten", npu.placement = "npu", npu.memory = "sram"}
// DEDICATED:       quantized.fully_connected {{.*}} {layer = "fc", {{.*}}, npu.memory = "dram",
func.func @conv_fc(%x: tensor<1x8x8x3xf32>) -> tensor<1x10xf32> {
  %q = quantized.quantize %x {npu.placement = "host"} : tensor<1x8x8x3xf32> -> tensor<1x8x8x3x!quantized.uniform<i8:f32, 0.02:-128>>
  %w = quantized.constant dense<1> : tensor<8x3x3x3xi8> -> tensor<8x3x3x3x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<8xi32>
  %c = quantized.conv2d %q, %w, %b {layer = "conv", npu.placement = "npu", npu.block = array<i64: 8, 8, 8>, npu.stripe = array<i64: 8, 8, 8>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "relu"} : (tensor<1x8x8x3x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<8x3x3x3x!quantized.uniform<i8:f32, 0.01:0>>, tensor<8xi32>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.05:-128>>
  %p = quantized.max_pool2d %c {layer = "pool", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 4, 4, 8>, kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.05:-128>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-128>>
  %r = quantized.reshape %p {layer = "flatten", npu.placement = "npu"} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-128>> -> tensor<1x128x!quantized.uniform<i8:f32, 0.05:-128>>
  %fw = quantized.constant dense<1> : tensor<10x128xi8> -> tensor<10x128x!quantized.uniform<i8:f32, 0.01:0>>
  %fb = quantized.constant dense<0> : tensor<10xi32>
  %f = quantized.fully_connected %r, %fw, %fb {layer = "fc", npu.placement = "npu", npu.block = array<i64: 1, 2, 16>, npu.stripe = array<i64: 1, 1, 10>, activation = "none"} : (tensor<1x128x!quantized.uniform<i8:f32, 0.05:-128>>, tensor<10x128x!quantized.uniform<i8:f32, 0.01:0>>, tensor<10xi32>) -> tensor<1x10x!quantized.uniform<i8:f32, 0.1:0>>
  %y = quantized.dequantize %f {npu.placement = "host"} : tensor<1x10x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x10xf32>
  func.return %y : tensor<1x10xf32>
}

// -----

// A CPU conv reads its weights where they are (no stage); a quantized
// argument lives in the arena; the CPU result too.
// CHECK-LABEL: func.func @big
// CHECK-SAME:  (%[[X:.*]]: tensor<1x80x80x1x!quantized.uniform<i8:f32, 0.02:0>> {npu.memory = "sram"})
// CHECK-NEXT:  %[[W:.*]] = quantized.constant {npu.memory = "flash"} dense<1>
// CHECK-NEXT:  %[[B:.*]] = quantized.constant {npu.memory = "flash"} dense<0>
// CHECK-NEXT:  quantized.conv2d %[[X]], %[[W]], %[[B]] {layer = "big", npu.placement = "cpu", {{.*}}, npu.memory = "sram",
// CHECK-NOT:   npu.stage
func.func @big(%x: tensor<1x80x80x1x!quantized.uniform<i8:f32, 0.02:0>>) -> tensor<1x1x1x1x!quantized.uniform<i8:f32, 0.5:0>> {
  %w = quantized.constant dense<1> : tensor<1x80x80x1xi8> -> tensor<1x80x80x1x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<1xi32>
  %c = quantized.conv2d %x, %w, %b {layer = "big", npu.placement = "cpu", npu.cpu_reason = "kernel height 80 outside 1..64", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x80x80x1x!quantized.uniform<i8:f32, 0.02:0>>, tensor<1x80x80x1x!quantized.uniform<i8:f32, 0.01:0>>, tensor<1xi32>) -> tensor<1x1x1x1x!quantized.uniform<i8:f32, 0.5:0>>
  func.return %c : tensor<1x1x1x1x!quantized.uniform<i8:f32, 0.5:0>>
}

// -----

// Weights shared by two NPU convs are staged once per consumer; the second
// copy is issued before the first conv, so it overlaps it.
// CHECK-LABEL: func.func @first_second
// CHECK:       %[[W:.*]] = quantized.constant {npu.memory = "flash"} dense<1>
// CHECK:       %[[S1:.*]] = npu.stage %[[W]] to "sram" {layer = "first", npu.memory = "sram"}
// CHECK-NEXT:  npu.stage %{{.*}} to "sram" {layer = "second", npu.memory = "sram"}
// CHECK-NEXT:  %[[S2:.*]] = npu.stage %[[W]] to "sram" {layer = "second", npu.memory = "sram"}
// CHECK-NEXT:  %[[C1:.*]] = quantized.conv2d %{{.*}}, %[[S1]], %{{.*}} {layer = "first",
// CHECK-NEXT:  quantized.conv2d %[[C1]], %[[S2]], %{{.*}} {layer = "second",
func.func @first_second(%x: tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.02:0>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.02:0>> {
  %w = quantized.constant dense<1> : tensor<8x1x1x8xi8> -> tensor<8x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<8xi32>
  %c1 = quantized.conv2d %x, %w, %b {layer = "first", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 4, 4, 8>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.02:0>>, tensor<8x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>, tensor<8xi32>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.02:0>>
  %c2 = quantized.conv2d %c1, %w, %b {layer = "second", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 4, 4, 8>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.02:0>>, tensor<8x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>, tensor<8xi32>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.02:0>>
  func.return %c2 : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.02:0>>
}

// -----

// 400 KiB of (raw) 1x1 convolution weights do not fit ethos-u65-256's 384 KiB
// staging SRAM: they are not staged, the conv reads them from DRAM.
// DEDICATED-LABEL: func.func @big(%{{.*}}: tensor<1x4x4x1024x
// DEDICATED:       %[[W:.*]] = quantized.constant {npu.memory = "dram"} dense<1>
// DEDICATED-NOT:   npu.stage
// DEDICATED:       quantized.conv2d %{{.*}}, %[[W]], %{{.*}} {layer = "big",
func.func @big(%x: tensor<1x4x4x1024x!quantized.uniform<i8:f32, 0.02:0>>) -> tensor<1x4x4x400x!quantized.uniform<i8:f32, 0.5:0>> {
  %w = quantized.constant dense<1> : tensor<400x1x1x1024xi8> -> tensor<400x1x1x1024x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<400xi32>
  %c = quantized.conv2d %x, %w, %b {layer = "big", npu.placement = "npu", npu.block = array<i64: 2, 2, 16>, npu.stripe = array<i64: 4, 4, 400>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x1024x!quantized.uniform<i8:f32, 0.02:0>>, tensor<400x1x1x1024x!quantized.uniform<i8:f32, 0.01:0>>, tensor<400xi32>) -> tensor<1x4x4x400x!quantized.uniform<i8:f32, 0.5:0>>
  func.return %c : tensor<1x4x4x400x!quantized.uniform<i8:f32, 0.5:0>>
}
