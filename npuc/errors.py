"""Errors npuc reports to its users.

Every error a user can cause (a bad model file, an unsupported operator, an
input of the wrong shape, a model that does not fit the target) is raised as a
subclass of `NpucError`. The message is a single line that names the thing at
fault (file, node or op name) and the problem, so the CLI can print it as is
(`printable` keeps names from files on that line). Beside them, what the
error boundaries share: `writing` for output files and `check_memory`, the
size check against `MEMORY_LIMIT_BYTES` before a large allocation.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LINE_BREAKING_CATEGORIES = ("Cc", "Zl", "Zp")
"""Unicode categories `printable` escapes: control characters and line/paragraph separators."""


def printable(text: str) -> str:
    """`text` with control characters escaped as Python does (`\\n`, `\\x1b`, `\\u2028`).

    Names taken from a user's file (node, op, tensor, layer, target and
    section names) must not break a message's line or move the terminal's
    cursor: every `NpucError` message goes through it, and the CLI applies
    it once more to whatever it prints.
    """
    return "".join(
        character.encode("unicode_escape").decode("ascii")
        if unicodedata.category(character) in LINE_BREAKING_CATEGORIES
        else character
        for character in text
    )


class NpucError(Exception):
    """Base class of all errors npuc raises for bad input or impossible requests.

    Its message is one line whatever names it quotes: control characters in
    it (a node name holding a newline) are escaped by `printable`.
    """

    def __init__(self, *args: object):
        super().__init__(*(printable(arg) if isinstance(arg, str) else arg for arg in args))


class ModelFormatError(NpucError):
    """The file is not a model npuc can read: wrong format, truncated or corrupt."""


class UnsupportedOperatorError(NpucError):
    """The model uses operators (or operator forms) npuc does not support.

    `problems` lists every offending node at once as `(node_name, op_type, reason)`.
    """

    def __init__(self, source: str, problems: list[tuple[str, str, str]]):
        self.source = source
        self.problems = problems
        listed = "; ".join(
            f"{name} ({op_type}){': ' + reason if reason else ''}"
            for name, op_type, reason in problems
        )
        super().__init__(
            f"{source}: {len(problems)} unsupported node(s): {listed}"
        )


class ModelVerificationError(NpucError):
    """The model or IR is inconsistent: shapes, types or attributes do not verify."""


class InputDataError(NpucError):
    """Input or calibration data does not match the model's interface."""


class OutputError(NpucError):
    """An output file or directory cannot be written (missing directory, no permission, a file in the way)."""


@contextmanager
def writing(path: str | Path, what: str) -> Iterator[None]:
    """Turn an `OSError` raised while writing `what` to `path` into an `OutputError` naming both."""
    try:
        yield
    except OSError as error:
        reason = error.strerror or " ".join(str(error).split()) or type(error).__name__
        raise OutputError(f"{path}: cannot write {what}: {reason}") from None


MEMORY_LIMIT_BYTES = 1 << 31
"""The largest array npuc allocates for one tensor: a data file's array, an interpreter's operand or result.

Sizes that come from a file (an `.npy` header, a model's shapes and
attributes) are checked against it before the allocation, so a hostile or
broken file ends in a `MemoryLimitError` naming what is too large instead of
numpy's `MemoryError` after trying to allocate it. 2 GiB is far above any
tensor of a model an NPU runs (MobileNetV2's largest activation, batch 32,
float: 154 MB) and below what a developer machine can spare.
"""


class MemoryLimitError(NpucError):
    """A tensor or array would take more than `MEMORY_LIMIT_BYTES`: refused before it is allocated."""


def check_memory(size_bytes: int, what: str) -> None:
    """`MemoryLimitError` if `what` (a one-line description naming the file, op or tensor) needs more than the limit."""
    if size_bytes > MEMORY_LIMIT_BYTES:
        raise MemoryLimitError(
            f"{what} would take {size_bytes} bytes, beyond npuc's limit of {MEMORY_LIMIT_BYTES} bytes per tensor"
        )


class TargetError(NpucError):
    """A target description is missing, malformed or cannot hold the model."""


class AllocationError(NpucError):
    """Buffers could not be placed in the target's memories, or a placement is invalid."""


class ArenaBudgetError(AllocationError):
    """The schedule does not fit the memory budget (`arena_cache_size`); names the layer needing the most.

    `budget` is the budget in bytes, `layer` the layer at the schedule's
    fullest point, `needed` the bytes that must be live there at once (a
    lower bound on any placement of this schedule) and `parts` what they
    are, as (what, bytes) pairs: the layer's IFM(s) and OFM, the weights
    staged for it, its scratch, and the other feature maps live across it.
    `source` names the model once the API knows it.
    """

    def __init__(self, budget: int, layer: str, needed: int, parts: list[tuple[str, int]], source: str = ""):
        self.budget = budget
        self.layer = layer
        self.needed = needed
        self.parts = parts
        self.source = source
        counted = " + ".join(f"{what} {size}" for what, size in parts if size)
        super().__init__(
            f"{source + ': ' if source else ''}arena budget {budget} bytes: layer '{layer}' needs at least "
            f"{needed} bytes ({counted}); a larger arena_cache_size fits it"
        )

    def with_source(self, source: str) -> ArenaBudgetError:
        """The same error, its message naming the model `source`."""
        return ArenaBudgetError(self.budget, self.layer, self.needed, self.parts, source)


class MemoryHazardError(NpucError):
    """A lowered program reads bytes it overwrote before the read, or never wrote (`npuc.sim.hazards`)."""


class ChannelVariantError(NpucError):
    """A channel what-if variant cannot be built (`npuc.dse.channels`): the module is not quantized, or
    the message names the op that keeps a layer's channel count from changing."""


class PipelineError(NpucError):
    """A pass reported that it cannot process the module (the message names the op)."""


class CommandStreamError(NpucError):
    """An Ethos-U driver payload or register command stream is malformed or reaches outside its memory.

    Raised by the payload parser, the command decoder and the register-stream
    simulator (`npuc.emit.ethos_u`, `npuc.sim.ethos_u`); the message names the
    byte offset of the command at fault and the problem.
    """


class StreamHazardError(CommandStreamError):
    """An Ethos-U command touches bytes a DMA or kernel still in flight writes (a missing wait or BLOCKDEP).

    The register-stream simulator raises it when a command's reads or writes
    overlap those of an operation the stream has not waited for
    (`NPU_OP_DMA_WAIT`, `NPU_OP_KERNEL_WAIT`, `NPU_SET_BLOCKDEP`).
    """
