"""Passes over layer ops of any dialect (graph or quantized IR): common-subexpression and dead-code elimination."""
