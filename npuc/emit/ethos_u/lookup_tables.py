"""Lookup tables in the shared buffer: which slot a command's table goes to, and when it must be copied.

An elementwise command with a `lut` (docs/ir.md) applies a table the NPU
reads from the last `lut_bytes` of its shared buffer, in slots of
`lut_slot_bytes` (ACTIVATION's TABLE_n names slot n). The table lives in
the weights memory; a DMA in the internal region mode copies it to its
place before the command. A table already in place is not copied again,
unless a later command's accumulators may have overwritten it (a command
without a table may use those banks where the target reserves none at the
end of the buffer). A table takes a place aligned to its size (a 256-entry
table of int32 values fills four slots) that holds no other table still
in place, the first such place; when all are taken, the first place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from npuc.dialects.npu_memory import BufferAttr
from npuc.emit.ethos_u.dependencies import SHRAM, Span
from npuc.errors import CommandStreamError
from npuc.targets import Target


@dataclass(frozen=True)
class Placement:
    """Where a table goes: its slot and shared-buffer bytes, and whether it must be copied there."""

    slot: int
    span: Span
    copy: bool


@dataclass
class TableSlots:
    """The tables in the shared buffer, by the constant each was copied from."""

    target: Target
    resident: dict[tuple[str, int, int], Span] = field(default_factory=dict)

    @property
    def start(self) -> int:
        """Shared-buffer address of slot 0: the start of the last `lut_bytes`."""
        return self.target.shram_bytes - self.target.shram.lut_bytes

    def place(self, table: BufferAttr, where: str) -> Placement:
        """The placement of `table` for the next command reading it."""
        assert self.target.ethos_u is not None, "lookup tables are placed for Ethos-U targets"
        slot_bytes, size = self.target.ethos_u.lut_slot_bytes, table.size.data
        key = (table.region.data, table.offset.data, size)
        if key in self.resident:
            span = self.resident[key]
            return Placement((span.start - self.start) // slot_bytes, span, copy=False)
        if size > self.target.shram.lut_bytes or size % slot_bytes:
            raise CommandStreamError(f"{where}: a {size}-byte lookup table does not fill whole {slot_bytes}-byte slots")
        places = [Span(SHRAM, start, start + size) for start in range(self.start, self.target.shram_bytes, size)]
        free = [span for span in places if not any(span.overlaps(taken) for taken in self.resident.values())]
        span = (free or places)[0]
        self.resident = {other: taken for other, taken in self.resident.items() if not taken.overlaps(span)}
        self.resident[key] = span
        return Placement((span.start - self.start) // slot_bytes, span, copy=True)

    def overwritten(self, written: Span) -> None:
        """Forget the tables a command's shared-buffer use overwrites."""
        self.resident = {key: span for key, span in self.resident.items() if not span.overlaps(written)}
