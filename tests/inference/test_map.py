"""L-BFGS modes and Laplace covariances on flat log densities."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from credo.inference.map import (
    MAPResult,
    laplace_cholesky,
    laplace_covariance,
    lbfgs_steps,
    optimize_lbfgs,
)

GAUSSIAN_MEAN = np.array([1.0, -2.0, 3.0], np.float32)
GAUSSIAN_COVARIANCE = np.array(
    [[2.0, 1.2, 0.0], [1.2, 1.0, 0.3], [0.0, 0.3, 0.5]], np.float32
)


def gaussian_logdensity(position, data):
    residual = position - data["mean"]
    return -0.5 * residual @ data["precision"] @ residual


def gaussian_data(dtype=np.float32):
    return {
        "mean": GAUSSIAN_MEAN.astype(dtype),
        "precision": np.linalg.inv(GAUSSIAN_COVARIANCE.astype(np.float64)).astype(dtype),
    }


def test_mode_of_correlated_gaussian():
    result = optimize_lbfgs(gaussian_logdensity, jnp.zeros(3), gaussian_data(), tolerance=1e-4)
    assert isinstance(result, MAPResult)
    assert bool(result.converged)
    assert float(result.grad_norm) < 1e-4
    assert 1 <= int(result.num_iterations) < 50
    np.testing.assert_allclose(result.position, GAUSSIAN_MEAN, atol=1e-4)
    np.testing.assert_allclose(result.logdensity, 0.0, atol=1e-6)


def test_mode_in_float64_reaches_default_tolerance():
    with jax.enable_x64(True):
        result = optimize_lbfgs(
            gaussian_logdensity, jnp.zeros(3, jnp.float64), gaussian_data(np.float64)
        )
        assert result.position.dtype == jnp.float64
        assert bool(result.converged) and float(result.grad_norm) < 1e-6
        np.testing.assert_allclose(result.position, GAUSSIAN_MEAN, atol=1e-8)


# --- Logistic regression against scipy -----------------------------------------


def logistic_logdensity(position, data):
    logits = data["X"] @ position
    log_likelihood = jnp.sum(data["y"] * logits - jnp.logaddexp(0.0, logits))
    return log_likelihood - 0.5 * jnp.sum(position**2) / 5.0**2


@pytest.fixture(scope="module")
def logistic_data():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(200), rng.normal(size=(200, 3))])
    p = 1.0 / (1.0 + np.exp(-(X @ np.array([-0.5, 1.0, -2.0, 0.5]))))
    y = (rng.uniform(size=200) < p).astype(np.float64)
    return {"X": X.astype(np.float32), "y": y.astype(np.float32)}, X, y


def test_mode_of_logistic_regression_matches_scipy(logistic_data):
    data, X, y = logistic_data

    def objective(beta):
        logits = X @ beta
        return -(np.sum(y * logits - np.logaddexp(0.0, logits)) - 0.5 * beta @ beta / 25.0)

    def gradient(beta):
        p = 1.0 / (1.0 + np.exp(-(X @ beta)))
        return -(X.T @ (y - p) - beta / 25.0)

    reference = scipy.optimize.minimize(
        objective, np.zeros(4), jac=gradient, method="BFGS", options={"gtol": 1e-8}
    )
    assert np.linalg.norm(gradient(reference.x)) < 1e-6

    result = optimize_lbfgs(logistic_logdensity, jnp.zeros(4), data, tolerance=1e-3)
    assert bool(result.converged)
    np.testing.assert_allclose(result.position, reference.x, atol=1e-4)
    np.testing.assert_allclose(result.logdensity, -reference.fun, rtol=1e-5)


def test_maxiter_stops_the_search(logistic_data):
    data, _, _ = logistic_data
    result = optimize_lbfgs(logistic_logdensity, jnp.zeros(4), data, maxiter=2, tolerance=1e-3)
    assert int(result.num_iterations) == 2
    assert not bool(result.converged)
    assert float(result.grad_norm) > 1e-3


def test_calls_of_a_search_share_one_compiled_program(logistic_data):
    data, _, _ = logistic_data
    steps = lbfgs_steps(logistic_logdensity)
    tolerance = jnp.float32(1e-3)
    carry = steps.init(jnp.zeros(4))
    for until in (2, 5, 100):  # each call continues from the carry the last one returned
        carry, running = steps.advance(carry, data, tolerance, jnp.int32(until))
    # optax's initial state holds weakly typed scalars that its update makes strong: once, the second call
    # compiled the program again
    assert steps.advance._cache_size() == 1
    assert not bool(running)
    reference = optimize_lbfgs(logistic_logdensity, jnp.zeros(4), data, tolerance=1e-3)
    result = steps.finish(carry, data, tolerance)
    np.testing.assert_allclose(result.position, reference.position, rtol=1e-5)
    assert int(result.num_iterations) == int(reference.num_iterations)


# --- Laplace ----------------------------------------------------------------------


def test_laplace_covariance_of_gaussian_is_its_covariance():
    data = gaussian_data()
    covariance = laplace_covariance(gaussian_logdensity, jnp.asarray(GAUSSIAN_MEAN), data)
    np.testing.assert_allclose(covariance, GAUSSIAN_COVARIANCE, atol=1e-5)
    np.testing.assert_array_equal(covariance, covariance.T)

    cholesky = laplace_cholesky(gaussian_logdensity, jnp.asarray(GAUSSIAN_MEAN), data)
    np.testing.assert_array_equal(cholesky, np.tril(cholesky))
    np.testing.assert_allclose(cholesky @ cholesky.T, GAUSSIAN_COVARIANCE, atol=1e-5)


def test_laplace_at_a_saddle_raises():
    def saddle_logdensity(position, data):
        # A maximum along the first axis, a minimum along the second.
        return -data["a"] * position[0] ** 2 + position[1] ** 2 + position[0] * position[1]

    data = {"a": jnp.array(1.0)}
    with pytest.raises(ValueError, match="not positive definite.*more iterations"):
        laplace_covariance(saddle_logdensity, jnp.zeros(2), data)
    with pytest.raises(ValueError, match="not positive definite"):
        laplace_cholesky(saddle_logdensity, jnp.zeros(2), data)


def test_find_map_interrupted_returns_the_point_reached_within_a_second():
    import os
    import signal
    import threading
    import time
    import warnings

    import credo as cr

    rng = np.random.default_rng(0)
    features = rng.normal(size=(20_000, 50))
    labels = (rng.uniform(size=20_000) < 1 / (1 + np.exp(-features @ rng.normal(size=50)))).astype(int)
    with cr.Model() as model:
        x = cr.Data("x", features)
        w = cr.Normal("w", 0, 1, shape=50)
        cr.Bernoulli("y", logit_p=x @ w, observed=labels)
    with pytest.warns(UserWarning, match="maxiter=3"):
        cr.find_MAP(model=model, maxiter=3)  # compiles the programs (one for any maxiter)
    sent = {}

    def interrupt():
        sent["time"] = time.perf_counter()
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(1.0, interrupt)  # long before 10**5 iterations
    timer.start()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        point, raw = cr.find_MAP(model=model, maxiter=10**5, tolerance=0.0, return_raw=True)
    latency = time.perf_counter() - sent["time"]
    iterations = int(raw.num_iterations)
    assert [str(w.message) for w in caught] == [
        f"find_MAP interrupted at iteration {iterations}: returning the point reached there, which is not the mode."]
    assert 0 < iterations < 10**5 and not bool(raw.converged)
    assert np.isfinite(point["w"]).all() and float(raw.logdensity) > float(model.logp({"w": np.zeros(50)}))
    assert latency < 4.0, latency  # generous: a loaded machine
