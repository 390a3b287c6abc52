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
