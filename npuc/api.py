"""The library surface of npuc: what `import npuc` offers another program.

Each function works on xDSL `ModuleOp`s so another compiler can embed npuc:
import a model, run named passes or whole pipelines, execute IR with the
reference interpreters, compile to a command stream with its report as data.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import PassPipeline
from xdsl.utils.exceptions import ArgSpecParseError, DiagnosticException

from npuc.errors import ArenaBudgetError, NpucError, PipelineError, writing

if TYPE_CHECKING:
    from npuc.cost.model import NetworkCost
    from npuc.dse.channels import ChannelWhatIf, Measurement
    from npuc.report.network import LayerGraph
    from npuc.targets import Target

DEFAULT_TARGET = "ethos-u55-128"

BACKEND_PASSES = ("npu-legalize", "npu-tile", "npu-schedule", "npu-allocate", "npu-lower")
"""The passes `compile_model` runs after quantization, each given the target."""

PLACEMENT_PASSES = BACKEND_PASSES[:2]
"""The back-end passes whose results do not depend on npu-schedule's goal (placement and blocks):
`analyze_model` runs them once when it also schedules for Size (`compare_size`)."""

GOAL_PASSES = BACKEND_PASSES[2:]
"""The back-end passes after `PLACEMENT_PASSES`: scheduling for a goal, allocation and lowering."""

QUANTIZED_REWRITES = (
    "quantized-conv-patches",
    "quantized-canonicalize",
    "quantized-fuse-pad",
    "quantized-width-to-depth",
    "quantized-concat-requantize",
    "quantized-requantize-to-depthwise",
    "quantized-mean-to-depthwise",
    "layer-cse",
    "layer-dce",
)
"""Rewrites of quantized IR, run before the back-end passes (`quantized_rewrites` gives them the target)."""

TARGETED_REWRITES = ("quantized-width-to-depth", "quantized-mean-to-depthwise")
"""The `QUANTIZED_REWRITES` that take the target: its kernel rules and cost model shape their convs."""


VELA_UNLIKE_REWRITES = ("quantized-width-to-depth",)
"""The `QUANTIZED_REWRITES` Vela has no counterpart of: comparisons with Vela's figures leave them out."""


def quantized_rewrites(target: str, like_vela: bool = False) -> list[str]:
    """The `QUANTIZED_REWRITES` as pipeline entries for `target` (a target spec); with `like_vela`,
    without the `VELA_UNLIKE_REWRITES`."""
    option = f"{{target={json.dumps(target)}}}"
    names = [name for name in QUANTIZED_REWRITES if not (like_vela and name in VELA_UNLIKE_REWRITES)]
    return [name + option if name in TARGETED_REWRITES else name for name in names]


def backend_pipeline(
    target: str,
    optimise: str = "performance",
    max_stripe_height: int = 0,
    weight_staging: str = "pays",
    passes: Sequence[str] = BACKEND_PASSES,
    weight_slices: bool = True,
    vela_blocks: bool = False,
) -> str:
    """The `BACKEND_PASSES` (or those of `passes`) as pipeline text for `target` (a target spec), with
    npu-schedule's goal and weight-staging rule and npu-tile's stripes.

    `optimise`, `weight_staging`, `weight_slices` and `vela_blocks` are npu-schedule's
    `optimise`, `weight-staging`, `weight-slices` and `vela-blocks` options;
    `max_stripe_height` npu-tile's (0: every stripe the whole OFM).
    """
    options = {name: f"target={json.dumps(target)}" for name in BACKEND_PASSES}
    options["npu-schedule"] += f" optimise={optimise} weight-staging={weight_staging}"
    if not weight_slices:
        options["npu-schedule"] += " weight-slices=false"
    if vela_blocks:
        options["npu-schedule"] += " vela-blocks=true"
    if max_stripe_height:
        options["npu-tile"] += f" max-stripe-height={max_stripe_height}"
    return ",".join(f"{name}{{{options[name]}}}" for name in passes)


def import_model(path: str | Path) -> ModuleOp:
    """Import an ONNX or TFLite model (or parse a `.mlir` file) into a verified module."""
    from npuc.importers import import_model as import_by_extension

    return import_by_extension(str(path))


PIPELINE_SPEC_ERRORS = (ValueError, TypeError, ArgSpecParseError)
"""What xDSL's `PassPipeline.parse_spec` raises for pipeline text it cannot parse or a pass it does not know."""


def bad_pipeline(pipeline: str, error: BaseException) -> PipelineError:
    """The `PipelineError` for one of the `PIPELINE_SPEC_ERRORS` raised by the pipeline text `pipeline`."""
    message = " ".join(str(error).split())
    return PipelineError(f"bad pass pipeline '{pipeline}': {message}")


def run_pipeline(module: ModuleOp, pipeline: str, context: Context | None = None, *, verified: bool = False) -> ModuleOp:
    """Run a pass pipeline given as `npuc-opt -p` text (e.g. `"npu-tile{target=X}"`).

    The module is changed in place, verified before the first pass and
    after the last, and returned (`npuc-opt` verifies as xDSL's tools do;
    verifying after every pass of the back end cost a fifth of `npuc
    analyze` on models of a thousand ops, and the passes' own tests run them
    one by one through `npuc-opt`). `verified` says the caller has just
    verified the module (the output of another pipeline, or its copy): no
    check before the first pass. A pass that rejects the module raises
    `PipelineError` with its message; a schedule that does not fit the
    memory budget, `ArenaBudgetError`.
    """
    from npuc.context import npuc_context
    from npuc.passes import get_all_passes

    context = context or npuc_context()

    def verify_between(previous, module: ModuleOp, following) -> None:
        if (previous is None and not verified) or following is None:  # the pipeline's boundaries
            module.verify()

    try:
        passes = PassPipeline.parse_spec(get_all_passes(), pipeline, verify_between)
    except PIPELINE_SPEC_ERRORS as error:
        raise bad_pipeline(pipeline, error) from error
    try:
        passes.apply(context, module)
    except DiagnosticException as error:
        if isinstance(error.__cause__, ArenaBudgetError):
            raise error.__cause__ from None  # its own class: callers can read the layer and the bytes
        raise PipelineError(str(error).strip().splitlines()[0]) from error
    return module


_SCHEDULE_OPS = ("npu.stage",)
"""npu ops that annotate quantized IR before lowering; the integer reference runs them."""


def run(module: ModuleOp, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Execute `@main` on NHWC inputs and return its outputs.

    Graph IR runs in float32 and quantized IR (possibly with scheduling
    annotations) in integers with TFLite semantics, in the reference
    interpreters (`npuc.reference`); a module lowered to npu commands runs
    in the simulator (`npuc.sim`), which executes the program on its memories.
    A model imported from a `.tflite` with `ethos-u` operators (Vela's output,
    or npuc's) runs those operators' register streams in the Ethos-U simulator
    (`npuc.sim.ethos_u`) and the operators around them in the integer reference.
    """
    dialects = {op.name.split(".")[0] for op in module.walk() if op.name not in _SCHEDULE_OPS}
    if "npu" in dialects:
        from npuc.sim.simulator import simulate

        return simulate(module, inputs)
    if "quantized" in dialects:
        from npuc.reference.quantized_interpreter import handlers_for, run_quantized
        from npuc.sim.ethos_u.external import is_ethos_u, with_ethos_u

        handlers = handlers_for(module)
        if any(is_ethos_u(op) for op in module.walk()):
            handlers = with_ethos_u(handlers)
        return run_quantized(module, inputs, handlers=handlers).outputs
    from npuc.reference.graph_interpreter import run_graph

    return run_graph(module, inputs).outputs


def quantize(module: ModuleOp, samples: Sequence[np.ndarray], options=None, report_samples: int = 32):
    """Optimise and quantize a graph module in place, calibrated on `samples`; the report as data.

    Runs the graph passes (`npuc.passes.GRAPH_OPTIMISATION_PIPELINE`: constant
    and batch-norm scale folding, pad fusion, ..., activation fusion) and then
    post-training quantization with `options` (`npuc.quantization.quantizer.QuantizationOptions`,
    npuc's defaults if None). `samples` holds one array per model input in IR
    layout, N samples stacked on axis 0 (see `npuc.data.load_samples`).
    Returns a `npuc.quantization.search.QuantizationReport`: the module, the
    per-layer SQNR/cosine list (worst first) on the first `report_samples`
    samples (0: not computed), the layers the `target_sqnr` search promoted
    to int16 and the per-layer settings used.
    """
    from npuc.passes import GRAPH_OPTIMISATION_PIPELINE
    from npuc.quantization.control import LayerControl
    from npuc.quantization.driver import quantize_module
    from npuc.quantization.search import QuantizationReport, layer_errors

    run_pipeline(module, ",".join(GRAPH_OPTIMISATION_PIPELINE))
    float_module = module.clone() if report_samples else None
    control = LayerControl.load(options.layers) if options is not None and options.layers else LayerControl()
    quantize_module(module, list(samples), options=options, control=control)
    module.verify()
    layers = []
    if float_module is not None:
        layers = layer_errors(float_module, module, [sample[:report_samples] for sample in samples])
    return QuantizationReport(module, layers, control.promotion, control.used)


@dataclasses.dataclass
class Analysis:
    """A lowered module and its performance estimate; the reports as data.

    `cost` is the cost model's `NetworkCost`, `target` the `Target` it was
    made for, `source` the model's path, and `network` the `LayerGraph` taken
    before lowering (original operators and edges for the reports; None for
    a module lowered elsewhere).
    """

    module: ModuleOp
    cost: NetworkCost
    target: Target
    source: str
    network: LayerGraph | None = None
    size_alternative: dict[str, Any] | None = None
    """With `analyze_model(..., compare_size=True)` under Performance: the same model under Size, as
    `{"memory": the budgeted memory, "peak_bytes": its peak there, "cycles": total cycles}`."""
    channel_variants: list[ChannelWhatIf] | None = None
    """With `analyze_model(..., channel_advice=True)`: the channel what-if of every layer whose output
    channel count is off the target's feature-map brick (`channel_what_if`)."""

    def measurement(self) -> Measurement:
        """Total cycles and the budgeted SRAM's peak bytes: what the channel what-if compares."""
        from npuc.dse.channels import Measurement

        memory = self.target.budget_memory
        return Measurement(self.cost.total_cycles, self.cost.peak_memory.get(memory, 0))

    def report(self) -> dict:
        """The report document (schema in docs/report-format.md)."""
        from npuc.report.document import build_report

        extra: dict[str, Any] = {"model": self.source}
        if self.size_alternative is not None:
            extra["size_alternative"] = self.size_alternative
        if self.channel_variants is not None:
            extra["channel_variants"] = [what_if.as_dict() for what_if in self.channel_variants]
        return build_report(self.cost, self.target, self.module, self.network, extra)

    def report_json(self) -> str:
        """The JSON report."""
        from npuc.report.tables import report_json

        return report_json(self.report())

    def layer_table_csv(self) -> str:
        """The per-layer CSV table."""
        from npuc.report.tables import layer_table_csv

        return layer_table_csv(self.report())

    def summary(self) -> str:
        """The summary text the drivers print."""
        from npuc.report.tables import summary_text

        return summary_text(self.report())

    def write_reports(self, directory: str | Path, formats: Sequence[str] | None = None) -> list[Path]:
        """Write the reports in `formats` (default: all, see `npuc.report.REPORT_FORMATS`) into `directory`."""
        from npuc.report import REPORT_FORMATS, write_reports

        return write_reports(self.report(), directory, REPORT_FORMATS if formats is None else formats)


@dataclasses.dataclass
class CompileResult(Analysis):
    """Everything `compile_model` produces, as data: the analysis plus the emitted binaries.

    `command_stream` and `weights` are the emitted binary and the
    constant-memory image. For an Ethos-U target the command stream is the
    COP1 driver payload of the first NPU segment (`segments` says how many
    there are: one per run of NPU commands between CPU operations) and
    `package` the deployable `.tflite` (every segment an `ethos-u` operator,
    the CPU operations TFLite builtins: docs/ethos-u.md); for other targets
    npuc's own command stream (docs/command-stream.md).
    """

    command_stream: bytes = b""
    weights: bytes = b""
    segments: int = 0
    package: bytes = b""

    def write(self, directory: str | Path, formats: Sequence[str] | None = None) -> list[Path]:
        """Write stream, weights (Ethos-U: and the deployable `.tflite`), IR and reports into `directory`; the paths."""
        return self.write_binaries(directory) + self.write_reports(directory, formats)

    def write_binaries(self, directory: str | Path) -> list[Path]:
        """Write stream, weights (Ethos-U: and the deployable `.tflite`) and IR into `directory`; the paths."""
        from npuc.report import output_directory

        out = output_directory(directory)
        files: dict[str, bytes | str] = {
            "command_stream.bin": self.command_stream,
            "weights.bin": self.weights,
            "model.npu.mlir": str(self.module) + "\n",
        }
        if self.package:
            files[f"{Path(self.source).stem.strip('<>')}_npuc.tflite"] = self.package
        written = []
        for name, content in files.items():
            path = out / name
            with writing(path, name):
                if isinstance(content, bytes):
                    path.write_bytes(content)
                else:
                    path.write_text(content)
            written.append(path)
        return written


def is_float_module(module: ModuleOp) -> bool:
    """Whether the module still holds float `graph` ops (it needs quantization)."""
    return any(op.name.startswith("graph.") for op in module.walk())


def analyze_model(
    model: str | Path | ModuleOp,
    target: str = DEFAULT_TARGET,
    calibration: Sequence[np.ndarray] | None = None,
    *,
    arena_cache_size: int | None = None,
    optimise: str = "Performance",
    compare_size: bool = False,
    weight_staging: str = "pays",
    channel_advice: bool = False,
    weight_slices: bool = True,
    like_vela: bool = False,
) -> Analysis:
    """Import (or take) a model, quantize it if it is float, run the back end and estimate it.

    `target` is a target spec (`npuc.targets.target_spec`). A float model
    needs `calibration` samples (one array per input, IR layout, N samples
    stacked on axis 0); an already quantized module does not. The module is
    lowered in place; no binary is emitted.

    `arena_cache_size` (bytes) is the memory budget, overriding the memory
    mode's (Vela's `--arena-cache-size`: it caps the SRAM holding the arena
    on Shared_Sram and Sram_Only, the cache on Dedicated_Sram); `optimise`
    is Vela's `--optimise`: `Performance` (the fastest schedule that fits)
    or `Size` (the smallest use of that memory). A schedule that does not
    fit raises `ArenaBudgetError`, naming the layer that needs the most.
    With `compare_size` under Performance the back end runs a second time
    on a copy, under Size, for the report's advice (`size_alternative`).
    `weight_staging` is npu-schedule's rule for staging weights: `pays`
    (where it makes a layer faster) or `fits` (wherever they fit, as Vela
    does; the cost-model agreement test compares like with like).
    With `channel_advice` every layer whose output channel count is off the
    target's feature-map brick is analyzed again with that count rounded
    down and up (`channel_what_if`: two more analyses per such layer) for
    the report's `channel_variants` and advice.
    `weight_slices` lets it stream weights in OFM-depth slices (where a
    whole copy does not fit, and under a budget where that lowers the peak).
    With `like_vela` it makes Vela's choices where npuc makes its own: no
    quantized-width-to-depth, and Vela's block search for every layer
    (npu-schedule's `vela-blocks`), so that estimates compare with Vela's
    like with like (the cost-model agreement test, bench/vela_compare.py).
    """
    from npuc.backend.budget import SIZE, optimise_goal
    from npuc.cost.model import estimate
    from npuc.report.network import layer_graph
    from npuc.targets import load_target, with_arena_cache_size

    goal = optimise_goal(optimise)
    target = with_arena_cache_size(target, arena_cache_size)
    target_description = load_target(target)
    source = str(model) if not isinstance(model, ModuleOp) else "<module>"
    module = import_model(model) if not isinstance(model, ModuleOp) else model
    verified = not isinstance(model, ModuleOp)  # the importers verify what they return
    if is_float_module(module):
        if calibration is None:
            raise NpucError(
                f"{source}: a float model needs calibration data to be quantized"
            )
        quantize(module, calibration, report_samples=0)  # the estimate needs no error report; it verifies
        verified = True
    check_rescales(module)
    network = layer_graph(module)
    quantized_module = module.clone() if channel_advice else None
    size_alternative = None
    placement = ",".join([*quantized_rewrites(target, like_vela), backend_pipeline(target, passes=PLACEMENT_PASSES)])
    pipeline = backend_pipeline(
        target, goal, weight_staging=weight_staging, passes=GOAL_PASSES, weight_slices=weight_slices,
        vela_blocks=like_vela,
    )  # fmt: skip
    try:
        if compare_size and goal != SIZE:  # the Size run starts from the placed module
            run_pipeline(module, placement, verified=verified)
            size_alternative = _size_alternative(module.clone(), target, target_description, like_vela)
            run_pipeline(module, pipeline, verified=True)
        else:  # one pipeline: the module is verified once, at its end
            run_pipeline(module, f"{placement},{pipeline}", verified=verified)
    except ArenaBudgetError as error:
        raise error.with_source(source) from None
    analysis = Analysis(module, estimate(module, target_description), target_description, source, network,
                        size_alternative)
    if quantized_module is not None:
        analysis.channel_variants = channel_what_if(
            quantized_module, target, optimise=optimise, weight_staging=weight_staging,
            original=analysis.measurement(),
        )
    return analysis


def channel_what_if(
    module: ModuleOp,
    target: str = DEFAULT_TARGET,
    *,
    arena_cache_size: int | None = None,
    optimise: str = "Performance",
    weight_staging: str = "pays",
    original: Measurement | None = None,
) -> list[ChannelWhatIf]:
    """The channel what-if of a quantized module (`npuc.dse.channels`), each variant measured by `analyze_model`.

    For every conv, depthwise and fully connected layer whose output channel
    count is not a multiple of the target's feature-map brick depth: the
    total cycles and the budgeted SRAM's peak bytes of the model with that
    count rounded down and up to the brick (with the layers tied to it),
    against the model's own (`original`: `Analysis.measurement()` of its
    analysis, when the caller has one). Target and options as for
    `analyze_model`. `module` is not changed; a variant that does not compile
    (e.g. no longer fits the budget) is declined with the error's message.
    """
    from npuc.dse.channels import channel_variants
    from npuc.errors import ChannelVariantError
    from npuc.targets import load_target, with_arena_cache_size

    target = with_arena_cache_size(target, arena_cache_size)

    def measure(variant: ModuleOp) -> Measurement:
        return analyze_model(variant, target, optimise=optimise, weight_staging=weight_staging).measurement()

    if is_float_module(module):
        raise ChannelVariantError("the channel what-if needs a quantized module (quantize the float model first)")
    return channel_variants(module, load_target(target), measure, original)


def check_rescales(module: ModuleOp) -> None:
    """`ModelVerificationError` naming the first quantized op whose rescale has no integer form.

    The back end would encode what the integer reference (TFLite) refuses to
    run: ADD and SUB whose output scale is far below their inputs'
    (`npuc.reference.int_parameters.check_add_rescale`).
    """
    from npuc.dialects import quantized
    from npuc.reference.int_parameters import check_add_rescale

    for op in module.walk():
        if isinstance(op, quantized.AddOp | quantized.SubOp):
            check_add_rescale(op)


def _size_alternative(module: ModuleOp, target: str, description: Target, like_vela: bool) -> dict[str, Any] | None:
    """The budgeted memory's peak and the cycles of `module` (placed and tiled: `PLACEMENT_PASSES` have
    run) under Size (None if it does not fit), with Vela's blocks if `like_vela`."""
    from npuc.backend.budget import SIZE
    from npuc.cost.model import estimate

    try:
        run_pipeline(module, backend_pipeline(target, SIZE, passes=GOAL_PASSES, vela_blocks=like_vela), verified=True)
    except ArenaBudgetError:
        return None
    cost = estimate(module, description)
    memory = description.budget_memory
    return {"memory": memory, "peak_bytes": cost.peak_memory.get(memory, 0), "cycles": cost.total_cycles}


def compile_model(
    model: str | Path | ModuleOp,
    target: str = DEFAULT_TARGET,
    calibration: Sequence[np.ndarray] | None = None,
    *,
    arena_cache_size: int | None = None,
    optimise: str = "Performance",
    weight_staging: str = "pays",
    weight_slices: bool = True,
    like_vela: bool = False,
) -> CompileResult:
    """Compile a model (path or module) for `target` down to a command stream, with its estimate.

    Arguments as for `analyze_model`.
    """
    from npuc.emit.command_stream import encode

    analysis = analyze_model(
        model, target, calibration, arena_cache_size=arena_cache_size, optimise=optimise,
        weight_staging=weight_staging, weight_slices=weight_slices, like_vela=like_vela,
    )  # fmt: skip
    stream = encode(analysis.module)
    if analysis.target.ethos_u is None:
        return CompileResult(**vars(analysis), command_stream=stream.stream, weights=stream.blob)
    from npuc.emit.ethos_u.emitter import driver_payload, emit_program
    from npuc.emit.ethos_u.tflite_package import write_package

    program = emit_program(analysis.module)
    payload = driver_payload(program, program.segments[0]) if program.segments else b""
    package = write_package(analysis.module, program, stream.blob, analysis.source)
    return CompileResult(**vars(analysis), command_stream=payload, weights=stream.blob, segments=len(program.segments),
                         package=package)
