"""Issue 10's model-layer cases: each silent wrong result is now a clear error (or a correct result)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st

import credo as cr
from credo.errors import (
    CredoWarning, DataError, DataTypeError, FitError, ModelError, NonFiniteLossError, ObservedError,
    ParameterTypeError,
)

from test_errors import raises_credo

SRC = str(Path(__file__).resolve().parents[1] / "src")

# ---------------------------------------------------------------------------
# a node of another model


def test_a_node_of_another_model_is_refused_naming_both_models_variable():
    with cr.Model("first"):
        a_first = cr.Normal("a", 0, 1)
    with cr.Model("second") as second:
        cr.Normal("a", 5, 1)
        with raises_credo(ModelError, "'b'", "parameter mu", "'a' of model 'first'", "this model's own 'a'"):
            cr.Normal("b", a_first, 1)
        with raises_credo(ModelError, "'d'", "'a' of model 'first'"):
            cr.Deterministic("d", 2 * cr.math.exp(a_first))
        with raises_credo(ModelError, "'pot'", "'a' of model 'first'"):
            cr.Potential("pot", a_first)
        b = cr.Normal("b", second["a"], 1)  # the failed definitions left no trace
    assert [v.name for v in second.free_variables] == ["a", "b"]
    assert "pot" not in second and "d" not in second and b.params["mu"] is second["a"]


def test_another_models_variable_missing_here_and_its_data_are_refused():
    with cr.Model():  # unnamed
        x_other = cr.Data("x", np.zeros(3))
        a_other = cr.Normal("a", 0, 1)
    with cr.Model():
        with raises_credo(ModelError, "'a' of another, unnamed model", "this model has no variable 'a'"):
            cr.Normal("b", a_other, 1)
        with raises_credo(ModelError, "observed", "'x'"):
            cr.Normal("y", 0, 1, observed=x_other)


# ---------------------------------------------------------------------------
# every model-level entry point runs the data checks of a fit


def regression(rows=20):
    x_values = np.linspace(-1, 1, rows)
    with cr.Model() as model:
        x = cr.Data("x", x_values)
        y = cr.Data("y", 2 * x_values)
        w = cr.Normal("w", 0, 1)
        cr.Normal("obs", w * x, 1, observed=y)
    return model


def test_logp_after_set_data_of_inputs_only_is_refused():
    model = regression()
    model.set_data({"x": np.ones(1)})  # one row of inputs against 20 targets would broadcast to 20 copies
    with raises_credo(ObservedError, "'obs'", "set_data the matching observed values too"):
        model.logp({"w": 0.5})
    with raises_credo(ObservedError, "'obs'"):
        model.point_logps({"w": 0.5})
    model.set_data({"y": np.full(1, 3.0)})
    expected = st.norm(0, 1).logpdf(0.5) + st.norm(0.5, 1).logpdf(3.0)
    np.testing.assert_allclose(float(model.logp({"w": 0.5})), expected, rtol=1e-5)


def test_point_logps_match_scipy_term_by_term():
    k = np.array([3, 7, 0])
    with cr.Model() as model:
        p = cr.Beta("p", 2, 3)
        lam = cr.Gamma("lam", 2, 1)
        cr.Binomial("k", n=10, p=p, observed=k)
        cr.Poisson("c", lam, observed=k)
        cr.Potential("pull", -lam)
    terms = model.point_logps({"p": 0.3, "lam": 1.5})
    expected = {"p": st.beta(2, 3).logpdf(0.3), "lam": st.gamma(2, scale=1).logpdf(1.5),
                "k": st.binom(10, 0.3).logpmf(k).sum(), "c": st.poisson(1.5).logpmf(k).sum(), "pull": -1.5}
    assert list(terms) == list(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(terms[name], value, rtol=1e-5, err_msg=name)
    np.testing.assert_allclose(float(model.logp({"p": 0.3, "lam": 1.5})), sum(expected.values()), rtol=1e-5)


# ---------------------------------------------------------------------------
# integers beyond the default integer dtype: refused, never wrapped


def test_integers_beyond_int32_are_refused_not_wrapped():
    with cr.Model() as model:
        with raises_credo(DataError, "'big'", "x64"):
            cr.Data("big", np.array([2**40, 3]))
        with raises_credo(ObservedError, "'c'", "3000000000", "x64"):
            cr.Poisson("c", 1.0, observed=3e9)
        with raises_credo(ObservedError, "'c'", "x64"):
            cr.Poisson("c", 1.0, observed=np.array([3_000_000_000], dtype=np.int64))
        with raises_credo(DataError, "overflow"):
            cr.Data("huge", np.array([1e39]))
        counts = cr.Data("counts", np.array([1, 2]))
        cr.Poisson("c", 1.0, observed=counts)
    with raises_credo(DataError, "'counts'", "x64"):
        model.set_data({"counts": np.array([2**40, 1])})
    assert np.asarray(model.data_values["counts"]).tolist() == [1, 2]


def test_x64_keeps_large_integers_exact():
    code = (
        "import jax; jax.config.update('jax_enable_x64', True)\n"
        "import numpy as np, scipy.stats as st, credo as cr\n"
        "with cr.Model() as model:\n"
        "    x = cr.Data('big', np.array([2**40, 3]))\n"
        "    lam = cr.Gamma('lam', 2, 1e-9)\n"
        "    cr.Poisson('c', lam, observed=3e9)\n"
        "assert np.asarray(model.data_values['big']).tolist() == [2**40, 3]\n"
        "assert int(model.data_values['c']) == 3_000_000_000\n"
        # float64 cancellation in log(rate) * value - lgamma(value + 1) at 6.5e10 leaves ~1e-5 (float32: ~1e4)
        "terms = model.point_logps({'lam': 3e9})\n"
        "np.testing.assert_allclose(terms['c'], st.poisson(3e9).logpmf(3_000_000_000), atol=1e-4)\n"
        "np.testing.assert_allclose(terms['lam'], st.gamma(2, scale=1e9).logpdf(3e9), rtol=1e-9)\n"
        "print('ok')\n"
    )
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), JAX_PLATFORMS="cpu")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


# ---------------------------------------------------------------------------
# options of the wrong type


@pytest.mark.parametrize("options, found", [
    ({"shape": "12"}, "'12'"), ({"shape": (2.7,)}, "2.7"), ({"shape": True}, "True"), ({"shape": 2.0}, "2.0"),
    ({"shape": (2, None)}, "None"), ({"total_size": True, "observed": np.zeros(3)}, "True"),
    ({"total_size": 2.5, "observed": np.zeros(3)}, "2.5"), ({"total_size": (True,), "observed": np.zeros(3)}, "True"),
    ({"dims": 3}, "3"), ({"dims": ("a", 2)}, "2"),
])
def test_options_of_the_wrong_type_are_type_errors(options, found):
    with cr.Model(coords={"a": [0, 1]}) as model:
        with raises_credo(ParameterTypeError, "'w'", found) as info:
            cr.Normal("w", 0, 1, **options)
        assert isinstance(info.value, TypeError)
    assert "w" not in model.named_vars and "w" not in model.data_values


def test_valid_shapes_still_work():
    with cr.Model():
        assert cr.Normal("a", 0, 1, shape=np.int64(3)).shape == (3,)
        assert cr.Normal("b", 0, 1, shape=[2, np.int32(2)]).shape == (2, 2)
        assert cr.Normal("c", 0, 1, shape=np.array([4])).shape == (4,)
        assert cr.Normal("d", 0, 1, shape=()).shape == ()


def test_unknown_keyword_lists_the_accepted_ones():
    with cr.Model():
        with pytest.raises(TypeError, match=r"Normal\(\) got an unexpected keyword argument 'sahpe'; it accepts "
                                            r".*dims.*mu.*observed.*sd.*shape.*sigma.*tau.*total_size"):
            cr.Normal("w", 0, 1, sahpe=3)


# ---------------------------------------------------------------------------
# observed shape against the parameters' shape, as in PyMC


def test_observed_shape_must_be_the_parameters_broadcast_shape():
    with cr.Model() as model:
        mu = cr.Normal("mu", 0, 1, shape=10)
        with raises_credo(ObservedError, "'y'", "(10, 1)", "(10,)"):
            cr.Normal("y", mu, 1, observed=np.zeros((10, 1)))
        with raises_credo(ObservedError, "'y'", "(10, 1)"):
            cr.Normal("y", mu, 1, observed=np.zeros((10, 1)), shape=(10,))
        with raises_credo(ObservedError, "'y'", "()"):
            cr.Normal("y", mu, 1, observed=0.5)
        y = cr.Normal("y", mu, 1, observed=np.zeros((3, 10)))  # parameters broadcast to the data: fine
        z = cr.Normal("z", 0, 1, observed=np.zeros((10, 1)))  # a scalar mean: the data's shape
    assert y.shape == (3, 10) and z.shape == (10, 1)
    assert "y" in model.data_values


def test_nn_style_logits_column_against_a_vector_of_targets_fails_at_definition():
    X = np.random.default_rng(0).normal(size=(50, 2))
    with cr.Model():
        w = cr.Normal("w", 0, 1, shape=(2, 1))
        with raises_credo(ObservedError, "'y'", "(50, 1)", "(50,)"):
            cr.Bernoulli("y", logit_p=X @ w, observed=np.zeros(50))


# ---------------------------------------------------------------------------
# zero observed rows warn (the posterior is the prior: correct, but likely not meant)


def test_zero_observed_rows_warn_at_definition_and_at_logp():
    with cr.Model() as model:
        mu = cr.Normal("mu", 0, 1)
        with pytest.warns(CredoWarning, match=r"observed 'y' has no values \(shape \(0,\)\).*the prior"):
            cr.Normal("y", mu, 1, observed=np.zeros(0))
    with pytest.warns(CredoWarning, match="'y' has no values"):
        value = float(model.logp({"mu": 0.3}))
    np.testing.assert_allclose(value, st.norm(0, 1).logpdf(0.3), rtol=1e-6)
    with cr.Model():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cr.Normal("y", 0, 1, observed=np.zeros(3))  # rows: no warning


# ---------------------------------------------------------------------------
# supports known at definition


def test_observed_values_checked_against_supports_known_at_definition():
    with cr.Model():
        p = cr.Beta("p", 1, 1)
        with raises_credo(ObservedError, "'k'", "[0, 5]", "7"):
            cr.Binomial("k", n=5, p=p, observed=7)
        with raises_credo(ObservedError, "'k'", "6 at index (0,)"):
            cr.Binomial("k", n=np.array([5, 10]), logit_p=p, observed=np.array([6, 6]))
        z = cr.Normal("z", 0, 1, shape=(4, 3))
        with raises_credo(ObservedError, "'label'", "[0, 2]", "3 at index (1,)"):
            cr.Categorical("label", logit_p=z, observed=np.array([0, 3, 1, 2]))
        with raises_credo(ObservedError, "'u'", "[0, 2]"):
            cr.Uniform("u", 0, 2, observed=np.array([1.0, 2.5]))
        k = cr.Binomial("k", n=5, p=p, observed=np.array([0, 5]))
    assert k.shape == (2,)


# ---------------------------------------------------------------------------
# poor errors: set_data, Minibatch, Deterministic and Potential


@pytest.mark.parametrize("value, found", [
    (np.array(["a", "b"]), "dtype <U1"), (np.array([object(), 1], dtype=object), "object"), (None, "NoneType"),
    ([[1.0], [1.0, 2.0]], "ragged"), ("abc", "str"), (np.array([1 + 2j]), "real numbers"),
])
def test_set_data_refuses_values_that_are_not_numbers(value, found):
    model = regression()
    with raises_credo(DataTypeError, "'x'", found) as info:
        model.set_data({"x": value})
    assert isinstance(info.value, TypeError)


def test_set_data_refuses_a_list_instead_of_a_dict():
    model = regression()
    with raises_credo(DataTypeError, "dict", "list"):
        model.set_data([np.zeros(20)])
    with model:
        with raises_credo(DataTypeError, "dict", "tuple"):
            cr.set_data(("x", np.zeros(20)))


def test_minibatch_with_no_rows_is_refused():
    with cr.Model():
        with raises_credo(DataError, "no rows"):
            cr.Minibatch(np.zeros((0, 2)), batch_size=5)


@pytest.mark.parametrize("make", [cr.Deterministic, cr.Potential])
@pytest.mark.parametrize("value, found", [("abc", "'abc'"), (None, "None"), (np.exp, "function 'exp'"),
                                          (lambda: 1.0, "function '<lambda>'")])
def test_deterministic_and_potential_refuse_what_is_not_an_expression(make, value, found):
    with cr.Model() as model:
        with raises_credo(ParameterTypeError, "'q'", found):
            make("q", value)
        constant = make("q", np.array([1.0, 2.0]))  # a numeric constant is fine
    assert constant.shape == (2,) and "q" in model


# ---------------------------------------------------------------------------
# a support that depends on a free variable, violated by the data: the term is named, with why


def binomial_with_free_n():
    with cr.Model() as model:
        trials = cr.Uniform("trials", 1, 4)  # n = floor(trials): 1, 2 or 3, below the observed 7
        p = cr.Beta("p", 1, 1)
        cr.Binomial("k", n=cr.math.apply(lambda t: jnp.floor(t).astype(jnp.int32), trials), p=p,
                    observed=np.array([1, 7]))
    return model


def uniform_with_data_above_u():
    with cr.Model() as model:
        u = cr.HalfNormal("u", 1)
        cr.Uniform("y", 0, u, observed=np.array([0.5, 3.0]))
    return model


def test_nonfinite_terms_name_the_term_and_why():
    model = binomial_with_free_n()
    compiled = model.compile()
    terms = compiled.nonfinite_terms(jnp.zeros(compiled.dim), model.data_values)  # trials = 2.5: n = 2
    assert [(t.name, t.kind) for t in terms] == [("k", "likelihood")] and terms[0].logp == -np.inf
    assert terms[0].reason == "observed 'k' has values above its upper bound n (7 > 2 at index (1,))"
    model = uniform_with_data_above_u()
    compiled = model.compile()
    reason = compiled.describe_nonfinite(jnp.array([np.log(2.0)]), model.data_values)  # u = 2
    assert reason == "observed 'y' has values above its upper bound (3 > 2 at index (1,))"
    assert compiled.describe_nonfinite(jnp.array([np.log(5.0)]), model.data_values) == ""  # u = 5: finite
    batch = jnp.array([[np.log(5.0)], [np.log(2.0)]])  # the first position where a term is not finite
    assert "3 > 2" in compiled.describe_nonfinite(batch, model.data_values)


def test_nonfinite_terms_name_a_categorical_label_out_of_range_after_set_data():
    with cr.Model() as model:
        labels = cr.Data("labels", np.array([0, 1, 2]))
        z = cr.Normal("z", 0, 1, shape=3)
        cr.Categorical("label", logit_p=z, observed=labels)
    compiled = model.compile()
    data = dict(model.data_values, labels=jnp.array([0, 5, 1]))
    [term] = compiled.nonfinite_terms(jnp.zeros(3), data)
    assert term.reason == "observed 'label' has values above its upper bound K-1 (categories are 0..K-1) " \
                          "(5 > 2 at index (1,))"
    model.set_data({"labels": np.array([0, 5, 1])})
    with model, raises_credo(ObservedError, "'label'", "[0, 2]", "5 at index (1,)"):
        cr.fit(10, progressbar=False)  # the checks of a fit catch it before any step


def test_nonfinite_terms_name_a_parameter_outside_its_domain_and_a_potential():
    with cr.Model() as model:
        s = cr.Normal("s", 0, 1)
        cr.Normal("x", 0, s)
        cr.Potential("wall", cr.math.log(s))
    compiled = model.compile()
    reasons = [t.reason for t in compiled.nonfinite_terms(jnp.array([-0.5, 0.0]), model.data_values)]
    assert reasons[0].startswith("the prior of 'x' is nan: its parameter sigma must be positive (> 0); found -0.5")
    assert reasons[1] == "the potential 'wall' is nan"


@pytest.mark.filterwarnings("ignore:Out-of-support values:UserWarning")  # numpyro's, on the eager start check
def test_fit_sample_and_find_map_say_which_term_and_why():
    reason = "observed 'y' has values above its upper bound (3 >"
    with uniform_with_data_above_u():
        with pytest.raises(NonFiniteLossError) as info:  # a FloatingPointError
            cr.fit(50, progressbar=False, random_seed=0)
        assert reason in str(info.value) and "iteration 0" in str(info.value)
        with raises_credo(FitError, "initial point", reason):
            cr.sample(draws=5, tune=5, chains=1, progressbar=False, random_seed=0)
        with raises_credo(FitError, "starting point", reason):
            cr.find_MAP()
