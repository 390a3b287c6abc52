// RUN: npuc-opt %s --split-input-file -p graph-fuse-pad | filecheck %s

// A zero pad of H and W before a conv becomes the conv's padding (added to its own).

// CHECK-LABEL: func.func @pad_into_conv
// CHECK-NOT:   graph.pad
// CHECK:       graph.conv2d %{{.*}}, %{{.*}}, %{{.*}} {layer = "conv", {{.*}}padding = array<i64: 1, 2, 1, 3>{{.*}}} : (tensor<1x4x4x1xf32>
func.func @pad_into_conv(%x: tensor<1x4x4x1xf32>) -> tensor<1x4x7x2xf32> {
  %p = graph.pad %x {layer = "pad", paddings = array<i64: 0, 0, 0, 1, 1, 2, 0, 0>, mode = "constant", value = 0.0 : f32} : tensor<1x4x4x1xf32> -> tensor<1x5x7x1xf32>
  %w = graph.constant dense<1.0> : tensor<2x3x3x1xf32>
  %b = graph.constant dense<0.0> : tensor<2xf32>
  %c = graph.conv2d %p, %w, %b {layer = "conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 0, 1>, activation = "none"} : (tensor<1x5x7x1xf32>, tensor<2x3x3x1xf32>, tensor<2xf32>) -> tensor<1x4x7x2xf32>
  func.return %c : tensor<1x4x7x2xf32>
}

// -----

// A -inf (here -FLT_MAX) pad folds into a max pool; the pad stays for its other
// user, a depthwise conv, which reads zeros there instead.

// CHECK-LABEL: func.func @pad_into_max_pool
// CHECK:       %[[P:.*]] = graph.pad
// CHECK:       graph.max_pool2d %{{.*}} {{{.*}}padding = array<i64: 1, 1, 0, 0>{{.*}}} : (tensor<1x4x4x1xf32>)
// CHECK:       graph.depthwise_conv2d %[[P]]
func.func @pad_into_max_pool(%x: tensor<1x4x4x1xf32>) -> (tensor<1x4x4x1xf32>, tensor<1x3x3x1xf32>) {
  %p = graph.pad %x {paddings = array<i64: 0, 0, 1, 0, 1, 0, 0, 0>, mode = "constant", value = -3.4028234663852886e+38 : f32} : tensor<1x4x4x1xf32> -> tensor<1x5x5x1xf32>
  %m = graph.max_pool2d %p {kernel = array<i64: 2, 2>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x5x5x1xf32>) -> tensor<1x4x4x1xf32>
  %w = graph.constant dense<1.0> : tensor<1x3x3x1xf32>
  %b = graph.constant dense<0.0> : tensor<1xf32>
  %d = graph.depthwise_conv2d %p, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x5x5x1xf32>, tensor<1x3x3x1xf32>, tensor<1xf32>) -> tensor<1x3x3x1xf32>
  func.return %m, %d : tensor<1x4x4x1xf32>, tensor<1x3x3x1xf32>
}

// -----

// Not folded: a zero pad before max or average pooling, a pad of the channels,
// a non-zero or reflecting pad before a conv, and a pad as large as the pool kernel.

// CHECK-LABEL: func.func @stays
// CHECK:       %[[Z:.*]] = graph.pad %{{.*}} {paddings = array<i64: 0, 0, 1, 1, 1, 1, 0, 0>, mode = "constant", value = 0.000000e+00 : f32}
// CHECK-NEXT:  graph.max_pool2d %[[Z]] {kernel = array<i64: 2, 2>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>,
// CHECK-NEXT:  graph.avg_pool2d %[[Z]] {kernel = array<i64: 2, 2>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>,
// CHECK:       %[[C:.*]] = graph.pad %{{.*}} {paddings = array<i64: 0, 0, 0, 0, 0, 0, 1, 1>,
// CHECK-NEXT:  graph.conv2d %[[C]], {{.*}}padding = array<i64: 0, 0, 0, 0>,
// CHECK:       %[[O:.*]] = graph.pad %{{.*}} {{{.*}}value = 1.000000e+00 : f32}
// CHECK-NEXT:  graph.conv2d %[[O]], {{.*}}padding = array<i64: 0, 0, 0, 0>,
// CHECK:       %[[R:.*]] = graph.pad %{{.*}} {{{.*}}mode = "reflect"
// CHECK-NEXT:  graph.conv2d %[[R]], {{.*}}padding = array<i64: 0, 0, 0, 0>,
// CHECK:       %[[N:.*]] = graph.pad %{{.*}} {paddings = array<i64: 0, 0, 2, 0, 2, 0, 0, 0>,
// CHECK-NEXT:  graph.max_pool2d %[[N]] {kernel = array<i64: 2, 2>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>,
func.func @stays(%x: tensor<1x4x4x2xf32>) -> (tensor<1x5x5x2xf32>, tensor<1x5x5x2xf32>, tensor<1x4x4x1xf32>, tensor<1x4x4x1xf32>, tensor<1x4x4x1xf32>, tensor<1x5x5x2xf32>) {
  %z = graph.pad %x {paddings = array<i64: 0, 0, 1, 1, 1, 1, 0, 0>, mode = "constant", value = 0.0 : f32} : tensor<1x4x4x2xf32> -> tensor<1x6x6x2xf32>
  %m = graph.max_pool2d %z {kernel = array<i64: 2, 2>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x6x6x2xf32>) -> tensor<1x5x5x2xf32>
  %a = graph.avg_pool2d %z {kernel = array<i64: 2, 2>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x6x6x2xf32>) -> tensor<1x5x5x2xf32>
  %w = graph.constant dense<1.0> : tensor<1x1x1x4xf32>
  %b = graph.constant dense<0.0> : tensor<1xf32>
  %c = graph.pad %x {paddings = array<i64: 0, 0, 0, 0, 0, 0, 1, 1>, mode = "constant", value = 0.0 : f32} : tensor<1x4x4x2xf32> -> tensor<1x4x4x4xf32>
  %cc = graph.conv2d %c, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x4xf32>, tensor<1x1x1x4xf32>, tensor<1xf32>) -> tensor<1x4x4x1xf32>
  %w3 = graph.constant dense<1.0> : tensor<1x3x3x2xf32>
  %o = graph.pad %x {paddings = array<i64: 0, 0, 1, 1, 1, 1, 0, 0>, mode = "constant", value = 1.0 : f32} : tensor<1x4x4x2xf32> -> tensor<1x6x6x2xf32>
  %oc = graph.conv2d %o, %w3, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x6x6x2xf32>, tensor<1x3x3x2xf32>, tensor<1xf32>) -> tensor<1x4x4x1xf32>
  %r = graph.pad %x {paddings = array<i64: 0, 0, 1, 1, 1, 1, 0, 0>, mode = "reflect", value = 0.0 : f32} : tensor<1x4x4x2xf32> -> tensor<1x6x6x2xf32>
  %rc = graph.conv2d %r, %w3, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x6x6x2xf32>, tensor<1x3x3x2xf32>, tensor<1xf32>) -> tensor<1x4x4x1xf32>
  %n = graph.pad %x {paddings = array<i64: 0, 0, 2, 0, 2, 0, 0, 0>, mode = "constant", value = -3.4028234663852886e+38 : f32} : tensor<1x4x4x2xf32> -> tensor<1x6x6x2xf32>
  %nm = graph.max_pool2d %n {kernel = array<i64: 2, 2>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x6x6x2xf32>) -> tensor<1x5x5x2xf32>
  func.return %m, %a, %cc, %oc, %rc, %nm : tensor<1x5x5x2xf32>, tensor<1x5x5x2xf32>, tensor<1x4x4x1xf32>, tensor<1x4x4x1xf32>, tensor<1x4x4x1xf32>, tensor<1x5x5x2xf32>
}
