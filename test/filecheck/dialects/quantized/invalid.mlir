// RUN: npuc-opt %s --split-input-file --verify-diagnostics | filecheck %s

// Quantization parameters are checked by the type and op verifiers.

func.func @weights_not_symmetric(%x: tensor<1x4x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x2x!quantized.uniform<i8:f32, 0.1:0>> {
  %w = quantized.constant dense<1> : tensor<2x4xi8> -> tensor<2x4x!quantized.uniform<i8:f32, 0.05:3>>
  %b = quantized.constant dense<0> : tensor<2xi32>
  %o = quantized.fully_connected %x, %w, %b {activation = "none"} : (tensor<1x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<2x4x!quantized.uniform<i8:f32, 0.05:3>>, tensor<2xi32>) -> tensor<1x2x!quantized.uniform<i8:f32, 0.1:0>>
  func.return %o : tensor<1x2x!quantized.uniform<i8:f32, 0.1:0>>
}
// CHECK: weights must be symmetric (zero point 0)

// -----

func.func @per_axis_count(%x: tensor<1x4x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x2x!quantized.uniform<i8:f32, 0.1:0>> {
  %w = quantized.constant dense<1> : tensor<2x4xi8> -> tensor<2x4x!quantized.uniform<i8:f32:0, {0.05:0, 0.05:0, 0.05:0}>>
  func.return %x : tensor<1x4x!quantized.uniform<i8:f32, 0.1:0>>
}
// CHECK: per-axis type has 3 scales for an axis of 2

// -----

func.func @bias_type(%x: tensor<1x4x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x2x!quantized.uniform<i8:f32, 0.1:0>> {
  %w = quantized.constant dense<1> : tensor<2x4xi8> -> tensor<2x4x!quantized.uniform<i8:f32, 0.05:0>>
  %b = quantized.constant dense<0> : tensor<2xi8>
  %o = quantized.fully_connected %x, %w, %b {activation = "none"} : (tensor<1x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<2x4x!quantized.uniform<i8:f32, 0.05:0>>, tensor<2xi8>) -> tensor<1x2x!quantized.uniform<i8:f32, 0.1:0>>
  func.return %o : tensor<1x2x!quantized.uniform<i8:f32, 0.1:0>>
}
// CHECK: bias must be an i32 tensor, got i8

// -----

func.func @zero_point_range(%x: tensor<1x4x!quantized.uniform<i8:f32, 0.1:200>>) -> tensor<1x4x!quantized.uniform<i8:f32, 0.1:200>> {
  func.return %x : tensor<1x4x!quantized.uniform<i8:f32, 0.1:200>>
}
// CHECK: zero point outside the i8 range

// -----

func.func @pool_requantizes(%x: tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x1x1x1x!quantized.uniform<i8:f32, 0.2:0>> {
  %m = quantized.max_pool2d %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x1x1x1x!quantized.uniform<i8:f32, 0.2:0>>
  func.return %m : tensor<1x1x1x1x!quantized.uniform<i8:f32, 0.2:0>>
}
// CHECK: result must have the same quantization as the input

// -----

func.func @float_ifm(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %a = quantized.add %x, %x {activation = "none"} : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
  func.return %a : tensor<1x4xf32>
}
// CHECK: operand must have a !quantized.uniform element type

// -----

func.func @negative_scale(%x: tensor<1x4x!quantized.uniform<i8:f32, -0.1:0>>) -> tensor<1x4x!quantized.uniform<i8:f32, -0.1:0>> {
  func.return %x : tensor<1x4x!quantized.uniform<i8:f32, -0.1:0>>
}
// CHECK: quantization scales must be positive and finite

// -----

func.func @maximum_needs_one_quantization(%x: tensor<1x4x!quantized.uniform<i8:f32, 0.1:0>>, %y: tensor<1x4x!quantized.uniform<i8:f32, 0.2:0>>) -> tensor<1x4x!quantized.uniform<i8:f32, 0.1:0>> {
  %m = quantized.maximum %x, %y {activation = "none"} : (tensor<1x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x!quantized.uniform<i8:f32, 0.2:0>>) -> tensor<1x4x!quantized.uniform<i8:f32, 0.1:0>>
  func.return %m : tensor<1x4x!quantized.uniform<i8:f32, 0.1:0>>
}
// CHECK: operands and result must have the same quantization

// -----

func.func @int64_bias_needs_16_bit_activations(%x: tensor<1x4x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x2x!quantized.uniform<i8:f32, 0.1:0>> {
  %w = quantized.constant dense<1> : tensor<2x4xi8> -> tensor<2x4x!quantized.uniform<i8:f32, 0.05:0>>
  %b = quantized.constant dense<0> : tensor<2xi64>
  %o = quantized.fully_connected %x, %w, %b {activation = "none"} : (tensor<1x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<2x4x!quantized.uniform<i8:f32, 0.05:0>>, tensor<2xi64>) -> tensor<1x2x!quantized.uniform<i8:f32, 0.1:0>>
  func.return %o : tensor<1x2x!quantized.uniform<i8:f32, 0.1:0>>
}
// CHECK: bias must be an i32 tensor, got i64

// -----

func.func @split_keeps_quantization(%x: tensor<1x4x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x2x!quantized.uniform<i8:f32, 0.1:0>> {
  %a, %b = quantized.split %x {axis = 1 : i64} : (tensor<1x4x!quantized.uniform<i8:f32, 0.1:0>>) -> (tensor<1x2x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x2x!quantized.uniform<i8:f32, 0.3:0>>)
  func.return %a : tensor<1x2x!quantized.uniform<i8:f32, 0.1:0>>
}
// CHECK: result must have the same quantization as the input

// -----

// LiteRT aborts on a softmax beta that is not positive, so the verifier refuses it.
func.func @softmax_beta_zero(%x: tensor<1x10x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x10x!quantized.uniform<i8:f32, 0.00390625:-128>> {
  %o = quantized.softmax %x {axis = 1 : i64, beta = 0.0 : f32} : tensor<1x10x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x10x!quantized.uniform<i8:f32, 0.00390625:-128>>
  func.return %o : tensor<1x10x!quantized.uniform<i8:f32, 0.00390625:-128>>
}
// CHECK: beta 0.0 must be positive

// -----

func.func @groups_not_dividing_the_ifm(%x: tensor<1x6x6x4x!quantized.uniform<i8:f32, 0.05:3>>) -> tensor<1x6x6x4x!quantized.uniform<i8:f32, 0.05:3>> {
  %w = quantized.constant dense<1> : tensor<4x3x3x2xi8> -> tensor<4x3x3x2x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0, 0.01:0, 0.03:0}>>
  %b = quantized.constant dense<0> : tensor<4xi32>
  %c = quantized.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, groups = 4 : i64, activation = "none"} : (tensor<1x6x6x4x!quantized.uniform<i8:f32, 0.05:3>>, tensor<4x3x3x2x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0, 0.01:0, 0.03:0}>>, tensor<4xi32>) -> tensor<1x6x6x4x!quantized.uniform<i8:f32, 0.05:3>>
  func.return %c : tensor<1x6x6x4x!quantized.uniform<i8:f32, 0.05:3>>
}
// CHECK: weights input depth 2 times 4 groups does not match ifm depth 4
