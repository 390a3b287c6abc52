// RUN: python -c "import numpy as np; np.save('%t.npy', np.zeros((8, 4, 4, 2), 'f4')); np.save('%t.f64.npy', np.zeros((8, 4, 4, 2)))"
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p quantize | filecheck %s --check-prefix=NO-DATA
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'quantize{calibration="%t.npy" activation_bits=12}' | filecheck %s --check-prefix=BITS
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'quantize{calibration="%t.f64.npy"}' | filecheck %s --check-prefix=DTYPE
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'quantize{calibration="%t.npy"}' | filecheck %s
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'quantize{calibration="%t.npy" activation_strategy=kl}' | filecheck %s --check-prefix=STRATEGY
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'quantize{calibration="%t.npy" target_sqnr=-1.0}' | filecheck %s --check-prefix=TARGET
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'quantize{calibration="%t.npy" precision=fp8}' | filecheck %s --check-prefix=PRECISION
// RUN: python -c "import json; json.dump({'layers': {'conv': {'bits': 4}}}, open('%t.json', 'w'))"
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'quantize{calibration="%t.npy" layers="%t.json"}' | filecheck %s --check-prefix=LAYER-BITS

// NO-DATA: quantize needs calibration data: quantize{calibration="FILE.npy"}
// BITS: quantize supports 8, 16-bit activations, not 12
// DTYPE: {{.*}}.f64.npy: input 'x' expects dtype float32, got float64
// TARGET: target_sqnr must be >= 0 dB (0: off), not -1.0
// LAYER-BITS: {{.*}}.json: layer 'conv': bits must be 8 or 16, not 4
// PRECISION: unknown precision 'fp8' (known: mixed, uniform)
// STRATEGY: unknown activation strategy 'kl' (known: minmax, moving_average, percentile, entropy, mse, auto)

// Weights computed at run time cannot be quantized per channel.
func.func @computed_weights(%x: tensor<1x4x4x2xf32> {graph.name = "x"}) -> tensor<1x4x4x3xf32> {
  %w = graph.constant dense<0.5> : tensor<3x1x1x2xf32>
  %b = graph.constant dense<0.0> : tensor<3xf32>
  %w2 = graph.relu %w {layer = "w_relu"} : tensor<3x1x1x2xf32>
  %y = graph.conv2d %x, %w2, %b {layer = "conv", strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, activation = "none"} : (tensor<1x4x4x2xf32>, tensor<3x1x1x2xf32>, tensor<3xf32>) -> tensor<1x4x4x3xf32>
  func.return %y : tensor<1x4x4x3xf32>
}
// CHECK: quantize: 1 unsupported node(s): conv (graph.conv2d): weights are not a constant

// -----

// Calibration data must match the interface shape.
func.func @wrong_shape(%x: tensor<1x2x2x2xf32> {graph.name = "x"}) -> tensor<1x2x2x2xf32> {
  %y = graph.relu %x {layer = "relu"} : tensor<1x2x2x2xf32>
  func.return %y : tensor<1x2x2x2xf32>
}
// CHECK: {{.*}}.npy: input 'x' expects shape [1, 2, 2, 2] or [N, 2, 2, 2], got [8, 4, 4, 2]
