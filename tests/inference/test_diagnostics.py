"""The importance-sampling verdict (Pareto k-hat) on approximations, and PSIS-resampled draws."""

import warnings

import arviz as az
import jax
import numpy as np
import pytest
from targets import correlated_gaussian

import credo as cr
from credo.errors import ApproximationWarning, FitError
from credo.inference.diagnostics import diagnose, importance_draws, psis


@pytest.fixture(scope="module")
def correlated():
    """A 2-d Gaussian with correlation 0.95 and unit scales: mean-field's sds are sqrt(1 - 0.95**2) = 0.31."""
    model, reference, covariance = correlated_gaussian(rho=0.95, scales=(1.0, 1.0))
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore", ApproximationWarning)
        meanfield = cr.fit(n=10_000, random_seed=0, progressbar=False, obj_optimizer=cr.adagrad_window(1e-2))
        laplace = cr.fit(method="laplace", random_seed=0)
    return model, reference, covariance, meanfield, laplace


@pytest.mark.slow
def test_an_exact_gaussian_gets_a_small_khat(correlated):
    # The Laplace approximation of a Gaussian is the Gaussian itself: log p - log q is constant.
    _, _, _, _, laplace = correlated
    diagnosis = laplace.diagnose(draws=1000, random_seed=1)
    assert diagnosis.khat < 0.5 and diagnosis.verdict == "good"
    assert diagnosis.ess > 990  # equal weights, up to float32 rounding of log p - log q


def test_meanfield_on_a_correlated_gaussian_gets_a_large_khat(correlated):
    _, _, _, meanfield, _ = correlated
    # Mean-field's optimum has sds sqrt(1 - 0.95**2) = 0.31 (windowed adagrad's noise inflates them 10-20%).
    assert np.all(meanfield.std["x"] < 0.4)
    diagnosis = meanfield.diagnose(draws=1000, random_seed=1)
    assert diagnosis.khat > 0.7 and diagnosis.verdict == "bad"
    assert diagnosis.ess < 200  # few draws carry the weight


def test_psis_resampling_moves_the_marginals_towards_the_truth(correlated):
    # Mean-field's sds are 0.31 where the truth is 1; importance resampling of 4,000 draws widens them
    # (measured 0.58): the Monte Carlo sd of a sd estimated from ~ESS 300 effective draws is ~0.04,
    # so asking for more than 0.45 leaves 3 sds of room while failing if the resampling did nothing.
    _, reference, covariance, meanfield, _ = correlated
    plain = meanfield.sample(4000, random_seed=2, return_inferencedata=False)["x"]
    resampled = meanfield.sample(4000, random_seed=2, return_inferencedata=False, importance="psis")["x"]
    assert np.all(plain.std(0) < 0.4)
    assert np.all(resampled.std(0) > 0.45)
    assert np.corrcoef(resampled.T)[0, 1] > 0.7  # the correlation mean-field cannot represent comes back
    # Resampled draws are draws of the approximation, repeated.
    flat_plain = np.unique(resampled[:, 0]).size
    assert flat_plain < 4000


def test_psis_matches_arviz_and_the_ess_formula(correlated):
    _, _, _, meanfield, _ = correlated
    key = jax.random.key(3)
    _, log_ratios = importance_draws(meanfield, key, 500)
    log_weights, khat = psis(log_ratios)
    expected_weights, expected_khat = az.psislw(log_ratios - log_ratios.max())
    np.testing.assert_allclose(log_weights, expected_weights, rtol=1e-6, atol=1e-8)
    assert khat == pytest.approx(float(expected_khat))
    diagnosis = diagnose(meanfield, 500, key)
    assert diagnosis.khat == pytest.approx(khat)
    assert diagnosis.ess == pytest.approx(1.0 / np.sum(np.exp(expected_weights) ** 2))


def test_every_fit_ends_with_a_verdict_and_warns_when_it_is_bad(correlated):
    model = correlated[0]
    with model:
        with pytest.warns(ApproximationWarning, match="k-hat"):
            approx = cr.fit(n=2000, random_seed=0, progressbar=False, obj_optimizer=cr.adagrad_window(1e-2))
    assert approx.diagnosis is not None and approx.diagnosis.khat > 0.7
    assert approx.diagnosis.num_draws == cr.config().diagnose_draws


def test_the_verdict_can_be_turned_off(correlated):
    model = correlated[0]
    cr.config(diagnose_draws=0)
    try:
        with model, warnings.catch_warnings():
            warnings.simplefilter("error", ApproximationWarning)
            approx = cr.fit(n=2000, random_seed=0, progressbar=False, obj_optimizer=cr.adagrad_window(1e-2))
    finally:
        cr.config(diagnose_draws=256)
    assert approx.diagnosis is None
    with pytest.raises(cr.errors.ConfigError, match="diagnose_draws"):
        cr.config(diagnose_draws=3)


def test_a_large_model_leaves_the_closing_verdict_out_and_says_how_to_get_it(monkeypatch):
    from credo.inference import diagnostics

    rng = np.random.default_rng(0)
    with cr.Model():
        w = cr.Normal("w", 0, 1, shape=3)
        cr.Normal("y", cr.math.dot(rng.normal(size=(50, 3)), w), 1, observed=rng.normal(size=50))
        # 256 draws x 3 parameters x 50 rows = 38,400: just over a budget of 38,399
        monkeypatch.setattr(diagnostics, "VERDICT_BUDGET", 256 * 3 * 50 - 1)
        approx = cr.fit(n=500, random_seed=0, progressbar=False)
        assert approx.diagnosis.verdict == "undefined" and "approx.diagnose(" in approx.diagnosis.reason
        monkeypatch.setattr(diagnostics, "VERDICT_BUDGET", 256 * 3 * 50)
        assert np.isfinite(cr.fit(n=500, random_seed=0, progressbar=False).diagnosis.khat)
    assert np.isfinite(approx.diagnose(draws=256).khat)


def test_bad_importance_and_draws_are_refused(correlated):
    _, _, _, meanfield, _ = correlated
    with pytest.raises(FitError, match="importance"):
        meanfield.sample(10, importance="is")
    with pytest.raises(FitError, match="draws"):
        meanfield.diagnose(draws=1)
