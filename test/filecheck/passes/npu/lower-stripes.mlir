// RUN: npuc-opt %s --split-input-file -p 'npu-lower{target="%S/Inputs/ethos-u55-128-raw.toml"}' | filecheck %s

// Height stripes (`npu.stripe` lower than the OFM): one command per stripe,
// each writing its OFM rows and reading the IFM rows its windows cover (the
// halo), with the padding it reaches and the block clipped to the stripe.

// A 3x3 convolution with padding 1, stripes of 3 rows over 8: IFM rows
// [0, 4) with the top padding, [2, 7) without, [5, 8) with the bottom padding.

// CHECK-LABEL: builtin.module
// CHECK:      npu.conv2d {layer = "conv1", ifm = #npu.fm<sram, 0, [1, 4, 8, 4], [256, 32, 4, 1], {{.*}}>, ofm = #npu.fm<sram, 1024, [1, 3, 8, 8], [512, 64, 8, 1], {{.*}}>, {{.*}} padding = array<i64: 1, 1, 0, 1>, {{.*}} block = array<i64: 3, 8, 8>}
// CHECK-NEXT: npu.conv2d {layer = "conv1", ifm = #npu.fm<sram, 64, [1, 5, 8, 4], [256, 32, 4, 1], {{.*}}>, ofm = #npu.fm<sram, 1216, [1, 3, 8, 8], [512, 64, 8, 1], {{.*}}>, {{.*}} padding = array<i64: 0, 1, 0, 1>, {{.*}} block = array<i64: 3, 8, 8>}
// CHECK-NEXT: npu.conv2d {layer = "conv1", ifm = #npu.fm<sram, 160, [1, 3, 8, 4], [256, 32, 4, 1], {{.*}}>, ofm = #npu.fm<sram, 1408, [1, 2, 8, 8], [512, 64, 8, 1], {{.*}}>, {{.*}} padding = array<i64: 0, 1, 1, 1>, {{.*}} block = array<i64: 2, 8, 8>}
// CHECK-NEXT: npu.output
builtin.module {
  func.func @conv1(%x: tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>> {
    %w = quantized.constant {npu.memory = "flash", npu.offset = 0 : i64} dense<1> : tensor<8x3x3x4xi8> -> tensor<8x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>
    %b = quantized.constant {npu.memory = "flash", npu.offset = 288 : i64} dense<1> : tensor<8xi32>
    %c = quantized.conv2d %x, %w, %b {layer = "conv1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none", npu.placement = "npu", npu.block = array<i64: 8, 8, 8>, npu.stripe = array<i64: 3, 8, 8>, npu.memory = "sram", npu.offset = 1024 : i64} : (tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>, tensor<8x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>, tensor<8xi32>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>>
    func.return %c : tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>>
  }
}

// -----

// A 3x3 max pool with stride 2 and SAME padding over 7 rows, in stripes of
// one row: the first reads two IFM rows under the top padding, the middle
// ones three (a row shared with the previous stripe), the last two over the
// bottom padding.

// CHECK-LABEL: builtin.module
// CHECK:      npu.pool {layer = "pool1", kind = "max", ifm = #npu.fm<sram, 0, [1, 2, 7, 2], {{.*}}>, ofm = #npu.fm<sram, 112, [1, 1, 4, 2], [32, 8, 2, 1], {{.*}}>, {{.*}} padding = array<i64: 1, 1, 0, 1>,
// CHECK-NEXT: npu.pool {layer = "pool1", kind = "max", ifm = #npu.fm<sram, 14, [1, 3, 7, 2], {{.*}}>, ofm = #npu.fm<sram, 120, [1, 1, 4, 2], [32, 8, 2, 1], {{.*}}>, {{.*}} padding = array<i64: 0, 1, 0, 1>,
// CHECK-NEXT: npu.pool {layer = "pool1", kind = "max", ifm = #npu.fm<sram, 42, [1, 3, 7, 2], {{.*}}>, ofm = #npu.fm<sram, 128, [1, 1, 4, 2], [32, 8, 2, 1], {{.*}}>, {{.*}} padding = array<i64: 0, 1, 0, 1>,
// CHECK-NEXT: npu.pool {layer = "pool1", kind = "max", ifm = #npu.fm<sram, 70, [1, 2, 7, 2], {{.*}}>, ofm = #npu.fm<sram, 136, [1, 1, 4, 2], [32, 8, 2, 1], {{.*}}>, {{.*}} padding = array<i64: 0, 1, 1, 1>,
// CHECK-NEXT: npu.output
builtin.module {
  func.func @pool1(%x: tensor<1x7x7x2x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>> {
    %p = quantized.max_pool2d %x {layer = "pool1", kernel = array<i64: 3, 3>, strides = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>, activation = "none", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 1, 4, 2>, npu.memory = "sram", npu.offset = 112 : i64} : (tensor<1x7x7x2x!quantized.uniform<i8:f32, 0.5:0>>) -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>>
    func.return %p : tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// An add with a per-channel (one-row) second operand: each stripe reads its
// rows of the first and the whole of the second.

// CHECK-LABEL: builtin.module
// CHECK:      npu.elementwise {layer = "add1", kind = "add", ifm = #npu.fm<sram, 0, [1, 2, 4, 4], [64, 16, 4, 1], {{.*}}>, ifm2 = #npu.fm<sram, 64, [1, 1, 1, 4], {{.*}}>, ofm = #npu.fm<sram, 128, [1, 2, 4, 4], [64, 16, 4, 1], {{.*}}>,
// CHECK-NEXT: npu.elementwise {layer = "add1", kind = "add", ifm = #npu.fm<sram, 32, [1, 2, 4, 4], [64, 16, 4, 1], {{.*}}>, ifm2 = #npu.fm<sram, 64, [1, 1, 1, 4], {{.*}}>, ofm = #npu.fm<sram, 160, [1, 2, 4, 4], [64, 16, 4, 1], {{.*}}>,
// CHECK-NEXT: npu.output
builtin.module {
  func.func @add1(%x: tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}, %y: tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 64 : i64}) -> tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:0>> {
    %a = quantized.add %x, %y {layer = "add1", activation = "none", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 2, 4, 4>, npu.memory = "sram", npu.offset = 128 : i64} : (tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:0>>, tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.5:0>>) -> tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:0>>
    func.return %a : tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// A cascade: a 3x3 convolution computes two rows per stripe into a rolling
// buffer of three rows (row y at buffer row y mod 3: 192 bytes at 1024), a
// 2x2/2 max pool reads them back one output row per stripe. The commands
// interleave; views running past the buffer's end wrap to its start.

// CHECK-LABEL: builtin.module
// CHECK:      npu.conv2d {layer = "conv1", ifm = #npu.fm<sram, 0, [1, 3, 8, 4], {{.*}}>, ofm = #npu.fm<sram, 1024, [1, 2, 8, 8], [512, 64, 8, 1], {{.*}}>,
// CHECK-NEXT: npu.pool {layer = "pool1", kind = "max", ifm = #npu.fm<sram, 1024, [1, 2, 8, 8], [512, 64, 8, 1], {{.*}}>, ofm = #npu.fm<sram, 2048, [1, 1, 4, 8], {{.*}}>,
// CHECK-NEXT: npu.conv2d {layer = "conv1", ifm = #npu.fm<sram, 32, [1, 4, 8, 4], {{.*}}>, ofm = #npu.fm<sram, 1152, [1, 2, 8, 8], [512, 64, 8, 1], {{.*}}, wrap 1 to 1024>,
// CHECK-NEXT: npu.pool {layer = "pool1", kind = "max", ifm = #npu.fm<sram, 1152, [1, 2, 8, 8], [512, 64, 8, 1], {{.*}}, wrap 1 to 1024>, ofm = #npu.fm<sram, 2080, [1, 1, 4, 8], {{.*}}>,
// CHECK-NEXT: npu.conv2d {layer = "conv1", ifm = #npu.fm<sram, 96, [1, 4, 8, 4], {{.*}}>, ofm = #npu.fm<sram, 1088, [1, 2, 8, 8], [512, 64, 8, 1], {{.*}}>,
// CHECK-NEXT: npu.pool {layer = "pool1", kind = "max", ifm = #npu.fm<sram, 1088, [1, 2, 8, 8], [512, 64, 8, 1], {{.*}}>, ofm = #npu.fm<sram, 2112, [1, 1, 4, 8], {{.*}}>,
// CHECK-NEXT: npu.conv2d {layer = "conv1", ifm = #npu.fm<sram, 160, [1, 3, 8, 4], {{.*}}>, ofm = #npu.fm<sram, 1024, [1, 2, 8, 8], [512, 64, 8, 1], {{.*}}>,
// CHECK-NEXT: npu.pool {layer = "pool1", kind = "max", ifm = #npu.fm<sram, 1024, [1, 2, 8, 8], [512, 64, 8, 1], {{.*}}>, ofm = #npu.fm<sram, 2144, [1, 1, 4, 8], {{.*}}>,
// CHECK-NEXT: npu.output
builtin.module {
  func.func @conv1_pool1(%x: tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>> {
    %w = quantized.constant {npu.memory = "flash", npu.offset = 0 : i64} dense<1> : tensor<8x3x3x4xi8> -> tensor<8x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>
    %b = quantized.constant {npu.memory = "flash", npu.offset = 288 : i64} dense<1> : tensor<8xi32>
    %c = quantized.conv2d %x, %w, %b {layer = "conv1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none", npu.placement = "npu", npu.block = array<i64: 8, 8, 8>, npu.stripe = array<i64: 2, 8, 8>, npu.cascade = 0 : i64, npu.rolling_rows = 3 : i64, npu.memory = "sram", npu.offset = 1024 : i64} : (tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>, tensor<8x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>, tensor<8xi32>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>>
    %p = quantized.max_pool2d %c {layer = "pool1", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 1, 4, 8>, npu.cascade = 0 : i64, npu.memory = "sram", npu.offset = 2048 : i64} : (tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
    func.return %p : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
  }
}

// -----

// The broadcast operand may be the first: each stripe reads its rows of the second.

// CHECK-LABEL: builtin.module
// CHECK:      npu.elementwise {layer = "add2", kind = "add", ifm = #npu.fm<sram, 64, [1, 1, 1, 4], {{.*}}>, ifm2 = #npu.fm<sram, 0, [1, 2, 4, 4], [64, 16, 4, 1], {{.*}}>, ofm = #npu.fm<sram, 128, [1, 2, 4, 4], [64, 16, 4, 1], {{.*}}>,
// CHECK-NEXT: npu.elementwise {layer = "add2", kind = "add", ifm = #npu.fm<sram, 64, [1, 1, 1, 4], {{.*}}>, ifm2 = #npu.fm<sram, 32, [1, 2, 4, 4], [64, 16, 4, 1], {{.*}}>, ofm = #npu.fm<sram, 160, [1, 2, 4, 4], [64, 16, 4, 1], {{.*}}>,
// CHECK-NEXT: npu.output
builtin.module {
  func.func @add2(%x: tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}, %y: tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 64 : i64}) -> tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:0>> {
    %a = quantized.add %y, %x {layer = "add2", activation = "none", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 2, 4, 4>, npu.memory = "sram", npu.offset = 128 : i64} : (tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.5:0>>, tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:0>>) -> tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:0>>
    func.return %a : tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// A stripe as high as the OFM is the layer's one command, with the layer's
// padding: the bottom row of padding a stride-2 window never reaches stays.

// CHECK-LABEL: builtin.module
// CHECK:      npu.conv2d {layer = "conv_s2", ifm = #npu.fm<sram, 0, [1, 8, 8, 4], {{.*}}>, ofm = #npu.fm<sram, 1024, [1, 4, 4, 8], {{.*}}>, {{.*}} strides = array<i64: 2, 2>, {{.*}} padding = array<i64: 1, 1, 1, 1>,
// CHECK-NEXT: npu.output
builtin.module {
  func.func @conv_s2(%x: tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>> {
    %w = quantized.constant {npu.memory = "flash", npu.offset = 0 : i64} dense<1> : tensor<8x3x3x4xi8> -> tensor<8x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>
    %b = quantized.constant {npu.memory = "flash", npu.offset = 288 : i64} dense<1> : tensor<8xi32>
    %c = quantized.conv2d %x, %w, %b {layer = "conv_s2", strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 4, 4, 8>, npu.memory = "sram", npu.offset = 1024 : i64} : (tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>, tensor<8x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>, tensor<8xi32>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
    func.return %c : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
  }
}

// -----

// Two cascades: three 3x3 convolutions (two rows per stripe; the weights of
// the second and third staged between them), then two 2x2/2 pools. Each
// cascade's commands come at its last op, after the copies staged within it:
// every stripe first asks its producer for the rows its window needs.

// CHECK-LABEL: builtin.module attributes {npu.target = "ethos-u55-128-raw", npu.cascades = {{\[\[}}"conv1", "conv2", "conv3"], ["pool1", "pool2"]]}
// CHECK:      npu.dma {layer = "conv2", {{.*}} dst = #npu.buf<sram, 1024, 144>}
// CHECK-NEXT: npu.dma {layer = "conv3", {{.*}} dst = #npu.buf<sram, 1168, 144>}
// CHECK-NEXT: npu.conv2d {layer = "conv1", {{.*}} ofm = #npu.fm<sram, 256, [1, 2, 8, 4],
// CHECK-NEXT: npu.conv2d {layer = "conv1", {{.*}} ofm = #npu.fm<sram, 320, [1, 2, 8, 4],
// CHECK-NEXT: npu.conv2d {layer = "conv2", {{.*}} ofm = #npu.fm<sram, 512, [1, 2, 8, 4],
// CHECK-NEXT: npu.conv2d {layer = "conv1", {{.*}} ofm = #npu.fm<sram, 384, [1, 2, 8, 4],
// CHECK-NEXT: npu.conv2d {layer = "conv2", {{.*}} ofm = #npu.fm<sram, 576, [1, 2, 8, 4],
// CHECK-NEXT: npu.conv2d {layer = "conv3", {{.*}} ofm = #npu.fm<sram, 768, [1, 2, 8, 4],
// CHECK-NEXT: npu.conv2d {layer = "conv1", {{.*}} ofm = #npu.fm<sram, 448, [1, 2, 8, 4],
// CHECK-NEXT: npu.conv2d {layer = "conv2", {{.*}} ofm = #npu.fm<sram, 640, [1, 2, 8, 4],
// CHECK-NEXT: npu.conv2d {layer = "conv3", {{.*}} ofm = #npu.fm<sram, 832, [1, 2, 8, 4],
// CHECK-NEXT: npu.conv2d {layer = "conv2", {{.*}} ofm = #npu.fm<sram, 704, [1, 2, 8, 4],
// CHECK-NEXT: npu.conv2d {layer = "conv3", {{.*}} ofm = #npu.fm<sram, 896, [1, 2, 8, 4],
// CHECK-NEXT: npu.conv2d {layer = "conv3", {{.*}} ofm = #npu.fm<sram, 960, [1, 2, 8, 4],
// CHECK-NEXT: npu.pool {layer = "pool1", {{.*}} ofm = #npu.fm<sram, 1312, [1, 2, 4, 4],
// CHECK-NEXT: npu.pool {layer = "pool2", {{.*}} ofm = #npu.fm<sram, 1376, [1, 1, 2, 4],
// CHECK-NEXT: npu.pool {layer = "pool1", {{.*}} ofm = #npu.fm<sram, 1344, [1, 2, 4, 4],
// CHECK-NEXT: npu.pool {layer = "pool2", {{.*}} ofm = #npu.fm<sram, 1384, [1, 1, 2, 4],
// CHECK-NEXT: npu.output
builtin.module {
  func.func @two_cascades(%x: tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x2x2x4x!quantized.uniform<i8:f32, 0.5:-1>> {
    %w1 = quantized.constant {npu.memory = "flash", npu.offset = 0 : i64} dense<1> : tensor<4x3x3x4xi8> -> tensor<4x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>
    %b1 = quantized.constant {npu.memory = "flash", npu.offset = 144 : i64} dense<1> : tensor<4xi32>
    %w2 = quantized.constant {npu.memory = "flash", npu.offset = 192 : i64} dense<2> : tensor<4x3x3x4xi8> -> tensor<4x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>
    %b2 = quantized.constant {npu.memory = "flash", npu.offset = 336 : i64} dense<2> : tensor<4xi32>
    %w3 = quantized.constant {npu.memory = "flash", npu.offset = 384 : i64} dense<3> : tensor<4x3x3x4xi8> -> tensor<4x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>
    %b3 = quantized.constant {npu.memory = "flash", npu.offset = 528 : i64} dense<3> : tensor<4xi32>
    %c1 = quantized.conv2d %x, %w1, %b1 {layer = "conv1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none", npu.placement = "npu", npu.block = array<i64: 8, 8, 8>, npu.stripe = array<i64: 2, 8, 4>, npu.cascade = 0 : i64, npu.rolling_rows = 8 : i64, npu.memory = "sram", npu.offset = 256 : i64} : (tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>, tensor<4x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>, tensor<4xi32>) -> tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>
    %w2s = npu.stage %w2 to "sram" {npu.memory = "sram", npu.offset = 1024 : i64} : tensor<4x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>
    %c2 = quantized.conv2d %c1, %w2s, %b2 {layer = "conv2", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none", npu.placement = "npu", npu.block = array<i64: 8, 8, 8>, npu.stripe = array<i64: 2, 8, 4>, npu.cascade = 0 : i64, npu.rolling_rows = 8 : i64, npu.memory = "sram", npu.offset = 512 : i64} : (tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>, tensor<4x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>, tensor<4xi32>) -> tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>
    %w3s = npu.stage %w3 to "sram" {npu.memory = "sram", npu.offset = 1168 : i64} : tensor<4x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>
    %c3 = quantized.conv2d %c2, %w3s, %b3 {layer = "conv3", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none", npu.placement = "npu", npu.block = array<i64: 8, 8, 8>, npu.stripe = array<i64: 2, 8, 4>, npu.cascade = 0 : i64, npu.memory = "sram", npu.offset = 768 : i64} : (tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>, tensor<4x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>, tensor<4xi32>) -> tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>
    %p1 = quantized.max_pool2d %c3 {layer = "pool1", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 2, 4, 4>, npu.cascade = 1 : i64, npu.rolling_rows = 4 : i64, npu.memory = "sram", npu.offset = 1312 : i64} : (tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>) -> tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:-1>>
    %p2 = quantized.max_pool2d %p1 {layer = "pool2", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none", npu.placement = "npu", npu.block = array<i64: 2, 2, 8>, npu.stripe = array<i64: 1, 2, 4>, npu.cascade = 1 : i64, npu.memory = "sram", npu.offset = 1376 : i64} : (tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:-1>>) -> tensor<1x2x2x4x!quantized.uniform<i8:f32, 0.5:-1>>
    func.return %p2 : tensor<1x2x2x4x!quantized.uniform<i8:f32, 0.5:-1>>
  }
}

// -----

// A convolution over a one-row IFM (padding two rows above and below) in
// stripes of one row: each stripe reads that row with the padding it reaches.

// CHECK-LABEL: builtin.module
// CHECK:      npu.conv2d {layer = "row_conv", ifm = #npu.fm<sram, 0, [1, 1, 4, 4], {{.*}}>, ofm = #npu.fm<sram, 64, [1, 1, 4, 4], {{.*}}>, {{.*}} padding = array<i64: 2, 1, 0, 1>,
// CHECK-NEXT: npu.conv2d {layer = "row_conv", ifm = #npu.fm<sram, 0, [1, 1, 4, 4], {{.*}}>, ofm = #npu.fm<sram, 80, [1, 1, 4, 4], {{.*}}>, {{.*}} padding = array<i64: 1, 1, 1, 1>,
// CHECK-NEXT: npu.conv2d {layer = "row_conv", ifm = #npu.fm<sram, 0, [1, 1, 4, 4], {{.*}}>, ofm = #npu.fm<sram, 96, [1, 1, 4, 4], {{.*}}>, {{.*}} padding = array<i64: 0, 1, 2, 1>,
// CHECK-NEXT: npu.output
builtin.module {
  func.func @row_conv(%x: tensor<1x1x4x4x!quantized.uniform<i8:f32, 0.5:-1>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x3x4x4x!quantized.uniform<i8:f32, 0.25:-128>> {
    %w = quantized.constant {npu.memory = "flash", npu.offset = 0 : i64} dense<1> : tensor<4x3x3x4xi8> -> tensor<4x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>
    %b = quantized.constant {npu.memory = "flash", npu.offset = 144 : i64} dense<1> : tensor<4xi32>
    %c = quantized.conv2d %x, %w, %b {layer = "row_conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 2, 1, 2, 1>, activation = "none", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 1, 4, 4>, npu.memory = "sram", npu.offset = 64 : i64} : (tensor<1x1x4x4x!quantized.uniform<i8:f32, 0.5:-1>>, tensor<4x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>, tensor<4xi32>) -> tensor<1x3x4x4x!quantized.uniform<i8:f32, 0.25:-128>>
    func.return %c : tensor<1x3x4x4x!quantized.uniform<i8:f32, 0.25:-128>>
  }
}
