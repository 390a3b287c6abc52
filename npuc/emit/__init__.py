"""Emitters: binary forms of lowered npu IR (see docs/command-stream.md)."""

from npuc.emit.command_stream import CommandStream, decode, encode

__all__ = ["CommandStream", "decode", "encode"]
