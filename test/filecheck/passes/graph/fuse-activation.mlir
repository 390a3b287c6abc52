// RUN: npuc-opt %s --split-input-file -p graph-fuse-activation | filecheck %s

// A relu after a conv becomes the conv's fused activation; the conv keeps its layer.

// CHECK-LABEL: func.func @relu_into_conv
// CHECK:       %[[C:.*]] = graph.conv2d %{{.*}} {layer = "conv1", {{.*}} activation = "relu"}
// CHECK-NOT:   graph.relu
// CHECK:       func.return %[[C]]
func.func @relu_into_conv(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> {
  %w = graph.constant dense<0.5> : tensor<2x3x3x2xf32>
  %b = graph.constant dense<0.0> : tensor<2xf32>
  %c = graph.conv2d %x, %w, %b {layer = "conv1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none"} : (tensor<1x4x4x2xf32>, tensor<2x3x3x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  %r = graph.relu %c {layer = "relu1"} : tensor<1x4x4x2xf32>
  func.return %r : tensor<1x4x4x2xf32>
}

// -----

// Clip ranges that name a fused activation fold into depthwise, fully connected and add.

// CHECK-LABEL: func.func @clips
// CHECK:       graph.depthwise_conv2d {{.*}}activation = "relu6"}
// CHECK:       graph.fully_connected {{.*}} {activation = "relu_n1_to_1"}
// CHECK:       graph.add {{.*}} {activation = "relu"}
// CHECK-NOT:   graph.clip
// CHECK:       func.return
func.func @clips(%x: tensor<1x4x4x2xf32>, %v: tensor<1x8xf32>) -> (tensor<1x4x4x2xf32>, tensor<1x3xf32>, tensor<1x8xf32>) {
  %dw = graph.constant dense<0.25> : tensor<1x3x3x2xf32>
  %db = graph.constant dense<0.0> : tensor<2xf32>
  %d = graph.depthwise_conv2d %x, %dw, %db {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none"} : (tensor<1x4x4x2xf32>, tensor<1x3x3x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  %d6 = graph.clip %d {min = 0.0 : f32, max = 6.0 : f32} : tensor<1x4x4x2xf32>
  %fw = graph.constant dense<0.1> : tensor<3x8xf32>
  %fb = graph.constant dense<0.0> : tensor<3xf32>
  %f = graph.fully_connected %v, %fw, %fb {activation = "none"} : (tensor<1x8xf32>, tensor<3x8xf32>, tensor<3xf32>) -> tensor<1x3xf32>
  %f1 = graph.clip %f {min = -1.0 : f32, max = 1.0 : f32} : tensor<1x3xf32>
  %a = graph.add %v, %v {activation = "none"} : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  %ar = graph.clip %a {min = 0.0 : f32, max = 3.4028234663852886e+38 : f32} : tensor<1x8xf32>
  func.return %d6, %f1, %ar : tensor<1x4x4x2xf32>, tensor<1x3xf32>, tensor<1x8xf32>
}

// -----

// Pools fuse too, and a chain relu -> clip(0, 6) composes into relu6.

// CHECK-LABEL: func.func @pools_and_chains
// CHECK:       graph.max_pool2d {{.*}}activation = "relu6"}
// CHECK:       graph.avg_pool2d {{.*}}activation = "relu"}
// CHECK-NOT:   graph.relu
// CHECK-NOT:   graph.clip
// CHECK:       func.return
func.func @pools_and_chains(%x: tensor<1x4x4x2xf32>) -> (tensor<1x2x2x2xf32>, tensor<1x4x4x2xf32>) {
  %m = graph.max_pool2d %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2xf32>) -> tensor<1x2x2x2xf32>
  %mr = graph.relu %m : tensor<1x2x2x2xf32>
  %m6 = graph.clip %mr {min = 0.0 : f32, max = 6.0 : f32} : tensor<1x2x2x2xf32>
  %v = graph.avg_pool2d %x {kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none"} : (tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  %vr = graph.relu %v : tensor<1x4x4x2xf32>
  func.return %m6, %vr : tensor<1x2x2x2xf32>, tensor<1x4x4x2xf32>
}

// -----

// A relu after an op already fused with relu6 is redundant and folds away.

// CHECK-LABEL: func.func @idempotent
// CHECK:       %[[A:.*]] = graph.add {{.*}} {activation = "relu6"}
// CHECK-NOT:   graph.relu
// CHECK:       func.return %[[A]]
func.func @idempotent(%x: tensor<1x8xf32>) -> tensor<1x8xf32> {
  %a = graph.add %x, %x {activation = "relu6"} : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  %r = graph.relu %a : tensor<1x8xf32>
  func.return %r : tensor<1x8xf32>
}

// -----

// A producer with a second user keeps its result unclamped: nothing fuses.

// CHECK-LABEL: func.func @two_users
// CHECK:       %[[A:.*]] = graph.add {{.*}} {activation = "none"}
// CHECK:       %[[R:.*]] = graph.relu %[[A]]
// CHECK:       func.return %[[R]], %[[A]]
func.func @two_users(%x: tensor<1x8xf32>) -> (tensor<1x8xf32>, tensor<1x8xf32>) {
  %a = graph.add %x, %x {activation = "none"} : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  %r = graph.relu %a : tensor<1x8xf32>
  func.return %r, %a : tensor<1x8xf32>, tensor<1x8xf32>
}

// -----

// Ranges no fused activation names stay standalone: clip(0, 5), and a relu after
// relu_n1_to_1 (that would clamp to [0, 1]).

// CHECK-LABEL: func.func @not_an_activation
// CHECK:       %[[A:.*]] = graph.add {{.*}} {activation = "none"}
// CHECK:       graph.clip %[[A]] {min = 0.000000e+00 : f32, max = 5.000000e+00 : f32}
// CHECK:       %[[B:.*]] = graph.add {{.*}} {activation = "relu_n1_to_1"}
// CHECK:       graph.relu %[[B]]
func.func @not_an_activation(%x: tensor<1x8xf32>) -> (tensor<1x8xf32>, tensor<1x8xf32>) {
  %a = graph.add %x, %x {activation = "none"} : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  %c = graph.clip %a {min = 0.0 : f32, max = 5.0 : f32} : tensor<1x8xf32>
  %b = graph.add %x, %x {activation = "relu_n1_to_1"} : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  %r = graph.relu %b : tensor<1x8xf32>
  func.return %c, %r : tensor<1x8xf32>, tensor<1x8xf32>
}

// -----

// A relu of a function argument or of a reshape has no producer to fuse into.

// CHECK-LABEL: func.func @no_producer
// CHECK:       %[[R:.*]] = graph.relu %{{.*}}
// CHECK:       %[[S:.*]] = graph.reshape %[[R]]
// CHECK:       graph.relu %[[S]]
func.func @no_producer(%x: tensor<1x8xf32>) -> tensor<1x2x4xf32> {
  %r = graph.relu %x : tensor<1x8xf32>
  %s = graph.reshape %r : tensor<1x8xf32> -> tensor<1x2x4xf32>
  %t = graph.relu %s : tensor<1x2x4xf32>
  func.return %t : tensor<1x2x4xf32>
}

// -----

// Sub, mul, maximum, minimum and transpose_conv2d carry a fused activation too.

// CHECK-LABEL: func.func @more_fusing_ops
// CHECK:       graph.sub {{.*}} {layer = "sub", activation = "relu"}
// CHECK:       graph.mul {{.*}} {activation = "relu6"}
// CHECK:       graph.maximum {{.*}} {activation = "relu_n1_to_1"}
// CHECK:       graph.minimum {{.*}} {activation = "relu"}
// CHECK:       graph.transpose_conv2d {{.*}}activation = "relu"}
// CHECK-NOT:   graph.relu
// CHECK-NOT:   graph.clip
// CHECK:       func.return
func.func @more_fusing_ops(%x: tensor<1x2x2x1xf32>) -> (tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>, tensor<1x4x4x1xf32>) {
  %s = graph.sub %x, %x {layer = "sub", activation = "none"} : (tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>) -> tensor<1x2x2x1xf32>
  %sr = graph.relu %s {layer = "sub_relu"} : tensor<1x2x2x1xf32>
  %m = graph.mul %x, %x {activation = "none"} : (tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>) -> tensor<1x2x2x1xf32>
  %m6 = graph.clip %m {min = 0.0 : f32, max = 6.0 : f32} : tensor<1x2x2x1xf32>
  %a = graph.maximum %x, %x {activation = "none"} : (tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>) -> tensor<1x2x2x1xf32>
  %a1 = graph.clip %a {min = -1.0 : f32, max = 1.0 : f32} : tensor<1x2x2x1xf32>
  %i = graph.minimum %x, %x {activation = "none"} : (tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>) -> tensor<1x2x2x1xf32>
  %ir = graph.relu %i : tensor<1x2x2x1xf32>
  %w = graph.constant dense<1.0> : tensor<1x2x2x1xf32>
  %b = graph.constant dense<0.0> : tensor<1xf32>
  %t = graph.transpose_conv2d %x, %w, %b {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, output_padding = array<i64: 0, 0>, activation = "none"} : (tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>, tensor<1xf32>) -> tensor<1x4x4x1xf32>
  %tr = graph.relu %t : tensor<1x4x4x1xf32>
  func.return %sr, %m6, %a1, %ir, %tr : tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>, tensor<1x4x4x1xf32>
}

// -----

// A relu after a concat of convolutions (a grouped convolution's groups)
// fuses into every one of them: a clamp distributes over a concat.

// CHECK-LABEL: func.func @into_concat
// CHECK:       %[[A:.*]] = graph.conv2d {{.*}}activation = "relu"}
// CHECK:       %[[B:.*]] = graph.conv2d {{.*}}activation = "relu"}
// CHECK:       %[[C:.*]] = graph.concat %[[A]], %[[B]]
// CHECK-NOT:   graph.relu
// CHECK:       func.return %[[C]]
func.func @into_concat(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x4xf32> {
  %w = graph.constant dense<0.5> : tensor<2x1x1x2xf32>
  %b = graph.constant dense<0.0> : tensor<2xf32>
  %p = graph.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  %q = graph.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  %c = graph.concat %p, %q {axis = 3 : i64} : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x4xf32>
  %r = graph.relu %c : tensor<1x4x4x4xf32>
  func.return %r : tensor<1x4x4x4xf32>
}

// -----

// A concat with an input that is no fusing op, or read elsewhere, keeps the relu.

// CHECK-LABEL: func.func @concat_stays
// CHECK:       graph.conv2d {{.*}}activation = "none"}
// CHECK:       %[[C:.*]] = graph.concat
// CHECK:       graph.relu %[[C]]
// CHECK:       graph.conv2d {{.*}}activation = "none"}
// CHECK:       %[[D:.*]] = graph.concat
// CHECK:       graph.relu %[[D]]
func.func @concat_stays(%x: tensor<1x4x4x2xf32>) -> (tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>, tensor<1x4x4x2xf32>) {
  %w = graph.constant dense<0.5> : tensor<2x1x1x2xf32>
  %b = graph.constant dense<0.0> : tensor<2xf32>
  %p = graph.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  %c = graph.concat %p, %x {axis = 3 : i64} : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x4xf32>
  %r = graph.relu %c : tensor<1x4x4x4xf32>
  %q = graph.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  %s = graph.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  %d = graph.concat %q, %s {axis = 3 : i64} : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x4xf32>
  %e = graph.relu %d : tensor<1x4x4x4xf32>
  func.return %r, %e, %s : tensor<1x4x4x4xf32>, tensor<1x4x4x4xf32>, tensor<1x4x4x2xf32>
}
