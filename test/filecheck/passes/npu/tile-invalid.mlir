// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p npu-tile | filecheck %s
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'npu-tile{target=ethos-u99}' | filecheck %s --check-prefix=TARGET
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'npu-tile{target=generic-4tops}' | filecheck %s --check-prefix=GENERIC
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'npu-tile{max-stripe-height=-1}' | filecheck %s --check-prefix=STRIPE

// STRIPE: npu-tile: max-stripe-height must be >= 0, got -1

// TARGET: npu-tile: unknown target 'ethos-u99' (built-in targets: {{.*}}ethos-u55-128{{.*}}; or give the path of a .toml file)

// npu-tile needs the placements of npu-legalize.
// CHECK: npu-tile: conv (quantized.conv2d) has no npu.placement: run npu-legalize first
func.func @conv(%x: tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.02:0>>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.5:0>> {
  %w = quantized.constant dense<1> : tensor<8x1x1x8xi8> -> tensor<8x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<8xi32>
  %c = quantized.conv2d %x, %w, %b {layer = "conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.02:0>>, tensor<8x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>, tensor<8xi32>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.5:0>>
  func.return %c : tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.5:0>>
}

// -----

// A 200x200 max pool window: on an Ethos-U it splits into 8x8 sub-kernels
// and fits, but the generic target has no sub-kernel limit, so even its
// smallest block's IFM block (204 x 204 x 8 bytes, double-buffered) exceeds
// its 245760 usable shared-buffer bytes.
// GENERIC: npu-tile: no OFM block of generic-4tops fits wide (quantized.max_pool2d) in 245760 bytes of shared buffer
func.func @wide(%x: tensor<1x204x204x8x!quantized.uniform<i8:f32, 0.02:0>>) -> tensor<1x5x5x8x!quantized.uniform<i8:f32, 0.02:0>> {
  %p = quantized.max_pool2d %x {layer = "wide", npu.placement = "npu", kernel = array<i64: 200, 200>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x204x204x8x!quantized.uniform<i8:f32, 0.02:0>>) -> tensor<1x5x5x8x!quantized.uniform<i8:f32, 0.02:0>>
  func.return %p : tensor<1x5x5x8x!quantized.uniform<i8:f32, 0.02:0>>
}

// -----

// The passes work on the model's @main, or on a module's only function.
// CHECK: npu-tile: the module has 2 functions and none is @main: name the model's @main
func.func @tile_first(%x: tensor<2xi8>) -> tensor<2xi8> {
  func.return %x : tensor<2xi8>
}
func.func @tile_second(%x: tensor<2xi8>) -> tensor<2xi8> {
  func.return %x : tensor<2xi8>
}
