// RUN: npuc-opt %s --split-input-file -p npu-schedule | filecheck %s
// RUN: npuc-opt %s --split-input-file -p 'npu-schedule{weight-staging=fits}' | filecheck %s --check-prefix=FITS

// weight-staging=pays (the default): a layer's weights are staged only where
// that makes it end earlier (npuc.backend.weight_staging). This 1x1 conv
// with 8x8 blocks reads its 80 bytes of weights and 160 of scale records 16
// times: from flash (1 byte a cycle) that takes less than its compute, so
// they stay in flash and take no SRAM. With fits, Vela's rule, they are
// staged because they fit.
// CHECK-LABEL: func.func @in_place
// CHECK-NOT:   npu.stage
// CHECK:       quantized.conv2d
// CHECK-NOT:   npu.stage
// CHECK:       func.return
// FITS-LABEL:    func.func @in_place
// FITS-COUNT-2:  npu.stage
// FITS:          quantized.conv2d
func.func @in_place(%x: tensor<1x64x64x16x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x32x32x16x!quantized.uniform<i8:f32, 0.05:-128>> {
  %p = quantized.max_pool2d %x {layer = "pool", npu.placement = "npu", npu.block = array<i64: 8, 8, 16>, npu.stripe = array<i64: 32, 32, 16>, kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x64x64x16x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x32x32x16x!quantized.uniform<i8:f32, 0.02:-128>>
  %w = quantized.constant dense<1> : tensor<16x1x1x16xi8> -> tensor<16x1x1x16x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<16xi32>
  %c = quantized.conv2d %p, %w, %b {layer = "conv", npu.placement = "npu", npu.block = array<i64: 8, 8, 16>, npu.stripe = array<i64: 32, 32, 16>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : (tensor<1x32x32x16x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<16x1x1x16x!quantized.uniform<i8:f32, 0.01:0>>, tensor<16xi32>) -> tensor<1x32x32x16x!quantized.uniform<i8:f32, 0.05:-128>>
  func.return %c : tensor<1x32x32x16x!quantized.uniform<i8:f32, 0.05:-128>>
}

// -----

// The same conv with 2x2 blocks reads them 256 times: in place that is
// 61,440 cycles against 16,496 staged, so they are staged, the copies
// hoisted over the pool, whose compute hides them.
// CHECK-LABEL: func.func @staged
// CHECK:       %[[B:.*]] = quantized.constant {npu.memory = "flash"} dense<0>
// CHECK-NEXT:  %[[SB:.*]] = npu.stage %[[B]] to "sram" {layer = "conv", npu.memory = "sram"}
// CHECK-NEXT:  %[[W:.*]] = quantized.constant {npu.memory = "flash"} dense<1>
// CHECK-NEXT:  %[[SW:.*]] = npu.stage %[[W]] to "sram" {layer = "conv", npu.memory = "sram"}
// CHECK-NEXT:  quantized.max_pool2d
// CHECK-NEXT:  quantized.conv2d %{{.*}}, %[[SW]], %[[SB]]
// FITS-LABEL:    func.func @staged
// FITS-COUNT-2:  npu.stage
func.func @staged(%x: tensor<1x64x64x16x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x32x32x16x!quantized.uniform<i8:f32, 0.05:-128>> {
  %p = quantized.max_pool2d %x {layer = "pool", npu.placement = "npu", npu.block = array<i64: 8, 8, 16>, npu.stripe = array<i64: 32, 32, 16>, kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x64x64x16x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x32x32x16x!quantized.uniform<i8:f32, 0.02:-128>>
  %w = quantized.constant dense<1> : tensor<16x1x1x16xi8> -> tensor<16x1x1x16x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<16xi32>
  %c = quantized.conv2d %p, %w, %b {layer = "conv", npu.placement = "npu", npu.block = array<i64: 2, 2, 16>, npu.stripe = array<i64: 32, 32, 16>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : (tensor<1x32x32x16x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<16x1x1x16x!quantized.uniform<i8:f32, 0.01:0>>, tensor<16xi32>) -> tensor<1x32x32x16x!quantized.uniform<i8:f32, 0.05:-128>>
  func.return %c : tensor<1x32x32x16x!quantized.uniform<i8:f32, 0.05:-128>>
}
