// RUN: npuc-opt %s --split-input-file -p graph-canonicalize | filecheck %s

// Reshapes to the same type vanish; a reshape chain becomes one reshape.

// CHECK-LABEL: func.func @reshapes
// CHECK-NEXT:  %[[R:.*]] = graph.reshape %{{.*}} {layer = "last"} : tensor<1x1x1x8xf32> -> tensor<1x8xf32>
// CHECK-NEXT:  func.return %[[R]]
func.func @reshapes(%x: tensor<1x1x1x8xf32>) -> tensor<1x8xf32> {
  %a = graph.reshape %x : tensor<1x1x1x8xf32> -> tensor<1x1x1x8xf32>
  %b = graph.reshape %a : tensor<1x1x1x8xf32> -> tensor<1x8x1xf32>
  %c = graph.reshape %b {layer = "last"} : tensor<1x8x1xf32> -> tensor<1x8xf32>
  func.return %c : tensor<1x8xf32>
}

// -----

// Identity transposes and transposes of unit axes move no element: the first
// disappears, the second becomes a reshape with its layer.

// CHECK-LABEL: func.func @noop_transposes
// CHECK-NEXT:  %[[R:.*]] = graph.reshape %{{.*}} {layer = "to_nchw"} : tensor<1x1x1x8xf32> -> tensor<1x8x1x1xf32>
// CHECK-NEXT:  func.return %[[R]]
func.func @noop_transposes(%x: tensor<1x1x1x8xf32>) -> tensor<1x8x1x1xf32> {
  %a = graph.transpose %x {perm = array<i64: 0, 1, 2, 3>} : tensor<1x1x1x8xf32> -> tensor<1x1x1x8xf32>
  %b = graph.transpose %a {layer = "to_nchw", perm = array<i64: 0, 3, 1, 2>} : tensor<1x1x1x8xf32> -> tensor<1x8x1x1xf32>
  func.return %b : tensor<1x8x1x1xf32>
}

// -----

// A transpose pair that cancels is removed; one that does not becomes one transpose.

// CHECK-LABEL: func.func @pairs
// CHECK-NEXT:  %[[T:.*]] = graph.transpose %{{.*}} {layer = "second", perm = array<i64: 0, 2, 1, 3>}
// CHECK-NEXT:  func.return %{{.*}}, %[[T]]
func.func @pairs(%x: tensor<1x2x3x4xf32>) -> (tensor<1x2x3x4xf32>, tensor<1x3x2x4xf32>) {
  %a = graph.transpose %x {perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x3x4xf32> -> tensor<1x4x2x3xf32>
  %b = graph.transpose %a {perm = array<i64: 0, 2, 3, 1>} : tensor<1x4x2x3xf32> -> tensor<1x2x3x4xf32>
  %c = graph.transpose %x {perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x3x4xf32> -> tensor<1x4x2x3xf32>
  %d = graph.transpose %c {layer = "second", perm = array<i64: 0, 3, 2, 1>} : tensor<1x4x2x3xf32> -> tensor<1x3x2x4xf32>
  func.return %b, %d : tensor<1x2x3x4xf32>, tensor<1x3x2x4xf32>
}

// -----

// A transpose sinks through relu and through an add with a per-channel
// constant (permuted at compile time) until it meets its inverse: both go.

// CHECK-LABEL: func.func @sink
// CHECK-NEXT:  %[[R:.*]] = graph.relu %{{.*}} {layer = "relu"} : tensor<1x2x3x4xf32>
// CHECK-NEXT:  %[[C:.*]] = graph.constant dense<{{\[\[\[\[}}1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]]]]> : tensor<1x1x1x4xf32>
// CHECK-NEXT:  %[[A:.*]] = graph.add %[[R]], %[[C]] {layer = "bias", activation = "none"} : (tensor<1x2x3x4xf32>, tensor<1x1x1x4xf32>) -> tensor<1x2x3x4xf32>
// CHECK-NEXT:  func.return %[[A]]
func.func @sink(%x: tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32> {
  %t = graph.transpose %x {perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x3x4xf32> -> tensor<1x4x2x3xf32>
  %r = graph.relu %t {layer = "relu"} : tensor<1x4x2x3xf32>
  %c = graph.constant dense<[[[1.0]], [[2.0]], [[3.0]], [[4.0]]]> : tensor<4x1x1xf32>
  %a = graph.add %r, %c {layer = "bias", activation = "none"} : (tensor<1x4x2x3xf32>, tensor<4x1x1xf32>) -> tensor<1x4x2x3xf32>
  %u = graph.transpose %a {perm = array<i64: 0, 2, 3, 1>} : tensor<1x4x2x3xf32> -> tensor<1x2x3x4xf32>
  func.return %u : tensor<1x2x3x4xf32>
}

// -----

// Two operands transposed alike share one transpose after the binary op.

// CHECK-LABEL: func.func @binary_pair
// CHECK-NEXT:  %[[M:.*]] = graph.mul %{{.*}}, %{{.*}} {activation = "none"} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
// CHECK-NEXT:  %[[T:.*]] = graph.transpose %[[M]] {perm = array<i64: 0, 3, 1, 2>}
// CHECK-NEXT:  func.return %[[T]]
func.func @binary_pair(%x: tensor<1x2x3x4xf32>, %y: tensor<1x2x3x4xf32>) -> tensor<1x4x2x3xf32> {
  %a = graph.transpose %x {perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x3x4xf32> -> tensor<1x4x2x3xf32>
  %b = graph.transpose %y {perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x3x4xf32> -> tensor<1x4x2x3xf32>
  %m = graph.mul %a, %b {activation = "none"} : (tensor<1x4x2x3xf32>, tensor<1x4x2x3xf32>) -> tensor<1x4x2x3xf32>
  func.return %m : tensor<1x4x2x3xf32>
}

// -----

// Softmax is not elementwise, and a transpose with a second user does not move.

// CHECK-LABEL: func.func @stays
// CHECK-NEXT:  %[[T:.*]] = graph.transpose
// CHECK-NEXT:  graph.softmax %[[T]]
// CHECK-NEXT:  %[[U:.*]] = graph.transpose
// CHECK-NEXT:  graph.relu %[[U]]
func.func @stays(%x: tensor<1x2x3x4xf32>) -> (tensor<1x4x2x3xf32>, tensor<1x4x2x3xf32>, tensor<1x4x2x3xf32>) {
  %t = graph.transpose %x {perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x3x4xf32> -> tensor<1x4x2x3xf32>
  %s = graph.softmax %t {axis = 3 : i64, beta = 1.0 : f32} : tensor<1x4x2x3xf32> -> tensor<1x4x2x3xf32>
  %u = graph.transpose %x {perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x3x4xf32> -> tensor<1x4x2x3xf32>
  %r = graph.relu %u : tensor<1x4x2x3xf32>
  func.return %s, %r, %u : tensor<1x4x2x3xf32>, tensor<1x4x2x3xf32>, tensor<1x4x2x3xf32>
}

// -----

// A channel shuffle as an NHWC model exported from NCHW spells it (to NCHW,
// split the channels into 2 groups, swap the group axes, merge, back to NHWC)
// is one transpose of [H*W, groups, C/groups] between reshapes.

// CHECK-LABEL: func.func @channel_shuffle
// CHECK-NEXT:  %[[A:.*]] = graph.reshape %{{.*}} {layer = "shuffle"} : tensor<1x2x3x8xf32> -> tensor<6x2x4xf32>
// CHECK-NEXT:  %[[T:.*]] = graph.transpose %[[A]] {layer = "shuffle", perm = array<i64: 0, 2, 1>} : tensor<6x2x4xf32> -> tensor<6x4x2xf32>
// CHECK-NEXT:  %[[B:.*]] = graph.reshape %[[T]] {layer = "shuffle"} : tensor<6x4x2xf32> -> tensor<1x2x3x8xf32>
// CHECK-NEXT:  func.return %[[B]]
func.func @channel_shuffle(%x: tensor<1x2x3x8xf32>) -> tensor<1x2x3x8xf32> {
  %a = graph.transpose %x {perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x3x8xf32> -> tensor<1x8x2x3xf32>
  %b = graph.reshape %a : tensor<1x8x2x3xf32> -> tensor<1x2x4x2x3xf32>
  %c = graph.transpose %b {perm = array<i64: 0, 2, 1, 3, 4>} : tensor<1x2x4x2x3xf32> -> tensor<1x4x2x2x3xf32>
  %d = graph.reshape %c : tensor<1x4x2x2x3xf32> -> tensor<1x8x2x3xf32>
  %e = graph.transpose %d {layer = "shuffle", perm = array<i64: 0, 2, 3, 1>} : tensor<1x8x2x3xf32> -> tensor<1x2x3x8xf32>
  func.return %e : tensor<1x2x3x8xf32>
}

// -----

// A chain with one transpose stays, and so does a chain whose intermediate
// result has another user.

// CHECK-LABEL: func.func @chains_that_stay
// CHECK-NEXT:  graph.reshape
// CHECK-NEXT:  graph.transpose %{{.*}} {perm = array<i64: 0, 2, 1>}
// CHECK-NEXT:  graph.transpose %{{.*}} {perm = array<i64: 0, 3, 1, 2>}
// CHECK-NEXT:  graph.reshape
// CHECK-NEXT:  graph.transpose %{{.*}} {perm = array<i64: 0, 2, 1, 3, 4>}
// CHECK-NEXT:  func.return
func.func @chains_that_stay(%x: tensor<1x2x3x8xf32>) -> (tensor<6x4x2xf32>, tensor<1x8x2x3xf32>, tensor<1x4x2x2x3xf32>) {
  %a = graph.reshape %x : tensor<1x2x3x8xf32> -> tensor<6x2x4xf32>
  %b = graph.transpose %a {perm = array<i64: 0, 2, 1>} : tensor<6x2x4xf32> -> tensor<6x4x2xf32>
  %c = graph.transpose %x {perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x3x8xf32> -> tensor<1x8x2x3xf32>
  %d = graph.reshape %c : tensor<1x8x2x3xf32> -> tensor<1x2x4x2x3xf32>
  %e = graph.transpose %d {perm = array<i64: 0, 2, 1, 3, 4>} : tensor<1x2x4x2x3xf32> -> tensor<1x4x2x2x3xf32>
  func.return %b, %c, %e : tensor<6x4x2xf32>, tensor<1x8x2x3xf32>, tensor<1x4x2x2x3xf32>
}

// -----

// A chain whose transposes undo each other keeps the element order: one reshape.

// CHECK-LABEL: func.func @chain_in_order
// CHECK-NEXT:  %[[R:.*]] = graph.reshape %{{.*}} {layer = "back"} : tensor<1x2x3x4xf32> -> tensor<1x24xf32>
// CHECK-NEXT:  func.return %[[R]]
func.func @chain_in_order(%x: tensor<1x2x3x4xf32>) -> tensor<1x24xf32> {
  %a = graph.transpose %x {perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x3x4xf32> -> tensor<1x4x2x3xf32>
  %b = graph.reshape %a : tensor<1x4x2x3xf32> -> tensor<4x6xf32>
  %c = graph.transpose %b {perm = array<i64: 1, 0>} : tensor<4x6xf32> -> tensor<6x4xf32>
  %d = graph.reshape %c {layer = "back"} : tensor<6x4xf32> -> tensor<1x24xf32>
  func.return %d : tensor<1x24xf32>
}

// -----

// A lifted 1-D convolution's reshapes sink through a per-channel mul (its
// constant reshaped to the map's rank), an add and a relu until they meet
// the next layer's reshape and vanish: the batch norm and the relu follow the
// convolution directly, for graph-fold-scale and graph-fuse-activation.

// CHECK-LABEL: func.func @sink_reshape
// CHECK-NEXT:  %[[S:.*]] = graph.constant dense<{{\[\[\[\[}}1.000000e+00, 2.000000e+00]]]]> : tensor<1x1x1x2xf32>
// CHECK-NEXT:  %[[M:.*]] = graph.mul %{{.*}}, %[[S]] {layer = "bn", activation = "none"} : (tensor<1x1x5x2xf32>, tensor<1x1x1x2xf32>) -> tensor<1x1x5x2xf32>
// CHECK-NEXT:  %[[O:.*]] = graph.constant dense<{{\[\[\[\[}}3.000000e+00, 4.000000e+00]]]]> : tensor<1x1x1x2xf32>
// CHECK-NEXT:  %[[A:.*]] = graph.add %[[O]], %[[M]] {activation = "none"} : (tensor<1x1x1x2xf32>, tensor<1x1x5x2xf32>) -> tensor<1x1x5x2xf32>
// CHECK-NEXT:  %[[R:.*]] = graph.relu %[[A]] {layer = "relu"} : tensor<1x1x5x2xf32>
// CHECK-NEXT:  func.return %[[R]]
func.func @sink_reshape(%x: tensor<1x1x5x2xf32>) -> tensor<1x1x5x2xf32> {
  %a = graph.reshape %x : tensor<1x1x5x2xf32> -> tensor<1x5x2xf32>
  %s = graph.constant dense<[[[1.0, 2.0]]]> : tensor<1x1x2xf32>
  %m = graph.mul %a, %s {layer = "bn", activation = "none"} : (tensor<1x5x2xf32>, tensor<1x1x2xf32>) -> tensor<1x5x2xf32>
  %o = graph.constant dense<[3.0, 4.0]> : tensor<2xf32>
  %b = graph.add %o, %m {activation = "none"} : (tensor<2xf32>, tensor<1x5x2xf32>) -> tensor<1x5x2xf32>
  %r = graph.relu %b {layer = "relu"} : tensor<1x5x2xf32>
  %c = graph.reshape %r : tensor<1x5x2xf32> -> tensor<1x1x5x2xf32>
  func.return %c : tensor<1x1x5x2xf32>
}

// -----

// ShuffleNet's unit as exported from NCHW: the shuffle chain ends at the NCHW
// shape of its input, so it becomes the shuffle in NHWC and a transpose to
// NCHW; that transpose sinks through both channel slices (one per slice, each
// cut moved to the NHWC channels) and, with the branch's transpose back from
// NHWC, through the concat; pairs cancel. All of it stays in NHWC.

// CHECK-LABEL: func.func @shuffle_unit
// CHECK-NEXT:  %[[G:.*]] = graph.reshape %{{.*}} : tensor<1x2x3x8xf32> -> tensor<6x2x4xf32>
// CHECK-NEXT:  %[[T:.*]] = graph.transpose %[[G]] {perm = array<i64: 0, 2, 1>} : tensor<6x2x4xf32> -> tensor<6x4x2xf32>
// CHECK-NEXT:  %[[S:.*]] = graph.reshape %[[T]] : tensor<6x4x2xf32> -> tensor<1x2x3x8xf32>
// CHECK-NEXT:  %[[A:.*]] = graph.slice %[[S]] {layer = "kept", begin = array<i64: 0, 0, 0, 0>, end = array<i64: 1, 2, 3, 4>, strides = array<i64: 1, 1, 1, 1>} : tensor<1x2x3x8xf32> -> tensor<1x2x3x4xf32>
// CHECK-NEXT:  %[[B:.*]] = graph.slice %[[S]] {layer = "branch", begin = array<i64: 0, 0, 0, 4>, end = array<i64: 1, 2, 3, 8>, strides = array<i64: 1, 1, 1, 1>} : tensor<1x2x3x8xf32> -> tensor<1x2x3x4xf32>
// CHECK-NEXT:  %[[R:.*]] = graph.relu %[[B]]
// CHECK-NEXT:  %[[C:.*]] = graph.concat %[[A]], %[[R]] {layer = "cat", axis = 3 : i64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x8xf32>
// CHECK-NEXT:  func.return %[[C]]
func.func @shuffle_unit(%x: tensor<1x2x3x8xf32>) -> tensor<1x2x3x8xf32> {
  %a = graph.transpose %x {perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x3x8xf32> -> tensor<1x8x2x3xf32>
  %b = graph.reshape %a : tensor<1x8x2x3xf32> -> tensor<1x2x4x2x3xf32>
  %c = graph.transpose %b {perm = array<i64: 0, 2, 1, 3, 4>} : tensor<1x2x4x2x3xf32> -> tensor<1x4x2x2x3xf32>
  %d = graph.reshape %c : tensor<1x4x2x2x3xf32> -> tensor<1x8x2x3xf32>
  %kept = graph.slice %d {layer = "kept", begin = array<i64: 0, 0, 0, 0>, end = array<i64: 1, 4, 2, 3>, strides = array<i64: 1, 1, 1, 1>} : tensor<1x8x2x3xf32> -> tensor<1x4x2x3xf32>
  %branch = graph.slice %d {layer = "branch", begin = array<i64: 0, 4, 0, 0>, end = array<i64: 1, 8, 2, 3>, strides = array<i64: 1, 1, 1, 1>} : tensor<1x8x2x3xf32> -> tensor<1x4x2x3xf32>
  %nhwc = graph.transpose %branch {perm = array<i64: 0, 2, 3, 1>} : tensor<1x4x2x3xf32> -> tensor<1x2x3x4xf32>
  %r = graph.relu %nhwc : tensor<1x2x3x4xf32>
  %nchw = graph.transpose %r {perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x3x4xf32> -> tensor<1x4x2x3xf32>
  %cat = graph.concat %kept, %nchw {layer = "cat", axis = 1 : i64} : (tensor<1x4x2x3xf32>, tensor<1x4x2x3xf32>) -> tensor<1x8x2x3xf32>
  %y = graph.transpose %cat {perm = array<i64: 0, 2, 3, 1>} : tensor<1x8x2x3xf32> -> tensor<1x2x3x8xf32>
  func.return %y : tensor<1x2x3x8xf32>
}

// -----

// The same unit as the dynamo exporter spells it: one split into the halves
// instead of two slices. The transpose to NCHW sinks through the split (its
// axis moved to the NHWC channels), one transpose per piece, which cancel as
// the slices' do.

// CHECK-LABEL: func.func @shuffle_unit_split
// CHECK-NEXT:  %[[G:.*]] = graph.reshape %{{.*}} : tensor<1x2x3x8xf32> -> tensor<6x2x4xf32>
// CHECK-NEXT:  %[[T:.*]] = graph.transpose %[[G]] {perm = array<i64: 0, 2, 1>} : tensor<6x2x4xf32> -> tensor<6x4x2xf32>
// CHECK-NEXT:  %[[S:.*]] = graph.reshape %[[T]] : tensor<6x4x2xf32> -> tensor<1x2x3x8xf32>
// CHECK-NEXT:  %[[A:[a-z0-9]+]], %[[B:[a-z0-9]+]] = graph.split %[[S]] {layer = "chunk", axis = 3 : i64} : (tensor<1x2x3x8xf32>) -> (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>)
// CHECK-NEXT:  %[[R:.*]] = graph.relu %[[B]]
// CHECK-NEXT:  %[[C:.*]] = graph.concat %[[A]], %[[R]] {layer = "cat", axis = 3 : i64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x8xf32>
// CHECK-NEXT:  func.return %[[C]]
func.func @shuffle_unit_split(%x: tensor<1x2x3x8xf32>) -> tensor<1x2x3x8xf32> {
  %a = graph.transpose %x {perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x3x8xf32> -> tensor<1x8x2x3xf32>
  %b = graph.reshape %a : tensor<1x8x2x3xf32> -> tensor<1x2x4x2x3xf32>
  %c = graph.transpose %b {perm = array<i64: 0, 2, 1, 3, 4>} : tensor<1x2x4x2x3xf32> -> tensor<1x4x2x2x3xf32>
  %d = graph.reshape %c : tensor<1x4x2x2x3xf32> -> tensor<1x8x2x3xf32>
  %kept, %branch = graph.split %d {layer = "chunk", axis = 1 : i64} : (tensor<1x8x2x3xf32>) -> (tensor<1x4x2x3xf32>, tensor<1x4x2x3xf32>)
  %nhwc = graph.transpose %branch {perm = array<i64: 0, 2, 3, 1>} : tensor<1x4x2x3xf32> -> tensor<1x2x3x4xf32>
  %r = graph.relu %nhwc : tensor<1x2x3x4xf32>
  %nchw = graph.transpose %r {perm = array<i64: 0, 3, 1, 2>} : tensor<1x2x3x4xf32> -> tensor<1x4x2x3xf32>
  %cat = graph.concat %kept, %nchw {layer = "cat", axis = 1 : i64} : (tensor<1x4x2x3xf32>, tensor<1x4x2x3xf32>) -> tensor<1x8x2x3xf32>
  %y = graph.transpose %cat {perm = array<i64: 0, 2, 3, 1>} : tensor<1x8x2x3xf32> -> tensor<1x2x3x8xf32>
  func.return %y : tensor<1x2x3x8xf32>
}

// -----

// A transpose with a user other than a slice or split stays where it is, and so does a
// concat of transposes with different permutations.

// CHECK-LABEL: func.func @sinks_that_stay
// CHECK-NEXT:  %[[T:.*]] = graph.transpose %{{.*}} {perm = array<i64: 0, 2, 1>}
// CHECK-NEXT:  graph.slice %[[T]]
// CHECK-NEXT:  graph.split %[[T]]
// CHECK-NEXT:  graph.transpose %{{.*}} {perm = array<i64: 0, 2, 1>}
// CHECK-NEXT:  graph.transpose %{{.*}} {perm = array<i64: 2, 1, 0>}
// CHECK-NEXT:  graph.reshape
// CHECK-NEXT:  graph.concat
// CHECK-NEXT:  func.return
func.func @sinks_that_stay(%x: tensor<2x3x3xf32>) -> (tensor<2x3x2xf32>, tensor<1x3x3xf32>, tensor<2x3x3xf32>, tensor<4x3x3xf32>) {
  %t = graph.transpose %x {perm = array<i64: 0, 2, 1>} : tensor<2x3x3xf32> -> tensor<2x3x3xf32>
  %s = graph.slice %t {begin = array<i64: 0, 0, 0>, end = array<i64: 2, 3, 2>, strides = array<i64: 1, 1, 1>} : tensor<2x3x3xf32> -> tensor<2x3x2xf32>
  %p, %q = graph.split %t {axis = 0 : i64} : (tensor<2x3x3xf32>) -> (tensor<1x3x3xf32>, tensor<1x3x3xf32>)
  %u = graph.transpose %x {perm = array<i64: 0, 2, 1>} : tensor<2x3x3xf32> -> tensor<2x3x3xf32>
  %v = graph.transpose %x {perm = array<i64: 2, 1, 0>} : tensor<2x3x3xf32> -> tensor<3x3x2xf32>
  %w = graph.reshape %v : tensor<3x3x2xf32> -> tensor<2x3x3xf32>
  %c = graph.concat %u, %w {axis = 0 : i64} : (tensor<2x3x3xf32>, tensor<2x3x3xf32>) -> tensor<4x3x3xf32>
  func.return %s, %q, %t, %c : tensor<2x3x2xf32>, tensor<1x3x3xf32>, tensor<2x3x3xf32>, tensor<4x3x3xf32>
}

// -----

// A reshape that merges non-unit extents stays before a binary or unary op,
// as does one with a second user.

// CHECK-LABEL: func.func @reshape_stays
// CHECK-NEXT:  %[[F:.*]] = graph.reshape %{{.*}} : tensor<1x2x3xf32> -> tensor<1x6xf32>
// CHECK-NEXT:  graph.constant
// CHECK-NEXT:  %[[M:.*]] = graph.mul %[[F]]
// CHECK-NEXT:  %[[G:.*]] = graph.reshape %{{.*}} : tensor<1x1x6xf32> -> tensor<1x6xf32>
// CHECK-NEXT:  %[[R:.*]] = graph.relu %[[G]]
// CHECK-NEXT:  %[[H:.*]] = graph.reshape %{{.*}} : tensor<2x3x4xf32> -> tensor<6x4xf32>
// CHECK-NEXT:  %[[S:.*]] = graph.sigmoid %[[H]]
// CHECK-NEXT:  func.return %[[M]], %[[R]], %[[G]], %[[S]]
func.func @reshape_stays(%x: tensor<1x2x3xf32>, %y: tensor<1x1x6xf32>, %z: tensor<2x3x4xf32>) -> (tensor<1x6xf32>, tensor<1x6xf32>, tensor<1x6xf32>, tensor<6x4xf32>) {
  %f = graph.reshape %x : tensor<1x2x3xf32> -> tensor<1x6xf32>
  %c = graph.constant dense<[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]> : tensor<1x6xf32>
  %m = graph.mul %f, %c {activation = "none"} : (tensor<1x6xf32>, tensor<1x6xf32>) -> tensor<1x6xf32>
  %g = graph.reshape %y : tensor<1x1x6xf32> -> tensor<1x6xf32>
  %r = graph.relu %g : tensor<1x6xf32>
  %h = graph.reshape %z : tensor<2x3x4xf32> -> tensor<6x4xf32>
  %s = graph.sigmoid %h : tensor<6x4xf32> -> tensor<6x4xf32>
  func.return %m, %r, %g, %s : tensor<1x6xf32>, tensor<1x6xf32>, tensor<1x6xf32>, tensor<6x4xf32>
}
