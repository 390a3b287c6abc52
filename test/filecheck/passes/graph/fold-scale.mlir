// RUN: npuc-opt %s --split-input-file -p graph-fold-scale | filecheck %s

// An unfolded BatchNorm (mul then add by per-channel constants) after a conv
// goes into the conv's weights and bias; the conv keeps its layer and takes
// the add's activation.

// CHECK-LABEL: func.func @conv_batch_norm
// CHECK:       %[[W:.*]] = graph.constant dense<{{\[\[\[}}[1.000000e+00]]], {{\[\[\[}}-3.000000e+00]]]]> : tensor<2x1x1x1xf32>
// CHECK:       %[[B:.*]] = graph.constant dense<[2.500000e+00, -2.000000e+00]> : tensor<2xf32>
// CHECK:       %[[C:.*]] = graph.conv2d %{{.*}}, %[[W]], %[[B]] {layer = "conv", {{.*}}activation = "relu"}
// CHECK-NEXT:  func.return %[[C]]
func.func @conv_batch_norm(%x: tensor<1x2x2x1xf32>) -> tensor<1x2x2x2xf32> {
  %w = graph.constant dense<[[[[0.5]]], [[[1.0]]]]> : tensor<2x1x1x1xf32>
  %b = graph.constant dense<[1.0, 1.0]> : tensor<2xf32>
  %c = graph.conv2d %x, %w, %b {layer = "conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x2x2x1xf32>, tensor<2x1x1x1xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  %s = graph.constant dense<[[[[2.0, -3.0]]]]> : tensor<1x1x1x2xf32>
  %m = graph.mul %c, %s {layer = "bn/mul", activation = "none"} : (tensor<1x2x2x2xf32>, tensor<1x1x1x2xf32>) -> tensor<1x2x2x2xf32>
  %t = graph.constant dense<[0.5, 1.0]> : tensor<2xf32>
  %a = graph.add %t, %m {layer = "bn/add", activation = "relu"} : (tensor<2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  func.return %a : tensor<1x2x2x2xf32>
}

// -----

// Depthwise weights scale along their last axis; fully connected along axis 0;
// a scalar scales every channel; a sub of a constant shifts the bias down.

// CHECK-LABEL: func.func @depthwise_and_fc
// CHECK:       %[[DW:.*]] = graph.constant dense<{{\[\[\[}}[2.000000e+00, 4.000000e+00]]]]> : tensor<1x1x1x2xf32>
// CHECK:       graph.depthwise_conv2d %{{.*}}, %[[DW]], %{{.*}} {layer = "dw"
// CHECK:       %[[FW:.*]] = graph.constant dense<3.000000e+00> : tensor<1x2xf32>
// CHECK:       %[[FB:.*]] = graph.constant dense<-1.000000e+00> : tensor<1xf32>
// CHECK:       graph.fully_connected %{{.*}}, %[[FW]], %[[FB]] {layer = "fc"
// CHECK-NOT:   graph.mul
// CHECK-NOT:   graph.sub
func.func @depthwise_and_fc(%x: tensor<1x1x1x2xf32>, %v: tensor<1x2xf32>) -> (tensor<1x1x1x2xf32>, tensor<1x1xf32>) {
  %dw = graph.constant dense<[[[[1.0, 1.0]]]]> : tensor<1x1x1x2xf32>
  %db = graph.constant dense<0.0> : tensor<2xf32>
  %d = graph.depthwise_conv2d %x, %dw, %db {layer = "dw", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x1x1x2xf32>, tensor<1x1x1x2xf32>, tensor<2xf32>) -> tensor<1x1x1x2xf32>
  %ds = graph.constant dense<[2.0, 4.0]> : tensor<2xf32>
  %dm = graph.mul %d, %ds {activation = "none"} : (tensor<1x1x1x2xf32>, tensor<2xf32>) -> tensor<1x1x1x2xf32>
  %fw = graph.constant dense<[[1.0, 1.0]]> : tensor<1x2xf32>
  %fb = graph.constant dense<1.0> : tensor<1xf32>
  %f = graph.fully_connected %v, %fw, %fb {layer = "fc", activation = "none"} : (tensor<1x2xf32>, tensor<1x2xf32>, tensor<1xf32>) -> tensor<1x1xf32>
  %three = graph.constant dense<3.0> : tensor<f32>
  %fm = graph.mul %three, %f {activation = "none"} : (tensor<f32>, tensor<1x1xf32>) -> tensor<1x1xf32>
  %four = graph.constant dense<4.0> : tensor<1xf32>
  %fs = graph.sub %fm, %four {activation = "none"} : (tensor<1x1xf32>, tensor<1xf32>) -> tensor<1x1xf32>
  func.return %dm, %fs : tensor<1x1x1x2xf32>, tensor<1x1xf32>
}

// -----

// Nothing folds when the scale varies along a spatial axis, when the conv has
// a fused activation or a second user, or for constant - conv.

// CHECK-LABEL: func.func @not_per_channel
// CHECK-COUNT-4: graph.mul
// CHECK:       graph.sub
func.func @not_per_channel(%x: tensor<1x2x2x1xf32>) -> (tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>) {
  %w = graph.constant dense<1.0> : tensor<1x1x1x1xf32>
  %b = graph.constant dense<0.0> : tensor<1xf32>
  %c1 = graph.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x2x2x1xf32>, tensor<1x1x1x1xf32>, tensor<1xf32>) -> tensor<1x2x2x1xf32>
  %rows = graph.constant dense<[[[1.0], [2.0]]]> : tensor<1x2x1xf32>
  %m1 = graph.mul %c1, %rows {activation = "none"} : (tensor<1x2x2x1xf32>, tensor<1x2x1xf32>) -> tensor<1x2x2x1xf32>
  %c2 = graph.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : (tensor<1x2x2x1xf32>, tensor<1x1x1x1xf32>, tensor<1xf32>) -> tensor<1x2x2x1xf32>
  %s = graph.constant dense<2.0> : tensor<1xf32>
  %m2 = graph.mul %c2, %s {activation = "none"} : (tensor<1x2x2x1xf32>, tensor<1xf32>) -> tensor<1x2x2x1xf32>
  %c3 = graph.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x2x2x1xf32>, tensor<1x1x1x1xf32>, tensor<1xf32>) -> tensor<1x2x2x1xf32>
  %m3 = graph.mul %c3, %s {activation = "none"} : (tensor<1x2x2x1xf32>, tensor<1xf32>) -> tensor<1x2x2x1xf32>
  %m4 = graph.mul %c3, %s {activation = "none"} : (tensor<1x2x2x1xf32>, tensor<1xf32>) -> tensor<1x2x2x1xf32>
  %c4 = graph.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x2x2x1xf32>, tensor<1x1x1x1xf32>, tensor<1xf32>) -> tensor<1x2x2x1xf32>
  %n = graph.sub %s, %c4 {activation = "none"} : (tensor<1xf32>, tensor<1x2x2x1xf32>) -> tensor<1x2x2x1xf32>
  func.return %m1, %m2, %m3, %m4, %n : tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>
}

// -----

// A batch norm after a grouped convolution (its groups concatenated) splits
// per group and folds into each group's weights and bias, with its activation.

// CHECK-LABEL: func.func @grouped
// CHECK:       graph.constant dense<2.000000e+00> : tensor<1x1x1x1xf32>
// CHECK:       graph.constant dense<1.000000e+00> : tensor<1xf32>
// CHECK:       %[[A:.*]] = graph.conv2d {{.*}}activation = "relu"} : {{.*}} -> tensor<1x2x2x1xf32>
// CHECK:       graph.constant dense<3.000000e+00> : tensor<1x1x1x1xf32>
// CHECK:       graph.constant dense<-1.000000e+00> : tensor<1xf32>
// CHECK:       %[[B:.*]] = graph.conv2d {{.*}}activation = "relu"} : {{.*}} -> tensor<1x2x2x1xf32>
// CHECK:       %[[C:.*]] = graph.concat %[[A]], %[[B]] {layer = "groups", axis = 3 : i64}
// CHECK-NOT:   graph.mul
// CHECK-NOT:   graph.add
// CHECK:       func.return %[[C]]
func.func @grouped(%x: tensor<1x2x2x1xf32>) -> tensor<1x2x2x2xf32> {
  %w = graph.constant dense<1.0> : tensor<1x1x1x1xf32>
  %b = graph.constant dense<0.0> : tensor<1xf32>
  %p = graph.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x2x2x1xf32>, tensor<1x1x1x1xf32>, tensor<1xf32>) -> tensor<1x2x2x1xf32>
  %q = graph.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x2x2x1xf32>, tensor<1x1x1x1xf32>, tensor<1xf32>) -> tensor<1x2x2x1xf32>
  %c = graph.concat %p, %q {layer = "groups", axis = 3 : i64} : (tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>) -> tensor<1x2x2x2xf32>
  %s = graph.constant dense<[2.0, 3.0]> : tensor<2xf32>
  %m = graph.mul %c, %s {activation = "none"} : (tensor<1x2x2x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  %t = graph.constant dense<[[[[1.0, -1.0]]]]> : tensor<1x1x1x2xf32>
  %a = graph.add %m, %t {activation = "relu"} : (tensor<1x2x2x2xf32>, tensor<1x1x1x2xf32>) -> tensor<1x2x2x2xf32>
  func.return %a : tensor<1x2x2x2xf32>
}

// -----

// A concat with an input that is no linear op keeps its scale.

// CHECK-LABEL: func.func @concat_of_other_ops
// CHECK:       %[[C:.*]] = graph.concat
// CHECK:       graph.mul %[[C]]
func.func @concat_of_other_ops(%x: tensor<1x2x2x1xf32>) -> tensor<1x2x2x2xf32> {
  %w = graph.constant dense<1.0> : tensor<1x1x1x1xf32>
  %b = graph.constant dense<0.0> : tensor<1xf32>
  %p = graph.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x2x2x1xf32>, tensor<1x1x1x1xf32>, tensor<1xf32>) -> tensor<1x2x2x1xf32>
  %c = graph.concat %p, %x {axis = 3 : i64} : (tensor<1x2x2x1xf32>, tensor<1x2x2x1xf32>) -> tensor<1x2x2x2xf32>
  %s = graph.constant dense<[2.0, 3.0]> : tensor<2xf32>
  %m = graph.mul %c, %s {activation = "none"} : (tensor<1x2x2x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  func.return %m : tensor<1x2x2x2xf32>
}
