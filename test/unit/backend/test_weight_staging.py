"""Weights are staged only where that makes a layer faster (npuc.backend.weight_staging).

Against Vela's rule (stage wherever they fit, `weight_staging=FITS`), the
default rule may only save: on every small shared model and both memory
systems (weights in flash or DRAM, staged into SRAM), the estimate is no
slower and the staging memory's peak no larger; on digits_cnn, whose second
convolution computes longer than flash takes to deliver its weights, it is
faster and half the SRAM (Vela reads those weights in place too). Both
rules run with Vela's blocks (`like_vela`), the blocks the rule prices: after
it, npu-schedule gives each layer the block that is fastest where its
weights then are (`npuc.backend.fastest_blocks`), which the rule does not
foresee (digits_cnn on the U55: staging wherever the weights fit is then
1.3 % faster than where it paid before).
"""

from __future__ import annotations

import pytest

from npuc.api import analyze_model
from npuc.backend.weight_staging import FITS, PAYS

from support.paths import MODELS

CONFIGS = (
    "ethos-u55-128:Ethos_U55_High_End_Embedded:Shared_Sram",
    "ethos-u65-256:Ethos_U65_High_End:Dedicated_Sram",
)
NETWORKS = ("ad_autoencoder", "digits_cnn", "ic_resnet8", "kws_dscnn")


def figures(name: str, config: str, rule: str) -> tuple[int, int]:
    """(total cycles, staging memory peak) of a shared test model under a weight-staging rule."""
    analysis = analyze_model(MODELS / f"{name}.tflite", config, weight_staging=rule, like_vela=True)
    return analysis.cost.total_cycles, analysis.cost.peak_memory[analysis.target.staging_memory]


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("name", NETWORKS)
def test_staging_where_it_pays_is_never_slower_nor_larger(name, config):
    cycles, peak = figures(name, config, PAYS)
    vela_cycles, vela_peak = figures(name, config, FITS)
    assert cycles <= vela_cycles
    assert peak <= vela_peak


def test_weights_that_flash_delivers_in_time_stay_there():
    cycles, peak = figures("digits_cnn", CONFIGS[0], PAYS)
    vela_cycles, vela_peak = figures("digits_cnn", CONFIGS[0], FITS)
    assert cycles < vela_cycles
    assert peak <= vela_peak // 2
