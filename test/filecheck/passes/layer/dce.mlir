// RUN: npuc-opt %s --split-input-file -p layer-dce | filecheck %s
// RUN: npuc-opt %s --split-input-file -p dce | filecheck %s

// Both npuc's layer-dce and xDSL's own dce apply: the layer ops and constants
// are Pure. A dead branch (a conv, its constants and the pool after it) goes;
// what `@main` returns stays.
// CHECK-LABEL: func.func @graph_dead_branch
// CHECK-NEXT:  %[[P:.*]] = graph.max_pool2d %{{.*}} {layer = "live"
// CHECK-NEXT:  func.return %[[P]]
func.func @graph_dead_branch(%x: tensor<1x4x4x2xf32>) -> tensor<1x2x2x2xf32> {
  %w = graph.constant dense<1.0> : tensor<2x1x1x2xf32>
  %b = graph.constant dense<0.0> : tensor<2xf32>
  %c = graph.conv2d %x, %w, %b {layer = "dead_conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  %d = graph.max_pool2d %c {layer = "dead_pool", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2xf32>) -> tensor<1x2x2x2xf32>
  %p = graph.max_pool2d %x {layer = "live", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2xf32>) -> tensor<1x2x2x2xf32>
  func.return %p : tensor<1x2x2x2xf32>
}

// -----

// quantized: the dead conv and its constants go; an unused opaque CPU
// operator stays (its effects are unknown).
// CHECK-LABEL: func.func @quantized_dead_branch
// CHECK-NEXT:  quantized.external %{{.*}} {op_type = "MyCustomOp"}
// CHECK-NEXT:  %[[R:.*]] = quantized.reshape
// CHECK-NEXT:  func.return %[[R]]
func.func @quantized_dead_branch(%x: tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x8x!quantized.uniform<i8:f32, 0.02:-128>> {
  %w = quantized.constant dense<1> : tensor<2x1x1x2xi8> -> tensor<2x1x1x2x!quantized.uniform<i8:f32, 0.01:0>>
  %bias = quantized.constant dense<0> : tensor<2xi32>
  %c = quantized.conv2d %x, %w, %bias {layer = "dead", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<2x1x1x2x!quantized.uniform<i8:f32, 0.01:0>>, tensor<2xi32>) -> tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.05:-128>>
  %e = quantized.external %x {op_type = "MyCustomOp"} : (tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x8xf32>
  %r = quantized.reshape %x : tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.02:-128>> -> tensor<1x8x!quantized.uniform<i8:f32, 0.02:-128>>
  func.return %r : tensor<1x8x!quantized.uniform<i8:f32, 0.02:-128>>
}
