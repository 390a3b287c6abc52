// RUN: npuc-opt %s --split-input-file -p quantized-requantize-to-depthwise | filecheck %s

// int8 0.1:0 -> 0.2:-1: a 1x1 depthwise of ones with a zero bias and QUANTIZE's
// rescale (0.1 / 0.2 = 0.5: QuantizeMultiplier gives 2^30, shift 0), keeping the layer.
// CHECK-LABEL: func.func @int8
// CHECK-NEXT:  %[[W:.*]] = quantized.constant {layer = "rq"} dense<1> : tensor<1x1x1x3xi8> -> tensor<1x1x1x3x!quantized.uniform<i8:f32, 1.0:0>>
// CHECK-NEXT:  %[[B:.*]] = quantized.constant {layer = "rq"} dense<0> : tensor<3xi32>
// CHECK-NEXT:  %[[D:.*]] = quantized.depthwise_conv2d %{{.*}}, %[[W]], %[[B]] {layer = "rq", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none", rescale = array<i32: 1073741824, 0>} : {{.*}} -> tensor<1x2x2x3x!quantized.uniform<i8:f32, 0.2:-1>>
// CHECK-NEXT:  func.return %[[D]]
func.func @int8(%x: tensor<1x2x2x3x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x2x2x3x!quantized.uniform<i8:f32, 0.2:-1>> {
  %r = quantized.requantize %x {layer = "rq"} : tensor<1x2x2x3x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x2x2x3x!quantized.uniform<i8:f32, 0.2:-1>>
  func.return %r : tensor<1x2x2x3x!quantized.uniform<i8:f32, 0.2:-1>>
}

// -----

// A map of lower rank (a ViT's [1, tokens, width]) is reshaped to NHWC with
// leading 1s and back around the depthwise conv, all with the layer.
// CHECK-LABEL: func.func @lower_rank
// CHECK-NEXT:  %[[I:.*]] = quantized.reshape %{{.*}} {layer = "rq"} : tensor<1x5x3x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x1x5x3x!quantized.uniform<i8:f32, 0.1:0>>
// CHECK-NEXT:  %[[W:.*]] = quantized.constant {layer = "rq"} dense<1> : tensor<1x1x1x3xi8>
// CHECK-NEXT:  %[[B:.*]] = quantized.constant {layer = "rq"} dense<0> : tensor<3xi32>
// CHECK-NEXT:  %[[D:.*]] = quantized.depthwise_conv2d %[[I]], %[[W]], %[[B]] {{.*}} -> tensor<1x1x5x3x!quantized.uniform<i8:f32, 0.2:-1>>
// CHECK-NEXT:  %[[O:.*]] = quantized.reshape %[[D]] {layer = "rq"} : tensor<1x1x5x3x!quantized.uniform<i8:f32, 0.2:-1>> -> tensor<1x5x3x!quantized.uniform<i8:f32, 0.2:-1>>
// CHECK-NEXT:  func.return %[[O]]
func.func @lower_rank(%x: tensor<1x5x3x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x5x3x!quantized.uniform<i8:f32, 0.2:-1>> {
  %r = quantized.requantize %x {layer = "rq"} : tensor<1x5x3x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x5x3x!quantized.uniform<i8:f32, 0.2:-1>>
  func.return %r : tensor<1x5x3x!quantized.uniform<i8:f32, 0.2:-1>>
}

// -----

// Between storage types (int8 -> int16, as the 16x8 layers of npuc's precision
// policy need) the same conv reads int8 and writes int16: QUANTIZE's rescale
// (float32 0.1 / 0.001, about 0.78125 * 2^7) and the int16 output clamp; Vela 5.2 runs
// such a QUANTIZE as a pool with an int8 IFM and an int16 OFM.
// CHECK-LABEL: func.func @widths
// CHECK-NEXT:  %[[W:.*]] = quantized.constant dense<1> : tensor<1x1x1x3xi8>
// CHECK-NEXT:  %[[B:.*]] = quantized.constant dense<0> : tensor<3xi32>
// CHECK-NEXT:  %[[D:.*]] = quantized.depthwise_conv2d %{{.*}}, %[[W]], %[[B]] {{{.*}}rescale = array<i32: 1677721545, 7>} : {{.*}} -> tensor<1x2x2x3x!quantized.uniform<i16:f32, 0.001:0>>
// CHECK-NEXT:  func.return %[[D]]
func.func @widths(%x: tensor<1x2x2x3x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x2x2x3x!quantized.uniform<i16:f32, 0.001:0>> {
  %a = quantized.requantize %x : tensor<1x2x2x3x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x2x2x3x!quantized.uniform<i16:f32, 0.001:0>>
  func.return %a : tensor<1x2x2x3x!quantized.uniform<i16:f32, 0.001:0>>
}

// -----

// A requantize of a map of more than 4 dimensions stays.
// CHECK-LABEL: func.func @stays
// CHECK-NEXT:  quantized.requantize %{{.*}} : tensor<1x1x2x1x3x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x1x2x1x3x!quantized.uniform<i8:f32, 0.2:-1>>
// CHECK-NOT:   quantized.depthwise_conv2d
func.func @stays(%y: tensor<1x1x2x1x3x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x1x2x1x3x!quantized.uniform<i8:f32, 0.2:-1>> {
  %b = quantized.requantize %y : tensor<1x1x2x1x3x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x1x2x1x3x!quantized.uniform<i8:f32, 0.2:-1>>
  func.return %b : tensor<1x1x2x1x3x!quantized.uniform<i8:f32, 0.2:-1>>
}
