"""The modeling layer: log densities, compiled functions, symbolic nodes, set_data."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
import scipy.stats as st

import credo as cr
from credo.model.variables import Node, evaluate

RTOL = 1e-4

# ---------------------------------------------------------------------------
# A hierarchical model: eight schools, centred

Y_SCHOOLS = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA_SCHOOLS = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


@pytest.fixture(scope="module")
def schools():
    with cr.Model() as model:
        mu = cr.Normal("mu", 0.0, 5.0)
        tau = cr.HalfCauchy("tau", 2.5)
        theta = cr.Normal("theta", mu, tau, shape=8)
        cr.Normal("y", theta, SIGMA_SCHOOLS, observed=Y_SCHOOLS)
    return model


def schools_logp(mu, tau, theta):
    return (st.norm(0, 5).logpdf(mu) + st.halfcauchy(scale=2.5).logpdf(tau)
            + st.norm(mu, tau).logpdf(theta).sum() + st.norm(theta, SIGMA_SCHOOLS).logpdf(Y_SCHOOLS).sum())


def test_schools_structure(schools):
    assert [rv.name for rv in schools.free_variables] == ["mu", "tau", "theta"]
    assert [rv.name for rv in schools.observed_variables] == ["y"]
    assert schools["theta"].shape == (8,) and schools["y"].shape == (8,)
    compiled = schools.compile()
    assert [(i.name, i.offset, i.size) for i in compiled.free] == [("mu", 0, 1), ("tau", 1, 1), ("theta", 2, 8)]
    assert compiled.dim == 10


def test_schools_logp_matches_hand_written(schools):
    rng = np.random.default_rng(0)
    for _ in range(3):
        mu, tau = rng.normal(0, 5), rng.uniform(0.5, 10)
        theta = rng.normal(mu, tau, 8)
        point = {"mu": mu, "tau": tau, "theta": theta}
        expected = schools_logp(mu, tau, theta)
        np.testing.assert_allclose(float(schools.logp(point)), expected, rtol=RTOL)
        np.testing.assert_allclose(float(schools.logp(point, jacobian=True)), expected + np.log(tau), rtol=RTOL)


def test_schools_logdensity_fn_adds_log_tau(schools):
    compiled = schools.compile()
    rng = np.random.default_rng(1)
    position = rng.normal(0, 1, 10).astype(np.float32)
    mu, log_tau, theta = position[0], position[1], position[2:]
    expected = schools_logp(mu, np.exp(log_tau), theta) + log_tau
    logdensity = jax.jit(compiled.logdensity_fn)
    np.testing.assert_allclose(float(logdensity(jnp.asarray(position), schools.data_values)), expected, rtol=RTOL)
    values = compiled.constrain_fn(jnp.asarray(position), schools.data_values)
    np.testing.assert_allclose(values["tau"], np.exp(log_tau), rtol=1e-6)
    np.testing.assert_allclose(values["theta"], theta, rtol=1e-6)
    # unflatten / flatten
    parts = compiled.unflatten(jnp.asarray(position))
    assert parts["theta"].shape == (8,) and parts["mu"].shape == ()
    np.testing.assert_array_equal(compiled.flatten(parts), position)
    # vmap over positions
    batch = jnp.asarray(rng.normal(0, 1, (3, 10)), jnp.float32)
    many = jax.vmap(compiled.logdensity_fn, in_axes=(0, None))(batch, schools.data_values)
    for row, value in zip(np.asarray(batch), np.asarray(many)):
        expected = schools_logp(row[0], np.exp(row[1]), row[2:]) + row[1]
        np.testing.assert_allclose(value, expected, rtol=RTOL)


def test_schools_initial_point(schools):
    point = schools.initial_point()
    assert set(point) == {"mu", "tau", "theta"}
    # mu: the prior mean; tau: HalfCauchy has no mean, so exp(0); theta: the mean given mu
    np.testing.assert_allclose(point["mu"], 0.0)
    np.testing.assert_allclose(point["tau"], 1.0)
    np.testing.assert_allclose(point["theta"], np.zeros(8))
    compiled = schools.compile()
    np.testing.assert_allclose(compiled.initial_position(), np.zeros(10), atol=1e-7)


def test_initial_point_follows_parent_initval():
    with cr.Model() as model:
        mu = cr.Normal("mu", 0.0, 5.0, initval=2.0)
        cr.Normal("theta", mu, 1.0, shape=3)
        cr.Beta("p", 2.0, 6.0)
    point = model.initial_point()
    np.testing.assert_allclose(point["theta"], [2.0, 2.0, 2.0])
    np.testing.assert_allclose(point["p"], 0.25)


def test_potential_and_deterministic():
    with cr.Model() as model:
        x = cr.Normal("x", 0.0, 1.0, shape=2)
        cr.Potential("penalty", -3.0 * cr.math.square(x))
        cr.Deterministic("total", x.sum() * 2)
    point = {"x": np.array([0.5, -1.0])}
    expected = st.norm.logpdf(point["x"]).sum() - 3.0 * (0.25 + 1.0)
    np.testing.assert_allclose(float(model.logp(point)), expected, rtol=RTOL)
    compiled = model.compile()
    u = jnp.array([0.5, -1.0])
    np.testing.assert_allclose(float(compiled.logdensity_fn(u, model.data_values)), expected, rtol=RTOL)
    np.testing.assert_allclose(compiled.constrain_fn(u, model.data_values)["total"], -1.0, rtol=1e-6)
    assert compiled.deterministic_names == ["total"]


# ---------------------------------------------------------------------------
# The tutorial's model


def tutorial_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)).astype(np.float32)
    Y = (X[:, 0] * X[:, 1] > 0).astype(np.float32)
    inits = [rng.normal(size=(2, 5)), rng.normal(size=(5, 5)), rng.normal(size=5)]
    return X, Y, [i.astype(np.float32) for i in inits]


def build_tutorial(X, Y, inits, total_size=None):
    init_1, init_2, init_out = inits
    with cr.Model() as nn:
        x = cr.Data("x", X)
        y = cr.Data("y", Y)
        w_in_1 = cr.Normal("w_in_1", 0, sigma=1, shape=(2, 5), initval=init_1)
        w_1_2 = cr.Normal("w_1_2", 0, sigma=1, shape=(5, 5), initval=init_2)
        w_2_out = cr.Normal("w_2_out", 0, sigma=1, shape=(5,), initval=init_out)
        act_1 = cr.math.tanh(cr.math.dot(x, w_in_1))
        act_2 = cr.math.tanh(act_1 @ w_1_2)
        p = cr.Deterministic("p", cr.math.sigmoid(cr.math.dot(act_2, w_2_out)))
        cr.Bernoulli("out", p=p, observed=y, total_size=total_size or len(Y))
    return nn


def tutorial_logp64(position, X, Y, total_size):
    """The tutorial's log density by hand, in float64 numpy."""
    position = np.asarray(position, np.float64)
    w1, w2, w3 = position[:10].reshape(2, 5), position[10:35].reshape(5, 5), position[35:]
    z = np.tanh(np.tanh(X.astype(np.float64) @ w1) @ w2) @ w3
    lik = np.where(Y == 1, -np.logaddexp(0, -z), -np.logaddexp(0, z)).sum()
    return st.norm.logpdf(position).sum() + total_size / len(Y) * lik


def test_tutorial_model_builds():
    X, Y, inits = tutorial_data()
    nn = build_tutorial(X, Y, inits)
    assert [rv.name for rv in nn.free_variables] == ["w_in_1", "w_1_2", "w_2_out"]
    assert [rv.name for rv in nn.observed_variables] == ["out"]
    assert nn["p"].shape == (40,) and nn["out"].shape == (40,)
    point = nn.initial_point()
    for name, init in zip(["w_in_1", "w_1_2", "w_2_out"], inits):
        np.testing.assert_allclose(point[name], init)
    compiled = nn.compile()
    assert compiled.dim == 10 + 25 + 5
    np.testing.assert_allclose(compiled.initial_position(), np.concatenate([i.ravel() for i in inits]), rtol=1e-6)
    assert compiled.initial_position().dtype == jnp.zeros(()).dtype


def test_tutorial_logdensity_and_gradient_under_jit():
    X, Y, inits = tutorial_data()
    nn = build_tutorial(X, Y, inits)
    compiled = nn.compile()
    position = compiled.initial_position()
    value, grad = jax.jit(jax.value_and_grad(compiled.logdensity_fn))(position, nn.data_values)
    assert grad.shape == (40,) and np.isfinite(np.asarray(grad)).all()
    np.testing.assert_allclose(float(value), tutorial_logp64(position, X, Y, len(Y)), rtol=RTOL)
    h = 1e-5
    for i in (0, 17, 39):
        step = np.zeros(40)
        step[i] = h
        numeric = (tutorial_logp64(np.asarray(position) + step, X, Y, len(Y))
                   - tutorial_logp64(np.asarray(position) - step, X, Y, len(Y))) / (2 * h)
        np.testing.assert_allclose(float(grad[i]), numeric, rtol=1e-3, atol=1e-3)
    # the deterministic p, through constrain_fn
    p = compiled.constrain_fn(position, nn.data_values)["p"]
    w1, w2, w3 = inits
    expected = scipy.special.expit(np.tanh(np.tanh(X @ w1) @ w2) @ w3)
    np.testing.assert_allclose(p, expected, rtol=1e-4)


def test_tutorial_minibatch_total_size_scaling():
    """set_data to a batch of rows: the likelihood is scaled by total_size / rows."""
    X, Y, inits = tutorial_data()
    nn = build_tutorial(X, Y, inits)
    compiled = nn.compile()
    logdensity = jax.jit(compiled.logdensity_fn)
    position = compiled.initial_position()
    nn.set_data({"x": X[:10], "y": Y[:10]})
    assert nn.compile() is compiled  # no rebuild
    expected = tutorial_logp64(position, X[:10], Y[:10], total_size=40)
    np.testing.assert_allclose(float(logdensity(position, nn.data_values)), expected, rtol=RTOL)


# ---------------------------------------------------------------------------
# total_size


def test_total_size_scales_observed_term():
    y = np.array([0.3, -1.2, 0.8, 2.0, 0.1])
    with cr.Model() as model:
        mu = cr.Normal("mu", 0.0, 10.0)
        cr.Normal("y", mu, 2.0, observed=y, total_size=100)
    mu_value = 0.4
    prior = st.norm(0, 10).logpdf(mu_value)
    lik = st.norm(mu_value, 2.0).logpdf(y).sum()
    expected = prior + 100 / 5 * lik
    np.testing.assert_allclose(float(model.logp({"mu": mu_value})), expected, rtol=RTOL)
    compiled = model.compile()
    np.testing.assert_allclose(float(compiled.logdensity_fn(jnp.array([mu_value]), model.data_values)), expected,
                               rtol=RTOL)


def test_total_size_follows_batch_rows_and_tuple():
    rng = np.random.default_rng(4)
    Y = rng.normal(size=(30, 2))
    with cr.Model() as model:
        mu = cr.Normal("mu", 0.0, 1.0, shape=2)
        y = cr.Data("y", Y)
        cr.Normal("obs", mu, 1.0, observed=y, total_size=(300, None))
    m = np.array([0.2, -0.3])
    for rows in (30, 6):
        model.set_data({"y": Y[:rows]})
        expected = st.norm.logpdf(m).sum() + 300 / rows * st.norm(m, 1.0).logpdf(Y[:rows]).sum()
        np.testing.assert_allclose(float(model.logp({"mu": m})), expected, rtol=RTOL)
        np.testing.assert_allclose(float(model.compile().logdensity_fn(jnp.asarray(m, jnp.float32),
                                                                       model.data_values)), expected, rtol=RTOL)


def test_no_total_size_means_no_scaling():
    y = np.array([0.5, 1.5])
    with cr.Model() as model:
        mu = cr.Normal("mu", 0, 1)
        cr.Normal("y", mu, 1, observed=y)
    expected = st.norm.logpdf(0.2) + st.norm(0.2, 1).logpdf(y).sum()
    np.testing.assert_allclose(float(model.logp({"mu": 0.2})), expected, rtol=RTOL)


# ---------------------------------------------------------------------------
# Symbolic nodes

A = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], np.float32)
B = np.array([0.3, 2.0, -1.1], np.float32)


@pytest.fixture(scope="module")
def ab():
    with cr.Model() as model:
        a = cr.Normal("a", 0, 1, shape=(2, 3))
        b = cr.Normal("b", 0, 1, shape=3)
    return model, a, b


OPERATIONS = {
    "add": lambda a, b: a + b,
    "radd-array": lambda a, b: np.ones(3, np.float32) + b,
    "sub": lambda a, b: a - b,
    "rsub": lambda a, b: 3.0 - a,
    "mul": lambda a, b: a * b,
    "rmul": lambda a, b: 2.0 * b,
    "div": lambda a, b: a / (b + 5.0),
    "rdiv": lambda a, b: 1.0 / (a + 10.0),
    "pow": lambda a, b: a**2,
    "rpow": lambda a, b: 2.0**b,
    "node-pow-node": lambda a, b: (a + 3.0) ** b,
    "matmul": lambda a, b: a @ b,
    "rmatmul-array": lambda a, b: np.ones((4, 2), np.float32) @ a,
    "matmul-T": lambda a, b: b @ a.T,
    "neg": lambda a, b: -a,
    "abs": lambda a, b: abs(a),
    "index": lambda a, b: a[1],
    "index-2": lambda a, b: a[0, 2],
    "slice": lambda a, b: a[:, 1:],
    "step-slice": lambda a, b: b[::-1],
    "newaxis": lambda a, b: b[None, :] * a,
    "T": lambda a, b: a.T,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= 0.25,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: b >= 0.3,
    "eq": lambda a, b: a == 0.5,
    "ne": lambda a, b: a != 0.5,
    "sum-axis": lambda a, b: a.sum(axis=0),
    "mean": lambda a, b: a.mean(),
    "reshape": lambda a, b: a.reshape(3, 2),
    "dot-method": lambda a, b: a.dot(b),
    "chain": lambda a, b: ((a * 2 - b) / 3).T @ np.ones(2, np.float32),
}


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_operator_nodes(ab, name):
    _, a, b = ab
    operation = OPERATIONS[name]
    node = operation(a, b)
    expected = np.asarray(operation(jnp.asarray(A), jnp.asarray(B)))
    assert isinstance(node, Node)
    assert node.shape == expected.shape
    assert np.dtype(node.dtype) == expected.dtype
    value = evaluate(node, {"a": jnp.asarray(A), "b": jnp.asarray(B)}, {})
    np.testing.assert_allclose(np.asarray(value), expected, rtol=1e-6)


def test_operator_values_by_hand(ab):
    _, a, b = ab
    values = {"a": jnp.asarray(A), "b": jnp.asarray(B)}
    np.testing.assert_allclose(evaluate(a @ b, values, {}), A.astype(np.float64) @ B, rtol=1e-6)
    np.testing.assert_allclose(evaluate(np.ones(3) + b, values, {}), 1.0 + B, rtol=1e-6)
    np.testing.assert_array_equal(evaluate(a < b, values, {}), A < B)
    np.testing.assert_allclose(evaluate(a.T[1:, 0], values, {}), A.T[1:, 0])
    np.testing.assert_allclose(evaluate(-(a**2), values, {}), -(A**2), rtol=1e-6)


def test_numpy_array_on_the_left_gives_a_node(ab):
    _, a, b = ab
    for node in (np.ones(3) + b, np.ones(3) * b, np.ones(3) - b, np.ones(3) / (b + 5), np.ones((2, 3)) @ b,
                 np.zeros(3) < b, jnp.ones(3) + b):
        assert isinstance(node, Node)
    assert (np.ones((4, 2)) @ a).shape == (4, 3)
    assert (np.ones(3) + b).shape == (3,)


def test_nodes_are_symbolic(ab):
    model, a, b = ab
    with pytest.raises(TypeError):
        bool(a > 0)
    assert len(a) == 2 and a.ndim == 2 and a.size == 6
    assert [row.shape for row in a] == [(3,), (3,)]


def test_bad_shapes_fail_when_the_node_is_defined(ab):
    _, a, b = ab
    with pytest.raises(cr.errors.ModelError):
        b @ a  # (3,) @ (2, 3)
    with pytest.raises(ValueError):
        a + np.ones(4)


def test_deterministic_through_constrain_fn():
    with cr.Model() as model:
        a = cr.Normal("a", 0, 1, shape=(2, 3))
        s = cr.HalfNormal("s", 1.0)
        cr.Deterministic("d1", (a * s)[:, 0] @ np.ones(2))
        cr.Deterministic("d2", cr.math.exp(a.T) - s)
    compiled = model.compile()
    u = jnp.concatenate([jnp.asarray(A).ravel(), jnp.array([np.log(2.0)], jnp.float32)])
    out = compiled.constrain_fn(u, model.data_values)
    np.testing.assert_allclose(out["d1"], (A * 2.0)[:, 0].sum(), rtol=1e-6)
    np.testing.assert_allclose(out["d2"], np.exp(A.T) - 2.0, rtol=1e-5)
    assert model["d2"].shape == (3, 2)


# ---------------------------------------------------------------------------
# cr.math

MULTI_ARGUMENT = {"apply", "dot", "matmul", "stack", "concatenate", "where", "clip", "maximum", "minimum",
                  "reshape", "outer"}
ALIASES = {"invlogit": jax.nn.sigmoid}


def _reference(name):
    if name in ALIASES:
        return ALIASES[name]
    for module in (jnp, jax.nn, jax.scipy.special):
        if hasattr(module, name):
            return getattr(module, name)
    raise AssertionError(f"no JAX reference for cr.math.{name}")


ONE_ARRAY = sorted(set(cr.math.__all__) - MULTI_ARGUMENT)
X = np.random.default_rng(5).uniform(0.1, 0.9, (2, 3)).astype(np.float32)  # inside every domain (logit, log)


def test_math_has_the_required_names():
    required = {"dot", "matmul", "tanh", "sigmoid", "exp", "log", "log1p", "sqrt", "square", "sum", "mean", "relu",
                "softplus", "softmax", "log_softmax", "logsumexp", "stack", "concatenate", "where", "clip", "abs",
                "maximum", "minimum", "apply"}
    assert required <= set(cr.math.__all__)
    assert all(callable(getattr(cr.math, name)) for name in cr.math.__all__)


@pytest.mark.parametrize("name", ONE_ARRAY)
def test_math_one_array_functions(ab, name):
    model, a, _ = ab
    fn, reference = getattr(cr.math, name), _reference(name)
    expected = np.asarray(reference(jnp.asarray(X)))
    node = fn(a)
    assert isinstance(node, Node) and node.shape == expected.shape
    np.testing.assert_allclose(np.asarray(evaluate(node, {"a": jnp.asarray(X)}, {})), expected, rtol=1e-6)
    # without a node among the arguments it simply computes
    np.testing.assert_allclose(np.asarray(fn(X)), expected, rtol=1e-6)


def test_math_values_by_hand(ab):
    _, a, b = ab
    x64 = X.astype(np.float64)
    cases = [
        (cr.math.sigmoid(a), 1 / (1 + np.exp(-x64))),
        (cr.math.logit(a), np.log(x64 / (1 - x64))),
        (cr.math.softplus(a), np.log1p(np.exp(x64))),
        (cr.math.relu(a - 0.5), np.maximum(x64 - 0.5, 0)),
        (cr.math.softmax(a), np.exp(x64) / np.exp(x64).sum(-1, keepdims=True)),
        (cr.math.softmax(a, axis=0), np.exp(x64) / np.exp(x64).sum(0, keepdims=True)),
        (cr.math.log_softmax(a), x64 - np.log(np.exp(x64).sum(-1, keepdims=True))),
        (cr.math.logsumexp(a, axis=1), np.log(np.exp(x64).sum(1))),
        (cr.math.sum(a, axis=1), x64.sum(1)),
        (cr.math.mean(a), x64.mean()),
        (cr.math.std(a, axis=0), x64.std(0)),
        (cr.math.cumsum(a, axis=1), x64.cumsum(1)),
        (cr.math.dot(a, b), x64 @ B),
        (cr.math.matmul(b, a.T), B @ x64.T),
        (cr.math.outer(b, b), np.outer(B, B)),
        (cr.math.stack([a, a * 2]), np.stack([x64, 2 * x64])),
        (cr.math.stack([b, b], axis=1), np.stack([B, B], axis=1)),
        (cr.math.concatenate([a, a[:1]], axis=0), np.concatenate([x64, x64[:1]])),
        (cr.math.where(a > 0.5, a, b), np.where(x64 > 0.5, x64, B)),
        (cr.math.clip(a, 0.3, 0.6), np.clip(x64, 0.3, 0.6)),
        (cr.math.maximum(a, b), np.maximum(x64, B)),
        (cr.math.minimum(a, 0.5), np.minimum(x64, 0.5)),
        (cr.math.reshape(a, (3, 2)), x64.reshape(3, 2)),
        (cr.math.transpose(a), x64.T),
    ]
    values = {"a": jnp.asarray(X), "b": jnp.asarray(B)}
    for node, expected in cases:
        assert isinstance(node, Node) and node.shape == np.shape(expected)
        np.testing.assert_allclose(np.asarray(evaluate(node, values, {})), expected, rtol=1e-5, atol=1e-6)


def test_math_apply_lifts_any_jax_function(ab):
    _, a, _ = ab
    x64 = X.astype(np.float64)
    node = cr.math.apply(jax.nn.gelu, a)
    assert isinstance(node, Node) and node.shape == (2, 3)
    tanh_gelu = 0.5 * x64 * (1 + np.tanh(np.sqrt(2 / np.pi) * (x64 + 0.044715 * x64**3)))
    np.testing.assert_allclose(evaluate(node, {"a": jnp.asarray(X)}, {}), tanh_gelu, rtol=1e-5)
    exact = cr.math.apply(jax.nn.gelu, a, approximate=False)
    erf_gelu = 0.5 * x64 * (1 + scipy.special.erf(x64 / np.sqrt(2)))
    np.testing.assert_allclose(evaluate(exact, {"a": jnp.asarray(X)}, {}), erf_gelu, rtol=1e-5)
    # shape-changing functions and several nodes
    kron = cr.math.apply(jnp.kron, a, a)
    assert kron.shape == (4, 9)
    np.testing.assert_allclose(evaluate(kron, {"a": jnp.asarray(X)}, {}), np.kron(X, X), rtol=1e-6)
    # no node: a plain call
    np.testing.assert_allclose(cr.math.apply(jax.nn.gelu, X), np.asarray(jax.nn.gelu(X)))


# ---------------------------------------------------------------------------
# set_data with a different number of rows


def regression(n=20, observed_as_data=True, seed=2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)).astype(np.float32)
    w_true = np.array([1.5, -2.0], np.float32)
    Y = (X @ w_true + 0.1 * rng.normal(size=n)).astype(np.float32)
    with cr.Model() as model:
        x = cr.Data("x", X)
        observed = cr.Data("y", Y) if observed_as_data else Y
        w = cr.Normal("w", 0, 1, shape=2)
        sigma = cr.HalfNormal("sigma", 1.0)
        mu = cr.Deterministic("mu", x @ w)
        cr.Normal("obs", mu, sigma, observed=observed)
    return model, X, Y, w_true


def _forward(model, w, sigma=1e-3, seed=0):
    compiled = model.compile()
    free = {"w": jnp.asarray(w), "sigma": jnp.asarray(sigma, jnp.float32)}
    return compiled.forward_sample_fn(jax.random.PRNGKey(seed), free, model.data_values)


@pytest.mark.parametrize("rows", [7, 1, 33])
@pytest.mark.parametrize("also_y", [False, True])
def test_set_data_new_rows_forward_samples_follow(rows, also_y):
    model, X, Y, w = regression()
    rng = np.random.default_rng(rows)
    X_new = rng.normal(size=(rows, 2)).astype(np.float32)
    new = {"x": X_new}
    if also_y:
        new["y"] = rng.normal(size=rows).astype(np.float32)
    with model:
        cr.set_data(new)
    assert model.data_values["x"].shape == (rows, 2)
    draws = _forward(model, w)
    assert draws["obs"].shape == (rows,)
    assert draws["mu"].shape == (rows,)
    np.testing.assert_allclose(draws["mu"], X_new @ w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(draws["obs"], X_new @ w, atol=1e-2)  # sigma = 1e-3


@pytest.mark.parametrize("rows", [7, 1])
def test_set_data_observed_array_follows_inputs(rows):
    """Observed data given as an array (not cr.Data): forward samples follow the new x."""
    model, X, Y, w = regression(observed_as_data=False)
    X_new = X[:rows] + 1.0
    model.set_data({"x": X_new})
    draws = _forward(model, w)
    assert draws["obs"].shape == (rows,)
    np.testing.assert_allclose(draws["obs"], X_new @ w, atol=1e-2)


def test_set_data_back_and_forth_keeps_the_compiled_model():
    model, X, Y, w = regression()
    compiled = model.compile()
    logdensity = jax.jit(compiled.logdensity_fn)
    position = jnp.asarray(np.r_[w, np.log(0.5)], jnp.float32)

    def expected(X_, Y_):
        return (st.norm.logpdf(w).sum() + st.halfnorm.logpdf(0.5) + np.log(0.5)
                + st.norm(X_.astype(np.float64) @ w, 0.5).logpdf(Y_).sum())

    np.testing.assert_allclose(float(logdensity(position, model.data_values)), expected(X, Y), rtol=RTOL)
    model.set_data({"x": X[:5], "y": Y[:5]})
    assert model.compile() is compiled
    np.testing.assert_allclose(float(logdensity(position, model.data_values)), expected(X[:5], Y[:5]), rtol=RTOL)
    model.set_data({"x": X, "y": Y})
    np.testing.assert_allclose(float(logdensity(position, model.data_values)), expected(X, Y), rtol=RTOL)


def test_scalar_likelihood_broadcasts_to_observed_rows():
    """A scalar mean with a vector of observations: forward samples have the data's rows."""
    with cr.Model() as model:
        mu = cr.Normal("mu", 0, 1)
        y = cr.Data("y", np.zeros(6, np.float32))
        cr.Normal("obs", mu, 1e-3, observed=y)
    compiled = model.compile()
    draws = compiled.forward_sample_fn(jax.random.PRNGKey(0), {"mu": jnp.asarray(2.0)}, model.data_values)
    assert draws["obs"].shape == (6,)
    np.testing.assert_allclose(draws["obs"], 2.0, atol=1e-2)
    model.set_data({"y": np.zeros(3, np.float32)})
    draws = compiled.forward_sample_fn(jax.random.PRNGKey(0), {"mu": jnp.asarray(2.0)}, model.data_values)
    assert draws["obs"].shape == (3,)


@pytest.mark.parametrize("make", [lambda: cr.Flat("f"), lambda: cr.Flat("f", shape=3), lambda: cr.HalfFlat("f")])
def test_improper_prior_has_no_draws(make):
    with cr.Model() as model:
        make()
    with pytest.raises(cr.errors.ModelError, match="'f' is improper"):
        model.compile().prior_sample_fn(jax.random.PRNGKey(0), model.data_values)


def test_prior_sample_fn_draws_every_variable():
    model, X, Y, w = regression(n=6)
    draws = model.compile().prior_sample_fn(jax.random.PRNGKey(1), model.data_values)
    assert {k: v.shape for k, v in draws.items()} == {"w": (2,), "sigma": (), "mu": (6,), "obs": (6,)}
    np.testing.assert_allclose(draws["mu"], X @ np.asarray(draws["w"]), rtol=1e-5, atol=1e-6)


def test_logp_with_jacobian_skips_discrete_free_variables():
    with cr.Model() as model:
        cr.Bernoulli("b", 0.3)
        cr.HalfNormal("s", 1.0)
    point = {"b": 1, "s": 2.0}
    expected = np.log(0.3) + st.halfnorm.logpdf(2.0)
    np.testing.assert_allclose(float(model.logp(point)), expected, rtol=RTOL)
    np.testing.assert_allclose(float(model.logp(point, jacobian=True)), expected + np.log(2.0), rtol=RTOL)
