// RUN: npuc-opt %s | npuc-opt | filecheck %s

// Every npu command round-trips through text (properties in build_command's order).

// CHECK-LABEL: builtin.module attributes {npu.target = "ethos-u55-128"}
builtin.module attributes {npu.target = "ethos-u55-128"} {
  // CHECK-NEXT: npu.constant {buffer = #npu.buf<flash, 0, 32>, value = dense<1> : tensor<4x1x1x8xi8>}
  npu.constant {buffer = #npu.buf<flash, 0, 32>, value = dense<1> : tensor<4x1x1x8xi8>}
  // CHECK-NEXT: npu.constant {buffer = #npu.buf<flash, 32, 48>, value = dense<{{\[\[}}0, 1073741824, -1], [1, 1073741824, -1], [2, 1073741824, -1], [3, 1073741824, -1]]> : tensor<4x3xi32>}
  npu.constant {buffer = #npu.buf<flash, 32, 48>, value = dense<[[0, 1073741824, -1], [1, 1073741824, -1], [2, 1073741824, -1], [3, 1073741824, -1]]> : tensor<4x3xi32>}
  // CHECK-NEXT: npu.constant {buffer = #npu.buf<flash, 80, 36>, value = dense<-3> : tensor<1x3x3x4xi8>}
  npu.constant {buffer = #npu.buf<flash, 80, 36>, value = dense<-3> : tensor<1x3x3x4xi8>}
  // CHECK-NEXT: npu.constant {buffer = #npu.buf<flash, 128, 64>, value = dense<7> : tensor<16x4xi8>}
  npu.constant {buffer = #npu.buf<flash, 128, 64>, value = dense<7> : tensor<16x4xi8>}
  // CHECK-NEXT: npu.input {tensor = "image", fm = #npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>>, host_conversion = "quantize", layout = "NCHW"}
  npu.input {tensor = "image", fm = #npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>>, host_conversion = "quantize", layout = "NCHW"}
  // CHECK-NEXT: npu.input {tensor = "extra", fm = #npu.fm<sram, 512, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>}
  npu.input {tensor = "extra", fm = #npu.fm<sram, 512, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>}
  // CHECK-NEXT: npu.dma {layer = "conv", src = #npu.buf<flash, 0, 32>, dst = #npu.buf<sram, 1024, 32>}
  npu.dma {layer = "conv", src = #npu.buf<flash, 0, 32>, dst = #npu.buf<sram, 1024, 32>}
  // CHECK-NEXT: npu.conv2d {layer = "conv", ifm = #npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, weights = #npu.buf<sram, 1024, 32>, scale_bias = #npu.buf<flash, 32, 48>, kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, act_min = -1 : i32, act_max = 127 : i32, block = array<i64: 4, 4, 8>}
  npu.conv2d {layer = "conv", ifm = #npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, weights = #npu.buf<sram, 1024, 32>, scale_bias = #npu.buf<flash, 32, 48>, kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, act_min = -1 : i32, act_max = 127 : i32, block = array<i64: 4, 4, 8>}
  // CHECK-NEXT: npu.depthwise_conv2d {layer = "dw", {{.*}} kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 4, 4, 8>}
  npu.depthwise_conv2d {layer = "dw", ifm = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 256, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, weights = #npu.buf<flash, 80, 36>, scale_bias = #npu.buf<flash, 32, 48>, kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 4, 4, 8>}
  // CHECK-NEXT: npu.conv2d {layer = "conv_lut", {{.*}} act_min = -128 : i32, act_max = 127 : i32, lut = #npu.buf<flash, 96, 256>, block = array<i64: 4, 4, 8>}
  npu.conv2d {layer = "conv_lut", ifm = #npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 128, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, weights = #npu.buf<sram, 1024, 32>, scale_bias = #npu.buf<flash, 32, 48>, kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, act_min = -128 : i32, act_max = 127 : i32, lut = #npu.buf<flash, 96, 256>, block = array<i64: 4, 4, 8>}
  // CHECK-NEXT: npu.pool {layer = "avg", kind = "avg", {{.*}} kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 2, 2, 8>}
  npu.pool {layer = "avg", kind = "avg", ifm = #npu.fm<sram, 256, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 320, [1, 2, 2, 4], [32, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 2, 2, 8>}
  // CHECK-NEXT: npu.elementwise {layer = "add", kind = "add", ifm = {{.*}}, ifm2 = #npu.fm<sram, 512, {{.*}}>, ofm = {{.*}}, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 4, 4, 8>}
  npu.elementwise {layer = "add", kind = "add", ifm = #npu.fm<sram, 256, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ifm2 = #npu.fm<sram, 512, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 384, [1, 4, 4, 4], [64, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 4, 4, 8>}
  // CHECK-NEXT: npu.elementwise {layer = "sm", kind = "sub", ifm = {{.*}}, ifm2 = {{.*}}, ofm = #npu.fm<sram, 1024, [1, 4, 1, 4], [64, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:127>>, act_min = -128 : i32, act_max = 127 : i32, rescale = array<i64: 1, 0>, rounding = "half_up", lut = #npu.buf<flash, 192, 1024>, block = array<i64: 4, 1, 8>}
  npu.elementwise {layer = "sm", kind = "sub", ifm = #npu.fm<sram, 256, [1, 4, 1, 4], [16, 4, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ifm2 = #npu.fm<sram, 512, [1, 4, 1, 1], [4, 1, 1, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 1024, [1, 4, 1, 4], [64, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:127>>, act_min = -128 : i32, act_max = 127 : i32, rescale = array<i64: 1, 0>, rounding = "half_up", lut = #npu.buf<flash, 192, 1024>, block = array<i64: 4, 1, 8>}
  // CHECK-NEXT: npu.pool {layer = "sm", kind = "reduce_sum", ifm = #npu.fm<sram, 1024, [1, 4, 1, 4], [64, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:0>>, ofm = #npu.fm<sram, 1088, [1, 4, 1, 1], [16, 4, 4, 4], !quantized.uniform<i32:f32, 1.0:0>>, kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, act_min = -2147483648 : i32, act_max = 2147483647 : i32, block = array<i64: 4, 1, 8>}
  npu.pool {layer = "sm", kind = "reduce_sum", ifm = #npu.fm<sram, 1024, [1, 4, 1, 4], [64, 16, 16, 4], !quantized.uniform<i32:f32, 1.0:0>>, ofm = #npu.fm<sram, 1088, [1, 4, 1, 1], [16, 4, 4, 4], !quantized.uniform<i32:f32, 1.0:0>>, kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, act_min = -2147483648 : i32, act_max = 2147483647 : i32, block = array<i64: 4, 1, 8>}
  // CHECK-NEXT: npu.elementwise {layer = "sm", kind = "sub", ifm = {{.*}}, scalar = 35 : i32, reversed, ofm = {{.*}}, act_min = -2147483648 : i32, act_max = 2147483647 : i32, rescale = array<i64: 1, 0>, rounding = "half_up", block = array<i64: 4, 1, 8>}
  npu.elementwise {layer = "sm", kind = "sub", ifm = #npu.fm<sram, 1088, [1, 4, 1, 1], [16, 4, 4, 4], !quantized.uniform<i32:f32, 1.0:0>>, scalar = 35 : i32, reversed, ofm = #npu.fm<sram, 1104, [1, 4, 1, 1], [16, 4, 4, 4], !quantized.uniform<i32:f32, 1.0:0>>, act_min = -2147483648 : i32, act_max = 2147483647 : i32, rescale = array<i64: 1, 0>, rounding = "half_up", block = array<i64: 4, 1, 8>}
  // CHECK-NEXT: npu.elementwise {layer = "sm", kind = "clz", ifm = {{.*}}, ofm = {{.*}}, act_min = -2147483648 : i32, act_max = 2147483647 : i32, rescale = array<i64: 1, 0>, rounding = "truncate", block = array<i64: 4, 1, 8>}
  npu.elementwise {layer = "sm", kind = "clz", ifm = #npu.fm<sram, 1088, [1, 4, 1, 1], [16, 4, 4, 4], !quantized.uniform<i32:f32, 1.0:0>>, ofm = #npu.fm<sram, 1104, [1, 4, 1, 1], [16, 4, 4, 4], !quantized.uniform<i32:f32, 1.0:0>>, act_min = -2147483648 : i32, act_max = 2147483647 : i32, rescale = array<i64: 1, 0>, rounding = "truncate", block = array<i64: 4, 1, 8>}
  // CHECK-NEXT: npu.fully_connected {layer = "fc", ifm = #npu.fm<sram, 320, [1, 16], [16, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 448, [1, 4], [4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, weights = #npu.buf<flash, 128, 64>, scale_bias = #npu.buf<flash, 32, 48>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 1, 1, 8>}
  npu.fully_connected {layer = "fc", ifm = #npu.fm<sram, 320, [1, 16], [16, 1], !quantized.uniform<i8:f32, 0.5:-1>>, ofm = #npu.fm<sram, 448, [1, 4], [4, 1], !quantized.uniform<i8:f32, 0.5:-1>>, weights = #npu.buf<flash, 128, 64>, scale_bias = #npu.buf<flash, 32, 48>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 1, 1, 8>}
  // CHECK-NEXT: npu.cpu_op attributes {layer = "transpose", inputs = [#npu.fm<sram, 448, [1, 4], [4, 1], !quantized.uniform<i8:f32, 0.5:-1>>], outputs = [#npu.fm<sram, 464, [4, 1], [1, 1], !quantized.uniform<i8:f32, 0.5:-1>>]} {
  // CHECK-NEXT: ^{{.*}}(%[[IN:.*]]: tensor<1x4x!quantized.uniform<i8:f32, 0.5:-1>>):
  // CHECK-NEXT:   %[[T:.*]] = quantized.transpose %[[IN]] {perm = array<i64: 1, 0>}
  // CHECK-NEXT:   npu.yield %[[T]] : tensor<4x1x!quantized.uniform<i8:f32, 0.5:-1>>
  // CHECK-NEXT: }
  npu.cpu_op attributes {layer = "transpose", inputs = [#npu.fm<sram, 448, [1, 4], [4, 1], !quantized.uniform<i8:f32, 0.5:-1>>], outputs = [#npu.fm<sram, 464, [4, 1], [1, 1], !quantized.uniform<i8:f32, 0.5:-1>>]} {
  ^bb0(%in: tensor<1x4x!quantized.uniform<i8:f32, 0.5:-1>>):
    %t = quantized.transpose %in {perm = array<i64: 1, 0>} : tensor<1x4x!quantized.uniform<i8:f32, 0.5:-1>> -> tensor<4x1x!quantized.uniform<i8:f32, 0.5:-1>>
    npu.yield %t : tensor<4x1x!quantized.uniform<i8:f32, 0.5:-1>>
  }
  // CHECK-NEXT: npu.output {tensor = "scores", fm = #npu.fm<sram, 464, [4, 1], [1, 1], !quantized.uniform<i8:f32, 0.5:-1>>, host_conversion = "dequantize"}
  npu.output {tensor = "scores", fm = #npu.fm<sram, 464, [4, 1], [1, 1], !quantized.uniform<i8:f32, 0.5:-1>>, host_conversion = "dequantize"}
  // CHECK-NEXT: npu.output {tensor = "pooled", fm = #npu.fm<sram, 320, [1, 2, 2, 4], [32, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>}
  npu.output {tensor = "pooled", fm = #npu.fm<sram, 320, [1, 2, 2, 4], [32, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>>}
  // A map that wraps (a rolling buffer's view): two rows from 320, the rest from 256.
  // CHECK-NEXT: npu.output {tensor = "rolled", fm = #npu.fm<sram, 320, [1, 3, 2, 4], [32, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>, wrap 2 to 256>}
  npu.output {tensor = "rolled", fm = #npu.fm<sram, 320, [1, 3, 2, 4], [32, 16, 4, 1], !quantized.uniform<i8:f32, 0.5:-1>, wrap 2 to 256>}
}
