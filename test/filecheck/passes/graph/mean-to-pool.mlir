// RUN: npuc-opt %s --split-input-file -p graph-mean-to-pool | filecheck %s

// A global mean that keeps its axes is an average pool over the whole map.

// CHECK-LABEL: func.func @global_mean
// CHECK-NEXT:  %[[P:.*]] = graph.avg_pool2d %{{.*}} {layer = "gap", kernel = array<i64: 4, 6>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x6x8xf32>) -> tensor<1x1x1x8xf32>
// CHECK-NEXT:  func.return %[[P]]
func.func @global_mean(%x: tensor<1x4x6x8xf32>) -> tensor<1x1x1x8xf32> {
  %m = graph.reduce %x {layer = "gap", kind = "mean", axes = array<i64: 1, 2>} : tensor<1x4x6x8xf32> -> tensor<1x1x1x8xf32>
  func.return %m : tensor<1x1x1x8xf32>
}

// -----

// Dropped axes get a reshape after the pool; a mean over W alone pools 1 x W.

// CHECK-LABEL: func.func @dropped_axes
// CHECK-NEXT:  %[[P:.*]] = graph.avg_pool2d %{{.*}} {layer = "mean", kernel = array<i64: 4, 6>{{.*}}} : (tensor<1x4x6x8xf32>) -> tensor<1x1x1x8xf32>
// CHECK-NEXT:  %[[R:.*]] = graph.reshape %[[P]] {layer = "mean"} : tensor<1x1x1x8xf32> -> tensor<1x8xf32>
// CHECK-NEXT:  %[[W:.*]] = graph.avg_pool2d %{{.*}} {kernel = array<i64: 1, 6>{{.*}}} : (tensor<1x4x6x8xf32>) -> tensor<1x4x1x8xf32>
// CHECK-NEXT:  %[[S:.*]] = graph.reshape %[[W]] : tensor<1x4x1x8xf32> -> tensor<1x4x8xf32>
// CHECK-NEXT:  func.return %[[R]], %[[S]]
func.func @dropped_axes(%x: tensor<1x4x6x8xf32>) -> (tensor<1x8xf32>, tensor<1x4x8xf32>) {
  %m = graph.reduce %x {layer = "mean", kind = "mean", axes = array<i64: 1, 2>} : tensor<1x4x6x8xf32> -> tensor<1x8xf32>
  %w = graph.reduce %x {kind = "mean", axes = array<i64: 2>} : tensor<1x4x6x8xf32> -> tensor<1x4x8xf32>
  func.return %m, %w : tensor<1x8xf32>, tensor<1x4x8xf32>
}

// -----

// Means over channels, other reductions and other ranks stay.

// CHECK-LABEL: func.func @stays
// CHECK-COUNT-3: graph.reduce
// CHECK-NOT:   graph.avg_pool2d
func.func @stays(%x: tensor<1x4x6x8xf32>, %v: tensor<4x6x8xf32>) -> (tensor<1x4x6x1xf32>, tensor<1x1x1x8xf32>, tensor<4x1x1xf32>) {
  %c = graph.reduce %x {kind = "mean", axes = array<i64: 3>} : tensor<1x4x6x8xf32> -> tensor<1x4x6x1xf32>
  %s = graph.reduce %x {kind = "sum", axes = array<i64: 1, 2>} : tensor<1x4x6x8xf32> -> tensor<1x1x1x8xf32>
  %r = graph.reduce %v {kind = "mean", axes = array<i64: 1, 2>} : tensor<4x6x8xf32> -> tensor<4x1x1xf32>
  func.return %c, %s, %r : tensor<1x4x6x1xf32>, tensor<1x1x1x8xf32>, tensor<4x1x1xf32>
}

// -----

// A mean over the middle axis of a 3-D [N, W, C] map (a lifted 1-D feature
// map) pools the [N, 1, W, C] map of height 1.

// CHECK-LABEL: func.func @one_d_mean
// CHECK-NEXT:  %[[R:.*]] = graph.reshape %{{.*}} {layer = "gap"} : tensor<1x24x16xf32> -> tensor<1x1x24x16xf32>
// CHECK-NEXT:  %[[P:.*]] = graph.avg_pool2d %[[R]] {layer = "gap", kernel = array<i64: 1, 24>{{.*}}} : (tensor<1x1x24x16xf32>) -> tensor<1x1x1x16xf32>
// CHECK-NEXT:  %[[S:.*]] = graph.reshape %[[P]] {layer = "gap"} : tensor<1x1x1x16xf32> -> tensor<1x1x16xf32>
// CHECK-NEXT:  func.return %[[S]]
func.func @one_d_mean(%x: tensor<1x24x16xf32>) -> tensor<1x1x16xf32> {
  %m = graph.reduce %x {layer = "gap", kind = "mean", axes = array<i64: 1>} : tensor<1x24x16xf32> -> tensor<1x1x16xf32>
  func.return %m : tensor<1x1x16xf32>
}
