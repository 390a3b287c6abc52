"""The cost model agrees with Vela 5.2 (issue 13, point 7): per-kind medians and network totals.

Vela's figures are test data (`data/vela_5_2_cycles.json`, written by
`bench/vela_figures.py`), so the test needs neither Vela nor `../shared`:
- networks: the four small shared models (`test/models`) on u55-128
  Shared_Sram and u65-256 Dedicated_Sram: per kind, the median |npuc/Vela - 1|
  over their layers, and every network total;
- one layer per kind (per-operator TFLite models of `test/tflite_models`;
  convolution and depthwise built here with 16 OFM channels), and strided
  convolutions whose IFM and OFM do not fit u65-256's 384 KiB SRAM (feature
  maps read from and written to DRAM), built here. A one-layer model is
  compared by its compute command (`npu_cycles`): Vela's "Op Cycles" leave
  out the DMA that stages the network's first weights, which npuc's layer
  cycles include when nothing runs before it to hide it.
Vela prices no CPU operation, so npuc's side is always its NPU figure: the
network's `npu_cycles` and each layer's cycles without the host's estimate.

Vela 5.2 runs a fused activation as a command of its own when the OFM has
fewer than 8 channels (measured: OFM depth 1 to 7 gives a second row, and
on u65-256 the first command then writes an SRAM intermediate; 8 and more
fuse), so the one-layer convolutions have 16 channels.

npuc stages weights only where that makes a layer faster; Vela wherever
they fit. To compare the cost models on the same schedules, npuc stages as
Vela does here (`weight_staging=FITS`), and makes Vela's other choices
(`like_vela=True`: no first layer's input columns folded into channels,
every block from Vela's search).
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from xdsl.parser import Parser

from npuc.api import analyze_model
from npuc.backend.weight_staging import FITS
from npuc.context import npuc_context
from npuc.emit.tflite.export import export_tflite

from support.ethos_u_layers import convolution
from support.paths import MODELS, TFLITE_MODELS

FIGURES = Path(__file__).parent / "data" / "vela_5_2_cycles.json"
CONFIGS = {
    "u55-128": "ethos-u55-128:Ethos_U55_High_End_Embedded:Shared_Sram",
    "u65-256": "ethos-u65-256:Ethos_U65_High_End:Dedicated_Sram",
}
NETWORKS = ("ad_autoencoder", "digits_cnn", "ic_resnet8", "kws_dscnn")
PER_KIND = {
    "conv": "conv_8x8x3_16_relu", "depthwise": "depthwise_8x8x16_relu6",
    "fully connected": "fully_connected_per_channel", "pooling": "max_pool_2d_same_s2_even",
    "elementwise": "add_same_shape",
}
"""Kind of layer (a median is taken per kind; the figures name each network layer's kind) -> its one-layer model."""
BUILT = {
    "conv_8x8x3_16_relu": convolution((8, 8, 3), 16, (3, 3), activation="relu", padding=(1, 1, 1, 1)),
    "depthwise_8x8x16_relu6": convolution((8, 8, 16), 16, (3, 3), activation="relu6", padding=(1, 1, 1, 1),
                                          depthwise=True),
}
"""One-layer models built here (IR text), on both configs."""
DRAM_BOUND = {
    "conv_dram_128x128x32_s2_64": ((128, 128, 32), 64),
    "conv_dram_96x96x48_s2_64": ((96, 96, 48), 64),
}
"""3x3 stride-2 convolutions (IFM H x W x C, OFM depth) whose IFM and OFM exceed u65-256's SRAM."""
KNOWN_GAPS = {
    ("elementwise", "u65-256"):
        "Vela runs an add of same-shape plain NHWC maps as one 1x1x60 row (IFM reads in 64-byte runs);"
        " npuc keeps the 4x5x3 shape, whose 8-byte runs cost 16 DRAM bursts each: 4x Vela's cycles",
}
"""One-layer cases where npuc's command is not Vela's (strict xfail: the test says when they close)."""
LIMIT = 0.05
DRAM_LIMIT = 0.10


def models(folder: Path) -> Iterator[tuple[str, Path, tuple[str, ...]]]:
    """(name, TFLite file, configs) of every one-layer model compared; built models are written to `folder`."""
    texts = dict(BUILT)
    for name, (ifm, depth) in DRAM_BOUND.items():
        texts[name] = convolution(ifm, depth, (3, 3), strides=(2, 2), padding=(0, 0, 1, 1))
    for name in PER_KIND.values():
        if name not in texts:
            yield name, TFLITE_MODELS / f"{name}.tflite", tuple(CONFIGS)
    for name, text in texts.items():
        path = folder / f"{name}.tflite"
        path.write_bytes(export_tflite(Parser(npuc_context(), text).parse_module(), name))
        yield name, path, ("u65-256",) if name in DRAM_BOUND else tuple(CONFIGS)


def relative(npuc: int, vela: int) -> float:
    """npuc / Vela - 1."""
    return npuc / vela - 1


@pytest.fixture(scope="module")
def figures() -> dict:
    """The recorded Vela figures."""
    return json.loads(FIGURES.read_text())


@pytest.fixture(scope="module")
def layers(tmp_path_factory: pytest.TempPathFactory, figures) -> dict[tuple[str, str], tuple[int, int]]:
    """(one-layer model, config) -> (npuc's compute cycles, Vela's Op Cycles)."""
    found = {}
    for name, path, configs in models(tmp_path_factory.mktemp("agreement")):
        for config in configs:
            cost = analyze_model(path, CONFIGS[config], weight_staging=FITS, like_vela=True).cost
            found[(name, config)] = (sum(layer.npu_cycles for layer in cost.layers),
                                     sum(figures["op_cycles"][name][config]))
    return found


@pytest.fixture(scope="module")
def networks(figures) -> dict[str, tuple[dict[str, list[float]], dict[str, tuple[int, int]]]]:
    """Config -> (per kind, |npuc/Vela - 1| of every layer; per network, (npuc's, Vela's) total cycles)."""
    found = {}
    for config in CONFIGS:
        kinds: dict[str, list[float]] = defaultdict(list)
        totals = {}
        for name in NETWORKS:
            cost = analyze_model(MODELS / f"{name}.tflite", CONFIGS[config], weight_staging=FITS, like_vela=True).cost
            ours = {layer.layer: layer.cycles - layer.cpu_cycles for layer in cost.layers}
            vela = figures["networks"][name][config]
            for layer, kind, cycles in vela["layers"]:
                if kind and cycles:
                    kinds[kind].append(abs(relative(ours[layer], cycles)))
            totals[name] = (cost.npu_cycles, vela["total"])
        found[config] = (kinds, totals)
    return found


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("kind", sorted(PER_KIND))
def test_network_layers_per_kind_median_within_five_percent(networks, config, kind):
    differences = networks[config][0][kind]
    assert differences, f"no {kind} layer in the networks"
    assert statistics.median(differences) <= LIMIT


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("name", NETWORKS)
def test_network_total_within_five_percent(networks, config, name):
    assert abs(relative(*networks[config][1][name])) <= LIMIT


@pytest.mark.parametrize(("kind", "config"), [
    pytest.param(kind, config, marks=pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[(kind, config)]))
    if (kind, config) in KNOWN_GAPS else (kind, config)
    for kind in PER_KIND for config in CONFIGS
])
def test_one_layer_per_kind_within_five_percent(layers, kind, config):
    assert abs(relative(*layers[(PER_KIND[kind], config)])) <= LIMIT


@pytest.mark.parametrize("name", DRAM_BOUND)
def test_dram_bound_convolutions_within_ten_percent(layers, name):
    assert abs(relative(*layers[(name, "u65-256")])) <= DRAM_LIMIT
