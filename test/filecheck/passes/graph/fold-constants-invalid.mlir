// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p graph-fold-constants | filecheck %s

// The pass evaluates ops with the reference handlers and relies on the
// verifiers for their shapes: a bad op of constants is rejected before it runs.

func.func @bad_broadcast() -> tensor<3xf32> {
  %a = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %b = graph.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %s = graph.add %a, %b {activation = "none"} : (tensor<2xf32>, tensor<3xf32>) -> tensor<3xf32>
  func.return %s : tensor<3xf32>
}
// CHECK: shapes [2] and [3] do not broadcast

// -----

func.func @bad_reshape() -> tensor<3xf32> {
  %a = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %r = graph.reshape %a : tensor<2xf32> -> tensor<3xf32>
  func.return %r : tensor<3xf32>
}
// CHECK: reshape from [2] to [3] changes the element count
