"""The README's tutorial snippet runs as written (with fewer steps) and prints the accuracy as a number."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from credo.datasets import make_moons_split

README = Path(__file__).resolve().parents[1] / "README.md"


def tutorial_snippet() -> str:
    text = README.read_text()
    start = text.index("## The tutorial, in credo")
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


def test_readme_tutorial_snippet_prints_a_numeric_accuracy(capsys):
    code = tutorial_snippet()
    assert "n=50_000" in code and "draws=5000" in code
    code = code.replace("n=50_000", "n=3000").replace("draws=5000", "draws=300").replace("samples=500", "samples=200")
    X_train, X_test, Y_train, Y_test = make_moons_split()
    rng = np.random.default_rng(0)
    namespace = {"X_train": X_train, "X_test": X_test, "Y_train": Y_train, "Y_test": Y_test,
                 "init_1": rng.standard_normal((2, 5)), "init_2": rng.standard_normal((5, 5)),
                 "init_out": rng.standard_normal(5)}
    exec(compile(code, str(README), "exec"), namespace)
    printed = capsys.readouterr().out
    match = re.search(r"^Accuracy = (\d+\.\d)%$", printed, re.M)
    assert match, printed  # a number, not an xarray.DataArray
    assert "DataArray" not in printed
    assert float(match.group(1)) > 70  # better than chance (50%): 3,000 of the 50,000 steps give about 85%
