"""The `Target` a pass or the cost model is handed, and the parts it is made of.

A target is the combination of three things, as in Arm's Vela: an
accelerator (MAC array, block shapes, shared buffer, throughput and operator
rules), a system configuration (core clock and the memories on the NPU's AXI
ports: bandwidth, burst length, latency, outstanding transactions) and a
memory mode (which memory holds the arena, the weights and the weight
staging area). `npuc.targets.load_target` builds one from data files; these
classes only hold the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from npuc.errors import TargetError

OPERATOR_KINDS = (
    "conv2d",
    "depthwise_conv2d",
    "fully_connected",
    "add",
    "sub",
    "mul",
    "max_pool2d",
    "avg_pool2d",
    "reshape",
    "softmax",
    "concat",
    "split",
    "transpose",
    "slice",
    # int8 activations as one elementwise command with a lookup table (npuc.backend.lookup_tables)
    "logistic",
    "tanh",
    "hard_swish",
    "hard_sigmoid",
    "gelu",
    "leaky_relu",
    "prelu",
    "rsqrt",
    # int8 SQUARED_DIFFERENCE as seven integer elementwise commands (npuc.backend.squared_difference)
    "squared_difference",
    # int8 BATCH_MATMUL of two computed tensors: copies, elementwise and pool commands (npuc.backend.batch_matmul)
    "batch_matmul",
)
"""NPU operator kinds a target may list under `[operators]`."""

DATA_TYPES = ("int8", "uint8", "int16", "int32")
"""Element types a target may list as supported by an operator."""

ACTIVATIONS = ("none", "relu", "relu6", "relu_n1_to_1")
"""Fused activations a target may list as supported by an operator."""

WEIGHT_ENCODINGS = ("raw", "ethos-u")
"""How a target stores a weighted layer's constants: `raw` (int8 weights and npuc's scale/bias
table, docs/ir.md) or `ethos-u` (per-layer encoded weight and scale streams, `npuc.emit.ethos_u.weights`)."""

PRODUCTS = ("ethos-u55", "ethos-u65")
"""Ethos-U products a command-stream target may name (`EthosU.product`)."""

ENGINES = ("dma", "mac", "elementwise")
"""Engines a target may list: DMA copies, the MAC array (convolution, fully
connected, pooling) and the elementwise unit. Reports draw one timeline lane
per engine (the DMA as two lanes, into and out of the staging memory)."""


@dataclass(frozen=True)
class Range:
    """An inclusive integer range `[low, high]`, e.g. the legal strides."""

    low: int
    high: int

    def __contains__(self, value: int) -> bool:
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return f"[{self.low}, {self.high}]"


@dataclass(frozen=True)
class BlockShape:
    """A feature-map block shape (height, width, depth) in elements."""

    height: int
    width: int
    depth: int

    @property
    def elements(self) -> int:
        """Number of elements in one block."""
        return self.height * self.width * self.depth


@dataclass(frozen=True)
class ShramBanks:
    """How the shared buffer is carved into IFM and accumulator areas (block search, Ethos-U registers).

    The buffer is allocated in banks of `bank_bytes`; the IFM area and the
    accumulator area are each double-buffered and rounded up to their
    granule of banks: `ifm_granule` (convolution, pooling),
    `elementwise_ifm_granule` (each IFM of an elementwise command),
    `wide_ifm_granule` (32-bit IFMs), `accumulator_granule` (32-bit
    accumulators) and `wide_accumulator_granule` (40-bit accumulators of
    16-bit data). The IFM area starts after `output_banks` banks; a command
    with a lookup table keeps the last `lut_bytes` of the buffer for it (the
    rest of `shram_reserved_bytes` is at the end too). The defaults (one
    byte, granules of one, nothing reserved at the start, no lookup tables)
    make the rule plain byte counting.
    """

    bank_bytes: int = 1
    ifm_granule: int = 1
    elementwise_ifm_granule: int = 1
    wide_ifm_granule: int = 1
    accumulator_granule: int = 1
    wide_accumulator_granule: int = 1
    output_banks: int = 0
    lut_bytes: int = 0


@dataclass(frozen=True)
class FeatureMapAccess:
    """How the NPU stores feature maps and moves them in bursts, for the cost model's memory traffic.

    Feature maps only NPU commands touch are stored in bricks of
    `brick_depth` channels (Ethos-U's NHCWB16: the depth rounds up to a whole
    brick, and a block row of bricks is one contiguous run); the model's
    inputs and outputs, and what the host or a CPU operation touches, are
    plain NHWC. A plain OFM block deeper than `write_burst_channels` (or not
    spanning the whole depth) is written at most `write_burst_channels`
    channels per core, and at most `write_burst_max_bytes`, per burst.
    """

    brick_depth: int
    write_burst_channels: int
    write_burst_max_bytes: int


@dataclass(frozen=True)
class EthosU:
    """What an Ethos-U register command stream needs to know of its accelerator.

    `product` is one of `PRODUCTS` (the driver checks it, and an Ethos-U65
    stream sets PARALLEL_MODE); `max_outstanding_dma` and
    `max_outstanding_kernels` are the DMA and kernel operations the NPU keeps
    in flight (older ones have finished when a new one is issued);
    `lut_slot_bytes` is the granule of lookup-table slots in the shared
    buffer (ACTIVATION's TABLE_n is slot n); `shram_dma_region` the region
    number a DMA into the shared buffer names (with the internal region mode).
    """

    product: str
    max_outstanding_dma: int
    max_outstanding_kernels: int
    lut_slot_bytes: int
    shram_dma_region: int


@dataclass(frozen=True)
class FeatureMapLimit:
    """Largest feature map (height, width, depth) an operator accepts on the NPU."""

    height: int
    width: int
    depth: int

    def admits(self, height: int, width: int, depth: int) -> bool:
        """Whether a feature map of this shape is within the limit."""
        return height <= self.height and width <= self.width and depth <= self.depth


@dataclass(frozen=True)
class KernelRule:
    """Constraints on a windowed operator's kernel (convolution, pooling).

    Kernel height, width and area are those of the dilated kernel, as the
    hardware sees it. `padded_size`, when set, bounds each kernel dimension of
    an operator that pads its input (Ethos-U average pooling with SAME padding
    is limited to 8x8); `None` means padding adds no constraint.
    """

    height: Range
    width: Range
    area_max: int
    stride: Range
    dilation: Range
    padded_size: Range | None


@dataclass(frozen=True)
class OperatorRule:
    """What the NPU accepts for one operator kind; used by legalization.

    `kernel` is `None` for operators without a window (fully connected,
    elementwise, reshape). `max_commands`, when set, bounds the commands
    one layer of the kind may lower to (the strided copies of a transpose
    or slice, `npuc.backend.copies`); `None` sets no bound. `max_bias_bits`,
    when set, is the two's-complement width a weighted layer's bias values
    must fit (the Ethos-U scale/bias record's); `None` sets no bound.
    """

    kind: str
    data_types: tuple[str, ...]
    activations: tuple[str, ...]
    max_ifm: FeatureMapLimit
    max_ofm: FeatureMapLimit
    kernel: KernelRule | None
    max_commands: int | None = None
    max_bias_bits: int | None = None


@dataclass(frozen=True)
class Memory:
    """One memory the NPU reaches over its bus.

    `bandwidth` is in bytes per NPU clock cycle; latencies are in NPU cycles;
    `burst_length` is the transfer size in bytes that reaches full bandwidth.
    `port` names the AXI port the memory sits on ("Axi0", "Axi1"; empty when
    the description does not say), `max_reads` and `max_writes` the
    transactions it accepts in flight.
    """

    name: str
    size: int
    bandwidth: float
    read_latency: int
    write_latency: int
    burst_length: int
    port: str
    max_reads: int
    max_writes: int


@dataclass(frozen=True)
class Throughput:
    """Compute rates of the NPU, for the cost model.

    Rates are per NPU cycle. A convolution runs "kernel first" (IFM depth in
    steps of `ifm_depth_step`, kernel elements in steps of
    `kernel_element_step`) or "depth first" (IFM depth in steps of
    `depth_first_ifm_depth_step`, one kernel element at a time).
    A depthwise convolution takes one step per `kernel_element_step` kernel
    elements for each micro-block (one IFM channel per OFM channel: 16 of
    the 128 MACs of ethos-u55-128). `ofm_block_depth` is
    the output-channel granule weights are streamed in, and
    `command_overhead_cycles` the fixed cost of issuing one NPU command.
    `activation_elements_per_cycle` is the rate of a fused clamp activation
    (ReLU and friends), `max_pool_output_elements_per_cycle` the output rate
    of a max pool; `depth_slice_min_cycles` the fewest cycles one micro-block
    deep slice of a block takes per kernel step (the accumulator write-back);
    `block_pipeline_stages` how many blocks are in flight, over which the
    per-block memory latency is spread. `kernel_first_ifm_block_depth` is
    the IFM block depth (8-bit data) a kernel-first convolution keeps in the
    shared buffer (a depth-first one keeps `depth_first_ifm_depth_step`).
    `scale_bytes_per_read_latency`: a block's scale/bias records (one per OFM
    channel of the block) take one read latency of their memory per this
    many bytes. Defaults (when a target file omits
    them) leave the model as it was: activation and max pool at
    `output_elements_per_cycle`, no slice minimum, one stage, kernel-first
    IFM blocks as deep as depth-first ones, no scale/bias latency.
    """

    macs_per_cycle: int
    elementwise_elements_per_cycle: float
    pooling_elements_per_cycle: float
    output_elements_per_cycle: float
    ifm_depth_step: int
    kernel_element_step: int
    depth_first_ifm_depth_step: int
    ofm_block_depth: int
    command_overhead_cycles: int
    activation_elements_per_cycle: float = 0.0
    max_pool_output_elements_per_cycle: float = 0.0
    depth_slice_min_cycles: int = 0
    block_pipeline_stages: int = 1
    kernel_first_ifm_block_depth: int = 0
    scale_bytes_per_read_latency: int = 0


HOST_CPU_UNITS = ("mac", "element", "input_element")
"""What a host CPU rate counts (`HostCpu`): multiply-accumulates (window taps of a pool), output
elements, or input elements (a reduction, whose work grows with what it reads)."""


@dataclass(frozen=True)
class HostRate:
    """Cycles of the host CPU per `unit` (one of `HOST_CPU_UNITS`) of one operator kind."""

    unit: str
    cycles: float


@dataclass(frozen=True)
class HostCpu:
    """The host processor that runs the layers the NPU cannot (`npu.cpu_op`), for the cost model.

    `core` names it (e.g. "Cortex-M55"); `clock_hz` is its clock, None when
    it runs at the NPU's clock (`Target.host_clock_hz`). `rates` maps an
    operator kind (a `quantized` op name without its dialect: "softmax",
    "conv2d") to its `HostRate`; a kind not listed costs
    `default_cycles_per_element` per output element. The figures are
    estimates (the target file says where each comes from).
    """

    core: str
    clock_hz: float | None
    rates: tuple[tuple[str, HostRate], ...]
    default_cycles_per_element: float

    def rate(self, kind: str) -> HostRate:
        """The rate of operator `kind`: its own, or the default per output element."""
        for name, rate in self.rates:
            if name == kind:
                return rate
        return HostRate("element", self.default_cycles_per_element)


@dataclass(frozen=True)
class MemorySystem:
    """A system configuration with a memory mode applied: clock, memories and roles.

    `arena_memory` holds activations, `weights_memory` holds constants as
    stored in the image, and `staging_memory` is where weights are copied by
    DMA before an operator uses them; all three name entries of `memories`.
    `system_config` and `memory_mode` are Vela's section names, empty when a
    target file describes its memories itself.

    `arena_cache_size` is the memory budget (Vela's key of that name, from
    the memory mode or `--arena-cache-size`): the bytes the staging memory
    may use. Vela's staging memory is its cache, so the budget caps the SRAM
    holding arena and cache on Shared_Sram and Sram_Only, and the cache
    alone on Dedicated_Sram (the arena is in the DRAM there). The staging
    memory's `size` is the budget already; None means no budget was given
    (the memory is as large as it is, for Vela the address space).
    """

    system_config: str
    memory_mode: str
    clock_hz: float
    memories: tuple[Memory, ...]
    arena_memory: str
    weights_memory: str
    staging_memory: str
    arena_cache_size: int | None = None


@dataclass(frozen=True)
class Target:
    """A complete description of one NPU and its memory system.

    `name` is stable and loadable: `load_target(target.name)` gives the same
    target (for built-in accelerators it is the target spec, see
    `npuc.targets.target_spec`). `accelerator`, `system_config` and
    `memory_mode` name the three parts (the last two are empty for a target
    file that describes its own memories). Roles and memories are as in
    `MemorySystem`. `alignment` (bytes) applies to every buffer placement.
    `shram_bytes` is the NPU's internal shared buffer, of which
    `shram_reserved_bytes` are not available for IFM and accumulator blocks.
    OFM blocks are multiples of `ofm_ublock`; the IFM is fetched in
    multiples of `ifm_ublock`. npu-tile searches OFM blocks up to
    `ofm_block_max` ([h, w, c]) that fit the shared buffer by the bank rules
    of `shram`; a kernel larger than `sub_kernel_max` ([h, w]) is split into
    sub-kernels that each re-read the IFM. `cores` NPU cores share every
    command, output channels dealt to them alternately (each core reads its
    own weight and scale/bias stream). `weight_encoding` is one of
    `WEIGHT_ENCODINGS`: how npu-lower stores weights and scale/bias
    tables. `feature_map_access` is how feature maps are laid out and moved
    in bursts (None: every transfer moves whole bursts). `ethos_u` holds the command-stream facts of an Ethos-U
    accelerator (None for other NPUs). `host_cpu` is the processor that
    runs CPU operations and what they cost it (`HostCpu`). Operator kinds absent from
    `operators` do not run on the NPU. `engines` lists the units that run in
    parallel (see `ENGINES`). `source` is the built-in name or file path it
    was loaded from. `arena_cache_size` is the memory budget (see
    `MemorySystem`): the staging memory's size when one was given.
    """

    name: str
    description: str
    source: str
    accelerator: str
    system_config: str
    memory_mode: str
    clock_hz: float
    alignment: int
    memories: tuple[Memory, ...]
    arena_memory: str
    weights_memory: str
    staging_memory: str
    throughput: Throughput
    shram_bytes: int
    shram_reserved_bytes: int
    ofm_ublock: BlockShape
    ifm_ublock: BlockShape
    operators: tuple[OperatorRule, ...]
    engines: tuple[str, ...]
    ofm_block_max: BlockShape
    sub_kernel_max: tuple[int, int]
    shram: ShramBanks
    cores: int
    weight_encoding: str
    feature_map_access: FeatureMapAccess | None
    ethos_u: EthosU | None
    host_cpu: HostCpu
    arena_cache_size: int | None = None

    @property
    def host_clock_hz(self) -> float:
        """The host CPU's clock: its own, or the NPU's when the target file gives none."""
        return self.host_cpu.clock_hz or self.clock_hz

    def memory(self, name: str) -> Memory:
        """The memory called `name`; `TargetError` if the target has none."""
        for memory in self.memories:
            if memory.name == name:
                return memory
        known = ", ".join(m.name for m in self.memories)
        raise TargetError(
            f"target '{self.name}' has no memory '{name}' (it has: {known})"
        )

    @property
    def budget_memory(self) -> str:
        """The memory `arena_cache_size` caps: the staging memory (Vela's cache)."""
        return self.staging_memory

    @property
    def encodes_weights(self) -> bool:
        """Whether weighted layers store Ethos-U encoded weight and scale streams (`weight_encoding`)."""
        return self.weight_encoding == "ethos-u"

    @property
    def shram_usable_bytes(self) -> int:
        """Shared-buffer bytes available for IFM and accumulator blocks."""
        return self.shram_bytes - self.shram_reserved_bytes

    def operator_rule(self, kind: str) -> OperatorRule | None:
        """The constraints for operator `kind`, or `None` if the NPU lacks it."""
        for rule in self.operators:
            if rule.kind == kind:
                return rule
        return None

    def supports(self, kind: str) -> bool:
        """Whether operator `kind` runs on the NPU at all."""
        return self.operator_rule(kind) is not None

    def peak_bandwidth(self, memory: str) -> float:
        """Design peak bandwidth of `memory` in bytes per second."""
        return self.memory(memory).bandwidth * self.clock_hz
