"""cr.Minibatch: paired rows, total_size scaling, predictions on full and new data."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import credo as cr
from credo.data import MinibatchNode, minibatch_fn
from credo.datasets import make_moons_split
from credo.demo import build_moons_model
from credo.errors import DataError

N = 400


def paired_data():
    rows = np.arange(N, dtype=float)
    X = np.column_stack([rows, np.sin(rows)])
    Y = 3 * rows + 1  # Y identifies its row of X
    return X, Y


def test_batch_fn_draws_the_same_rows_from_every_array():
    X, Y = paired_data()
    with cr.Model() as model:
        x, y = cr.Minibatch(X, Y, batch_size=50, random_seed=0)
        w = cr.Normal("w", 0, 1)
        cr.Normal("obs", w * x[:, 0], 1, observed=y, total_size=N)
    assert isinstance(x, MinibatchNode) and x.shape == (N, 2) and y.shape == (N,)
    batch_fn = minibatch_fn(model.minibatches)
    assert minibatch_fn(()) is None  # no groups, no slicing
    data = dict(model.data_values)
    seen = set()
    for step in range(20):
        batch = jax.jit(batch_fn)(jax.random.fold_in(jax.random.key(1), step), data)
        bx, by = np.asarray(batch[x.name]), np.asarray(batch[y.name])
        assert bx.shape == (50, 2) and by.shape == (50,)
        np.testing.assert_allclose(by, 3 * bx[:, 0] + 1)
        np.testing.assert_allclose(bx[:, 1], np.sin(bx[:, 0]), atol=1e-5)
        seen.update(bx[:, 0].astype(int).tolist())
    assert len(seen) > N / 2  # different rows at different steps


def test_likelihood_is_scaled_by_total_size():
    X, Y = paired_data()
    with cr.Model() as model:
        x, y = cr.Minibatch(X / N, Y / N, batch_size=25, random_seed=3)
        w = cr.Normal("w", 0, 1)
        cr.Normal("obs", w * x[:, 0], 1, observed=y, total_size=N)
    compiled = model.compile()
    batch = minibatch_fn(model.minibatches)(jax.random.key(0), dict(model.data_values))
    position = jnp.array([0.7])
    bx, by = np.asarray(batch[x.name], np.float64), np.asarray(batch[y.name], np.float64)
    loglik = -0.5 * (by - 0.7 * bx[:, 0]) ** 2 - 0.5 * np.log(2 * np.pi)
    expected = -0.5 * 0.7**2 - 0.5 * np.log(2 * np.pi) + N / 25 * loglik.sum()
    np.testing.assert_allclose(float(compiled.logdensity_fn(position, batch)), expected, rtol=1e-4)


def test_minibatch_fit_keeps_pairs_and_predicts_on_full_and_new_data():
    # y = 2 x exactly, with a tiny noise sd: a single mismatched pair would wreck the fit.
    rng = np.random.default_rng(0)
    X = rng.normal(size=N)
    Y = 2 * X
    with cr.Model() as model:
        x, y = cr.Minibatch(X, Y, batch_size=32, random_seed=1, names=("x", "y"))
        w = cr.Normal("w", 0, 10)
        mu = cr.Deterministic("mu", w * x)
        cr.Normal("obs", mu, 0.01, observed=y, total_size=N)
        approx = cr.fit(3000, random_seed=0, progressbar=False, obj_optimizer=cr.adagrad_window(1e-2))
    # Mismatched pairs would leave w near 0 and the loss near 1e7.
    assert abs(float(approx.mean["w"]) - 2) < 0.02
    assert np.mean(approx.hist[-500:]) < 1e3
    idata = approx.sample(100, random_seed=0)
    assert idata.posterior["mu"].shape == (1, 100, N)  # outside a fit the model sees the full data
    with model:
        cr.set_data({"x": np.array([1.0, 2.0, 3.0]), "y": np.zeros(3)})
        ppc = cr.sample_posterior_predictive(idata, random_seed=1)
    assert ppc.posterior_predictive["obs"].shape == (1, 100, 3)
    np.testing.assert_allclose(ppc.posterior_predictive["obs"].mean(("chain", "draw")), [2, 4, 6], rtol=0.01)


def test_minibatch_fits_are_reproducible():
    X, Y = paired_data()
    with cr.Model():
        x, y = cr.Minibatch(X / N, Y / N, batch_size=10)
        w = cr.Normal("w", 0, 1)
        cr.Normal("obs", w * x[:, 0], 1, observed=y, total_size=N)
        first = cr.fit(500, random_seed=2, progressbar=False)
        second = cr.fit(500, random_seed=2, progressbar=False)
        third = cr.fit(500, random_seed=3, progressbar=False)
    np.testing.assert_array_equal(first.hist, second.hist)
    assert not np.array_equal(first.hist, third.hist)


def test_minibatch_errors():
    with cr.Model() as model:
        with pytest.raises(DataError, match="same number of rows"):
            cr.Minibatch(np.zeros((10, 2)), np.zeros(12), batch_size=5)
        with pytest.raises(DataError, match="batch_size"):
            cr.Minibatch(np.zeros(10), batch_size=0)
        single = cr.Minibatch(np.zeros(10), batch_size=5)
        assert isinstance(single, MinibatchNode)
        x, y = cr.Minibatch(np.zeros((10, 2)), np.zeros(10), batch_size=5, names=("a", "b"))
    model.set_data({"a": np.ones((4, 2))})
    with pytest.raises(DataError, match="different numbers of rows"):
        minibatch_fn(model.minibatches)(jax.random.key(0), dict(model.data_values))


def tutorial_model(X_train, Y_train, minibatch: bool):
    return build_moons_model(X_train, Y_train, seed=0, batch_size=50 if minibatch else None)


@pytest.mark.slow
def test_minibatch_advi_reaches_full_batch_accuracy_on_the_tutorial():
    X_train, X_test, Y_train, Y_test = make_moons_split()
    accuracy = {}
    # Batches of 50 see 20x fewer rows per step: twice the steps of the full-batch fit.
    for minibatch, n in ((False, 50_000), (True, 100_000)):
        model = tutorial_model(X_train, Y_train, minibatch)
        with model:
            approx = cr.fit(n, random_seed=0, progressbar=False)
            idata = approx.sample(1000, random_seed=1)
            cr.set_data({"x": X_test, "y": Y_test})
            ppc = cr.sample_posterior_predictive(idata, samples=500, random_seed=2)
        predicted = ppc.posterior_predictive["out"].mean(("chain", "draw")).values > 0.5
        accuracy[minibatch] = float((predicted == Y_test).mean())
    assert accuracy[False] > 0.9
    assert accuracy[True] >= accuracy[False] - 0.01
