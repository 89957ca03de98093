"""``credo demo moons`` end to end in a reduced mode, ``python -m credo``, and ``credo uci``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
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


@pytest.mark.slow
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
    for bad in ("2", "0", "cold"):
        with pytest.raises(SystemExit) as info:
            cli.main(["demo", "digits", "--temperature", bad])
        assert info.value.code == 2
        assert "--temperature" in capsys.readouterr().err
    assert cli.build_parser().parse_args(["demo", "digits", "--temperature", "0.25"]).temperature == 0.25


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


def test_demo_out_that_cannot_be_written_is_refused_before_fitting(tmp_path, capsys, monkeypatch):
    import credo.demo
    from credo.errors import OutputPathError

    def no_fit(*args, **kwargs):
        raise AssertionError("the fit ran before the output folder was checked")

    monkeypatch.setattr(credo.demo, "fit", no_fit)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert cli.main(["demo", "moons", "--out", str(blocker / "plots"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert str(blocker) in err and "is a file" in err and "--no-plots" in err
    with pytest.raises(OutputPathError, match="is a file"):
        run_moons_demo(n=10, out=blocker, progressbar=False)
    read_only = tmp_path / "read_only"
    read_only.mkdir()
    read_only.chmod(0o500)
    try:
        if not os.access(read_only, os.W_OK):  # root may write anywhere
            assert cli.main(["demo", "moons", "--out", str(read_only), "--no-progress"]) == 2
            assert "cannot write plots" in capsys.readouterr().err
    finally:
        read_only.chmod(0o700)


def write_uci_set(root: Path, rows: int = 6, bad_train_index: int | None = None) -> Path:
    folder = root / "tiny"
    folder.mkdir(parents=True)
    data = np.column_stack([np.arange(rows), np.arange(rows) * 2.0, np.arange(rows) + 0.5])
    np.savetxt(folder / "data.txt", data)
    (folder / "n_splits.txt").write_text("2")
    (folder / "n_hidden.txt").write_text("5")
    (folder / "n_epochs.txt").write_text("10")
    np.savetxt(folder / "index_features.txt", [0, 1], fmt="%d")
    np.savetxt(folder / "index_target.txt", [2], fmt="%d")
    for split in range(2):
        train = [0, 1, 2, 3] if bad_train_index is None else [0, 1, bad_train_index]
        np.savetxt(folder / f"index_train_{split}.txt", train, fmt="%d")
        np.savetxt(folder / f"index_test_{split}.txt", [4, 5], fmt="%d")
    return root


def test_uci_bad_data_dir_split_and_index_files_are_clear_errors(tmp_path, capsys):
    from credo.datasets import load_uci
    from credo.nn import uci

    root = write_uci_set(tmp_path / "good")
    assert load_uci("tiny", split=1, data_dir=root).X_train.shape == (4, 2)
    assert uci.main(["tiny", "--data-dir", str(root / "tiny" / "data.txt")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"splits \[2, 7\] are out of range: 'tiny' has 2 splits, 0\.\.1"):
        uci.run_uci("tiny", root, splits=[0, 2, 7])
    with pytest.raises(ValueError, match="split must be in 0..1; got 5"):
        load_uci("tiny", split=5, data_dir=root)
    bad = write_uci_set(tmp_path / "bad", bad_train_index=9)
    with pytest.raises(ValueError, match=r"index_train_0.txt holds the index 9, outside 0\.\.5 \(data.txt has 6 rows\)"):
        load_uci("tiny", split=0, data_dir=bad)
    assert uci.main(["tiny", "--data-dir", str(bad)]) == 2
    assert "index_train_0.txt holds the index 9" in capsys.readouterr().err
    negative = write_uci_set(tmp_path / "negative", bad_train_index=-1)
    with pytest.raises(ValueError, match="holds the index -1"):
        load_uci("tiny", split=0, data_dir=negative)
