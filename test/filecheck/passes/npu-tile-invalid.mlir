// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p npu-tile | filecheck %s
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'npu-tile{target=ethos-u99}' | filecheck %s --check-prefix=TARGET

// TARGET: npu-tile: unknown target 'ethos-u99' (built-in targets: {{.*}}ethos-u55-128{{.*}}; or give the path of a .toml file)

// npu-tile needs the placements of npu-legalize.
// CHECK: npu-tile: conv (quantized.conv2d) has no npu.placement: run npu-legalize first
func.func @main(%x: tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.02:0>>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.5:0>> {
  %w = quantized.constant dense<1> : tensor<8x1x1x8xi8> -> tensor<8x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<8xi32>
  %c = quantized.conv2d %x, %w, %b {layer = "conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.02:0>>, tensor<8x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>, tensor<8xi32>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.5:0>>
  func.return %c : tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.5:0>>
}

// -----

// A 64x64 kernel is legal, but its IFM block (65 x 65 x 8 bytes) alone
// exceeds the shared buffer for every block config.
// CHECK: npu-tile: no block config of ethos-u55-128 fits huge (quantized.conv2d) in 20480 bytes of shared buffer
func.func @main(%x: tensor<1x64x64x8x!quantized.uniform<i8:f32, 0.02:0>>) -> tensor<1x1x1x8x!quantized.uniform<i8:f32, 0.5:0>> {
  %w = quantized.constant dense<1> : tensor<8x64x64x8xi8> -> tensor<8x64x64x8x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<8xi32>
  %c = quantized.conv2d %x, %w, %b {layer = "huge", npu.placement = "npu", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x64x64x8x!quantized.uniform<i8:f32, 0.02:0>>, tensor<8x64x64x8x!quantized.uniform<i8:f32, 0.01:0>>, tensor<8xi32>) -> tensor<1x1x1x8x!quantized.uniform<i8:f32, 0.5:0>>
  func.return %c : tensor<1x1x1x8x!quantized.uniform<i8:f32, 0.5:0>>
}
