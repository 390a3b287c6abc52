"""The Ethos-U functional simulator: executes a COP1 register command stream on byte-addressed regions."""
