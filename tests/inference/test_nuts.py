"""NUTS on flat log densities: exact posteriors, divergences, progress, data passing."""

from __future__ import annotations

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from credo.inference import nuts
from credo.inference.nuts import run_nuts

NUM_CHAINS = 4
NUM_WARMUP = 500
NUM_DRAWS = 500

# --- Conjugate Bayesian linear regression ------------------------------------
# y ~ N(X beta, NOISE_SD^2), beta ~ N(0, PRIOR_SD^2 I): the posterior of beta is
# Gaussian with precision X'X / NOISE_SD^2 + I / PRIOR_SD^2.

NOISE_SD = 0.7
PRIOR_SD = 2.0


def regression_logdensity(position, data):
    residual = data["y"] - data["X"] @ position
    log_likelihood = -0.5 * jnp.sum(residual**2) / NOISE_SD**2
    log_prior = -0.5 * jnp.sum(position**2) / PRIOR_SD**2
    return log_likelihood + log_prior


def make_regression_data(seed: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(50), rng.normal(size=(50, 2))]).astype(np.float32)
    y = X @ np.array([0.5, -1.0, 2.0]) + NOISE_SD * rng.normal(size=50) + shift
    return {"X": X, "y": y.astype(np.float32)}


def exact_posterior(data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    X = data["X"].astype(np.float64)
    y = data["y"].astype(np.float64)
    precision = X.T @ X / NOISE_SD**2 + np.eye(X.shape[1]) / PRIOR_SD**2
    covariance = np.linalg.inv(precision)
    mean = covariance @ X.T @ y / NOISE_SD**2
    return mean, np.sqrt(np.diag(covariance))


@pytest.fixture(scope="module")
def regression_run():
    """One NUTS run on the regression, recording the progress calls."""
    data = make_regression_data(seed=1)
    progress_calls: list[tuple[str, int, int]] = []
    initial_positions = jax.random.normal(jax.random.key(1), (NUM_CHAINS, 3))
    positions, stats = run_nuts(
        jax.random.key(0),
        regression_logdensity,
        initial_positions,
        data,
        num_warmup=NUM_WARMUP,
        num_draws=NUM_DRAWS,
        progress_fn=lambda *call: progress_calls.append(call),
    )
    return data, positions, stats, progress_calls


@pytest.mark.slow
def test_regression_matches_closed_form_posterior(regression_run):
    data, positions, stats, _ = regression_run
    mean, sd = exact_posterior(data)
    for j in range(3):
        draws = positions[:, :, j]
        ess_mean = az.ess(draws, method="mean")
        ess_sd = az.ess(draws, method="sd")
        assert ess_mean > 200 and ess_sd > 200
        mcse_mean = sd[j] / np.sqrt(ess_mean)
        assert abs(draws.mean() - mean[j]) < 4 * mcse_mean
        relative_error_sd = 1.0 / np.sqrt(2.0 * ess_sd)
        assert abs(draws.std() / sd[j] - 1.0) < 4 * relative_error_sd


def test_regression_stats(regression_run):
    data, positions, stats, _ = regression_run
    assert positions.shape == (NUM_CHAINS, NUM_DRAWS, 3)
    assert isinstance(positions, np.ndarray)
    assert set(stats) == {
        "diverging", "energy", "tree_depth", "acceptance_rate", "step_size", "lp", "n_steps",
    }
    for value in stats.values():
        assert isinstance(value, np.ndarray)
        assert value.shape == (NUM_CHAINS, NUM_DRAWS)
    assert not stats["diverging"].any()
    # One adapted step size per chain, held fixed while sampling.
    assert np.all(stats["step_size"] == stats["step_size"][:, :1])
    assert np.all(stats["step_size"] > 0)
    assert 1 <= stats["tree_depth"].min() and stats["tree_depth"].max() <= 10
    assert np.all(stats["n_steps"] >= 1)
    assert np.all(stats["n_steps"] <= 2 ** stats["tree_depth"])
    assert 0.6 < stats["acceptance_rate"].mean() <= 1.0
    # lp is the log density of the draw; energy adds the kinetic energy (> 0).
    lp = jax.vmap(lambda x: regression_logdensity(x, data))(positions[:, :5].reshape(-1, 3))
    np.testing.assert_allclose(stats["lp"][:, :5].reshape(-1), lp, rtol=1e-5, atol=1e-3)
    assert np.all(stats["energy"] > -stats["lp"])


def test_progress_fn_counts_up_to_totals(regression_run):
    *_, progress_calls = regression_run
    for phase, total in (("warmup", NUM_WARMUP), ("sampling", NUM_DRAWS)):
        calls = [call for call in progress_calls if call[0] == phase]
        counts = [done for _, done, _ in calls]
        assert counts[0] == 0 and counts[-1] == total
        assert all(b > a for a, b in zip(counts, counts[1:]))
        assert all(call_total == total for _, _, call_total in calls)
    assert [call[0] for call in progress_calls].index("sampling") == 2
    # Sampling runs in several compiled chunks.
    assert len([call for call in progress_calls if call[0] == "sampling"]) > 2


def test_new_data_reuses_compiled_code(regression_run):
    """Data is an argument of the compiled code: new values, no recompilation."""
    programs = nuts.nuts_programs(regression_logdensity, num_warmup=NUM_WARMUP)
    initial_positions = jax.random.normal(jax.random.key(1), (NUM_CHAINS, 3))
    run_nuts(jax.random.key(2), regression_logdensity, initial_positions, regression_run[0],
             num_warmup=NUM_WARMUP, num_draws=NUM_DRAWS, programs=programs)
    cache_sizes = (programs.warmup._cache_size(), programs.sample_chunk._cache_size())
    data = make_regression_data(seed=1, shift=3.0)
    positions, _ = run_nuts(jax.random.key(2), regression_logdensity, initial_positions, data,
                            num_warmup=NUM_WARMUP, num_draws=NUM_DRAWS, programs=programs)
    assert (programs.warmup._cache_size(), programs.sample_chunk._cache_size()) == cache_sizes
    mean, sd = exact_posterior(data)
    # The shift moves the intercept by about 3; loose check that the new data is used.
    np.testing.assert_allclose(positions.mean(axis=(0, 1)), mean, atol=6 * sd.max())
    assert abs(positions[:, :, 0].mean() - exact_posterior(regression_run[0])[0][0] - 3) < 0.3


# --- Non-centred eight schools -----------------------------------------------

SCHOOLS_Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0], np.float32)
SCHOOLS_SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0], np.float32)


def normal_logpdf(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - jnp.log(scale) - 0.5 * jnp.log(2 * jnp.pi)


def eight_schools_logdensity(position, data):
    """position = [mu, log tau, theta_tilde_1..8], unconstrained."""
    mu, log_tau, theta_tilde = position[0], position[1], position[2:]
    tau = jnp.exp(log_tau)
    log_prior = (
        normal_logpdf(mu, 0.0, 5.0)
        # HalfCauchy(5) on tau, plus log |d tau / d log_tau| = log_tau.
        + jnp.log(2.0 / (jnp.pi * 5.0)) - jnp.log1p((tau / 5.0) ** 2) + log_tau
        + jnp.sum(normal_logpdf(theta_tilde, 0.0, 1.0))
    )
    log_likelihood = jnp.sum(normal_logpdf(data["y"], mu + tau * theta_tilde, data["sigma"]))
    return log_prior + log_likelihood


@pytest.mark.slow
def test_eight_schools_noncentred_has_no_divergences():
    data = {"y": SCHOOLS_Y, "sigma": SCHOOLS_SIGMA}
    initial_positions = jax.random.uniform(
        jax.random.key(3), (NUM_CHAINS, 10), minval=-2.0, maxval=2.0
    )
    positions, stats = run_nuts(
        jax.random.key(4),
        eight_schools_logdensity,
        initial_positions,
        data,
        num_warmup=NUM_WARMUP,
        num_draws=NUM_DRAWS,
        target_accept=0.9,
    )
    assert positions.shape == (NUM_CHAINS, NUM_DRAWS, 10)
    assert stats["diverging"].sum() == 0
    # Reference posterior means: mu about 4.4, tau about 3.6.
    mu = positions[:, :, 0]
    tau = np.exp(positions[:, :, 1])
    assert abs(mu.mean() - 4.4) < 1.0
    assert abs(tau.mean() - 3.6) < 1.0
    assert float(az.rhat(mu)) < 1.05
