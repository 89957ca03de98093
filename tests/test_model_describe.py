"""print(model), model.str_repr(), the notebook HTML and cr.model_to_graphviz."""

from __future__ import annotations

import numpy as np
import pytest

import credo as cr
from credo.errors import ModelError

graphviz = pytest.importorskip("graphviz")


def tutorial_like():
    with cr.Model("bnn", coords={"feature": ["x1", "x2"]}) as model:
        x = cr.Data("x", np.zeros((4, 2)), dims=("obs", "feature"))
        w = cr.Normal("w", 0, sigma=1, dims="feature")
        tau = cr.HalfNormal("tau", 2.5)
        p = cr.Deterministic("p", cr.math.sigmoid(x @ w * tau), dims="obs")
        cr.Bernoulli("out", p, observed=np.array([0, 1, 1, 0]), dims="obs")
        cr.Potential("penalty", -tau)
    return model


def test_str_repr_lists_variables_distributions_parameters_and_dims():
    model = tutorial_like()
    lines = model.str_repr().splitlines()
    assert [line.split(" ~ ")[0].strip() for line in lines] == ["x", "w", "tau", "p", "out", "penalty"]
    assert lines[0].split() == ["x", "~", "Data", "dims", "(obs:", "4,", "feature:", "2)"]
    assert lines[1].split() == ["w", "~", "Normal(mu=0,", "sigma=1)", "dims", "(feature:", "2)"]
    assert lines[2].split() == ["tau", "~", "HalfNormal(sigma=2.5)"]
    assert lines[3].split() == ["p", "~", "Deterministic(f(x,", "w,", "tau))", "dims", "(obs:", "4)"]
    assert lines[4].split() == ["out", "~", "Bernoulli(p=p)", "dims", "(obs:", "4)", "observed"]
    assert lines[5].split() == ["penalty", "~", "Potential(f(tau))"]
    assert len({line.index("~") for line in lines}) == 1  # the names are right-aligned
    assert str(model) == model.str_repr()
    assert repr(model).splitlines()[0] == "<credo.Model 'bnn'>"


def test_str_repr_shows_shapes_and_constants():
    with cr.Model() as model:
        mu = cr.Normal("mu", np.zeros(3), 10)
        cr.Normal("y", mu, 1, observed=np.zeros((2, 3)))
        cr.ConstantData("c", np.arange(3))
    lines = model.str_repr().splitlines()
    assert lines[0].split() == ["mu", "~", "Normal(mu=<constant", "(3,)>,", "sigma=10)", "shape", "(3,)"]
    assert lines[1].split()[-3:] == ["(2,", "3)", "observed"]
    assert lines[2].split()[:3] == ["c", "~", "ConstantData"]
    assert cr.Model().str_repr() == ""


def test_minibatches_show_their_batch_size():
    with cr.Model() as model:
        x, y = cr.Minibatch(np.zeros((10, 2)), np.zeros(10), batch_size=5, names=("x", "y"))
        w = cr.Normal("w", 0, 1, shape=2)
        cr.Normal("obs", x @ w, 1, observed=y, total_size=10)
    assert model.str_repr().splitlines()[0].split()[:3] == ["x", "~", "Minibatch(batch_size=5)"]
    assert 'x [label="x\n~\nMinibatch"' in cr.model_to_graphviz(model).source


def test_html_repr_is_a_table_with_a_row_per_variable():
    html = tutorial_like()._repr_html_()
    assert html.startswith("<table>") and html.count("<tr>") == 1 + 6
    assert "<td><b>out</b></td><td>Bernoulli(p=p)</td><td>dims (obs: 4)</td><td>observed</td>" in html


def test_model_to_graphviz_source():
    model = tutorial_like()
    graph = cr.model_to_graphviz(model)
    assert isinstance(graph, graphviz.Digraph)
    source = graph.source
    for edge in ("x -> p", "w -> p", "tau -> p", "p -> out", "tau -> penalty"):
        assert edge in source, edge
    assert "x -> out" not in source and "w -> out" not in source  # through p only
    assert 'label="obs (4) x feature (2)"' in source and 'label="feature (2)"' in source and 'label="obs (4)"' in source
    assert 'out [label="out\n~\nBernoulli" fillcolor=gray shape=ellipse style=filled]' in source
    assert 'w [label="w\n~\nNormal" shape=ellipse]' in source
    assert 'p [label="p\n~\nDeterministic" shape=box]' in source
    assert 'shape=box style="rounded, filled"' in source and "shape=octagon" in source
    with model:
        only_p = cr.model_to_graphviz(var_names=["p"]).source
    assert "x -> p" in only_p and "out" not in only_p and "penalty" not in only_p
    with pytest.raises(ModelError, match="'nope'"):
        cr.model_to_graphviz(model, var_names=["nope"])
    assert 'label="obs x feature"' in cr.model_to_graphviz(model, include_dim_lengths=False).source
