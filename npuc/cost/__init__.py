"""The analytic cost model: cycles, MACs and bytes of lowered npu IR, per command and layer.

`npuc.cost.model.estimate(module, target)` is the entry point; the formulas
live in `compute` (MAC and data-path cycles), `traffic` (bytes and memory
access cycles), `timeline` (DMA/compute overlap) and `geometry` (OFM blocks).
"""
