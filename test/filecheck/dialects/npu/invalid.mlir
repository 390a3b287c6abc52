// RUN: npuc-opt %s --split-input-file --verify-diagnostics | filecheck %s

// CHECK: constant holds 32 bytes but its buffer is 16 bytes
npu.constant {buffer = #npu.buf<flash, 0, 16>, value = dense<1> : tensor<4x8xi8>}

// -----

// CHECK: buffer offset must be >= 0 and size > 0
npu.dma {layer = "x", src = #npu.buf<flash, 0, 0>, dst = #npu.buf<sram, 0, 0>}

// -----

// CHECK: dma source and destination sizes differ
npu.dma {layer = "x", src = #npu.buf<flash, 0, 32>, dst = #npu.buf<sram, 0, 16>}

// -----

// CHECK: npu.input host_conversion must be 'quantize', got 'dequantize'
npu.input {tensor = "image", fm = #npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>>, host_conversion = "dequantize"}

// -----

// CHECK: npu.output host_conversion must be 'dequantize', got 'quantize'
npu.output {tensor = "scores", fm = #npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>>, host_conversion = "quantize"}

// -----

// CHECK: interface layout must be 'NCHW', got 'NHWC'
npu.input {tensor = "image", fm = #npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>>, layout = "NHWC"}

// -----

// CHECK: feature maps are quantized per tensor
npu.input {tensor = "image", fm = #npu.fm<sram, 0, [2], [1], !quantized.uniform<i8:f32:0, {0.5:0, 0.25:0}>>}

// -----

// A map wraps after some of its rows, not all.
// CHECK: a feature map wraps after 0 < rows < its height, at an offset >= 0, with a batch of one; got wrap 4 to 0 on [1, 4, 4, 8]
npu.input {tensor = "image", fm = #npu.fm<sram, 128, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>, wrap 4 to 0>}

// -----

// The ofm depth of a convolution follows from its weights buffer size.
// CHECK: ofm shape is [1, 4, 4, 8], expected [1, 4, 4, 4]
npu.conv2d {layer = "conv", ifm = #npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 128, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>>, weights = #npu.buf<sram, 1024, 32>, scale_bias = #npu.buf<flash, 32, 96>, kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 4, 4, 8>}

// -----

// CHECK: scale/bias buffer is 96 bytes, expected 48
npu.conv2d {layer = "conv", ifm = #npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, weights = #npu.buf<sram, 1024, 32>, scale_bias = #npu.buf<flash, 32, 96>, kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 4, 4, 8>}

// -----

// CHECK: activation range [-1, 128] is outside the ofm storage range
npu.conv2d {layer = "conv", ifm = #npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, weights = #npu.buf<sram, 1024, 32>, scale_bias = #npu.buf<flash, 32, 48>, kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, act_min = -1 : i32, act_max = 128 : i32, block = array<i64: 4, 4, 8>}

// -----

// CHECK: Expected attribute i32 but got i64
npu.conv2d {layer = "conv", ifm = #npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, weights = #npu.buf<sram, 1024, 32>, scale_bias = #npu.buf<flash, 32, 48>, kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, act_min = -1 : i64, act_max = 127 : i32, block = array<i64: 4, 4, 8>}

// -----

// CHECK: block must be three positive extents (height, width, depth)
npu.conv2d {layer = "conv", ifm = #npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, weights = #npu.buf<sram, 1024, 32>, scale_bias = #npu.buf<flash, 32, 48>, kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 4, 4>}

// -----

// CHECK: ofm shape is [1, 4, 4, 4], expected [1, 2, 2, 4]
npu.pool {layer = "pool", kind = "max", ifm = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 2, 2, 8>}

// -----

// CHECK: unknown pool kind 'min'
npu.pool {layer = "pool", kind = "min", ifm = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 2, 2, 8>}

// -----

// CHECK: unknown elementwise kind 'div'
npu.elementwise {layer = "add", kind = "div", ifm = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ifm2 = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 4, 4, 8>}

// -----

// CHECK: shapes [1, 4, 4, 8] and [1, 4, 4, 4] do not give [1, 4, 4, 4]
npu.elementwise {layer = "add", kind = "add", ifm = #npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ifm2 = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 4, 4, 8>}

// -----

// CHECK: fully connected ifm and ofm must be [N, K] and [N, O]
npu.fully_connected {layer = "fc", ifm = #npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, weights = #npu.buf<flash, 0, 32>, scale_bias = #npu.buf<flash, 32, 48>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 1, 1, 8>}

// -----

// CHECK: cpu_op body needs one argument per input feature map
npu.cpu_op attributes {layer = "t", inputs = [#npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>>], outputs = []} {
  npu.yield
}

// -----

// CHECK: cpu_op body must yield one value per output feature map
npu.cpu_op attributes {layer = "t", inputs = [], outputs = [#npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>>]} {
  npu.yield
}

// -----

// CHECK: elementwise 'shl' without rescale must be add, sub or mul of ifm and ifm2
npu.elementwise {layer = "s", kind = "shl", ifm = #npu.fm<sram, 64, [1, 2, 1, 4], [32, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:0>>, ifm2 = #npu.fm<sram, 128, [1, 2, 1, 1], [8, 4, 4, 4], !quantized.uniform<i32:f32, 1.0:0>>, ofm = #npu.fm<sram, 64, [1, 2, 1, 4], [32, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:0>>, act_min = -2147483648 : i32, act_max = 2147483647 : i32, block = array<i64: 2, 1, 4>}

// -----

// CHECK: rescale and rounding go together (integer elementwise)
npu.elementwise {layer = "s", kind = "sub", ifm = #npu.fm<sram, 64, [1, 2, 1, 4], [32, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:0>>, ifm2 = #npu.fm<sram, 128, [1, 2, 1, 1], [8, 4, 4, 4], !quantized.uniform<i32:f32, 1.0:0>>, ofm = #npu.fm<sram, 64, [1, 2, 1, 4], [32, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:0>>, act_min = -2147483648 : i32, act_max = 2147483647 : i32, rescale = array<i64: 1, 0>, block = array<i64: 2, 1, 4>}

// -----

// CHECK: elementwise 'mul' needs exactly one of ifm2 and scalar
npu.elementwise {layer = "s", kind = "mul", ifm = #npu.fm<sram, 64, [1, 2, 1, 4], [32, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:0>>, ifm2 = #npu.fm<sram, 128, [1, 2, 1, 1], [8, 4, 4, 4], !quantized.uniform<i32:f32, 1.0:0>>, scalar = 3 : i32, ofm = #npu.fm<sram, 64, [1, 2, 1, 4], [32, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:0>>, act_min = -2147483648 : i32, act_max = 2147483647 : i32, rescale = array<i64: 1, 31>, rounding = "half_up", block = array<i64: 2, 1, 4>}

// -----

// CHECK: clz reads the ifm only
npu.elementwise {layer = "s", kind = "clz", ifm = #npu.fm<sram, 128, [1, 2, 1, 1], [8, 4, 4, 4], !quantized.uniform<i32:f32, 1.0:0>>, scalar = 3 : i32, ofm = #npu.fm<sram, 128, [1, 2, 1, 1], [8, 4, 4, 4], !quantized.uniform<i32:f32, 1.0:0>>, act_min = -2147483648 : i32, act_max = 2147483647 : i32, rescale = array<i64: 1, 0>, rounding = "half_up", block = array<i64: 2, 1, 8>}

// -----

// CHECK: rescale must be [multiplier (int32), shift (0..63)]
npu.elementwise {layer = "s", kind = "asr", ifm = #npu.fm<sram, 64, [1, 2, 1, 4], [32, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:0>>, scalar = 3 : i32, ofm = #npu.fm<sram, 64, [1, 2, 1, 4], [32, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:0>>, act_min = -2147483648 : i32, act_max = 2147483647 : i32, rescale = array<i64: 1, 64>, rounding = "half_up", block = array<i64: 2, 1, 4>}

// -----

// CHECK: unknown rounding 'nearest'
npu.elementwise {layer = "s", kind = "asr", ifm = #npu.fm<sram, 64, [1, 2, 1, 4], [32, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:0>>, scalar = 3 : i32, ofm = #npu.fm<sram, 64, [1, 2, 1, 4], [32, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:0>>, act_min = -2147483648 : i32, act_max = 2147483647 : i32, rescale = array<i64: 1, 0>, rounding = "nearest", block = array<i64: 2, 1, 4>}

// -----

// CHECK: a lut needs act_min/act_max within the int8 range
npu.elementwise {layer = "s", kind = "sub", ifm = #npu.fm<sram, 0, [1, 2, 1, 4], [8, 4, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, scalar = 3 : i32, ofm = #npu.fm<sram, 64, [1, 2, 1, 4], [32, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:0>>, act_min = -2147483648 : i32, act_max = 2147483647 : i32, rescale = array<i64: 1, 0>, rounding = "half_up", lut = #npu.buf<flash, 0, 1024>, block = array<i64: 2, 1, 4>}

// -----

// CHECK: lut buffer is 256 bytes, expected 1024
npu.elementwise {layer = "s", kind = "sub", ifm = #npu.fm<sram, 0, [1, 2, 1, 4], [8, 4, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, scalar = 3 : i32, ofm = #npu.fm<sram, 64, [1, 2, 1, 4], [32, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:0>>, act_min = -128 : i32, act_max = 127 : i32, rescale = array<i64: 1, 0>, rounding = "half_up", lut = #npu.buf<flash, 0, 256>, block = array<i64: 2, 1, 4>}

// -----

// A pool with a fused lookup table: the table holds one OFM element per int8 value.
// CHECK: lut buffer is 1024 bytes, expected 256
npu.pool {layer = "avg", kind = "avg", ifm = #npu.fm<sram, 256, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 320, [1, 2, 2, 4], [32, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, act_min = -128 : i32, act_max = 127 : i32, lut = #npu.buf<flash, 0, 1024>, block = array<i64: 2, 2, 8>}

// -----

// CHECK: scalar, reversed and lut need an integer elementwise (rescale)
npu.elementwise {layer = "s", kind = "add", ifm = #npu.fm<sram, 0, [1, 2, 1, 4], [8, 4, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ifm2 = #npu.fm<sram, 0, [1, 2, 1, 4], [8, 4, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, reversed, ofm = #npu.fm<sram, 0, [1, 2, 1, 4], [8, 4, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 2, 1, 4>}

// -----

// CHECK: reduce_sum needs a 1x1 kernel, unit strides and no padding
npu.pool {layer = "r", kind = "reduce_sum", ifm = #npu.fm<sram, 64, [1, 2, 1, 4], [32, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:0>>, ofm = #npu.fm<sram, 128, [1, 2, 1, 1], [8, 4, 4, 4], !quantized.uniform<i32:f32, 1.0:0>>, kernel = array<i64: 1, 2>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, act_min = -2147483648 : i32, act_max = 2147483647 : i32, block = array<i64: 2, 1, 8>}

// -----

// CHECK: ofm shape is [1, 2, 1, 4], expected [1, 2, 1, 1]
npu.pool {layer = "r", kind = "reduce_sum", ifm = #npu.fm<sram, 64, [1, 2, 1, 4], [32, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:0>>, ofm = #npu.fm<sram, 64, [1, 2, 1, 4], [32, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:0>>, kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, act_min = -2147483648 : i32, act_max = 2147483647 : i32, block = array<i64: 2, 1, 8>}

// -----

// A depthwise command walks its kernel depth first; convolutions and fully
// connected layers may run part-kernel first.
// CHECK: npu.depthwise_conv2d weights are traversed depth first
npu.depthwise_conv2d {layer = "dw", ifm = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 256, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, weights = #npu.buf<flash, 80, 48>, scale_bias = #npu.buf<flash, 32, 48>, encoding = #npu.encoded<part_kernel_first, weights [48], scales [48]>, kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 4, 4, 8>}
