"""Pathfinder: its normals against closed forms, against full-rank ADVI, and as a start for NUTS."""

import os
import tempfile
import warnings

import jax
import numpy as np
import pytest
import scipy.stats
from targets import SCHOOLS_SIGMA, SCHOOLS_Y, correlated_gaussian, linear_regression, marginal_errors

import credo as cr
from credo.errors import ApproximationWarning, FitError
from credo.inference.pathfinder import MAX_LINESEARCH_STEPS, PathfinderNormals
from credo.inference.pathfinder_fit import pathfinder_initial_positions


@pytest.fixture(scope="module")
def gaussian():
    model, reference, covariance = correlated_gaussian()
    with model:
        single = cr.fit(method="pathfinder", num_paths=1, random_seed=0, progressbar=False)
    return model, reference, covariance, single


@pytest.fixture(scope="module")
def multi_path(gaussian):
    with gaussian[0]:
        return cr.fit(method="pathfinder", num_paths=4, random_seed=1, progressbar=False)


@pytest.mark.slow
def test_single_path_recovers_a_correlated_gaussian(gaussian):
    # Pathfinder's normal is the L-BFGS inverse Hessian at the iterate with the best 25-draw ELBO: on this
    # 4-d Gaussian the ELBO noise picks an iterate near the end of the path whose inverse Hessian is not yet
    # exact; measured over seeds 0-2: means within 0.015 sd, sds within 2-19%. Tolerances 0.05 and 0.25.
    _, reference, covariance, single = gaussian
    mean_error, sd_error = marginal_errors((single.mean, single.std), reference)
    assert mean_error < 0.05 and sd_error < 0.25
    assert single.diagnosis.khat < 0.7
    assert single.num_steps == len(single.hist) - 1


def test_a_normals_log_density_is_scipys(gaussian):
    _, _, _, single = gaussian
    family = single.family  # its methods jitted: outside jit JAX compiles them operation by operation
    draw, log_prob = jax.jit(family.draw, static_argnums=2), jax.jit(family.state_log_prob)
    x = np.asarray(draw(jax.random.key(5), single.state, 7))
    expected = scipy.stats.multivariate_normal(single.mean_unconstrained, single.cov).logpdf(x)
    np.testing.assert_allclose(log_prob(single.state, x), expected, rtol=1e-4, atol=1e-3)
    draws, log_q = jax.jit(family.draw_and_log_prob, static_argnums=2)(jax.random.key(6), single.state, 5)
    np.testing.assert_allclose(log_q, log_prob(single.state, draws), rtol=1e-5)


@pytest.mark.slow
def test_multi_path_is_the_mixture_of_its_paths(gaussian, multi_path):
    reference, multi = gaussian[1], multi_path
    params = multi.params
    assert params["mean"].shape == (4, 4) and multi.start_losses.shape == (4,)
    assert multi.best_start == int(np.argmin(multi.start_losses))
    np.testing.assert_allclose(multi.mean_unconstrained, params["mean"].mean(0), rtol=1e-6)
    # The mixture's moments in closed form against 40,000 of its draws: the sd of a sample sd is
    # sd / sqrt(2 * 40,000) = 0.35%; 2% leaves room for the mean's error in units of the smallest sd.
    draws = np.asarray(multi.family.draw(jax.random.key(2), multi.state, 40_000))
    np.testing.assert_allclose(draws.std(0), multi.std_unconstrained, rtol=0.02)
    np.testing.assert_allclose(np.cov(draws.T), multi.cov, atol=0.03 * multi.cov.max())
    # log q of a mixture: the mean of the paths' densities.
    x = draws[:3]
    per_path = [scipy.stats.multivariate_normal(params["mean"][i], _path_covariance(params, i)).logpdf(x)
                for i in range(4)]
    np.testing.assert_allclose(multi.family.state_log_prob(multi.state, x),
                               np.log(np.mean(np.exp(per_path), axis=0)), rtol=1e-4)
    # Four paths average out some of one path's error (measured: means 0.001 sd, sds 7%).
    mean_error, sd_error = marginal_errors((multi.mean, multi.std), reference)
    assert mean_error < 0.05 and sd_error < 0.15


def _path_covariance(params, i):
    alpha = np.exp(params["log_alpha"][i])
    basis, factor = params["basis"][i], params["factor"][i]
    scale = np.diag(np.sqrt(alpha)) @ (np.eye(len(alpha)) + basis @ (factor - np.eye(len(factor))) @ basis.T)
    return scale @ scale.T


def test_pathfinder_is_one_shot_and_saves(gaussian):
    model, _, _, single = gaussian
    with pytest.raises(FitError, match="one-shot"):
        single.refine(10)
    with model:
        with pytest.raises(FitError, match="one-shot"):
            cr.fit(method="pathfinder", obj_optimizer=cr.adagrad_window(), progressbar=False)
        with pytest.raises(TypeError, match="flow.*nfvi"):
            cr.fit(method="pathfinder", flow="planar", progressbar=False)
    with pytest.raises(FitError, match="num_paths"):
        PathfinderNormals(num_paths=0)
    path = os.path.join(tempfile.mkdtemp(), "pathfinder.npz")
    single.save(path)
    loaded = cr.load_approximation(path, model)
    assert loaded.family == single.family
    np.testing.assert_array_equal(loaded.hist, single.hist)
    np.testing.assert_array_equal(loaded.sample(5, random_seed=3, return_inferencedata=False)["x"],
                                  single.sample(5, random_seed=3, return_inferencedata=False)["x"])


@pytest.mark.slow
@pytest.mark.parametrize("build", [correlated_gaussian, linear_regression])
def test_pathfinder_is_as_accurate_as_fullrank_advi_for_a_fraction_of_its_evaluations(build):
    model, reference = build()[:2]
    n = 10_000
    with model:
        pathfinder = cr.fit(method="pathfinder", num_paths=1, random_seed=0, progressbar=False)
        fullrank = cr.fit(n=n, method="fullrank_advi", init="initial_point", random_seed=0, progressbar=False)
    pathfinder_errors = marginal_errors((pathfinder.mean, pathfinder.std), reference)
    fullrank_errors = marginal_errors((fullrank.mean, fullrank.std), reference)
    # Full-rank ADVI's stochastic optimum moves by its Monte Carlo noise; 0.02 sd of slack for Pathfinder.
    assert pathfinder_errors[0] <= fullrank_errors[0] + 0.02
    assert pathfinder_errors[1] <= fullrank_errors[1] + 0.02
    # Log density evaluations: at most MAX_LINESEARCH_STEPS per L-BFGS iteration and the ELBO draws at
    # every iterate, against one per ADVI step.
    family = pathfinder.family
    evaluations = (pathfinder.num_steps + 1) * (MAX_LINESEARCH_STEPS + family.num_elbo_draws)
    assert evaluations < n / 5


def _schools():
    with cr.Model() as model:
        mu = cr.Normal("mu", 0.0, sigma=5.0)
        tau = cr.HalfCauchy("tau", beta=5.0)
        theta_tilde = cr.Normal("theta_tilde", 0.0, sigma=1.0, shape=8)
        cr.Normal("y", mu + tau * theta_tilde, sigma=SCHOOLS_SIGMA, observed=SCHOOLS_Y)
    return model


@pytest.mark.slow
def test_pathfinder_starts_nuts_chains_in_the_posterior():
    model = _schools()
    compiled = model.compile()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ApproximationWarning)
        positions = np.asarray(pathfinder_initial_positions(model, 4, jax.random.key(0)))
    assert positions.shape == (4, compiled.dim)
    assert len({tuple(row) for row in positions}) == 4  # distinct starts
    values = compiled.unflatten(positions)
    assert np.all(np.abs(values["theta_tilde"]) < 4.0)  # draws of N(0, 1)-like marginals, not 10-sigma outliers
    assert np.all(np.isfinite([compiled.logdensity_fn(row, dict(model.data_values)) for row in positions]))
    with model, pytest.raises(FitError, match="init"):
        cr.sample(draws=10, tune=10, init="advi", progressbar=False)


@pytest.mark.slow
def test_sample_starts_at_pathfinder_draws():
    # Warm-up divergences with and without: benchmarks/pathfinder_init.py (a statistical comparison).
    with _schools():
        idata = cr.sample(draws=50, tune=50, chains=2, init="pathfinder", random_seed=0, progressbar=False)
    assert idata.posterior["mu"].shape == (2, 50)
