"""Bad input gets a clear credo error that names the variable, where the mistake is made."""

from __future__ import annotations

import numpy as np
import pytest

import credo as cr
from credo.errors import (
    CredoError, DataError, InitvalError, ModelContextError, ModelError, ObservedError, ParameterError,
)


def raises_credo(cls, *names):
    """Context manager: a ``cls`` credo error whose message names each of ``names``."""
    return _Raises(cls, names)


class _Raises:
    def __init__(self, cls, names):
        self.cls, self.names = cls, names

    def __enter__(self):
        self._ctx = pytest.raises(self.cls)
        self.info = self._ctx.__enter__()
        return self.info

    def __exit__(self, *exc):
        suppressed = self._ctx.__exit__(*exc)
        error = self.info.value
        assert isinstance(error, CredoError)
        assert isinstance(error, (ValueError, TypeError))
        message = str(error)
        for name in self.names:
            assert name in message, f"{name!r} not in {message!r}"
        return suppressed


def test_error_classes():
    for cls in (ModelError, ParameterError, ObservedError, DataError, InitvalError):
        assert issubclass(cls, CredoError) and issubclass(cls, ValueError)
    assert issubclass(ModelContextError, CredoError) and issubclass(ModelContextError, TypeError)


# ---------------------------------------------------------------------------
# names and contexts


def test_name_used_twice():
    with cr.Model():
        cr.Normal("alpha", 0, 1)
        with raises_credo(ModelError, "'alpha'", "twice"):
            cr.HalfNormal("alpha", 1)


@pytest.mark.parametrize("second", ["data", "deterministic", "observed"])
def test_name_used_twice_across_kinds(second):
    with cr.Model():
        w = cr.Normal("w", 0, 1, shape=3)
        with raises_credo(ModelError, "'w'"):
            if second == "data":
                cr.Data("w", np.zeros(3))
            elif second == "deterministic":
                cr.Deterministic("w", w * 2)
            else:
                cr.Normal("w", 0, 1, observed=np.zeros(3))


def test_data_name_reused_by_a_variable():
    with cr.Model():
        cr.Data("x", np.zeros((4, 2)))
        with raises_credo(ModelError, "'x'"):
            cr.Normal("x", 0, 1)


@pytest.mark.parametrize("make", [
    lambda: cr.Normal("beta", 0, 1),
    lambda: cr.Bernoulli("beta", p=0.5, observed=np.array([0, 1])),
    lambda: cr.Data("beta", np.zeros(3)),
    lambda: cr.Dirichlet("beta", np.ones(3)),
])
def test_variable_outside_a_model_context(make):
    with raises_credo(ModelContextError, "beta", "cr.Model"):
        make()


def test_deterministic_and_set_data_outside_a_model_context():
    with cr.Model():
        w = cr.Normal("w", 0, 1)
    with raises_credo(ModelContextError, "'d'"):
        cr.Deterministic("d", w * 2)
    with raises_credo(ModelContextError, "set_data"):
        cr.set_data({"x": np.zeros(3)})


# ---------------------------------------------------------------------------
# observed data


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_observed_nan_or_inf(bad):
    y = np.array([0.1, 0.2, bad, 0.4])
    with cr.Model():
        with raises_credo(ObservedError, "'y_obs'", "NaN or inf", "(2,)"):
            cr.Normal("y_obs", 0, 1, observed=y)


def test_observed_nan_through_data():
    with cr.Model():
        # cr.Data already refuses NaN, naming the data
        with raises_credo(DataError, "'y'"):
            cr.Data("y", np.array([1.0, np.nan]))


@pytest.mark.parametrize("make, name, found", [
    (lambda: cr.Bernoulli("coin", p=0.5, observed=np.array([0, 1, 2])), "coin", "2"),
    (lambda: cr.Bernoulli("coin", logit_p=0.0, observed=np.array([1, 0, -1])), "coin", "-1"),
    (lambda: cr.Poisson("counts", mu=3.0, observed=np.array([1, 4, -2])), "counts", "-2"),
    (lambda: cr.Poisson("counts", mu=3.0, observed=np.array([1.0, 2.5])), "counts", "2.5"),
    (lambda: cr.Beta("rate", 2.0, 2.0, observed=np.array([0.2, 1.5])), "rate", "1.5"),
    (lambda: cr.HalfNormal("scale", 1.0, observed=np.array([0.2, -0.1])), "scale", "-0.1"),
    (lambda: cr.Binomial("hits", n=5, p=0.5, observed=np.array([1, 6])), "hits", "6"),
    (lambda: cr.Categorical("cls", p=np.array([0.2, 0.3, 0.5]), observed=np.array([0, 3])), "cls", "3"),
    (lambda: cr.Dirichlet("mix", np.ones(3), observed=np.array([[0.5, 0.6, 0.1]])), "mix", "probability"),
])
def test_observed_outside_support(make, name, found):
    with cr.Model():
        with raises_credo(ObservedError, repr(name), found):
            make()


def test_observed_outside_support_through_data():
    with cr.Model():
        y = cr.Data("y", np.array([0.0, 1.0, 3.0]))
        with raises_credo(ObservedError, "'flips'", "0 or 1"):
            cr.Bernoulli("flips", p=0.5, observed=y)


def test_observed_shape_not_broadcastable():
    with cr.Model():
        mu = cr.Normal("mu", 0, 1, shape=3)
        with raises_credo(ObservedError, "'y'", "(4,)", "(3,)"):
            cr.Normal("y", mu, 1, observed=np.zeros(4))
        with raises_credo(ObservedError, "'z'", "(2, 4)"):
            cr.Normal("z", np.zeros(3), 1, observed=np.zeros((2, 4)))
        with raises_credo(ObservedError, "'v'"):
            cr.Normal("v", 0, 1, shape=(5,), observed=np.zeros(4))


def test_failed_observed_variable_leaves_its_name_free():
    with cr.Model() as model:
        with pytest.raises(ObservedError):
            cr.Normal("y", np.zeros(3), 1, observed=np.zeros(4))
        with pytest.raises(ObservedError):
            cr.Bernoulli("y", p=0.5, observed=np.array([0, 2]))
        y = cr.Normal("y", np.zeros(3), 1, observed=np.zeros(3))
    assert model.observed_variables == [y] and model.data_values["y"].shape == (3,)


@pytest.mark.parametrize("observed", [[[1.0, 2.0], [3.0]], "abc", np.array(["a", "b"]), [None, 1.0]])
def test_observed_not_numeric(observed):
    with cr.Model() as model:
        with raises_credo(ObservedError, "'y'", "numeric"):
            cr.Normal("y", 0, 1, observed=observed)
    assert "y" not in model.data_values


def test_observed_computed_node_is_refused():
    with cr.Model():
        w = cr.Normal("w", 0, 1, shape=3)
        with raises_credo(ObservedError, "'y'"):
            cr.Normal("y", 0, 1, observed=w * 2)


# ---------------------------------------------------------------------------
# constant parameters outside their domain


@pytest.mark.parametrize("make, name, parameter", [
    (lambda: cr.Normal("w", 0, sigma=0.0), "w", "sigma"),
    (lambda: cr.Normal("w", 0, sigma=-1.0), "w", "sigma"),
    (lambda: cr.Normal("w", 0, sd=-2.0), "w", "sigma"),
    (lambda: cr.Normal("w", 0, tau=0.0), "w", "tau"),
    (lambda: cr.Normal("w", 0, sigma=np.array([1.0, -1.0])), "w", "sigma"),
    (lambda: cr.HalfNormal("s", sigma=-1.0), "s", "sigma"),
    (lambda: cr.StudentT("t", nu=-1.0), "t", "nu"),
    (lambda: cr.LogNormal("ln", 0, sigma=0.0), "ln", "sigma"),
    (lambda: cr.Laplace("lp", 0, b=0.0), "lp", "b"),
    (lambda: cr.Cauchy("c", 0, beta=-1.0), "c", "beta"),
    (lambda: cr.HalfCauchy("hc", beta=0.0), "hc", "beta"),
    (lambda: cr.Exponential("e", lam=-0.5), "e", "lam"),
    (lambda: cr.Exponential("e", scale=[1.0, 0.0]), "e", "scale"),
    (lambda: cr.StudentT("t", nu=3.0, lam=-1.0), "t", "lam"),
    (lambda: cr.Gamma("g", alpha=-1.0, beta=1.0), "g", "alpha"),
    (lambda: cr.InverseGamma("ig", alpha=1.0, beta=0.0), "ig", "beta"),
    (lambda: cr.Beta("b", alpha=0.0, beta=1.0), "b", "alpha"),
    (lambda: cr.Uniform("u", lower=1.0, upper=0.0), "u", "lower"),
    (lambda: cr.Bernoulli("y", p=1.2, observed=np.array([0, 1])), "y", "p"),
    (lambda: cr.Bernoulli("y", p=-0.1, observed=np.array([0, 1])), "y", "p"),
    (lambda: cr.Binomial("y", n=5, p=1.5, observed=np.array([0, 1])), "y", "p"),
    (lambda: cr.Binomial("y", n=-5, p=0.5), "y", "n"),
    (lambda: cr.Poisson("y", mu=-1.0, observed=np.array([0, 1])), "y", "mu"),
    (lambda: cr.Categorical("y", p=np.array([0.5, 0.6])), "y", "p"),
    (lambda: cr.Dirichlet("y", a=np.array([1.0, 0.0])), "y", "a"),
    (lambda: cr.MvNormal("y", np.zeros(2), cov=np.array([[1.0, 2.0], [2.0, 1.0]])), "y", "cov"),
    (lambda: cr.MvNormal("y", np.zeros(2), chol=np.array([[1.0, 0.0], [0.5, -1.0]])), "y", "chol"),
])
def test_constant_parameter_outside_domain(make, name, parameter):
    with cr.Model() as model:
        with raises_credo(ParameterError, repr(name), parameter):
            make()
    assert name not in model and name not in model.data_values


@pytest.mark.parametrize("make, parameter", [
    (lambda: cr.Normal("w", 0, sigma="one"), "sigma"),
    (lambda: cr.Normal("w", 0, tau="one"), "tau"),
    (lambda: cr.Normal("w", mu={"a": 1}), "mu"),
    (lambda: cr.Beta("w", alpha=[1.0, "x"], beta=1.0), "alpha"),
])
def test_bad_parameter_type(make, parameter):
    with cr.Model():
        with raises_credo(TypeError, "'w'", parameter):
            make()


def test_incompatible_parameter_shapes():
    with cr.Model():
        with raises_credo(ModelError, "'w'"):
            cr.Normal("w", np.zeros(3), np.ones(4))
        with raises_credo(ModelError, "'v'", "shape=(2,)"):
            cr.Normal("v", np.zeros(3), 1.0, shape=(2,))


# ---------------------------------------------------------------------------
# set_data


@pytest.fixture
def data_model():
    with cr.Model() as model:
        x = cr.Data("x", np.zeros((10, 3)))
        w = cr.Normal("w", 0, 1, shape=3)
        cr.Normal("y", x @ w, 1, observed=np.zeros(10))
    return model


def test_set_data_unknown_name(data_model):
    with raises_credo(DataError, "'z'", "'x'"):
        data_model.set_data({"z": np.zeros((10, 3))})
    with data_model:
        with raises_credo(DataError, "'w'"):
            cr.set_data({"w": np.zeros(3)})  # a free variable is not Data


def test_set_data_observed_array_is_not_data(data_model):
    # observed arrays are held as data named after their variable, but set_data is for cr.Data only
    with raises_credo(DataError, "'y'"):
        data_model.set_data({"y": np.zeros(4)})


def test_set_data_wrong_number_of_columns(data_model):
    with raises_credo(DataError, "'x'", "(3,)", "(10, 4)"):
        data_model.set_data({"x": np.zeros((10, 4))})
    with raises_credo(DataError, "'x'", "dimensions"):
        data_model.set_data({"x": np.zeros(10)})
    # nothing was replaced
    assert data_model.data_values["x"].shape == (10, 3)


def test_set_data_is_atomic(data_model):
    with cr.Model() as model:
        cr.Data("a", np.zeros((5, 2)))
        cr.Data("b", np.zeros((5, 2)))
    with pytest.raises(DataError):
        model.set_data({"a": np.ones((3, 2)), "b": np.ones((3, 5))})
    assert model.data_values["a"].shape == (5, 2)


@pytest.mark.parametrize("rows", [1, 4])
def test_inputs_swapped_without_their_targets(rows):
    """One row of inputs would broadcast against the ten targets; four would not."""
    with cr.Model():
        x = cr.Data("x", np.zeros((10, 3)))
        y = cr.Data("y", np.zeros(10))
        w = cr.Normal("w", 0, 1, shape=3)
        cr.Normal("obs", x @ w, 1, observed=y)
        cr.set_data({"x": np.ones((rows, 3))})
        with raises_credo(ObservedError, "'obs'", "(10,)", f"({rows},)"):
            cr.fit(n=10, progressbar=False)
        cr.set_data({"x": np.ones((rows, 3)), "y": np.ones(rows)})
        assert cr.fit(n=10, progressbar=False).hist.shape == (10,)


def test_scalar_likelihood_still_broadcasts_over_observations():
    with cr.Model() as model:
        mu = cr.Normal("mu", 0, 1)
        cr.Normal("y", mu, 1, observed=np.zeros(7))
        assert cr.fit(n=10, progressbar=False).hist.shape == (10,)
    assert model.logp({"mu": 0.0}) == pytest.approx(-8 * 0.5 * np.log(2 * np.pi))


def test_set_data_nan(data_model):
    bad = np.zeros((4, 3))
    bad[1, 2] = np.nan
    with raises_credo(DataError, "'x'", "NaN"):
        data_model.set_data({"x": bad})


# ---------------------------------------------------------------------------
# initval


@pytest.mark.parametrize("make, name, what", [
    (lambda: cr.Normal("w", 0, 1, shape=3, initval=np.zeros(4)), "w", "(4,)"),
    (lambda: cr.Normal("w", 0, 1, shape=(2, 5), initval=np.zeros((5, 2))), "w", "(2, 5)"),
    (lambda: cr.Normal("w", 0, 1, shape=(2, 5), testval=np.zeros(3)), "w", "(3,)"),
    (lambda: cr.Dirichlet("d", np.ones(3), initval=np.array([0.5, 0.5])), "d", "(2,)"),
])
def test_initval_wrong_shape(make, name, what):
    with cr.Model():
        with raises_credo(InitvalError, repr(name), what):
            make()


@pytest.mark.parametrize("make, name, found", [
    (lambda: cr.HalfNormal("s", 1.0, initval=-1.0), "s", "-1"),
    (lambda: cr.HalfNormal("s", 1.0, testval=0.0), "s", "0"),
    (lambda: cr.Exponential("s", 1.0, shape=2, initval=np.array([1.0, -2.0])), "s", "-2"),
    (lambda: cr.Beta("p", 1.0, 1.0, initval=1.5), "p", "1.5"),
    (lambda: cr.Uniform("u", -1.0, 1.0, initval=2.0), "u", "2"),
    (lambda: cr.Dirichlet("d", np.ones(3), initval=np.array([0.5, 0.6, 0.1])), "d", "probability"),
    (lambda: cr.Normal("w", 0, 1, initval=np.nan), "w", "NaN"),
])
def test_initval_outside_support(make, name, found):
    with cr.Model():
        with raises_credo(InitvalError, repr(name), found):
            make()


def test_good_initval_is_used():
    with cr.Model() as model:
        cr.HalfNormal("s", 1.0, initval=0.3)
        cr.Dirichlet("d", np.ones(3), initval=np.array([0.2, 0.3, 0.5]))
    point = model.initial_point()
    np.testing.assert_allclose(point["s"], 0.3)
    np.testing.assert_allclose(point["d"], [0.2, 0.3, 0.5])


# ---------------------------------------------------------------------------
# logp points


def test_logp_point_errors():
    with cr.Model() as model:
        cr.Normal("w", 0, 1, shape=3)
        cr.Normal("y", 0, 1, observed=np.zeros(2))
    with raises_credo(ModelError, "'w'"):
        model.logp({})
    with raises_credo(ModelError, "'w'", "(3,)"):
        model.logp({"w": np.zeros(4)})
    with raises_credo(ModelError, "nope"):
        model.logp({"w": np.zeros(3), "nope": 1.0})
    with raises_credo(ObservedError, "'y'"):
        model.logp({"w": np.zeros(3), "y": np.array([0.0, np.nan])})
