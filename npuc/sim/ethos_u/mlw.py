"""Decoding mlw weight streams without trusting them: the codec runs in a helper process.

`ethosu.mlw_codec.decode` (the codec's C decoder) ends the whole process
with `exit(1)` when a stream runs past its end, and asserts on malformed
headers. A command stream is user input, so the codec runs in a separate
Python process (started on first use with the running interpreter, not
forked: a fork of a process with threads can deadlock) that serves every
decode of the npuc process. A stream that kills it becomes a
`CommandStreamError` naming the command; the next stream starts a new one.
"""

from __future__ import annotations

import atexit
import struct
import subprocess
import sys
import threading

import numpy as np

from npuc.errors import CommandStreamError

_HEADER = struct.Struct("<q")
_FAILED = -1
_WORKER = """
import os, struct, sys
from array import array
from ethosu import mlw_codec
header = struct.Struct("<q")
requests = sys.stdin.buffer
replies = os.fdopen(os.dup(1), "wb")
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the codec prints its complaints before it exits
while len(size := requests.read(header.size)) == header.size:
    encoded = requests.read(header.unpack(size)[0])
    try:
        weights = array("h", mlw_codec.decode(bytearray(encoded))).tobytes()
    except Exception:
        replies.write(header.pack(-1))
    else:
        replies.write(header.pack(len(weights)) + weights)
    replies.flush()
"""
"""The helper's program: length-prefixed streams in, length-prefixed int16 weights out."""


class _Helper:
    """The helper process, started on demand and replaced when a stream kills it."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        atexit.register(self.stop)

    def decode(self, encoded: bytes) -> bytes | None:
        """The int16 weights of a stream; None when the stream does not decode."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._process = subprocess.Popen(
                    [sys.executable, "-c", _WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            process = self._process
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write(_HEADER.pack(len(encoded)) + encoded)
                process.stdin.flush()
                header = process.stdout.read(_HEADER.size)
            except BrokenPipeError:
                header = b""
            if len(header) < _HEADER.size:
                self._stop_locked()
                return None
            size = _HEADER.unpack(header)[0]
            return None if size == _FAILED else process.stdout.read(size)

    def stop(self) -> None:
        """End the helper process, if any."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        if self._process is not None:
            process, self._process = self._process, None
            if process.stdin is not None:
                process.stdin.close()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()


_HELPER = _Helper()


def decode_weights(encoded: bytes, where: str) -> np.ndarray:
    """The weights of an mlw stream as int64; CommandStreamError naming `where` if it does not decode."""
    weights = _HELPER.decode(encoded)
    if weights is None:
        raise CommandStreamError(f"{where}: the weight stream does not decode (it runs past its {len(encoded)} "
                                 "bytes or has a malformed header)")
    return np.frombuffer(weights, dtype=np.int16).astype(np.int64)
