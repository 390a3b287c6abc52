"""Advice lines: where the cycles go, channels that cost nothing to add, what Size and other channel counts do.

Four kinds of line, read off the estimate and its companions:
- the layers with the most cycles, each with what bounds it (the MAC array,
  a memory's bandwidth, memory latency, or the CPU);
- convolutions and fully connected layers whose output depth is not a
  multiple of the depth the NPU computes at once: the OFM is computed in
  blocks of the command's block depth (itself a multiple of the micro-block
  depth), so up to `depth blocks x block depth` channels take the same compute
  cycles (90 channels cost what 96 do in blocks of 8 or 16). Only
  compute-bound layers are listed: on a memory-bound one the extra weights
  and output bytes are not free;
- with the report's `size_alternative` (`npuc analyze`), what `--optimise
  Size` would save in the budgeted memory and cost in cycles;
- with the report's `channel_variants` (`npuc analyze --channel-advice`,
  measured by `npuc.dse.channels`), for each layer whose output channel
  count is off the feature-map brick: what the model measured with that
  count rounded down and up to the brick, in cycles and SRAM bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xdsl.dialects.builtin import ModuleOp

from npuc.cost.geometry import as_batch_hwc, block_geometry
from npuc.cost.model import COMPUTE_BOUND, CPU_BOUND, LATENCY_BOUND, commands
from npuc.dialects.common import layer_name
from npuc.dialects.npu import Conv2dOp, FullyConnectedOp
from npuc.targets import Target

TOP_LAYERS = 5
"""How many layers the "top layers by cycles" advice names."""
MAX_CHANNEL_LINES = 10
"""How many free-channel lines at most (the layers with most cycles first)."""


def bound_phrase(layer: Mapping[str, Any]) -> str:
    """What limits a layer, in words, from its report row."""
    bound = layer["bound"]
    if bound == COMPUTE_BOUND:
        return f"compute-bound, MAC utilisation {layer['utilisation_percent']:.1f} %"
    if bound == LATENCY_BOUND:
        return "bound by memory latency (many short transfers)"
    if bound == CPU_BOUND:
        return "runs on the CPU (its cycles an estimate)"
    moved = layer["bytes_read"].get(bound, 0) + layer["bytes_written"].get(bound, 0)
    return f"bound by {bound} bandwidth ({moved:,} bytes)"


def top_layer_lines(layers: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per layer with the most cycles: share of the network and bound."""
    ranked = sorted((layer for layer in layers if layer["cycles"] > 0), key=lambda layer: -layer["cycles"])
    return [
        f"{layer['name']} ({layer['original_operator']}): {layer['cycles']:,} cycles, "
        f"{layer['network_percent']:.1f} % of the network, {bound_phrase(layer)}"
        for layer in ranked[:TOP_LAYERS]
    ]


def free_channel_lines(module: ModuleOp, target: Target, layers: Sequence[Mapping[str, Any]]) -> list[str]:
    """Compute-bound convolution and fully connected layers that could have more output channels for free."""
    rows = {layer["name"]: layer for layer in layers}
    found: dict[str, tuple[int, str]] = {}
    for op in commands(module):
        if not isinstance(op, (Conv2dOp, FullyConnectedOp)):
            continue
        name = layer_name(op)
        row = rows.get(name)
        if row is None or row["bound"] != COMPUTE_BOUND or name in found:
            continue
        geometry = block_geometry(op, target.ofm_ublock)
        depth = as_batch_hwc(op.ofm.shape_values())[3]
        block_depth = geometry.block[2]
        free_depth = geometry.counts[2] * block_depth
        if free_depth > depth:
            found[name] = (
                row["cycles"],
                f"{name}: {depth} output channels take the same compute cycles as {free_depth} "
                f"(OFM depth is computed in blocks of {block_depth} on {target.accelerator})",
            )
    ranked = sorted(found.values(), key=lambda entry: -entry[0])
    return [line for _, line in ranked[:MAX_CHANNEL_LINES]]


def size_line(summary: Mapping[str, Any]) -> list[str]:
    """What `--optimise Size` saves and costs against this (Performance) schedule, when the report has
    its `size_alternative`: the budgeted memory's peak and the cycles of both."""
    alternative = summary.get("size_alternative")
    if not alternative:
        return []
    memory = alternative["memory"]
    peak, cycles = summary["peak_memory"].get(memory, 0), summary["total_cycles"]
    return [
        f"--optimise Size: {memory} peak {alternative['peak_bytes']:,} bytes instead of {peak:,} "
        f"({_change(alternative['peak_bytes'], peak)}), {alternative['cycles']:,} cycles instead of "
        f"{cycles:,} ({_change(alternative['cycles'], cycles)})"
    ]


def channel_variant_line(entry: Mapping[str, Any]) -> str:
    """The advice line of one channel what-if (a `channel_variants` entry of the report): what the
    layers' output channels rounded up and down to the brick measured against the model as it is."""
    channels, memory = entry["channels"], entry["memory"]
    up, down = entry["up"], entry["down"]
    head = f"{' + '.join(entry['layers'])}: {channels} output channels"
    if up["declined"]:
        up_part = f"{head} (brick {entry['brick_depth']}); {up['channels']} not measured: {up['declined']}"
    elif (up["cycles"], up["sram_bytes"]) == (entry["cycles"], entry["sram_bytes"]):
        up_part = f"{head} cost the same as {up['channels']} (brick {entry['brick_depth']})"
    else:
        up_part = (f"{head} (brick {entry['brick_depth']}); {up['channels']} would cost "
                   f"{_difference(up, entry, memory)}")
    if down["declined"]:
        return f"{up_part}; {down['channels']} not measured: {down['declined']}"
    saves = down["cycles"] <= entry["cycles"] and down["sram_bytes"] <= entry["sram_bytes"]
    if saves:
        return (f"{up_part}; {down['channels']} would save {entry['cycles'] - down['cycles']:,} cycles "
                f"({_change(down['cycles'], entry['cycles'])}) and {entry['sram_bytes'] - down['sram_bytes']:,} "
                f"bytes of {memory}")
    return f"{up_part}; {down['channels']} would cost {_difference(down, entry, memory)}"


def _difference(variant: Mapping[str, Any], entry: Mapping[str, Any], memory: str) -> str:
    return (f"{variant['cycles'] - entry['cycles']:+,} cycles ({_change(variant['cycles'], entry['cycles'])}) "
            f"and {variant['sram_bytes'] - entry['sram_bytes']:+,} bytes of {memory}")


def channel_variant_lines(summary: Mapping[str, Any]) -> list[str]:
    """The channel what-if lines, when the report has its `channel_variants`."""
    return [channel_variant_line(entry) for entry in summary.get("channel_variants", ())]


def _change(new: int, old: int) -> str:
    return f"{100.0 * (new - old) / old:+.1f} %" if old else "n/a"


def advice_lines(
    module: ModuleOp | None, target: Target, layers: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]
) -> list[str]:
    """All advice lines for a report's layer rows and summary (free channels need the lowered module)."""
    lines = top_layer_lines(layers)
    if module is not None:
        lines += free_channel_lines(module, target, layers)
    return lines + size_line(summary) + channel_variant_lines(summary)
