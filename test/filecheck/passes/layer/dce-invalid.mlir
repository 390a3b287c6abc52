// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p layer-dce | filecheck %s

// The pass erases ops by their traits and relies on the verifier for the rest:
// a dead op that does not verify is reported, not silently dropped.

func.func @dead_but_invalid(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> {
  %p = graph.max_pool2d %x {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2xf32>) -> tensor<1x3x3x2xf32>
  func.return %x : tensor<1x4x4x2xf32>
}
// CHECK: Operation does not verify: ofm shape is [1, 3, 3, 2], expected [1, 2, 2, 2]
