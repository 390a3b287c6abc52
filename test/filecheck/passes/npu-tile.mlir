// RUN: npuc-opt %s --split-input-file -p npu-tile | filecheck %s

// conv -> pool -> reshape -> fc: every block is clipped to its small OFM
// (rounded up to the 1x2x8 micro-block) and the cheapest by the cost model
// wins, not the largest: the conv's 4x4x8 blocks (464 cycles) beat one
// 8x8x8 block (656: nothing overlaps the only block's output write-back);
// the pool's 2x2x8 (259) beats 2x4x8 (294) and 4x4x8 (364); the fully connected [1, 10]
// OFM reads as 1 x 1 x 10 and one 8-deep slice less (1x2x8, 324) beats
// 1x2x16 (358). The stripe is the whole OFM; reshape gets no block.
// CHECK-LABEL: func.func @main
// CHECK:       quantized.conv2d {{.*}} {layer = "conv", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 8, 8, 8>,
// CHECK:       quantized.max_pool2d {{.*}} {layer = "pool", npu.placement = "npu", npu.block = array<i64: 2, 2, 8>, npu.stripe = array<i64: 4, 4, 8>,
// CHECK:       quantized.reshape {{.*}} {layer = "flatten", npu.placement = "npu"} :
// CHECK:       quantized.fully_connected {{.*}} {layer = "fc", npu.placement = "npu", npu.block = array<i64: 1, 2, 8>, npu.stripe = array<i64: 1, 1, 10>,
func.func @main(%x: tensor<1x8x8x3xf32>) -> tensor<1x10xf32> {
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

// On an 8x8x64 OFM the cheapest block is [4, 4, 16] (2144 cycles), not the
// largest clipped one ([8, 8, 16], 2336: a longer pipeline fill); CPU ops
// get no block.
// CHECK-LABEL: func.func @main
// CHECK:       quantized.conv2d {{.*}} {layer = "deep", npu.placement = "npu", npu.block = array<i64: 4, 4, 16>, npu.stripe = array<i64: 8, 8, 64>,
// CHECK:       quantized.transpose {{.*}} {layer = "t", npu.placement = "cpu", npu.cpu_reason = "no NPU operator", perm
func.func @main(%x: tensor<1x8x8x16x!quantized.uniform<i8:f32, 0.02:0>>) -> tensor<1x8x8x64x!quantized.uniform<i8:f32, 0.5:0>> {
  %w = quantized.constant dense<1> : tensor<64x1x1x16xi8> -> tensor<64x1x1x16x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<64xi32>
  %c = quantized.conv2d %x, %w, %b {layer = "deep", npu.placement = "npu", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x8x8x16x!quantized.uniform<i8:f32, 0.02:0>>, tensor<64x1x1x16x!quantized.uniform<i8:f32, 0.01:0>>, tensor<64xi32>) -> tensor<1x8x8x64x!quantized.uniform<i8:f32, 0.5:0>>
  %t = quantized.transpose %c {layer = "t", npu.placement = "cpu", npu.cpu_reason = "no NPU operator", perm = array<i64: 0, 2, 1, 3>} : tensor<1x8x8x64x!quantized.uniform<i8:f32, 0.5:0>> -> tensor<1x8x8x64x!quantized.uniform<i8:f32, 0.5:0>>
  func.return %t : tensor<1x8x8x64x!quantized.uniform<i8:f32, 0.5:0>>
}

// -----

// A 36x36 pooling window: only the smallest block's IFM block
// (37 x 37 x 8 bytes) and accumulators fit the 20480 usable SHRAM bytes.
// CHECK-LABEL: func.func @main
// CHECK:       quantized.max_pool2d {{.*}} {layer = "wide", npu.placement = "npu", npu.block = array<i64: 2, 2, 8>, npu.stripe = array<i64: 29, 29, 16>,
func.func @main(%x: tensor<1x64x64x16x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x29x29x16x!quantized.uniform<i8:f32, 0.1:0>> {
  %p = quantized.max_pool2d %x {layer = "wide", npu.placement = "npu", kernel = array<i64: 36, 36>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x64x64x16x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x29x29x16x!quantized.uniform<i8:f32, 0.1:0>>
  func.return %p : tensor<1x29x29x16x!quantized.uniform<i8:f32, 0.1:0>>
}

// -----

// A softmax gets one block for all its commands, priced as an elementwise
// over its OFM (1 x 2 x 10) with a second operand.
// CHECK-LABEL: func.func @main
// CHECK:       quantized.softmax {{.*}} {layer = "probs", npu.placement = "npu", npu.block = array<i64: 1, 2, 16>, npu.stripe = array<i64: 1, 2, 10>,
func.func @main(%x: tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>> {
  %a = quantized.softmax %x {layer = "probs", npu.placement = "npu", axis = 2 : i64, beta = 1.0 : f32} : tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>
  func.return %a : tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>
}
