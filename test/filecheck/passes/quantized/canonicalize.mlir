// RUN: npuc-opt %s --split-input-file -p quantized-canonicalize | filecheck %s

// A global average pool exported with stride = kernel: the kernel covers the
// whole input, so the stride becomes 1.
// CHECK-LABEL: func.func @global_pool
// CHECK:       quantized.avg_pool2d %{{.*}} {layer = "pool", kernel = array<i64: 8, 8>, strides = array<i64: 1, 1>,
func.func @global_pool(%x: tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.02:-128>> {
  %p = quantized.avg_pool2d %x {layer = "pool", kernel = array<i64: 8, 8>, strides = array<i64: 8, 8>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x8x8x4x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.02:-128>>
  func.return %p : tensor<1x1x1x4x!quantized.uniform<i8:f32, 0.02:-128>>
}

// -----

// One window position that leaves the last row out: the smallest stride that
// keeps one position is 25 - 24 + 1 = 2; the width (4 positions) is untouched.
// CHECK-LABEL: func.func @one_position
// CHECK:       quantized.max_pool2d %{{.*}} {layer = "pool", kernel = array<i64: 24, 2>, strides = array<i64: 2, 1>,
func.func @one_position(%x: tensor<1x25x5x4x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x1x4x4x!quantized.uniform<i8:f32, 0.02:-128>> {
  %p = quantized.max_pool2d %x {layer = "pool", kernel = array<i64: 24, 2>, strides = array<i64: 24, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x25x5x4x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x1x4x4x!quantized.uniform<i8:f32, 0.02:-128>>
  func.return %p : tensor<1x1x4x4x!quantized.uniform<i8:f32, 0.02:-128>>
}

// -----

// Padding counts as input, and a dilated kernel spans dilation * (k - 1) + 1:
// 3 taps dilated by 2 span 5 = 3 rows + 2 padding rows.
// CHECK-LABEL: func.func @dilated_padded
// CHECK:       quantized.conv2d {{.*}} {layer = "conv", strides = array<i64: 1, 3>, dilations = array<i64: 2, 1>, padding = array<i64: 1, 0, 1, 0>,
func.func @dilated_padded(%x: tensor<1x3x7x1x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x1x3x1x!quantized.uniform<i8:f32, 0.02:-128>> {
  %w = quantized.constant dense<1> : tensor<1x3x1x1xi8> -> tensor<1x3x1x1x!quantized.uniform<i8:f32, 0.01:0>>
  %b = quantized.constant dense<0> : tensor<1xi32>
  %c = quantized.conv2d %x, %w, %b {layer = "conv", strides = array<i64: 4, 3>, dilations = array<i64: 2, 1>, padding = array<i64: 1, 0, 1, 0>, activation = "none"} : (tensor<1x3x7x1x!quantized.uniform<i8:f32, 0.02:-128>>, tensor<1x3x1x1x!quantized.uniform<i8:f32, 0.01:0>>, tensor<1xi32>) -> tensor<1x1x3x1x!quantized.uniform<i8:f32, 0.02:-128>>
  func.return %c : tensor<1x1x3x1x!quantized.uniform<i8:f32, 0.02:-128>>
}

// -----

// Several window positions: the stride matters and stays.
// CHECK-LABEL: func.func @strided
// CHECK:       strides = array<i64: 2, 2>
func.func @strided(%x: tensor<1x4x4x1x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.02:-128>> {
  %p = quantized.avg_pool2d %x {layer = "pool", kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x1x!quantized.uniform<i8:f32, 0.02:-128>>) -> tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.02:-128>>
  func.return %p : tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.02:-128>>
}

// -----

// A slice cutting one axis with unit steps, read by ops that address strided
// maps, is a piece of a split (before, in, after): a memory view on the NPU.
// One read by the return (dense), one with a step and one cutting two axes stay.
// CHECK-LABEL: func.func @slices
// CHECK-NEXT:  %{{[a-z0-9]+}}, %[[A:[a-z0-9]+]], %{{[a-z0-9]+}} = quantized.split %{{.*}} {layer = "middle", axis = 3 : i64} : (tensor<1x4x6x8x{{.*}}>) -> (tensor<1x4x6x2x{{.*}}>, tensor<1x4x6x4x{{.*}}>, tensor<1x4x6x2x{{.*}}>)
// CHECK-NEXT:  quantized.add %[[A]], %[[A]]
// CHECK-NEXT:  %[[C:[a-z0-9]+]], %{{[a-z0-9]+}} = quantized.split %{{.*}} {layer = "first", axis = 1 : i64} : (tensor<1x4x6x8x{{.*}}>) -> (tensor<1x1x6x8x{{.*}}>, tensor<1x3x6x8x{{.*}}>)
// CHECK-NEXT:  quantized.add %[[C]], %[[C]]
// CHECK-NEXT:  quantized.slice %{{.*}} {layer = "returned"
// CHECK-NEXT:  quantized.slice %{{.*}} {layer = "stepped"
// CHECK-NEXT:  quantized.add
// CHECK-NEXT:  quantized.slice %{{.*}} {layer = "two_axes"
func.func @slices(%x: tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>>) -> (tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x1x6x8x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x2x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x2x6x4x!quantized.uniform<i8:f32, 0.1:0>>) {
  %a = quantized.slice %x {layer = "middle", begin = array<i64: 0, 0, 0, 2>, end = array<i64: 1, 4, 6, 6>, strides = array<i64: 1, 1, 1, 1>} : tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>
  %b = quantized.add %a, %a {activation = "none"} : (tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>
  %c = quantized.slice %x {layer = "first", begin = array<i64: 0, 0, 0, 0>, end = array<i64: 1, 1, 6, 8>, strides = array<i64: 1, 1, 1, 1>} : tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x1x6x8x!quantized.uniform<i8:f32, 0.1:0>>
  %d = quantized.add %c, %c {activation = "none"} : (tensor<1x1x6x8x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x1x6x8x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x1x6x8x!quantized.uniform<i8:f32, 0.1:0>>
  %e = quantized.slice %x {layer = "returned", begin = array<i64: 0, 0, 0, 4>, end = array<i64: 1, 4, 6, 8>, strides = array<i64: 1, 1, 1, 1>} : tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>
  %f = quantized.slice %x {layer = "stepped", begin = array<i64: 0, 0, 0, 0>, end = array<i64: 1, 4, 6, 8>, strides = array<i64: 1, 1, 1, 4>} : tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x4x6x2x!quantized.uniform<i8:f32, 0.1:0>>
  %g = quantized.add %f, %f {activation = "none"} : (tensor<1x4x6x2x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x2x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x4x6x2x!quantized.uniform<i8:f32, 0.1:0>>
  %h = quantized.slice %x {layer = "two_axes", begin = array<i64: 0, 1, 0, 4>, end = array<i64: 1, 3, 6, 8>, strides = array<i64: 1, 1, 1, 1>} : tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x2x6x4x!quantized.uniform<i8:f32, 0.1:0>>
  %i = quantized.add %h, %h {activation = "none"} : (tensor<1x2x6x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x2x6x4x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x2x6x4x!quantized.uniform<i8:f32, 0.1:0>>
  func.return %b, %d, %e, %g, %i : tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x1x6x8x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x2x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x2x6x4x!quantized.uniform<i8:f32, 0.1:0>>
}

// -----

// A split's piece read by an op that needs it dense (a concat of the same
// quantization, a reshape) is read through a slice of the split's input
// instead: a strided copy on the NPU; the piece a conv reads stays in the
// split. A split no piece of which is left read goes.
// CHECK-LABEL: func.func @dense_pieces
// CHECK-NEXT:  %{{[a-z0-9]+}}, %[[B:[a-z0-9]+]] = quantized.split %[[X:[a-z0-9]+]] {layer = "chunk", axis = 3 : i64}
// CHECK-NEXT:  %[[A:[a-z0-9]+]] = quantized.slice %[[X]] {layer = "chunk", begin = array<i64: 0, 0, 0, 0>, end = array<i64: 1, 4, 6, 4>, strides = array<i64: 1, 1, 1, 1>}
// CHECK-NEXT:  %[[M:[a-z0-9]+]] = quantized.max_pool2d %[[B]]
// CHECK-NEXT:  quantized.concat %[[A]], %[[M]]
// CHECK-NEXT:  %[[L:[a-z0-9]+]] = quantized.slice %[[X]] {layer = "both", begin = array<i64: 0, 0, 0, 4>, end = array<i64: 1, 4, 6, 8>, strides = array<i64: 1, 1, 1, 1>}
// CHECK-NEXT:  %[[F:[a-z0-9]+]] = quantized.slice %[[X]] {layer = "both", begin = array<i64: 0, 0, 0, 0>, end = array<i64: 1, 4, 6, 4>, strides = array<i64: 1, 1, 1, 1>}
// CHECK-NEXT:  quantized.reshape %[[F]]
// CHECK-NEXT:  quantized.concat %[[L]], %[[F]]
// CHECK-NOT:   quantized.split
func.func @dense_pieces(%x: tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>>) -> (tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>>, tensor<96x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>>) {
  %a, %b = quantized.split %x {layer = "chunk", axis = 3 : i64} : (tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>>) -> (tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>)
  %m = quantized.max_pool2d %b {kernel = array<i64: 1, 1>, strides = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>
  %c = quantized.concat %a, %m {axis = 3 : i64} : (tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>>
  %f, %l = quantized.split %x {layer = "both", axis = 3 : i64} : (tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>>) -> (tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>)
  %r = quantized.reshape %f : tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<96x!quantized.uniform<i8:f32, 0.1:0>>
  %s = quantized.concat %l, %f {axis = 3 : i64} : (tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>>
  func.return %c, %r, %s : tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>>, tensor<96x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>>
}

// -----

// A concat quantized otherwise than its input gets a requantize before it
// (quantized-concat-requantize), which reads a piece in place: a split piece
// stays, and a slice becomes one.
// CHECK-LABEL: func.func @requantizing_concat
// CHECK-NEXT:  %[[A:[a-z0-9]+]], %{{[a-z0-9]+}} = quantized.split %{{.*}} {layer = "chunk", axis = 3 : i64}
// CHECK-NEXT:  quantized.concat %[[A]], %[[A]]
// CHECK-NEXT:  %{{[a-z0-9]+}}, %[[K:[a-z0-9]+]] = quantized.split %{{.*}} {layer = "kept", axis = 3 : i64}
// CHECK-NEXT:  quantized.concat %[[K]], %[[K]]
func.func @requantizing_concat(%x: tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>>) -> (tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.2:3>>, tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.2:3>>) {
  %a, %b = quantized.split %x {layer = "chunk", axis = 3 : i64} : (tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>>) -> (tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>)
  %c = quantized.concat %a, %a {axis = 3 : i64} : (tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.2:3>>
  %k = quantized.slice %x {layer = "kept", begin = array<i64: 0, 0, 0, 4>, end = array<i64: 1, 4, 6, 8>, strides = array<i64: 1, 1, 1, 1>} : tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>
  %d = quantized.concat %k, %k {axis = 3 : i64} : (tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.2:3>>
  func.return %c, %d : tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.2:3>>, tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.2:3>>
}

// -----

// A module following onnxruntime's rounding (a QDQ import) gets no requantize
// before a concat (quantized-concat-requantize leaves it), so the concat reads
// dense data: the slice stays, and the split's piece is read through a slice.
// CHECK-LABEL: builtin.module attributes {quantized.rounding = "onnxruntime"}
// CHECK:       %[[A:[a-z0-9]+]] = quantized.slice %[[X:[a-z0-9]+]] {layer = "chunk"
// CHECK-NEXT:  quantized.concat %[[A]], %[[A]]
// CHECK-NEXT:  %[[K:[a-z0-9]+]] = quantized.slice %[[X]] {layer = "kept"
// CHECK-NEXT:  quantized.concat %[[K]], %[[K]]
builtin.module attributes {quantized.rounding = "onnxruntime"} {
  func.func @onnxruntime_rounding(%x: tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>>) -> (tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.2:3>>, tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.2:3>>) {
    %a, %b = quantized.split %x {layer = "chunk", axis = 3 : i64} : (tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>>) -> (tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>)
    %c = quantized.concat %a, %a {axis = 3 : i64} : (tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.2:3>>
    %k = quantized.slice %x {layer = "kept", begin = array<i64: 0, 0, 0, 4>, end = array<i64: 1, 4, 6, 8>, strides = array<i64: 1, 1, 1, 1>} : tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.1:0>> -> tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>
    %d = quantized.concat %k, %k {axis = 3 : i64} : (tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>, tensor<1x4x6x4x!quantized.uniform<i8:f32, 0.1:0>>) -> tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.2:3>>
    func.return %c, %d : tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.2:3>>, tensor<1x4x6x8x!quantized.uniform<i8:f32, 0.2:3>>
  }
}
