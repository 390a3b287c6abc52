"""Helpers shared by the unit tests: one-op models, ONNX model builders, repository paths."""
