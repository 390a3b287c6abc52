// RUN: python -c "import numpy as np; np.save('%t.npy', np.random.default_rng(0).standard_normal((8, 4, 4, 2)).astype('f4'))"
// RUN: npuc-opt %s -p 'quantize{calibration="%t.npy"}' | filecheck %s
// RUN: npuc-opt %s -p 'quantize{calibration="%t.npy" precision=uniform}' | filecheck %s --check-prefix=UNIFORM

// npuc's default precision policy (precision=mixed): the classifier head after
// the global pool (the pool as MEAN, the flatten, the fully connected layer)
// is 16x8, the conv before it int8; a requantize (int8 -> int16) feeds the mean.
// precision=uniform quantizes every layer int8.

// CHECK-LABEL: func.func @head
// CHECK:         quantized.conv2d {{.*}} -> tensor<1x4x4x3x!quantized.uniform<i8:f32, {{.*}}>>
// CHECK-NEXT:    quantized.requantize {{.*}} -> tensor<1x4x4x3x!quantized.uniform<i16:f32, {{.*}}:0>>
// CHECK-NEXT:    quantized.reduce {{.*}} -> tensor<1x1x1x3x!quantized.uniform<i16:f32, {{.*}}:0>>
// CHECK-NEXT:    quantized.reshape {{.*}} -> tensor<1x3x!quantized.uniform<i16:f32, {{.*}}:0>>
// CHECK:         quantized.constant {layer = "fc_b"} dense<{{.*}}> : tensor<2xi64>
// CHECK-NEXT:    quantized.fully_connected {{.*}} -> tensor<1x2x!quantized.uniform<i16:f32, {{.*}}:0>>

// UNIFORM-LABEL: func.func @head
// UNIFORM-NOT:   i16
// UNIFORM:       quantized.fully_connected {{.*}} -> tensor<1x2x!quantized.uniform<i8:f32, {{.*}}>>
func.func @head(%x: tensor<1x4x4x2xf32> {graph.name = "x"}) -> (tensor<1x2xf32> {graph.name = "y"}) {
  %w = graph.constant {layer = "w"} dense<[[[[0.5, -0.25]]], [[[1.0, 0.5]]], [[[-0.75, 0.25]]]]> : tensor<3x1x1x2xf32>
  %b = graph.constant {layer = "b"} dense<[0.1, -0.2, 0.05]> : tensor<3xf32>
  %c = graph.conv2d %x, %w, %b {layer = "conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : (tensor<1x4x4x2xf32>, tensor<3x1x1x2xf32>, tensor<3xf32>) -> tensor<1x4x4x3xf32>
  %p = graph.avg_pool2d %c {layer = "pool", kernel = array<i64: 4, 4>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x3xf32>) -> tensor<1x1x1x3xf32>
  %f = graph.reshape %p {layer = "flatten"} : tensor<1x1x1x3xf32> -> tensor<1x3xf32>
  %fw = graph.constant {layer = "fc_w"} dense<[[0.5, -1.0, 0.25], [0.75, 0.5, -0.5]]> : tensor<2x3xf32>
  %fb = graph.constant {layer = "fc_b"} dense<[0.2, -0.1]> : tensor<2xf32>
  %y = graph.fully_connected %f, %fw, %fb {layer = "fc", activation = "none"} : (tensor<1x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}
