"""The lit/FileCheck suite under test/filecheck, one test per file.

Each file's RUN lines run in this process (`support.filecheck_runner`): the
same commands lit runs, without an interpreter start per command. One test
also runs lit itself on a file, so `lit test/filecheck` (lit.cfg, the
console scripts) keeps working as the README says.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.filecheck_runner import check_file
from support.paths import FILECHECK

FILES = sorted(FILECHECK.rglob("*.mlir"))


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(FILECHECK)))
def test_filecheck_file(path: Path, tmp_path: Path) -> None:
    check_file(path, tmp_path / "t")


def test_lit_runs_the_suite_as_the_readme_says() -> None:
    lit = shutil.which("lit") or str(Path(sys.executable).with_name("lit"))
    ops = FILECHECK / "dialects" / "npu" / "ops.mlir"
    result = subprocess.run([lit, "-v", str(ops)], capture_output=True, text=True, check=False)
    assert "Passed: 1" in result.stdout, result.stdout + result.stderr


def test_a_check_that_does_not_match_fails_the_file(tmp_path: Path) -> None:
    case = tmp_path / "wrong.mlir"
    case.write_text('// RUN: npuc-opt %s | filecheck %s\n// CHECK: graph.conv2d\nbuiltin.module {\n}\n')
    with pytest.raises(AssertionError, match="`filecheck` exited with 1"):
        check_file(case, tmp_path / "t")


def test_a_command_that_fails_fails_the_line(tmp_path: Path) -> None:
    case = tmp_path / "bad.mlir"
    case.write_text("// RUN: npuc-opt %s -p no-such-pass | filecheck %s\n// CHECK: builtin.module\nbuiltin.module {\n}\n")
    with pytest.raises(AssertionError, match="`npuc-opt` exited with"):
        check_file(case, tmp_path / "t")
