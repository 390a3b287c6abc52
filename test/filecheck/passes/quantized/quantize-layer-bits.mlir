// RUN: python -c "import numpy as np; np.save('%t.npy', np.random.default_rng(0).standard_normal((8, 4, 4, 2)).astype('f4'))"
// RUN: python -c "import json; json.dump({'layers': {'conv2': {'bits': 16}}}, open('%t.json', 'w'))"
// RUN: npuc-opt %s -p 'quantize{calibration="%t.npy" layers="%t.json"}' | filecheck %s

// Per-layer bits: conv2 alone is 16x8; a requantize converts its int8 input
// to int16 and its int16 result back to int8 for the int8 add.

// CHECK-LABEL: func.func @conv2_b2
// CHECK:         quantized.quantize %{{.*}} -> tensor<1x4x4x2x!quantized.uniform<i8:f32, {{.*}}>>
// CHECK:         %[[C1:.*]] = quantized.conv2d {{.*}} -> tensor<1x4x4x2x!quantized.uniform<i8:f32, {{.*}}>>
// CHECK:         %[[UP:.*]] = quantized.requantize %[[C1]] {layer = "conv2"} : {{.*}}i8{{.*}} -> tensor<1x4x4x2x!quantized.uniform<i16:f32, {{.*}}:0>>
// CHECK:         quantized.constant {layer = "b2"} dense<{{.*}}> : tensor<2xi64>
// CHECK-NEXT:    %[[C2:.*]] = quantized.conv2d %[[UP]], {{.*}} -> tensor<1x4x4x2x!quantized.uniform<i16:f32, {{.*}}:0>>
// CHECK-NEXT:    %[[DOWN:.*]] = quantized.requantize %[[C2]] {layer = "add"} : {{.*}}i16{{.*}} -> tensor<1x4x4x2x!quantized.uniform<i8:f32, {{.*}}>>
// CHECK-NEXT:    quantized.add %[[C1]], %[[DOWN]] {{.*}} -> tensor<1x4x4x2x!quantized.uniform<i8:f32, {{.*}}>>
func.func @conv2_b2(%x: tensor<1x4x4x2xf32> {graph.name = "x"}) -> (tensor<1x4x4x2xf32> {graph.name = "y"}) {
  %w1 = graph.constant {layer = "w1"} dense<[[[[0.5, -0.25]]], [[[1.0, 0.5]]]]> : tensor<2x1x1x2xf32>
  %b1 = graph.constant {layer = "b1"} dense<[0.1, -0.2]> : tensor<2xf32>
  %c1 = graph.conv2d %x, %w1, %b1 {layer = "conv1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  %w2 = graph.constant {layer = "w2"} dense<[[[[0.75, 0.25]]], [[[-0.5, 1.0]]]]> : tensor<2x1x1x2xf32>
  %b2 = graph.constant {layer = "b2"} dense<[0.0, 0.3]> : tensor<2xf32>
  %c2 = graph.conv2d %c1, %w2, %b2 {layer = "conv2", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2xf32>, tensor<2x1x1x2xf32>, tensor<2xf32>) -> tensor<1x4x4x2xf32>
  %y = graph.add %c1, %c2 {layer = "add", activation = "none"} : (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  func.return %y : tensor<1x4x4x2xf32>
}
