// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p graph-mean-to-pool | filecheck %s

// The pass reads the reduced axes and relies on the verifier for them.

func.func @repeated_axes(%x: tensor<1x4x4x2xf32>) -> tensor<1x1x4x2xf32> {
  %m = graph.reduce %x {kind = "mean", axes = array<i64: 1, 1>} : tensor<1x4x4x2xf32> -> tensor<1x1x4x2xf32>
  func.return %m : tensor<1x1x4x2xf32>
}
// CHECK: axes [1, 1] must be distinct axes of a rank-4 input

// -----

func.func @unknown_kind(%x: tensor<1x4x4x2xf32>) -> tensor<1x1x1x2xf32> {
  %m = graph.reduce %x {kind = "median", axes = array<i64: 1, 2>} : tensor<1x4x4x2xf32> -> tensor<1x1x1x2xf32>
  func.return %m : tensor<1x1x1x2xf32>
}
// CHECK: unknown reduction 'median'
