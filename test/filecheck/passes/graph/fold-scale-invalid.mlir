// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p graph-fold-scale | filecheck %s

// The pass scales weights per output channel and relies on the verifier for
// the bias having one value per channel.

func.func @bad_bias(%x: tensor<1x2x2x1xf32>) -> tensor<1x2x2x2xf32> {
  %w = graph.constant dense<1.0> : tensor<2x1x1x1xf32>
  %b = graph.constant dense<0.0> : tensor<3xf32>
  %c = graph.conv2d %x, %w, %b {strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x2x2x1xf32>, tensor<2x1x1x1xf32>, tensor<3xf32>) -> tensor<1x2x2x2xf32>
  %s = graph.constant dense<2.0> : tensor<2xf32>
  %m = graph.mul %c, %s {activation = "none"} : (tensor<1x2x2x2xf32>, tensor<2xf32>) -> tensor<1x2x2x2xf32>
  func.return %m : tensor<1x2x2x2xf32>
}
// CHECK: bias shape is [3], expected [2]
