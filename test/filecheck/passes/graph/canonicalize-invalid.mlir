// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p graph-canonicalize | filecheck %s

// The pass composes permutations and relies on the verifier for them.

func.func @not_a_permutation(%x: tensor<1x2x3xf32>) -> tensor<1x2x3xf32> {
  %t = graph.transpose %x {perm = array<i64: 0, 0, 2>} : tensor<1x2x3xf32> -> tensor<1x2x3xf32>
  func.return %t : tensor<1x2x3xf32>
}
// CHECK: perm [0, 0, 2] is not a permutation of 3 axes

// -----

func.func @wrong_transposed_shape(%x: tensor<1x2x3xf32>) -> tensor<1x2x3xf32> {
  %t = graph.transpose %x {perm = array<i64: 0, 2, 1>} : tensor<1x2x3xf32> -> tensor<1x2x3xf32>
  func.return %t : tensor<1x2x3xf32>
}
// CHECK: output shape is [1, 2, 3], expected [1, 3, 2]
