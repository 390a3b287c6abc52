// RUN: npuc-opt %s -p 'npu-schedule{target="ethos-u55-128#arena_cache_size=38000" weight-slices=true}' | filecheck %s
// RUN: npuc-opt %s -p 'npu-schedule{target="ethos-u55-128#arena_cache_size=38000" weight-slices=true},npu-allocate{target="ethos-u55-128#arena_cache_size=38000"},npu-lower{target="ethos-u55-128#arena_cache_size=38000"}' | filecheck %s --check-prefix=LOWER
// RUN: npuc-opt %s -p 'npu-schedule{target="ethos-u55-128#arena_cache_size=38000" weight-slices=false}' | filecheck %s --check-prefix=OFF

// weight-slices=true: weights streamed from flash in OFM-depth slices
// (npuc.backend.weight_staging). The pool's input and output take 36,864 of
// the 38,000 bytes the budget allows; the conv's scale records (1,280 bytes)
// and weights do not fit whole beside them, so they are staged in slices of
// 32 channels through two slots each: the conv's npu.stripe is 32 channels
// deep, each stage has npu.slots = 2, hoisted over the pool.
// CHECK-LABEL: func.func @sliced
// CHECK:       npu.stage %b to "sram" {layer = "conv", npu.memory = "sram", npu.slots = 2 : i64}
// CHECK:       npu.stage %w to "sram" {layer = "conv", npu.memory = "sram", npu.slots = 2 : i64}
// CHECK-NEXT:  quantized.max_pool2d
// CHECK-NEXT:  quantized.conv2d {{.*}}npu.stripe = array<i64: 16, 16, 32>

// npu-lower: one conv command per slice, each reading its slot and writing
// its 32 channels of the OFM (the same strides, the offset 32 channels on);
// the copies of slice 0 run before the pool, those of slice k + 1 before the
// command of slice k, into the slots slice k - 1 read.
// LOWER:       npu.dma {layer = "conv", src = #npu.buf<flash, 0, 320>, dst = #npu.buf<sram, [[S0:[0-9]+]], 320>}
// LOWER-NEXT:  npu.dma {layer = "conv", src = #npu.buf<flash, 1280, 144>, dst = #npu.buf<sram, [[W0:[0-9]+]], 144>}
// LOWER-NEXT:  npu.pool
// LOWER-NEXT:  npu.dma {layer = "conv", src = #npu.buf<flash, 320, 320>, dst = #npu.buf<sram, [[S1:[0-9]+]], 320>}
// LOWER-NEXT:  npu.dma {layer = "conv", src = #npu.buf<flash, 1424, 144>, dst = #npu.buf<sram, [[W1:[0-9]+]], 144>}
// LOWER-NEXT:  npu.conv2d {layer = "conv", {{.*}}ofm = #npu.fm<sram, 0, [1, 16, 16, 32], [32768, 2048, 128, 1], {{.*}}weights = #npu.buf<sram, [[W0]], 144>, scale_bias = #npu.buf<sram, [[S0]], 320>, encoding = #npu.encoded<depth_first, weights [144], scales [320]>
// LOWER-NEXT:  npu.dma {layer = "conv", src = #npu.buf<flash, 640, 320>, dst = #npu.buf<sram, [[S0]], 320>}
// LOWER-NEXT:  npu.dma {layer = "conv", src = #npu.buf<flash, 1568, 144>, dst = #npu.buf<sram, [[W0]], 144>}
// LOWER-NEXT:  npu.conv2d {layer = "conv", {{.*}}ofm = #npu.fm<sram, 32, [1, 16, 16, 32], {{.*}}weights = #npu.buf<sram, [[W1]], 144>, scale_bias = #npu.buf<sram, [[S1]], 320>
// LOWER-NEXT:  npu.dma {layer = "conv", src = #npu.buf<flash, 960, 320>, dst = #npu.buf<sram, [[S1]], 320>}
// LOWER-NEXT:  npu.dma {layer = "conv", src = #npu.buf<flash, 1712, 144>, dst = #npu.buf<sram, [[W1]], 144>}
// LOWER-NEXT:  npu.conv2d {layer = "conv", {{.*}}ofm = #npu.fm<sram, 64, [1, 16, 16, 32], {{.*}}weights = #npu.buf<sram, [[W0]], 144>, scale_bias = #npu.buf<sram, [[S0]], 320>
// LOWER-NEXT:  npu.conv2d {layer = "conv", {{.*}}ofm = #npu.fm<sram, 96, [1, 16, 16, 32], {{.*}}weights = #npu.buf<sram, [[W1]], 144>, scale_bias = #npu.buf<sram, [[S1]], 320>
// LOWER-NEXT:  npu.output

// weight-slices=false: the conv reads its weights in flash.
// OFF-LABEL:   func.func @sliced
// OFF-NOT:     npu.stage
// OFF:         quantized.conv2d {{.*}}npu.stripe = array<i64: 16, 16, 128>
func.func @sliced(%x: tensor<1x32x32x16x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x16x16x128x!quantized.uniform<i8:f32, 0.05:-128>> {
  %p = quantized.max_pool2d %x {layer = "pool", npu.placement = "npu", npu.block = array<i64: 8, 8, 16>, npu.stripe = array<i64: 16, 16, 16>, kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x32x32x16x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x16x16x16x!quantized.uniform<i8:f32, 0.02:-128>>
  %w = quantized.constant dense<1> : tensor<128x1x1x16xi8> -> tensor<128x1x1x16x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<128xi32>
  %c = quantized.conv2d %p, %w, %b {layer = "conv", npu.placement = "npu", npu.block = array<i64: 2, 2, 16>, npu.stripe = array<i64: 16, 16, 128>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : (tensor<1x16x16x16x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<128x1x1x16x!quantized.uniform<i8:f32, 0.01:0>>, tensor<128xi32>) -> tensor<1x16x16x128x!quantized.uniform<i8:f32, 0.05:-128>>
  func.return %c : tensor<1x16x16x128x!quantized.uniform<i8:f32, 0.05:-128>>
}
