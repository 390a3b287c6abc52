"""What an OP_* command does, read from the register state it starts on.

The command stream only writes registers; an `OP_CONV`, `OP_DEPTHWISE`,
`OP_POOL`, `OP_ELEMENTWISE` or `OP_DMA_START` runs on whatever the registers
hold at that moment (a register keeps its value until written again; reset
leaves it 0). `RegisterFile` is that state; `kernel_operation` and
`dma_operation` read it into plain records the kernels execute.

The IFM's height and width are not registers: the hardware walks the OFM and
reads the IFM positions each output needs, so the IFM extent is what the OFM,
kernel, stride and padding imply, `(ofm - 1) * stride + dilated kernel -
pad_before - pad_after` (in the upscaled IFM when IFM_UPSCALE is set).
Positions before 0 or past that extent are padding.
"""

from __future__ import annotations

from dataclasses import dataclass

from npuc.emit.ethos_u.registers import (
    MAX_BLOCKDEP,
    UNARY_ELEMENTWISE,
    ActivationFormat,
    ActivationFunction,
    ClipRange,
    Cmd0,
    Cmd1,
    Command,
    ElementwiseMode,
    IfmScaleMode,
    OfmScaleMode,
    Opcode,
    OperandOrder,
    PoolingMode,
    RegionMode,
    RoundMode,
    UpscaleMode,
    WeightOrder,
    kernel_strides,
    mnemonic,
    param_fields,
)
from npuc.errors import CommandStreamError
from npuc.sim.ethos_u.memory import SHRAM_REGION, FeatureMap


class RegisterFile:
    """The NPU's registers as the stream has set them so far (0 until written)."""

    def __init__(self) -> None:
        self._commands: dict[Opcode, Command] = {}

    def set(self, command: Command) -> None:
        """Apply a SET_* command."""
        self._commands[command.opcode] = command

    def value(self, opcode: Opcode) -> int:
        """The register's value (sign-extended for signed registers, 40 bits for addresses)."""
        command = self._commands.get(opcode)
        return command.value if command is not None else 0

    def shift(self, opcode: Cmd1) -> int:
        """The shift in the parameter of OFM_SCALE or OPA_SCALE."""
        command = self._commands.get(opcode)
        return command.fields()["shift"] if command is not None else 0

    def field(self, opcode: Cmd0, name: str) -> int:
        """One named field of a cmd0 register."""
        command = self._commands.get(opcode)
        param = command.param if command is not None else 0
        return next(field.extract(param) for field in param_fields(opcode) if field.name == name)


@dataclass(frozen=True)
class Kernel:
    """Kernel size (undilated), strides, dilations and the weights' brick order."""

    height: int
    width: int
    stride_y: int
    stride_x: int
    dilation_y: int
    dilation_x: int
    weight_order: WeightOrder


@dataclass(frozen=True)
class Padding:
    """IFM padding in elements."""

    top: int
    left: int
    bottom: int
    right: int


@dataclass(frozen=True)
class Stream:
    """A byte range of a region: a weight or scale stream, or a DMA source or destination."""

    region: int
    address: int
    length: int


@dataclass(frozen=True)
class OutputStage:
    """How accumulators become OFM elements: scaling, rounding, zero point, clip and activation."""

    scale_mode: OfmScaleMode
    rounding: RoundMode
    scale: int
    shift: int
    function: ActivationFunction
    clip_range: ClipRange
    clip_min: int
    clip_max: int


@dataclass(frozen=True)
class KernelOperation:
    """One OP_CONV, OP_DEPTHWISE, OP_POOL or OP_ELEMENTWISE with everything its registers say.

    `mode` is the PoolingMode or ElementwiseMode (None for convolutions);
    `ifm2`, `scalar` and the operand scales only matter for elementwise
    operations; `weights`/`scales` are the per-core streams (one core unless
    the stream sets the second core's lengths).
    """

    opcode: Cmd0
    mode: PoolingMode | ElementwiseMode | None
    ifm: FeatureMap
    ifm2: FeatureMap | None
    scalar: int | None
    reversed_operands: bool
    ofm: FeatureMap
    kernel: Kernel
    padding: Padding
    upscale: UpscaleMode
    weights: tuple[Stream, ...]
    scales: tuple[Stream, ...]
    output: OutputStage
    ifm_scale_mode: IfmScaleMode
    ifm_rounding: RoundMode
    opa_scale: tuple[int, int]
    opb_scale: int
    block: tuple[int, int, int]
    blockdep: int


@dataclass(frozen=True)
class DmaOperation:
    """One OP_DMA_START: a 1-D copy of `length` bytes from `source` to `destination`."""

    source: Stream
    destination: Stream


_PRECISION_BITS = {0: 8, 1: 16, 2: 32}


def _feature_map(registers: RegisterFile, prefix: str, shape: tuple[int, int, int], where: str) -> FeatureMap:
    """The FeatureMap of the IFM, IFM2 or OFM registers (`prefix`), with the given shape."""
    def cmd0(name: str) -> Cmd0:
        return Cmd0[f"SET_{prefix}_{name}"]

    def cmd1(name: str) -> Cmd1:
        return Cmd1[f"SET_{prefix}_{name}"]

    precision = cmd0("PRECISION")
    bits = _PRECISION_BITS.get(registers.field(precision, "activation_precision"))
    if bits is None:
        raise CommandStreamError(f"{where}: {mnemonic(precision)} selects 64-bit elements, which no operation takes")
    return FeatureMap(
        region=registers.value(cmd0("REGION")),
        bases=(
            registers.value(cmd1("BASE0")),
            registers.value(cmd1("BASE1")),
            registers.value(cmd1("BASE2")),
            registers.value(cmd1("BASE3")),
        ),
        height0=registers.value(cmd0("HEIGHT0_M1")) + 1,
        height1=registers.value(cmd0("HEIGHT1_M1")) + 1,
        width0=registers.value(cmd0("WIDTH0_M1")) + 1,
        shape=shape,
        stride_x=registers.value(cmd1("STRIDE_X")),
        stride_y=registers.value(cmd1("STRIDE_Y")),
        stride_c=registers.value(cmd1("STRIDE_C")),
        element_bits=bits,
        signed=bool(registers.field(precision, "activation_type")),
        brick=registers.field(precision, "activation_format") == ActivationFormat.NHCWB16,
        zero_point=registers.value(cmd0("ZERO_POINT")),
    )


def _kernel(registers: RegisterFile) -> Kernel:
    stride_x, stride_y, dilation_x, dilation_y = kernel_strides(registers.value(Cmd0.SET_KERNEL_STRIDE))
    return Kernel(
        height=registers.value(Cmd0.SET_KERNEL_HEIGHT_M1) // dilation_y + 1,
        width=registers.value(Cmd0.SET_KERNEL_WIDTH_M1) // dilation_x + 1,
        stride_y=stride_y,
        stride_x=stride_x,
        dilation_y=dilation_y,
        dilation_x=dilation_x,
        weight_order=WeightOrder(registers.field(Cmd0.SET_KERNEL_STRIDE, "weight_order")),
    )


def _streams(registers: RegisterFile, region: Cmd0, pairs: tuple[tuple[Cmd1, Cmd1], ...]) -> tuple[Stream, ...]:
    """The per-core weight or scale streams (a second core's only when its length is set)."""
    streams = []
    for core, (base, length) in enumerate(pairs):
        if core == 0 or registers.value(length):
            streams.append(Stream(registers.value(region), registers.value(base), registers.value(length)))
    return tuple(streams)


def _enum(kind, value: int, register: Cmd0, where: str):
    """`kind(value)`, or CommandStreamError naming the register when the value is reserved."""
    try:
        return kind(value)
    except ValueError:
        raise CommandStreamError(f"{where}: {mnemonic(register)} holds the reserved value {value}") from None


def kernel_operation(registers: RegisterFile, command: Command, where: str) -> KernelOperation:
    """The operation `command` (OP_CONV, OP_DEPTHWISE, OP_POOL or OP_ELEMENTWISE) starts."""
    opcode = command.opcode
    assert isinstance(opcode, Cmd0)
    mode: PoolingMode | ElementwiseMode | None = None
    if opcode is Cmd0.OP_POOL:
        mode = _enum(PoolingMode, command.param, opcode, where)
    elif opcode is Cmd0.OP_ELEMENTWISE:
        mode = _enum(ElementwiseMode, command.param, opcode, where)
    ofm_shape = (
        registers.value(Cmd0.SET_OFM_HEIGHT_M1) + 1,
        registers.value(Cmd0.SET_OFM_WIDTH_M1) + 1,
        registers.value(Cmd0.SET_OFM_DEPTH_M1) + 1,
    )
    elementwise = opcode is Cmd0.OP_ELEMENTWISE
    kernel = _kernel(registers) if not elementwise else Kernel(1, 1, 1, 1, 1, 1, WeightOrder.DEPTH_FIRST)
    padding = Padding(
        *(registers.value(pad) for pad in (Cmd0.SET_IFM_PAD_TOP, Cmd0.SET_IFM_PAD_LEFT,
                                            Cmd0.SET_IFM_PAD_BOTTOM, Cmd0.SET_IFM_PAD_RIGHT))
    ) if not elementwise else Padding(0, 0, 0, 0)
    upscale = _enum(UpscaleMode, registers.field(Cmd0.SET_IFM_UPSCALE, "mode"), Cmd0.SET_IFM_UPSCALE, where)
    ifm_depth = registers.value(Cmd0.SET_IFM_DEPTH_M1) + 1
    ifm_shape = (
        _ifm_extent(ofm_shape[0], kernel.stride_y, kernel.dilation_y * (kernel.height - 1) + 1,
                    padding.top + padding.bottom),
        _ifm_extent(ofm_shape[1], kernel.stride_x, kernel.dilation_x * (kernel.width - 1) + 1,
                    padding.left + padding.right),
        ifm_depth,
    )
    if upscale is not UpscaleMode.NONE:
        ifm_shape = ((ifm_shape[0] + 1) // 2, (ifm_shape[1] + 1) // 2, ifm_depth)
    ifm2, scalar, reversed_operands = None, None, False
    if elementwise and mode not in UNARY_ELEMENTWISE:
        broadcast = {name: registers.field(Cmd0.SET_IFM2_BROADCAST, name)
                     for name in ("broadcast_h", "broadcast_w", "broadcast_c", "operand_order", "broadcast_constant")}
        reversed_operands = broadcast["operand_order"] == OperandOrder.ORDER_A
        if broadcast["broadcast_constant"]:
            scalar = registers.value(Cmd0.SET_IFM2_SCALAR)
            ifm2 = _feature_map(registers, "IFM2", (1, 1, 1), where)
        else:
            ifm2_shape = (
                1 if broadcast["broadcast_h"] else ofm_shape[0],
                1 if broadcast["broadcast_w"] else ofm_shape[1],
                1 if broadcast["broadcast_c"] else ifm_depth,
            )
            ifm2 = _feature_map(registers, "IFM2", ifm2_shape, where)
    if opcode is not Cmd0.OP_CONV and mode is not PoolingMode.REDUCE_SUM and ifm_depth != ofm_shape[2]:
        raise CommandStreamError(f"{where}: IFM depth {ifm_depth} differs from the OFM depth {ofm_shape[2]}, "
                                 f"which {mnemonic(opcode)} keeps")
    ofm_scale = registers.value(Cmd1.SET_OFM_SCALE)
    blockdep = registers.value(Cmd0.SET_BLOCKDEP)
    if blockdep > MAX_BLOCKDEP:
        raise CommandStreamError(f"{where}: BLOCKDEP {blockdep} is above the hardware's maximum of {MAX_BLOCKDEP}")
    return KernelOperation(
        opcode=opcode,
        mode=mode,
        ifm=_feature_map(registers, "IFM", ifm_shape, where),
        ifm2=ifm2,
        scalar=scalar,
        reversed_operands=reversed_operands,
        ofm=_feature_map(registers, "OFM", ofm_shape, where),
        kernel=kernel,
        padding=padding,
        upscale=upscale,
        weights=_streams(registers, Cmd0.SET_WEIGHT_REGION, (
            (Cmd1.SET_WEIGHT_BASE, Cmd1.SET_WEIGHT_LENGTH), (Cmd1.SET_WEIGHT1_BASE, Cmd1.SET_WEIGHT1_LENGTH))),
        scales=_streams(registers, Cmd0.SET_SCALE_REGION, (
            (Cmd1.SET_SCALE_BASE, Cmd1.SET_SCALE_LENGTH), (Cmd1.SET_SCALE1_BASE, Cmd1.SET_SCALE1_LENGTH))),
        output=OutputStage(
            scale_mode=OfmScaleMode(registers.field(Cmd0.SET_OFM_PRECISION, "scale_mode")),
            rounding=_enum(RoundMode, registers.field(Cmd0.SET_OFM_PRECISION, "round_mode"),
                           Cmd0.SET_OFM_PRECISION, where),
            scale=ofm_scale,
            shift=registers.shift(Cmd1.SET_OFM_SCALE),
            function=_enum(ActivationFunction, registers.field(Cmd0.SET_ACTIVATION, "activation_function"),
                           Cmd0.SET_ACTIVATION, where),
            clip_range=_enum(ClipRange, registers.field(Cmd0.SET_ACTIVATION, "activation_clip_range"),
                             Cmd0.SET_ACTIVATION, where),
            clip_min=registers.value(Cmd0.SET_ACTIVATION_MIN),
            clip_max=registers.value(Cmd0.SET_ACTIVATION_MAX),
        ),
        ifm_scale_mode=_enum(IfmScaleMode, registers.field(Cmd0.SET_IFM_PRECISION, "scale_mode"),
                             Cmd0.SET_IFM_PRECISION, where),
        ifm_rounding=_enum(RoundMode, registers.field(Cmd0.SET_IFM_PRECISION, "round_mode"),
                           Cmd0.SET_IFM_PRECISION, where),
        opa_scale=(registers.value(Cmd1.SET_OPA_SCALE), registers.shift(Cmd1.SET_OPA_SCALE)),
        opb_scale=registers.value(Cmd1.SET_OPB_SCALE),
        block=(
            registers.value(Cmd0.SET_OFM_BLK_HEIGHT_M1) + 1,
            registers.value(Cmd0.SET_OFM_BLK_WIDTH_M1) + 1,
            registers.value(Cmd0.SET_OFM_BLK_DEPTH_M1) + 1,
        ),
        blockdep=blockdep,
    )


def _ifm_extent(ofm_extent: int, stride: int, dilated_kernel: int, padding: int) -> int:
    """IFM rows (or columns) an OFM extent reads, without the padding."""
    return max((ofm_extent - 1) * stride + dilated_kernel - padding, 0)


def dma_operation(registers: RegisterFile, where: str) -> DmaOperation:
    """The 1-D copy OP_DMA_START starts; CommandStreamError for 2-D/3-D strided modes."""
    ends = []
    for region, address in ((Cmd0.SET_DMA0_SRC_REGION, Cmd1.SET_DMA0_SRC), (Cmd0.SET_DMA0_DST_REGION, Cmd1.SET_DMA0_DST)):
        if registers.field(region, "stride_mode"):
            raise CommandStreamError(f"{where}: {mnemonic(region)} selects a strided DMA, which npuc does not simulate")
        internal = registers.field(region, "region_mode") == RegionMode.INTERNAL
        number = SHRAM_REGION if internal else registers.field(region, "region")
        ends.append(Stream(number, registers.value(address), registers.value(Cmd1.SET_DMA0_LEN)))
    return DmaOperation(*ends)
