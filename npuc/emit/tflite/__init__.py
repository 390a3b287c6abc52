"""TFLite output: the flatbuffer writer and the export of `quantized` ops as TFLite builtin operators."""
