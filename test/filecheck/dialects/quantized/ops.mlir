// RUN: npuc-opt %s | npuc-opt | filecheck %s
// RUN: xdsl-opt %s | filecheck %s

// Quantized element types print MLIR quant style and parse back; every op round-trips.

// CHECK-LABEL: func.func @conv1
func.func @conv1(%x: tensor<1x8x8x3xf32>) -> tensor<1x2xf32> {
  // CHECK: %{{.*}} = quantized.quantize %{{.*}} : tensor<1x8x8x3xf32> -> tensor<1x8x8x3x!quantized.uniform<i8:f32, 0.0235:-128>>
  %q = quantized.quantize %x : tensor<1x8x8x3xf32> -> tensor<1x8x8x3x!quantized.uniform<i8:f32, 0.0235:-128>>
  %w = quantized.constant dense<1> : tensor<2x3x3x3xi8> -> tensor<2x3x3x3x!quantized.uniform<i8:f32:0, {0.01:0, 2.5e-05:0}>>
  %b = quantized.constant dense<[1, 2]> : tensor<2xi32>
  // CHECK: %{{.*}} = quantized.conv2d %{{.*}}, %{{.*}}, %{{.*}} {layer = "conv1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "relu"} : (tensor<1x8x8x3x!quantized.uniform<i8:f32, 0.0235:-128>>, tensor<2x3x3x3x!quantized.uniform<i8:f32:0, {0.01:0, 2.5e-05:0}>>, tensor<2xi32>) -> tensor<1x8x8x2x!quantized.uniform<i8:f32, 0.1:-128>>
  %c = quantized.conv2d %q, %w, %b {layer = "conv1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "relu"} : (tensor<1x8x8x3x!quantized.uniform<i8:f32, 0.0235:-128>>, tensor<2x3x3x3x!quantized.uniform<i8:f32:0, {0.01:0, 2.5e-05:0}>>, tensor<2xi32>) -> tensor<1x8x8x2x!quantized.uniform<i8:f32, 0.1:-128>>
  %dw = quantized.constant dense<3> : tensor<1x3x3x2xi8> -> tensor<1x3x3x2x!quantized.uniform<i8:f32:3, {0.5:0, 0.25:0}>>
  %db = quantized.constant dense<0> : tensor<2xi32>
  // CHECK: %{{.*}} = quantized.depthwise_conv2d %{{.*}}, %{{.*}}, %{{.*}} {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none"} : (tensor<1x8x8x2x!quantized.uniform<i8:f32, 0.1:-128>>, tensor<1x3x3x2x!quantized.uniform<i8:f32:3, {0.5:0, 0.25:0}>>, tensor<2xi32>) -> tensor<1x8x8x2x!quantized.uniform<i8:f32, 0.2:-1>>
  %d = quantized.depthwise_conv2d %c, %dw, %db {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none"} : (tensor<1x8x8x2x!quantized.uniform<i8:f32, 0.1:-128>>, tensor<1x3x3x2x!quantized.uniform<i8:f32:3, {0.5:0, 0.25:0}>>, tensor<2xi32>) -> tensor<1x8x8x2x!quantized.uniform<i8:f32, 0.2:-1>>
  // CHECK: %{{.*}} = quantized.add %{{.*}}, %{{.*}} {activation = "none"} : (tensor<1x8x8x2x!quantized.uniform<i8:f32, 0.1:-128>>, tensor<1x8x8x2x!quantized.uniform<i8:f32, 0.2:-1>>) -> tensor<1x8x8x2x!quantized.uniform<i8:f32, 0.3:5>>
  %a = quantized.add %c, %d {activation = "none"} : (tensor<1x8x8x2x!quantized.uniform<i8:f32, 0.1:-128>>, tensor<1x8x8x2x!quantized.uniform<i8:f32, 0.2:-1>>) -> tensor<1x8x8x2x!quantized.uniform<i8:f32, 0.3:5>>
  // CHECK: %{{.*}} = quantized.max_pool2d %{{.*}} {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x8x8x2x!quantized.uniform<i8:f32, 0.3:5>>) -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.3:5>>
  %m = quantized.max_pool2d %a {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x8x8x2x!quantized.uniform<i8:f32, 0.3:5>>) -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.3:5>>
  // CHECK: %{{.*}} = quantized.avg_pool2d %{{.*}} {kernel = array<i64: 4, 4>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.3:5>>) -> tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.3:5>>
  %v = quantized.avg_pool2d %m {kernel = array<i64: 4, 4>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.3:5>>) -> tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.3:5>>
  // CHECK: %{{.*}} = quantized.clamp %{{.*}} {min = 5 : i64, max = 127 : i64} : tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.3:5>> -> tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.3:5>>
  %k = quantized.clamp %v {min = 5 : i64, max = 127 : i64} : tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.3:5>> -> tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.3:5>>
  // CHECK: %{{.*}} = quantized.transpose %{{.*}} {perm = array<i64: 0, 3, 1, 2>} : tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.3:5>> -> tensor<1x2x1x1x!quantized.uniform<i8:f32, 0.3:5>>
  %t = quantized.transpose %k {perm = array<i64: 0, 3, 1, 2>} : tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.3:5>> -> tensor<1x2x1x1x!quantized.uniform<i8:f32, 0.3:5>>
  // CHECK: %{{.*}} = quantized.reshape %{{.*}} : tensor<1x2x1x1x!quantized.uniform<i8:f32, 0.3:5>> -> tensor<1x2x!quantized.uniform<i8:f32, 0.3:5>>
  %r = quantized.reshape %t : tensor<1x2x1x1x!quantized.uniform<i8:f32, 0.3:5>> -> tensor<1x2x!quantized.uniform<i8:f32, 0.3:5>>
  %fw = quantized.constant dense<[[1, -1], [2, 2]]> : tensor<2x2xi8> -> tensor<2x2x!quantized.uniform<i8:f32, 0.05:0>>
  %fb = quantized.constant dense<0> : tensor<2xi32>
  // CHECK: %{{.*}} = quantized.fully_connected %{{.*}}, %{{.*}}, %{{.*}} {activation = "relu6"} : (tensor<1x2x!quantized.uniform<i8:f32, 0.3:5>>, tensor<2x2x!quantized.uniform<i8:f32, 0.05:0>>, tensor<2xi32>) -> tensor<1x2x!quantized.uniform<i8:f32, 0.05:-128>>
  %o = quantized.fully_connected %r, %fw, %fb {activation = "relu6"} : (tensor<1x2x!quantized.uniform<i8:f32, 0.3:5>>, tensor<2x2x!quantized.uniform<i8:f32, 0.05:0>>, tensor<2xi32>) -> tensor<1x2x!quantized.uniform<i8:f32, 0.05:-128>>
  // CHECK: %{{.*}} = quantized.dequantize %{{.*}} : tensor<1x2x!quantized.uniform<i8:f32, 0.05:-128>> -> tensor<1x2xf32>
  %y = quantized.dequantize %o : tensor<1x2x!quantized.uniform<i8:f32, 0.05:-128>> -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}

// A grouped convolution (2 groups) with per-output-channel weight scales keeps its `groups`.
// CHECK-LABEL: func.func @grouped_conv
func.func @grouped_conv(%x: tensor<1x6x6x4x!quantized.uniform<i8:f32, 0.05:3>>) -> tensor<1x6x6x4x!quantized.uniform<i8:f32, 0.05:3>> {
  %w = quantized.constant dense<1> : tensor<4x3x3x2xi8> -> tensor<4x3x3x2x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0, 0.01:0, 0.03:0}>>
  %b = quantized.constant dense<0> : tensor<4xi32>
  // CHECK: quantized.conv2d %{{.*}}, %{{.*}}, %{{.*}} {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, groups = 2 : i64, activation = "relu"}
  %c = quantized.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, groups = 2 : i64, activation = "relu"} : (tensor<1x6x6x4x!quantized.uniform<i8:f32, 0.05:3>>, tensor<4x3x3x2x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0, 0.01:0, 0.03:0}>>, tensor<4xi32>) -> tensor<1x6x6x4x!quantized.uniform<i8:f32, 0.05:3>>
  func.return %c : tensor<1x6x6x4x!quantized.uniform<i8:f32, 0.05:3>>
}
