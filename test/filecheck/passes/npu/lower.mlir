// RUN: npuc-opt %s --split-input-file -p 'npu-lower{target="%S/Inputs/ethos-u55-128-raw.toml"}' | filecheck %s

// Raw weights and scale/bias tables (a target that does not encode its
// weights; lower-encoded.mlir has the Ethos-U encoded form).

// Conv (staged weights, fused relu), max pool, a CPU transpose, an NPU reshape,
// fully connected, add, and a float interface converted by the host.

// CHECK-LABEL: builtin.module attributes {npu.memory_usage = {{.*}}, npu.target = "ethos-u55-128-raw"}
// CHECK-NOT:   func.func
// CHECK:       npu.constant {buffer = #npu.buf<flash, 0, 288>, value = dense<1> : tensor<8x3x3x4xi8>}
// CHECK-NEXT:  npu.constant {buffer = #npu.buf<flash, 288, 96>, value = dense<{{\[\[}}1, [[M0:[0-9]+]], -5], [-2, {{.*}}]]> : tensor<8x3xi32>}
// CHECK-NEXT:  npu.constant {buffer = #npu.buf<flash, 400, 1280>, value = dense<2> : tensor<10x128xi8>}
// CHECK-NEXT:  npu.constant {buffer = #npu.buf<flash, 1680, 120>, value = {{.*}} : tensor<10x3xi32>}
// CHECK-NEXT:  npu.input {tensor = "image", fm = #npu.fm<sram, 0, [1, 8, 8, 4], [256, 32, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, host_conversion = "quantize", layout = "NCHW"}
// CHECK-NEXT:  npu.input {tensor = "side", fm = #npu.fm<sram, 1536, [1, 10], [10, 1], !quantized.uniform<i8:f32, 0.125:3>>}
// CHECK-NEXT:  npu.dma {layer = "conv1", src = #npu.buf<flash, 0, 288>, dst = #npu.buf<sram, 256, 288>}
// CHECK-NEXT:  npu.conv2d {layer = "conv1", ifm = #npu.fm<sram, 0, {{.*}}>, ofm = #npu.fm<sram, 1024, [1, 8, 8, 8], [512, 64, 8, 1], !quantized.uniform<i8:f32, 0.25:-128>>, weights = #npu.buf<sram, 256, 288>, scale_bias = #npu.buf<flash, 288, 96>, kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 8, 8, 8>}
// CHECK-NEXT:  npu.pool {layer = "pool1", kind = "max", ifm = #npu.fm<sram, 1024, {{.*}}>, ofm = #npu.fm<sram, 0, [1, 4, 4, 8], {{.*}}>, kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 4, 4, 8>}
// CHECK-NEXT:  npu.cpu_op attributes {layer = "transpose1", inputs = [#npu.fm<sram, 0, [1, 4, 4, 8], {{.*}}>], outputs = [#npu.fm<sram, 1280, [1, 4, 4, 8], {{.*}}>], reason = "transpose is not an NPU operator"} {
// CHECK-NEXT:  ^{{.*}}(%[[IN:.*]]: tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>):
// CHECK-NEXT:    %[[T:.*]] = quantized.transpose %[[IN]] {layer = "transpose1", perm = array<i64: 0, 2, 1, 3>} :
// CHECK-NEXT:    npu.yield %[[T]] :
// CHECK-NEXT:  }
// CHECK-NEXT:  npu.fully_connected {layer = "fc1", ifm = #npu.fm<sram, 0, [1, 128], [128, 1], {{.*}}>, ofm = #npu.fm<sram, 128, [1, 10], {{.*}}>, weights = #npu.buf<flash, 400, 1280>, scale_bias = #npu.buf<flash, 1680, 120>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 1, 1, 16>}
// CHECK-NEXT:  npu.elementwise {layer = "add1", kind = "add", ifm = #npu.fm<sram, 128, {{.*}}>, ifm2 = #npu.fm<sram, 1536, {{.*}}>, ofm = #npu.fm<sram, 1552, [1, 10], [10, 1], !quantized.uniform<i8:f32, 0.25:0>>, act_min = 0 : i32, act_max = 24 : i32, block = array<i64: 1, 1, 16>}
// CHECK-NEXT:  npu.output {tensor = "logits", fm = #npu.fm<sram, 1552, [1, 10], [10, 1], !quantized.uniform<i8:f32, 0.25:0>>, host_conversion = "dequantize"}
// CHECK-NEXT:  npu.output {tensor = "flat", fm = #npu.fm<sram, 1552, [10], [1], !quantized.uniform<i8:f32, 0.25:0>>}
// CHECK-NEXT:  npu.output {tensor = "transposed", fm = #npu.fm<sram, 1280, [1, 4, 4, 8], {{.*}}>}
// CHECK-NEXT: }
builtin.module attributes {npu.memory_usage = {flash = 1792 : i64, sram = 1664 : i64}} {
  func.func @conv1_pool1(%x: tensor<1x8x8x4xf32> {graph.name = "image", graph.layout = "NCHW"}, %side: tensor<1x10x!quantized.uniform<i8:f32, 0.125:3>> {graph.name = "side", npu.memory = "sram", npu.offset = 1536 : i64}) -> (tensor<1x10xf32> {graph.name = "logits"}, tensor<10x!quantized.uniform<i8:f32, 0.25:0>> {graph.name = "flat"}, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>> {graph.name = "transposed"}) {
    %q = quantized.quantize %x {npu.placement = "host", npu.memory = "sram", npu.offset = 0 : i64} : tensor<1x8x8x4xf32> -> tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>
    %w = quantized.constant {npu.memory = "flash", npu.offset = 0 : i64} dense<1> : tensor<8x3x3x4xi8> -> tensor<8x3x3x4x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0, 0.03:0, 0.04:0, 0.05:0, 0.06:0, 0.07:0, 0.08:0}>>
    %b = quantized.constant {npu.memory = "flash", npu.offset = 288 : i64} dense<[1, -2, 3, -4, 5, -6, 7, -8]> : tensor<8xi32>
    %ws = npu.stage %w to "sram" {npu.memory = "sram", npu.offset = 256 : i64} : tensor<8x3x3x4x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0, 0.03:0, 0.04:0, 0.05:0, 0.06:0, 0.07:0, 0.08:0}>>
    %c = quantized.conv2d %q, %ws, %b {layer = "conv1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "relu", npu.placement = "npu", npu.block = array<i64: 8, 8, 8>, npu.stripe = array<i64: 8, 8, 8>, npu.memory = "sram", npu.offset = 1024 : i64} : (tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.5:-1>>, tensor<8x3x3x4x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0, 0.03:0, 0.04:0, 0.05:0, 0.06:0, 0.07:0, 0.08:0}>>, tensor<8xi32>) -> tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>>
    %m = quantized.max_pool2d %c {layer = "pool1", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.stripe = array<i64: 4, 4, 8>, npu.memory = "sram", npu.offset = 0 : i64} : (tensor<1x8x8x8x!quantized.uniform<i8:f32, 0.25:-128>>) -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
    %t = quantized.transpose %m {layer = "transpose1", perm = array<i64: 0, 2, 1, 3>, npu.placement = "cpu", npu.cpu_reason = "transpose is not an NPU operator", npu.memory = "sram", npu.offset = 1280 : i64} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>> -> tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
    %r = quantized.reshape %m {layer = "flatten", npu.placement = "npu", npu.memory = "sram", npu.offset = 0 : i64} : tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>> -> tensor<1x128x!quantized.uniform<i8:f32, 0.25:-128>>
    %fw = quantized.constant {npu.memory = "flash", npu.offset = 400 : i64} dense<2> : tensor<10x128xi8> -> tensor<10x128x!quantized.uniform<i8:f32, 0.003:0>>
    %fb = quantized.constant {npu.memory = "flash", npu.offset = 1680 : i64} dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]> : tensor<10xi32>
    %f = quantized.fully_connected %r, %fw, %fb {layer = "fc1", activation = "none", npu.placement = "npu", npu.block = array<i64: 1, 1, 16>, npu.stripe = array<i64: 1, 1, 16>, npu.memory = "sram", npu.offset = 128 : i64} : (tensor<1x128x!quantized.uniform<i8:f32, 0.25:-128>>, tensor<10x128x!quantized.uniform<i8:f32, 0.003:0>>, tensor<10xi32>) -> tensor<1x10x!quantized.uniform<i8:f32, 0.125:3>>
    %a = quantized.add %f, %side {layer = "add1", activation = "relu6", npu.placement = "npu", npu.block = array<i64: 1, 1, 16>, npu.stripe = array<i64: 1, 1, 16>, npu.memory = "sram", npu.offset = 1552 : i64} : (tensor<1x10x!quantized.uniform<i8:f32, 0.125:3>>, tensor<1x10x!quantized.uniform<i8:f32, 0.125:3>>) -> tensor<1x10x!quantized.uniform<i8:f32, 0.25:0>>
    %y = quantized.dequantize %a {npu.placement = "host"} : tensor<1x10x!quantized.uniform<i8:f32, 0.25:0>> -> tensor<1x10xf32>
    %flat = quantized.reshape %a {layer = "flat", npu.placement = "npu"} : tensor<1x10x!quantized.uniform<i8:f32, 0.25:0>> -> tensor<10x!quantized.uniform<i8:f32, 0.25:0>>
    func.return %y, %flat, %t : tensor<1x10xf32>, tensor<10x!quantized.uniform<i8:f32, 0.25:0>>, tensor<1x4x4x8x!quantized.uniform<i8:f32, 0.25:-128>>
  }
}

// -----

// Depthwise convolution, average pooling with padding, a broadcast add and a
// quantized (int8) interface; weights read straight from flash.

// CHECK-LABEL: builtin.module attributes {npu.target = "ethos-u55-128-raw"}
// CHECK:       npu.input {tensor = "input0", fm = #npu.fm<sram, 0, [1, 4, 4, 2], [32, 8, 2, 1], !quantized.uniform<i8:f32, 0.5:0>>}
// CHECK-NEXT:  npu.depthwise_conv2d {layer = "dw", ifm = #npu.fm<sram, 0, {{.*}}>, ofm = #npu.fm<sram, 64, [1, 4, 4, 4], {{.*}}>, weights = #npu.buf<flash, 0, 36>, scale_bias = #npu.buf<flash, 48, 48>, kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 2, 2>, padding = array<i64: 2, 2, 2, 2>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 4, 4, 8>}
// CHECK-NEXT:  npu.pool {layer = "avg", kind = "avg", {{.*}} kernel = array<i64: 2, 2>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 1, 1>, {{.*}}}
// CHECK-NEXT:  npu.elementwise {layer = "bias_add", kind = "add", ifm = #npu.fm<sram, 128, [1, 4, 4, 4], {{.*}}>, ifm2 = #npu.fm<flash, 96, [1, 1, 1, 4], [4, 4, 4, 1], {{.*}}>, {{.*}}}
// CHECK-NEXT:  npu.output {tensor = "output0", fm = #npu.fm<sram, 0, [1, 4, 4, 4], {{.*}}>}

builtin.module {
  func.func @dw_avg(%x: tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:0>> {
    %w = quantized.constant {npu.memory = "flash", npu.offset = 0 : i64} dense<3> : tensor<1x3x3x4xi8> -> tensor<1x3x3x4x!quantized.uniform<i8:f32:3, {0.5:0, 0.25:0, 0.5:0, 0.25:0}>>
    %b = quantized.constant {npu.memory = "flash", npu.offset = 48 : i64} dense<0> : tensor<4xi32>
    %d = quantized.depthwise_conv2d %x, %w, %b {layer = "dw", strides = array<i64: 1, 1>, dilations = array<i64: 2, 2>, padding = array<i64: 2, 2, 2, 2>, activation = "none", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.memory = "sram", npu.offset = 64 : i64} : (tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.5:0>>, tensor<1x3x3x4x!quantized.uniform<i8:f32:3, {0.5:0, 0.25:0, 0.5:0, 0.25:0}>>, tensor<4xi32>) -> tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:0>>
    %p = quantized.avg_pool2d %d {layer = "avg", kernel = array<i64: 2, 2>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 1, 1>, activation = "none", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.memory = "sram", npu.offset = 128 : i64} : (tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:0>>) -> tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:0>>
    %k = quantized.constant {npu.memory = "flash", npu.offset = 96 : i64} dense<[1, 2, 3, 4]> : tensor<4xi8> -> tensor<4x!quantized.uniform<i8:f32, 0.5:0>>
    %a = quantized.add %p, %k {layer = "bias_add", activation = "none", npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.memory = "sram", npu.offset = 0 : i64} : (tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:0>>, tensor<4x!quantized.uniform<i8:f32, 0.5:0>>) -> tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:0>>
    func.return %a : tensor<1x4x4x4x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// NCHW interface tensors keep their layout (quantized input, dequantized and
// quantized outputs); a CPU concat reading one input twice takes it once.

// CHECK-LABEL: builtin.module attributes {npu.target = "ethos-u55-128-raw"}
// CHECK:       npu.input {tensor = "x", fm = #npu.fm<sram, 0, [1, 2, 2, 2], {{.*}}>, layout = "NCHW"}
// CHECK-NEXT:  npu.input {tensor = "input1", fm = #npu.fm<sram, 16, [1, 2, 2, 2], {{.*}}>}
// CHECK-NEXT:  npu.cpu_op attributes {layer = "cat", inputs = [#npu.fm<sram, 0, [1, 2, 2, 2], [8, 4, 2, 1], !quantized.uniform<i8:f32, 0.5:0>>, #npu.fm<sram, 16, [1, 2, 2, 2], [8, 4, 2, 1], !quantized.uniform<i8:f32, 0.5:0>>], outputs = [#npu.fm<sram, 32, [1, 2, 2, 6], {{.*}}>]} {
// CHECK-NEXT:  ^{{.*}}(%[[X:.*]]: tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>>, %[[Y:.*]]: tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>>):
// CHECK-NEXT:    %[[CAT:.*]] = quantized.concat %[[X]], %[[X]], %[[Y]] {layer = "cat", axis = 3 : i64}
// CHECK-NEXT:    npu.yield %[[CAT]] :
// CHECK-NEXT:  }
// CHECK-NEXT:  npu.output {tensor = "probs", fm = #npu.fm<sram, 32, [1, 2, 2, 6], {{.*}}>, host_conversion = "dequantize", layout = "NCHW"}
// CHECK-NEXT:  npu.output {tensor = "cat", fm = #npu.fm<sram, 32, [1, 2, 2, 6], {{.*}}>, layout = "NCHW"}
// CHECK-NEXT: }

builtin.module {
  func.func @nchw_cpu_concat(%x: tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>> {graph.name = "x", graph.layout = "NCHW", npu.memory = "sram", npu.offset = 0 : i64}, %y: tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 16 : i64}) -> (tensor<1x2x2x6xf32> {graph.name = "probs", graph.layout = "NCHW"}, tensor<1x2x2x6x!quantized.uniform<i8:f32, 0.5:0>> {graph.name = "cat", graph.layout = "NCHW"}) {
    %c = quantized.concat %x, %x, %y {layer = "cat", axis = 3 : i64, npu.placement = "cpu", npu.memory = "sram", npu.offset = 32 : i64} : (tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>>, tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>>, tensor<1x2x2x2x!quantized.uniform<i8:f32, 0.5:0>>) -> tensor<1x2x2x6x!quantized.uniform<i8:f32, 0.5:0>>
    %d = quantized.dequantize %c {npu.placement = "host"} : tensor<1x2x2x6x!quantized.uniform<i8:f32, 0.5:0>> -> tensor<1x2x2x6xf32>
    func.return %d, %c : tensor<1x2x2x6xf32>, tensor<1x2x2x6x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// A copy keeps the layer the scheduler gave its stage; one without a layer is
// the copy for its first reader, one nobody reads is just a stage.

// CHECK-LABEL: builtin.module attributes {npu.target = "ethos-u55-128-raw"}
// CHECK:       npu.dma {layer = "prefetch", src = #npu.buf<flash, 0, 4>, dst = #npu.buf<sram, 16, 4>}
// CHECK-NEXT:  npu.dma {layer = "add1", src = #npu.buf<flash, 0, 4>, dst = #npu.buf<sram, 32, 4>}
// CHECK-NEXT:  npu.dma {layer = "npu.stage", src = #npu.buf<flash, 0, 4>, dst = #npu.buf<sram, 48, 4>}
// CHECK-NEXT:  npu.elementwise {layer = "add1", kind = "add", ifm = #npu.fm<sram, 0, {{.*}}>, ifm2 = #npu.fm<sram, 32, {{.*}}>
// CHECK-NEXT:  npu.elementwise {layer = "add2", kind = "add", ifm = #npu.fm<sram, 64, {{.*}}>, ifm2 = #npu.fm<sram, 16, {{.*}}>

builtin.module {
  func.func @stages(%x: tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}) -> tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>> {
    %k = quantized.constant {npu.memory = "flash", npu.offset = 0 : i64} dense<1> : tensor<4xi8> -> tensor<4x!quantized.uniform<i8:f32, 0.5:0>>
    %named = npu.stage %k to "sram" {layer = "prefetch", npu.memory = "sram", npu.offset = 16 : i64} : tensor<4x!quantized.uniform<i8:f32, 0.5:0>>
    %read = npu.stage %k to "sram" {npu.memory = "sram", npu.offset = 32 : i64} : tensor<4x!quantized.uniform<i8:f32, 0.5:0>>
    %unread = npu.stage %k to "sram" {npu.memory = "sram", npu.offset = 48 : i64} : tensor<4x!quantized.uniform<i8:f32, 0.5:0>>
    %a = quantized.add %x, %read {layer = "add1", activation = "none", npu.placement = "npu", npu.block = array<i64: 1, 1, 8>, npu.memory = "sram", npu.offset = 64 : i64} : (tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>, tensor<4x!quantized.uniform<i8:f32, 0.5:0>>) -> tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>
    %b = quantized.add %a, %named {layer = "add2", activation = "none", npu.placement = "npu", npu.block = array<i64: 1, 1, 8>, npu.memory = "sram", npu.offset = 80 : i64} : (tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>, tensor<4x!quantized.uniform<i8:f32, 0.5:0>>) -> tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>
    func.return %b : tensor<1x4x!quantized.uniform<i8:f32, 0.5:0>>
  }
}

// -----

// A transpose and a strided slice become strided copies, 1x1 max pools over
// the whole int8 range. The transpose [6, 2, 4] -> [6, 4, 2] reads its channels
// 4 bytes apart, so they are a width of depth 1: one command of 2 batches
// (the shortest axis), 6 rows, 4 columns. The slice steps 2 rows and 4
// channels from row 1: its columns and channels merge into 12 columns 4
// bytes apart, one command of 2 x 12.

// CHECK-LABEL: builtin.module attributes {npu.target = "ethos-u55-128-raw"}
// CHECK:       npu.pool {layer = "shuffle", kind = "max", ifm = #npu.fm<sram, 0, [2, 6, 4, 1], [4, 8, 1, 1], !quantized.uniform<i8:f32, 0.5:0>>, ofm = #npu.fm<sram, 48, [2, 6, 4, 1], [1, 8, 2, 1], !quantized.uniform<i8:f32, 0.5:0>>, kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: {{.*}}>}
// CHECK-NEXT:  npu.pool {layer = "every_other", kind = "max", ifm = #npu.fm<sram, 112, [1, 2, 12, 1], [1, 96, 4, 1], !quantized.uniform<i8:f32, 0.5:0>>, ofm = #npu.fm<sram, 256, [1, 2, 12, 1], [1, 12, 1, 1], !quantized.uniform<i8:f32, 0.5:0>>, {{.*}}}
// CHECK-NEXT:  npu.output

builtin.module {
  func.func @copies(%x: tensor<6x2x4x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 0 : i64}, %y: tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.5:0>> {npu.memory = "sram", npu.offset = 64 : i64}) -> (tensor<6x4x2x!quantized.uniform<i8:f32, 0.5:0>>, tensor<1x2x6x2x!quantized.uniform<i8:f32, 0.5:0>>) {
    %t = quantized.transpose %x {layer = "shuffle", perm = array<i64: 0, 2, 1>, npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.memory = "sram", npu.offset = 48 : i64} : tensor<6x2x4x!quantized.uniform<i8:f32, 0.5:0>> -> tensor<6x4x2x!quantized.uniform<i8:f32, 0.5:0>>
    %s = quantized.slice %y {layer = "every_other", begin = array<i64: 0, 1, 0, 0>, end = array<i64: 1, 4, 6, 8>, strides = array<i64: 1, 2, 1, 4>, npu.placement = "npu", npu.block = array<i64: 4, 4, 8>, npu.memory = "sram", npu.offset = 256 : i64} : tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.5:0>> -> tensor<1x2x6x2x!quantized.uniform<i8:f32, 0.5:0>>
    func.return %t, %s : tensor<6x4x2x!quantized.uniform<i8:f32, 0.5:0>>, tensor<1x2x6x2x!quantized.uniform<i8:f32, 0.5:0>>
  }
}
