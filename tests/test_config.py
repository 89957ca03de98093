"""Process-wide settings: the XLA options small models are compiled with."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import credo as cr
from credo import _config
from credo.demo import build_moons_model

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


@needs_option
def test_small_models_compile_their_products_without_the_library():
    assert _config.compiler_options(40) == {OPTION: ""}
    assert _config.compiler_options(_config.SMALL_MODEL_DIM) == {OPTION: ""}
    args = arguments()
    assert "ynn" in jax.jit(net).lower(*args).compile().as_text()  # the library, by default
    assert "ynn" not in _config.jit(net, 40).lower(*args).compile().as_text()


def test_large_models_keep_the_defaults():
    assert _config.compiler_options(_config.SMALL_MODEL_DIM + 1) == {}
    args = arguments()
    assert _config.jit(net, 10**6).lower(*args).compile().as_text() == jax.jit(net).lower(*args).compile().as_text()


def test_the_options_change_no_result():
    args = arguments()
    grad = jax.grad(net, argnums=(1, 2))
    for expected, got in zip(jax.jit(grad)(*args), _config.jit(grad, 40)(*args)):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_jit_by_size_compiles_once_per_set_of_options():
    for_dim = _config.jit_by_size(net)
    assert for_dim(10) is for_dim(40)
    assert for_dim(10**6) is for_dim(10**7)
    args = arguments()
    np.testing.assert_allclose(for_dim(10)(*args), for_dim(10**6)(*args), rtol=1e-5)


@needs_option
def test_the_tutorial_fit_is_compiled_without_the_library():
    from credo.datasets import make_moons_split

    X_train, _, Y_train, _ = make_moons_split()
    model = build_moons_model(X_train, Y_train)
    with model:
        approx = cr.fit(n=10, random_seed=0, progressbar=False, chunk_size=10)
    runner = next(value[0] for key, value in model.compile().cache.items() if key[0] == "advi")
    text = runner.lower(approx.state, jnp.asarray(True), approx.key, approx.model_data(),
                        jnp.asarray(10, jnp.int32)).compile().as_text()
    assert "dot" in text and "ynn" not in text
