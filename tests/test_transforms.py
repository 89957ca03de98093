"""The transforms of constrained free variables to the real line.

Each log-Jacobian the model adds is checked against ``log|det J|`` of the
constraining map computed with ``jax.jacobian``, by hand where it has a
closed form, and each transform's round trip.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st
from numpyro.distributions import constraints
from numpyro.distributions.transforms import biject_to

import credo as cr

RTOL = 1e-4
ATOL = 2e-4


def _softplus(u):
    return np.logaddexp(0.0, u)


def _log_sigmoid_jacobian(u):
    # d sigmoid(u) / du = sigmoid(u) (1 - sigmoid(u))
    return -_softplus(-u) - _softplus(u)


UPPER = np.array([1.0, 5.0, 2.5])
LOWER = np.array([-1.0, 0.0, 2.0])

# (id, constructor, keyword arguments, support, hand-written log-Jacobian of u or None)
CASES = [
    ("HalfNormal", cr.HalfNormal, dict(sigma=1.5, shape=3), constraints.positive, np.sum),
    ("HalfStudentT", cr.HalfStudentT, dict(nu=3.0, sigma=2.0, shape=3), constraints.positive, np.sum),
    ("HalfCauchy", cr.HalfCauchy, dict(beta=2.0, shape=3), constraints.positive, np.sum),
    ("Exponential", cr.Exponential, dict(lam=0.7, shape=3), constraints.positive, np.sum),
    ("Gamma", cr.Gamma, dict(alpha=2.0, beta=1.5, shape=3), constraints.positive, np.sum),
    ("InverseGamma", cr.InverseGamma, dict(alpha=3.0, beta=2.0, shape=3), constraints.positive, np.sum),
    ("LogNormal", cr.LogNormal, dict(mu=0.5, sigma=0.8, shape=3), constraints.positive, np.sum),
    ("HalfFlat", cr.HalfFlat, dict(shape=3), constraints.positive, np.sum),
    ("Beta", cr.Beta, dict(alpha=2.0, beta=3.0, shape=3), constraints.unit_interval,
     lambda u: _log_sigmoid_jacobian(u).sum()),
    ("Uniform", cr.Uniform, dict(lower=LOWER, upper=UPPER), None,
     lambda u: (_log_sigmoid_jacobian(u) + np.log(UPPER - LOWER)).sum()),
    ("Dirichlet", cr.Dirichlet, dict(a=np.array([1.0, 2.0, 3.0, 0.5])), constraints.simplex, None),
    ("Dirichlet-batch", cr.Dirichlet, dict(a=np.ones(3), shape=(2, 3)), constraints.simplex, None),
    ("Normal", cr.Normal, dict(mu=0.0, sigma=2.0, shape=3), constraints.real, lambda u: 0.0),
    ("MvNormal", cr.MvNormal, dict(mu=np.zeros(2), cov=np.eye(2)), constraints.real_vector, lambda u: 0.0),
]


def _build(ctor, kwargs):
    with cr.Model() as model:
        rv = ctor("x", **kwargs)
    return model, rv


def _free_coordinates(x, support):
    """The coordinates that parametrise the support: all but the last of a simplex."""
    if support is constraints.simplex:
        x = x[..., :-1]
    return jnp.reshape(x, (-1,))


@pytest.fixture(params=CASES, ids=[c[0] for c in CASES])
def case(request):
    index = CASES.index(request.param)
    _, ctor, kwargs, support, hand = request.param
    model, rv = _build(ctor, kwargs)
    compiled = model.compile()
    rng = np.random.default_rng(100 + index)
    u = jnp.asarray(rng.normal(0.0, 1.0, compiled.dim), jnp.float32)
    return model, rv, compiled, support, hand, u


def test_unconstrained_layout(case):
    model, rv, compiled, support, _, _ = case
    [info] = compiled.free
    assert info.name == "x" and info.shape == rv.shape
    expected = rv.shape[:-1] + (rv.shape[-1] - 1,) if support is constraints.simplex else rv.shape
    assert info.unconstrained_shape == expected
    assert compiled.dim == int(np.prod(expected))


def test_log_jacobian_against_jax_jacobian(case):
    model, rv, compiled, support, hand, u = case
    data = model.data_values
    x = compiled.constrain_fn(u, data)["x"]
    assert x.shape == rv.shape
    d = rv.distribution.build(rv.params)
    assert bool(jnp.all(d.support.check(x)))

    def free_coordinates(position):
        return _free_coordinates(compiled.constrain_fn(position, data)["x"], support)

    jac = jax.jacobian(free_coordinates)(u)
    assert jac.shape == (compiled.dim, compiled.dim)
    sign, expected = np.linalg.slogdet(np.asarray(jac, np.float64))
    assert sign != 0

    # what the compiled log density adds on top of the plain log density
    plain = float(model.logp({"x": x}, jacobian=False))
    added = float(compiled.logdensity_fn(u, data)) - plain
    np.testing.assert_allclose(added, expected, rtol=RTOL, atol=ATOL)
    # model.logp with and without the Jacobian
    with_jacobian = float(model.logp({"x": x}, jacobian=True))
    np.testing.assert_allclose(with_jacobian - plain, expected, rtol=RTOL, atol=ATOL)
    # numpyro's transform for the support, as the compile applies it
    transform = biject_to(d.support)
    direct = float(jnp.sum(transform.log_abs_det_jacobian(u.reshape(compiled.free[0].unconstrained_shape), x)))
    np.testing.assert_allclose(direct, expected, rtol=RTOL, atol=ATOL)
    if hand is not None:
        np.testing.assert_allclose(expected, hand(np.asarray(u, np.float64)), rtol=RTOL, atol=ATOL)


def test_round_trip(case):
    model, rv, compiled, support, _, u = case
    d = rv.distribution.build(rv.params)
    transform = biject_to(d.support)
    shaped = u.reshape(compiled.free[0].unconstrained_shape)
    x = transform(shaped)
    assert bool(jnp.all((support or d.support).check(x)))
    # the compiled model constrains with the same transform
    np.testing.assert_allclose(compiled.constrain_fn(u, model.data_values)["x"], x, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(transform.inv(x), shaped, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(compiled.flatten({"x": transform.inv(x)}), u, rtol=RTOL, atol=ATOL)
    # and back from the constrained side: the initial point survives the trip
    point = model.initial_point()["x"]
    back = compiled.constrain_fn(compiled.initial_position(), model.data_values)["x"]
    np.testing.assert_allclose(back, point, rtol=RTOL, atol=ATOL)


def test_positive_transform_is_exp():
    model, _ = _build(cr.HalfNormal, dict(sigma=1.0, shape=2))
    compiled = model.compile()
    u = jnp.array([-0.7, 1.2])
    np.testing.assert_allclose(compiled.constrain_fn(u, model.data_values)["x"], np.exp([-0.7, 1.2]), rtol=1e-6)


def test_uniform_transform_is_scaled_sigmoid():
    model, _ = _build(cr.Uniform, dict(lower=LOWER, upper=UPPER))
    compiled = model.compile()
    u = np.array([-2.0, 0.0, 1.5])
    expected = LOWER + (UPPER - LOWER) / (1 + np.exp(-u))
    np.testing.assert_allclose(compiled.constrain_fn(jnp.asarray(u, jnp.float32), {})["x"], expected, rtol=1e-5)


def test_stick_breaking_maps_k_minus_1_reals_onto_the_simplex():
    model, _ = _build(cr.Dirichlet, dict(a=np.ones(5)))
    compiled = model.compile()
    assert compiled.dim == 4
    for scale in (0.1, 3.0):
        u = jnp.asarray(np.random.default_rng(1).normal(0, scale, 4), jnp.float32)
        x = np.asarray(compiled.constrain_fn(u, {})["x"])
        assert x.shape == (5,) and (x > 0).all()
        np.testing.assert_allclose(x.sum(), 1.0, rtol=1e-6)


def test_interval_with_variable_bounds():
    """Uniform(lower=lo, upper=lo + w): the transform follows the bounds' current values."""
    with cr.Model() as model:
        lo = cr.Normal("lo", 0.0, 1.0)
        width = cr.HalfNormal("width", 2.0)
        cr.Uniform("x", lower=lo, upper=lo + width, shape=2)
    compiled = model.compile()
    assert compiled.dim == 4
    u = jnp.array([0.3, -0.4, 1.1, -0.6])
    values = compiled.constrain_fn(u, model.data_values)
    lo_v, width_v = 0.3, np.exp(-0.4)
    sig = 1 / (1 + np.exp(-np.array([1.1, -0.6])))
    np.testing.assert_allclose(values["lo"], lo_v, rtol=1e-6)
    np.testing.assert_allclose(values["width"], width_v, rtol=1e-6)
    np.testing.assert_allclose(values["x"], lo_v + width_v * sig, rtol=1e-5)

    jac = jax.jacobian(lambda p: jnp.concatenate([jnp.atleast_1d(v) for v in compiled.constrain_fn(p, {}).values()]))(u)
    _, logdet = np.linalg.slogdet(np.asarray(jac, np.float64))
    # by hand: identity for lo, exp for width, width * sigmoid' for each x
    hand = -0.4 + np.sum(np.log(width_v) + np.log(sig * (1 - sig)))
    np.testing.assert_allclose(logdet, hand, rtol=RTOL, atol=ATOL)

    plain = (st.norm.logpdf(lo_v) + st.halfnorm(scale=2.0).logpdf(width_v)
             + st.uniform(lo_v, width_v).logpdf(values["x"]).sum())
    np.testing.assert_allclose(float(compiled.logdensity_fn(u, {})), plain + hand, rtol=RTOL, atol=ATOL)
    point = {k: np.asarray(v) for k, v in values.items()}
    np.testing.assert_allclose(float(model.logp(point, jacobian=True) - model.logp(point)), hand, rtol=RTOL,
                               atol=ATOL)
