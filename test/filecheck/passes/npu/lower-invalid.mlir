// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p npu-lower | filecheck %s

// CHECK: npu-lower: pool1 (quantized.max_pool2d) has no npu.placement: run npu-legalize first
builtin.module {
  func.func @pool1(%x: tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>> {
    %p = quantized.max_pool2d %x {layer = "pool1", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>>) -> tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>>
    func.return %p : tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// CHECK: npu-lower: pool1 (quantized.max_pool2d) has no npu.block: run npu-tile first
builtin.module {
  func.func @pool1_2(%x: tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>> {
    %p = quantized.max_pool2d %x {layer = "pool1", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none", npu.placement = "npu", npu.memory = "sram", npu.offset = 32 : i64} : (tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>>) -> tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>>
    func.return %p : tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// CHECK: npu-lower: pool1 (quantized.max_pool2d) has no npu.memory/npu.offset: run npu-allocate first
builtin.module {
  func.func @pool1_3(%x: tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>> {
    %p = quantized.max_pool2d %x {layer = "pool1", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none", npu.placement = "npu", npu.block = array<i64: 2, 2, 8>} : (tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>>) -> tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>>
    func.return %p : tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// CHECK: npu-lower: argument 0 of @elsewhere is in memory 'nowhere', which target 'ethos-u55-128' does not have (it has: sram, flash): run npu-allocate for this target
builtin.module {
  func.func @elsewhere(%x: tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "nowhere", npu.offset = 0 : i64}) -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>> {
    func.return %x : tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// CHECK: npu-lower: argument 0 of @unallocated_argument has no npu.memory/npu.offset: run npu-allocate first
builtin.module {
  func.func @unallocated_argument(%x: tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>>) -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>> {
    func.return %x : tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// CHECK: npu-lower: f32 argument 0 of @float_argument_not_quantized ('image') must feed exactly one host-placed quantized.quantize: run npu-legalize first
builtin.module {
  func.func @float_argument_not_quantized(%x: tensor<1x4x4x2xf32> {graph.name = "image"}) -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>> {
    %q = quantized.quantize %x {npu.memory = "sram", npu.offset = 0 : i64} : tensor<1x4x4x2xf32> -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>>
    func.return %q : tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// CHECK: npu-lower: d2s (quantized.depth_to_space) has no NPU command; place it on the CPU
builtin.module {
  func.func @no_command(%x: tensor<1x2x2x4x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x4x4x1x!quantized.uniform<i8:f32, 0.5:0>> {
    %t = quantized.depth_to_space %x {layer = "d2s", block_size = 2 : i64, mode = "DCR", npu.placement = "npu", npu.block = array<i64: 1, 2, 8>, npu.memory = "sram", npu.offset = 32 : i64} : tensor<1x2x2x4x!quantized.uniform<i8:f32, 0.5:0>> -> tensor<1x4x4x1x!quantized.uniform<i8:f32, 0.5:0>>
    func.return %t : tensor<1x4x4x1x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// CHECK: npu-lower: reshape flatten (quantized.reshape) must share its input's buffer (sram at 0): run npu-allocate again
builtin.module {
  func.func @flatten(%x: tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x32x!quantized.uniform<i8:f32, 0.5:0>> {
    %r = quantized.reshape %x {layer = "flatten", npu.placement = "npu", npu.memory = "sram", npu.offset = 64 : i64} : tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>> -> tensor<1x32x!quantized.uniform<i8:f32, 0.5:0>>
    func.return %r : tensor<1x32x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// CHECK: npu-lower: a constant read by add1 is in 'sram', not in the weights memory 'flash': run npu-allocate first
builtin.module {
  func.func @add1(%x: tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>> {
    %k = quantized.constant {npu.memory = "sram", npu.offset = 64 : i64} dense<1> : tensor<2xi8> -> tensor<2x!quantized.uniform<i8:f32, 0.5:0>>
    %a = quantized.add %x, %k {layer = "add1", activation = "none", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.memory = "sram", npu.offset = 32 : i64} : (tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>>, tensor<2x!quantized.uniform<i8:f32, 0.5:0>>) -> tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>>
    func.return %a : tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// CHECK: npu-lower: the module has 2 functions and none is @main: name the model's @main
builtin.module {
  func.func @first() {
    func.return
  }
  func.func @second() {
    func.return
  }
}

// -----

// CHECK: npu-lower: probs (quantized.softmax) has no npu.block: run npu-tile first
func.func @probs(%x: tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>> {
  %a = quantized.softmax %x {layer = "probs", npu.placement = "npu", npu.memory = "sram", npu.offset = 32 : i64, axis = 2 : i64, beta = 1.0 : f32} : tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>
  func.return %a : tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>
}

// -----

// CHECK: npu-lower: probs (quantized.softmax) has no npu.scratch_memory/npu.scratch_offset: run npu-schedule and npu-allocate first
func.func @probs_2(%x: tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>> {
  %a = quantized.softmax %x {layer = "probs", npu.placement = "npu", npu.block = array<i64: 1, 2, 16>, npu.memory = "sram", npu.offset = 32 : i64, axis = 2 : i64, beta = 1.0 : f32} : tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>
  func.return %a : tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>
}

// -----

// CHECK: npu-lower: f32 input 'x' is returned unchanged: the model has no layer to run
func.func @input_returned_unchanged(%x: tensor<1x4xf32> {graph.name = "x"}) -> tensor<1x4xf32> {
  func.return %x : tensor<1x4xf32>
}

// -----

// The row is the last axis (4096), not the second (1).
// CHECK: npu-lower: probs (quantized.softmax): rows of 4096 elements exceed the 4095 whose exps the NPU sums without overflow; the target's softmax rule must send it to the CPU
func.func @probs_3(%x: tensor<1x1x4096x!quantized.uniform<i8:f32, 0.1:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x1x4096x!quantized.uniform<i8:f32, 0.00390625:-128>> {
  %a = quantized.softmax %x {layer = "probs", npu.placement = "npu", npu.block = array<i64: 1, 2, 16>, npu.memory = "sram", npu.offset = 4096 : i64, npu.scratch_memory = "sram", npu.scratch_offset = 8192 : i64, axis = 2 : i64, beta = 1.0 : f32} : tensor<1x1x4096x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x1x4096x!quantized.uniform<i8:f32, 0.00390625:-128>>
  func.return %a : tensor<1x1x4096x!quantized.uniform<i8:f32, 0.00390625:-128>>
}

// -----

// CHECK: npu-lower: probs (quantized.softmax) has no npu.scratch_memory/npu.scratch_offset: run npu-schedule and npu-allocate first
func.func @scratch_without_offset(%x: tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>> {
  %a = quantized.softmax %x {layer = "probs", npu.placement = "npu", npu.block = array<i64: 1, 2, 16>, npu.memory = "sram", npu.offset = 32 : i64, npu.scratch_memory = "sram", axis = 2 : i64, beta = 1.0 : f32} : tensor<1x2x10x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>
  func.return %a : tensor<1x2x10x!quantized.uniform<i8:f32, 0.00390625:-128>>
}

// -----

// A host dequantize that feeds another op, not the model's result: no layer, so the op name alone.
// CHECK: npu-lower: quantized.dequantize is host-placed but does not convert a model input or output
func.func @dequantize_inside_the_model(%x: tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>> {
  %d = quantized.dequantize %x {npu.placement = "host"} : tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>> -> tensor<1x4xf32>
  %q = quantized.quantize %d {npu.placement = "host", npu.memory = "sram", npu.offset = 16 : i64} : tensor<1x4xf32> -> tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>
  func.return %q : tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>
}

// -----

// A dequantize run on the CPU: its f32 result has no feature map (only the host dequantizes).
// CHECK: npu-lower: the result of quantized.dequantize is not a per-tensor quantized feature map
func.func @dequantize_on_the_cpu(%x: tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x4xf32> {
  %d = quantized.dequantize %x {npu.placement = "cpu", npu.memory = "sram", npu.offset = 16 : i64} : tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>> -> tensor<1x4xf32>
  func.return %d : tensor<1x4xf32>
}

// -----

// CHECK: npu-lower: argument 0 of @per_axis_argument is not a per-tensor quantized feature map
func.func @per_axis_argument(%x: tensor<1x2x!quantized.uniform<i8:f32:1, {0.5:0, 0.25:0}>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x2x!quantized.uniform<i8:f32:1, {0.5:0, 0.25:0}>> {
  func.return %x : tensor<1x2x!quantized.uniform<i8:f32:1, {0.5:0, 0.25:0}>>
}

// -----

// CHECK: npu-lower: argument 0 of @memory_without_offset has no npu.memory/npu.offset: run npu-allocate first
func.func @memory_without_offset(%x: tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram"}) -> tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>> {
  func.return %x : tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>
}

// -----

// One offset for two results.
// CHECK: npu-lower: halves (quantized.split) has no npu.memory/npu.offset: run npu-allocate first
func.func @split_missing_an_offset(%x: tensor<1x2x2x4x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> (tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>>, tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>>) {
  %s:2 = quantized.split %x {layer = "halves", axis = 3 : i64, npu.placement = "cpu", npu.memory = "sram", npu.offset = array<i64: 16>} : (tensor<1x2x2x4x!quantized.uniform<i8:f32, 0.5:0>>) -> (tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>>, tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>>)
  func.return %s#0, %s#1 : tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>>, tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>>
}

// -----

// An offset alone is an allocation of its own too.
// CHECK: npu-lower: reshape flatten (quantized.reshape) must share its input's buffer (sram at 0): run npu-allocate again
func.func @reshape_with_an_offset_only(%x: tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x8x!quantized.uniform<i8:f32, 0.5:0>> {
  %r = quantized.reshape %x {layer = "flatten", npu.placement = "npu", npu.offset = 0 : i64} : tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>> -> tensor<1x8x!quantized.uniform<i8:f32, 0.5:0>>
  func.return %r : tensor<1x8x!quantized.uniform<i8:f32, 0.5:0>>
}

// -----

// CHECK: npu-lower: a constant read by nothing is in 'sram', not in the weights memory 'flash': run npu-allocate first
func.func @unread_constant(%x: tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>> {
  %k = quantized.constant {npu.memory = "sram", npu.offset = 64 : i64} dense<1> : tensor<4xi8> -> tensor<4x!quantized.uniform<i8:f32, 0.5:0>>
  func.return %x : tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>
}

// -----

// CHECK: npu-lower: a constant read by add1, add2 is in 'sram', not in the weights memory 'flash': run npu-allocate first
func.func @constant_read_twice(%x: tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>> {
  %k = quantized.constant {npu.memory = "sram", npu.offset = 64 : i64} dense<1> : tensor<4xi8> -> tensor<4x!quantized.uniform<i8:f32, 0.5:0>>
  %a = quantized.add %x, %k {layer = "add2", activation = "none", npu.placement = "npu", npu.block = array<i64: 1, 1, 8>, npu.memory = "sram", npu.offset = 16 : i64} : (tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>, tensor<4x!quantized.uniform<i8:f32, 0.5:0>>) -> tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>
  %b = quantized.add %a, %k {layer = "add1", activation = "none", npu.placement = "npu", npu.block = array<i64: 1, 1, 8>, npu.memory = "sram", npu.offset = 32 : i64} : (tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>, tensor<4x!quantized.uniform<i8:f32, 0.5:0>>) -> tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>
  func.return %b : tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>
}

// -----

// CHECK: npu-lower: f32 argument 0 of @quantized_twice ('x') must feed exactly one host-placed quantized.quantize: run npu-legalize first
func.func @quantized_twice(%x: tensor<1x4xf32> {graph.name = "x"}) -> (tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>, tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>) {
  %a = quantized.quantize %x {npu.placement = "host", npu.memory = "sram", npu.offset = 0 : i64} : tensor<1x4xf32> -> tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>
  %b = quantized.quantize %x {npu.placement = "host", npu.memory = "sram", npu.offset = 16 : i64} : tensor<1x4xf32> -> tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>
  func.return %a, %b : tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>, tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>
}

// -----

// Stripes split the OFM's rows, or the depth of a layer streaming its weights in OFM-depth slices.
// CHECK: npu-lower: pool1 (quantized.max_pool2d) has a 1x2x1 stripe of its 3x2x3 OFM: stripes are either whole rows or the OFM-depth slices of a conv, depthwise conv or fully connected layer
builtin.module {
  func.func @pool1_stripe(%x: tensor<1x6x4x3x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x3x2x3x!quantized.uniform<i8:f32, 0.5:0>> {
    %p = quantized.max_pool2d %x {layer = "pool1", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none", npu.placement = "npu", npu.block = array<i64: 2, 2, 8>, npu.stripe = array<i64: 1, 2, 1>, npu.memory = "sram", npu.offset = 96 : i64} : (tensor<1x6x4x3x!quantized.uniform<i8:f32, 0.5:0>>) -> tensor<1x3x2x3x!quantized.uniform<i8:f32, 0.5:0>>
    func.return %p : tensor<1x3x2x3x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// Not both: a layer streaming its weights in depth slices computes whole rows.
// CHECK: npu-lower: conv2 (quantized.conv2d) has a 2x4x16 stripe of its 4x4x32 OFM: stripes are either whole rows or the OFM-depth slices of a conv, depthwise conv or fully connected layer
builtin.module {
  func.func @conv2_stripe(%x: tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x4x4x32x!quantized.uniform<i8:f32, 0.5:0>> {
    %w = quantized.constant {npu.memory = "flash", npu.offset = 0 : i64} dense<1> : tensor<32x1x1x2xi8> -> tensor<32x1x1x2x!quantized.uniform<i8:f32, 0.01:0>>
    %b = quantized.constant {npu.memory = "flash", npu.offset = 128 : i64} dense<1> : tensor<32xi32>
    %c = quantized.conv2d %x, %w, %b {layer = "conv2", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none", npu.placement = "npu", npu.block = array<i64: 4, 4, 16>, npu.stripe = array<i64: 2, 4, 16>, npu.memory = "sram", npu.offset = 32 : i64} : (tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>>, tensor<32x1x1x2x!quantized.uniform<i8:f32, 0.01:0>>, tensor<32xi32>) -> tensor<1x4x4x32x!quantized.uniform<i8:f32, 0.5:0>>
    func.return %c : tensor<1x4x4x32x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// A stripe whose windows cover only padding has no IFM rows to read.
// CHECK: npu-lower: a stripe of conv1 (quantized.conv2d) reads only padding
builtin.module {
  func.func @conv1_padding(%x: tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x5x4x2x!quantized.uniform<i8:f32, 0.5:0>> {
    %w = quantized.constant {npu.memory = "flash", npu.offset = 0 : i64} dense<1> : tensor<2x1x1x2xi8> -> tensor<2x1x1x2x!quantized.uniform<i8:f32, 0.01:0>>
    %b = quantized.constant {npu.memory = "flash", npu.offset = 16 : i64} dense<1> : tensor<2xi32>
    %c = quantized.conv2d %x, %w, %b {layer = "conv1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 0, 0, 0>, activation = "none", npu.placement = "npu", npu.block = array<i64: 2, 4, 8>, npu.stripe = array<i64: 1, 4, 2>, npu.memory = "sram", npu.offset = 32 : i64} : (tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>>, tensor<2x1x1x2x!quantized.uniform<i8:f32, 0.01:0>>, tensor<2xi32>) -> tensor<1x5x4x2x!quantized.uniform<i8:f32, 0.5:0>>
    func.return %c : tensor<1x5x4x2x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// A rolling buffer smaller than the cascade needs: each pool stripe reads the
// two conv rows it was just given, so one row is too few.
// CHECK: npu-lower: the rolling buffer of conv1 (quantized.conv2d) holds 1 rows, its cascade needs 2: run npu-schedule again
builtin.module {
  func.func @rolling_too_small(%x: tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>> {
    %w = quantized.constant {npu.memory = "flash", npu.offset = 0 : i64} dense<1> : tensor<8x3x3x4xi8> -> tensor<8x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>
    %b = quantized.constant {npu.memory = "flash", npu.offset = 288 : i64} dense<1> : tensor<8xi32>
    %c = quantized.conv2d %x, %w, %b {layer = "conv1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none", npu.placement = "npu", npu.block = array<i64: 8, 8, 8>, npu.stripe = array<i64: 2, 8, 8>, npu.cascade = 0 : i64, npu.rolling_rows = 1 : i64, npu.memory = "sram", npu.offset = 1024 : i64} : (tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>, tensor<8x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>, tensor<8xi32>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>>
    %p = quantized.max_pool2d %c {layer = "pool1", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 1, 4, 8>, npu.cascade = 0 : i64, npu.memory = "sram", npu.offset = 2048 : i64} : (tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
    func.return %p : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
  }
}

// -----

// Every op of a cascade but the last needs its rolling buffer's rows.
// CHECK: npu-lower: conv1 (quantized.conv2d) is in a cascade but has no npu.rolling_rows
builtin.module {
  func.func @no_rolling_rows(%x: tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>> {
    %w = quantized.constant {npu.memory = "flash", npu.offset = 0 : i64} dense<1> : tensor<8x3x3x4xi8> -> tensor<8x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>
    %b = quantized.constant {npu.memory = "flash", npu.offset = 288 : i64} dense<1> : tensor<8xi32>
    %c = quantized.conv2d %x, %w, %b {layer = "conv1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none", npu.placement = "npu", npu.block = array<i64: 8, 8, 8>, npu.stripe = array<i64: 2, 8, 8>, npu.cascade = 0 : i64, npu.memory = "sram", npu.offset = 1024 : i64} : (tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>, tensor<8x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>, tensor<8xi32>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>>
    %p = quantized.max_pool2d %c {layer = "pool1", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 1, 4, 8>, npu.cascade = 0 : i64, npu.memory = "sram", npu.offset = 2048 : i64} : (tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
    func.return %p : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
  }
}

// -----

// A cascade is a chain: each op but the first reads the previous one's result, its only reader.
// CHECK: npu-lower: pool1 (quantized.max_pool2d) is in the cascade of conv1 (quantized.conv2d) but is not its result's only reader
builtin.module {
  func.func @not_a_chain(%x: tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>> {npu.memory = "sram", npu.offset = 0 : i64}) -> (tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>, tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>>) {
    %w = quantized.constant {npu.memory = "flash", npu.offset = 0 : i64} dense<1> : tensor<8x3x3x4xi8> -> tensor<8x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>
    %b = quantized.constant {npu.memory = "flash", npu.offset = 288 : i64} dense<1> : tensor<8xi32>
    %c = quantized.conv2d %x, %w, %b {layer = "conv1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none", npu.placement = "npu", npu.block = array<i64: 8, 8, 8>, npu.stripe = array<i64: 2, 8, 8>, npu.cascade = 0 : i64, npu.rolling_rows = 3 : i64, npu.memory = "sram", npu.offset = 1024 : i64} : (tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>, tensor<8x3x3x4x!quantized.uniform<i8:f32, 0.01:0>>, tensor<8xi32>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>>
    %p = quantized.max_pool2d %c {layer = "pool1", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 1, 4, 8>, npu.cascade = 0 : i64, npu.memory = "sram", npu.offset = 2048 : i64} : (tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
    func.return %p, %c : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>, tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>>
  }
}

// -----

// A cascade's stripe whose windows cover only padding names its layer too.
// CHECK: npu-lower: a stripe of conv1 (quantized.conv2d) reads only padding
builtin.module {
  func.func @cascade_padding(%x: tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x5x4x2x!quantized.uniform<i8:f32, 0.5:0>> {
    %w = quantized.constant {npu.memory = "flash", npu.offset = 0 : i64} dense<1> : tensor<2x1x1x2xi8> -> tensor<2x1x1x2x!quantized.uniform<i8:f32, 0.01:0>>
    %b = quantized.constant {npu.memory = "flash", npu.offset = 16 : i64} dense<1> : tensor<2xi32>
    %c = quantized.conv2d %x, %w, %b {layer = "conv1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 0, 0, 0>, activation = "none", npu.placement = "npu", npu.block = array<i64: 2, 4, 8>, npu.stripe = array<i64: 1, 4, 2>, npu.cascade = 0 : i64, npu.rolling_rows = 5 : i64, npu.memory = "sram", npu.offset = 32 : i64} : (tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>>, tensor<2x1x1x2x!quantized.uniform<i8:f32, 0.01:0>>, tensor<2xi32>) -> tensor<1x5x4x2x!quantized.uniform<i8:f32, 0.5:0>>
    %p = quantized.max_pool2d %c {layer = "pool1", kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none", npu.placement = "npu", npu.block = array<i64: 2, 4, 8>, npu.stripe = array<i64: 1, 4, 2>, npu.cascade = 0 : i64, npu.memory = "sram", npu.offset = 96 : i64} : (tensor<1x5x4x2x!quantized.uniform<i8:f32, 0.5:0>>) -> tensor<1x5x4x2x!quantized.uniform<i8:f32, 0.5:0>>
    func.return %p : tensor<1x5x4x2x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// A strided copy takes its commands' blocks from its layer's.
// CHECK: npu-lower: shuffle (quantized.transpose) has no npu.block: run npu-tile first
func.func @copy_without_block(%x: tensor<6x2x4x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<6x4x2x!quantized.uniform<i8:f32, 0.5:0>> {
  %t = quantized.transpose %x {layer = "shuffle", perm = array<i64: 0, 2, 1>, npu.placement = "npu", npu.memory = "sram", npu.offset = 48 : i64} : tensor<6x2x4x!quantized.uniform<i8:f32, 0.5:0>> -> tensor<6x4x2x!quantized.uniform<i8:f32, 0.5:0>>
  func.return %t : tensor<6x4x2x!quantized.uniform<i8:f32, 0.5:0>>
}
