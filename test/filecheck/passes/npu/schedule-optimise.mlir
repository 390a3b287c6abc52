// RUN: npuc-opt %s --split-input-file -p 'npu-schedule{optimise=size}' | filecheck %s
// RUN: npuc-opt %s --split-input-file -p 'npu-schedule{target="%S/Inputs/ethos-u65-256-raw.toml" optimise=size}' | filecheck %s --check-prefix=DEDICATED
// RUN: npuc-opt %s --split-input-file -p 'npu-schedule{target="ethos-u55-128#arena_cache_size=896" weight-staging=fits}' | filecheck %s --check-prefix=FITS
// RUN: npuc-opt %s --split-input-file -p 'npu-schedule{target="ethos-u55-128#arena_cache_size=895" weight-staging=fits}' | filecheck %s --check-prefix=BUDGET

// optimise=size: the smallest use of the staging memory. The conv reads its
// weights and scale/bias table where they are stored (no npu.stage), and on
// ethos-u65-256 the feature maps stay in the DRAM arena; the SRAM holds
// nothing. (schedule.mlir has the same function under optimise=performance.)
// CHECK-LABEL: func.func @conv_fc
// CHECK-NOT:   npu.stage
// CHECK:       %[[W:.*]] = quantized.constant {npu.memory = "flash"} dense<1>
// CHECK:       %[[B:.*]] = quantized.constant {npu.memory = "flash"} dense<0>
// CHECK-NEXT:  quantized.conv2d %{{.*}}, %[[W]], %[[B]] {layer = "conv", {{.*}}, npu.memory = "sram",
// CHECK-NOT:   npu.stage
// CHECK:       func.return
// DEDICATED-LABEL: func.func @conv_fc
// DEDICATED-NOT:   "sram"
// DEDICATED:       quantized.conv2d {{.*}} {layer = "conv", {{.*}}, npu.memory = "dram",
// DEDICATED:       quantized.max_pool2d {{.*}} {layer = "pool", {{.*}}, npu.memory = "dram",
// DEDICATED-NOT:   "sram"
// DEDICATED:       func.return
// optimise=performance (the default), weights staged wherever they fit
// (weight-staging=fits), under a budget (Target.arena_cache_size,
// the SRAM on Shared_Sram): staging the conv's weights and table makes the
// SRAM arena 896 bytes instead of 704, so a budget of 896 bytes stages
// them and one byte less does not.
// FITS-LABEL: func.func @conv_fc
// FITS-COUNT-2: npu.stage
// FITS:         quantized.conv2d
// BUDGET-LABEL: func.func @conv_fc
// BUDGET-NOT:   npu.stage
// BUDGET:       func.return
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
