// RUN: npuc-opt %s --split-input-file -p quantized-width-to-depth | filecheck %s
// RUN: npuc-opt %s --split-input-file -p 'quantized-width-to-depth{target=ethos-u55-128}' | filecheck %s

// A 4x4 kernel with column stride 2 over the model's one-channel input: the
// input read as [1, 6, 4, 2] (column pairs as channels), the kernel as 4x2
// over two channels (16 kernel elements as 8 pairs: 2 data-path steps on an
// Ethos-U55 instead of 4), row stride 2, column stride 1; bias, scales,
// activation and output unchanged. Every new op keeps the layer (the old
// weights are left to layer-dce).
// CHECK-LABEL: func.func @fold
// CHECK:       %[[I:.*]] = quantized.reshape %x {layer = "stem"} : tensor<1x6x8x1x!quantized.uniform<i8:f32, 0.1:-5>> -> tensor<1x6x4x2x!quantized.uniform<i8:f32, 0.1:-5>>
// CHECK-NEXT:  %[[W:.*]] = quantized.constant {layer = "stem"} dense<{{\[}}{{\[}}{{\[}}{{\[}}1, 2], [3, 4]], {{\[}}[5, 6], [7, 8]], {{\[}}[9, 10], [11, 12]], {{\[}}[13, 14], [15, 16]]], {{\[}}{{\[}}[17, 18], [19, 20]], {{\[}}[21, 22], [23, 24]], {{\[}}[25, 26], [27, 28]], {{\[}}[29, 30], [31, 32]]]]> : tensor<2x4x2x2xi8> -> tensor<2x4x2x2x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0}>>
// CHECK-NEXT:  %[[C:.*]] = quantized.conv2d %[[I]], %[[W]], %b {layer = "stem", strides = array<i64: 2, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : {{.*}} -> tensor<1x2x3x2x!quantized.uniform<i8:f32, 0.2:-3>>
// CHECK-NEXT:  func.return %[[C]]
func.func @fold(%x: tensor<1x6x8x1x!quantized.uniform<i8:f32, 0.1:-5>>) -> tensor<1x2x3x2x!quantized.uniform<i8:f32, 0.2:-3>> {
  %w = quantized.constant dense<[[[[1], [2], [3], [4]], [[5], [6], [7], [8]], [[9], [10], [11], [12]], [[13], [14], [15], [16]]], [[[17], [18], [19], [20]], [[21], [22], [23], [24]], [[25], [26], [27], [28]], [[29], [30], [31], [32]]]]> : tensor<2x4x4x1xi8> -> tensor<2x4x4x1x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0}>>
  %b = quantized.constant dense<[7, -7]> : tensor<2xi32>
  %y = quantized.conv2d %x, %w, %b {layer = "stem", strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "relu"} : (tensor<1x6x8x1x!quantized.uniform<i8:f32, 0.1:-5>>, tensor<2x4x4x1x!quantized.uniform<i8:f32:0, {0.01:0, 0.02:0}>>, tensor<2xi32>) -> tensor<1x2x3x2x!quantized.uniform<i8:f32, 0.2:-3>>
  func.return %y : tensor<1x2x3x2x!quantized.uniform<i8:f32, 0.2:-3>>
}

// -----

// One column of padding on each side: input column 2 ox - 1 + kx is folded
// column ox - 1 + (kx + 1) / 2, so the folded kernel spans three folded
// columns, kernel column 0 in the second half of the first (zeros where no
// kernel column falls), and the padding is one folded column on each side.
// CHECK-LABEL: func.func @padded
// CHECK:       quantized.reshape %x {layer = "stem"} : {{.*}} -> tensor<1x6x4x2x!quantized.uniform<i8:f32, 0.1:-5>>
// CHECK-NEXT:  quantized.constant {layer = "stem"} dense<{{\[}}{{\[}}{{\[}}[0, 1], [2, 3], [4, 0]], {{\[}}[0, 5], [6, 7], [8, 0]], {{\[}}[0, 9], [10, 11], [12, 0]], {{\[}}[0, 13], [14, 15], [16, 0]]]]> : tensor<1x4x3x2xi8>
// CHECK-NEXT:  quantized.conv2d {{.*}} {layer = "stem", strides = array<i64: 2, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none"} : {{.*}} -> tensor<1x3x4x1x!quantized.uniform<i8:f32, 0.2:-3>>
func.func @padded(%x: tensor<1x6x8x1x!quantized.uniform<i8:f32, 0.1:-5>>) -> tensor<1x3x4x1x!quantized.uniform<i8:f32, 0.2:-3>> {
  %w = quantized.constant dense<[[[[1], [2], [3], [4]], [[5], [6], [7], [8]], [[9], [10], [11], [12]], [[13], [14], [15], [16]]]]> : tensor<1x4x4x1xi8> -> tensor<1x4x4x1x!quantized.uniform<i8:f32:0, {0.01:0}>>
  %b = quantized.constant dense<[7]> : tensor<1xi32>
  %y = quantized.conv2d %x, %w, %b {layer = "stem", strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, activation = "none"} : (tensor<1x6x8x1x!quantized.uniform<i8:f32, 0.1:-5>>, tensor<1x4x4x1x!quantized.uniform<i8:f32:0, {0.01:0}>>, tensor<1xi32>) -> tensor<1x3x4x1x!quantized.uniform<i8:f32, 0.2:-3>>
  func.return %y : tensor<1x3x4x1x!quantized.uniform<i8:f32, 0.2:-3>>
}

// -----

// Left as they are: column stride 1 (nothing to fold), a width the stride
// does not divide (7 columns), a dilated kernel, an input an NPU command
// writes (%a's output: a reshape between them would end a cascade of the
// two), and an input of 16 channels (folded to 32, it would take as many
// data-path steps: the cost model says it does not pay).
// CHECK-LABEL: func.func @stays
// CHECK-NOT:   quantized.reshape
func.func @stays(%x: tensor<1x6x8x1x!quantized.uniform<i8:f32, 0.1:-5>>, %o: tensor<1x6x7x1x!quantized.uniform<i8:f32, 0.1:-5>>, %d: tensor<1x6x8x16x!quantized.uniform<i8:f32, 0.1:-5>>) -> (tensor<1x3x8x1x!quantized.uniform<i8:f32, 0.2:-3>>, tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.2:-3>>, tensor<1x2x1x1x!quantized.uniform<i8:f32, 0.2:-3>>, tensor<1x2x3x1x!quantized.uniform<i8:f32, 0.2:-3>>, tensor<1x2x3x1x!quantized.uniform<i8:f32, 0.2:-3>>) {
  %w = quantized.constant dense<1> : tensor<1x4x4x1xi8> -> tensor<1x4x4x1x!quantized.uniform<i8:f32:0, {0.01:0}>>
  %w16 = quantized.constant dense<1> : tensor<1x4x4x16xi8> -> tensor<1x4x4x16x!quantized.uniform<i8:f32:0, {0.01:0}>>
  %b = quantized.constant dense<[7]> : tensor<1xi32>
  %s1 = quantized.conv2d %x, %w, %b {strides = array<i64: 2, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 1, 2, 1, 1>, activation = "none"} : (tensor<1x6x8x1x!quantized.uniform<i8:f32, 0.1:-5>>, tensor<1x4x4x1x!quantized.uniform<i8:f32:0, {0.01:0}>>, tensor<1xi32>) -> tensor<1x3x8x1x!quantized.uniform<i8:f32, 0.2:-3>>
  %odd = quantized.conv2d %o, %w, %b {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x6x7x1x!quantized.uniform<i8:f32, 0.1:-5>>, tensor<1x4x4x1x!quantized.uniform<i8:f32:0, {0.01:0}>>, tensor<1xi32>) -> tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.2:-3>>
  %dil = quantized.conv2d %x, %w, %b {strides = array<i64: 2, 2>, dilations = array<i64: 1, 2>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x6x8x1x!quantized.uniform<i8:f32, 0.1:-5>>, tensor<1x4x4x1x!quantized.uniform<i8:f32:0, {0.01:0}>>, tensor<1xi32>) -> tensor<1x2x1x1x!quantized.uniform<i8:f32, 0.2:-3>>
  %a = quantized.add %x, %x {activation = "none"} : (tensor<1x6x8x1x!quantized.uniform<i8:f32, 0.1:-5>>, tensor<1x6x8x1x!quantized.uniform<i8:f32, 0.1:-5>>) -> tensor<1x6x8x1x!quantized.uniform<i8:f32, 0.1:-5>>
  %npu = quantized.conv2d %a, %w, %b {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x6x8x1x!quantized.uniform<i8:f32, 0.1:-5>>, tensor<1x4x4x1x!quantized.uniform<i8:f32:0, {0.01:0}>>, tensor<1xi32>) -> tensor<1x2x3x1x!quantized.uniform<i8:f32, 0.2:-3>>
  %deep = quantized.conv2d %d, %w16, %b {strides = array<i64: 2, 2>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x6x8x16x!quantized.uniform<i8:f32, 0.1:-5>>, tensor<1x4x4x16x!quantized.uniform<i8:f32:0, {0.01:0}>>, tensor<1xi32>) -> tensor<1x2x3x1x!quantized.uniform<i8:f32, 0.2:-3>>
  func.return %s1, %odd, %dil, %npu, %deep : tensor<1x3x8x1x!quantized.uniform<i8:f32, 0.2:-3>>, tensor<1x2x2x1x!quantized.uniform<i8:f32, 0.2:-3>>, tensor<1x2x1x1x!quantized.uniform<i8:f32, 0.2:-3>>, tensor<1x2x3x1x!quantized.uniform<i8:f32, 0.2:-3>>, tensor<1x2x3x1x!quantized.uniform<i8:f32, 0.2:-3>>
}
