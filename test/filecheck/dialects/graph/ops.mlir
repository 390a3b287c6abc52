// RUN: npuc-opt %s | npuc-opt | filecheck %s
// RUN: xdsl-opt %s | filecheck %s

// Every graph op prints in its custom form and parses back unchanged.

// CHECK-LABEL: func.func @conv1
// CHECK-SAME:  (%[[X:.*]]: tensor<1x8x8x3xf32> {graph.layout = "NCHW", graph.name = "input"})
func.func @conv1(%x: tensor<1x8x8x3xf32> {graph.layout = "NCHW", graph.name = "input"}) -> (tensor<1x10xf32> {graph.name = "logits"}) {
  // CHECK: %[[W:.*]] = graph.constant dense<5.000000e-01> : tensor<4x3x3x3xf32>
  %w = graph.constant dense<0.5> : tensor<4x3x3x3xf32>
  %b = graph.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  // CHECK: %{{.*}} = graph.conv2d %[[X]], %[[W]], %{{.*}} {layer = "conv1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "relu"} : (tensor<1x8x8x3xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
  %c = graph.conv2d %x, %w, %b {layer = "conv1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "relu"} : (tensor<1x8x8x3xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
  %dw = graph.constant dense<0.25> : tensor<1x3x3x8xf32>
  %db = graph.constant dense<0.0> : tensor<8xf32>
  // CHECK: %{{.*}} = graph.depthwise_conv2d %{{.*}}, %{{.*}}, %{{.*}} {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 0, 0>, activation = "relu6"} : (tensor<1x8x8x4xf32>, tensor<1x3x3x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  %d = graph.depthwise_conv2d %c, %dw, %db {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 0, 0>, activation = "relu6"} : (tensor<1x8x8x4xf32>, tensor<1x3x3x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.relu %{{.*}} : tensor<1x4x4x8xf32>
  %r = graph.relu %d : tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.clip %{{.*}} {min = -1.000000e+00 : f32, max = 1.000000e+00 : f32} : tensor<1x4x4x8xf32>
  %k = graph.clip %r {min = -1.0 : f32, max = 1.0 : f32} : tensor<1x4x4x8xf32>
  %s = graph.constant dense<1.0> : tensor<1x1x1x8xf32>
  // CHECK: %{{.*}} = graph.add %{{.*}}, %{{.*}} {activation = "none"} : (tensor<1x4x4x8xf32>, tensor<1x1x1x8xf32>) -> tensor<1x4x4x8xf32>
  %a = graph.add %k, %s {activation = "none"} : (tensor<1x4x4x8xf32>, tensor<1x1x1x8xf32>) -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.max_pool2d %{{.*}} {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x8xf32>) -> tensor<1x2x2x8xf32>
  %m = graph.max_pool2d %a {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x8xf32>) -> tensor<1x2x2x8xf32>
  // CHECK: %{{.*}} = graph.avg_pool2d %{{.*}} {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none"} : (tensor<1x2x2x8xf32>) -> tensor<1x2x2x8xf32>
  %v = graph.avg_pool2d %m {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none"} : (tensor<1x2x2x8xf32>) -> tensor<1x2x2x8xf32>
  // CHECK: %{{.*}} = graph.transpose %{{.*}} {perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x2x8xf32> -> tensor<1x8x2x2xf32>
  %t = graph.transpose %v {perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x2x8xf32> -> tensor<1x8x2x2xf32>
  // CHECK: %{{.*}} = graph.reshape %{{.*}} : tensor<1x8x2x2xf32> -> tensor<1x32xf32>
  %f = graph.reshape %t : tensor<1x8x2x2xf32> -> tensor<1x32xf32>
  %fw = graph.constant dense<0.1> : tensor<10x32xf32>
  %fb = graph.constant dense<0.0> : tensor<10xf32>
  // CHECK: %{{.*}} = graph.fully_connected %{{.*}}, %{{.*}}, %{{.*}} {activation = "none"} : (tensor<1x32xf32>, tensor<10x32xf32>, tensor<10xf32>) -> tensor<1x10xf32>
  %o = graph.fully_connected %f, %fw, %fb {activation = "none"} : (tensor<1x32xf32>, tensor<10x32xf32>, tensor<10xf32>) -> tensor<1x10xf32>
  func.return %o : tensor<1x10xf32>
}

// A grouped convolution (2 groups: weights [O, KH, KW, C/2]) keeps its `groups`.
// CHECK-LABEL: func.func @grouped_conv
func.func @grouped_conv(%x: tensor<1x8x8x4xf32>) -> tensor<1x4x4x6xf32> {
  %w = graph.constant dense<0.5> : tensor<6x3x3x2xf32>
  %b = graph.constant dense<0.0> : tensor<6xf32>
  // CHECK: graph.conv2d %{{.*}}, %{{.*}}, %{{.*}} {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 0, 0>, groups = 2 : i64, activation = "relu"} : (tensor<1x8x8x4xf32>, tensor<6x3x3x2xf32>, tensor<6xf32>) -> tensor<1x4x4x6xf32>
  %c = graph.conv2d %x, %w, %b {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 0, 0>, groups = 2 : i64, activation = "relu"} : (tensor<1x8x8x4xf32>, tensor<6x3x3x2xf32>, tensor<6xf32>) -> tensor<1x4x4x6xf32>
  func.return %c : tensor<1x4x4x6xf32>
}
