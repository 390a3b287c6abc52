"""Post-training quantization: calibration, the quantizer, strategy search, mixed precision, per-layer control."""
