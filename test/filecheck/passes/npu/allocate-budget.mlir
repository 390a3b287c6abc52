// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'npu-schedule{target="ethos-u55-128#arena_cache_size=256"},npu-allocate{target="ethos-u55-128#arena_cache_size=256"}' | filecheck %s
// RUN: npuc-opt %s --split-input-file -p 'npu-schedule{target="ethos-u55-128#arena_cache_size=512"},npu-allocate{target="ethos-u55-128#arena_cache_size=512"}' | filecheck %s --check-prefix=CASCADE
// RUN: npuc-opt %s --split-input-file -p 'npu-schedule{target="ethos-u55-128#arena_cache_size=704"},npu-allocate{target="ethos-u55-128#arena_cache_size=704"}' | filecheck %s --check-prefix=FITS

// A budget (Target.arena_cache_size) no schedule fits: the error names the
// layer at the fullest schedule position and what is live there, each
// buffer counted once: with the conv and the pool cascaded (the smallest
// plan), the conv's 192-byte IFM, its OFM's two-row rolling buffer and the
// pool's OFM.
// CHECK: npu-allocate: arena budget 256 bytes: layer 'conv' needs at least 448 bytes (IFM 192 + OFM 128 + other live buffers 128); a larger arena_cache_size fits it
// At 512 bytes the whole conv OFM does not fit beside its IFM (704 bytes):
// npu-schedule cascades the conv and the pool (npuc.backend.cascade_search),
// the pool in one-row stripes, the conv in the two rows each pool stripe
// reads, held in a rolling buffer of two rows. Each op's block is chosen for
// its stripes (the conv's 8x8 block becomes 2x8; the pool's 4x4, 1x2: of the
// blocks its one-row stripes can run in, the one the cost model prices fastest).
// CASCADE: npu.memory_usage = {sram = 448 : i64, flash = 576 : i64}
// CASCADE: quantized.conv2d {{.*}} npu.block = array<i64: 2, 8, 8>, npu.stripe = array<i64: 2, 8, 8>, {{.*}}npu.cascade = 0 : i64, npu.rolling_rows = 2 : i64,
// CASCADE: quantized.max_pool2d {{.*}} npu.block = array<i64: 1, 2, 8>, npu.stripe = array<i64: 1, 4, 8>, {{.*}}npu.cascade = 0 : i64,
// At 704 bytes it fits whole: npu-schedule staged nothing, and the SRAM arena is the budget.
// FITS-NOT: npu.cascade
// FITS: npu.memory_usage = {sram = 704 : i64, flash = 576 : i64}
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
