// RUN: python -c "import numpy as np; np.save('%t.npy', np.random.default_rng(0).standard_normal((8, 4, 4, 2)).astype('f4'))"
// RUN: npuc-opt %s --split-input-file -p 'quantize{calibration="%t.npy" activation_bits=16}' | filecheck %s

// 16x8: activations symmetric int16 (zero point 0), weights int8, bias int64.

// CHECK-LABEL: func.func @conv_16x8
// CHECK:         quantized.quantize %{{.*}} : tensor<1x4x4x2xf32> -> tensor<1x4x4x2x!quantized.uniform<i16:f32, {{.*}}:0>>
// CHECK:         quantized.constant {layer = "w"} {{.*}} : tensor<3x1x1x2xi8> -> tensor<3x1x1x2x!quantized.uniform<i8:f32:0, {{.*}}>>
// CHECK-NEXT:    quantized.constant {layer = "b"} dense<{{.*}}> : tensor<3xi64>
// CHECK-NEXT:    quantized.conv2d {{.*}} -> tensor<1x4x4x3x!quantized.uniform<i16:f32, {{.*}}:0>>
func.func @conv_16x8(%x: tensor<1x4x4x2xf32> {graph.name = "x"}) -> (tensor<1x4x4x3xf32> {graph.name = "y"}) {
  %w = graph.constant {layer = "w"} dense<[[[[0.5, -0.25]]], [[[1.0, 0.0]]], [[[0.0, 0.0]]]]> : tensor<3x1x1x2xf32>
  %b = graph.constant {layer = "b"} dense<[0.1, -0.2, 0.3]> : tensor<3xf32>
  %y = graph.conv2d %x, %w, %b {layer = "conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2xf32>, tensor<3x1x1x2xf32>, tensor<3xf32>) -> tensor<1x4x4x3xf32>
  func.return %y : tensor<1x4x4x3xf32>
}

// -----

// Softmax gets TFLite's fixed int16 output scale 2^-15 with zero point 0.

// CHECK-LABEL: func.func @softmax_16x8
// CHECK:         quantized.softmax {{.*}} -> tensor<1x4x4x2x!quantized.uniform<i16:f32, 3.0517578125e-05:0>>
func.func @softmax_16x8(%x: tensor<1x4x4x2xf32> {graph.name = "x"}) -> tensor<1x4x4x2xf32> {
  %y = graph.softmax %x {layer = "softmax", axis = 3 : i64, beta = 1.0 : f32} : tensor<1x4x4x2xf32> -> tensor<1x4x4x2xf32>
  func.return %y : tensor<1x4x4x2xf32>
}
