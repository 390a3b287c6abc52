"""Ethos-U output: the register command stream, the COP1 driver payload, encoded weights, .tflite packaging."""
