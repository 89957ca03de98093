"""cr.nn's convolutional, pooling, embedding and normalisation layers: shapes, log density and its
gradient against a hand-written equivalent, priors on the right leaves."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import credo as cr
from credo.errors import ModelError


def hand_conv_same(x, w):
    """A stride-1 'SAME' convolution written as a sum over kernel offsets (no lax.conv)."""
    kh, kw = w.shape[:2]
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = jnp.pad(x, ((0, 0), (top, kh - 1 - top), (left, kw - 1 - left), (0, 0)))
    height, width = x.shape[1:3]
    out = 0.0
    for i in range(kh):
        for j in range(kw):
            out = out + jnp.einsum("nhwc,co->nhwo", padded[:, i:i + height, j:j + width, :], w[i, j])
    return out


def hand_pool(x, size, reduce):
    n, h, w, c = x.shape
    blocks = x[:, : h // size * size, : w // size * size].reshape(n, h // size, size, w // size, size, c)
    return reduce(blocks, axis=(2, 4))


def normal_logpdf(value, sigma):
    return jnp.sum(-0.5 * (value / sigma) ** 2 - jnp.log(sigma) - 0.5 * np.log(2 * np.pi))


@pytest.mark.slow
def test_a_small_cnn_has_the_log_density_and_gradient_of_the_hand_written_one():
    rng = np.random.default_rng(0)
    images, labels = rng.normal(size=(6, 6, 6, 2)), rng.integers(0, 3, size=6)
    with cr.Model() as model:
        x = cr.Data("x", images)
        h = cr.nn.conv2d("c1", x, 4, kernel_size=3, prior_sigma=0.5)
        h = cr.nn.max_pool(h, 2)
        h = cr.nn.conv2d("c2", h, 5, kernel_size=(2, 3), activation="tanh", bias=False)
        h = cr.nn.avg_pool(h, 3)
        logits = cr.nn.dense("out", cr.nn.flatten(h), 3, activation=None)
        cr.Categorical("y", logit_p=logits, observed=labels)
    assert logits.shape == (6, 3)
    shapes = {v.name: v.shape for v in model.free_variables}
    assert shapes == {"c1_w": (3, 3, 2, 4), "c1_b": (4,), "c2_w": (2, 3, 4, 5), "out_w": (5, 3), "out_b": (3,)}
    compiled = model.compile()

    def hand(position):
        p = compiled.unflatten(position)
        h = jax.nn.relu(hand_conv_same(images, p["c1_w"]) + p["c1_b"])
        h = hand_pool(h, 2, jnp.max)
        h = jnp.tanh(hand_conv_same(h, p["c2_w"]))
        h = hand_pool(h, 3, jnp.mean).reshape(6, -1)
        z = h @ p["out_w"] + p["out_b"]
        likelihood = jnp.sum(jax.nn.log_softmax(z)[np.arange(6), labels])
        prior = normal_logpdf(p["c1_w"], 0.5) + normal_logpdf(p["c1_b"], 0.5)
        prior += sum(normal_logpdf(p[k], 1.0) for k in ("c2_w", "out_w", "out_b"))
        return prior + likelihood

    data = dict(model.data_values)
    position = jnp.asarray(rng.normal(size=compiled.dim) * 0.7, jnp.float32)
    # jitted: outside jit, JAX would run (and compile) the gradient operation by operation
    value, grad = jax.jit(jax.value_and_grad(compiled.logdensity_fn))(position, data)
    expected, expected_grad = jax.jit(jax.value_and_grad(hand))(position)
    np.testing.assert_allclose(value, expected, rtol=1e-5)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-4, atol=1e-5)


def test_conv_strides_valid_padding_and_avg_pool_same_padding():
    x = np.arange(2 * 5 * 5 * 1, dtype=float).reshape(2, 5, 5, 1)
    with cr.Model() as model:
        out = cr.nn.conv2d("c", cr.Data("x", x), 1, kernel_size=2, strides=2, padding="VALID", activation=None,
                           bias=False)
        pooled = cr.Deterministic("pooled", cr.nn.avg_pool(cr.Data("z", x), 2, padding="SAME"))
        cr.Deterministic("out", out)
    assert out.shape == (2, 2, 2, 1) and pooled.shape == (2, 3, 3, 1)
    kernel = np.ones((1, 2, 2, 1, 1))
    got = cr.sample_posterior_predictive({"c_w": kernel}, var_names=["out", "pooled"], model=model, random_seed=0)
    out = np.asarray(got.posterior_predictive["out"])[0, 0, ..., 0]
    np.testing.assert_allclose(out[0], [[0 + 1 + 5 + 6, 2 + 3 + 7 + 8], [10 + 11 + 15 + 16, 12 + 13 + 17 + 18]])
    pooled = np.asarray(got.posterior_predictive["pooled"])[0, 0, ..., 0]
    # SAME padding: the last window holds one cell of the image, the mean is over that cell alone
    assert pooled[0, 2, 2] == x[0, 4, 4, 0]
    np.testing.assert_allclose(pooled[0, 0, 0], x[0, :2, :2, 0].mean())


def test_embedding_and_layer_norm_compute_what_they_say():
    rng = np.random.default_rng(1)
    words = np.array([[0, 4, 4], [3, 1, 0]])
    features = rng.normal(size=(4, 6)) * 3 + 1
    with cr.Model() as model:
        vectors = cr.nn.embedding("embed", cr.Data("words", words), num_embeddings=5, features=2)
        normed = cr.nn.layer_norm("norm", cr.Data("f", features))
        cr.Deterministic("vectors", vectors)
        cr.Deterministic("normed", normed)
    assert vectors.shape == (2, 3, 2) and normed.shape == (4, 6)
    table = rng.normal(size=(1, 5, 2))
    scale, shift = rng.normal(size=(1, 6)), rng.normal(size=(1, 6))
    got = cr.sample_posterior_predictive({"embed_w": table, "norm_scale": scale, "norm_shift": shift},
                                         var_names=["vectors", "normed"], model=model, random_seed=0)
    np.testing.assert_allclose(got.posterior_predictive["vectors"][0, 0], table[0][words], rtol=1e-6)
    standard = (features - features.mean(-1, keepdims=True)) / np.sqrt(features.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(got.posterior_predictive["normed"][0, 0], standard * scale[0] + shift[0], rtol=1e-4,
                               atol=1e-5)
    # the scale and shift are point estimates by default, the table is Bayesian
    assert model["norm_scale"].point_estimate and model["norm_shift"].point_estimate
    assert not model["embed_w"].point_estimate
    with cr.Model():
        with pytest.raises(ValueError, match="0..4"):
            cr.nn.embedding("bad", cr.Data("w", np.array([0, 5])), num_embeddings=5, features=2)
        with pytest.raises(ValueError, match="integers"):
            cr.nn.embedding("bad2", np.zeros(3), num_embeddings=5, features=2)


def test_priors_are_applied_to_the_right_leaves():
    rng = np.random.default_rng(2)
    with cr.Model() as model:
        x = cr.Data("x", rng.normal(size=(4, 5, 5, 1)))
        scale = cr.HalfNormal("scale", 1.0)
        h = cr.nn.conv2d("c", x, 2, prior=functools.partial(cr.Laplace, mu=0.0, b=0.2))
        h = cr.nn.dense("d", cr.nn.flatten(h), 3, prior=scale)
        cr.nn.dense("o", h, 2, prior_sigma=0.3)
        cr.nn.layer_norm("n", h, prior_sigma=2.0)
    point = {name: rng.normal(size=np.shape(value)) * 0.5 for name, value in model.initial_point().items()}
    point["scale"] = np.asarray(0.7)
    expected = stats.halfnorm.logpdf(0.7)
    expected += stats.laplace.logpdf(point["c_w"], 0, 0.2).sum() + stats.laplace.logpdf(point["c_b"], 0, 0.2).sum()
    expected += stats.norm.logpdf(point["d_w"], 0, 0.7).sum() + stats.norm.logpdf(point["d_b"], 0, 0.7).sum()
    expected += stats.norm.logpdf(point["o_w"], 0, 0.3).sum() + stats.norm.logpdf(point["o_b"], 0, 0.3).sum()
    expected += stats.norm.logpdf(point["n_scale"], 1, 2.0).sum() + stats.norm.logpdf(point["n_shift"], 0, 2.0).sum()
    assert float(model.logp(point)) == pytest.approx(expected, rel=1e-5)


def test_layer_argument_errors_name_the_layer():
    with cr.Model():
        x = cr.Data("x", np.zeros((2, 4, 4, 3)))
        with pytest.raises(ValueError, match="conv2d 'c'.*NHWC"):
            cr.nn.conv2d("c", cr.Data("flat", np.zeros((2, 3))), 4)
        with pytest.raises(ValueError, match="kernel_size"):
            cr.nn.conv2d("c", x, 4, kernel_size=0)
        with pytest.raises(ValueError, match="padding"):
            cr.nn.max_pool(x, 2, padding="FULL")
        with pytest.raises(TypeError, match="prior or prior_sigma"):
            cr.nn.dense("d", np.zeros((2, 3)), 2, prior=1.0, prior_sigma=2.0)
        with pytest.raises(TypeError, match="prior must be"):
            cr.nn.dense("d", np.zeros((2, 3)), 2, prior="wide")
        with pytest.raises(ModelError, match="shape"):
            cr.nn.dense("d", np.zeros((2, 3)), 2, prior=lambda name, shape, initval: cr.Normal(name, 0, 1))


@pytest.mark.parametrize("stride, padding", [((1, 1), "SAME"), ((2, 2), "SAME"), ((2, 3), "VALID"),
                                             ((1, 1), ((1, 0), (2, 1)))])
def test_the_convolutions_own_gradient_is_jaxs(stride, padding):
    # cr.nn's convolution writes its gradient out (XLA runs JAX's own slowly inside loops): same values,
    # and second derivatives by reverse mode twice
    from credo.nn.conv import _convolve

    rng = np.random.default_rng(4)
    x = jnp.asarray(rng.normal(size=(2, 9, 7, 3)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(3, 2, 3, 4)), jnp.float32)
    ours = lambda x, w: jnp.sum(jnp.sin(_convolve(x, w, stride, padding)))  # noqa: E731
    jaxs = lambda x, w: jnp.sum(jnp.sin(jax.lax.conv_general_dilated(  # noqa: E731
        x, w, stride, padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))))
    assert float(ours(x, w)) == pytest.approx(float(jaxs(x, w)), rel=1e-5)
    for got, expected in zip(jax.jit(jax.grad(ours, (0, 1)))(x, w), jax.jit(jax.grad(jaxs, (0, 1)))(x, w)):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    second = jax.jit(jax.jacrev(jax.jacrev(lambda w: ours(x, w))))(w)
    np.testing.assert_allclose(second, jax.jit(jax.hessian(lambda w: jaxs(x, w)))(w), rtol=1e-3, atol=1e-3)


@pytest.mark.slow
def test_the_laplace_approximation_of_a_convolution_uses_its_exact_curvature():
    # init="map" and method="laplace" need the Hessian (by reverse mode twice through the convolution): a
    # logistic regression on the sum of a linear convolution's outputs, its precision against jax.hessian
    rng = np.random.default_rng(5)
    images, labels = rng.normal(size=(30, 4, 4, 1)), rng.integers(0, 2, size=30)
    with cr.Model() as model:
        h = cr.nn.conv2d("c", cr.Data("x", images), 1, kernel_size=2, padding="VALID", activation=None, bias=False)
        cr.Bernoulli("y", logit_p=h.sum(axis=(1, 2, 3)), observed=labels)
    approx = cr.fit(model=model, method="laplace", random_seed=0, progressbar=False)
    mode = jnp.asarray(approx.mean["c_w"], jnp.float32)

    def log_density(w):
        z = jnp.sum(jax.lax.conv_general_dilated(jnp.asarray(images, jnp.float32), w.reshape(2, 2, 1, 1), (1, 1),
                                                 "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")), axis=(1, 2, 3))
        return jnp.sum(labels * z - jnp.logaddexp(0, z)) - 0.5 * jnp.sum(w ** 2)

    precision = -jax.hessian(log_density)(mode.reshape(-1))
    np.testing.assert_allclose(approx.cov, np.linalg.inv(np.asarray(precision)), rtol=1e-3, atol=1e-6)
