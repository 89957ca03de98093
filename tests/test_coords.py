"""Coordinates and dimensions with PyMC 5's semantics; MutableData and ConstantData."""

from __future__ import annotations

import inspect

import numpy as np
import scipy.stats as st

import credo as cr
from credo.errors import CoordsError, DataError, DataTypeError, ParameterTypeError

from test_errors import raises_credo

CITIES = ["Paris", "Oslo", "Rome"]


def hierarchical(n_obs=6):
    rng = np.random.default_rng(0)
    city_index = np.arange(n_obs) % 3
    with cr.Model(coords={"city": CITIES}) as model:
        city = cr.ConstantData("city_index", city_index, dims="obs_id")
        x = cr.MutableData("x", rng.normal(size=n_obs), dims="obs_id")
        mu = cr.Normal("mu", 0, 1)
        a = cr.Normal("a", mu, 1, dims="city")
        b = cr.Normal("b", 0, 1)
        theta = cr.Deterministic("theta", a[city] + b * x, dims="obs_id")
        cr.Normal("y", theta, 1, observed=rng.normal(size=n_obs), dims="obs_id")
    return model


def test_shapes_come_from_dims_and_are_recorded():
    model = hierarchical()
    assert model.coords == {"city": ("Paris", "Oslo", "Rome"), "obs_id": tuple(range(6))}
    assert model.dim_lengths == {"city": 3, "obs_id": 6}
    assert model["a"].shape == (3,) and model["theta"].shape == (6,) and model["y"].shape == (6,)
    assert model.named_vars_to_dims == {"city_index": ("obs_id",), "x": ("obs_id",), "a": ("city",),
                                        "theta": ("obs_id",), "y": ("obs_id",)}


def test_dims_with_shape_must_agree_and_unknown_dims_are_named():
    with cr.Model(coords={"city": CITIES}) as model:
        assert cr.Normal("a", 0, 1, dims="city", shape=3).shape == (3,)
        with raises_credo(CoordsError, "'b'", "'city' has 3 labels", "length 4"):
            cr.Normal("b", 0, 1, dims="city", shape=4)
        with raises_credo(CoordsError, "'c'", "['year']", "add_coord"):
            cr.Normal("c", 0, 1, dims=("city", "year"))
        with raises_credo(CoordsError, "'d'", "dims ('city',) name 1 dimensions", "(3, 2)"):
            cr.Normal("d", 0, 1, dims="city", shape=(3, 2))
        with raises_credo(CoordsError, "'y'", "'city' has 3 labels", "length 5"):
            cr.Normal("y", 0, 1, observed=np.zeros(5), dims="city")
        with raises_credo(CoordsError, "'x'", "'city' has 3 labels", "length 4"):
            cr.Data("x", np.zeros(4), dims="city")
        with raises_credo(CoordsError, "'det'", "'city'"):
            cr.Deterministic("det", cr.math.stack([model["a"]] * 2), dims="city")
        with raises_credo(ParameterTypeError, "'e'", "dims"):
            cr.Normal("e", 0, 1, dims=["city", 7])
        unnamed = cr.Normal("f", 0, 1, shape=(3, 2), dims=("city", None))
    assert unnamed.shape == (3, 2) and model.named_vars_to_dims["f"] == ("city", None)
    assert not {"b", "c", "d", "y", "x", "det", "e"} & set(model.named_vars)


def test_add_coord_and_add_coords():
    model = cr.Model(coords={"city": CITIES})
    model.add_coord("year", [2020, 2021])
    model.add_coords({"month": range(12)}, lengths={"draw_id": 4})
    model.add_coord("city", CITIES)  # the same labels again: nothing changes
    assert model.coords["year"] == (2020, 2021) and model.coords["month"] == tuple(range(12))
    assert model.coords["draw_id"] == (0, 1, 2, 3)
    with raises_credo(CoordsError, "'city'", "already defined"):
        model.add_coord("city", ["Lima"])
    with raises_credo(CoordsError, "'k'", "distinct", "'a'"):
        model.add_coord("k", ["a", "b", "a"])
    with raises_credo(CoordsError, "'k'", "sequence of labels"):
        model.add_coord("k", "abc")
    with raises_credo(CoordsError, "'k'", "values (labels) or its length"):
        model.add_coord("k")
    with raises_credo(CoordsError, "coordinate names"):
        cr.Model(coords={3: [1]})
    assert model.coords["year"] == (2020, 2021) and "k" not in model.coords
    assert list(inspect.signature(model.add_coord).parameters) == ["name", "values", "mutable", "length"]


def test_set_data_with_coords_resizes_dimensions():
    model = hierarchical()
    with model:
        cr.set_data({"x": np.zeros(2)}, coords={"obs_id": ["new0", "new1"]})
    assert model.coords["obs_id"] == ("new0", "new1") and model.data_values["x"].shape == (2,)
    model.set_data("x", np.zeros(3), coords={"obs_id": ["a", "b", "c"]})  # PyMC's Model.set_data(name, values)
    assert model.coords["obs_id"] == ("a", "b", "c")
    with raises_credo(DataTypeError, "'x'", "values"):
        model.set_data("x")
    with raises_credo(CoordsError, "'x'", "'obs_id'", "has labels", "coords="):
        model.set_data({"x": np.zeros(5)})  # the labels were given: new ones are needed
    with raises_credo(CoordsError, "'obs_id'", "2 labels", "'x'", "length 4"):
        model.set_data({"x": np.zeros(4)}, coords={"obs_id": ["p", "q"]})
    with raises_credo(CoordsError, "'planet'", "not a dimension"):
        model.set_data({"x": np.zeros(3)}, coords={"planet": [1, 2, 3]})
    with raises_credo(CoordsError, "'city'", "free variable 'a'"):
        model.set_data({}, coords={"city": ["Lima", "Quito"]})
    model.set_data({}, coords={"city": ["Lyon", "Bergen", "Milan"]})  # relabelling keeps the length: fine
    assert model.coords["city"] == ("Lyon", "Bergen", "Milan") and model.coords["obs_id"] == ("a", "b", "c")
    assert model.data_values["x"].shape == (3,)


def test_dimensions_from_data_follow_their_length():
    with cr.Model() as model:
        x = cr.Data("x", np.zeros((4, 2)), dims=("obs", "feature"))
        w = cr.Normal("w", 0, 1, dims="feature")
        cr.Normal("y", x @ w, 1, observed=np.zeros(4), dims="obs")
    assert model.coords == {"obs": (0, 1, 2, 3), "feature": (0, 1)}
    model.set_data({"x": np.ones((2, 2))})  # unlabelled: the labels follow the new length
    assert model.coords["obs"] == (0, 1)
    assert list(inspect.signature(cr.set_data).parameters) == ["new_data", "model", "coords"]


def test_constant_data_refuses_set_data_and_mutable_data_accepts_it():
    model = hierarchical()
    with raises_credo(DataError, "'city_index'", "ConstantData", "cr.MutableData"):
        model.set_data({"city_index": np.zeros(6, int)})
    model.set_data({"x": np.ones(6)})
    assert model["x"].mutable and not model["city_index"].mutable
    with cr.Model():
        with raises_credo(DataTypeError, "mutable"):
            cr.Data("z", np.zeros(2), mutable="yes")


def test_logp_of_the_hierarchical_model_by_hand():
    model = hierarchical()
    point = {"mu": 0.2, "a": np.array([0.5, -0.3, 1.0]), "b": 0.7}
    city, x = np.asarray(model.data_values["city_index"]), np.asarray(model.data_values["x"])
    y = np.asarray(model.data_values["y"])
    theta = point["a"][city] + point["b"] * x
    expected = (st.norm(0, 1).logpdf(0.2) + st.norm(0.2, 1).logpdf(point["a"]).sum() + st.norm(0, 1).logpdf(0.7)
                + st.norm(theta, 1).logpdf(y).sum())
    np.testing.assert_allclose(float(model.logp(point)), expected, rtol=1e-5)


def test_prior_predictive_follows_resized_dimensions():
    model = hierarchical()
    with model:
        cr.set_data({"x": np.zeros(2)}, coords={"obs_id": ["n0", "n1"]})
    with raises_credo(DataError, "'city_index'", "ConstantData"):
        model.set_data({"city_index": np.zeros(2, int)})
    assert model.coords["obs_id"] == ("n0", "n1")
    assert model.data_values["city_index"].shape == (6,)
