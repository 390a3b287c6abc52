"""`npuc sweep` through `npuc.tools.npuc_main.main`: the files, the summary, the cache, bad options."""

from __future__ import annotations

import csv
import json
import sys

import pytest

from npuc.tools import npuc_main

from support.paths import MODELS

DIGITS = str(MODELS / "digits_cnn.tflite")


def sweep(*args: str) -> None:
    npuc_main.main(["sweep", DIGITS, "--targets", "ethos-u55-64,ethos-u55-128", "--arena-cache-size", "1K,unlimited",
                    "--optimise", "Size", "-j", "1", *args])


def test_sweep_writes_csv_json_html_and_resumes_from_its_cache(tmp_path, capsys):
    out = tmp_path / "sweep"
    sweep("-o", str(out), "--latency-ms", "5")
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("4 points: 2 compiled, 2 did not; 0 from the cache, 4 analyzed; ")
    assert printed[1].startswith(f"{DIGITS}: cheapest within 5 ms: ethos-u55-64, budget unlimited, Size: ")
    assert printed[2] == f"wrote {out / 'sweep.csv'}, {out / 'sweep.json'}, {out / 'sweep.html'}"
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [(row["target"], row["budget_bytes"], row["status"]) for row in rows] == [
        ("ethos-u55-64", "1024", "error"), ("ethos-u55-64", "unlimited", "ok"),
        ("ethos-u55-128", "1024", "error"), ("ethos-u55-128", "unlimited", "ok")]
    document = json.loads((out / "sweep.json").read_text())
    assert (document["schema"], document["latency_ms"]) == ("npuc-sweep", 5.0)
    assert [row["cheapest"] for row in document["rows"]] == [False, True, False, False]
    assert "plotly" in (out / "sweep.html").read_text()
    assert len(list((out / "cache").glob("*.json"))) == 4

    sweep("-o", str(out))
    assert capsys.readouterr().out.startswith("4 points: 2 compiled, 2 did not; 4 from the cache, 0 analyzed; ")
    sweep("-o", str(out), "--no-cache")
    assert "0 from the cache, 4 analyzed" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["--arena-cache-size", "12Q"], "argument --arena-cache-size: '12Q' is not a number of bytes"),
    (["--optimise", "Fast"], "argument --optimise: unknown optimise goal 'Fast'"),
    (["-j", "0"], "argument -j/--jobs: '0' is not a positive number of processes"),
    (["--latency-ms", "-1"], "argument --latency-ms: '-1' is not a positive number of milliseconds"),
])
def test_bad_lists_are_one_line_usage_errors(capsys, args, message):
    with pytest.raises(SystemExit) as exited:
        npuc_main.main(["sweep", DIGITS, *args])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_dask_without_a_scheduler_or_without_dask_is_one_line(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as exited:
        sweep("-o", str(tmp_path), "--executor", "dask")
    assert exited.value.code == 1
    assert capsys.readouterr().err.strip() == (
        "npuc: error: --executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(SystemExit):
        sweep("-o", str(tmp_path), "--executor", "dask", "--scheduler", "tcp://127.0.0.1:1", "--no-cache")
    assert capsys.readouterr().err.strip() == (
        "npuc: error: --executor dask needs dask.distributed: pip install 'npuc[dask]'")


def test_the_channel_variants_are_measured_at_every_point(tmp_path, capsys):
    """`--variants channels`: each compiled point carries digits_cnn's one off-brick layer (its 10-channel
    fully connected output) rounded up to 16, as `channel_what_if` measures it; channels.csv and the page."""
    from npuc.api import analyze_model, channel_what_if, import_model

    out = tmp_path / "sweep"
    npuc_main.main(["sweep", DIGITS, "--targets", "ethos-u55-128", "--arena-cache-size", "1K,unlimited",
                    "-j", "1", "--variants", "channels", "-o", str(out)])
    assert capsys.readouterr().out.splitlines()[-1].endswith(f"{out / 'sweep.html'}, {out / 'channels.csv'}")
    failed, compiled = json.loads((out / "sweep.json").read_text())["rows"]
    assert failed["channel_variants"] == []
    variant, = compiled["channel_variants"]
    direct, = channel_what_if(import_model(DIGITS), "ethos-u55-128",
                              original=analyze_model(import_model(DIGITS), "ethos-u55-128").measurement())
    assert variant == {**direct.row(), "advice": direct.advice()}
    assert (variant["channels"], variant["up_channels"], variant["down_declined"] != "") == (10, 16, True)
    line, = csv.DictReader((out / "channels.csv").open())
    assert (line["target"], line["budget_bytes"], line["up_cycles"]) == ("ethos-u55-128", "unlimited",
                                                                       str(variant["up_cycles"]))
    assert "Channel what-if" in (out / "sweep.html").read_text()


def test_an_unknown_variant_is_one_line(capsys):
    with pytest.raises(SystemExit) as exited:
        npuc_main.main(["sweep", DIGITS, "--variants", "layers"])
    assert exited.value.code == 1
    assert "unknown variant 'layers' (known: channels)" in capsys.readouterr().err
