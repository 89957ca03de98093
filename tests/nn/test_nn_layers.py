"""cr.nn.dense and cr.nn.mlp: variables, shapes, initial values, the tutorial network in three lines."""

import jax
import numpy as np
import pytest

import credo as cr
from credo.nn import dense, mlp


def test_dense_creates_weight_and_bias_and_returns_activation():
    X = np.random.default_rng(0).normal(size=(7, 3))
    with cr.Model() as model:
        x = cr.Data("x", X)
        h = dense("layer", x, 4, activation="relu", prior_sigma=2.0)
    assert h.shape == (7, 4)
    assert model["layer_w"].shape == (3, 4) and model["layer_b"].shape == (4,)
    assert [v.name for v in model.free_variables] == ["layer_w", "layer_b"]
    point = model.initial_point()
    w, b = point["layer_w"], point["layer_b"]
    # the prior is Normal(0, prior_sigma): log density of w and b under it
    expected = -0.5 * np.sum((w / 2.0) ** 2) - w.size * (np.log(2.0) + 0.5 * np.log(2 * np.pi))
    expected += -0.5 * np.sum((b / 2.0) ** 2) - b.size * (np.log(2.0) + 0.5 * np.log(2 * np.pi))
    assert float(model.logp(point)) == pytest.approx(expected, rel=1e-5)
    # random initial weights (units start apart), zero biases
    assert np.all(b == 0) and np.std(w) > 0.1 and len(np.unique(np.round(w, 6))) == w.size


@pytest.mark.parametrize("activation, fn", [
    (None, lambda z: z), ("linear", lambda z: z), ("tanh", np.tanh), ("relu", lambda z: np.maximum(z, 0)),
    ("sigmoid", lambda z: 1 / (1 + np.exp(-z))), ("softplus", lambda z: np.log1p(np.exp(z))),
    (jax.nn.silu, lambda z: z / (1 + np.exp(-z))),
])
def test_dense_activations_compute_what_they_say(activation, fn):
    X = np.random.default_rng(1).normal(size=(5, 2))
    with cr.Model() as model:
        out = dense("d", X, 3, activation=activation, random_seed=0)
        cr.Deterministic("out", out)
    point = model.initial_point()
    draws = {"d_w": point["d_w"][None], "d_b": point["d_b"][None] + 0.3}
    got = cr.sample_posterior_predictive(draws, var_names=["out"], model=model, random_seed=0)
    got = np.asarray(got.posterior_predictive["out"])[0, 0]
    np.testing.assert_allclose(got, fn(X @ draws["d_w"][0] + draws["d_b"][0]), rtol=1e-5, atol=1e-6)


def test_dense_without_bias_and_bad_arguments():
    with cr.Model() as model:
        out = dense("nob", np.zeros((4, 2)), 3, bias=False)
        assert out.shape == (4, 3)
        assert "nob_b" not in model
        with pytest.raises(ValueError, match="activation"):
            dense("bad", np.zeros((4, 2)), 3, activation="swishy")
        with pytest.raises(ValueError, match="units"):
            dense("bad2", np.zeros((4, 2)), 0)


def test_initial_values_are_seeded():
    def initial(seed, name="net"):
        with cr.Model() as model:
            mlp(name, np.zeros((3, 2)), hidden=(4,), random_seed=seed)
        return model.initial_point()[f"{name}_0_w"]

    np.testing.assert_array_equal(initial(1), initial(1))
    assert not np.allclose(initial(1), initial(2))
    np.testing.assert_array_equal(initial(None), initial(None))  # a model rebuilds identically
    # N(0, 1/fan_in) weights
    with cr.Model() as model:
        dense("wide", np.zeros((2, 400)), 400, random_seed=0)
    assert np.std(model.initial_point()["wide_w"]) == pytest.approx(1 / np.sqrt(400), rel=0.02)


def test_mlp_names_shapes_and_output_layer():
    with cr.Model() as model:
        x = cr.Data("x", np.zeros((10, 3)))
        out = mlp("net", x, hidden=(8, 6), out_units=4, activation="relu", prior_sigma=[1.0, 0.5, 0.1])
    assert out.shape == (10, 4)
    shapes = {v.name: v.shape for v in model.free_variables}
    assert shapes == {"net_0_w": (3, 8), "net_0_b": (8,), "net_1_w": (8, 6), "net_1_b": (6,),
                      "net_out_w": (6, 4), "net_out_b": (4,)}
    with cr.Model():
        assert mlp("vec", np.zeros((10, 3)), hidden=(), out_units=None).shape == (10,)
        assert mlp("one", np.zeros((10, 3)), hidden=(5,)).shape == (10,)  # one unit, squeezed, by default
        assert mlp("kept", np.zeros((10, 3)), hidden=(5,), out_units=1).shape == (10, 1)
        with pytest.raises(ValueError, match="one per layer"):
            mlp("bad", np.zeros((10, 3)), hidden=(5,), prior_sigma=[1.0])


def test_mlp_default_output_fits_a_bernoulli_over_vector_targets():
    """The default single output unit is squeezed: (n,) logits against (n,) targets, not an (n, n) likelihood."""
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(40, 2)), rng.integers(0, 2, size=40)
    with cr.Model() as model:
        logits = mlp("net", cr.Data("x", X), hidden=(3,))
        cr.Bernoulli("out", logit_p=logits, observed=Y)
    assert logits.shape == (40,)
    point = model.initial_point()
    h = np.tanh(X @ point["net_0_w"] + point["net_0_b"])
    z = (h @ point["net_out_w"] + point["net_out_b"])[:, 0]
    log_lik = np.sum(Y * z - np.logaddexp(0, z))  # Bernoulli(logit z) over the 40 rows, once each
    log_prior = sum(-0.5 * np.sum(v ** 2) - 0.5 * v.size * np.log(2 * np.pi) for v in point.values())
    assert float(model.logp(point)) == pytest.approx(log_lik + log_prior, rel=1e-5)


def test_the_tutorial_network_in_three_lines():
    X = np.random.default_rng(0).normal(size=(100, 2))
    Y = (X[:, 0] * X[:, 1] > 0).astype(int)
    with cr.Model() as model:
        x, y = cr.Data("x", X), cr.Data("y", Y)
        logits = mlp("net", x, hidden=(5, 5), out_units=None, activation="tanh", bias=False)
        cr.Bernoulli("out", logit_p=logits, observed=y)
    # the tutorial's 2-5-5-1 tanh network: three weight matrices, no biases
    assert {v.name: v.shape for v in model.free_variables} == {
        "net_0_w": (2, 5), "net_1_w": (5, 5), "net_out_w": (5, 1)}
    approx = cr.fit(300, random_seed=0, progressbar=False, model=model)
    assert np.isfinite(approx.hist).all()
