// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p graph-fuse-pad | filecheck %s

// The pass reads H and W paddings from the pad and relies on the verifier for them.

func.func @negative_padding(%x: tensor<1x4x4x1xf32>) -> tensor<1x3x4x1xf32> {
  %p = graph.pad %x {paddings = array<i64: 0, 0, -1, 0, 0, 0, 0, 0>, mode = "constant", value = 0.0 : f32} : tensor<1x4x4x1xf32> -> tensor<1x3x4x1xf32>
  func.return %p : tensor<1x3x4x1xf32>
}
// CHECK: paddings need a non-negative before/after pair per axis

// -----

func.func @bad_mode(%x: tensor<1x4x4x1xf32>) -> tensor<1x4x4x1xf32> {
  %p = graph.pad %x {paddings = array<i64: 0, 0, 0, 0, 0, 0, 0, 0>, mode = "wrap", value = 0.0 : f32} : tensor<1x4x4x1xf32> -> tensor<1x4x4x1xf32>
  func.return %p : tensor<1x4x4x1xf32>
}
// CHECK: 'mode' must be one of constant, reflect, edge, got 'wrap'
