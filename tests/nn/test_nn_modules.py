"""cr.nn.bayesian: Flax (NNX, Linen) and Equinox modules as credo model terms."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import linen, nnx
from scipy import stats

import credo as cr
from credo.errors import ModelError

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3))
Y = (X[:, 0] - X[:, 1] > 0).astype(int)


class LinenNet(linen.Module):
    @linen.compact
    def __call__(self, x):
        return linen.Dense(1, name="head")(jnp.tanh(linen.Dense(6, name="hidden")(x)))[..., 0]


class NnxNet(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(3, 6, rngs=rngs)
        self.head = nnx.Linear(6, 1, rngs=rngs)

    def __call__(self, x):
        return self.head(jnp.tanh(self.hidden(x)))[..., 0]


def modules():
    """kind -> (module, its parameter paths, the pattern of its output layer's)."""
    return {
        "nnx": (NnxNet(nnx.Rngs(0)), {"hidden.kernel", "hidden.bias", "head.kernel", "head.bias"}, "head.*"),
        "linen": (LinenNet(), {"hidden.kernel", "hidden.bias", "head.kernel", "head.bias"}, "head.*"),
        "equinox": (eqx.nn.MLP(3, "scalar", 6, 1, activation=jnp.tanh, key=jax.random.key(0)),
                    {"layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"}, "layers.1.*"),
    }


def direct_logits(kind, module, values):
    """The module's own output with the parameter values ``{path: array}`` put in, written per library."""
    if kind == "nnx":  # nnx.Linear: x @ kernel + bias
        hidden = jnp.tanh(X @ values["hidden.kernel"] + values["hidden.bias"])
        return (hidden @ values["head.kernel"] + values["head.bias"])[..., 0]
    if kind == "linen":
        params = {layer: {} for layer in ("hidden", "head")}
        for path, value in values.items():
            layer, leaf = path.split(".")
            params[layer][leaf] = value
        return LinenNet().apply({"params": params}, X)
    model = module
    for path, value in values.items():
        _, index, leaf = path.split(".")
        model = eqx.tree_at(lambda m: getattr(m.layers[int(index)], leaf), model, value)
    return jax.vmap(model)(X)


@pytest.mark.parametrize("kind", ["nnx", "linen", "equinox"])
def test_every_leaf_is_a_variable_with_its_prior_and_the_modules_output(kind):
    module, paths, head = modules()[kind]
    with cr.Model() as model:
        net = cr.nn.bayesian(module, prior=0.5, name="net", priors={"*.bias": 2.0}, point_estimates=[head])
        logits = net(cr.Data("x", X))
        cr.Bernoulli("y", logit_p=logits, observed=Y)
    assert set(net.variables) == paths and logits.shape == (40,)
    assert {v.name for v in model.free_variables} == {f"net.{p}" for p in paths}
    points = {p for p in paths if p.startswith(head[:-1])}
    assert {p for p, v in net.variables.items() if v.point_estimate} == points
    # initial values: the module's own initialiser
    initial = model.initial_point()
    compiled = model.compile()
    values = {p: RNG.normal(size=v.shape) * 0.8 for p, v in net.variables.items()}
    expected_prior = sum(stats.norm.logpdf(v, 0, 2.0 if p.endswith("bias") else 0.5).sum() for p, v in values.items())
    logit = np.asarray(direct_logits(kind, module, {p: jnp.asarray(v, jnp.float32) for p, v in values.items()}))
    expected = expected_prior + np.sum(Y * logit - np.logaddexp(0, logit))
    point = {f"net.{p}": v for p, v in values.items()}
    assert float(model.logp(point)) == pytest.approx(expected, rel=1e-5)
    # the gradient of credo's log density against jax.grad of the module called directly
    position = compiled.position_from_point(point)

    def direct(position):
        flat = compiled.unflatten(position)
        vals = {p: flat[f"net.{p}"] for p in paths}
        z = direct_logits(kind, module, vals)
        prior = sum(jnp.sum(jax.scipy.stats.norm.logpdf(v, 0, 2.0 if p.endswith("bias") else 0.5))
                    for p, v in vals.items())
        return prior + jnp.sum(Y * z - jnp.logaddexp(0, z))

    grad = jax.jit(jax.grad(compiled.logdensity_fn))(position, dict(model.data_values))  # one program each
    np.testing.assert_allclose(grad, jax.jit(jax.grad(direct))(position), rtol=1e-4, atol=1e-5)
    assert np.isfinite(sum(np.sum(v) for v in initial.values()))


def test_a_module_fits_and_predicts_on_new_rows():
    module, _, _ = modules()["equinox"]
    with cr.Model() as model:
        x = cr.Data("x", X)
        logits = cr.nn.bayesian(module, name="net")(x)
        cr.Bernoulli("y", logit_p=logits, observed=Y)
    approx = cr.fit(1500, model=model, random_seed=0, obj_optimizer=optax.adam(0.02), progressbar=False)
    assert approx.hist[-100:].mean() < approx.hist[:100].mean()
    with model:
        cr.set_data({"x": X[:5]})
        ppc = cr.sample_posterior_predictive(approx.sample(200, random_seed=1), var_names=["y"], random_seed=2)
    predicted = np.asarray(ppc.posterior_predictive["y"]).mean(axis=(0, 1)) > 0.5
    assert predicted.shape == (5,) and (predicted == Y[:5]).mean() >= 0.8


def test_bad_modules_and_paths_are_reported():
    with cr.Model():
        with pytest.raises(TypeError, match="Flax .* or Equinox"):
            cr.nn.bayesian(lambda x: x)
        with pytest.raises(ModelError, match="match no parameter"):
            cr.nn.bayesian(nnx.Linear(2, 2, rngs=nnx.Rngs(0)), priors={"weights": 1.0})
