// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p quantized-mean-to-depthwise | filecheck %s
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'quantized-mean-to-depthwise{target=ethos-u99}' | filecheck %s --check-prefix=TARGET

// The explicit rescale the pass writes is verified: (multiplier, shift) pairs
// for one or every output channel...
func.func @rescale_pairs(%x: tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.02:-128>> {
  %w = quantized.constant dense<1> : tensor<1x2x2x2xi8> -> tensor<1x2x2x2x!quantized.uniform<i8:f32, 1.0:0>>
  %b = quantized.constant dense<0> : tensor<2xi32>
  %d = quantized.depthwise_conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none", rescale = array<i32: 1073741824, 0, 1073741824>} : (tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<1x2x2x2x!quantized.uniform<i8:f32, 1.0:0>>, tensor<2xi32>) -> tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.02:-128>>
  func.return %d : tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.02:-128>>
}
// CHECK: Operation does not verify: 'rescale' must hold (multiplier, shift) pairs for 1 or 2 channels, got 3 values

// -----

// ...with shifts in -31..31 (a right shift of at most 62 bits in total).
func.func @rescale_shift(%x: tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.02:-128>> {
  %w = quantized.constant dense<1> : tensor<1x2x2x2xi8> -> tensor<1x2x2x2x!quantized.uniform<i8:f32, 1.0:0>>
  %b = quantized.constant dense<0> : tensor<2xi32>
  %d = quantized.depthwise_conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none", rescale = array<i32: 1073741824, -40>} : (tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<1x2x2x2x!quantized.uniform<i8:f32, 1.0:0>>, tensor<2xi32>) -> tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.02:-128>>
  func.return %d : tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.02:-128>>
}
// CHECK: Operation does not verify: 'rescale' multipliers must be non-negative and shifts within -31..31

// -----

// ...as an i32 array.
func.func @rescale_type(%x: tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.02:-128>> {
  %w = quantized.constant dense<1> : tensor<1x2x2x2xi8> -> tensor<1x2x2x2x!quantized.uniform<i8:f32, 1.0:0>>
  %b = quantized.constant dense<0> : tensor<2xi32>
  %d = quantized.depthwise_conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none", rescale = array<i64: 1073741824, 0>} : (tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<1x2x2x2x!quantized.uniform<i8:f32, 1.0:0>>, tensor<2xi32>) -> tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.02:-128>>
  func.return %d : tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.02:-128>>
}
// CHECK: Operation does not verify: 'rescale' must be an array<i32: ...>

// -----

// The target whose depthwise kernel rule the convs meet must exist.
func.func @unknown_target(%x: tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x2x!quantized.uniform<i8:f32, 0.02:-128>> {
  %m = quantized.reduce %x {kind = "mean", axes = array<i64: 1, 2>} : tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.02:-128>> -> tensor<1x2x!quantized.uniform<i8:f32, 0.02:-128>>
  func.return %m : tensor<1x2x!quantized.uniform<i8:f32, 0.02:-128>>
}
// TARGET: quantized-mean-to-depthwise: unknown target 'ethos-u99'
