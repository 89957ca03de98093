import jax.numpy as jnp
import numpy as np
import pytest

import credo as cr
from credo.inference import batching
from credo.inference.batching import batch_size, map_in_batches


def test_map_in_batches_equals_vmap_with_and_without_a_remainder():
    xs = {"a": jnp.arange(10.0), "b": jnp.arange(20.0).reshape(10, 2)}

    def fn(x):
        return x["a"] * x["b"].sum()

    expected = np.arange(10.0) * np.arange(20.0).reshape(10, 2).sum(1)
    for size in (10, 3, 1):
        np.testing.assert_allclose(map_in_batches(fn, xs, size), expected)


def test_batch_size_bounds_the_elements_of_a_batch(monkeypatch):
    data = {"x": np.zeros((100, 3)), "y": np.zeros(100)}
    assert batch_size(data, 50) == 50
    monkeypatch.setattr(batching, "BATCH_ELEMENTS", 900)
    assert batch_size(data, 50) == 3  # 900 // 300 elements of x per draw


@pytest.mark.slow
def test_sampling_in_batches_gives_the_same_draws(monkeypatch):
    with cr.Model() as model:
        x = cr.Data("x", np.linspace(-1, 1, 30))
        w = cr.Normal("w", 0, 1)
        cr.Deterministic("line", w * x)
        cr.Normal("y", w * x, 0.5, observed=np.linspace(-1, 1, 30))
    with model:
        approx = cr.fit(200, random_seed=0, progressbar=False)
    whole = approx.sample(50, random_seed=3, return_inferencedata=False)
    with model:
        ppc_whole = cr.sample_posterior_predictive(approx.sample(50, random_seed=3), random_seed=4)
    monkeypatch.setattr(batching, "BATCH_ELEMENTS", 7 * 30)  # 7 draws per batch, with a remainder
    model.compile().programs.clear()
    batched = approx.sample(50, random_seed=3, return_inferencedata=False)
    with model:
        ppc_batched = cr.sample_posterior_predictive(approx.sample(50, random_seed=3), random_seed=4)
    np.testing.assert_allclose(batched["line"], whole["line"], rtol=1e-6)
    np.testing.assert_allclose(ppc_batched.posterior_predictive["y"], ppc_whole.posterior_predictive["y"], rtol=1e-6)
