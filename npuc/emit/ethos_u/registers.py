"""The Ethos-U55/U65 register command set as data, and the encoding of one command.

A register command stream is a sequence of little-endian 32-bit words. Every
command starts with a word holding the opcode in bits [9:0], the payload size
in bits [15:14] (0: the word alone, a *cmd0*; 1: one more 32-bit word, a
*cmd1*) and a 16-bit parameter in bits [31:16]. A cmd0 `SET_*` command writes
its parameter into a register; an `OP_*` command starts an operation on the
registers set so far. A cmd1 carries a 32-bit value in its second word; for
addresses and strides the parameter's bits [7:0] are address bits 39:32.

This module holds the facts (opcodes, enumerations, the bit fields of every
parameter, as in Arm's Ethos-U55/U65 register description, architecture
1.0.6) and small pure functions to encode and decode a command. Emitters build
words with `cmd0_word`, `cmd1_words` and `pack_param`; readers turn words
into `Command`s with `decode_command` and read fields with `Command.fields`.
Cmd0 and Cmd1 are IntEnums whose values overlap (a cmd0 and a cmd1 opcode
can both be 0x010): tell them apart by type (`isinstance`, `is`), not by
value. Enumeration and member names follow Arm's register description without its
`NPU_` prefix (`Cmd0.SET_IFM_REGION` prints as `NPU_SET_IFM_REGION`); the
one field of a register that holds a single value is named after the register
(`SET_IFM_HEIGHT0_M1` -> `height0_m1`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from npuc.errors import CommandStreamError

WORD_BYTES = 4
OPCODE_MASK = 0x3FF
PAYLOAD_SHIFT = 14
PAYLOAD_MASK = 0x3
CMD1_FLAG = 1 << PAYLOAD_SHIFT
"""Bit 14: set in the first word of every cmd1 (payload size 1: one extra word)."""
PARAM_MASK = 0xFFFF
ADDRESS_BITS = 40
ARCHITECTURE_VERSION = (1, 0, 6)
"""Major, minor and patch version of the register interface these tables describe."""
MAX_BLOCKDEP = 3
"""The largest BLOCKDEP value: jobs of the previous kernel that may still run when a kernel starts."""


class Cmd0(IntEnum):
    """Opcodes of the one-word commands: operations (`OP_*`) and 16-bit register writes (`SET_*`)."""
    OP_STOP = 0x000
    OP_IRQ = 0x001
    OP_CONV = 0x002
    OP_DEPTHWISE = 0x003
    OP_POOL = 0x005
    OP_ELEMENTWISE = 0x006
    OP_DMA_START = 0x010
    OP_DMA_WAIT = 0x011
    OP_KERNEL_WAIT = 0x012
    OP_PMU_MASK = 0x013
    SET_IFM_PAD_TOP = 0x100
    SET_IFM_PAD_LEFT = 0x101
    SET_IFM_PAD_RIGHT = 0x102
    SET_IFM_PAD_BOTTOM = 0x103
    SET_IFM_DEPTH_M1 = 0x104
    SET_IFM_PRECISION = 0x105
    SET_IFM_UPSCALE = 0x107
    SET_IFM_ZERO_POINT = 0x109
    SET_IFM_WIDTH0_M1 = 0x10A
    SET_IFM_HEIGHT0_M1 = 0x10B
    SET_IFM_HEIGHT1_M1 = 0x10C
    SET_IFM_IB_END = 0x10D
    SET_IFM_REGION = 0x10F
    SET_OFM_WIDTH_M1 = 0x111
    SET_OFM_HEIGHT_M1 = 0x112
    SET_OFM_DEPTH_M1 = 0x113
    SET_OFM_PRECISION = 0x114
    SET_OFM_BLK_WIDTH_M1 = 0x115
    SET_OFM_BLK_HEIGHT_M1 = 0x116
    SET_OFM_BLK_DEPTH_M1 = 0x117
    SET_OFM_ZERO_POINT = 0x118
    SET_OFM_WIDTH0_M1 = 0x11A
    SET_OFM_HEIGHT0_M1 = 0x11B
    SET_OFM_HEIGHT1_M1 = 0x11C
    SET_OFM_REGION = 0x11F
    SET_KERNEL_WIDTH_M1 = 0x120
    SET_KERNEL_HEIGHT_M1 = 0x121
    SET_KERNEL_STRIDE = 0x122
    SET_PARALLEL_MODE = 0x123
    SET_ACC_FORMAT = 0x124
    SET_ACTIVATION = 0x125
    SET_ACTIVATION_MIN = 0x126
    SET_ACTIVATION_MAX = 0x127
    SET_WEIGHT_REGION = 0x128
    SET_SCALE_REGION = 0x129
    SET_AB_START = 0x12D
    SET_BLOCKDEP = 0x12F
    SET_DMA0_SRC_REGION = 0x130
    SET_DMA0_DST_REGION = 0x131
    SET_DMA0_SIZE0 = 0x132
    SET_DMA0_SIZE1 = 0x133
    SET_IFM2_BROADCAST = 0x180
    SET_IFM2_SCALAR = 0x181
    SET_IFM2_PRECISION = 0x185
    SET_IFM2_ZERO_POINT = 0x189
    SET_IFM2_WIDTH0_M1 = 0x18A
    SET_IFM2_HEIGHT0_M1 = 0x18B
    SET_IFM2_HEIGHT1_M1 = 0x18C
    SET_IFM2_IB_START = 0x18D
    SET_IFM2_REGION = 0x18F


class Cmd1(IntEnum):
    """Opcodes of the two-word commands: 32-bit (or 40-bit address) register writes."""
    SET_IFM_BASE0 = 0x000
    SET_IFM_BASE1 = 0x001
    SET_IFM_BASE2 = 0x002
    SET_IFM_BASE3 = 0x003
    SET_IFM_STRIDE_X = 0x004
    SET_IFM_STRIDE_Y = 0x005
    SET_IFM_STRIDE_C = 0x006
    SET_OFM_BASE0 = 0x010
    SET_OFM_BASE1 = 0x011
    SET_OFM_BASE2 = 0x012
    SET_OFM_BASE3 = 0x013
    SET_OFM_STRIDE_X = 0x014
    SET_OFM_STRIDE_Y = 0x015
    SET_OFM_STRIDE_C = 0x016
    SET_WEIGHT_BASE = 0x020
    SET_WEIGHT_LENGTH = 0x021
    SET_SCALE_BASE = 0x022
    SET_SCALE_LENGTH = 0x023
    SET_OFM_SCALE = 0x024
    SET_OPA_SCALE = 0x025
    SET_OPB_SCALE = 0x026
    SET_DMA0_SRC = 0x030
    SET_DMA0_DST = 0x031
    SET_DMA0_LEN = 0x032
    SET_DMA0_SKIP0 = 0x033
    SET_DMA0_SKIP1 = 0x034
    SET_IFM2_BASE0 = 0x080
    SET_IFM2_BASE1 = 0x081
    SET_IFM2_BASE2 = 0x082
    SET_IFM2_BASE3 = 0x083
    SET_IFM2_STRIDE_X = 0x084
    SET_IFM2_STRIDE_Y = 0x085
    SET_IFM2_STRIDE_C = 0x086
    SET_WEIGHT1_BASE = 0x090
    SET_WEIGHT1_LENGTH = 0x091
    SET_SCALE1_BASE = 0x092
    SET_SCALE1_LENGTH = 0x093


Opcode = Cmd0 | Cmd1
"""Any command's opcode."""

KERNEL_OPERATIONS = (Cmd0.OP_CONV, Cmd0.OP_DEPTHWISE, Cmd0.OP_POOL, Cmd0.OP_ELEMENTWISE)
"""The operations that run on the MAC array and output unit (a *kernel*, waited for by OP_KERNEL_WAIT)."""


def mnemonic(opcode: Opcode) -> str:
    """The command's name as Arm and Vela print it (`NPU_SET_IFM_REGION`)."""
    return f"NPU_{opcode.name}"


# -- enumerations of register fields ------------------------------------------

class Product(IntEnum):
    """CONFIG register `product`: which Ethos-U the stream is built for."""

    ETHOS_U55 = 0
    ETHOS_U65 = 1


class ActivationPrecision(IntEnum):
    """xFM_PRECISION `activation_precision`: bits per stored element (8, 16, 32, 64)."""

    B8 = 0
    B16 = 1
    B32 = 2
    B64 = 3


class ActivationFormat(IntEnum):
    """xFM_PRECISION `activation_format`: NHWC, or NHCWB16 (bricks of 16 channels, x fastest)."""

    NHWC = 0
    NHCWB16 = 1


class IfmScaleMode(IntEnum):
    """IFM_PRECISION `scale_mode`: which elementwise operand OPA_SCALE rescales with 32 bits."""

    OPA_OPB_16 = 0
    OPA_32 = 1
    OPB_32 = 2


class OfmScaleMode(IntEnum):
    """OFM_PRECISION `scale_mode`: per-channel scale records, or the global OFM_SCALE register."""

    PER_CHANNEL = 0
    GLOBAL = 1


class RoundMode(IntEnum):
    """xFM_PRECISION `round_mode`: DBL is TFLite's double rounding (round half away at the shift)."""

    DBL = 0
    TRUNCATE = 1
    NATURAL = 2


class ActivationFunction(IntEnum):
    """ACTIVATION `activation_function`: none (a clamp, RELU), tanh, sigmoid or one of 8 lookup tables."""

    RELU = 0
    TANH = 3
    SIGMOID = 4
    TABLE_0 = 16
    TABLE_1 = 17
    TABLE_2 = 18
    TABLE_3 = 19
    TABLE_4 = 20
    TABLE_5 = 21
    TABLE_6 = 22
    TABLE_7 = 23


class ClipRange(IntEnum):
    """ACTIVATION `activation_clip_range`: the range the result is clipped to besides MIN/MAX."""

    OFM_PRECISION = 0
    FORCE_UINT8 = 2
    FORCE_INT8 = 3
    FORCE_INT16 = 5


class AccFormat(IntEnum):
    """ACC_FORMAT: accumulator width in the shared buffer."""

    I32 = 0
    I40 = 1
    F16 = 2


class ElementwiseMode(IntEnum):
    """OP_ELEMENTWISE parameter."""

    MUL = 0
    ADD = 1
    SUB = 2
    MIN = 3
    MAX = 4
    LRELU = 5
    ABS = 6
    CLZ = 7
    SHR = 8
    SHL = 9


UNARY_ELEMENTWISE = (ElementwiseMode.LRELU, ElementwiseMode.ABS, ElementwiseMode.CLZ)
"""Elementwise modes with one operand (no IFM2)."""


class PoolingMode(IntEnum):
    """OP_POOL parameter."""

    MAX = 0
    AVERAGE = 1
    REDUCE_SUM = 2


class UpscaleMode(IntEnum):
    """IFM_UPSCALE `mode`: none, nearest (each element twice in x and y) or zeros (transpose conv)."""

    NONE = 0
    NEAREST = 1
    ZEROS = 2


class WeightOrder(IntEnum):
    """KERNEL_STRIDE `weight_order`: the brick order of the encoded weights."""

    DEPTH_FIRST = 0
    PART_KERNEL_FIRST = 1


class RegionMode(IntEnum):
    """DMA0_SRC/DST_REGION `region_mode`: an external region (base pointer) or the internal shared buffer."""

    EXTERNAL = 0
    INTERNAL = 1


class DmaStrideMode(IntEnum):
    """DMA0_SRC/DST_REGION `stride_mode`: a 1-D copy, or 2-D/3-D with SKIP0/SKIP1 and SIZE0/SIZE1."""

    D1 = 0
    D2 = 1
    D3 = 2


class OperandOrder(IntEnum):
    """IFM2_BROADCAST `operand_order`: ORDER_B computes IFM op IFM2; ORDER_A computes IFM2 op IFM."""

    ORDER_B = 0
    ORDER_A = 1


# -- parameter bit fields ------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """A bit field of a command's 16-bit parameter.

    `kind` names the enumeration of its values, if any; a `signed` field is
    two's complement (zero points, clip bounds, the IFM2 scalar).
    """

    name: str
    lsb: int
    width: int
    kind: type[IntEnum] | None = None
    signed: bool = False

    def extract(self, param: int) -> int:
        """The field's value in `param` (sign-extended for a signed field)."""
        value = (param >> self.lsb) & ((1 << self.width) - 1)
        if self.signed and value >> (self.width - 1):
            value -= 1 << self.width
        return value

    def insert(self, value: int) -> int:
        """`value` at the field's position; ValueError when it does not fit."""
        low = -(1 << (self.width - 1)) if self.signed else 0
        high = (1 << self.width) - 1 if not self.signed else (1 << (self.width - 1)) - 1
        if not low <= int(value) <= high:
            raise ValueError(f"{self.name} = {value} does not fit in {self.width} bits")
        return (int(value) & ((1 << self.width) - 1)) << self.lsb


_PRECISION = (
    Field("activation_type", 0, 1),
    Field("activation_precision", 2, 2, ActivationPrecision),
    Field("activation_format", 6, 2, ActivationFormat),
)
_DMA_REGION = (
    Field("region", 0, 8),
    Field("region_mode", 8, 1, RegionMode),
    Field("stride_mode", 9, 2, DmaStrideMode),
)
_CMD0_FIELDS: dict[Cmd0, tuple[Field, ...]] = {
    Cmd0.OP_POOL: (Field("pooling_mode", 0, 3, PoolingMode),),
    Cmd0.OP_ELEMENTWISE: (Field("elementwise_mode", 0, 6, ElementwiseMode),),
    Cmd0.OP_DMA_WAIT: (Field("k", 0, 4),),
    Cmd0.OP_KERNEL_WAIT: (Field("n", 0, 4),),
    Cmd0.SET_IFM_PRECISION: (
        *_PRECISION,
        Field("scale_mode", 8, 2, IfmScaleMode),
        Field("round_mode", 14, 2, RoundMode),
    ),
    Cmd0.SET_IFM_UPSCALE: (Field("mode", 0, 2, UpscaleMode),),
    Cmd0.SET_OFM_PRECISION: (
        Field("activation_type", 0, 1),
        Field("activation_precision", 1, 2, ActivationPrecision),
        Field("activation_format", 6, 2, ActivationFormat),
        Field("scale_mode", 8, 1, OfmScaleMode),
        Field("round_mode", 14, 2, RoundMode),
    ),
    Cmd0.SET_KERNEL_STRIDE: (
        Field("stride_x_lsb", 0, 1),
        Field("stride_y_lsb", 1, 1),
        Field("weight_order", 2, 1, WeightOrder),
        Field("dilation_x", 3, 1),
        Field("dilation_y", 4, 1),
        Field("decomposition", 5, 1),
        Field("stride_x_msb", 6, 3),
        Field("stride_y_msb", 9, 3),
    ),
    Cmd0.SET_PARALLEL_MODE: (Field("parallel_mode", 0, 1),),
    Cmd0.SET_ACC_FORMAT: (Field("acc_format", 0, 2, AccFormat),),
    Cmd0.SET_ACTIVATION: (
        Field("activation_function", 0, 12, ActivationFunction),
        Field("activation_clip_range", 12, 4, ClipRange),
    ),
    Cmd0.SET_DMA0_SRC_REGION: _DMA_REGION,
    Cmd0.SET_DMA0_DST_REGION: _DMA_REGION,
    Cmd0.SET_IFM2_BROADCAST: (
        Field("broadcast_h", 0, 1),
        Field("broadcast_w", 1, 1),
        Field("broadcast_c", 2, 1),
        Field("operand_order", 6, 1, OperandOrder),
        Field("broadcast_constant", 7, 1),
    ),
    Cmd0.SET_IFM2_PRECISION: _PRECISION,
}

_SIGNED_VALUES = frozenset({
    Cmd0.SET_IFM_ZERO_POINT, Cmd0.SET_OFM_ZERO_POINT, Cmd0.SET_IFM2_ZERO_POINT,
    Cmd0.SET_ACTIVATION_MIN, Cmd0.SET_ACTIVATION_MAX, Cmd0.SET_IFM2_SCALAR,
})
"""cmd0 registers holding one two's-complement value (zero points, clip bounds, the IFM2 scalar)."""


def _value_field(opcode: Cmd0) -> tuple[Field, ...]:
    """A one-value parameter, named after its register (`SET_IFM_PAD_TOP` -> `pad_top`); none for OP_CONV/DEPTHWISE."""
    if opcode in (Cmd0.OP_CONV, Cmd0.OP_DEPTHWISE):
        return ()
    name = re.sub(r"^(SET|OP)_((IFM2?|OFM|DMA0)_)?", "", opcode.name).lower()
    return (Field(name, 0, 16, signed=opcode in _SIGNED_VALUES),)


_ADDRESS_HIGH = Field("addr_hi", 0, 8)
_SHIFT = Field("shift", 0, 6)
ADDRESS_COMMANDS: frozenset[Cmd1] = frozenset(
    opcode
    for opcode in Cmd1
    if opcode.name.endswith(("_BASE0", "_BASE1", "_BASE2", "_BASE3", "_BASE", "_SRC", "_DST"))
    or "_STRIDE_" in opcode.name
    or opcode.name.startswith(("SET_DMA0_LEN", "SET_DMA0_SKIP"))
)
"""cmd1 commands whose value is a 40-bit byte address, stride or DMA length (param[7:0] = bits 39:32).

Test membership with `is_address_command`: Cmd0 and Cmd1 are IntEnums whose
values overlap (OP_DMA_START == SET_OFM_BASE0 == 0x010), so a Cmd0 would
compare equal to a member here.
"""


def is_address_command(opcode: Opcode) -> bool:
    """Whether the command sets a 40-bit address, stride or length."""
    return isinstance(opcode, Cmd1) and opcode in ADDRESS_COMMANDS

_CMD1_PARAM_FIELDS: dict[Cmd1, tuple[Field, ...]] = {
    **{opcode: (_ADDRESS_HIGH,) for opcode in ADDRESS_COMMANDS},
    Cmd1.SET_OFM_SCALE: (_SHIFT,),
    Cmd1.SET_OPA_SCALE: (_SHIFT,),
}


def param_fields(opcode: Opcode) -> tuple[Field, ...]:
    """The bit fields of the command's 16-bit parameter, least significant first."""
    if isinstance(opcode, Cmd0):
        return _CMD0_FIELDS.get(opcode) or _value_field(opcode)
    return _CMD1_PARAM_FIELDS.get(opcode, ())


def pack_param(opcode: Opcode, **values: int) -> int:
    """The 16-bit parameter holding the named field values (absent fields are 0).

    `pack_param(Cmd0.SET_IFM_PRECISION, activation_type=1, activation_format=1)`;
    ValueError names an unknown field or a value that does not fit.
    """
    fields = {field.name: field for field in param_fields(opcode)}
    param = 0
    for name, value in values.items():
        if name not in fields:
            raise ValueError(f"{mnemonic(opcode)} has no field '{name}' (fields: {', '.join(fields) or 'none'})")
        param |= fields[name].insert(value)
    return param


# -- words ------------------------------------------------------------------------

def cmd0_word(opcode: Cmd0, param: int = 0) -> int:
    """The word of a cmd0 command; `param` is 16 bits, negative values as two's complement."""
    if not -0x8000 <= param <= PARAM_MASK:
        raise ValueError(f"{mnemonic(opcode)} parameter {param} does not fit in 16 bits")
    return (opcode & OPCODE_MASK) | ((param & PARAM_MASK) << 16)


def cmd1_words(opcode: Cmd1, data: int, param: int = 0) -> tuple[int, int]:
    """The two words of a cmd1 command: the opcode word and the 32-bit payload `data`."""
    if not -0x8000_0000 <= data <= 0xFFFF_FFFF:
        raise ValueError(f"{mnemonic(opcode)} payload {data} does not fit in 32 bits")
    if not 0 <= param <= PARAM_MASK:
        raise ValueError(f"{mnemonic(opcode)} parameter {param} does not fit in 16 bits")
    return (opcode & OPCODE_MASK) | CMD1_FLAG | (param << 16), data & 0xFFFF_FFFF


def address_words(opcode: Cmd1, address: int) -> tuple[int, int]:
    """The two words of a cmd1 that sets a 40-bit address, stride or length (`ADDRESS_COMMANDS`)."""
    if not is_address_command(opcode):
        raise ValueError(f"{mnemonic(opcode)} does not take an address")
    if not 0 <= address < 1 << ADDRESS_BITS:
        raise ValueError(f"{mnemonic(opcode)} address {address:#x} does not fit in {ADDRESS_BITS} bits")
    return cmd1_words(opcode, address & 0xFFFF_FFFF, address >> 32)


@dataclass(frozen=True)
class Command:
    """One decoded command: where it starts in the stream, its opcode, parameter and payload word.

    `data` is None for a cmd0. `value` is what the command writes into its
    register: the (sign-extended, for signed registers) parameter of a cmd0,
    the 40-bit address of an address command, or the payload word.
    """

    offset: int
    opcode: Opcode
    param: int
    data: int | None = None

    @property
    def size(self) -> int:
        """Bytes the command occupies in the stream (4 or 8)."""
        return WORD_BYTES if self.data is None else 2 * WORD_BYTES

    @property
    def value(self) -> int:
        """The register value the command sets (see the class docstring)."""
        if self.data is None:
            fields = param_fields(self.opcode)
            if len(fields) == 1 and fields[0].lsb == 0 and fields[0].width == 16:
                return fields[0].extract(self.param)
            return self.param
        if is_address_command(self.opcode):
            return (_ADDRESS_HIGH.extract(self.param) << 32) | self.data
        return self.data

    def fields(self) -> dict[str, int]:
        """The parameter's fields by name (for OFM/OPA_SCALE, the shift), plus `scale` for a scale payload."""
        values = {field.name: field.extract(self.param) for field in param_fields(self.opcode)}
        if isinstance(self.opcode, Cmd1) and self.opcode in (Cmd1.SET_OFM_SCALE, Cmd1.SET_OPA_SCALE,
                                                                   Cmd1.SET_OPB_SCALE):
            values["scale"] = self.data or 0
        return values


def decode_command(words: Sequence[int], index: int, source: str = "") -> Command:
    """The command starting at word `index`; CommandStreamError for an unknown opcode or a cut-off cmd1.

    Offsets count bytes from the start of the stream; `source` starts error messages.
    """
    word = words[index]
    code = word & OPCODE_MASK
    payload = (word >> PAYLOAD_SHIFT) & PAYLOAD_MASK
    where = f"{source + ': ' if source else ''}command at offset {index * WORD_BYTES:#x}"
    if payload > 1:
        raise CommandStreamError(f"{where}: payload size {payload} is not 0 or 1 (word {word:#010x})")
    table: type[Cmd0] | type[Cmd1] = Cmd1 if payload else Cmd0
    if code not in table._value2member_map_:
        raise CommandStreamError(f"{where}: unknown cmd{payload} opcode {code:#05x} (word {word:#010x})")
    if word & 0x3C00:
        raise CommandStreamError(f"{where}: reserved bits set in word {word:#010x}")
    if not payload:
        return Command(index * WORD_BYTES, Cmd0(code), word >> 16)
    if index + 1 >= len(words):
        raise CommandStreamError(f"{where}: {mnemonic(Cmd1(code))} is cut off (no payload word)")
    return Command(index * WORD_BYTES, Cmd1(code), word >> 16, words[index + 1])


def decode_commands(words: Sequence[int], source: str = "") -> list[Command]:
    """Every command of a register stream, in order, up to its OP_STOP.

    A stream without OP_STOP is a CommandStreamError (the hardware would run
    off its end); `source` starts error messages.
    """
    commands: list[Command] = []
    index = 0
    while index < len(words):
        command = decode_command(words, index, source)
        commands.append(command)
        index += command.size // WORD_BYTES
        if command.opcode is Cmd0.OP_STOP:
            return commands
    where = f"{source}: " if source else ""
    raise CommandStreamError(f"{where}the command stream of {len(words) * WORD_BYTES} bytes ends without NPU_OP_STOP")


def kernel_stride(stride_x: int, stride_y: int, dilation_x: int = 1, dilation_y: int = 1,
                  weight_order: WeightOrder = WeightOrder.DEPTH_FIRST) -> int:
    """The KERNEL_STRIDE parameter for strides 1-16, dilations 1-2 and a weight order.

    A stride minus one is split: its bit 0 goes to `stride_*_lsb`, the rest to `stride_*_msb`.
    """
    return pack_param(
        Cmd0.SET_KERNEL_STRIDE,
        stride_x_lsb=(stride_x - 1) & 1,
        stride_y_lsb=(stride_y - 1) & 1,
        weight_order=weight_order,
        dilation_x=dilation_x - 1,
        dilation_y=dilation_y - 1,
        stride_x_msb=(stride_x - 1) >> 1,
        stride_y_msb=(stride_y - 1) >> 1,
    )


def kernel_strides(param: int) -> tuple[int, int, int, int]:
    """(stride_x, stride_y, dilation_x, dilation_y) of a KERNEL_STRIDE parameter (inverse of `kernel_stride`)."""
    fields = {field.name: field.extract(param) for field in param_fields(Cmd0.SET_KERNEL_STRIDE)}
    return (
        (fields["stride_x_msb"] << 1 | fields["stride_x_lsb"]) + 1,
        (fields["stride_y_msb"] << 1 | fields["stride_y_lsb"]) + 1,
        fields["dilation_x"] + 1,
        fields["dilation_y"] + 1,
    )
