"""Numpy reference execution of npuc IR: the oracles for everything downstream.

`graph_interpreter` runs float graph IR (checked against onnxruntime),
`quantized_interpreter` integer quantized IR (bit-exact with TFLite's reference
kernels, or onnxruntime's rounding for QDQ imports). `npuc.run` picks one by
the dialects a module uses.
"""
