"""Every distribution's log density against scipy.stats, at random points and parameters."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
import scipy.stats as st

import credo as cr
import credo.distributions

N = 5  # points per case; parameters vary point by point
RTOL = 1e-4
ATOL = 1e-4


def f32(x):
    """Round to float32 and back, so scipy sees exactly the values credo sees."""
    return np.asarray(x, np.float32).astype(np.float64)


def pos(rng, low=0.5, high=3.0, size=N):
    return f32(rng.uniform(low, high, size=size))


# Each case: rng -> (constructor, keyword arguments, values, elementwise scipy log density).
# Parameters are float32-rounded before scipy sees them.


def normal(rng):
    mu, sigma = f32(rng.normal(size=N)), pos(rng)
    x = f32(rng.normal(mu, sigma))
    return cr.Normal, dict(mu=mu, sigma=sigma), x, st.norm(mu, sigma).logpdf(x)


def normal_sd(rng):
    mu, sigma = f32(rng.normal(size=N)), pos(rng)
    x = f32(rng.normal(mu, sigma))
    return cr.Normal, dict(mu=mu, sd=sigma), x, st.norm(mu, sigma).logpdf(x)


def normal_tau(rng):
    mu, tau = f32(rng.normal(size=N)), pos(rng, 0.2, 4.0)
    x = f32(rng.normal(mu, 1 / np.sqrt(tau)))
    return cr.Normal, dict(mu=mu, tau=tau), x, st.norm(mu, 1 / np.sqrt(tau)).logpdf(x)


def half_normal(rng):
    sigma = pos(rng)
    x = f32(np.abs(rng.normal(0, sigma)))
    return cr.HalfNormal, dict(sigma=sigma), x, st.halfnorm(scale=sigma).logpdf(x)


def student_t(rng):
    nu, mu, sigma = pos(rng, 1.0, 10.0), f32(rng.normal(size=N)), pos(rng)
    x = f32(mu + sigma * rng.standard_t(nu))
    return cr.StudentT, dict(nu=nu, mu=mu, sigma=sigma), x, st.t(nu, mu, sigma).logpdf(x)


def student_t_lam(rng):
    nu, mu, lam = pos(rng, 1.0, 10.0), f32(rng.normal(size=N)), pos(rng, 0.2, 4.0)
    sigma = 1 / np.sqrt(lam)
    x = f32(mu + sigma * rng.standard_t(nu))
    return cr.StudentT, dict(nu=nu, mu=mu, lam=lam), x, st.t(nu, mu, sigma).logpdf(x)


def half_student_t(rng):
    nu, sigma = pos(rng, 1.0, 10.0), pos(rng)
    x = f32(np.abs(sigma * rng.standard_t(nu)))
    return cr.HalfStudentT, dict(nu=nu, sigma=sigma), x, np.log(2) + st.t(nu, 0, sigma).logpdf(x)


def laplace(rng):
    mu, b = f32(rng.normal(size=N)), pos(rng)
    x = f32(rng.laplace(mu, b))
    return cr.Laplace, dict(mu=mu, b=b), x, st.laplace(mu, b).logpdf(x)


def cauchy(rng):
    alpha, beta = f32(rng.normal(size=N)), pos(rng)
    x = f32(alpha + beta * rng.standard_cauchy(N))
    return cr.Cauchy, dict(alpha=alpha, beta=beta), x, st.cauchy(alpha, beta).logpdf(x)


def half_cauchy(rng):
    beta = pos(rng)
    x = f32(np.abs(beta * rng.standard_cauchy(N)))
    return cr.HalfCauchy, dict(beta=beta), x, st.halfcauchy(scale=beta).logpdf(x)


def exponential(rng):
    lam = pos(rng)
    x = f32(rng.exponential(1 / lam))
    return cr.Exponential, dict(lam=lam), x, st.expon(scale=1 / lam).logpdf(x)


def exponential_scale(rng):
    scale = pos(rng)
    x = f32(rng.exponential(scale))
    return cr.Exponential, dict(scale=scale), x, st.expon(scale=scale).logpdf(x)


def gamma(rng):
    alpha, beta = pos(rng), pos(rng)
    x = f32(rng.gamma(alpha, 1 / beta))
    return cr.Gamma, dict(alpha=alpha, beta=beta), x, st.gamma(alpha, scale=1 / beta).logpdf(x)


def gamma_mu_sigma(rng):
    mu, sigma = pos(rng, 1.0, 4.0), pos(rng, 0.5, 2.0)
    alpha, beta = mu**2 / sigma**2, mu / sigma**2
    x = f32(rng.gamma(alpha, 1 / beta))
    return cr.Gamma, dict(mu=mu, sigma=sigma), x, st.gamma(alpha, scale=1 / beta).logpdf(x)


def inverse_gamma(rng):
    alpha, beta = pos(rng, 1.0, 4.0), pos(rng)
    x = f32(st.invgamma(alpha, scale=beta).rvs(random_state=rng))
    return cr.InverseGamma, dict(alpha=alpha, beta=beta), x, st.invgamma(alpha, scale=beta).logpdf(x)


def beta(rng):
    a, b = pos(rng), pos(rng)
    x = f32(np.clip(rng.beta(a, b), 1e-3, 1 - 1e-3))
    return cr.Beta, dict(alpha=a, beta=b), x, st.beta(a, b).logpdf(x)


def beta_mu_sigma(rng):
    mu, sigma = f32(rng.uniform(0.2, 0.8, N)), f32(rng.uniform(0.05, 0.15, N))
    kappa = mu * (1 - mu) / sigma**2 - 1
    a, b = mu * kappa, (1 - mu) * kappa
    x = f32(np.clip(rng.beta(a, b), 1e-3, 1 - 1e-3))
    return cr.Beta, dict(mu=mu, sigma=sigma), x, st.beta(a, b).logpdf(x)


def uniform(rng):
    lower = f32(rng.normal(size=N))
    upper = f32(lower + rng.uniform(0.5, 3.0, N))
    x = f32(rng.uniform(lower, upper))
    return cr.Uniform, dict(lower=lower, upper=upper), x, st.uniform(lower, upper - lower).logpdf(x)


def log_normal(rng):
    mu, sigma = f32(rng.normal(size=N)), pos(rng, 0.3, 1.5)
    x = f32(rng.lognormal(mu, sigma))
    return cr.LogNormal, dict(mu=mu, sigma=sigma), x, st.lognorm(s=sigma, scale=np.exp(mu)).logpdf(x)


def flat(rng):
    x = f32(rng.normal(0, 10, N))
    return cr.Flat, dict(shape=N), x, np.zeros(N)


def half_flat(rng):
    x = f32(rng.exponential(10, N))
    return cr.HalfFlat, dict(shape=N), x, np.zeros(N)


def bernoulli(rng):
    p = f32(rng.uniform(0.05, 0.95, N))
    x = rng.binomial(1, p)
    return cr.Bernoulli, dict(p=p), x, st.bernoulli(p).logpmf(x)


def bernoulli_logit(rng):
    z = f32(rng.normal(0, 2, N))
    x = rng.binomial(1, scipy.special.expit(z))
    return cr.Bernoulli, dict(logit_p=z), x, st.bernoulli(scipy.special.expit(z)).logpmf(x)


def binomial(rng):
    n, p = rng.integers(1, 20, N), f32(rng.uniform(0.05, 0.95, N))
    x = rng.binomial(n, p)
    return cr.Binomial, dict(n=n, p=p), x, st.binom(n, p).logpmf(x)


def binomial_logit(rng):
    n, z = rng.integers(1, 20, N), f32(rng.normal(0, 1.5, N))
    x = rng.binomial(n, scipy.special.expit(z))
    return cr.Binomial, dict(n=n, logit_p=z), x, st.binom(n, scipy.special.expit(z)).logpmf(x)


def poisson(rng):
    mu = pos(rng, 0.5, 20.0)
    x = rng.poisson(mu)
    return cr.Poisson, dict(mu=mu), x, st.poisson(mu).logpmf(x)


def categorical(rng):
    p = rng.dirichlet(np.ones(4), size=N)
    p = f32(p)
    p = p / p.sum(-1, keepdims=True)
    x = np.array([rng.choice(4, p=row) for row in p])
    return cr.Categorical, dict(p=p), x, np.log(p[np.arange(N), x])


def categorical_logit(rng):
    z = f32(rng.normal(0, 2, (N, 4)))
    logp = z - scipy.special.logsumexp(z, axis=-1, keepdims=True)
    x = np.array([rng.choice(4, p=np.exp(row)) for row in logp])
    return cr.Categorical, dict(logit_p=z), x, logp[np.arange(N), x]


def _random_cov(rng, k=3):
    a = rng.normal(size=(k, k))
    return f32(a @ a.T + k * np.eye(k))


def mv_normal_cov(rng):
    mu, cov = f32(rng.normal(size=3)), _random_cov(rng)
    x = f32(rng.multivariate_normal(mu, cov, size=N))
    return cr.MvNormal, dict(mu=mu, cov=cov), x, st.multivariate_normal(mu, cov).logpdf(x)


def mv_normal_chol(rng):
    mu, cov = f32(rng.normal(size=3)), _random_cov(rng)
    chol = f32(np.linalg.cholesky(cov))
    cov = chol @ chol.T
    x = f32(rng.multivariate_normal(mu, cov, size=N))
    return cr.MvNormal, dict(mu=mu, chol=chol), x, st.multivariate_normal(mu, cov).logpdf(x)


def dirichlet(rng):
    a = pos(rng, 0.5, 4.0, size=4)
    x32 = np.asarray(rng.dirichlet(a, size=N), np.float32)
    x32 = np.clip(x32, 1e-4, None)
    x32 = (x32 / x32.sum(-1, keepdims=True)).astype(np.float32)
    x = x32.astype(np.float64)
    x = x / x.sum(-1, keepdims=True)  # exact sums for scipy; off from x32 by ~1e-7
    return cr.Dirichlet, dict(a=a), x, np.array([st.dirichlet(a).logpdf(row) for row in x])


CASES = [
    normal, normal_sd, normal_tau, half_normal, student_t, student_t_lam, half_student_t, laplace, cauchy,
    half_cauchy, exponential, exponential_scale, gamma, gamma_mu_sigma, inverse_gamma, beta, beta_mu_sigma,
    uniform, log_normal, flat, half_flat, bernoulli, bernoulli_logit, binomial, binomial_logit, poisson,
    categorical, categorical_logit, mv_normal_cov, mv_normal_chol, dirichlet,
]


@pytest.fixture(params=CASES, ids=lambda case: case.__name__)
def case(request):
    seed = CASES.index(request.param)
    return request.param(np.random.default_rng(1000 + seed))


def test_cases_cover_every_distribution():
    covered = {case(np.random.default_rng(0))[0].__name__ for case in CASES}
    assert covered == set(credo.distributions.__all__) - {"DistributionSpec"}


def test_observed_logp_matches_scipy(case):
    ctor, kwargs, values, expected = case
    with cr.Model() as model:
        rv = ctor("x", **kwargs, observed=values)
    assert rv.is_observed and model.observed_variables == [rv]
    assert rv.shape == np.shape(values)
    # pointwise, with the numpyro distribution the variable stands for
    d = rv.distribution.build(rv.params)
    pointwise = np.asarray(d.log_prob(jnp.asarray(model.data_values["x"])))
    np.testing.assert_allclose(pointwise, expected, rtol=RTOL, atol=ATOL)
    # summed, through the model
    np.testing.assert_allclose(float(model.logp({})), expected.sum(), rtol=RTOL, atol=ATOL * N)
    # observed values given in the point replace the data
    np.testing.assert_allclose(float(model.logp({"x": values})), expected.sum(), rtol=RTOL, atol=ATOL * N)


def test_free_logp_matches_scipy(case):
    ctor, kwargs, values, expected = case
    kwargs = dict(kwargs)
    kwargs.setdefault("shape", np.shape(values))
    with cr.Model() as model:
        rv = ctor("x", **kwargs)
    assert model.free_variables == [rv] and not rv.is_observed
    assert rv.shape == np.shape(values)
    np.testing.assert_allclose(float(model.logp({"x": values})), expected.sum(), rtol=RTOL, atol=ATOL * N)


def test_free_logp_scalar_points():
    """A scalar free variable, one point at a time."""
    rng = np.random.default_rng(7)
    with cr.Model() as model:
        cr.Gamma("g", alpha=2.5, beta=1.5)
    for value in f32(rng.gamma(2.5, 1 / 1.5, 4)):
        np.testing.assert_allclose(float(model.logp({"g": value})), st.gamma(2.5, scale=1 / 1.5).logpdf(value),
                                   rtol=RTOL)


@pytest.mark.filterwarnings("ignore:Out-of-support values")
def test_support_outside_gives_minus_inf_for_free_values():
    with cr.Model() as model:
        cr.HalfNormal("s", 1.0)
    assert float(model.logp({"s": 0.5})) == pytest.approx(st.halfnorm.logpdf(0.5), rel=RTOL)
    assert float(model.logp({"s": -0.5})) == -np.inf


# ---------------------------------------------------------------------------
# shape=, sd=, testval=


def test_shape_expands_scalar_parameters():
    rng = np.random.default_rng(3)
    with cr.Model() as model:
        w = cr.Normal("w", 0.5, 2.0, shape=(2, 3))
        v = cr.HalfNormal("v", 1.5, shape=4)
    assert w.shape == (2, 3) and v.shape == (4,)
    assert model.initial_point()["w"].shape == (2, 3)
    wv, vv = f32(rng.normal(size=(2, 3))), f32(rng.uniform(0.1, 2, 4))
    expected = st.norm(0.5, 2.0).logpdf(wv).sum() + st.halfnorm(scale=1.5).logpdf(vv).sum()
    np.testing.assert_allclose(float(model.logp({"w": wv, "v": vv})), expected, rtol=RTOL)


def test_shape_broadcasts_vector_parameters():
    mu = np.array([-1.0, 0.0, 2.0])
    with cr.Model() as model:
        w = cr.Normal("w", mu, 1.0, shape=(4, 3))
    assert w.shape == (4, 3)
    value = np.tile(mu, (4, 1)) + 0.5
    np.testing.assert_allclose(float(model.logp({"w": value})), st.norm(mu, 1).logpdf(value).sum(), rtol=RTOL)
    np.testing.assert_allclose(model.initial_point()["w"], np.tile(mu, (4, 1)))


def test_shape_as_int_and_event_shape():
    with cr.Model():
        d = cr.Dirichlet("d", np.ones(3), shape=(2, 3))
        m = cr.MvNormal("m", np.zeros(2), np.eye(2), shape=(5, 2))
        n = cr.Normal("n", 0, 1, shape=7)
    assert d.shape == (2, 3) and m.shape == (5, 2) and n.shape == (7,)


def test_shape_must_end_with_event_shape():
    with cr.Model():
        with pytest.raises(cr.errors.ModelError, match="'d'"):
            cr.Dirichlet("d", np.ones(3), shape=(3, 2))


def test_sd_equals_sigma():
    with cr.Model() as m1:
        cr.Normal("x", 1.0, sd=2.0)
        cr.HalfNormal("h", sd=0.7)
        cr.LogNormal("l", 0.3, sd=0.5)
    with cr.Model() as m2:
        cr.Normal("x", 1.0, sigma=2.0)
        cr.HalfNormal("h", sigma=0.7)
        cr.LogNormal("l", 0.3, sigma=0.5)
    point = {"x": 0.3, "h": 1.1, "l": 2.0}
    expected = (st.norm(1, 2).logpdf(0.3) + st.halfnorm(scale=0.7).logpdf(1.1)
                + st.lognorm(s=0.5, scale=np.exp(0.3)).logpdf(2.0))
    np.testing.assert_allclose(float(m1.logp(point)), expected, rtol=RTOL)
    np.testing.assert_allclose(float(m2.logp(point)), expected, rtol=RTOL)


def test_only_one_scale_spelling():
    with cr.Model():
        with pytest.raises(cr.errors.ModelError, match="'x'"):
            cr.Normal("x", 0, sigma=1.0, sd=1.0)


def test_testval_and_initval_set_the_initial_point():
    init = np.arange(6.0).reshape(2, 3)
    with cr.Model() as model:
        cr.Normal("a", 0, sd=1, shape=(2, 3), testval=init)
        cr.Normal("b", 0, sigma=1, shape=(2, 3), initval=-init)
        cr.HalfNormal("c", 1.0, testval=2.5)
        cr.Normal("d", 3.0, 1.0)  # no initval: the prior mean
    point = model.initial_point()
    np.testing.assert_allclose(point["a"], init)
    np.testing.assert_allclose(point["b"], -init)
    np.testing.assert_allclose(point["c"], 2.5)
    np.testing.assert_allclose(point["d"], 3.0)


# ---------------------------------------------------------------------------
# Bernoulli(p=sigmoid(z)) is Bernoulli(logit_p=z)


def _bernoulli_models(y, deterministic: bool):
    with cr.Model() as by_p:
        z = cr.Normal("z", 0, 10, shape=len(y))
        p = cr.math.sigmoid(z)
        if deterministic:
            p = cr.Deterministic("p", p)
        cr.Bernoulli("y", p=p, observed=y)
    with cr.Model() as by_logit:
        z = cr.Normal("z", 0, 10, shape=len(y))
        cr.Bernoulli("y", logit_p=z, observed=y)
    return by_p, by_logit


@pytest.mark.parametrize("deterministic", [False, True])
def test_bernoulli_sigmoid_equals_logit(deterministic):
    y = np.array([0, 1, 1, 0, 1, 0])
    z = np.array([-1.3, 0.2, 2.5, 40.0, -40.0, 0.0], np.float32)
    by_p, by_logit = _bernoulli_models(y, deterministic)
    lp_p, lp_logit = float(by_p.logp({"z": z})), float(by_logit.logp({"z": z}))
    assert np.isfinite(lp_p)
    np.testing.assert_allclose(lp_p, lp_logit, rtol=1e-5)
    # by hand in float64: log sigmoid(z) for y = 1, log sigmoid(-z) for y = 0
    z64 = z.astype(np.float64)
    lik = np.where(y == 1, -np.logaddexp(0, -z64), -np.logaddexp(0, z64)).sum()
    prior = st.norm(0, 10).logpdf(z64).sum()
    np.testing.assert_allclose(lp_p, lik + prior, rtol=1e-5)


def test_bernoulli_saturated_sigmoid_stays_finite_with_gradient():
    y = np.array([0])
    by_p, _ = _bernoulli_models(y, deterministic=True)
    # float32 sigmoid(40) is exactly 1: log(1 - p) would be -inf
    assert float(jax.nn.sigmoid(jnp.float32(40.0))) == 1.0
    lp = float(by_p.logp({"z": np.array([40.0])}))
    np.testing.assert_allclose(lp, -np.logaddexp(0, 40.0) + st.norm(0, 10).logpdf(40.0), rtol=1e-5)
    compiled = by_p.compile()
    position = jnp.array([40.0])
    grad = jax.grad(compiled.logdensity_fn)(position, by_p.data_values)
    # d/dz [-softplus(z) + N(z; 0, 10)] = -sigmoid(z) - z / 100
    np.testing.assert_allclose(np.asarray(grad), [-1.0 - 0.4], rtol=1e-5)


def test_bernoulli_constant_p_keeps_probability_parametrisation():
    p = np.array([0.2, 0.7, 0.9])
    y = np.array([0, 1, 0])
    with cr.Model() as model:
        rv = cr.Bernoulli("y", p=p, observed=y)
    assert "p" in rv.params and "logit_p" not in rv.params
    np.testing.assert_allclose(float(model.logp({})), st.bernoulli(p).logpmf(y).sum(), rtol=RTOL)


def test_categorical_softmax_equals_logit():
    rng = np.random.default_rng(11)
    z = f32(rng.normal(0, 3, (4, 3)))
    y = np.array([0, 2, 1, 2])
    with cr.Model() as by_p:
        w = cr.Normal("w", 0, 1, shape=(4, 3))
        cr.Categorical("y", p=cr.math.softmax(w), observed=y)
    expected = (z - scipy.special.logsumexp(z, axis=-1, keepdims=True))[np.arange(4), y].sum()
    expected += st.norm.logpdf(z).sum()
    np.testing.assert_allclose(float(by_p.logp({"w": z})), expected, rtol=RTOL)


# ---------------------------------------------------------------------------
# parameters that are other variables


def test_parameters_may_be_variables():
    with cr.Model() as model:
        mu = cr.Normal("mu", 0, 1)
        sigma = cr.HalfNormal("sigma", 2.0)
        x = cr.Normal("x", mu, sigma, shape=3)
        nu = cr.Exponential("nu", 0.5)
        t = cr.StudentT("t", nu, mu=x, sigma=1.0)
    assert x.shape == (3,) and t.shape == (3,)
    point = {"mu": 0.4, "sigma": 1.3, "x": np.array([0.1, -0.5, 1.0]), "nu": 3.0, "t": np.array([0.0, 0.2, 2.0])}
    expected = (st.norm.logpdf(0.4) + st.halfnorm(scale=2).logpdf(1.3) + st.norm(0.4, 1.3).logpdf(point["x"]).sum()
                + st.expon(scale=2).logpdf(3.0) + st.t(3.0, point["x"], 1.0).logpdf(point["t"]).sum())
    np.testing.assert_allclose(float(model.logp(point)), expected, rtol=RTOL)


def test_tau_of_a_variable():
    with cr.Model() as model:
        tau = cr.Gamma("tau", 2.0, 1.0)
        cr.Normal("x", 0.0, tau=tau, observed=np.array([0.5, -1.0]))
    expected = st.gamma(2.0).logpdf(4.0) + st.norm(0, 0.5).logpdf([0.5, -1.0]).sum()
    np.testing.assert_allclose(float(model.logp({"tau": 4.0})), expected, rtol=RTOL)


def test_parameters_may_be_lists():
    with cr.Model() as model:
        cr.Exponential("e", scale=[1.0, 2.0])
        cr.Gamma("g", mu=[1.0, 2.0], sigma=[1.0, 0.5])
        cr.Beta("b", mu=[0.5, 0.3], sigma=[0.1, 0.2])
        cr.Normal("n", [0.0, 1.0], tau=[4.0, 0.25])
        cr.StudentT("t", [3.0, 5.0], lam=[4.0, 1.0])
    point = {"e": [0.5, 3.0], "g": [1.5, 2.5], "b": [0.4, 0.2], "n": [0.1, -1.0], "t": [0.3, 0.0]}
    kappa = np.array([0.25 / 0.01 - 1, 0.21 / 0.04 - 1])
    expected = (st.expon(scale=[1.0, 2.0]).logpdf(point["e"]).sum()
                + st.gamma([1.0, 16.0], scale=[1.0, 0.125]).logpdf(point["g"]).sum()
                + st.beta([0.5, 0.3] * kappa, [0.5, 0.7] * kappa).logpdf(point["b"]).sum()
                + st.norm([0.0, 1.0], [0.5, 2.0]).logpdf(point["n"]).sum()
                + st.t([3.0, 5.0], 0.0, [0.5, 1.0]).logpdf(point["t"]).sum())
    np.testing.assert_allclose(float(model.logp(point)), expected, rtol=RTOL)


def test_dims_on_every_distribution(case):
    """``dims=`` sets the shape of a free variable and names the axes of an observed one."""
    ctor, kwargs, values, expected = case
    event = np.shape(values)[1:]
    dims = ("obs",) + tuple(f"event{i}" for i in range(len(event)))
    coords = {"obs": [f"o{i}" for i in range(N)], **{f"event{i}": range(k) for i, k in enumerate(event)}}
    with cr.Model(coords=coords) as model:
        free = ctor("free", **kwargs, dims=dims)
        observed = ctor("x", **kwargs, observed=values, dims=dims)
    assert free.shape == observed.shape == np.shape(values)
    assert model.named_vars_to_dims == {"free": dims, "x": dims}
    assert model.coords["obs"] == ("o0", "o1", "o2", "o3", "o4")
    np.testing.assert_allclose(model.point_logps({"free": values})["x"], expected.sum(), rtol=2e-4, atol=1e-4)


@pytest.mark.parametrize("name", sorted(set(credo.distributions.__all__) - {"DistributionSpec"}))
def test_help_lists_every_argument_and_unknown_keywords_name_them(name):
    import inspect
    import pydoc

    from credo.model.define import OPTIONS

    constructor = getattr(cr, name)
    parameters = inspect.signature(constructor).parameters
    assert set(OPTIONS) <= set(parameters) and "kwargs" not in parameters
    text = pydoc.render_doc(constructor)
    for argument in parameters:
        assert f"{argument} :" in text or f", {argument} :" in text or f"{argument}," in text, argument
    with cr.Model():
        with pytest.raises(TypeError, match=rf"{name}\(\) got an unexpected keyword argument 'bogus'; it accepts") as info:
            constructor("x", bogus=1)
    accepted = str(info.value).split("it accepts ")[1].rstrip(".").split(", ")
    assert sorted(accepted) == sorted(list(parameters)[1:])
