// RUN: npuc-opt %s | npuc-opt | filecheck %s

// The graph ops beyond the spine print and parse back unchanged.

// CHECK-LABEL: func.func @graph_breadth
func.func @graph_breadth(%x: tensor<1x4x4x8xf32>, %m: tensor<2x3x5xf32>, %n: tensor<5x6xf32>) -> tensor<1x4x4x8xf32> {
  %w = graph.constant dense<0.5> : tensor<4x3x3x8xf32>
  %b = graph.constant dense<0.0> : tensor<4xf32>
  // CHECK: %{{.*}} = graph.transpose_conv2d %{{.*}}, %{{.*}}, %{{.*}} {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, activation = "none"} : (tensor<1x4x4x8xf32>, tensor<4x3x3x8xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
  %t = graph.transpose_conv2d %x, %w, %b {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, output_padding = array<i64: 1, 1>, activation = "none"} : (tensor<1x4x4x8xf32>, tensor<4x3x3x8xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
  // CHECK: %{{.*}} = graph.batch_matmul %{{.*}}, %{{.*}} : (tensor<2x3x5xf32>, tensor<5x6xf32>) -> tensor<2x3x6xf32>
  %mm = graph.batch_matmul %m, %n : (tensor<2x3x5xf32>, tensor<5x6xf32>) -> tensor<2x3x6xf32>
  // CHECK: %{{.*}} = graph.sub %{{.*}}, %{{.*}} {activation = "none"} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %s = graph.sub %x, %x {activation = "none"} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.mul %{{.*}}, %{{.*}} {activation = "relu"} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %mu = graph.mul %s, %x {activation = "relu"} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.div %{{.*}}, %{{.*}} {activation = "none"} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %d = graph.div %mu, %x {activation = "none"} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.maximum %{{.*}}, %{{.*}} {activation = "none"} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %mx = graph.maximum %d, %x {activation = "none"} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.minimum %{{.*}}, %{{.*}} {activation = "none"} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %mn = graph.minimum %mx, %x {activation = "none"} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  %two = graph.constant dense<2.0> : tensor<1xf32>
  // CHECK: %{{.*}} = graph.pow %{{.*}}, %{{.*}} {activation = "none"} : (tensor<1x4x4x8xf32>, tensor<1xf32>) -> tensor<1x4x4x8xf32>
  %p = graph.pow %mn, %two {activation = "none"} : (tensor<1x4x4x8xf32>, tensor<1xf32>) -> tensor<1x4x4x8xf32>
  %slope = graph.constant dense<0.25> : tensor<1x1x1x8xf32>
  // CHECK: %{{.*}} = graph.prelu %{{.*}}, %{{.*}} : (tensor<1x4x4x8xf32>, tensor<1x1x1x8xf32>) -> tensor<1x4x4x8xf32>
  %pr = graph.prelu %p, %slope : (tensor<1x4x4x8xf32>, tensor<1x1x1x8xf32>) -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.sigmoid %{{.*}} : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  %sg = graph.sigmoid %pr : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.tanh %{{.*}} : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  %th = graph.tanh %sg : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.hard_swish %{{.*}} : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  %hs = graph.hard_swish %th : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.sqrt %{{.*}} : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  %sq = graph.sqrt %hs : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.leaky_relu %{{.*}} {alpha = 1.000000e-01 : f32} : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  %lr = graph.leaky_relu %sq {alpha = 0.1 : f32} : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.elu %{{.*}} {alpha = 1.000000e+00 : f32} : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  %el = graph.elu %lr {alpha = 1.0 : f32} : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.gelu %{{.*}} : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  %gx = graph.gelu %el : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.gelu %{{.*}} {approximate} : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  %ga = graph.gelu %el {approximate} : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.hard_sigmoid %{{.*}} {alpha = 2.000000e-01 : f32, beta = 5.000000e-01 : f32} : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  %hg = graph.hard_sigmoid %el {alpha = 0.2 : f32, beta = 0.5 : f32} : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.softmax %{{.*}} {axis = 3 : i64, beta = 1.000000e+00 : f32} : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  %sm = graph.softmax %hg {axis = 3 : i64, beta = 1.0 : f32} : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.lrn %{{.*}} {size = 3 : i64, alpha = 1.000000e-04 : f32, beta = 7.500000e-01 : f32, bias = 1.000000e+00 : f32} : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  %ln = graph.lrn %sm {size = 3 : i64, alpha = 1.0e-4 : f32, beta = 0.75 : f32, bias = 1.0 : f32} : tensor<1x4x4x8xf32> -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.reduce %{{.*}} {kind = "mean", axes = array<i64: 1, 2>} : tensor<1x4x4x8xf32> -> tensor<1x8xf32>
  %rd = graph.reduce %ln {kind = "mean", axes = array<i64: 1, 2>} : tensor<1x4x4x8xf32> -> tensor<1x8xf32>
  // CHECK: %{{.*}} = graph.concat %{{.*}}, %{{.*}} {axis = 3 : i64} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x16xf32>
  %cc = graph.concat %ln, %x {axis = 3 : i64} : (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x4x16xf32>
  // CHECK: %{{.*}}, %{{.*}} = graph.split %{{.*}} {axis = 3 : i64} : (tensor<1x4x4x16xf32>) -> (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>)
  %sa, %sb = graph.split %cc {axis = 3 : i64} : (tensor<1x4x4x16xf32>) -> (tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>)
  // CHECK: %{{.*}} = graph.slice %{{.*}} {begin = array<i64: 0, 3, 0, 0>, end = array<i64: 1, -1, 4, 8>, strides = array<i64: 1, -2, 1, 1>} : tensor<1x4x4x8xf32> -> tensor<1x2x4x8xf32>
  %sl = graph.slice %sa {begin = array<i64: 0, 3, 0, 0>, end = array<i64: 1, -1, 4, 8>, strides = array<i64: 1, -2, 1, 1>} : tensor<1x4x4x8xf32> -> tensor<1x2x4x8xf32>
  // CHECK: %{{.*}} = graph.pad %{{.*}} {paddings = array<i64: 0, 0, 1, 1, 0, 0, 0, 0>, mode = "reflect", value = 0.000000e+00 : f32} : tensor<1x2x4x8xf32> -> tensor<1x4x4x8xf32>
  %pd = graph.pad %sl {paddings = array<i64: 0, 0, 1, 1, 0, 0, 0, 0>, mode = "reflect", value = 0.0 : f32} : tensor<1x2x4x8xf32> -> tensor<1x4x4x8xf32>
  // CHECK: %{{.*}} = graph.resize %{{.*}} {mode = "linear", coordinate_mode = "half_pixel", nearest_mode = "round_prefer_floor"} : tensor<1x4x4x8xf32> -> tensor<1x8x8x8xf32>
  %rs = graph.resize %pd {mode = "linear", coordinate_mode = "half_pixel", nearest_mode = "round_prefer_floor"} : tensor<1x4x4x8xf32> -> tensor<1x8x8x8xf32>
  // CHECK: %{{.*}} = graph.space_to_depth %{{.*}} {block_size = 2 : i64} : tensor<1x8x8x8xf32> -> tensor<1x4x4x32xf32>
  %s2d = graph.space_to_depth %rs {block_size = 2 : i64} : tensor<1x8x8x8xf32> -> tensor<1x4x4x32xf32>
  // CHECK: %{{.*}} = graph.depth_to_space %{{.*}} {block_size = 2 : i64, mode = "CRD"} : tensor<1x4x4x32xf32> -> tensor<1x8x8x8xf32>
  %d2s = graph.depth_to_space %s2d {block_size = 2 : i64, mode = "CRD"} : tensor<1x4x4x32xf32> -> tensor<1x8x8x8xf32>
  func.return %sb : tensor<1x4x4x8xf32>
}
