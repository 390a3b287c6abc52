// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p layer-cse | filecheck %s

// The pass compares ops as they are and relies on the verifier: two identical
// ops that do not verify are reported, not merged.

func.func @invalid_duplicates(%x: tensor<1x4x4x2xf32>) -> (tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>) {
  %a = graph.reduce %x {kind = "median", axes = array<i64: 1>} : tensor<1x4x4x2xf32> -> tensor<1x4x4x2xf32>
  %b = graph.reduce %x {kind = "median", axes = array<i64: 1>} : tensor<1x4x4x2xf32> -> tensor<1x4x4x2xf32>
  func.return %a, %b : tensor<1x4x4x2xf32>, tensor<1x4x4x2xf32>
}
// CHECK: Operation does not verify: unknown reduction 'median'
