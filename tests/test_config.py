"""Process-wide settings: the XLA options small models are compiled with."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import credo as cr
from credo import _config
from credo.demo import build_moons_model
from credo.inference.programs import ADVIChunk

OPTION = "xla_cpu_experimental_ynn_fusion_type"

needs_option = pytest.mark.skipif(
    not _config._library_dots_option_known(), reason="not on the CPU, or this jaxlib lacks the XLA option"
)


def net(x, w1, w2):
    return jnp.sum(jnp.tanh(jnp.tanh(x @ w1) @ w2))


def arguments():
    rng = np.random.default_rng(0)
    return (jnp.asarray(rng.standard_normal((500, 2)), jnp.float32),
            jnp.asarray(rng.standard_normal((2, 5)), jnp.float32),
            jnp.asarray(rng.standard_normal((5, 5)), jnp.float32))


def test_model_size_is_parameters_times_rows():
    data = {"x": np.zeros((500, 2)), "y": np.zeros(500), "scale": np.float32(2.0)}
    assert _config.model_size(40, data) == 40 * 500
    assert _config.model_size(40, data, batch_rows={"x": 50, "y": 50}) == 40 * 50
    assert _config.model_size(10, {}) == 10
    assert _config.model_size(3, (np.zeros((7, 2)), [np.zeros(9)])) == 27  # any pytree of arrays


@needs_option
def test_small_models_compile_their_products_without_the_library():
    assert _config.compiler_options(40 * 500) == {OPTION: ""}
    assert _config.compiler_options(_config.SMALL_MODEL_SIZE) == {OPTION: ""}
    args = arguments()
    assert "ynn" in jax.jit(net).lower(*args).compile().as_text()  # the library, by default
    assert "ynn" not in _config.jit(net, 40).lower(*args).compile().as_text()


def test_large_models_keep_the_defaults():
    assert _config.compiler_options(_config.SMALL_MODEL_SIZE + 1) == {}
    args = arguments()
    assert _config.jit(net, 10**7).lower(*args).compile().as_text() == jax.jit(net).lower(*args).compile().as_text()


def test_the_options_change_no_result():
    args = arguments()
    grad = jax.grad(net, argnums=(1, 2))
    for expected, got in zip(jax.jit(grad)(*args), _config.jit(grad, 40)(*args)):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@needs_option
def test_the_tutorial_fit_is_compiled_without_the_library():
    from credo.datasets import make_moons_split

    X_train, _, Y_train, _ = make_moons_split()
    model = build_moons_model(X_train, Y_train)
    with model:
        approx = cr.fit(n=10, random_seed=0, progressbar=False, chunk_size=10)
    compiled = model.compile()
    spec = next(spec for spec in compiled.programs.specs() if isinstance(spec, ADVIChunk))
    runner = compiled.programs.get(spec, compiled)
    text = runner.lower(approx.state, jnp.asarray(True), approx.key, dict(model.data_values),
                        jnp.asarray(10, jnp.int32)).compile().as_text()
    assert "dot" in text and "ynn" not in text


@needs_option
def test_a_model_on_many_rows_keeps_the_library():
    rng = np.random.default_rng(0)
    with cr.Model() as model:
        x = cr.Data("x", rng.standard_normal((5000, 8)))
        w = cr.Normal("w", 0, 1, shape=(8, 50))
        v = cr.Normal("v", 0, 1, shape=50)
        cr.Normal("y", cr.math.tanh(x @ w) @ v, 1, observed=rng.standard_normal(5000))
    compiled = model.compile()
    assert _config.model_size(compiled.dim, model.data_values) == 450 * 5000
    logdensity = compiled.jit(lambda z: compiled.logdensity_fn(z, model.data_values))
    assert "ynn" in logdensity.lower(jnp.zeros(compiled.dim)).compile().as_text()
