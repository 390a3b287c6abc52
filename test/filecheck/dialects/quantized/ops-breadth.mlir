// RUN: npuc-opt %s | npuc-opt | filecheck %s

// The quantized ops beyond the spine, 8- and 16-bit, print and parse back unchanged.

// CHECK-LABEL: func.func @quantized_breadth
func.func @quantized_breadth(%x: tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>, %h: tensor<1x4x4x8x!quantized.uniform<i16:f32, 0.001:0>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> {
  %w = quantized.constant dense<1> : tensor<4x3x3x8xi8> -> tensor<4x3x3x8x!quantized.uniform<i8:f32:0, {0.01:0, 0.01:0, 0.02:0, 0.03:0}>>
  %b = quantized.constant dense<0> : tensor<4xi32>
  // CHECK: %{{.*}} = quantized.transpose_conv2d %{{.*}}, %{{.*}}, %{{.*}} {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, activation = "none"} : (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<4x3x3x8x!quantized.uniform<i8:f32:0, {0.01:0, 0.01:0, 0.02:0, 0.03:0}>>, tensor<4xi32>) -> tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.2:0>>
  %t = quantized.transpose_conv2d %x, %w, %b {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, activation = "none"} : (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<4x3x3x8x!quantized.uniform<i8:f32:0, {0.01:0, 0.01:0, 0.02:0, 0.03:0}>>, tensor<4xi32>) -> tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.2:0>>
  %w16 = quantized.constant dense<1> : tensor<4x1x1x8xi8> -> tensor<4x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>
  %b16 = quantized.constant dense<0> : tensor<4xi64>
  // CHECK: %{{.*}} = quantized.conv2d %{{.*}}, %{{.*}}, %{{.*}} {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x8x!quantized.uniform<i16:f32, 0.001:0>>, tensor<4x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>, tensor<4xi64>) -> tensor<1x4x4x4x!quantized.uniform<i16:f32, 0.002:0>>
  %c16 = quantized.conv2d %h, %w16, %b16 {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x8x!quantized.uniform<i16:f32, 0.001:0>>, tensor<4x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>, tensor<4xi64>) -> tensor<1x4x4x4x!quantized.uniform<i16:f32, 0.002:0>>
  // CHECK: %{{.*}} = quantized.sub %{{.*}}, %{{.*}} {activation = "none"} : (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.2:0>>
  %s = quantized.sub %x, %x {activation = "none"} : (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.2:0>>
  // CHECK: %{{.*}} = quantized.mul %{{.*}}, %{{.*}} {activation = "relu"} : (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.5:-128>>
  %m = quantized.mul %x, %x {activation = "relu"} : (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.5:-128>>
  // CHECK: %{{.*}} = quantized.maximum %{{.*}}, %{{.*}} {activation = "none"} : (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>
  %mx = quantized.maximum %x, %x {activation = "none"} : (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>
  // CHECK: %{{.*}} = quantized.minimum %{{.*}}, %{{.*}} {activation = "none"} : (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>
  %mn = quantized.minimum %mx, %x {activation = "none"} : (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>
  %slope = quantized.constant dense<3> : tensor<1x1x1x8xi8> -> tensor<1x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>
  // CHECK: %{{.*}} = quantized.prelu %{{.*}}, %{{.*}} : (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>
  %pr = quantized.prelu %mn, %slope : (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>
  // CHECK: %{{.*}} = quantized.logistic %{{.*}} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.00390625:-128>>
  %lg = quantized.logistic %pr : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.00390625:-128>>
  // CHECK: %{{.*}} = quantized.tanh %{{.*}} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.0078125:0>>
  %th = quantized.tanh %x : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.0078125:0>>
  // CHECK: %{{.*}} = quantized.hard_swish %{{.*}} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-10>>
  %hs = quantized.hard_swish %x : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-10>>
  // CHECK: %{{.*}} = quantized.gelu %{{.*}} {approximate} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-10>>
  %ge = quantized.gelu %x {approximate} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-10>>
  // CHECK: %{{.*}} = quantized.hard_sigmoid %{{.*}} {alpha = 2.000000e-01 : f32, beta = 5.000000e-01 : f32} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.00390625:-128>>
  %hg = quantized.hard_sigmoid %x {alpha = 0.2 : f32, beta = 0.5 : f32} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.00390625:-128>>
  // CHECK: %{{.*}} = quantized.leaky_relu %{{.*}} {alpha = 1.000000e-01 : f32} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-10>>
  %lr = quantized.leaky_relu %x {alpha = 0.1 : f32} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-10>>
  // CHECK: %{{.*}} = quantized.relu %{{.*}} {kind = "relu6"} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-128>>
  %r6 = quantized.relu %x {kind = "relu6"} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-128>>
  // CHECK: %{{.*}} = quantized.softmax %{{.*}} {axis = 3 : i64, beta = 1.000000e+00 : f32} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.00390625:-128>>
  %sm = quantized.softmax %x {axis = 3 : i64, beta = 1.0 : f32} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.00390625:-128>>
  // CHECK: %{{.*}} = quantized.requantize %{{.*}} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i16:f32, 0.001:0>>
  %rq = quantized.requantize %x : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i16:f32, 0.001:0>>
  // CHECK: %{{.*}} = quantized.reduce %{{.*}} {kind = "mean", axes = array<i64: 1, 2>} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x1x1x8x!quantized.uniform<i8:f32, 0.05:-3>>
  %rd = quantized.reduce %x {kind = "mean", axes = array<i64: 1, 2>} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x1x1x8x!quantized.uniform<i8:f32, 0.05:-3>>
  // CHECK: %{{.*}} = quantized.concat %{{.*}}, %{{.*}} {axis = 3 : i64} : (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.2:0>>) -> tensor<1x4x4x16x!quantized.uniform<i8:f32, 0.2:0>>
  %cc = quantized.concat %x, %s {axis = 3 : i64} : (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.2:0>>) -> tensor<1x4x4x16x!quantized.uniform<i8:f32, 0.2:0>>
  // CHECK: %{{.*}}, %{{.*}} = quantized.split %{{.*}} {axis = 3 : i64} : (tensor<1x4x4x16x!quantized.uniform<i8:f32, 0.2:0>>) -> (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.2:0>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.2:0>>)
  %sa, %sb = quantized.split %cc {axis = 3 : i64} : (tensor<1x4x4x16x!quantized.uniform<i8:f32, 0.2:0>>) -> (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.2:0>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.2:0>>)
  // CHECK: %{{.*}} = quantized.slice %{{.*}} {begin = array<i64: 0, 0, 0, 0>, end = array<i64: 1, 2, 4, 8>, strides = array<i64: 1, 1, 1, 1>} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x2x4x8x!quantized.uniform<i8:f32, 0.1:-3>>
  %sl = quantized.slice %x {begin = array<i64: 0, 0, 0, 0>, end = array<i64: 1, 2, 4, 8>, strides = array<i64: 1, 1, 1, 1>} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x2x4x8x!quantized.uniform<i8:f32, 0.1:-3>>
  // CHECK: %{{.*}} = quantized.pad %{{.*}} {paddings = array<i64: 0, 0, 1, 1, 0, 0, 0, 0>, mode = "constant", value = -3 : i64} : tensor<1x2x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>
  %pd = quantized.pad %sl {paddings = array<i64: 0, 0, 1, 1, 0, 0, 0, 0>, mode = "constant", value = -3 : i64} : tensor<1x2x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>
  // CHECK: %{{.*}} = quantized.resize %{{.*}} {mode = "nearest", coordinate_mode = "asymmetric", nearest_mode = "floor"} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.1:-3>>
  %rs = quantized.resize %pd {mode = "nearest", coordinate_mode = "asymmetric", nearest_mode = "floor"} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.1:-3>>
  // CHECK: %{{.*}} = quantized.space_to_depth %{{.*}} {block_size = 2 : i64} : tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x32x!quantized.uniform<i8:f32, 0.1:-3>>
  %s2d = quantized.space_to_depth %rs {block_size = 2 : i64} : tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x4x4x32x!quantized.uniform<i8:f32, 0.1:-3>>
  // CHECK: %{{.*}} = quantized.depth_to_space %{{.*}} {block_size = 2 : i64, mode = "DCR"} : tensor<1x4x4x32x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.1:-3>>
  %d2s = quantized.depth_to_space %s2d {block_size = 2 : i64, mode = "DCR"} : tensor<1x4x4x32x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.1:-3>>
  func.return %x : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:-3>>
}
