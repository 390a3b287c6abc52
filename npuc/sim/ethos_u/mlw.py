"""Decoding mlw weight streams without trusting them: the codec runs in a forked helper process.

`ethosu.mlw_codec.decode` (the codec's C decoder) ends the whole process
with `exit(1)` when a stream runs past its end, and asserts on malformed
headers. A command stream is user input, so `MlwDecoder` decodes in a child
process forked on first use and reused for every stream of the run: a stream
that kills the child becomes a `CommandStreamError` naming the command, and
the next stream gets a new child. Where `os.fork` does not exist the codec
runs in-process.
"""

from __future__ import annotations

import os
import struct

import numpy as np
from ethosu import mlw_codec

from npuc.errors import CommandStreamError

_HEADER = struct.Struct("<q")
_FAILED = -1


def _read_exactly(fd: int, size: int) -> bytes | None:
    """`size` bytes from a pipe, or None when it closes first."""
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _decode(encoded: bytes) -> np.ndarray:
    return np.asarray(mlw_codec.decode(bytearray(encoded)), dtype=np.int16)


def _serve(requests: int, replies: int) -> None:
    """The child's loop: decode each request, reply with the int16 weights (never returns)."""
    silent = os.open(os.devnull, os.O_WRONLY)
    os.dup2(silent, 1)  # the codec prints its complaints before it exits
    os.dup2(silent, 2)
    try:
        while (header := _read_exactly(requests, _HEADER.size)) is not None:
            encoded = _read_exactly(requests, _HEADER.unpack(header)[0]) or b""
            try:
                weights = _decode(encoded).tobytes()
            except Exception:  # a Python-level codec error: report it, keep serving
                _write_all(replies, _HEADER.pack(_FAILED))
                continue
            _write_all(replies, _HEADER.pack(len(weights)) + weights)
    finally:
        os._exit(0)


class MlwDecoder:
    """mlw decoding in a reusable child process; close it when the run ends."""

    def __init__(self) -> None:
        self._child: tuple[int, int, int] | None = None  # pid, request fd, reply fd

    def decode(self, encoded: bytes, where: str) -> np.ndarray:
        """The weights of an mlw stream as int64; CommandStreamError if it does not decode."""
        if not hasattr(os, "fork"):
            try:
                return _decode(encoded).astype(np.int64)
            except Exception as error:
                raise CommandStreamError(f"{where}: the weight stream does not decode ({error})") from None
        if self._child is None:
            self._child = self._start()
        _, requests, replies = self._child
        try:
            _write_all(requests, _HEADER.pack(len(encoded)) + encoded)
            header = _read_exactly(replies, _HEADER.size)
        except BrokenPipeError:
            header = None
        if header is None:
            self.close()
            raise CommandStreamError(f"{where}: the weight stream does not decode (it runs past its "
                                     f"{len(encoded)} bytes or has a malformed header)")
        size = _HEADER.unpack(header)[0]
        if size == _FAILED:
            raise CommandStreamError(f"{where}: the weight stream does not decode")
        return np.frombuffer(_read_exactly(replies, size) or b"", dtype=np.int16).astype(np.int64)

    def _start(self) -> tuple[int, int, int]:
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(request_write)
            os.close(reply_read)
            _serve(request_read, reply_write)
        os.close(request_read)
        os.close(reply_write)
        return pid, request_write, reply_read

    def close(self) -> None:
        """End the child process, if any."""
        if self._child is not None:
            pid, requests, replies = self._child
            self._child = None
            os.close(requests)
            os.close(replies)
            os.waitpid(pid, 0)
