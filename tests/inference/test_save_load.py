"""approx.save / cr.load_approximation: no pickle, checked against the model, exact continuation."""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import optax
import pytest

import credo as cr
from credo.inference.io import ApproximationFileError

Y = np.array([0.3, 1.2, 0.8, 1.9, 1.1, 0.7])


def make_model(shape=3):
    with cr.Model() as model:
        x = cr.Data("x", np.linspace(-1, 1, 6))
        w = cr.Normal("w", 0, 1, shape=shape)
        sigma = cr.HalfNormal("sigma", 1)
        mu = cr.Deterministic("mu", w[0] + w[1] * x)
        cr.Normal("y", mu, sigma, observed=Y)
    return model


@pytest.fixture(scope="module")
def model():
    return make_model()


@pytest.mark.parametrize("method", ["advi", pytest.param("fullrank_advi", marks=pytest.mark.slow)])
def test_save_load_sample_refine_round_trip(model, tmp_path, method):
    path = tmp_path / f"{method}.npz"
    with model:
        approx = cr.fit(1500, method=method, random_seed=0, progressbar=False)
    approx.save(path)
    with model:
        loaded = cr.load_approximation(path)
    np.testing.assert_array_equal(loaded.hist, approx.hist)
    assert loaded.num_steps == approx.num_steps and loaded.family.name == approx.family.name
    first = approx.sample(200, random_seed=7, return_inferencedata=False)
    second = loaded.sample(200, random_seed=7, return_inferencedata=False)
    for name in ("w", "sigma", "mu"):
        np.testing.assert_array_equal(first[name], second[name])
    with model:
        ppc = cr.sample_posterior_predictive(loaded.sample(50, random_seed=1), random_seed=2)
    assert ppc.posterior_predictive["y"].shape == (1, 50, 6)
    # Continuing the loaded fit equals continuing the original: optimiser state and key were saved.
    approx = approx.refine(700, progressbar=False)
    loaded = loaded.refine(700, progressbar=False)
    np.testing.assert_array_equal(loaded.hist, approx.hist)
    np.testing.assert_allclose(loaded.mean_unconstrained, approx.mean_unconstrained, rtol=1e-6)


def test_custom_optimizer_state_is_checked_against_the_optimizer(model, tmp_path):
    path = tmp_path / "adam.npz"
    with model:
        approx = cr.fit(500, random_seed=0, progressbar=False, obj_optimizer=optax.adam(1e-2))
    approx.save(path)
    with model:
        without = cr.load_approximation(path)  # samples and predicts, cannot refine
        assert without.sample(10, random_seed=0).posterior["w"].shape == (1, 10, 3)
        with pytest.raises(ValueError, match="no optimiser"):
            without.refine(10, progressbar=False)
        with pytest.raises(ApproximationFileError, match="optimiser"):
            cr.load_approximation(path, optimizer=optax.sgd(1e-2))  # a different state layout
        resumed = cr.load_approximation(path, optimizer=optax.adam(1e-2))
    resumed = resumed.refine(100, progressbar=False)
    assert len(resumed.hist) == 600


@pytest.mark.slow  # (laplace files are also checked by test_contracts' save-load round trip)
def test_multi_start_and_laplace_results_save(model, tmp_path):
    with model:
        best = cr.fit(300, random_seed=0, progressbar=False, n_starts=3)
        laplace = cr.fit(method="laplace", random_seed=0)
    best.save(tmp_path / "multi.npz")
    laplace.save(tmp_path / "laplace.npz")
    with model:
        loaded = cr.load_approximation(tmp_path / "multi.npz")
        loaded_laplace = cr.load_approximation(tmp_path / "laplace.npz")
    np.testing.assert_array_equal(loaded.start_losses, best.start_losses)
    np.testing.assert_allclose(loaded_laplace.cov, laplace.cov, rtol=1e-6)


def test_a_file_with_a_pickled_object_is_refused(model, tmp_path):
    path = tmp_path / "approx.npz"
    with model:
        cr.fit(100, random_seed=0, progressbar=False).save(path)
    with np.load(path) as npz:
        arrays = dict(npz)
    arrays["params.mean"] = np.array([{"payload": "os.system"}, 1.0], dtype=object)
    evil = tmp_path / "evil.npz"
    np.savez(evil, **arrays)
    with model, pytest.raises(ApproximationFileError, match="pickled"):
        cr.load_approximation(evil)
    pickle_only = tmp_path / "pickle_only.npz"
    with open(pickle_only, "wb") as handle:
        np.save(handle, np.array([object()], dtype=object), allow_pickle=True)
    with model, pytest.raises(ApproximationFileError, match="not a credo approximation"):
        cr.load_approximation(pickle_only)


def test_a_model_that_does_not_fit_is_refused(model, tmp_path):
    path = tmp_path / "approx.npz"
    with model:
        cr.fit(100, random_seed=0, progressbar=False).save(path)
    with make_model(shape=4), pytest.raises(ApproximationFileError, match=r"'w' had shape \(3,\).*\(4,\)"):
        cr.load_approximation(path)
    with cr.Model():
        cr.Normal("other", 0, 1)
        with pytest.raises(ApproximationFileError, match=r"free variables \['w', 'sigma'\]"):
            cr.load_approximation(path)
    # Shapes in the arrays that disagree with the metadata are caught too.
    with np.load(path) as npz:
        arrays = dict(npz)
    arrays["params.mean"] = np.zeros(7, np.float32)
    tampered = tmp_path / "tampered.npz"
    np.savez(tampered, **arrays)
    with model, pytest.raises(ApproximationFileError, match="'mean' has shape"):
        cr.load_approximation(tampered)
    metadata = json.loads(arrays["__metadata__"].tobytes())
    assert metadata["variables"][1] == {"name": "sigma", "shape": [], "unconstrained_shape": [], "offset": 3,
                                        "size": 1, "transform": "ExpTransform"}
    assert metadata["credo_version"] == cr.__version__ and metadata["family"] == "meanfield"


def test_nuts_results_save_through_netcdf(tmp_path):
    idata = az.from_dict(posterior={"w": np.random.default_rng(0).normal(size=(2, 50, 3))},
                         sample_stats={"diverging": np.zeros((2, 50), bool)})
    path = tmp_path / "trace.nc"
    idata.to_netcdf(str(path))
    loaded = az.from_netcdf(str(path))
    np.testing.assert_array_equal(loaded.posterior["w"].values, idata.posterior["w"].values)
