"""cr.Minibatch: paired rows, total_size scaling, predictions on full and new data."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import credo as cr
from credo.data import MinibatchNode, minibatch_fn
from credo.datasets import make_moons_split
from credo.demo import build_moons_model
from credo.errors import CredoWarning, DataError

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


# ---------------------------------------------------------------------------
# minibatches that pair: PyMC3's contract for separate minibatches of equal seed


def test_separate_minibatches_with_the_same_seed_draw_the_same_rows():
    X, Y = paired_data()
    with cr.Model() as model:
        x = cr.Minibatch(X, batch_size=40, random_seed=7)
        y = cr.Minibatch(Y, batch_size=40, random_seed=7)
        other = cr.Minibatch(Y, batch_size=40, random_seed=8)
        w = cr.Normal("w", 0, 1)
        cr.Normal("obs", w * x[:, 0], 1, observed=y, total_size=N)
    batch_fn = jax.jit(minibatch_fn(model.minibatches))
    for step in range(5):
        batch = batch_fn(jax.random.fold_in(jax.random.key(3), step), dict(model.data_values))
        bx, by, bo = (np.asarray(batch[node.name]) for node in (x, y, other))
        np.testing.assert_allclose(by, 3 * bx[:, 0] + 1)  # paired
        assert not np.allclose(bo, by)  # another seed, other rows


@pytest.mark.parametrize("second_seed, second_batch", [(None, 50), (2, 50), (1, 25)])
def test_unpaired_minibatches_feeding_one_likelihood_warn(second_seed, second_batch):
    X, Y = paired_data()
    with cr.Model():
        x = cr.Minibatch(X, batch_size=50, random_seed=None if second_seed is None else 1)
        y = cr.Minibatch(Y, batch_size=second_batch, random_seed=second_seed)
        w = cr.Normal("w", 0, 1)
        with pytest.warns(CredoWarning, match=r"'obs' reads the minibatches.*will not pair.*cr\.Minibatch\(X, Y, "
                                              r"batch_size=\.\.\.\)"):
            cr.Normal("obs", w * x[:, 0], 1, observed=y, total_size=N)


def test_paired_minibatches_do_not_warn():
    X, Y = paired_data()
    with cr.Model():
        x, y = cr.Minibatch(X, Y, batch_size=50)
        x2 = cr.Minibatch(X, batch_size=50, random_seed=4)
        y2 = cr.Minibatch(Y, batch_size=50, random_seed=4)
        w = cr.Normal("w", 0, 1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cr.Normal("obs", w * x[:, 0], 1, observed=y, total_size=N)
            p = cr.Deterministic("p", w * x2[:, 0])
            cr.Normal("obs2", p, 1, observed=y2, total_size=N)


def test_a_minibatch_made_outside_a_model_joins_the_first_model_that_uses_it():
    X, Y = paired_data()
    mx = cr.Minibatch(X, batch_size=50, random_seed=3)
    assert mx.name is None and mx.shape == (N, 2)
    with cr.Model() as model:
        w = cr.Normal("w", 0, 1)
        cr.Normal("obs", w * mx[:, 0], 1, observed=Y, total_size=N)
    assert mx.name == "minibatch0_0" and model[mx.name] is mx and model.minibatches[0].seed == 3
    with cr.Model():
        with pytest.raises(cr.errors.ModelError, match="'minibatch0_0' of another, unnamed model"):
            cr.Normal("obs", mx[:, 0], 1)


# The seed's minibatch follow-up, ported with pm -> cr only: separate minibatches of X and Y with the same
# seed, as PyMC3 paired them. Adam at 1e-2 for 3,000 steps (as tests/test_tutorial.py) keeps it short; the
# full-batch fit of the same network reaches 95.8-96.0% on seeds 0 and 1, and unpaired rows give about 58%.


def construct_nn(ann_input, ann_output, X, Y_train):
    n_hidden = 5

    # Initialize random weights between each layer
    init_1 = np.random.randn(X.shape[1], n_hidden).astype(float)
    init_2 = np.random.randn(n_hidden, n_hidden).astype(float)
    init_out = np.random.randn(n_hidden).astype(float)

    with cr.Model() as neural_network:
        weights_in_1 = cr.Normal('w_in_1', 0, sd=1, shape=(X.shape[1], n_hidden), testval=init_1)
        weights_1_2 = cr.Normal('w_1_2', 0, sd=1, shape=(n_hidden, n_hidden), testval=init_2)
        weights_2_out = cr.Normal('w_2_out', 0, sd=1, shape=(n_hidden,), testval=init_out)
        act_1 = cr.math.tanh(cr.math.dot(ann_input, weights_in_1))
        act_2 = cr.math.tanh(cr.math.dot(act_1, weights_1_2))
        act_out = cr.math.sigmoid(cr.math.dot(act_2, weights_2_out))
        cr.Bernoulli('out', act_out, observed=ann_output, total_size=Y_train.shape[0])
    return neural_network


@pytest.mark.slow
def test_tutorial_minibatch_follow_up_with_a_shared_seed_reaches_full_batch_accuracy():
    X_train, X_test, Y_train, Y_test = make_moons_split()
    accuracy = {"minibatch": [], "full": []}
    for seed in (0, 1):
        np.random.seed(seed)
        minibatch_x = cr.Minibatch(X_train, batch_size=50, random_seed=seed)
        minibatch_y = cr.Minibatch(Y_train, batch_size=50, random_seed=seed)
        neural_network_minibatch = construct_nn(minibatch_x, minibatch_y, X_train, Y_train)
        np.random.seed(seed)
        neural_network = construct_nn(X_train, Y_train, X_train, Y_train)  # the full batch, as constants
        for kind, model in (("minibatch", neural_network_minibatch), ("full", neural_network)):
            with model:
                approx = cr.fit(3000, method=cr.ADVI(), random_seed=seed, obj_optimizer=optax.adam(1e-2),
                                progressbar=False)
            trace = approx.sample(draws=500, random_seed=seed)
            with neural_network_minibatch:  # both posteriors predict through the same model
                cr.set_data({minibatch_x.name: X_test, minibatch_y.name: Y_test})
                ppc = cr.sample_posterior_predictive(trace, random_seed=seed)
            pred = ppc.posterior_predictive['out'].mean(("chain", "draw")).values > 0.5
            accuracy[kind].append(float((Y_test == pred).mean()))
    assert np.mean(accuracy["full"]) > 0.93, accuracy
    assert np.mean(accuracy["minibatch"]) >= np.mean(accuracy["full"]) - 0.02, accuracy
