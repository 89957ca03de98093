"""``credo demo moons`` end to end in a reduced mode, ``python -m credo``, and ``credo uci``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from credo import cli
from credo.demo import PHASES, run_moons_demo

PLOTS = ("data.png", "loss.png", "predicted_labels.png", "decision_surface.png")
SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_demo_moons_reduced_run(tmp_path, capsys):
    out = tmp_path / "plots"
    status = cli.main(["demo", "moons", "--n", "3000", "--draws", "200", "--ppc-samples", "100",
                       "--out", str(out), "--no-progress"])
    assert status == 0
    printed = capsys.readouterr().out
    match = re.search(r"Accuracy = (\d+(?:\.\d+)?)%", printed)
    assert match, printed
    assert 0.0 <= float(match.group(1)) <= 100.0
    for phase in ("build", "fit", "sample", "predictive", "plots"):
        assert re.search(rf"{phase} \d+\.\d+ s", printed), (phase, printed)
    for name in PLOTS:
        path = out / name
        assert path.is_file() and path.stat().st_size > 1000, name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_function_returns_accuracy_and_timings():
    lines = []
    result = run_moons_demo(n=1000, draws=100, ppc_samples=50, seed=3, out=None, progressbar=False,
                            echo=lines.append)
    assert 0.0 <= result["accuracy"] <= 1.0
    assert set(result["timings"]) == set(PHASES) - {"plots"}
    assert all(seconds >= 0 for seconds in result["timings"].values())
    assert result["paths"] == {}
    assert result["n"] == 1000 and result["draws"] == 100 and result["seed"] == 3
    assert any(line.startswith("Accuracy = ") for line in lines)


def test_demo_subcommand_errors(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["demo", "moons", "--n", "0"])
    assert info.value.code == 2
    assert "positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli.main(["demo", "nonsense"])
    assert info.value.code == 2


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "demo" in capsys.readouterr().err
    assert cli.main(["demo"]) == 2
    assert "credo demo moons" in capsys.readouterr().err


def test_python_dash_m_credo_help():
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-m", "credo", "demo", "moons", "--help"], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    for option in ("--n", "--draws", "--ppc-samples", "--seed", "--out", "--no-plots", "--no-progress"):
        assert option in result.stdout
    assert "50000" in result.stdout and "credo-demo-moons" in result.stdout


def test_uci_delegates_to_credo_nn_uci(monkeypatch):
    seen = []
    fake = types.ModuleType("credo.nn.uci")
    fake.main = lambda argv: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, "credo.nn.uci", fake)
    assert cli.main(["uci", "--dataset", "boston", "--splits", "2"]) == 0
    assert seen == [["--dataset", "boston", "--splits", "2"]]


def test_uci_missing_module_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "credo.nn.uci", None)  # makes the import fail as if absent
    assert cli.main(["uci"]) == 2
    assert "credo.nn.uci" in capsys.readouterr().err
