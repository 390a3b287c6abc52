"""`quantize` (graph -> quantized IR) and the target-independent `quantized-*` rewrites."""
