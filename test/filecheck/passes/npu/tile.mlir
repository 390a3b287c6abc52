// RUN: npuc-opt %s --split-input-file -p npu-tile | filecheck %s
// RUN: npuc-opt %s --split-input-file -p 'npu-tile{max-stripe-height=3}' | filecheck %s --check-prefix=STRIPE

// conv -> pool -> reshape -> fc, Vela's block search: the block that fetches
// the fewest IFM and weight elements per OFM element wins. The conv's and the
// pool's whole OFM in one block (8x8x8, 4x4x8) fetches no kernel halo twice;
// the fully connected [1, 10] OFM reads as 1 x 1 x 10, and its search starts
// at the 16-channel weight granule (1x2x16; the OFM depth 10 rounds up to 16
// in micro-blocks, so clipping keeps it). The stripe is the whole OFM; reshape gets no block.
// CHECK-LABEL: func.func @conv_pool
// CHECK:       quantized.conv2d {{.*}} {layer = "conv", npu.placement = "npu", npu.block = array<i64: 8, 8, 8>, npu.stripe = array<i64: 8, 8, 8>,
// CHECK:       quantized.max_pool2d {{.*}} {layer = "pool", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 4, 4, 8>,
// CHECK:       quantized.reshape {{.*}} {layer = "flatten", npu.placement = "npu"} :
// CHECK:       quantized.fully_connected {{.*}} {layer = "fc", npu.placement = "npu", npu.block = array<i64: 1, 2, 16>, npu.stripe = array<i64: 1, 1, 10>,
// With max-stripe-height=3 the conv and the pool compute their OFMs in
// stripes of 3 rows (npu-lower: a command each); the blocks stay, and the
// fully connected layer's [1, 10] OFM has no rows to split.
// STRIPE-LABEL: func.func @conv_pool
// STRIPE:       quantized.conv2d {{.*}} npu.block = array<i64: 8, 8, 8>, npu.stripe = array<i64: 3, 8, 8>,
// STRIPE:       quantized.max_pool2d {{.*}} npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 3, 4, 8>,
// STRIPE:       quantized.fully_connected {{.*}} npu.stripe = array<i64: 1, 1, 10>,
func.func @conv_pool(%x: tensor<1x8x8x3xf32>) -> tensor<1x10xf32> {
  %q = quantized.quantize %x {npu.placement = "host"} : tensor<1x8x8x3xf32> -> tensor<1x8x8x3x!quantized.uniform<i8:f32, 0.02:-128>>
  %w = quantized.constant dense<1> : tensor<8x3x3x3xi8> -> tensor<8x3x3x3x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<8xi32>
  %c = quantized.conv2d %q, %w, %b {layer = "conv", npu.placement = "npu", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "relu"} : (tensor<1x8x8x3x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<8x3x3x3x!quantized.uniform<i8:f32, 0.01:0>>, tensor<8xi32>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.05:-128>>
  %p = quantized.max_pool2d %c {layer = "pool", npu.placement = "npu", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.05:-128>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-128>>
  %r = quantized.reshape %p {layer = "flatten", npu.placement = "npu"} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-128>> -> tensor<1x128x!quantized.uniform<i8:f32, 0.05:-128>>
  %fw = quantized.constant dense<1> : tensor<10x128xi8> -> tensor<10x128x!quantized.uniform<i8:f32, 0.01:0>>
  %fb = quantized.constant dense<0> : tensor<10xi32>
  %f = quantized.fully_connected %r, %fw, %fb {layer = "fc", npu.placement = "npu", activation = "none"} : (tensor<1x128x!quantized.uniform<i8:f32, 0.05:-128>>, tensor<10x128x!quantized.uniform<i8:f32, 0.01:0>>, tensor<10xi32>) -> tensor<1x10x!quantized.uniform<i8:f32, 0.1:0>>
  %y = quantized.dequantize %f {npu.placement = "host"} : tensor<1x10x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x10xf32>
  func.return %y : tensor<1x10xf32>
}

// -----

// On an 8x8x64 OFM the 1x1 conv reads its IFM once per 32-deep block: 8x8x32
// fills the 20 usable banks exactly (IFM 8x8x16 bytes: 1 bank, doubled and
// rounded to the granule: 4; int32 accumulators 8 banks, doubled: 16), 8x8x64 would not fit. CPU ops get no block.
// CHECK-LABEL: func.func @deep_t
// CHECK:       quantized.conv2d {{.*}} {layer = "deep", npu.placement = "npu", npu.block = array<i64: 8, 8, 32>, npu.stripe = array<i64: 8, 8, 64>,
// CHECK:       quantized.transpose {{.*}} {layer = "t", npu.placement = "cpu", npu.cpu_reason = "no NPU operator", perm
func.func @deep_t(%x: tensor<1x8x8x16x!quantized.uniform<i8:f32, 0.02:0>>) -> tensor<1x8x8x64x!quantized.uniform<i8:f32, 0.5:0>> {
  %w = quantized.constant dense<1> : tensor<64x1x1x16xi8> -> tensor<64x1x1x16x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<64xi32>
  %c = quantized.conv2d %x, %w, %b {layer = "deep", npu.placement = "npu", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x8x8x16x!quantized.uniform<i8:f32, 0.02:0>>, tensor<64x1x1x16x!quantized.uniform<i8:f32, 0.01:0>>, tensor<64xi32>) -> tensor<1x8x8x64x!quantized.uniform<i8:f32, 0.5:0>>
  %t = quantized.transpose %c {layer = "t", npu.placement = "cpu", npu.cpu_reason = "no NPU operator", perm = array<i64: 0, 2, 1, 3>} : tensor<1x8x8x64x!quantized.uniform<i8:f32, 0.5:0>> -> tensor<1x8x8x64x!quantized.uniform<i8:f32, 0.5:0>>
  func.return %t : tensor<1x8x8x64x!quantized.uniform<i8:f32, 0.5:0>>
}

// -----

// A 36x36 pooling window is computed in 8x8 sub-kernels, each re-reading the
// IFM: the IFM block holds one sub-kernel's halo (15 x 15 x 16 bytes for an
// 8x8x16 block), so a large block still fits.
// CHECK-LABEL: func.func @wide
// CHECK:       quantized.max_pool2d {{.*}} {layer = "wide", npu.placement = "npu", npu.block = array<i64: 8, 8, 16>, npu.stripe = array<i64: 29, 29, 16>,
func.func @wide(%x: tensor<1x64x64x16x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x29x29x16x!quantized.uniform<i8:f32, 0.1:0>> {
  %p = quantized.max_pool2d %x {layer = "wide", npu.placement = "npu", kernel = array<i64: 36, 36>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x64x64x16x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x29x29x16x!quantized.uniform<i8:f32, 0.1:0>>
  func.return %p : tensor<1x29x29x16x!quantized.uniform<i8:f32, 0.1:0>>
}

// -----

// A softmax gets one block for all its commands, priced as an elementwise
// over its OFM (1 x 2 x 10) with a second operand.
// CHECK-LABEL: func.func @probs
// CHECK:       quantized.softmax {{.*}} {layer = "probs", npu.placement = "npu", npu.block = array<i64: 1, 2, 16>, npu.stripe = array<i64: 1, 2, 10>,
func.func @probs(%x: tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>> {
  %a = quantized.softmax %x {layer = "probs", npu.placement = "npu", axis = 2 : i64, beta = 1.0 : f32} : tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>
  func.return %a : tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>
}
