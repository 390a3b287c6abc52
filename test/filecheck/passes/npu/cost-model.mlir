// RUN: npuc-opt %s --split-input-file -p npu-cost-model | filecheck %s
// RUN: npuc-opt %s --split-input-file -p 'npu-cost-model{target=ethos-u55-128}' | filecheck %s

// A weight DMA from flash, the 1x1 convolution that reads the copied weights,
// and a CPU layer. The 16-byte DMA is latency bound (16 bytes at 1 byte/cycle
// + 64 cycles flash latency); the convolution waits for it and is compute
// bound, as in Vela: its one block's data path (32 cycles) and write-back (32
// OFM elements at 2 per cycle: 16), plus one IFM block (128 bytes of the
// plain model input at 8 bytes/cycle + SRAM read latency 32: 48) and one OFM
// block (32 bytes the CPU layer reads, so plain NHWC: 8-byte rows, each a
// whole 32-byte burst, 128 bytes at 8/cycle + write latency 32: 48):
// 32 + 16 + 48 + 48 = 144. The CPU layer's reshape is the host's estimate:
// 32 output elements at the Cortex-M55's 0.25 cycles each ([host_cpu]): 8.
// CHECK-LABEL: builtin.module attributes {npu.target = "ethos-u55-128", npu.total_cycles = 232 : i64}
// CHECK:       npu.input {tensor = "x",
// CHECK-NEXT:  npu.dma {layer = "c", npu.cycles = 80 : i64, npu.macs = 0 : i64, npu.bound = "latency",
// CHECK-NEXT:  npu.conv2d {layer = "c", npu.cycles = 144 : i64, npu.macs = 256 : i64, npu.bound = "compute",
// CHECK-NEXT:  npu.cpu_op attributes {layer = "r", npu.cycles = 8 : i64, npu.macs = 0 : i64, npu.bound = "cpu",
// CHECK:       npu.output {tensor = "y",
builtin.module attributes {npu.target = "ethos-u55-128"} {
  npu.input {tensor = "x", fm = #npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.1:-3>>}
  npu.dma {layer = "c", src = #npu.buf<flash, 0, 16>, dst = #npu.buf<sram, 256, 16>}
  npu.conv2d {layer = "c", ifm = #npu.fm<sram, 0, [1, 4, 4, 8], [128, 32, 8, 1], !quantized.uniform<i8:f32, 0.1:-3>>, ofm = #npu.fm<sram, 512, [1, 4, 4, 2], [32, 8, 2, 1], !quantized.uniform<i8:f32, 0.1:-3>>, weights = #npu.buf<sram, 256, 16>, scale_bias = #npu.buf<flash, 16, 24>, kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 4, 4, 8>}
  npu.cpu_op attributes {layer = "r", inputs = [#npu.fm<sram, 512, [1, 4, 4, 2], [32, 8, 2, 1], !quantized.uniform<i8:f32, 0.1:-3>>], outputs = [#npu.fm<sram, 0, [1, 32], [32, 1], !quantized.uniform<i8:f32, 0.1:-3>>]} {
  ^bb0(%a : tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.1:-3>>):
    %r = quantized.reshape %a {layer = "r"} : tensor<1x4x4x2x!quantized.uniform<i8:f32, 0.1:-3>> -> tensor<1x32x!quantized.uniform<i8:f32, 0.1:-3>>
    npu.yield %r : tensor<1x32x!quantized.uniform<i8:f32, 0.1:-3>>
  }
  npu.output {tensor = "y", fm = #npu.fm<sram, 0, [1, 32], [32, 1], !quantized.uniform<i8:f32, 0.1:-3>>}
}

// -----

// The 3x3, 16 -> 16 channel convolution of a 1x240x160x16 IFM: 88,473,600 MACs
// at 128 MACs/cycle and 75 % utilisation (9 kernel elements in steps of 4) is
// 921,600 cycles (600 blocks of 16x8x8 at 1,536), plus the last block's
// write-back at the issue floor ((1,536 + 512 + |160 - 392|) / 4 = 570) and
// one IFM and OFM block's memory time (392 + 160): 922,722 in all; weights in
// SRAM keep it compute bound.
// CHECK-LABEL: builtin.module attributes {npu.target = "ethos-u55-128", npu.total_cycles = 922722 : i64}
// CHECK:       npu.conv2d {layer = "conv3x3", npu.cycles = 922722 : i64, npu.macs = 88473600 : i64, npu.bound = "compute",
builtin.module attributes {npu.target = "ethos-u55-128"} {
  npu.conv2d {layer = "conv3x3", ifm = #npu.fm<sram, 0, [1, 240, 160, 16], [614400, 2560, 16, 1], !quantized.uniform<i8:f32, 0.1:-3>>, ofm = #npu.fm<sram, 614400, [1, 240, 160, 16], [614400, 2560, 16, 1], !quantized.uniform<i8:f32, 0.1:-3>>, weights = #npu.buf<sram, 1228800, 2304>, scale_bias = #npu.buf<flash, 0, 192>, kernel = array<i64: 3, 3>, strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 16, 8, 8>}
}

// -----

// A fully connected layer whose 64 KiB of weights stay in flash: its weights
// and its scale/bias table come from flash at one byte per cycle (65,536 +
// 3,072 = 68,608 cycles, more than its compute), so it is flash bound; a 2x2
// max pool takes 16 cycles per 16-element micro-block (4 kernel taps per cycle
// for 8-bit data: 1024 for its one block), plus its write-back at the issue
// floor ((1,024 + 256) / 4 = 320) and one IFM and OFM block's memory time
// (16x16x16 and 8x8x16 bytes at 8 bytes/cycle + 32 latency each: 544 + 160),
// and is compute bound: 2,048. Both run on the compute engine, one after the
// other: 68,608 + 2,048 = 70,656 in all.
// CHECK-LABEL: builtin.module attributes {npu.target = "ethos-u55-128", npu.total_cycles = 70656 : i64}
// CHECK:       npu.fully_connected {layer = "fc", npu.cycles = 68608 : i64, npu.macs = 65536 : i64, npu.bound = "flash",
// CHECK:       npu.pool {layer = "pool", npu.cycles = 2048 : i64, npu.macs = 0 : i64, npu.bound = "compute",
builtin.module attributes {npu.target = "ethos-u55-128"} {
  npu.fully_connected {layer = "fc", ifm = #npu.fm<sram, 0, [1, 256], [256, 1], !quantized.uniform<i8:f32, 0.1:-3>>, ofm = #npu.fm<sram, 256, [1, 256], [256, 1], !quantized.uniform<i8:f32, 0.1:-3>>, weights = #npu.buf<flash, 4096, 65536>, scale_bias = #npu.buf<flash, 0, 3072>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 1, 2, 64>}
  npu.pool {layer = "pool", kind = "max", ifm = #npu.fm<sram, 1024, [1, 16, 16, 16], [4096, 256, 16, 1], !quantized.uniform<i8:f32, 0.1:-3>>, ofm = #npu.fm<sram, 8192, [1, 8, 8, 16], [1024, 128, 16, 1], !quantized.uniform<i8:f32, 0.1:-3>>, kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, act_min = -128 : i32, act_max = 127 : i32, block = array<i64: 8, 8, 16>}
}
