"""npuc as an xDSL plug-in: its passes and dialects through plain xdsl-opt."""

import shutil
import subprocess
import sys
from pathlib import Path

from npuc.passes import PASS_CLASSES

XDSL_OPT = shutil.which("xdsl-opt") or str(Path(sys.executable).with_name("xdsl-opt"))

GRAPH_IR = """
func.func @main(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %a = graph.add %x, %x {activation = "none"} : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>
  %r = graph.relu %a : tensor<1x4xf32>
  func.return %r : tensor<1x4xf32>
}
"""


def test_npuc_opt_help_lists_every_pass() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "npuc.tools.npuc_opt", "--help"],
        capture_output=True, text=True, check=True,
    )
    help_text = "".join(result.stdout.split())
    for name in PASS_CLASSES:
        assert name in help_text


def test_every_registered_pass_loads() -> None:
    from npuc.passes import get_all_passes

    for name, factory in get_all_passes().items():
        assert factory().name == name


def test_xdsl_opt_runs_an_npuc_pass() -> None:
    result = subprocess.run(
        [XDSL_OPT, "-p", "graph-fuse-activation"],
        input=GRAPH_IR, capture_output=True, text=True, check=True,
    )
    assert 'activation = "relu"' in result.stdout
    assert "graph.relu" not in result.stdout
