// RUN: npuc-opt %s --split-input-file -p npu-legalize | filecheck %s

// A float-interface chain the NPU runs whole: conv -> max pool -> reshape -> fc.
// CHECK-LABEL: func.func @conv_pool
// CHECK:       quantized.quantize %{{.*}} {npu.placement = "host"}
// CHECK:       quantized.constant dense<1>
// CHECK:       quantized.constant dense<0>
// CHECK:       quantized.conv2d {{.*}} {layer = "conv", npu.placement = "npu",
// CHECK:       quantized.max_pool2d {{.*}} {layer = "pool", npu.placement = "npu",
// CHECK:       quantized.reshape {{.*}} {layer = "flatten", npu.placement = "npu"}
// CHECK:       quantized.fully_connected {{.*}} {layer = "fc", npu.placement = "npu",
// CHECK:       quantized.dequantize %{{.*}} {npu.placement = "host"}
func.func @conv_pool(%x: tensor<1x8x8x3xf32>) -> tensor<1x10xf32> {
  %q = quantized.quantize %x : tensor<1x8x8x3xf32> -> tensor<1x8x8x3x!quantized.uniform<i8:f32, 0.02:-128>>
  %w = quantized.constant dense<1> : tensor<8x3x3x3xi8> -> tensor<8x3x3x3x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<8xi32>
  %c = quantized.conv2d %q, %w, %b {layer = "conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "relu"} : (tensor<1x8x8x3x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<8x3x3x3x!quantized.uniform<i8:f32, 0.01:0>>, tensor<8xi32>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.05:-128>>
  %p = quantized.max_pool2d %c {layer = "pool", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.05:-128>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-128>>
  %r = quantized.reshape %p {layer = "flatten"} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.05:-128>> -> tensor<1x128x!quantized.uniform<i8:f32, 0.05:-128>>
  %fw = quantized.constant dense<1> : tensor<10x128xi8> -> tensor<10x128x!quantized.uniform<i8:f32, 0.01:0>>
  %fb = quantized.constant dense<0> : tensor<10xi32>
  %f = quantized.fully_connected %r, %fw, %fb {layer = "fc", activation = "none"} : (tensor<1x128x!quantized.uniform<i8:f32, 0.05:-128>>, tensor<10x128x!quantized.uniform<i8:f32, 0.01:0>>, tensor<10xi32>) -> tensor<1x10x!quantized.uniform<i8:f32, 0.1:0>>
  %y = quantized.dequantize %f : tensor<1x10x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x10xf32>
  func.return %y : tensor<1x10xf32>
}

// -----

// A kernel taller than the target's 64 rows stays on the CPU.
// CHECK-LABEL: func.func @big
// CHECK:       quantized.conv2d {{.*}} {layer = "big", npu.placement = "cpu", npu.cpu_reason = "kernel height 80 outside 1..64",
func.func @big(%x: tensor<1x80x80x1x!quantized.uniform<i8:f32, 0.02:0>>) -> tensor<1x1x1x1x!quantized.uniform<i8:f32, 0.5:0>> {
  %w = quantized.constant dense<1> : tensor<1x80x80x1xi8> -> tensor<1x80x80x1x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<1xi32>
  %c = quantized.conv2d %x, %w, %b {layer = "big", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x80x80x1x!quantized.uniform<i8:f32, 0.02:0>>, tensor<1x80x80x1x!quantized.uniform<i8:f32, 0.01:0>>, tensor<1xi32>) -> tensor<1x1x1x1x!quantized.uniform<i8:f32, 0.5:0>>
  func.return %c : tensor<1x1x1x1x!quantized.uniform<i8:f32, 0.5:0>>
}

// -----

// Dilation counts: a 33-row kernel dilated by 2 spans 65 rows.
// CHECK-LABEL: func.func @dilated
// CHECK:       npu.cpu_reason = "kernel height 65 outside 1..64"
func.func @dilated(%x: tensor<1x70x4x1x!quantized.uniform<i8:f32, 0.02:0>>) -> tensor<1x6x4x1x!quantized.uniform<i8:f32, 0.5:0>> {
  %w = quantized.constant dense<1> : tensor<1x33x1x1xi8> -> tensor<1x33x1x1x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<1xi32>
  %c = quantized.conv2d %x, %w, %b {layer = "dilated", strides = array<i64: 1, 1>, dilations = array<i64: 2, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x70x4x1x!quantized.uniform<i8:f32, 0.02:0>>, tensor<1x33x1x1x!quantized.uniform<i8:f32, 0.01:0>>, tensor<1xi32>) -> tensor<1x6x4x1x!quantized.uniform<i8:f32, 0.5:0>>
  func.return %c : tensor<1x6x4x1x!quantized.uniform<i8:f32, 0.5:0>>
}

// -----

// Ops the NPU lacks, stride and padded-average-pool limits, and data types
// (the H/W transpose is a strided copy, see @copies).
// CHECK-LABEL: func.func @t_clamp
// CHECK:       quantized.transpose {{.*}} {layer = "t", npu.placement = "npu",
// CHECK:       quantized.clamp {{.*}} {layer = "clamp", npu.placement = "cpu", npu.cpu_reason = "no NPU operator for quantized.clamp on ethos-u55-128",
// CHECK:       quantized.max_pool2d {{.*}} {layer = "strided", npu.placement = "cpu", npu.cpu_reason = "stride height 4 outside 1..3",
// CHECK:       quantized.avg_pool2d {{.*}} {layer = "padded", npu.placement = "cpu", npu.cpu_reason = "kernel height with padding 9 outside 1..8",
// CHECK:       quantized.avg_pool2d {{.*}} {layer = "unpadded", npu.placement = "npu",
// CHECK:       quantized.add {{.*}} {layer = "wide", npu.placement = "cpu", npu.cpu_reason = "ofm data type int32 not in int8, int16",
func.func @t_clamp(%x: tensor<1x16x16x8x!quantized.uniform<i8:f32, 0.1:0>>, %a: tensor<1x4x4x8x!quantized.uniform<i32:f32, 0.1:0>>) -> (tensor<1x16x16x8x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x16x16x8x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x4x8x!quantized.uniform<i32:f32, 0.1:0>>) {
  %t = quantized.transpose %x {layer = "t", perm = array<i64: 0, 2, 1, 3>} : tensor<1x16x16x8x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x16x16x8x!quantized.uniform<i8:f32, 0.1:0>>
  %k = quantized.clamp %t {layer = "clamp", min = 0, max = 100} : tensor<1x16x16x8x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x16x16x8x!quantized.uniform<i8:f32, 0.1:0>>
  %s = quantized.max_pool2d %k {layer = "strided", kernel = array<i64: 4, 4>, strides = array<i64: 4, 4>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x16x16x8x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:0>>
  %p = quantized.avg_pool2d %x {layer = "padded", kernel = array<i64: 9, 9>, strides = array<i64: 1, 1>, padding = array<i64: 4, 4, 4, 4>, activation = "none"} : (tensor<1x16x16x8x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x16x16x8x!quantized.uniform<i8:f32, 0.1:0>>
  %u = quantized.avg_pool2d %x {layer = "unpadded", kernel = array<i64: 9, 9>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x16x16x8x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.1:0>>
  %d = quantized.add %a, %a {layer = "wide", activation = "none"} : (tensor<1x4x4x8x!quantized.uniform<i32:f32, 0.1:0>>, tensor<1x4x4x8x!quantized.uniform<i32:f32, 0.1:0>>) -> tensor<1x4x4x8x!quantized.uniform<i32:f32, 0.1:0>>
  func.return %k, %s, %p, %u, %d : tensor<1x16x16x8x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x16x16x8x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x4x8x!quantized.uniform<i32:f32, 0.1:0>>
}

// -----

// legalize judges the op as it is: a global average pool exported with
// stride 8 breaks the stride rule. quantized-canonicalize, which npuc compile
// runs first, rewrites that irrelevant stride to 1 (see its own tests).
// CHECK-LABEL: func.func @gap
// CHECK:       quantized.avg_pool2d {{.*}} {layer = "gap", npu.placement = "cpu", npu.cpu_reason = "stride height 8 outside 1..3", kernel = array<i64: 8, 8>, strides = array<i64: 8, 8>,
func.func @gap(%x: tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.02:-128>> {
  %p = quantized.avg_pool2d %x {layer = "gap", kernel = array<i64: 8, 8>, strides = array<i64: 8, 8>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.02:-128>>
  func.return %p : tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.02:-128>>
}

// -----

// int8 softmax over the last axis runs on the NPU; int16, another axis or
// another output form stay on the CPU with the reason.
// CHECK-LABEL: func.func @last_middle
// CHECK:       quantized.softmax {{.*}} {layer = "last", npu.placement = "npu", axis = 2 : i64
// CHECK:       quantized.softmax {{.*}} {layer = "middle", npu.placement = "cpu", npu.cpu_reason = "softmax axis 1 is not the last axis (2)"
// CHECK:       quantized.softmax {{.*}} {layer = "rescaled", npu.placement = "cpu", npu.cpu_reason = "softmax output is not scale 1/256, zero point -128"
// CHECK:       quantized.softmax {{.*}} {layer = "wide", npu.placement = "cpu", npu.cpu_reason = "ofm data type int16 not in int8"
func.func @last_middle(%x: tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>>, %w: tensor<1x2x10x!quantized.uniform<i16:f32, 0.1:0>>) -> (tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>, tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>, tensor<1x2x10x!quantized.uniform<i8:f32, 0.05:0>>, tensor<1x2x10x!quantized.uniform<i16:f32, 3.0517578125e-05:0>>) {
  %a = quantized.softmax %x {layer = "last", axis = 2 : i64, beta = 1.0 : f32} : tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>
  %b = quantized.softmax %x {layer = "middle", axis = 1 : i64, beta = 1.0 : f32} : tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>
  %d = quantized.softmax %x {layer = "rescaled", axis = 2 : i64, beta = 1.0 : f32} : tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x2x10x!quantized.uniform<i8:f32, 0.05:0>>
  %e = quantized.softmax %w {layer = "wide", axis = 2 : i64, beta = 1.0 : f32} : tensor<1x2x10x!quantized.uniform<i16:f32, 0.1:0>> -> tensor<1x2x10x!quantized.uniform<i16:f32, 3.0517578125e-05:0>>
  func.return %a, %b, %d, %e : tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>, tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>, tensor<1x2x10x!quantized.uniform<i8:f32, 0.05:0>>, tensor<1x2x10x!quantized.uniform<i16:f32, 3.0517578125e-05:0>>
}

// -----

// The softmax rules' edges: a beta far below 1 is fine; the output needs
// both scale 1/256 and zero point -128 (1/128 is off by exactly 1/256).
// CHECK-LABEL: func.func @softmax_edges
// CHECK:       quantized.softmax {{.*}} {layer = "beta_tiny", npu.placement = "npu", axis = 2 : i64
// CHECK:       quantized.softmax {{.*}} {layer = "beta_half", npu.placement = "npu", axis = 2 : i64
// CHECK:       quantized.softmax {{.*}} {layer = "zero_point_0", npu.placement = "cpu", npu.cpu_reason = "softmax output is not scale 1/256, zero point -128"
// CHECK:       quantized.softmax {{.*}} {layer = "scale_1_128", npu.placement = "cpu", npu.cpu_reason = "softmax output is not scale 1/256, zero point -128"
func.func @softmax_edges(%x: tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>>) -> (tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>, tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>, tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:0>>, tensor<1x2x10x!quantized.uniform<i8:f32, 0.0078125:-128>>) {
  %a = quantized.softmax %x {layer = "beta_tiny", axis = 2 : i64, beta = 0.001 : f32} : tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>
  %b = quantized.softmax %x {layer = "beta_half", axis = 2 : i64, beta = 0.5 : f32} : tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>
  %c = quantized.softmax %x {layer = "zero_point_0", axis = 2 : i64, beta = 1.0 : f32} : tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:0>>
  %d = quantized.softmax %x {layer = "scale_1_128", axis = 2 : i64, beta = 1.0 : f32} : tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x2x10x!quantized.uniform<i8:f32, 0.0078125:-128>>
  func.return %a, %b, %c, %d : tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>, tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>, tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:0>>, tensor<1x2x10x!quantized.uniform<i8:f32, 0.0078125:-128>>
}

// -----

// Transposes and slices run as strided copies: a channel shuffle's transpose,
// an NHWC to NCHW transpose, a channel slice and a strided slice; the concat
// of copies is a view (they write into its slices). A slice reversing an axis
// (negative stride) and a transpose needing more copy operations than the
// rule's max_commands (64; here 9 x 10) stay on the CPU.
// CHECK-LABEL: func.func @copies
// CHECK:       quantized.transpose {{.*}} {layer = "shuffle", npu.placement = "npu"
// CHECK:       quantized.transpose {{.*}} {layer = "to_nchw", npu.placement = "npu"
// CHECK:       quantized.slice {{.*}} {layer = "channels", npu.placement = "npu"
// CHECK:       quantized.slice {{.*}} {layer = "strided", npu.placement = "npu"
// CHECK:       quantized.concat {{.*}} {layer = "join", npu.placement = "npu",
// CHECK:       quantized.slice {{.*}} {layer = "reversed", npu.placement = "cpu", npu.cpu_reason = "slice reverses axis 2 (a negative stride; feature-map strides are positive)"
// CHECK:       quantized.transpose {{.*}} {layer = "scattered", npu.placement = "cpu", npu.cpu_reason = "a strided copy of 90 operations exceeds the 64 the target allows"
func.func @copies(%x: tensor<6x2x4x!quantized.uniform<i8:f32, 0.1:0>>, %y: tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>>, %z: tensor<9x10x11x12x!quantized.uniform<i16:f32, 0.1:0>>) -> (tensor<6x4x2x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x8x4x6x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x6x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x3x!quantized.uniform<i8:f32, 0.1:0>>, tensor<9x12x11x10x!quantized.uniform<i16:f32, 0.1:0>>) {
  %a = quantized.transpose %x {layer = "shuffle", perm = array<i64: 0, 2, 1>} : tensor<6x2x4x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<6x4x2x!quantized.uniform<i8:f32, 0.1:0>>
  %b = quantized.transpose %y {layer = "to_nchw", perm = array<i64: 0, 3, 1, 2>} : tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x8x4x6x!quantized.uniform<i8:f32, 0.1:0>>
  %c = quantized.slice %y {layer = "channels", begin = array<i64: 0, 0, 0, 4>, end = array<i64: 1, 4, 6, 8>, strides = array<i64: 1, 1, 1, 1>} : tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>
  %d = quantized.slice %y {layer = "strided", begin = array<i64: 0, 0, 0, 0>, end = array<i64: 1, 4, 6, 8>, strides = array<i64: 1, 1, 1, 4>} : tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x4x6x2x!quantized.uniform<i8:f32, 0.1:0>>
  %e = quantized.concat %c, %d {layer = "join", axis = 3 : i64} : (tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x2x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x4x6x6x!quantized.uniform<i8:f32, 0.1:0>>
  %f = quantized.slice %y {layer = "reversed", begin = array<i64: 0, 0, 5, 0>, end = array<i64: 1, 4, -1, 3>, strides = array<i64: 1, 1, -1, 1>} : tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x4x6x3x!quantized.uniform<i8:f32, 0.1:0>>
  %g = quantized.transpose %z {layer = "scattered", perm = array<i64: 0, 3, 2, 1>} : tensor<9x10x11x12x!quantized.uniform<i16:f32, 0.1:0>> -> tensor<9x12x11x10x!quantized.uniform<i16:f32, 0.1:0>>
  func.return %a, %b, %e, %f, %g : tensor<6x4x2x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x8x4x6x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x6x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x3x!quantized.uniform<i8:f32, 0.1:0>>, tensor<9x12x11x10x!quantized.uniform<i16:f32, 0.1:0>>
}

// -----

// A split read by an op the CPU runs stays on the CPU: a CPU operation reads
// dense tensors, not a strided slice of the split's input.
// CHECK-LABEL: func.func @split_for_the_cpu
// CHECK:       quantized.split {{.*}} {layer = "halves", npu.placement = "cpu", npu.cpu_reason = "output 1 feeds quantized.depth_to_space, which runs on the CPU and reads dense tensors"
func.func @split_for_the_cpu(%x: tensor<1x2x2x8x!quantized.uniform<i8:f32, 0.1:0>>) -> (tensor<1x2x2x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x4x1x!quantized.uniform<i8:f32, 0.1:0>>) {
  %a, %b = quantized.split %x {layer = "halves", axis = 3 : i64} : (tensor<1x2x2x8x!quantized.uniform<i8:f32, 0.1:0>>) -> (tensor<1x2x2x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x2x2x4x!quantized.uniform<i8:f32, 0.1:0>>)
  %c = quantized.add %a, %a {activation = "none"} : (tensor<1x2x2x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x2x2x4x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x2x2x4x!quantized.uniform<i8:f32, 0.1:0>>
  %d = quantized.depth_to_space %b {block_size = 2 : i64, mode = "DCR"} : tensor<1x2x2x4x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x4x4x1x!quantized.uniform<i8:f32, 0.1:0>>
  func.return %c, %d : tensor<1x2x2x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x4x1x!quantized.uniform<i8:f32, 0.1:0>>
}

// -----

// An NHWC to NCHW transpose of a 256 x 256 map is one copy command of
// 65536 columns, more than the NPU's 65535: the CPU.
// CHECK-LABEL: func.func @tall_copy
// CHECK:       quantized.transpose {{.*}} {layer = "to_nchw", npu.placement = "cpu", npu.cpu_reason = "a strided copy command's width 65536 exceeds 65535"
func.func @tall_copy(%x: tensor<1x256x256x2x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x2x256x256x!quantized.uniform<i8:f32, 0.1:0>> {
  %t = quantized.transpose %x {layer = "to_nchw", perm = array<i64: 0, 3, 1, 2>} : tensor<1x256x256x2x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x2x256x256x!quantized.uniform<i8:f32, 0.1:0>>
  func.return %t : tensor<1x2x256x256x!quantized.uniform<i8:f32, 0.1:0>>
}

// -----

// Int8 activations are NPU lookup tables; a PReLU with a slope per channel
// stays on the CPU (one table holds one function), as does an int16 sigmoid.
// CHECK-LABEL: func.func @activations
// CHECK:       quantized.logistic {{.*}} {layer = "sigmoid", npu.placement = "npu"}
// CHECK:       quantized.gelu {{.*}} {layer = "gelu", npu.placement = "npu"}
// CHECK:       quantized.hard_sigmoid {{.*}} {layer = "hsig", npu.placement = "npu",
// CHECK:       quantized.prelu {{.*}} {layer = "one_slope", npu.placement = "npu"}
// CHECK:       quantized.prelu {{.*}} {layer = "slopes", npu.placement = "cpu", npu.cpu_reason = "its 2 slopes differ: one 256-entry table holds one function
// CHECK:       quantized.logistic {{.*}} {layer = "sigmoid16", npu.placement = "cpu", npu.cpu_reason = "ofm data type int16 not in int8"}
func.func @activations(%x: tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.05:3>>, %x16: tensor<1x4x4x2x!quantized.uniform<i16:f32, 0.0005:0>>) -> (tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.00390625:-128>>, tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.03:-100>>, tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.00390625:-128>>, tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.04:10>>, tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.04:10>>, tensor<1x4x4x2x!quantized.uniform<i16:f32, 3.0517578125e-05:0>>) {
  %s = quantized.logistic %x {layer = "sigmoid"} : tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.05:3>> -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.00390625:-128>>
  %g = quantized.gelu %x {layer = "gelu"} : tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.05:3>> -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.03:-100>>
  %h = quantized.hard_sigmoid %x {layer = "hsig", alpha = 0.16666667 : f32, beta = 0.5 : f32} : tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.05:3>> -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.00390625:-128>>
  %one = quantized.constant dense<[7, 7]> : tensor<2xi8> -> tensor<2x!quantized.uniform<i8:f32, 0.01:0>>
  %p1 = quantized.prelu %x, %one {layer = "one_slope"} : (tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.05:3>>, tensor<2x!quantized.uniform<i8:f32, 0.01:0>>) -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.04:10>>
  %two = quantized.constant dense<[7, -3]> : tensor<2xi8> -> tensor<2x!quantized.uniform<i8:f32, 0.01:0>>
  %p2 = quantized.prelu %x, %two {layer = "slopes"} : (tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.05:3>>, tensor<2x!quantized.uniform<i8:f32, 0.01:0>>) -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.04:10>>
  %s16 = quantized.logistic %x16 {layer = "sigmoid16"} : tensor<1x4x4x2x!quantized.uniform<i16:f32, 0.0005:0>> -> tensor<1x4x4x2x!quantized.uniform<i16:f32, 3.0517578125e-05:0>>
  func.return %s, %g, %h, %p1, %p2, %s16 : tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.00390625:-128>>, tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.03:-100>>, tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.00390625:-128>>, tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.04:10>>, tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.04:10>>, tensor<1x4x4x2x!quantized.uniform<i16:f32, 3.0517578125e-05:0>>
}

// -----

// A concat with a constant input (a class token) whose slice is contiguous and
// DMA-aligned, the other input a reshape of a convolution's result, is a view.
// CHECK-LABEL: func.func @class_token
// CHECK:       quantized.concat {{.*}} {layer = "concat", npu.placement = "npu", axis = 1 : i64}

func.func @class_token(%x: tensor<1x4x3x4x!quantized.uniform<i8:f32, 0.05:-3>>) -> tensor<1x13x16x!quantized.uniform<i8:f32, 0.05:-3>> {
  %wc1 = quantized.constant dense<"0xBDCEF8A622D23B54C1C9C127B1E7DC68F933969F3966337D3B9CD92B3EB05C70BD19D666E1AD247CA44CAE08E10C839E44927378A64395D269979FE1E037EAC6"> : tensor<16x1x1x4xi8> -> tensor<16x1x1x4x!quantized.uniform<i8:f32, 0.02:0>>
  %bc1 = quantized.constant dense<[-20, 178, 43, 219, 147, 245, -262, -300, 88, 134, 141, 189, -61, 201, 4, -201]> : tensor<16xi32>
  %c1 = quantized.conv2d %x, %wc1, %bc1 {layer = "c1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x3x4x!quantized.uniform<i8:f32, 0.05:-3>>, tensor<16x1x1x4x!quantized.uniform<i8:f32, 0.02:0>>, tensor<16xi32>) -> tensor<1x4x3x16x!quantized.uniform<i8:f32, 0.05:-3>>
  %r = quantized.reshape %c1 : tensor<1x4x3x16x!quantized.uniform<i8:f32, 0.05:-3>> -> tensor<1x12x16x!quantized.uniform<i8:f32, 0.05:-3>>
  %t = quantized.constant dense<"0x3CB4DD6569DFE35D7F535A51899B755A"> : tensor<1x1x16xi8> -> tensor<1x1x16x!quantized.uniform<i8:f32, 0.05:-3>>
  %cat = quantized.concat %t, %r {layer = "concat", axis = 1 : i64} : (tensor<1x1x16x!quantized.uniform<i8:f32, 0.05:-3>>, tensor<1x12x16x!quantized.uniform<i8:f32, 0.05:-3>>) -> tensor<1x13x16x!quantized.uniform<i8:f32, 0.05:-3>>
  func.return %cat : tensor<1x13x16x!quantized.uniform<i8:f32, 0.05:-3>>
}


// -----

// A grouped convolution (2 groups) becomes a split, one convolution per group
// with its rows of the weights, bias and scales, and a concat: memory views
// around two NPU convolutions, all of the grouped layer.
// CHECK-LABEL: func.func @grouped
// CHECK:       %[[P0:.*]], %[[P1:.*]] = quantized.split %{{.*}} {layer = "g", npu.placement = "npu", axis = 3 : i64}
// CHECK:       %[[W0:.*]] = quantized.constant dense<[{{\[\[\[}}1, 2]]], {{\[\[\[}}3, 4]]]]> : tensor<2x1x1x2xi8> -> tensor<2x1x1x2x!quantized.uniform<i8:f32:0, {0.02:0, 0.03:0}>>
// CHECK:       %[[B0:.*]] = quantized.constant dense<[10, 20]> : tensor<2xi32>
// CHECK:       %[[G0:.*]] = quantized.conv2d %[[P0]], %[[W0]], %[[B0]] {layer = "g", npu.placement = "npu", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"}
// CHECK:       %[[W1:.*]] = quantized.constant dense<[{{\[\[\[}}5, 6]]], {{\[\[\[}}7, 8]]]]> : tensor<2x1x1x2xi8> -> tensor<2x1x1x2x!quantized.uniform<i8:f32:0, {0.01:0, 0.04:0}>>
// CHECK:       %[[B1:.*]] = quantized.constant dense<[30, 40]> : tensor<2xi32>
// CHECK:       %[[G1:.*]] = quantized.conv2d %[[P1]], %[[W1]], %[[B1]] {layer = "g", npu.placement = "npu",
// CHECK:       quantized.concat %[[G0]], %[[G1]] {layer = "g", npu.placement = "npu", axis = 3 : i64}
// CHECK-NOT:   groups
func.func @grouped(%x: tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.05:-3>>) -> tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.05:-3>> {
  %w = quantized.constant dense<[[[[1, 2]]], [[[3, 4]]], [[[5, 6]]], [[[7, 8]]]]> : tensor<4x1x1x2xi8> -> tensor<4x1x1x2x!quantized.uniform<i8:f32:0, {0.02:0, 0.03:0, 0.01:0, 0.04:0}>>
  %b = quantized.constant dense<[10, 20, 30, 40]> : tensor<4xi32>
  %c = quantized.conv2d %x, %w, %b {layer = "g", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, groups = 2 : i64, activation = "relu"} : (tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.05:-3>>, tensor<4x1x1x2x!quantized.uniform<i8:f32:0, {0.02:0, 0.03:0, 0.01:0, 0.04:0}>>, tensor<4xi32>) -> tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.05:-3>>
  func.return %c : tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.05:-3>>
}

// -----

// A grouped convolution the NPU cannot run (dilation 3) is split all the same:
// each group runs on the CPU as a plain convolution (a CONV_2D every TFLite
// runtime runs), with the rule it violates; the split and the concat around
// them follow, saying why they cannot be views.
// CHECK-LABEL: func.func @grouped_on_the_cpu
// CHECK:       quantized.split {{.*}}npu.placement = "cpu", npu.cpu_reason = "output 0 feeds quantized.conv2d, which runs on the CPU and reads dense tensors"
// CHECK:       quantized.conv2d {{.*}}npu.placement = "cpu", npu.cpu_reason = "dilation height 3 outside 1..2"
// CHECK:       quantized.conv2d {{.*}}npu.placement = "cpu", npu.cpu_reason = "dilation height 3 outside 1..2"
// CHECK:       quantized.concat {{.*}}npu.placement = "cpu", npu.cpu_reason = "input 0 is not written by an NPU command"
func.func @grouped_on_the_cpu(%x: tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.05:-3>>) -> tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.05:-3>> {
  %w = quantized.constant dense<1> : tensor<4x3x3x2xi8> -> tensor<4x3x3x2x!quantized.uniform<i8:f32:0, {0.02:0, 0.03:0, 0.01:0, 0.04:0}>>
  %b = quantized.constant dense<0> : tensor<4xi32>
  %c = quantized.conv2d %x, %w, %b {layer = "g", strides = array<i64: 1, 1>, dilations = array<i64: 3, 3>, padding = array<i64: 3, 3, 3, 3>, groups = 2 : i64, activation = "none"} : (tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.05:-3>>, tensor<4x3x3x2x!quantized.uniform<i8:f32:0, {0.02:0, 0.03:0, 0.01:0, 0.04:0}>>, tensor<4xi32>) -> tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.05:-3>>
  func.return %c : tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.05:-3>>
}

// -----

// A bias must fit the Ethos-U scale/bias record's 40 bits (max_bias_bits): 2^39 - 1 does, 2^39 does not.
// CHECK-LABEL: func.func @wide_bias
// CHECK:       quantized.fully_connected {{.*}} {layer = "fits", npu.placement = "npu",
// CHECK:       quantized.fully_connected {{.*}} {layer = "too_wide", npu.placement = "cpu", npu.cpu_reason = "bias value 549755813888 (output channel 1) does not fit 40 bits",
func.func @wide_bias(%x: tensor<1x8x!quantized.uniform<i16:f32, 0.05:0>>) -> (tensor<1x2x!quantized.uniform<i16:f32, 1000.0:0>>, tensor<1x2x!quantized.uniform<i16:f32, 1000.0:0>>) {
  %w = quantized.constant dense<1> : tensor<2x8xi8> -> tensor<2x8x!quantized.uniform<i8:f32, 0.01:0>>
  %fits = quantized.constant dense<[-549755813888, 549755813887]> : tensor<2xi64>
  %wide = quantized.constant dense<[0, 549755813888]> : tensor<2xi64>
  %a = quantized.fully_connected %x, %w, %fits {layer = "fits", activation = "none"} : (tensor<1x8x!quantized.uniform<i16:f32, 0.05:0>>, tensor<2x8x!quantized.uniform<i8:f32, 0.01:0>>, tensor<2xi64>) -> tensor<1x2x!quantized.uniform<i16:f32, 1000.0:0>>
  %b = quantized.fully_connected %x, %w, %wide {layer = "too_wide", activation = "none"} : (tensor<1x8x!quantized.uniform<i16:f32, 0.05:0>>, tensor<2x8x!quantized.uniform<i8:f32, 0.01:0>>, tensor<2xi64>) -> tensor<1x2x!quantized.uniform<i16:f32, 1000.0:0>>
  func.return %a, %b : tensor<1x2x!quantized.uniform<i16:f32, 1000.0:0>>, tensor<1x2x!quantized.uniform<i16:f32, 1000.0:0>>
}
