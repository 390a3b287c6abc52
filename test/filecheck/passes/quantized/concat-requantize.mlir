// RUN: npuc-opt %s --split-input-file -p quantized-concat-requantize | filecheck %s

// Input 0 is quantized otherwise than the output: it gets a requantize to the
// output's parameters (with the concat's layer); input 1 already matches.
// CHECK-LABEL: func.func @mixed
// CHECK-NEXT:  %[[R:.*]] = quantized.requantize %{{.*}} {layer = "cat"} : tensor<1x2x2x3x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x2x2x3x!quantized.uniform<i8:f32, 0.2:-1>>
// CHECK-NEXT:  %[[C:.*]] = quantized.concat %[[R]], %{{.*}} {layer = "cat", axis = 3 : i64}
// CHECK-NEXT:  func.return %[[C]]
func.func @mixed(%x: tensor<1x2x2x3x!quantized.uniform<i8:f32, 0.1:0>>, %y: tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.2:-1>>) -> tensor<1x2x2x4x!quantized.uniform<i8:f32, 0.2:-1>> {
  %c = quantized.concat %x, %y {layer = "cat", axis = 3 : i64} : (tensor<1x2x2x3x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.2:-1>>) -> tensor<1x2x2x4x!quantized.uniform<i8:f32, 0.2:-1>>
  func.return %c : tensor<1x2x2x4x!quantized.uniform<i8:f32, 0.2:-1>>
}

// -----

// A constant input (a ViT's class token) becomes a constant of the output's
// quantization, TFLite's QUANTIZE of its values: q * 0.1 / 0.2 rounded half
// up (its doubling high multiply by 2^30: -1.5 -> -1, 0.5 -> 1, 1.5 -> 2),
// plus the zero point -1 (the old constant is left to layer-dce).
// CHECK-LABEL: func.func @constant
// CHECK:       %[[K:.*]] = quantized.constant {layer = "cat"} dense<[{{\[}}-2, 1, 0, 1]]> : tensor<1x4xi8> -> tensor<1x4x!quantized.uniform<i8:f32, 0.2:-1>>
// CHECK-NEXT:  %[[C:.*]] = quantized.concat %[[K]], %{{.*}} {layer = "cat", axis = 0 : i64}
// CHECK-NOT:   quantized.requantize
func.func @constant(%y: tensor<1x4x!quantized.uniform<i8:f32, 0.2:-1>>) -> tensor<2x4x!quantized.uniform<i8:f32, 0.2:-1>> {
  %k = quantized.constant dense<[[-3, 4, 1, 3]]> : tensor<1x4xi8> -> tensor<1x4x!quantized.uniform<i8:f32, 0.1:0>>
  %c = quantized.concat %k, %y {layer = "cat", axis = 0 : i64} : (tensor<1x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x!quantized.uniform<i8:f32, 0.2:-1>>) -> tensor<2x4x!quantized.uniform<i8:f32, 0.2:-1>>
  func.return %c : tensor<2x4x!quantized.uniform<i8:f32, 0.2:-1>>
}

// -----

// Inputs that all match the output are left alone.
// CHECK-LABEL: func.func @matching
// CHECK-NEXT:  quantized.concat %{{.*}}, %{{.*}} {axis = 1 : i64}
// CHECK-NOT:   quantized.requantize
func.func @matching(%x: tensor<1x3x!quantized.uniform<i8:f32, 0.2:-1>>, %y: tensor<1x1x!quantized.uniform<i8:f32, 0.2:-1>>) -> tensor<1x4x!quantized.uniform<i8:f32, 0.2:-1>> {
  %c = quantized.concat %x, %y {axis = 1 : i64} : (tensor<1x3x!quantized.uniform<i8:f32, 0.2:-1>>, tensor<1x1x!quantized.uniform<i8:f32, 0.2:-1>>) -> tensor<1x4x!quantized.uniform<i8:f32, 0.2:-1>>
  func.return %c : tensor<1x4x!quantized.uniform<i8:f32, 0.2:-1>>
}

// -----

// A module following onnxruntime's rounding (a QDQ import) is left unchanged.
// CHECK-LABEL: builtin.module attributes {quantized.rounding = "onnxruntime"}
// CHECK-NOT:   quantized.requantize
builtin.module attributes {quantized.rounding = "onnxruntime"} {
  func.func @ort(%x: tensor<1x3x!quantized.uniform<i8:f32, 0.1:0>>, %y: tensor<1x1x!quantized.uniform<i8:f32, 0.2:-1>>) -> tensor<1x4x!quantized.uniform<i8:f32, 0.2:-1>> {
    %c = quantized.concat %x, %y {axis = 1 : i64} : (tensor<1x3x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x1x!quantized.uniform<i8:f32, 0.2:-1>>) -> tensor<1x4x!quantized.uniform<i8:f32, 0.2:-1>>
    func.return %c : tensor<1x4x!quantized.uniform<i8:f32, 0.2:-1>>
  }
}
