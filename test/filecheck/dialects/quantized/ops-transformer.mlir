// RUN: npuc-opt %s | npuc-opt | filecheck %s

// The quantized ops of layer norms and attention print and parse back unchanged.

// CHECK-LABEL: func.func @transformer_ops
func.func @transformer_ops(%x: tensor<1x6x16x!quantized.uniform<i8:f32, 0.1:-3>>, %m: tensor<1x6x1x!quantized.uniform<i8:f32, 0.05:-128>>, %k: tensor<1x16x6x!quantized.uniform<i8:f32, 0.1:4>>) -> (tensor<1x6x16x!quantized.uniform<i8:f32, 0.2:-128>>, tensor<1x6x1x!quantized.uniform<i8:f32, 0.01:-128>>, tensor<1x6x6x!quantized.uniform<i8:f32, 0.5:0>>, tensor<1x6x16x!quantized.uniform<i8:f32, 0.3:0>>) {
  // CHECK: %{{.*}} = quantized.squared_difference %{{.*}}, %{{.*}} {activation = "none"} : (tensor<1x6x16x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x6x1x!quantized.uniform<i8:f32, 0.05:-128>>) -> tensor<1x6x16x!quantized.uniform<i8:f32, 0.2:-128>>
  %d = quantized.squared_difference %x, %m {activation = "none"} : (tensor<1x6x16x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x6x1x!quantized.uniform<i8:f32, 0.05:-128>>) -> tensor<1x6x16x!quantized.uniform<i8:f32, 0.2:-128>>
  // CHECK: %{{.*}} = quantized.rsqrt %{{.*}} : tensor<1x6x1x!quantized.uniform<i8:f32, 0.05:-128>> -> tensor<1x6x1x!quantized.uniform<i8:f32, 0.01:-128>>
  %r = quantized.rsqrt %m : tensor<1x6x1x!quantized.uniform<i8:f32, 0.05:-128>> -> tensor<1x6x1x!quantized.uniform<i8:f32, 0.01:-128>>
  // CHECK: %{{.*}} = quantized.batch_matmul %{{.*}}, %{{.*}} : (tensor<1x6x16x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x16x6x!quantized.uniform<i8:f32, 0.1:4>>) -> tensor<1x6x6x!quantized.uniform<i8:f32, 0.5:0>>
  %s = quantized.batch_matmul %x, %k : (tensor<1x6x16x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x16x6x!quantized.uniform<i8:f32, 0.1:4>>) -> tensor<1x6x6x!quantized.uniform<i8:f32, 0.5:0>>
  // CHECK: %{{.*}} = quantized.div %{{.*}}, %{{.*}} {activation = "relu"} : (tensor<1x6x16x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x6x1x!quantized.uniform<i8:f32, 0.05:-128>>) -> tensor<1x6x16x!quantized.uniform<i8:f32, 0.3:0>>
  %q = quantized.div %x, %m {activation = "relu"} : (tensor<1x6x16x!quantized.uniform<i8:f32, 0.1:-3>>, tensor<1x6x1x!quantized.uniform<i8:f32, 0.05:-128>>) -> tensor<1x6x16x!quantized.uniform<i8:f32, 0.3:0>>
  func.return %d, %r, %s, %q : tensor<1x6x16x!quantized.uniform<i8:f32, 0.2:-128>>, tensor<1x6x1x!quantized.uniform<i8:f32, 0.01:-128>>, tensor<1x6x6x!quantized.uniform<i8:f32, 0.5:0>>, tensor<1x6x16x!quantized.uniform<i8:f32, 0.3:0>>
}

