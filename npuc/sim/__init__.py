"""Functional simulation of emitted npu programs (see `simulator.simulate`)."""
