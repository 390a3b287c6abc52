// RUN: npuc-opt %s --split-input-file -p 'npu-legalize,npu-tile,npu-schedule{weight-staging=fits},npu-allocate,npu-lower' | filecheck %s
// RUN: npuc-opt %s --split-input-file -p 'npu-legalize{target=ethos-u65-512},npu-tile{target=ethos-u65-512},npu-schedule{target=ethos-u65-512 weight-staging=fits},npu-allocate{target=ethos-u65-512},npu-lower{target=ethos-u65-512}' | filecheck %s --check-prefix=TWO-CORES

// Ethos-U targets store a weighted layer's constants as the NPU reads them:
// the weights constant holds the encoded weight streams, the bias constant
// the 10-byte scale records (one per output channel, padded to 16 bytes),
// per core. npu-schedule and npu-allocate size the buffers by the encoding,
// so the staging DMAs (every weight staged that fits here, weight-staging=fits)
// copy exactly the encoded bytes (the conv's scale
// records and weights; the fully connected layer, one block position, reads
// its own in place), and each command says how its buffers hold the streams
// (`encoding`).
// A conv over 4 IFM channels runs part-kernel first, the fully connected
// layer depth first.

// CHECK-LABEL: builtin.module attributes {npu.memory_usage = {sram = 512 : i64, flash = 512 : i64}, npu.target = "ethos-u55-128"}
// CHECK:       npu.constant {buffer = #npu.buf<flash, [[CW:[0-9]+]], 48>, value = {{.*}} : tensor<48xi8>}
// CHECK-NEXT:  npu.constant {buffer = #npu.buf<flash, [[CB:[0-9]+]], 80>, value = {{.*}} : tensor<80xi8>}
// CHECK-NEXT:  npu.constant {buffer = #npu.buf<flash, [[FW:[0-9]+]], 272>, value = {{.*}} : tensor<272xi8>}
// CHECK-NEXT:  npu.constant {buffer = #npu.buf<flash, [[FB:[0-9]+]], 112>, value = {{.*}} : tensor<112xi8>}
// CHECK:       npu.dma {layer = "conv", src = #npu.buf<flash, [[CB]], 80>, dst = #npu.buf<sram, [[SCB:[0-9]+]], 80>}
// CHECK-NEXT:  npu.dma {layer = "conv", src = #npu.buf<flash, [[CW]], 48>, dst = #npu.buf<sram, [[SCW:[0-9]+]], 48>}
// CHECK-NEXT:  npu.conv2d {layer = "conv", {{.*}}, weights = #npu.buf<sram, [[SCW]], 48>, scale_bias = #npu.buf<sram, [[SCB]], 80>, encoding = #npu.encoded<part_kernel_first, weights [48], scales [80]>, kernel = array<i64: 1, 1>,
// CHECK-NEXT:  npu.fully_connected {layer = "fc", {{.*}}, weights = #npu.buf<flash, [[FW]], 272>, scale_bias = #npu.buf<flash, [[FB]], 112>, encoding = #npu.encoded<depth_first, weights [272], scales [112]>, act_min

// Two cores: each has its own weight and scale stream (channels dealt
// alternately), back to back in the two buffers.
// TWO-CORES-LABEL: builtin.module attributes {{.*}}npu.target = "ethos-u65-512"}
// TWO-CORES:       npu.conv2d {layer = "conv", {{.*}}, weights = #npu.buf<sram, {{[0-9]+}}, 64>, scale_bias = #npu.buf<sram, {{[0-9]+}}, 96>, encoding = #npu.encoded<part_kernel_first, weights [32, 32], scales [48, 48]>,
// TWO-CORES-NEXT:  npu.fully_connected {layer = "fc", {{.*}}, weights = #npu.buf<dram, {{[0-9]+}}, 288>, scale_bias = #npu.buf<dram, {{[0-9]+}}, 128>, encoding = #npu.encoded<depth_first, weights [144, 144], scales [64, 64]>,
func.func @conv_fc(%x: tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>) -> tensor<1x10x!quantized.uniform<i8:f32, 0.125:3>> {
  %w = quantized.constant dense<[[[[1, -2, 3, -4]]], [[[5, -6, 7, -8]]], [[[1, 1, 1, 1]]], [[[2, 2, 2, 2]]], [[[3, 3, 3, 3]]], [[[4, 4, 4, 4]]], [[[5, 5, 5, 5]]], [[[6, 6, 6, 6]]]]> : tensor<8x1x1x4xi8> -> tensor<8x1x1x4x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0, 0.03:0, 0.04:0, 0.05:0, 0.06:0, 0.07:0, 0.08:0}>>
  %b = quantized.constant dense<[1, -2, 3, -4, 5, -6, 7, -8]> : tensor<8xi32>
  %c = quantized.conv2d %x, %w, %b {layer = "conv", strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : (tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>, tensor<8x1x1x4x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0, 0.03:0, 0.04:0, 0.05:0, 0.06:0, 0.07:0, 0.08:0}>>, tensor<8xi32>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
  %r = quantized.reshape %c {layer = "flatten"} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>> -> tensor<1x128x!quantized.uniform<i8:f32, 0.25:-128>>
  %fw = quantized.constant dense<2> : tensor<10x128xi8> -> tensor<10x128x!quantized.uniform<i8:f32, 0.003:0>>
  %fb = quantized.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]> : tensor<10xi32>
  %f = quantized.fully_connected %r, %fw, %fb {layer = "fc", activation = "none"} : (tensor<1x128x!quantized.uniform<i8:f32, 0.25:-128>>, tensor<10x128x!quantized.uniform<i8:f32, 0.003:0>>, tensor<10xi32>) -> tensor<1x10x!quantized.uniform<i8:f32, 0.125:3>>
  func.return %f : tensor<1x10x!quantized.uniform<i8:f32, 0.125:3>>
}

// -----

// A 16x8 depthwise conv with an int64 bias: its records hold the 15-bit
// scales of TFLite's int64 rescale (`wide`).

// CHECK-LABEL: builtin.module attributes {npu.memory_usage = {sram = 1264 : i64, flash = 112 : i64}, npu.target = "ethos-u55-128"}
// CHECK:       npu.depthwise_conv2d {layer = "dw", {{.*}}, weights = #npu.buf<sram, 1232, 32>, scale_bias = #npu.buf<sram, 1152, 80>, encoding = #npu.encoded<depth_first, weights [32], scales [80], wide>,
// TWO-CORES-LABEL: builtin.module attributes {{.*}}npu.target = "ethos-u65-512"}
// TWO-CORES:       npu.depthwise_conv2d {layer = "dw", {{.*}}, encoding = #npu.encoded<depth_first, weights [{{[0-9]+}}, {{[0-9]+}}], scales [48, 48], wide>,
func.func @depthwise16(%x: tensor<1x6x6x8x!quantized.uniform<i16:f32, 0.001:0>>) -> tensor<1x6x6x8x!quantized.uniform<i16:f32, 0.002:0>> {
  %w = quantized.constant dense<3> : tensor<1x3x3x8xi8> -> tensor<1x3x3x8x!quantized.uniform<i8:f32:3, {0.01:0, 0.02:0, 0.03:0, 0.04:0, 0.05:0, 0.06:0, 0.07:0, 0.08:0}>>
  %b = quantized.constant dense<[100, -200, 300, -400, 500, -600, 700, -800]> : tensor<8xi64>
  %d = quantized.depthwise_conv2d %x, %w, %b {layer = "dw", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none"} : (tensor<1x6x6x8x!quantized.uniform<i16:f32, 0.001:0>>, tensor<1x3x3x8x!quantized.uniform<i8:f32:3, {0.01:0, 0.02:0, 0.03:0, 0.04:0, 0.05:0, 0.06:0, 0.07:0, 0.08:0}>>, tensor<8xi64>) -> tensor<1x6x6x8x!quantized.uniform<i16:f32, 0.002:0>>
  func.return %d : tensor<1x6x6x8x!quantized.uniform<i16:f32, 0.002:0>>
}

// -----

// The encoded depthwise format has one IFM channel per output channel: a
// depthwise layer with a channel multiplier (2 -> 6 channels) runs as a
// convolution whose output channel c reads IFM channel c / 3 (the other
// weights 0).

// CHECK-LABEL: builtin.module attributes {{.*}}npu.target = "ethos-u55-128"}
// CHECK-NOT:   npu.depthwise_conv2d
// CHECK:       npu.conv2d {layer = "dw", ifm = #npu.fm<sram, {{[0-9]+}}, [1, 5, 5, 2], {{.*}}>, ofm = #npu.fm<sram, {{[0-9]+}}, [1, 5, 5, 6], {{.*}}>, {{.*}}, encoding = #npu.encoded<part_kernel_first, weights [48], scales [64]>, kernel = array<i64: 3, 3>,
// TWO-CORES-LABEL: builtin.module attributes {{.*}}npu.target = "ethos-u65-512"}
// TWO-CORES:       npu.conv2d {layer = "dw", {{.*}}, encoding = #npu.encoded<part_kernel_first, weights [{{[0-9]+}}, {{[0-9]+}}], scales [32, 32]>,
func.func @multiplier(%x: tensor<1x5x5x2x!quantized.uniform<i8:f32, 0.05:-3>>) -> tensor<1x5x5x6x!quantized.uniform<i8:f32, 0.1:5>> {
  %w = quantized.constant dense<7> : tensor<1x3x3x6xi8> -> tensor<1x3x3x6x!quantized.uniform<i8:f32:3, {0.01:0, 0.02:0, 0.03:0, 0.04:0, 0.05:0, 0.06:0}>>
  %b = quantized.constant dense<[1, 2, 3, 4, 5, 6]> : tensor<6xi32>
  %d = quantized.depthwise_conv2d %x, %w, %b {layer = "dw", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none"} : (tensor<1x5x5x2x!quantized.uniform<i8:f32, 0.05:-3>>, tensor<1x3x3x6x!quantized.uniform<i8:f32:3, {0.01:0, 0.02:0, 0.03:0, 0.04:0, 0.05:0, 0.06:0}>>, tensor<6xi32>) -> tensor<1x5x5x6x!quantized.uniform<i8:f32, 0.1:5>>
  func.return %d : tensor<1x5x5x6x!quantized.uniform<i8:f32, 0.1:5>>
}
