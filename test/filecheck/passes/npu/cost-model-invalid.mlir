// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p npu-cost-model | filecheck %s
// RUN: npuc-opt %s --split-input-file --verify-diagnostics -p 'npu-cost-model{target=ethos-u99}' | filecheck %s --check-prefix=TARGET

// TARGET: npu-cost-model: unknown target 'ethos-u99'

// The cost model needs the command list of npu-lower.
// CHECK: npu-cost-model: the cost model runs on lowered npu IR (the module still holds func.func): run npu-lower first
func.func @not_lowered() {
  func.return
}

// -----

// Without a target option the module must name its target.
// CHECK: npu-cost-model: no target: pass target=NAME or set the module's npu.target attribute
builtin.module {
  npu.dma {layer = "w", src = #npu.buf<flash, 0, 16>, dst = #npu.buf<sram, 0, 16>}
}

// -----

// Every memory a command names must be one of the target's.
// CHECK: npu-cost-model: layer 'w': target 'ethos-u55-128' has no memory 'dram' (it has: sram, flash)
builtin.module attributes {npu.target = "ethos-u55-128"} {
  npu.dma {layer = "w", src = #npu.buf<dram, 0, 16>, dst = #npu.buf<sram, 0, 16>}
}
