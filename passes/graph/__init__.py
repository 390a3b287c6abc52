"""Passes over float `graph` IR: folding, canonicalisation and fusion before quantization."""
