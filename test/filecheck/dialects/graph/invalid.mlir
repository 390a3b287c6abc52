// RUN: npuc-opt %s --split-input-file --verify-diagnostics | filecheck %s

// The verifiers name what is wrong with shapes, windows and activations.

func.func @bad_ofm(%x: tensor<1x8x8x3xf32>) -> tensor<1x8x8x4xf32> {
  %w = graph.constant dense<0.5> : tensor<4x3x3x3xf32>
  %b = graph.constant dense<0.0> : tensor<4xf32>
  %c = graph.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x8x8x3xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
  func.return %c : tensor<1x8x8x4xf32>
}
// CHECK: ofm shape is [1, 8, 8, 4], expected [1, 6, 6, 4]

// -----

func.func @bad_depth(%x: tensor<1x8x8x2xf32>) -> tensor<1x8x8x4xf32> {
  %w = graph.constant dense<0.5> : tensor<4x1x1x3xf32>
  %b = graph.constant dense<0.0> : tensor<4xf32>
  %c = graph.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x8x8x2xf32>, tensor<4x1x1x3xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
  func.return %c : tensor<1x8x8x4xf32>
}
// CHECK: weights input depth 3 does not match ifm depth 2

// -----

func.func @bad_activation(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %a = graph.add %x, %x {activation = "tanh"} : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
  func.return %a : tensor<1x4xf32>
}
// CHECK: unknown fused activation 'tanh' (expected one of none, relu, relu6, relu_n1_to_1)

// -----

func.func @bad_broadcast(%x: tensor<1x4xf32>, %y: tensor<1x3xf32>) -> tensor<1x4xf32> {
  %a = graph.add %x, %y {activation = "none"} : (tensor<1x4xf32>, tensor<1x3xf32>) -> tensor<1x4xf32>
  func.return %a : tensor<1x4xf32>
}
// CHECK: shapes [1, 4] and [1, 3] do not broadcast

// -----

func.func @bad_reshape(%x: tensor<1x8xf32>) -> tensor<1x9xf32> {
  %r = graph.reshape %x : tensor<1x8xf32> -> tensor<1x9xf32>
  func.return %r : tensor<1x9xf32>
}
// CHECK: reshape from [1, 8] to [1, 9] changes the element count

// -----

func.func @bad_stride(%x: tensor<1x4x4x1xf32>) -> tensor<1x4x4x1xf32> {
  %m = graph.max_pool2d %x {kernel = array<i64: 1, 1>, strides = array<i64: 0, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x1xf32>) -> tensor<1x4x4x1xf32>
  func.return %m : tensor<1x4x4x1xf32>
}
// CHECK: 'strides' values must be >= 1, got [0, 1]

// -----

func.func @bad_element_type(%x: tensor<1x4xi8>) -> tensor<1x4xi8> {
  %a = graph.add %x, %x {activation = "none"} : (tensor<1x4xi8>, tensor<1x4xi8>) -> tensor<1x4xi8>
  func.return %a : tensor<1x4xi8>
}
// CHECK: graph ops take f32 tensors, got i8

// -----

func.func @bad_concat(%x: tensor<1x4x4x8xf32>, %y: tensor<1x3x4x8xf32>) -> tensor<1x4x4x16xf32> {
  %c = graph.concat %x, %y {axis = 3 : i64} : (tensor<1x4x4x8xf32>, tensor<1x3x4x8xf32>) -> tensor<1x4x4x16xf32>
  func.return %c : tensor<1x4x4x16xf32>
}
// CHECK: concat shapes [[1, 4, 4, 8], [1, 3, 4, 8], [1, 4, 4, 16]] differ outside axis 3

// -----

func.func @bad_split(%x: tensor<1x4x4x8xf32>) -> tensor<1x4x4x3xf32> {
  %a, %b = graph.split %x {axis = 3 : i64} : (tensor<1x4x4x8xf32>) -> (tensor<1x4x4x3xf32>, tensor<1x4x4x3xf32>)
  func.return %a : tensor<1x4x4x3xf32>
}
// CHECK: results cover 6 of 8 along axis 3

// -----

func.func @bad_slice(%x: tensor<1x4xf32>) -> tensor<1x3xf32> {
  %s = graph.slice %x {begin = array<i64: 0, 1>, end = array<i64: 1, 4>, strides = array<i64: 1, 2>} : tensor<1x4xf32> -> tensor<1x3xf32>
  func.return %s : tensor<1x3xf32>
}
// CHECK: output shape is [1, 3], expected [1, 2]

// -----

func.func @bad_reduce(%x: tensor<1x4x4x8xf32>) -> tensor<1x4xf32> {
  %r = graph.reduce %x {kind = "mean", axes = array<i64: 1, 2>} : tensor<1x4x4x8xf32> -> tensor<1x4xf32>
  func.return %r : tensor<1x4xf32>
}
// CHECK: output shape is [1, 4], expected [1, 1, 1, 8] or [1, 8]

// -----

func.func @bad_pad_mode(%x: tensor<1x4xf32>) -> tensor<1x6xf32> {
  %p = graph.pad %x {paddings = array<i64: 0, 0, 1, 1>, mode = "wrap", value = 0.0 : f32} : tensor<1x4xf32> -> tensor<1x6xf32>
  func.return %p : tensor<1x6xf32>
}
// CHECK: 'mode' must be one of constant, reflect, edge, got 'wrap'

// -----

func.func @bad_depth_to_space(%x: tensor<1x2x2x6xf32>) -> tensor<1x4x4x1xf32> {
  %d = graph.depth_to_space %x {block_size = 2 : i64, mode = "DCR"} : tensor<1x2x2x6xf32> -> tensor<1x4x4x1xf32>
  func.return %d : tensor<1x4x4x1xf32>
}
// CHECK: depth 6 is not a multiple of 4

// -----

func.func @slice_reads_past_the_end(%x: tensor<4xf32>) -> tensor<5xf32> {
  %s = graph.slice %x {begin = array<i64: 4>, end = array<i64: -1>, strides = array<i64: -1>} : tensor<4xf32> -> tensor<5xf32>
  func.return %s : tensor<5xf32>
}
// CHECK: slice [4:-1:-1] is invalid for an axis of 4

// -----

func.func @groups_not_dividing_the_ifm(%x: tensor<1x8x8x4xf32>) -> tensor<1x8x8x6xf32> {
  %w = graph.constant dense<0.5> : tensor<6x1x1x2xf32>
  %b = graph.constant dense<0.0> : tensor<6xf32>
  %c = graph.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = 3 : i64, activation = "none"} : (tensor<1x8x8x4xf32>, tensor<6x1x1x2xf32>, tensor<6xf32>) -> tensor<1x8x8x6xf32>
  func.return %c : tensor<1x8x8x6xf32>
}
// CHECK: weights input depth 2 times 3 groups does not match ifm depth 4

// -----

func.func @groups_not_dividing_the_outputs(%x: tensor<1x8x8x4xf32>) -> tensor<1x8x8x5xf32> {
  %w = graph.constant dense<0.5> : tensor<5x1x1x2xf32>
  %b = graph.constant dense<0.0> : tensor<5xf32>
  %c = graph.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = 2 : i64, activation = "none"} : (tensor<1x8x8x4xf32>, tensor<5x1x1x2xf32>, tensor<5xf32>) -> tensor<1x8x8x5xf32>
  func.return %c : tensor<1x8x8x5xf32>
}
// CHECK: 2 groups do not divide the 5 output channels

// -----

func.func @zero_groups(%x: tensor<1x8x8x4xf32>) -> tensor<1x8x8x4xf32> {
  %w = graph.constant dense<0.5> : tensor<4x1x1x4xf32>
  %b = graph.constant dense<0.0> : tensor<4xf32>
  %c = graph.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = 0 : i64, activation = "none"} : (tensor<1x8x8x4xf32>, tensor<4x1x1x4xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
  func.return %c : tensor<1x8x8x4xf32>
}
// CHECK: groups must be >= 1, got 0

// -----

func.func @grouped_depthwise(%x: tensor<1x8x8x4xf32>) -> tensor<1x8x8x4xf32> {
  %w = graph.constant dense<0.5> : tensor<1x3x3x4xf32>
  %b = graph.constant dense<0.0> : tensor<4xf32>
  %c = graph.depthwise_conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, groups = 4 : i64, activation = "none"} : (tensor<1x8x8x4xf32>, tensor<1x3x3x4xf32>, tensor<4xf32>) -> tensor<1x8x8x4xf32>
  func.return %c : tensor<1x8x8x4xf32>
}
// CHECK: a depthwise convolution has no groups (its depth multiplier says how it groups)
