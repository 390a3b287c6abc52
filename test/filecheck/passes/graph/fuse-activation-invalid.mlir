// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p graph-fuse-activation | filecheck %s

// The pass relies on the verifiers: a bad fused activation or clip range is
// rejected before it runs.

func.func @bad_activation(%x: tensor<1x8xf32>) -> tensor<1x8xf32> {
  %a = graph.add %x, %x {activation = "tanh"} : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  %r = graph.relu %a : tensor<1x8xf32>
  func.return %r : tensor<1x8xf32>
}
// CHECK: unknown fused activation 'tanh' (expected one of none, relu, relu6, relu_n1_to_1)

// -----

func.func @inverted_clip(%x: tensor<1x8xf32>) -> tensor<1x8xf32> {
  %a = graph.add %x, %x {activation = "none"} : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x8xf32>
  %c = graph.clip %a {min = 6.0 : f32, max = 0.0 : f32} : tensor<1x8xf32>
  func.return %c : tensor<1x8xf32>
}
// CHECK: clip min must not exceed max
