"""Full-rank and low-rank ADVI, the MAP start, find_MAP and the Laplace approximation."""

from __future__ import annotations

import numpy as np
import pytest

import credo as cr
from credo.errors import FitError

# Two correlated pairs: (x0, x1) with correlation 0.9, (x2, x3) with correlation -0.6.
MEAN = np.array([1.0, -2.0, 0.5, 0.0])
COV = np.array([
    [1.0, 0.45, 0.0, 0.0],
    [0.45, 0.25, 0.0, 0.0],
    [0.0, 0.0, 0.64, -0.576],
    [0.0, 0.0, -0.576, 1.44],
])


def gaussian_model():
    with cr.Model() as model:
        cr.MvNormal("x", mu=MEAN, cov=COV)
    return model


def gaussian_kl(mean_q, cov_q):
    """KL(q || target) between Gaussians."""
    precision = np.linalg.inv(COV)
    diff = MEAN - mean_q
    d = len(MEAN)
    return 0.5 * (np.trace(precision @ cov_q) + diff @ precision @ diff - d
                  + np.log(np.linalg.det(COV) / np.linalg.det(cov_q)))


@pytest.fixture(scope="module")
def fits():
    model = gaussian_model()
    with model:
        return {
            "meanfield": cr.fit(15_000, random_seed=0, progressbar=False),
            "lowrank": cr.fit(15_000, method="lowrank_advi", rank=1, random_seed=0, progressbar=False),
            "fullrank": cr.fit(15_000, method="fullrank_advi", random_seed=0, progressbar=False),
        }


@pytest.mark.slow
def test_fullrank_recovers_mean_and_covariance(fits):
    approx = fits["fullrank"]
    sd = np.sqrt(np.diag(COV))
    assert np.all(np.abs(approx.mean["x"] - MEAN) < 0.1 * sd)
    # Adam at lr 1e-3 leaves a stationary noise of several percent on each variance.
    np.testing.assert_allclose(np.diag(approx.cov), np.diag(COV), rtol=0.15)
    correlation = approx.cov / np.sqrt(np.outer(np.diag(approx.cov), np.diag(approx.cov)))
    np.testing.assert_allclose(correlation, COV / np.outer(sd, sd), atol=0.05)
    draws = approx.sample(4000, random_seed=1, return_inferencedata=False)["x"]
    assert np.corrcoef(draws.T)[0, 1] > 0.85 and np.corrcoef(draws.T)[2, 3] < -0.5


@pytest.mark.slow
def test_meanfield_recovers_means_and_conditional_sds(fits):
    approx = fits["meanfield"]
    np.testing.assert_allclose(approx.mean["x"], MEAN, atol=0.05)
    # The mean-field optimum on a Gaussian: sd_i = 1 / sqrt(precision_ii), smaller than the marginal sd.
    optimum = 1 / np.sqrt(np.diag(np.linalg.inv(COV)))
    np.testing.assert_allclose(approx.std["x"], optimum, rtol=0.15)
    assert np.allclose(approx.cov, np.diag(np.diag(approx.cov)))


def test_lowrank_lies_in_between(fits):
    kl = {name: gaussian_kl(a.mean_unconstrained, a.cov) for name, a in fits.items()}
    assert kl["fullrank"] < 0.02
    assert kl["fullrank"] < kl["lowrank"] < kl["meanfield"]
    # Rank one captures the more strongly correlated pair.
    cov = fits["lowrank"].cov
    assert cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]) > 0.7


@pytest.mark.parametrize("name", ["meanfield", "lowrank", "fullrank"])
def test_approximations_share_an_interface(fits, name):
    approx = fits[name]
    assert approx.hist.shape == (15_000,)
    assert approx.cov.shape == (4, 4)
    assert set(approx.mean) == set(approx.std) == {"x"}
    idata = approx.sample(50, random_seed=0)
    assert idata.posterior["x"].shape == (1, 50, 4)
    assert approx.family.label in ("meanfield", "lowrank1", "fullrank")


def test_refine_after_fit_equals_one_long_fit(fits):
    model = fits["fullrank"].model  # compiled chunks are reused
    with model:
        long = cr.fit(3000, method="fullrank_advi", random_seed=5, progressbar=False)
        short = cr.fit(1700, method="fullrank_advi", random_seed=5, progressbar=False)
    short = short.refine(1300, progressbar=False)
    np.testing.assert_allclose(short.hist, long.hist, rtol=1e-6)
    np.testing.assert_allclose(short.cov, long.cov, rtol=1e-6)
    continued = cr.fit(500, start=short, progressbar=False)
    assert len(continued.hist) == 3500 and len(short.hist) == 3000


def unscaled_regression():
    """A linear regression on an unscaled predictor (x ~ N(60, 6)) with known noise: closed form."""
    rng = np.random.default_rng(0)
    n = 100
    x = rng.normal(60, 6, n)
    y = 3 + 0.5 * x + rng.normal(0, 1, n)
    X = np.column_stack([np.ones(n), x])
    prior_sd = np.array([100.0, 10.0])
    cov = np.linalg.inv(X.T @ X + np.diag(1 / prior_sd**2))
    mean = cov @ X.T @ y
    with cr.Model() as model:
        a = cr.Normal("a", 0, 100)
        b = cr.Normal("b", 0, 10)
        cr.Normal("y", a + b * x, 1.0, observed=y)
    return model, mean, cov


@pytest.fixture(scope="module")
def regression():
    return unscaled_regression()


@pytest.mark.slow
def test_fullrank_recovers_badly_scaled_correlated_regression(regression):
    model, mean, cov = regression
    sd = np.sqrt(np.diag(cov))
    assert cov[0, 1] / (sd[0] * sd[1]) < -0.99 and sd[0] / sd[1] > 50
    with model:
        approx = cr.fit(30_000, method="fullrank_advi", random_seed=0, progressbar=False)
    assert approx.map_result is not None and np.isfinite(float(approx.map_result.logdensity))
    fitted_mean = np.array([approx.mean["a"], approx.mean["b"]])
    fitted_sd = np.array([approx.std["a"], approx.std["b"]])
    assert np.all(np.abs(fitted_mean - mean) < 0.25 * sd)
    np.testing.assert_allclose(fitted_sd, sd, rtol=0.3)
    correlation = approx.cov[0, 1] / np.sqrt(approx.cov[0, 0] * approx.cov[1, 1])
    assert correlation < -0.98


def test_find_map_returns_constrained_values_and_deterministics():
    y = np.array([0.9, 1.3, 0.8, 1.1, 1.4])
    with cr.Model():
        mu = cr.Normal("mu", 0, 10)
        sigma = cr.HalfNormal("sigma", 1)
        cr.Deterministic("twice", 2 * mu)
        cr.Normal("y", mu, sigma, observed=y)
        point = cr.find_MAP(method="lbfgs", maxiter=500, random_seed=0)
        point_raw, result = cr.find_MAP(return_raw=True, start={"mu": 3.0})
    assert set(point) == {"mu", "sigma", "twice"}
    assert abs(float(point["mu"]) - y.mean()) < 0.01  # the prior is nearly flat
    assert float(point["sigma"]) > 0
    np.testing.assert_allclose(point["twice"], 2 * point["mu"], rtol=1e-6)
    np.testing.assert_allclose(point_raw["mu"], point["mu"], atol=1e-3)
    assert np.isfinite(float(result.logdensity))


def test_find_map_rejects_unknown_method_and_start():
    with cr.Model():
        cr.Normal("mu", 0, 1)
        with pytest.raises(FitError, match="unknown method"):
            cr.find_MAP(method="powell")
        with pytest.raises(ValueError, match="not free variables"):
            cr.find_MAP(start={"nu": 1.0})


def test_laplace_is_the_gaussian_at_the_mode(regression):
    model, mean, cov = regression
    with model:
        approx = cr.fit(method="laplace", random_seed=0)
    assert len(approx.hist) == 0
    np.testing.assert_allclose(approx.mean_unconstrained, mean, rtol=1e-4)
    np.testing.assert_allclose(approx.cov, cov, rtol=2e-2)
    draws = approx.sample(2000, random_seed=1, return_inferencedata=False)
    assert abs(draws["b"].mean() - mean[1]) < 0.1 * np.sqrt(cov[1, 1])
    approx = approx.refine(200, progressbar=False)  # continues as full-rank ADVI
    assert len(approx.hist) == 200


@pytest.mark.slow
def test_init_map_falls_back_with_a_warning_when_there_is_no_mode():
    # A centred hierarchical model: the density is unbounded as tau -> 0 (no mode).
    with cr.Model():
        tau = cr.HalfNormal("tau", 5)
        theta = cr.Normal("theta", 0, tau, shape=4)
        cr.Normal("y", theta, 100.0, observed=np.zeros(4))
        with pytest.warns(UserWarning, match="init='map'"):
            approx = cr.fit(100, method="fullrank_advi", random_seed=0, progressbar=False)
    assert np.isfinite(approx.hist).all()


def test_unknown_init_is_refused():
    with gaussian_model():
        with pytest.raises(FitError, match="unknown init"):
            cr.fit(10, init="prior", progressbar=False)
