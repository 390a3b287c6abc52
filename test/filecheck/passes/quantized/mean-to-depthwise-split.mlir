// RUN: npuc-opt %s --split-input-file -p 'quantized-mean-to-depthwise{target=ethos-u55-128}' | filecheck %s

// efficientnet_b0's first squeeze-and-excitation mean: 112 x 112 breaks the
// Ethos-U depthwise rule (height <= 64, area <= 4096). The map reads as rows of
// k = 128 (the largest divisor of 12544 with 128 x 255 <= 32767): a 1x128
// kernel sums each row less the zero point exactly into int16 (rescale 1:
// 2^30, shift 1; scale the input's, zero point 0); the 98 sums read as one row
// and a 1x98 kernel applies MEAN's rescale for 12544 elements once
// (in/out = 2.5: 2^30 x 1.25, shift 2; << 13 // 12544 = 876523970, shift -11).
// CHECK-LABEL: func.func @split
// CHECK:       %[[ROWS:.*]] = quantized.reshape %{{.*}} {layer = "se"} : {{.*}} -> tensor<1x98x128x4x!quantized.uniform<i8:f32, 0.05:-3>>
// CHECK-NEXT:  %[[W1:.*]] = quantized.constant {layer = "se"} dense<1> : tensor<1x1x128x4xi8>
// CHECK-NEXT:  %[[B1:.*]] = quantized.constant {layer = "se"} dense<0> : tensor<4xi32>
// CHECK-NEXT:  %[[SUMS:.*]] = quantized.depthwise_conv2d %[[ROWS]], %[[W1]], %[[B1]] {layer = "se", {{.*}}rescale = array<i32: 1073741824, 1>} : {{.*}} -> tensor<1x98x1x4x!quantized.uniform<i16:f32, 0.05:0>>
// CHECK-NEXT:  %[[ROW:.*]] = quantized.reshape %[[SUMS]] {layer = "se"} : {{.*}} -> tensor<1x1x98x4x!quantized.uniform<i16:f32, 0.05:0>>
// CHECK-NEXT:  %[[W2:.*]] = quantized.constant {layer = "se"} dense<1> : tensor<1x1x98x4xi8>
// CHECK-NEXT:  %[[B2:.*]] = quantized.constant {layer = "se"} dense<0> : tensor<4xi32>
// CHECK-NEXT:  %[[MEAN:.*]] = quantized.depthwise_conv2d %[[ROW]], %[[W2]], %[[B2]] {layer = "se", {{.*}}rescale = array<i32: 876523970, -11>} : {{.*}} -> tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.02:5>>
// CHECK-NEXT:  %[[OUT:.*]] = quantized.reshape %[[MEAN]] {layer = "se"} : {{.*}} -> tensor<1x4x!quantized.uniform<i8:f32, 0.02:5>>
// CHECK-NEXT:  func.return %[[OUT]]
func.func @split(%x: tensor<1x112x112x4x!quantized.uniform<i8:f32, 0.05:-3>>) -> tensor<1x4x!quantized.uniform<i8:f32, 0.02:5>> {
  %m = quantized.reduce %x {layer = "se", kind = "mean", axes = array<i64: 1, 2>} : tensor<1x112x112x4x!quantized.uniform<i8:f32, 0.05:-3>> -> tensor<1x4x!quantized.uniform<i8:f32, 0.02:5>>
  func.return %m : tensor<1x4x!quantized.uniform<i8:f32, 0.02:5>>
}

// -----

// 72 x 40 is too high for one kernel but 2880 elements fit one row: the map
// reads as [1, 1, 2880, C] and one 1x2880 kernel takes the mean, as Vela does.
// CHECK-LABEL: func.func @one_row
// CHECK:       %[[ROW:.*]] = quantized.reshape %{{.*}} : {{.*}} -> tensor<1x1x2880x2x!quantized.uniform<i8:f32, 0.02:-128>>
// CHECK-NEXT:  quantized.constant dense<1> : tensor<1x1x2880x2xi8>
// CHECK-NEXT:  quantized.constant dense<0> : tensor<2xi32>
// CHECK-NEXT:  %[[D:.*]] = quantized.depthwise_conv2d %[[ROW]], {{.*}} -> tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.01:-3>>
// CHECK-NEXT:  func.return %[[D]]
func.func @one_row(%x: tensor<1x72x40x2x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.01:-3>> {
  %m = quantized.reduce %x {kind = "mean", axes = array<i64: 1, 2>} : tensor<1x72x40x2x!quantized.uniform<i8:f32, 0.02:-128>> -> tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.01:-3>>
  func.return %m : tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.01:-3>>
}

// -----

// int16 partial sums of int16 inputs would overflow: the mean keeps its one
// 112 x 112 kernel, which npu-legalize sends to the CPU with the rule broken.
// CHECK-LABEL: func.func @int16_left
// CHECK:       quantized.depthwise_conv2d {{.*}} : (tensor<1x112x112x2x{{.*}}>, tensor<1x112x112x2x{{.*}}>, {{.*}})
func.func @int16_left(%x: tensor<1x112x112x2x!quantized.uniform<i16:f32, 0.002:0>>) -> tensor<1x1x1x2x!quantized.uniform<i16:f32, 0.001:0>> {
  %m = quantized.reduce %x {kind = "mean", axes = array<i64: 1, 2>} : tensor<1x112x112x2x!quantized.uniform<i16:f32, 0.002:0>> -> tensor<1x1x1x2x!quantized.uniform<i16:f32, 0.001:0>>
  func.return %m : tensor<1x1x1x2x!quantized.uniform<i16:f32, 0.001:0>>
}

// -----

// A prime count has no row length: one 4099 x 1 kernel, as without a target.
// CHECK-LABEL: func.func @prime_left
// CHECK:       quantized.depthwise_conv2d {{.*}} : (tensor<1x4099x1x2x{{.*}}>, tensor<1x4099x1x2x{{.*}}>, {{.*}})
func.func @prime_left(%x: tensor<1x4099x1x2x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.01:-3>> {
  %m = quantized.reduce %x {kind = "mean", axes = array<i64: 1, 2>} : tensor<1x4099x1x2x!quantized.uniform<i8:f32, 0.02:-128>> -> tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.01:-3>>
  func.return %m : tensor<1x1x1x2x!quantized.uniform<i8:f32, 0.01:-3>>
}
