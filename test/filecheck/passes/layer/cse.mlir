// RUN: npuc-opt %s --split-input-file -p layer-cse | filecheck %s

// graph: two convs of the same input, weights and properties are one; the
// `layer` name does not tell them apart and the first keeps its own.
// Identical constants merge first, which makes the convs identical.
// CHECK-LABEL: func.func @graph_duplicate_conv
// CHECK-NEXT:  %[[W:.*]] = graph.constant dense<1.000000e+00> : tensor<2x1x1x2xf32>
// CHECK-NEXT:  %[[B:.*]] = graph.constant dense<0.000000e+00> : tensor<2xf32>
// CHECK-NEXT:  %[[C:.*]] = graph.conv2d %{{.*}}, %[[W]], %[[B]] {layer = "conv_a", {{.*}}}
// CHECK-NEXT:  %[[S:.*]] = graph.add %[[C]], %[[C]] {layer = "sum",
// CHECK-NEXT:  func.return %[[S]]
func.func @graph_duplicate_conv(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> {
  %w1 = graph.constant dense<1.0> : tensor<2x1x1x2xf32>
  %b1 = graph.constant dense<0.0> : tensor<2xf32>
  %a = graph.conv2d %x, %w1, %b1 {layer = "conv_a", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  %w2 = graph.constant dense<1.0> : tensor<2x1x1x2xf32>
  %b2 = graph.constant dense<0.0> : tensor<2xf32>
  %b = graph.conv2d %x, %w2, %b2 {layer = "conv_b", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  %s = graph.add %a, %b {layer = "sum", activation = "none"} : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  func.return %s : tensor<1x4x4x2xf32>
}

// -----

// A property that differs (here the fused activation) keeps both convs.
// CHECK-LABEL: func.func @graph_different_activation
// CHECK-COUNT-2: graph.conv2d
func.func @graph_different_activation(%x: tensor<1x4x4x2xf32>) -> (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) {
  %w = graph.constant dense<1.0> : tensor<2x1x1x2xf32>
  %bias = graph.constant dense<0.0> : tensor<2xf32>
  %a = graph.conv2d %x, %w, %bias {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  %b = graph.conv2d %x, %w, %bias {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  func.return %a, %b : tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>
}

// -----

// quantized: the duplicated conv (same operands and properties) merges and
// `@main` returns the survivor twice; weights merge, but each conv keeps its
// own bias constant (npu-lower makes one scale/bias table per bias constant).
// CHECK-LABEL: func.func @quantized_duplicate_conv
// CHECK-NEXT:  %[[W:.*]] = quantized.constant dense<1> : tensor<2x1x1x2xi8>
// CHECK-NEXT:  %[[B:.*]] = quantized.constant dense<0> : tensor<2xi32>
// CHECK-NEXT:  %[[C:.*]] = quantized.conv2d %{{.*}}, %[[W]], %[[B]] {layer = "conv_a",
// CHECK-NEXT:  %[[B2:.*]] = quantized.constant dense<0> : tensor<2xi32>
// CHECK-NEXT:  %[[D:.*]] = quantized.conv2d %{{.*}}, %[[W]], %[[B2]] {layer = "conv_c", {{.*}} activation = "relu"}
// CHECK-NEXT:  func.return %[[C]], %[[C]], %[[D]]
func.func @quantized_duplicate_conv(%x: tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.02:-128>>) -> (tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.05:-128>>, tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.05:-128>>, tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.05:-128>>) {
  %w = quantized.constant dense<1> : tensor<2x1x1x2xi8> -> tensor<2x1x1x2x!quantized.uniform<i8:f32, 0.01:0>>
  %bias = quantized.constant dense<0> : tensor<2xi32>
  %a = quantized.conv2d %x, %w, %bias {layer = "conv_a", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<2x1x1x2x!quantized.uniform<i8:f32, 0.01:0>>, tensor<2xi32>) -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.05:-128>>
  %b = quantized.conv2d %x, %w, %bias {layer = "conv_b", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<2x1x1x2x!quantized.uniform<i8:f32, 0.01:0>>, tensor<2xi32>) -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.05:-128>>
  %w2 = quantized.constant dense<1> : tensor<2x1x1x2xi8> -> tensor<2x1x1x2x!quantized.uniform<i8:f32, 0.01:0>>
  %bias2 = quantized.constant dense<0> : tensor<2xi32>
  %c = quantized.conv2d %x, %w2, %bias2 {layer = "conv_c", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : (tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<2x1x1x2x!quantized.uniform<i8:f32, 0.01:0>>, tensor<2xi32>) -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.05:-128>>
  func.return %a, %b, %c : tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.05:-128>>, tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.05:-128>>, tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.05:-128>>
}

// -----

// An op with unknown effects (an opaque CPU operator) is never merged.
// CHECK-LABEL: func.func @external_kept
// CHECK-COUNT-2: quantized.external
func.func @external_kept(%x: tensor<1x8x!quantized.uniform<i8:f32, 0.05:-3>>) -> (tensor<1x8xf32>, tensor<1x8xf32>) {
  %a = quantized.external %x {op_type = "MyCustomOp"} : (tensor<1x8x!quantized.uniform<i8:f32, 0.05:-3>>) -> tensor<1x8xf32>
  %b = quantized.external %x {op_type = "MyCustomOp"} : (tensor<1x8x!quantized.uniform<i8:f32, 0.05:-3>>) -> tensor<1x8xf32>
  func.return %a, %b : tensor<1x8xf32>, tensor<1x8xf32>
}
