"""The examples in the docstrings of the modelling layer run and print what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "credo.distributions", "credo.data", "credo.errors", "credo.model.core", "credo.model.compile",
    "credo.model.coords", "credo.model.describe", "credo.model.diagram", "credo.model.graph",
    "credo.model.support", "credo.model.programs", "credo.model.spec", "credo.model.define", "credo.plots",
    "credo.model.placement", "credo.distributed",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    if name == "credo.model.diagram":
        pytest.importorskip("graphviz")
    if name == "credo.plots":
        import matplotlib

        matplotlib.use("Agg")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
    assert result.attempted > 0
