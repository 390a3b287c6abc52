// RUN: python -c "import numpy as np; np.save('%t.npy', np.random.default_rng(0).standard_normal((8, 4, 4, 2)).astype('f4'))"
// RUN: npuc-opt %s --split-input-file -p 'quantize{calibration="%t.npy"}' | filecheck %s

// A float conv with a fused ReLU: the argument is quantized, the weights become
// per-channel int8 (an all-zero channel gets scale 1), the bias int32, the
// result is dequantized and the function keeps its f32 interface.

// CHECK-LABEL: func.func @conv_relu
// CHECK-SAME:    (%[[X:.*]]: tensor<1x4x4x2xf32> {graph.name = "x"}) -> (tensor<1x4x4x3xf32> {graph.name = "y"})
// CHECK-NEXT:    %[[Q:.*]] = quantized.quantize %[[X]] : tensor<1x4x4x2xf32> -> tensor<1x4x4x2x!quantized.uniform<i8:f32, {{.*}}>>
// CHECK-NEXT:    %[[W:.*]] = quantized.constant {layer = "w"} dense<{{\[\[\[\[}}127, -64]]], {{\[\[\[}}127, 0]]], {{\[\[\[}}0, 0]]]]> : tensor<3x1x1x2xi8> -> tensor<3x1x1x2x!quantized.uniform<i8:f32:0, {0.003937007859349251:0, 0.007874015718698502:0, 1.0:0}>>
// CHECK-NEXT:    %[[B:.*]] = quantized.constant {layer = "b"} dense<{{.*}}> : tensor<3xi32>
// CHECK-NEXT:    %[[C:.*]] = quantized.conv2d %[[Q]], %[[W]], %[[B]] {layer = "conv", {{.*}}activation = "relu"} : {{.*}} -> tensor<1x4x4x3x!quantized.uniform<i8:f32, {{.*}}:-128>>
// CHECK-NEXT:    %[[Y:.*]] = quantized.dequantize %[[C]] : tensor<1x4x4x3x!quantized.uniform<i8:f32, {{.*}}:-128>> -> tensor<1x4x4x3xf32>
// CHECK-NEXT:    func.return %[[Y]] : tensor<1x4x4x3xf32>
// CHECK-NOT:     graph.
func.func @conv_relu(%x: tensor<1x4x4x2xf32> {graph.name = "x"}) -> (tensor<1x4x4x3xf32> {graph.name = "y"}) {
  %w = graph.constant {layer = "w"} dense<[[[[0.5, -0.25]]], [[[1.0, 0.0]]], [[[0.0, 0.0]]]]> : tensor<3x1x1x2xf32>
  %b = graph.constant {layer = "b"} dense<[0.1, -0.2, 0.3]> : tensor<3xf32>
  %y = graph.conv2d %x, %w, %b {layer = "conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : (tensor<1x4x4x2xf32>, tensor<3x1x1x2xf32>, tensor<3xf32>) -> tensor<1x4x4x3xf32>
  func.return %y : tensor<1x4x4x3xf32>
}

// -----

// Max pooling, reshape and a standalone ReLU move values without rescaling:
// they keep the quantization of their input, and the ReLU becomes a clamp at
// the zero point.

// CHECK-LABEL: func.func @pool_reshape_relu
// CHECK:         %[[Q:.*]] = quantized.quantize %{{.*}} : tensor<1x4x4x2xf32> -> tensor<1x4x4x2x!quantized.uniform<i8:f32, [[S:.*]]:[[ZP:.*]]>>
// CHECK-NEXT:    %[[P:.*]] = quantized.max_pool2d %[[Q]] {layer = "pool", {{.*}}} : {{.*}} -> tensor<1x2x2x2x!quantized.uniform<i8:f32, [[S]]:[[ZP]]>>
// CHECK-NEXT:    %[[R:.*]] = quantized.reshape %[[P]] {layer = "flatten"} : {{.*}} -> tensor<1x8x!quantized.uniform<i8:f32, [[S]]:[[ZP]]>>
// CHECK-NEXT:    %[[C:.*]] = quantized.clamp %[[R]] {layer = "relu", min = [[ZP]] : i64, max = 127 : i64} : tensor<1x8x!quantized.uniform<i8:f32, [[S]]:[[ZP]]>> -> tensor<1x8x!quantized.uniform<i8:f32, [[S]]:[[ZP]]>>
// CHECK-NEXT:    %{{.*}} = quantized.dequantize %[[C]]
func.func @pool_reshape_relu(%x: tensor<1x4x4x2xf32>) -> tensor<1x8xf32> {
  %p = graph.max_pool2d %x {layer = "pool", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2xf32>) -> tensor<1x2x2x2xf32>
  %r = graph.reshape %p {layer = "flatten"} : tensor<1x2x2x2xf32> -> tensor<1x8xf32>
  %y = graph.relu %r {layer = "relu"} : tensor<1x8xf32>
  func.return %y : tensor<1x8xf32>
}

// -----

// Add gets its own output range; a constant addend is quantized per tensor
// with the range of its own values.

// CHECK-LABEL: func.func @add_constant
// CHECK:         %[[Q:.*]] = quantized.quantize
// CHECK-NEXT:    %[[K:.*]] = quantized.constant {layer = "k"} dense<{{.*}}> : tensor<2xi8> -> tensor<2x!quantized.uniform<i8:f32, {{.*}}:-128>>
// CHECK-NEXT:    %[[A:.*]] = quantized.add %[[Q]], %[[K]] {layer = "add", activation = "none"}
// CHECK-NEXT:    quantized.dequantize %[[A]]
func.func @add_constant(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> {
  %k = graph.constant {layer = "k"} dense<[1.0, 2.0]> : tensor<2xf32>
  %y = graph.add %x, %k {layer = "add", activation = "none"} : (tensor<1x4x4x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  func.return %y : tensor<1x4x4x2xf32>
}
