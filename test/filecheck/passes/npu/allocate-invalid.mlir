// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p npu-allocate | filecheck %s
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'npu-allocate{target=ethos-u99}' | filecheck %s --check-prefix=TARGET

// TARGET: npu-allocate: unknown target 'ethos-u99'

// Two 4 GiB feature maps do not fit the SRAM arena (Shared_Sram: the 32-bit address space).
// CHECK: npu-allocate: memory 'sram': buffers need 8589934592 bytes but its capacity is 4294967296 bytes (largest buffer: arg0, 4294967296 bytes)
func.func @t(%x: tensor<1x32768x32768x4x!quantized.uniform<i8:f32, 0.1:0>> {npu.memory = "sram"}) -> tensor<1x32768x4x32768x!quantized.uniform<i8:f32, 0.1:0>> {
  %t = quantized.transpose %x {layer = "t", npu.placement = "cpu", npu.cpu_reason = "no NPU operator", npu.memory = "sram", perm = array<i64: 0, 1, 3, 2>} : tensor<1x32768x32768x4x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x32768x4x32768x!quantized.uniform<i8:f32, 0.1:0>>
  func.return %t : tensor<1x32768x4x32768x!quantized.uniform<i8:f32, 0.1:0>>
}

// -----

// npu-allocate places what npu-schedule assigned to memories.
// CHECK: npu-allocate: t (quantized.transpose) has no npu.memory: run npu-schedule first
func.func @t_2(%x: tensor<1x2x4x8x!quantized.uniform<i8:f32, 0.02:0>>) -> tensor<1x4x2x8x!quantized.uniform<i8:f32, 0.02:0>> {
  %t = quantized.transpose %x {layer = "t", npu.placement = "cpu", npu.cpu_reason = "no NPU operator", perm = array<i64: 0, 2, 1, 3>} : tensor<1x2x4x8x!quantized.uniform<i8:f32, 0.02:0>> -> tensor<1x4x2x8x!quantized.uniform<i8:f32, 0.02:0>>
  func.return %t : tensor<1x4x2x8x!quantized.uniform<i8:f32, 0.02:0>>
}

// -----

// A memory the target does not have.
// CHECK: npu-allocate: target ethos-u55-128 has no memory dram
func.func @dram_argument(%x: tensor<1x2x4x8x!quantized.uniform<i8:f32, 0.02:0>> {npu.memory = "dram"}) -> tensor<1x2x4x8x!quantized.uniform<i8:f32, 0.02:0>> {
  func.return %x : tensor<1x2x4x8x!quantized.uniform<i8:f32, 0.02:0>>
}

// -----

// The passes work on the model's @main, or on a module's only function.
// CHECK: npu-allocate: the module has 2 functions and none is @main: name the model's @main
func.func @allocate_first(%x: tensor<2xi8>) -> tensor<2xi8> {
  func.return %x : tensor<2xi8>
}
func.func @allocate_second(%x: tensor<2xi8>) -> tensor<2xi8> {
  func.return %x : tensor<2xi8>
}

// -----

// Every memory the target lacks is named, in order.
// CHECK: npu-allocate: target ethos-u55-128 has no memory dram, ocm
func.func @two_unknown(%x: tensor<1x2x4x8x!quantized.uniform<i8:f32, 0.02:0>> {npu.memory = "ocm"}, %y: tensor<1x2x4x8x!quantized.uniform<i8:f32, 0.02:0>> {npu.memory = "dram"}) -> (tensor<1x2x4x8x!quantized.uniform<i8:f32, 0.02:0>>, tensor<1x2x4x8x!quantized.uniform<i8:f32, 0.02:0>>) {
  func.return %x, %y : tensor<1x2x4x8x!quantized.uniform<i8:f32, 0.02:0>>, tensor<1x2x4x8x!quantized.uniform<i8:f32, 0.02:0>>
}
