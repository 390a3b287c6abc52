"""Where the tests find the repository's data: examples, per-operator TFLite models, FileCheck tests."""

from pathlib import Path

TEST = Path(__file__).resolve().parents[1]
"""The repository's `test/` folder."""

EXAMPLES = TEST.parent / "examples"
"""The bundled example models (`examples/tiny_cnn.onnx`, ...)."""

TFLITE_MODELS = TEST / "tflite_models"
"""The per-operator TFLite models and their builder."""

FILECHECK = TEST / "filecheck"
"""The lit/FileCheck suite."""

MODELS = TEST / "models"
"""Whole networks as test data (`models/README.md`: where they come from)."""
