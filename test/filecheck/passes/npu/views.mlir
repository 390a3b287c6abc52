// RUN: npuc-opt %s --split-input-file -p "npu-legalize,npu-tile,npu-schedule,npu-allocate,npu-lower" | filecheck %s

// Concat and split as memory views (npuc.backend.views): the split and the concat
// emit no command; c1/c2 read the split's channel slices of c0's ofm in
// place (c0's strides, offsets +0 and +2); c1, c2, c3 write straight into the
// concat's channel slices (the concat's strides [150, 30, 10, 1], offsets
// +0, +5, +8) and c4 reads the whole concat.

// CHECK:       npu.conv2d {layer = "c0", {{.*}}ofm = #npu.fm<sram, [[C0:[0-9]+]], [1, 5, 3, 6], [90, 18, 6, 1]
// CHECK-NOT:   layer = "split"
// CHECK:       npu.conv2d {layer = "c1", ifm = #npu.fm<sram, [[C0]], [1, 5, 3, 2], [90, 18, 6, 1], {{.*}}ofm = #npu.fm<sram, [[CAT:[0-9]+]], [1, 5, 3, 5], [150, 30, 10, 1]
// CHECK:       npu.conv2d {layer = "c2", ifm = #npu.fm<sram, {{[0-9]+}}, [1, 5, 3, 4], [90, 18, 6, 1], {{.*}}ofm = #npu.fm<sram, {{[0-9]+}}, [1, 5, 3, 3], [150, 30, 10, 1]
// CHECK:       npu.conv2d {layer = "c3", {{.*}}ofm = #npu.fm<sram, {{[0-9]+}}, [1, 5, 3, 2], [150, 30, 10, 1]
// CHECK-NOT:   layer = "concat"
// CHECK:       npu.conv2d {layer = "c4", ifm = #npu.fm<sram, [[CAT]], [1, 5, 3, 10], [150, 30, 10, 1]

func.func @c0_split(%x: tensor<1x5x3x4x!quantized.uniform<i8:f32, 0.05:-3>>) -> tensor<1x5x3x3x!quantized.uniform<i8:f32, 0.05:-3>> {
  %wc0 = quantized.constant dense<"0x7F64A2F9733D8603E628D2413B16D1734D986C88762467A4"> : tensor<6x1x1x4xi8> -> tensor<6x1x1x4x!quantized.uniform<i8:f32, 0.02:0>>
  %bc0 = quantized.constant dense<[193, 269, -151, -113, 221, -47]> : tensor<6xi32>
  %c0 = quantized.conv2d %x, %wc0, %bc0 {layer = "c0", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x5x3x4x!quantized.uniform<i8:f32, 0.05:-3>>, tensor<6x1x1x4x!quantized.uniform<i8:f32, 0.02:0>>, tensor<6xi32>) -> tensor<1x5x3x6x!quantized.uniform<i8:f32, 0.1:2>>
  %s:2 = quantized.split %c0 {layer = "split", axis = 3 : i64} : (tensor<1x5x3x6x!quantized.uniform<i8:f32, 0.1:2>>) -> (tensor<1x5x3x2x!quantized.uniform<i8:f32, 0.1:2>>, tensor<1x5x3x4x!quantized.uniform<i8:f32, 0.1:2>>)
  %wc1 = quantized.constant dense<"0x41D8EB56C88379C2E4F1"> : tensor<5x1x1x2xi8> -> tensor<5x1x1x2x!quantized.uniform<i8:f32, 0.02:0>>
  %bc1 = quantized.constant dense<[-121, -52, 188, -30, -245]> : tensor<5xi32>
  %c1 = quantized.conv2d %s#0, %wc1, %bc1 {layer = "c1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x5x3x2x!quantized.uniform<i8:f32, 0.1:2>>, tensor<5x1x1x2x!quantized.uniform<i8:f32, 0.02:0>>, tensor<5xi32>) -> tensor<1x5x3x5x!quantized.uniform<i8:f32, 0.05:-3>>
  %wc2 = quantized.constant dense<"0x78423E4F139A6D9575536FAD"> : tensor<3x1x1x4xi8> -> tensor<3x1x1x4x!quantized.uniform<i8:f32, 0.02:0>>
  %bc2 = quantized.constant dense<[-158, -192, 180]> : tensor<3xi32>
  %c2 = quantized.conv2d %s#1, %wc2, %bc2 {layer = "c2", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x5x3x4x!quantized.uniform<i8:f32, 0.1:2>>, tensor<3x1x1x4x!quantized.uniform<i8:f32, 0.02:0>>, tensor<3xi32>) -> tensor<1x5x3x3x!quantized.uniform<i8:f32, 0.05:-3>>
  %wc3 = quantized.constant dense<"0xCEA778397B9FEC71"> : tensor<2x1x1x4xi8> -> tensor<2x1x1x4x!quantized.uniform<i8:f32, 0.02:0>>
  %bc3 = quantized.constant dense<[228, 6]> : tensor<2xi32>
  %c3 = quantized.conv2d %x, %wc3, %bc3 {layer = "c3", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x5x3x4x!quantized.uniform<i8:f32, 0.05:-3>>, tensor<2x1x1x4x!quantized.uniform<i8:f32, 0.02:0>>, tensor<2xi32>) -> tensor<1x5x3x2x!quantized.uniform<i8:f32, 0.05:-3>>
  %cat = quantized.concat %c1, %c2, %c3 {layer = "concat", axis = 3 : i64} : (tensor<1x5x3x5x!quantized.uniform<i8:f32, 0.05:-3>>, tensor<1x5x3x3x!quantized.uniform<i8:f32, 0.05:-3>>, tensor<1x5x3x2x!quantized.uniform<i8:f32, 0.05:-3>>) -> tensor<1x5x3x10x!quantized.uniform<i8:f32, 0.05:-3>>
  %wc4 = quantized.constant dense<"0x2865382B6E2B944E75194C85A5B5554E402D86F8BFE06C03F684D721FCC7"> : tensor<3x1x1x10xi8> -> tensor<3x1x1x10x!quantized.uniform<i8:f32, 0.02:0>>
  %bc4 = quantized.constant dense<[287, -268, -134]> : tensor<3xi32>
  %c4 = quantized.conv2d %cat, %wc4, %bc4 {layer = "c4", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x5x3x10x!quantized.uniform<i8:f32, 0.05:-3>>, tensor<3x1x1x10x!quantized.uniform<i8:f32, 0.02:0>>, tensor<3xi32>) -> tensor<1x5x3x3x!quantized.uniform<i8:f32, 0.05:-3>>
  func.return %c4 : tensor<1x5x3x3x!quantized.uniform<i8:f32, 0.05:-3>>
}

// -----

// A concat of a model input: no NPU command writes it, so the concat runs on the CPU.

// CHECK:       npu.cpu_op attributes {layer = "concat", {{.*}}reason = "input 0 is not written by an NPU command"}


func.func @concat_c1(%x: tensor<1x5x3x4x!quantized.uniform<i8:f32, 0.05:-3>>) -> tensor<1x5x3x3x!quantized.uniform<i8:f32, 0.05:-3>> {
  %wc1 = quantized.constant dense<"0x7E026EF111A34509"> : tensor<2x1x1x4xi8> -> tensor<2x1x1x4x!quantized.uniform<i8:f32, 0.02:0>>
  %bc1 = quantized.constant dense<[10, -95]> : tensor<2xi32>
  %c1 = quantized.conv2d %x, %wc1, %bc1 {layer = "c1", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x5x3x4x!quantized.uniform<i8:f32, 0.05:-3>>, tensor<2x1x1x4x!quantized.uniform<i8:f32, 0.02:0>>, tensor<2xi32>) -> tensor<1x5x3x2x!quantized.uniform<i8:f32, 0.05:-3>>
  %cat = quantized.concat %x, %c1 {layer = "concat", axis = 3 : i64} : (tensor<1x5x3x4x!quantized.uniform<i8:f32, 0.05:-3>>, tensor<1x5x3x2x!quantized.uniform<i8:f32, 0.05:-3>>) -> tensor<1x5x3x6x!quantized.uniform<i8:f32, 0.05:-3>>
  %wc2 = quantized.constant dense<"0x0BCA657129C1862015EAA62F3C4D2F65E279"> : tensor<3x1x1x6xi8> -> tensor<3x1x1x6x!quantized.uniform<i8:f32, 0.02:0>>
  %bc2 = quantized.constant dense<[165, 200, -165]> : tensor<3xi32>
  %c2 = quantized.conv2d %cat, %wc2, %bc2 {layer = "c2", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x5x3x6x!quantized.uniform<i8:f32, 0.05:-3>>, tensor<3x1x1x6x!quantized.uniform<i8:f32, 0.02:0>>, tensor<3xi32>) -> tensor<1x5x3x3x!quantized.uniform<i8:f32, 0.05:-3>>
  func.return %c2 : tensor<1x5x3x3x!quantized.uniform<i8:f32, 0.05:-3>>
}

// -----

// A ViT's class token: a constant concatenated before a convolution's result
// reshaped to tokens. The concat is a view: c1 writes its ofm dense into the
// slice after the token (offset +16), and one DMA copies the constant from the
// weights memory into its slice (16 bytes at the concat's offset).

// CHECK:       npu.constant {buffer = #npu.buf<flash, [[TOKEN:[0-9]+]], 16>, value = dense<[[[60, -76,
// CHECK:       npu.conv2d {layer = "c1", {{.*}}ofm = #npu.fm<sram, 16, [1, 4, 3, 16], [192, 48, 16, 1]
// CHECK-NEXT:  npu.dma {layer = "concat", src = #npu.buf<flash, [[TOKEN]], 16>, dst = #npu.buf<sram, 0, 16>}
// CHECK-NEXT:  npu.output {tensor = "output0", fm = #npu.fm<sram, 0, [1, 13, 16], [208, 16, 1]

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

// A grouped convolution (2 groups, relu) runs as one command per group
// (npuc.backend.grouped), right after c0: group g reads channels 2g..2g+1 of c0's ofm in place
// (c0's strides [60, 12, 4, 1], offsets +0 and +2) and writes channels
// 3g..3g+2 of the grouped ofm (strides [90, 18, 6, 1], offsets +0 and +3)
// with the relu's bounds; c4 reads the whole grouped ofm.

// CHECK:       npu.conv2d {layer = "c0", {{.*}}ofm = #npu.fm<sram, [[C0:[0-9]+]], [1, 5, 3, 4], [60, 12, 4, 1]
// CHECK-NEXT:  npu.conv2d {layer = "grouped", ifm = #npu.fm<sram, [[C0]], [1, 5, 3, 2], [60, 12, 4, 1], {{.*}}ofm = #npu.fm<sram, [[G:[0-9]+]], [1, 5, 3, 3], [90, 18, 6, 1]
// CHECK-SAME:  act_min = -3 : i32
// CHECK-NEXT:  npu.conv2d {layer = "grouped", ifm = #npu.fm<sram, {{[0-9]+}}, [1, 5, 3, 2], [60, 12, 4, 1], {{.*}}ofm = #npu.fm<sram, {{[0-9]+}}, [1, 5, 3, 3], [90, 18, 6, 1]
// CHECK-SAME:  act_min = -3 : i32
// CHECK-NEXT:  npu.conv2d {layer = "c4", ifm = #npu.fm<sram, [[G]], [1, 5, 3, 6], [90, 18, 6, 1]

func.func @grouped(%x: tensor<1x5x3x4x!quantized.uniform<i8:f32, 0.05:-3>>) -> tensor<1x5x3x3x!quantized.uniform<i8:f32, 0.05:-3>> {
  %w0 = quantized.constant dense<"0x71202F65144655BA8FCDC95F69820052"> : tensor<4x1x1x4xi8> -> tensor<4x1x1x4x!quantized.uniform<i8:f32, 0.02:0>>
  %b0 = quantized.constant dense<[-222, 178, -229, -20]> : tensor<4xi32>
  %c0 = quantized.conv2d %x, %w0, %b0 {layer = "c0", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x5x3x4x!quantized.uniform<i8:f32, 0.05:-3>>, tensor<4x1x1x4x!quantized.uniform<i8:f32, 0.02:0>>, tensor<4xi32>) -> tensor<1x5x3x4x!quantized.uniform<i8:f32, 0.1:2>>
  %wg = quantized.constant dense<"0x51CED8C738C17DF2FA01150E027E4E4B331FD77DF7B758A95B1D9E8CF28AA50478F74F6A5221F104C4FFE1C07E8499B2783161B438DFFD811E542AA809C57761B002705935248B3EF998BF0A3A021D5F2FDD25199C9029E319D3BAA7E251E7E1137AE517F11BF2230C2D74A7"> : tensor<6x3x3x2xi8> -> tensor<6x3x3x2x!quantized.uniform<i8:f32:0, {0.02:0, 0.03:0, 0.01:0, 0.02:0, 0.04:0, 0.02:0}>>
  %bg = quantized.constant dense<[36, -36, -86, -157, -269, -59]> : tensor<6xi32>
  %g = quantized.conv2d %c0, %wg, %bg {layer = "grouped", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, groups = 2 : i64, activation = "relu"} : (tensor<1x5x3x4x!quantized.uniform<i8:f32, 0.1:2>>, tensor<6x3x3x2x!quantized.uniform<i8:f32:0, {0.02:0, 0.03:0, 0.01:0, 0.02:0, 0.04:0, 0.02:0}>>, tensor<6xi32>) -> tensor<1x5x3x6x!quantized.uniform<i8:f32, 0.05:-3>>
  %w4 = quantized.constant dense<"0x5399E87773B7822C84CDFF5F982908A25858"> : tensor<3x1x1x6xi8> -> tensor<3x1x1x6x!quantized.uniform<i8:f32, 0.02:0>>
  %b4 = quantized.constant dense<[-11, 266, 64]> : tensor<3xi32>
  %c4 = quantized.conv2d %g, %w4, %b4 {layer = "c4", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x5x3x6x!quantized.uniform<i8:f32, 0.05:-3>>, tensor<3x1x1x6x!quantized.uniform<i8:f32, 0.02:0>>, tensor<3xi32>) -> tensor<1x5x3x3x!quantized.uniform<i8:f32, 0.05:-3>>
  func.return %c4 : tensor<1x5x3x3x!quantized.uniform<i8:f32, 0.05:-3>>
}
