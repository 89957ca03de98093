"""Prior and posterior predictive sampling: shapes, set_data, groups, reproducibility."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

import credo as cr

ROWS = 20
X_TRAIN = np.linspace(-1.0, 1.0, ROWS)
Y_TRAIN = 1.5 * X_TRAIN - 0.5 + np.random.default_rng(0).normal(0, 0.3, ROWS)
X_TEST = np.linspace(-2.0, 2.0, 7)
Y_TEST = 1.5 * X_TEST - 0.5
CHAINS, DRAWS = 2, 60


def regression_model(observed_as_data: bool = True):
    """``y ~ N(w x + b, 0.3)`` with ``x`` (and optionally ``y``) as ``cr.Data``; ``mu`` is deterministic."""
    with cr.Model() as model:
        x = cr.Data("x", X_TRAIN)
        y = cr.Data("y", Y_TRAIN) if observed_as_data else Y_TRAIN
        w = cr.Normal("w", 0, 1)
        b = cr.Normal("b", 0, 1)
        mu = cr.Deterministic("mu", w * x + b)
        cr.Normal("obs", mu, 0.3, observed=y)
    return model


@pytest.fixture(scope="module")
def posterior():
    """Two chains of hand-made posterior draws (as from approx.sample or cr.sample)."""
    rng = np.random.default_rng(1)
    return az.from_dict(posterior={"w": rng.normal(1.5, 0.05, (CHAINS, DRAWS)),
                                   "b": rng.normal(-0.5, 0.05, (CHAINS, DRAWS))})


def test_every_draw_by_default(posterior):
    with regression_model():
        ppc = cr.sample_posterior_predictive(posterior, random_seed=0)
    assert ppc.posterior_predictive["obs"].shape == (CHAINS, DRAWS, ROWS)
    np.testing.assert_allclose(ppc.observed_data["obs"].values, Y_TRAIN, rtol=1e-6)
    # draws follow the posterior: their mean is close to w x + b
    mean = ppc.posterior_predictive["obs"].values.mean((0, 1))
    np.testing.assert_allclose(mean, 1.5 * X_TRAIN - 0.5, atol=4 * 0.31 / np.sqrt(CHAINS * DRAWS) + 0.02)


def test_samples_gives_one_chain(posterior):
    with regression_model():
        ppc = cr.sample_posterior_predictive(posterior, samples=25, random_seed=0)
    assert ppc.posterior_predictive["obs"].shape == (1, 25, ROWS)
    assert ppc.posterior_predictive["obs"].dims[:2] == ("chain", "draw")


@pytest.mark.parametrize("samples", [0, -1, CHAINS * DRAWS + 1])
def test_samples_out_of_range(posterior, samples):
    with regression_model():
        with pytest.raises(ValueError, match="samples"):
            cr.sample_posterior_predictive(posterior, samples=samples)


def test_new_inputs_of_another_length_without_targets(posterior):
    model = regression_model()
    with model:
        cr.set_data({"x": X_TEST})
        ppc = cr.sample_posterior_predictive(posterior, samples=30, random_seed=0)
    assert ppc.posterior_predictive["obs"].shape == (1, 30, X_TEST.size)
    # the training targets are stale: no observed_data group
    assert "observed_data" not in ppc.groups()
    mean = ppc.posterior_predictive["obs"].values.mean((0, 1))
    np.testing.assert_allclose(mean, Y_TEST, atol=0.35)


def test_new_inputs_and_targets(posterior):
    with regression_model():
        cr.set_data({"x": X_TEST, "y": Y_TEST})
        ppc = cr.sample_posterior_predictive(posterior, samples=30, random_seed=0)
    assert ppc.posterior_predictive["obs"].shape == (1, 30, X_TEST.size)
    assert "observed_data" in ppc.groups()
    np.testing.assert_allclose(ppc.observed_data["obs"].values, Y_TEST, rtol=1e-6)


def test_observed_array_not_data_follows_new_inputs(posterior):
    """Observed values given as a plain array: the test set needs no dummy y."""
    with regression_model(observed_as_data=False):
        cr.set_data({"x": X_TEST})
        ppc = cr.sample_posterior_predictive(posterior, samples=10, random_seed=0)
    assert ppc.posterior_predictive["obs"].shape == (1, 10, X_TEST.size)
    assert "observed_data" not in ppc.groups()


def test_a_single_new_row(posterior):
    with regression_model():
        cr.set_data({"x": X_TEST[:1]})
        ppc = cr.sample_posterior_predictive(posterior, samples=10, random_seed=0)
    assert ppc.posterior_predictive["obs"].shape == (1, 10, 1)


def test_set_data_back_to_training_length(posterior):
    model = regression_model()
    with model:
        cr.set_data({"x": X_TEST})
        short = cr.sample_posterior_predictive(posterior, samples=10, random_seed=0)
        cr.set_data({"x": X_TRAIN})
        full = cr.sample_posterior_predictive(posterior, samples=10, random_seed=0)
    assert short.posterior_predictive["obs"].shape == (1, 10, X_TEST.size)
    assert full.posterior_predictive["obs"].shape == (1, 10, ROWS)
    assert "observed_data" in full.groups()


def test_var_names_with_a_deterministic(posterior):
    with regression_model():
        cr.set_data({"x": X_TEST})
        ppc = cr.sample_posterior_predictive(posterior, var_names=["mu", "obs"], random_seed=0)
    group = ppc.posterior_predictive
    assert set(group.data_vars) == {"mu", "obs"}
    assert group["mu"].shape == (CHAINS, DRAWS, X_TEST.size)
    # the deterministic is recomputed from each draw with the new inputs
    w = posterior.posterior["w"].values[..., None]
    b = posterior.posterior["b"].values[..., None]
    np.testing.assert_allclose(group["mu"].values, w * X_TEST + b, rtol=1e-5, atol=1e-5)


def test_var_names_deterministic_only_with_samples(posterior):
    with regression_model():
        ppc = cr.sample_posterior_predictive(posterior, samples=40, var_names=["mu"], random_seed=0)
    assert list(ppc.posterior_predictive.data_vars) == ["mu"]
    assert ppc.posterior_predictive["mu"].shape == (1, 40, ROWS)
    # each draw is w x + b for one of the posterior's (w, b) pairs, 40 distinct ones
    mu = ppc.posterior_predictive["mu"].values[0]
    slopes = (mu[:, -1] - mu[:, 0]) / (X_TRAIN[-1] - X_TRAIN[0])
    intercepts = mu[:, 0] - slopes * X_TRAIN[0]
    pairs = np.stack([posterior.posterior["w"].values.ravel(), posterior.posterior["b"].values.ravel()], axis=1)
    distance = np.abs(pairs[None, :, :] - np.stack([slopes, intercepts], axis=1)[:, None, :]).max(axis=2)
    matches = distance.argmin(axis=1)
    assert distance.min(axis=1).max() < 1e-4
    assert len(set(matches.tolist())) == 40


def test_unknown_var_names(posterior):
    with regression_model():
        with pytest.raises(ValueError, match="not_there"):
            cr.sample_posterior_predictive(posterior, var_names=["not_there"])


def test_posterior_predictive_reproducible(posterior):
    model = regression_model()
    with model:
        first = cr.sample_posterior_predictive(posterior, samples=20, random_seed=5)
        second = cr.sample_posterior_predictive(posterior, samples=20, random_seed=5)
        other = cr.sample_posterior_predictive(posterior, samples=20, random_seed=6)
    np.testing.assert_array_equal(first.posterior_predictive["obs"].values,
                                  second.posterior_predictive["obs"].values)
    assert not np.array_equal(first.posterior_predictive["obs"].values, other.posterior_predictive["obs"].values)


def test_posterior_predictive_from_a_fitted_approximation():
    with regression_model() as model:
        approx = cr.fit(500, random_seed=0, progressbar=False)
    idata = approx.sample(100, random_seed=1)
    assert idata.posterior["mu"].shape == (1, 100, ROWS)
    with model:
        cr.set_data({"x": X_TEST})
        ppc = cr.sample_posterior_predictive(idata, samples=50, random_seed=2)
    assert ppc.posterior_predictive["obs"].shape == (1, 50, X_TEST.size)


# --- prior predictive -------------------------------------------------------------

PRIOR_MEAN, PRIOR_SD = 2.0, 3.0


def prior_model():
    with cr.Model() as model:
        x = cr.Data("x", X_TRAIN)
        w = cr.Normal("w", PRIOR_MEAN, PRIOR_SD)
        scale = cr.HalfNormal("scale", 1.0)
        mu = cr.Deterministic("mu", w * x)
        cr.Normal("obs", mu, scale, observed=Y_TRAIN)
    return model


def test_prior_predictive_groups_and_shapes():
    with prior_model():
        prior = cr.sample_prior_predictive(samples=4000, random_seed=0)
    assert {"prior", "prior_predictive", "observed_data"} <= set(prior.groups())
    assert prior.prior["w"].shape == (1, 4000)
    assert prior.prior["scale"].shape == (1, 4000)
    assert prior.prior["mu"].shape == (1, 4000, ROWS)
    assert prior.prior_predictive["obs"].shape == (1, 4000, ROWS)
    np.testing.assert_allclose(prior.observed_data["obs"].values, Y_TRAIN, rtol=1e-6)

    # moments of the prior within Monte Carlo error
    w = prior.prior["w"].values.ravel()
    n = w.size
    assert abs(w.mean() - PRIOR_MEAN) < 4 * PRIOR_SD / np.sqrt(n)
    assert abs(w.var() / PRIOR_SD**2 - 1) < 4 * np.sqrt(2 / (n - 1))
    scale = prior.prior["scale"].values.ravel()
    assert (scale > 0).all()
    assert abs(scale.mean() - np.sqrt(2 / np.pi)) < 4 * np.sqrt(1 - 2 / np.pi) / np.sqrt(n)
    # mu is w x for the same draws, and the observations scatter around it
    np.testing.assert_allclose(prior.prior["mu"].values[0], w[:, None] * X_TRAIN, rtol=1e-5, atol=1e-5)
    obs = prior.prior_predictive["obs"].values[0]
    last = X_TRAIN[-1]  # E[obs] = 2 x, Var[obs] = 9 x^2 + E[scale^2] = 9 x^2 + 1
    assert abs(obs[:, -1].mean() - PRIOR_MEAN * last) < 4 * np.sqrt(PRIOR_SD**2 * last**2 + 1) / np.sqrt(n)


def test_prior_predictive_follows_set_data():
    with prior_model():
        cr.set_data({"x": X_TEST})
        prior = cr.sample_prior_predictive(samples=50, random_seed=0)
    assert prior.prior["mu"].shape == (1, 50, X_TEST.size)
    assert prior.prior_predictive["obs"].shape == (1, 50, X_TEST.size)
    assert "observed_data" not in prior.groups()


def test_prior_predictive_reproducible():
    model = prior_model()
    with model:
        first = cr.sample_prior_predictive(samples=30, random_seed=3)
        second = cr.sample_prior_predictive(samples=30, random_seed=3)
        other = cr.sample_prior_predictive(samples=30, random_seed=4)
    for group, name in [("prior", "w"), ("prior", "scale"), ("prior_predictive", "obs")]:
        np.testing.assert_array_equal(first[group][name].values, second[group][name].values)
        assert not np.array_equal(first[group][name].values, other[group][name].values)


@pytest.mark.parametrize("samples", [0, -3, 2.5])
def test_prior_predictive_bad_samples(samples):
    with prior_model():
        with pytest.raises(ValueError, match="samples"):
            cr.sample_prior_predictive(samples=samples)
