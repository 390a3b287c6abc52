// RUN: npuc-opt %s | npuc-opt | filecheck %s

// The graph ops a layer norm imports as print and parse back unchanged.

// CHECK-LABEL: func.func @layer_norm_ops
func.func @layer_norm_ops(%x: tensor<1x6x16xf32>, %m: tensor<1x6x1xf32>) -> (tensor<1x6x16xf32>, tensor<1x6x1xf32>) {
  // CHECK: %{{.*}} = graph.squared_difference %{{.*}}, %{{.*}} {activation = "none"} : (tensor<1x6x16xf32>, tensor<1x6x1xf32>) -> tensor<1x6x16xf32>
  %d = graph.squared_difference %x, %m {activation = "none"} : (tensor<1x6x16xf32>, tensor<1x6x1xf32>) -> tensor<1x6x16xf32>
  // CHECK: %{{.*}} = graph.rsqrt %{{.*}} : tensor<1x6x1xf32> -> tensor<1x6x1xf32>
  %r = graph.rsqrt %m : tensor<1x6x1xf32> -> tensor<1x6x1xf32>
  func.return %d, %r : tensor<1x6x16xf32>, tensor<1x6x1xf32>
}
