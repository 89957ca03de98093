"""A PyMC 5 workflow ported with only ``pm`` -> ``cr``: a hierarchical model with coords and dims, data
containers, NUTS with the log-likelihood, LOO and a comparison of two models, out-of-sample predictions.

The code in ``WORKFLOW`` is PyMC 5 code as its documentation writes it, with ``pm`` replaced by ``cr``;
the expected groups, dims and shapes are those PyMC 5 writes for it (see the comments).
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

import credo as cr

pytestmark = pytest.mark.slow  # two NUTS runs

RNG = np.random.default_rng(1)
GROUPS = ("north", "south", "east", "west")
GROUP_INDEX = RNG.integers(0, 4, size=40)
X = RNG.normal(size=40)
Y = np.array([-1.0, 0.0, 0.5, 1.5])[GROUP_INDEX] + 0.8 * X + RNG.normal(0, 0.5, size=40)


def hierarchical(pooled: bool):
    coords = {"group": GROUPS, "obs_id": np.arange(40)}
    with cr.Model(coords=coords) as model:
        x = cr.Data("x", X, dims="obs_id")
        group_idx = cr.Data("group_idx", GROUP_INDEX, dims="obs_id")
        mu_a = cr.Normal("mu_a", 0.0, 2.0)
        b = cr.Normal("b", 0.0, 1.0)
        sigma = cr.HalfNormal("sigma", 1.0)
        if pooled:
            cr.Normal("y", mu=mu_a + b * x, sigma=sigma, observed=Y, dims="obs_id")
        else:
            sigma_a = cr.HalfNormal("sigma_a", 1.0)
            a_offset = cr.Normal("a_offset", 0.0, 1.0, dims="group")
            a = cr.Deterministic("a", mu_a + sigma_a * a_offset, dims="group")
            cr.Normal("y", mu=a[group_idx] + b * x, sigma=sigma, observed=Y, dims="obs_id")
    return model


@pytest.fixture(scope="module")
def traces():
    traces = {}
    for name, pooled in (("hierarchical", False), ("pooled", True)):
        with hierarchical(pooled) as model:
            traces[name] = cr.sample(draws=300, tune=300, chains=2, random_seed=0, progressbar=False,
                                     idata_kwargs={"log_likelihood": True})
        traces[name + "_model"] = model
    return traces


def test_groups_dims_and_shapes_are_pymcs(traces):
    idata = traces["hierarchical"]
    # what pm.sample(idata_kwargs={"log_likelihood": True}) writes for this model
    assert {"posterior", "sample_stats", "log_likelihood", "observed_data", "constant_data"} <= set(idata.groups())
    assert idata.posterior["a_offset"].dims == ("chain", "draw", "group")
    assert idata.posterior["a"].dims == ("chain", "draw", "group")
    assert idata.posterior["mu_a"].shape == (2, 300)
    assert list(idata.posterior["group"].values) == list(GROUPS)
    assert idata.log_likelihood["y"].dims == ("chain", "draw", "obs_id")
    assert idata.observed_data["y"].dims == ("obs_id",)
    assert idata.constant_data["x"].dims == ("obs_id",)
    assert idata.constant_data["group_idx"].dims == ("obs_id",)
    # label selection works as with PyMC's output
    south = idata.posterior["a"].sel(group="south").values
    np.testing.assert_array_equal(south, idata.posterior["a"].values[..., 1])
    # the pointwise log-likelihood is the Normal density at each observation, draw by draw
    post = idata.posterior
    mu = post["a"].values[..., GROUP_INDEX] + post["b"].values[..., None] * X
    expected = -0.5 * ((Y - mu) / post["sigma"].values[..., None]) ** 2 - np.log(
        post["sigma"].values[..., None] * np.sqrt(2 * np.pi))
    np.testing.assert_allclose(idata.log_likelihood["y"].values, expected, rtol=1e-4, atol=1e-4)


def test_loo_and_compare_prefer_the_model_with_group_intercepts(traces):
    loo = az.loo(traces["hierarchical"])
    assert np.isfinite(loo.elpd_loo)
    comparison = az.compare({"hierarchical": traces["hierarchical"], "pooled": traces["pooled"]})
    # the groups' intercepts differ by up to 2.5 residual sd: the pooled model loses by many standard errors
    assert comparison.index[0] == "hierarchical"
    assert comparison.loc["pooled", "elpd_diff"] > 4 * comparison.loc["pooled", "dse"]


def test_out_of_sample_predictions_with_new_coords(traces):
    idata, model = traces["hierarchical"], traces["hierarchical_model"]
    new_x, new_groups = np.array([0.0, 1.0, -1.0]), np.array([0, 3, 3])
    with model:
        cr.set_data({"x": new_x, "group_idx": new_groups}, coords={"obs_id": [100, 101, 102]})
        cr.sample_posterior_predictive(idata, predictions=True, extend_inferencedata=True, random_seed=0,
                                       progressbar=False)
    predictions = idata.predictions["y"]
    assert predictions.dims == ("chain", "draw", "obs_id")
    assert list(predictions["obs_id"].values) == [100, 101, 102]
    # the predictive mean is the posterior mean of a[group] + b * x
    post = idata.posterior
    mean = (post["a"].values[..., new_groups] + post["b"].values[..., None] * new_x).mean(axis=(0, 1))
    sd = post["sigma"].values.mean()
    np.testing.assert_allclose(predictions.mean(("chain", "draw")).values, mean, atol=5 * sd / np.sqrt(600))
