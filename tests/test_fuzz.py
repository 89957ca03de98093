"""Fuzz: random models, shapes, dtypes and set_data calls either work, checked against scipy, or raise a
credo error; never a raw JAX/numpy traceback, never a hang (a per-case time limit).

Deterministic (``derandomize=True``) and small: a few dozen cases over two small model families, so the
whole file runs in well under a minute.
"""

from __future__ import annotations

import contextlib
import signal
import warnings

import numpy as np
import pytest
import scipy.special
import scipy.stats as st

import credo as cr
from credo.errors import CredoError

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as hs  # noqa: E402

CASE_SECONDS = 30  # far above a case's time (under a second once the first compiles are done)

FAMILIES = {
    # name: (constructor, scipy log density of y given the linear predictor m and the scale s)
    "Normal": (lambda y, m, s: cr.Normal("y", m, s, observed=y), lambda y, m, s: st.norm(m, s).logpdf(y)),
    "StudentT": (lambda y, m, s: cr.StudentT("y", 4.0, m, s, observed=y), lambda y, m, s: st.t(4, m, s).logpdf(y)),
    "Poisson": (lambda y, m, s: cr.Poisson("y", cr.math.exp(m), observed=y),
                lambda y, m, s: st.poisson(np.exp(m)).logpmf(y)),
    "Bernoulli": (lambda y, m, s: cr.Bernoulli("y", logit_p=m, observed=y),
                  lambda y, m, s: st.bernoulli(scipy.special.expit(m)).logpmf(y)),
    "Binomial": (lambda y, m, s: cr.Binomial("y", 5, logit_p=m, observed=y),
                 lambda y, m, s: st.binom(5, scipy.special.expit(m)).logpmf(y)),
}

DTYPES = ["float64"] * 6 + ["float32"] * 3 + ["int64"] * 3 + ["int32", "uint8", "bool", "object", "str"]


@contextlib.contextmanager
def time_limit(seconds: int):
    """Fail a case that runs longer than ``seconds`` (SIGALRM: the main thread, on Unix)."""
    def expire(signum, frame):
        raise TimeoutError(f"a fuzz case ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@hs.composite
def arrays(draw, shape, kind):
    """Values of ``shape``: mostly sensible for ``kind`` ("real" or "count"), sometimes hostile."""
    size = int(np.prod(shape, dtype=int))
    hostile = draw(hs.sampled_from(["none"] * 15 + ["nan", "huge_int", "huge_float", "negative", "fraction"]))
    if kind == "count":
        values = np.array(draw(hs.lists(hs.integers(0, 5), min_size=size, max_size=size)), dtype=float)
    else:
        values = np.array(draw(hs.lists(hs.floats(-3, 3), min_size=size, max_size=size)), dtype=float)
    values = values.reshape(shape)
    if size and hostile != "none":
        flat = values.reshape(-1)
        flat[draw(hs.integers(0, size - 1))] = {"nan": np.nan, "huge_int": 2.0**40, "huge_float": 1e39,
                                                 "negative": -2.0, "fraction": 0.5}[hostile]
    dtype = draw(hs.sampled_from(DTYPES))
    if dtype == "str":
        return values.astype(str)
    if dtype == "object":
        return values.astype(object)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return values.astype(dtype)


@hs.composite
def cases(draw):
    rows = draw(hs.sampled_from([0, 1, 3, 5]))
    family = draw(hs.sampled_from(sorted(FAMILIES)))
    kind = "count" if family in ("Poisson", "Bernoulli", "Binomial") else "real"
    x = draw(arrays((rows,), "real"))
    y_shape = draw(hs.sampled_from([(rows,)] * 6 + [(rows, 1), (), (rows + 1,)]))
    y = draw(arrays(y_shape, kind))
    mu_shape = draw(hs.sampled_from([None] * 4 + [(), (), rows, (rows,), "12", (2.7,), True, (rows + 2,)]))
    total_size = draw(hs.sampled_from([None] * 6 + [100, True, 0, 2.5]))
    point = {"mu": draw(hs.floats(-2, 2)), "w": draw(hs.floats(-1, 1)), "sigma": draw(hs.floats(0.2, 4))}
    new_rows = draw(hs.sampled_from([rows, 2]))
    set_data = draw(hs.sampled_from(["none"] * 3 + ["x and y"] * 3 + ["x", "list", "strings", "none_value",
                                                                     "wrong_ndim"]))
    new_x = draw(arrays((new_rows,), "real"))
    new_y = draw(arrays((new_rows,), kind))
    return dict(rows=rows, family=family, x=x, y=y, mu_shape=mu_shape, total_size=total_size, point=point,
                set_data=set_data, new_x=new_x, new_y=new_y)


def build(case):
    construct, _ = FAMILIES[case["family"]]
    with cr.Model() as model:
        x = cr.Data("x", case["x"])
        y = cr.Data("y_data", case["y"])
        mu = cr.Normal("mu", 0, 2, shape=case["mu_shape"])
        w = cr.Normal("w", 0, 1)
        sigma = cr.HalfNormal("sigma", 1.5)
        m = mu + w * x
        rv = construct(y, m, sigma)
        if case["total_size"] is not None:  # an option of the likelihood, checked where it is given
            cr.Normal("extra", 0, 1, observed=np.zeros(1), total_size=case["total_size"])
    return model, rv


def apply_set_data(model, case):
    how = case["set_data"]
    if how == "x":
        model.set_data({"x": case["new_x"]})
    elif how == "x and y":
        model.set_data({"x": case["new_x"], "y_data": case["new_y"]})
    elif how == "list":
        model.set_data([case["new_x"]])
    elif how == "strings":
        model.set_data({"x": np.array(["a"] * len(case["new_x"]))})
    elif how == "none_value":
        model.set_data({"x": None})
    elif how == "wrong_ndim":
        model.set_data({"x": np.zeros((2, 2))})


def expected_logp(model, case, point):
    _, density = FAMILIES[case["family"]]
    x = np.asarray(model.data_values["x"], dtype=float)
    y = np.asarray(model.data_values["y_data"], dtype=float)
    mu = np.broadcast_to(point["mu"], model["mu"].shape)
    m = mu + point["w"] * x
    total = (st.norm(0, 2).logpdf(mu).sum() + st.norm(0, 1).logpdf(point["w"])
             + st.halfnorm(scale=1.5).logpdf(point["sigma"]) + density(y, m, point["sigma"]).sum())
    if case["total_size"] is not None:
        total += st.norm(0, 1).logpdf(0.0) * case["total_size"]
    return total


def run_case(case):
    model, rv = build(case)
    assert np.shape(model.data_values["y_data"]) == rv.shape  # the data set the likelihood's shape
    apply_set_data(model, case)
    point = dict(case["point"])
    point["mu"] = np.full(model["mu"].shape, point["mu"])
    value = float(model.logp(point))
    expected = expected_logp(model, case, point)
    assert np.isfinite(value) == np.isfinite(expected)
    if np.isfinite(expected):
        np.testing.assert_allclose(value, expected, rtol=1e-4, atol=1e-3 * (1 + abs(expected)) ** 0.5)
    return "worked"


@settings(max_examples=100, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=cases())
def test_random_models_work_or_raise_a_credo_error(case):
    with time_limit(CASE_SECONDS), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CredoWarnings (no rows), numpy's casts of hostile values
        try:
            run_case(case)
        except CredoError as error:
            assert isinstance(error, (ValueError, TypeError)), repr(error)
            assert str(error), "a credo error with no message"


@hs.composite
def coords_cases(draw):
    length = draw(hs.sampled_from([0, 2, 3]))
    labels = draw(hs.sampled_from(["distinct"] * 5 + ["repeated", "string", "none"]))
    return dict(
        length=length,
        labels={"distinct": [f"c{i}" for i in range(length)], "repeated": ["c"] * length, "string": "abc",
                "none": None}[labels],
        data_length=draw(hs.sampled_from([length] * 4 + [length + 1])),
        data_dims=draw(hs.sampled_from(["obs"] * 4 + [("obs",), ("new",), (None,), 3, ("obs", "extra")])),
        rv_dims=draw(hs.sampled_from([None] * 4 + ["obs", ("nope",)])),
        new_length=draw(hs.sampled_from([length, 4])),
        new_coords=draw(hs.sampled_from(["matching", "matching", "none", "short", "unknown", "list"])),
    )


def run_coords_case(case):
    with cr.Model(coords={"obs": case["labels"]} if case["labels"] is not None else None) as model:
        cr.Data("x", np.zeros(case["data_length"]), dims=case["data_dims"])
        a = cr.Normal("a", 0, 1, dims=case["rv_dims"], shape=None if case["rv_dims"] else case["length"])
    if case["rv_dims"]:
        assert a.shape == tuple(len(model.coords[d]) for d in model.named_vars_to_dims["a"])
    new_labels = {"matching": {"obs": [f"n{i}" for i in range(case["new_length"])]}, "none": None,
                  "short": {"obs": ["n"]}, "unknown": {"zzz": [1]}, "list": [1, 2]}[case["new_coords"]]
    model.set_data({"x": np.ones(case["new_length"])}, coords=new_labels)
    dims = model.named_vars_to_dims.get("x", ())
    for axis, dim in enumerate(dims):
        if dim is not None:
            assert len(model.coords[dim]) == model.data_values["x"].shape[axis]


@settings(max_examples=40, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(case=coords_cases())
def test_random_coords_dims_and_set_data_work_or_raise_a_credo_error(case):
    with time_limit(CASE_SECONDS):
        try:
            run_coords_case(case)
        except CredoError as error:
            assert isinstance(error, (ValueError, TypeError)), repr(error)
