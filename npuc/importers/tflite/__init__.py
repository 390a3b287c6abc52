"""The TFLite importer: int8/16x8 models into quantized IR (entry point: `importer.import_tflite`)."""
