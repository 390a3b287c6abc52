"""Runs the lit/FileCheck suite under test/filecheck as part of pytest.

One command (`python -m pytest`) then runs every test of the project; lit's
own output is shown when a FileCheck test fails.
"""

import shutil
import subprocess
import sys
from pathlib import Path

from support.paths import FILECHECK


def test_filecheck_suite() -> None:
    lit = shutil.which("lit") or str(Path(sys.executable).with_name("lit"))
    result = subprocess.run(
        [lit, "-v", str(FILECHECK)], capture_output=True, text=True, check=False
    )
    assert "Passed" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 0, result.stdout + result.stderr
