"""The ONNX importer: float and QDQ models into graph or quantized IR (entry point: `importer.import_onnx`)."""
