// RUN: npuc-opt %s --split-input-file -p graph-fold-constants | filecheck %s

// An op of constants becomes a constant holding its result, with the op's layer;
// the operand constants left unused disappear.

// CHECK-LABEL: func.func @add_of_constants
// CHECK-NEXT:  %[[C:.*]] = graph.constant {layer = "sum"} dense<[4.000000e+00, 6.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:  func.return %[[C]]
func.func @add_of_constants() -> tensor<2xf32> {
  %a = graph.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %b = graph.constant dense<[3.0, 4.0]> : tensor<2xf32>
  %s = graph.add %a, %b {layer = "sum", activation = "none"} : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  func.return %s : tensor<2xf32>
}

// -----

// Chains fold from the front (reshape, transpose, relu of a constant); an op
// with a non-constant operand stays and reads the folded constant.

// CHECK-LABEL: func.func @chain
// CHECK-NEXT:  %[[C:.*]] = graph.constant {layer = "r"} dense<{{\[}}[0.000000e+00, 3.000000e+00], [2.000000e+00, 0.000000e+00]]> : tensor<2x2xf32>
// CHECK-NEXT:  %[[M:.*]] = graph.mul %{{.*}}, %[[C]]
// CHECK-NEXT:  func.return %[[M]]
func.func @chain(%x: tensor<2x2xf32>) -> tensor<2x2xf32> {
  %a = graph.constant dense<[-1.0, 2.0, 3.0, -4.0]> : tensor<4xf32>
  %s = graph.reshape %a : tensor<4xf32> -> tensor<2x2xf32>
  %t = graph.transpose %s {perm = array<i64: 1, 0>} : tensor<2x2xf32> -> tensor<2x2xf32>
  %r = graph.relu %t {layer = "r"} : tensor<2x2xf32>
  %m = graph.mul %x, %r {activation = "none"} : (tensor<2x2xf32>, tensor<2x2xf32>) -> tensor<2x2xf32>
  func.return %m : tensor<2x2xf32>
}

// -----

// A split of a constant folds into one constant per result.

// CHECK-LABEL: func.func @split
// CHECK-NEXT:  %[[A:.*]] = graph.constant dense<1.000000e+00> : tensor<1xf32>
// CHECK-NEXT:  %[[B:.*]] = graph.constant dense<[2.000000e+00, 3.000000e+00]> : tensor<2xf32>
// CHECK-NEXT:  func.return %[[A]], %[[B]]
func.func @split() -> (tensor<1xf32>, tensor<2xf32>) {
  %a = graph.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %p, %q = graph.split %a {axis = 0 : i64} : (tensor<3xf32>) -> (tensor<1xf32>, tensor<2xf32>)
  func.return %p, %q : tensor<1xf32>, tensor<2xf32>
}
