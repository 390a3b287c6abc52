// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p npu-schedule | filecheck %s
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'npu-schedule{target=ethos-u99}' | filecheck %s --check-prefix=TARGET
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'npu-schedule{optimise=fastest}' | filecheck %s --check-prefix=OPTIMISE
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'npu-schedule{weight-staging=always}' | filecheck %s --check-prefix=STAGING

// TARGET: npu-schedule: unknown target 'ethos-u99'
// OPTIMISE: npu-schedule: unknown optimise goal 'fastest' (known: Performance, Size)
// STAGING: npu-schedule: unknown weight-staging rule 'always' (known: pays, fits)

// An NPU op without a block: npu-tile has not run.
// CHECK: npu-schedule: conv (quantized.conv2d) has no npu.block: run npu-tile first
func.func @conv(%x: tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.02:0>>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.5:0>> {
  %w = quantized.constant dense<1> : tensor<8x1x1x8xi8> -> tensor<8x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<8xi32>
  %c = quantized.conv2d %x, %w, %b {layer = "conv", npu.placement = "npu", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.02:0>>, tensor<8x1x1x8x!quantized.uniform<i8:f32, 0.01:0>>, tensor<8xi32>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.5:0>>
  func.return %c : tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.5:0>>
}

// -----

// An op without a placement: npu-legalize has not run.
// CHECK: npu-schedule: t (quantized.transpose) has no npu.placement: run npu-legalize first
func.func @t(%x: tensor<1x2x4x8x!quantized.uniform<i8:f32, 0.02:0>>) -> tensor<1x4x2x8x!quantized.uniform<i8:f32, 0.02:0>> {
  %t = quantized.transpose %x {layer = "t", perm = array<i64: 0, 2, 1, 3>} : tensor<1x2x4x8x!quantized.uniform<i8:f32, 0.02:0>> -> tensor<1x4x2x8x!quantized.uniform<i8:f32, 0.02:0>>
  func.return %t : tensor<1x4x2x8x!quantized.uniform<i8:f32, 0.02:0>>
}

// -----

// The op order is the schedule: it must be topological.
// CHECK: npu-schedule: second (quantized.transpose) reads a value defined after it
func.func @second_first(%x: tensor<1x2x2x8x!quantized.uniform<i8:f32, 0.02:0>>) -> tensor<1x2x2x8x!quantized.uniform<i8:f32, 0.02:0>> {
  %b = quantized.transpose %a {layer = "second", npu.placement = "cpu", npu.cpu_reason = "no NPU operator", perm = array<i64: 0, 2, 1, 3>} : tensor<1x2x2x8x!quantized.uniform<i8:f32, 0.02:0>> -> tensor<1x2x2x8x!quantized.uniform<i8:f32, 0.02:0>>
  %a = quantized.transpose %x {layer = "first", npu.placement = "cpu", npu.cpu_reason = "no NPU operator", perm = array<i64: 0, 2, 1, 3>} : tensor<1x2x2x8x!quantized.uniform<i8:f32, 0.02:0>> -> tensor<1x2x2x8x!quantized.uniform<i8:f32, 0.02:0>>
  func.return %b : tensor<1x2x2x8x!quantized.uniform<i8:f32, 0.02:0>>
}

// -----

// The passes work on the model's @main, or on a module's only function.
// CHECK: npu-schedule: the module has 2 functions and none is @main: name the model's @main
func.func @schedule_first(%x: tensor<2xi8>) -> tensor<2xi8> {
  func.return %x : tensor<2xi8>
}
func.func @schedule_second(%x: tensor<2xi8>) -> tensor<2xi8> {
  func.return %x : tensor<2xi8>
}
