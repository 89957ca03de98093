"""InferenceData as PyMC 5 fills it: log-likelihood, coords and dims in every group, predictions, dicts."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
from scipy import stats

import credo as cr
from credo.errors import ArgumentError

RNG = np.random.default_rng(0)
X = RNG.normal(size=6)
SCHOOL = np.array([0, 1, 2, 0, 1, 2])
Y = RNG.normal(size=6)
Z = RNG.poisson(2.0, size=(2, 3))


def make_model():
    """The model of PyMC's reference run below, with coords and dims recorded by hand (PyMC 5 semantics)."""
    with cr.Model() as model:
        x = cr.Data("x", X)
        onehot = cr.Data("onehot", np.eye(3)[SCHOOL])
        mu = cr.Normal("mu", 0, 1)
        theta = cr.Normal("theta", mu, 1, shape=3)
        w = cr.Normal("w", 0, 1, shape=2)
        det = cr.Deterministic("det", onehot @ theta + w[0] * x)
        sigma = cr.HalfNormal("sigma", 1)
        cr.Normal("y", det, sigma, observed=Y)
        cr.Poisson("z", cr.math.exp(mu), observed=Z)
    model.coords.update({"school": ("a", "b", "c"), "obs_id": tuple(range(6))})
    model.named_vars_to_dims.update({"x": ("obs_id",), "onehot": ("obs_id", "school"), "theta": ("school",),
                                     "det": ("obs_id",), "y": ("obs_id",)})
    return model


def layout(idata) -> dict:
    return {group: {name: (value.dims, value.shape) for name, value in idata[group].data_vars.items()}
            for group in idata.groups()}


# What PyMC 5.28 writes for the same model (pm.Data(..., dims=...), theta dims="school", y dims="obs_id";
# written down from a run of /work/venv-pymc: pm.fit().sample(10), pm.sample(idata_kwargs={"log_likelihood":
# True}), sample_posterior_predictive with and without predictions=True after set_data on 4 rows).
POSTERIOR = {"mu": ("chain", "draw"), "theta": ("chain", "draw", "school"), "w": ("chain", "draw", "w_dim_0"),
             "det": ("chain", "draw", "obs_id"), "sigma": ("chain", "draw")}
OBSERVED = {"y": (("obs_id",), (6,)), "z": (("z_dim_0", "z_dim_1"), (2, 3))}
CONSTANT = {"x": (("obs_id",), (6,)), "onehot": (("obs_id", "school"), (6, 3))}
LOG_LIKELIHOOD = {"y": ("chain", "draw", "obs_id"), "z": ("chain", "draw", "z_dim_0", "z_dim_1")}


@pytest.fixture(scope="module")
def fitted():
    model = make_model()
    with model:
        approx = cr.fit(3000, random_seed=0, progressbar=False)
    return model, approx


@pytest.mark.filterwarnings("ignore:Estimated shape parameter of Pareto")  # arviz on 40 draws
def test_approx_sample_groups_dims_and_log_likelihood_match_a_hand_computation(fitted):
    model, approx = fitted
    idata = approx.sample(40, random_seed=1, idata_kwargs={"log_likelihood": True})
    found = layout(idata)
    assert set(idata.groups()) == {"posterior", "log_likelihood", "observed_data", "constant_data"}
    assert {name: dims for name, (dims, _) in found["posterior"].items()} == POSTERIOR
    assert found["observed_data"] == OBSERVED and found["constant_data"] == CONSTANT
    assert {name: dims for name, (dims, _) in found["log_likelihood"].items()} == LOG_LIKELIHOOD
    assert list(idata.posterior["theta"].school.values) == ["a", "b", "c"]
    assert idata.posterior["theta"].sel(school="b").shape == (1, 40)
    # Pointwise, elementwise, against scipy draw by draw.
    post = idata.posterior
    mean = np.asarray(post["det"])[0]
    expected_y = stats.norm.logpdf(Y, mean, np.asarray(post["sigma"])[0][:, None])
    np.testing.assert_allclose(idata.log_likelihood["y"].values[0], expected_y, rtol=1e-5, atol=1e-5)
    rate = np.exp(np.asarray(post["mu"])[0])[:, None, None]
    np.testing.assert_allclose(idata.log_likelihood["z"].values[0], stats.poisson.logpmf(Z, rate), rtol=1e-5,
                               atol=1e-5)
    loo = az.loo(idata, var_name="y")
    assert np.isfinite(loo.elpd_loo) and loo.n_data_points == 6


def test_compute_log_likelihood_is_not_scaled_by_total_size():
    with cr.Model() as model:
        mu = cr.Normal("mu", 0, 1)
        cr.Normal("y", mu, 1, observed=Y, total_size=600)
        idata = cr.fit(500, random_seed=0, progressbar=False).sample(30, random_seed=1)
    group = cr.compute_log_likelihood(idata, extend_inferencedata=False, model=model)
    expected = stats.norm.logpdf(Y, np.asarray(idata.posterior["mu"])[0][:, None], 1)
    np.testing.assert_allclose(group["y"].values[0], expected, rtol=1e-5, atol=1e-5)
    assert "log_likelihood" not in idata.groups()
    assert cr.compute_log_likelihood(idata, model=model) is idata and "log_likelihood" in idata.groups()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.sort_values")  # arviz under pandas 3
def test_nuts_log_likelihood_loo_and_compare():
    models = {}
    for name, slope in (("linear", True), ("constant", False)):
        with cr.Model():
            x = cr.Data("x", X)
            a = cr.Normal("a", 0, 1)
            b = cr.Normal("b", 0, 1) if slope else 0.0
            cr.Normal("y", a + b * x, 1, observed=Y)
            models[name] = cr.sample(draws=200, tune=200, chains=2, random_seed=0, progressbar=False,
                                     idata_kwargs={"log_likelihood": True})
    linear = models["linear"]
    assert linear.log_likelihood["y"].dims == ("chain", "draw", "y_dim_0")
    assert linear.log_likelihood["y"].shape == (2, 200, 6)
    expected = stats.norm.logpdf(Y, linear.posterior["a"].values[..., None]
                                 + linear.posterior["b"].values[..., None] * X, 1)
    np.testing.assert_allclose(linear.log_likelihood["y"].values, expected, rtol=1e-5, atol=1e-5)
    assert np.isfinite(az.waic(linear).elpd_waic)
    comparison = az.compare(models)
    assert set(comparison.index) == {"linear", "constant"}


@pytest.mark.slow
def test_predictions_extend_and_dicts(fitted):
    model, approx = fitted
    idata = approx.sample(20, random_seed=1)
    with model:
        ppc = cr.sample_posterior_predictive(idata, random_seed=2)
        found = layout(ppc)
        assert found["posterior_predictive"] == {"y": (("chain", "draw", "obs_id"), (1, 20, 6)),
                                                 "z": (("chain", "draw", "z_dim_0", "z_dim_1"), (1, 20, 2, 3))}
        assert found["observed_data"] == OBSERVED and found["constant_data"] == CONSTANT
        plain = cr.sample_posterior_predictive(idata, random_seed=2, return_inferencedata=False)
        assert {name: value.shape for name, value in plain.items()} == {"y": (1, 20, 6), "z": (1, 20, 2, 3)}
        np.testing.assert_array_equal(plain["y"], ppc.posterior_predictive["y"].values)
        cr.set_data({"x": X[:4], "onehot": np.eye(3)[SCHOOL[:4]]})
        model.coords["obs_id"] = (6, 7, 8, 9)  # what set_data(..., coords=...) records
        result = cr.sample_posterior_predictive(idata, random_seed=3, predictions=True, extend_inferencedata=True)
        cr.set_data({"x": X, "onehot": np.eye(3)[SCHOOL]})
        model.coords["obs_id"] = tuple(range(6))
    assert result is idata
    found = layout(idata)
    assert found["predictions"]["y"] == (("chain", "draw", "obs_id"), (1, 20, 4))
    assert found["predictions_constant_data"] == {"x": (("obs_id",), (4,)), "onehot": (("obs_id", "school"), (4, 3))}
    assert list(idata.predictions["y"].obs_id.values) == [6, 7, 8, 9]
    assert "posterior_predictive" not in idata.groups()
    with pytest.raises(KeyError, match=r"idata.predictions\['y'\]"):
        idata["y"]
    with pytest.raises(KeyError, match=r"ppc.posterior_predictive\['y'\]|idata.posterior_predictive\['y'\]"):
        ppc["y"]
    prior = cr.sample_prior_predictive(15, model=model, random_seed=0)
    found = layout(prior)
    assert set(found) == {"prior", "prior_predictive", "observed_data", "constant_data"}
    assert {name: dims for name, (dims, _) in found["prior"].items()} == POSTERIOR
    assert found["prior_predictive"]["y"] == (("chain", "draw", "obs_id"), (1, 15, 6))
    plain_prior = cr.sample_prior_predictive(15, model=model, random_seed=0, return_inferencedata=False)
    np.testing.assert_array_equal(plain_prior["theta"], prior.prior["theta"].values[0])


def test_sample_ppc_is_the_deprecated_name(fitted):
    model, approx = fitted
    idata = approx.sample(10, random_seed=1)
    with model, pytest.warns(DeprecationWarning, match="sample_posterior_predictive"):
        ppc = cr.sample_ppc(idata, random_seed=2)
    with model:
        np.testing.assert_array_equal(ppc.posterior_predictive["y"].values,
                                      cr.sample_posterior_predictive(idata, random_seed=2).posterior_predictive["y"])


def test_bad_posterior_draws_are_clear_errors(fitted):
    model, approx = fitted
    draws = approx.sample(10, random_seed=1, return_inferencedata=False)
    with model:
        with pytest.raises(ArgumentError, match="got None for the posterior draws"):
            cr.sample_posterior_predictive(None)
        one_chain = cr.sample_posterior_predictive(draws, random_seed=0)  # (draw, ...) arrays: one chain
        assert one_chain.posterior_predictive["y"].shape == (1, 10, 6)
        with pytest.raises(ArgumentError, match=r"'theta' have shape \(10, 2\); this model needs \('chains', "
                                                r"'draws', 3\)"):
            cr.sample_posterior_predictive(dict(draws, theta=draws["theta"][:, :2]))
        shaped = {name: value[None] for name, value in draws.items()}
        shaped["theta"] = shaped["theta"][..., :2]
        with pytest.raises(ArgumentError, match=r"'theta' have shape \(1, 10, 2\)"):
            cr.sample_posterior_predictive(shaped)
        with pytest.raises(ArgumentError, match="free variables \\['mu'"):
            cr.sample_posterior_predictive({"w": draws["w"][None]})
        with pytest.raises(ArgumentError, match="an InferenceData with a posterior group"):
            cr.sample_posterior_predictive(np.zeros(3))
        with pytest.raises(ArgumentError, match="var_names \\['nope'\\]"):
            cr.sample_posterior_predictive({n: v[None] for n, v in draws.items()}, var_names=["nope"])
        with pytest.raises(ArgumentError, match="extend_inferencedata=True needs an InferenceData"):
            cr.sample_posterior_predictive({n: v[None] for n, v in draws.items()}, extend_inferencedata=True)
        with pytest.raises(TypeError, match="idata_kwargs .*'log_likelihod'"):
            approx.sample(5, idata_kwargs={"log_likelihod": True})
    plain = cr.sample_posterior_predictive({n: v[None] for n, v in draws.items()}, model=model, random_seed=0,
                                           return_inferencedata=False)
    assert plain["y"].shape == (1, 10, 6)


def test_a_multivariate_likelihood_has_one_value_per_event_and_drops_the_event_dims():
    values = RNG.normal(size=(4, 2))
    with cr.Model() as model:
        mu = cr.Normal("mu", 0, 1, shape=2)
        cr.MvNormal("obs", mu=mu, cov=np.eye(2), observed=values)
    model.coords.update({"row": tuple("abcd"), "feature": ("u", "v")})
    model.named_vars_to_dims.update({"obs": ("row", "feature")})
    with model:
        idata = cr.fit(300, random_seed=0, progressbar=False).sample(
            25, random_seed=1, idata_kwargs={"log_likelihood": True})
    assert idata.log_likelihood["obs"].dims == ("chain", "draw", "row")
    assert idata.observed_data["obs"].dims == ("row", "feature")
    expected = np.stack([stats.multivariate_normal.logpdf(values, m, np.eye(2))
                         for m in idata.posterior["mu"].values[0]])
    np.testing.assert_allclose(idata.log_likelihood["obs"].values[0], expected, rtol=1e-5, atol=1e-5)


def test_credo_inference_data_pickles_and_saves(fitted, tmp_path):
    import pickle

    _, approx = fitted
    idata = approx.sample(5, random_seed=1)
    again = pickle.loads(pickle.dumps(idata))
    assert type(again) is type(idata) and isinstance(again, az.InferenceData)
    np.testing.assert_array_equal(again.posterior["theta"].values, idata.posterior["theta"].values)
    idata.to_netcdf(str(tmp_path / "idata.nc"))
    assert az.from_netcdf(str(tmp_path / "idata.nc")).posterior["theta"].dims == ("chain", "draw", "school")
