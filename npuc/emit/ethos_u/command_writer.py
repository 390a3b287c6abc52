"""Register command words for one stream, each register written only when its value changes.

The NPU keeps every register's value across operations, so a stream only
needs a `SET_*` command where the value differs from what the register
already holds; operations (`OP_*`) are always written. `CommandWriter`
remembers what it wrote since the stream began (the registers' reset
values are not assumed: the first write of a register is always emitted).
"""

from __future__ import annotations

from npuc.emit.ethos_u.registers import Cmd0, Cmd1, address_words, cmd0_word, cmd1_words


class CommandWriter:
    """The words of one register command stream, in order (see the module docstring)."""

    def __init__(self) -> None:
        self.words: list[int] = []
        self._registers: dict[tuple[bool, int], tuple[int, ...]] = {}

    def set(self, opcode: Cmd0, param: int) -> None:
        """Write a cmd0 register (16-bit parameter; negative values as two's complement)."""
        word = cmd0_word(opcode, param)
        self._write(opcode, (word,))

    def set_value(self, opcode: Cmd1, value: int, param: int = 0) -> None:
        """Write a cmd1 register holding a 32-bit value (and its 16-bit parameter, e.g. a scale's shift)."""
        self._write(opcode, cmd1_words(opcode, value, param))

    def set_address(self, opcode: Cmd1, address: int) -> None:
        """Write a cmd1 register holding a 40-bit address, stride or length."""
        self._write(opcode, address_words(opcode, address))

    def operation(self, opcode: Cmd0, param: int = 0) -> None:
        """Start an operation (or wait, or stop): always written."""
        self.words.append(cmd0_word(opcode, param))

    def _write(self, opcode: Cmd0 | Cmd1, words: tuple[int, ...]) -> None:
        key = (isinstance(opcode, Cmd1), int(opcode))
        if self._registers.get(key) != words:
            self._registers[key] = words
            self.words.extend(words)
