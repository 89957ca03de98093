"""Every argument of every public driver function is checked: a credo error naming the argument."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

import credo as cr
from credo.errors import ArgumentError, CredoError, FitError, ObservedError
from credo.inference.io import ApproximationFileError


@pytest.fixture(scope="module")
def fitted():
    with cr.Model() as model:
        x = cr.Data("x", np.linspace(-1, 1, 20))
        w = cr.Normal("w", 0, 1)
        cr.Normal("y", w * x, 0.5, observed=np.linspace(-1, 1, 20))
        approx = cr.fit(200, random_seed=0, progressbar=False)
    return model, approx


FIT_CASES = [
    ({"n": 0}, "n must be a positive integer"),
    ({"n": 2.5}, "n must be a positive integer"),
    ({"chunk_size": 0}, "chunk_size must be a positive integer"),
    ({"n_starts": -1}, "n_starts must be a positive integer"),
    ({"obj_n_mc": 0}, "obj_n_mc must be a positive integer"),
    ({"random_seed": "seven"}, "random_seed must be an int"),
    ({"random_seed": 1.5}, "random_seed must be an int"),
    ({"progressbar": "yes"}, "progressbar must be True or False"),
    ({"callbacks": ["not callable"]}, "callbacks must be callables"),
    ({"callbacks": 3}, "callbacks must be a list of callables"),
    ({"method": "nuts"}, "unknown method"),
    ({"init": "random"}, "unknown init"),
    ({"start": [1.0]}, "start must be an Approximation"),
    ({"obj_optimizer": "adam"}, "obj_optimizer must be an optax.GradientTransformation"),
    ({"model": "m"}, "model must be a credo Model"),
    ({"checkpoint": 3}, "checkpoint must be a file path"),
]


@pytest.mark.parametrize("kwargs, message", FIT_CASES)
def test_fit_arguments(fitted, kwargs, message):
    model, _ = fitted
    with model, pytest.raises(CredoError, match=message):
        cr.fit(**{"n": 10, "progressbar": False, **kwargs})


def test_unknown_keyword_names_the_accepted_ones(fitted):
    model, _ = fitted
    with model, pytest.raises(TypeError, match="'rnak'.* it accepts .*checkpoint_every"):
        cr.fit(10, rnak=3)


def test_sample_find_map_and_refine_arguments(fitted):
    model, approx = fitted
    with model:
        for kwargs, message in [({"draws": 0}, "draws must be a positive integer"),
                                ({"tune": -1}, "tune must be a non-negative integer"),
                                ({"chains": 1.0}, "chains must be a positive integer"),
                                ({"target_accept": 1.5}, "target_accept must be a number in"),
                                ({"random_seed": []}, "random_seed must be"),
                                ({"initvals": [0.0]}, "initvals must be a dict"),
                                ({"jitter": "no"}, "jitter must be True or False"),
                                ({"idata_kwargs": ["log_likelihood"]}, "idata_kwargs must be a dict"),
                                ({"idata_kwargs": {"log_likelihood": "yes"}}, "log_likelihood'\\] must be True"),
                                ({"model": 5}, "model must be a credo Model")]:
            with pytest.raises(CredoError, match=message):
                cr.sample(**{"draws": 10, "tune": 10, "progressbar": False, **kwargs})
        for kwargs, message in [({"maxiter": 0}, "maxiter must be a positive integer"),
                                ({"tolerance": -1.0}, "tolerance must be a non-negative number"),
                                ({"jitter": float("nan")}, "jitter must be a non-negative number"),
                                ({"start": 3}, "start must be a dict"), ({"method": "newton"}, "unknown method"),
                                ({"return_raw": None}, "return_raw must be True or False")]:
            with pytest.raises(FitError, match=message):
                cr.find_MAP(**kwargs)
    for kwargs, message in [({"n": 0}, "refine: n must be a positive number"),
                            ({"n": 10, "progressbar": 1}, "progressbar must be True or False"),
                            ({"n": 10, "callbacks": "print"}, "callbacks must be a list of callables")]:
        with pytest.raises(FitError, match=message):
            approx.refine(**kwargs)
    for kwargs, message in [({"draws": 0}, "draws must be a positive integer"),
                            ({"draws": 5, "random_seed": "a"}, "random_seed must be"),
                            ({"draws": 5, "return_inferencedata": "no"}, "return_inferencedata must be True"),
                            ({"draws": 5, "data": [1, 2]}, "data must be a dict"),
                            ({"draws": 5, "idata_kwargs": 1}, "idata_kwargs must be a dict")]:
        with pytest.raises(CredoError, match=message):
            approx.sample(**kwargs)


def test_predictive_and_loading_arguments(fitted, tmp_path):
    model, approx = fitted
    idata = approx.sample(10, random_seed=0)
    with model:
        for kwargs, message in [({"samples": 0}, "samples must be between 1 and the 10"),
                                ({"samples": 11}, "samples must be between 1 and the 10"),
                                ({"var_names": "w"}, "var_names \\['w'\\] are not among"),
                                ({"var_names": [3]}, "var_names must be a list of variable names"),
                                ({"predictions": 1}, "predictions must be True or False"),
                                ({"random_seed": 0.5}, "random_seed must be")]:
            with pytest.raises(ArgumentError, match=message):
                cr.sample_posterior_predictive(idata, **kwargs)
        for kwargs, message in [({"samples": 0}, "samples must be a positive integer"),
                                ({"var_names": ["nope"]}, "var_names \\['nope'\\]"),
                                ({"return_inferencedata": None}, "return_inferencedata must be True")]:
            with pytest.raises(ArgumentError, match=message):
                cr.sample_prior_predictive(**kwargs)
        with pytest.raises(ArgumentError, match="var_names \\['w'\\]"):
            cr.compute_log_likelihood(idata, var_names=["w"])
        with pytest.raises(FitError, match="path must be a file path"):
            cr.load_approximation(3)
        with pytest.raises(FitError, match="model must be a credo Model"):
            cr.load_approximation(tmp_path / "x.npz", model="m")
        with pytest.raises(FileNotFoundError):
            cr.load_approximation(tmp_path / "missing.npz")
        (tmp_path / "text.npz").write_text("not a zip")
        with pytest.raises(ApproximationFileError, match="not a credo approximation file"):
            cr.load_approximation(tmp_path / "text.npz")
        approx.save(tmp_path / "a.npz")
        with pytest.raises(ApproximationFileError, match="optimizer"):
            cr.load_approximation(tmp_path / "a.npz", optimizer="adam")


def test_refine_after_set_data_on_the_inputs_alone_is_an_error(fitted):
    model, approx = fitted
    with model:
        cr.set_data({"x": np.array([0.5])})  # one row of inputs against 20 targets would broadcast
        try:
            with pytest.raises(ObservedError, match="observed variable 'y'.*set_data the matching observed"):
                approx.refine(10, progressbar=False)
            with pytest.raises(ObservedError, match="observed variable 'y'"):
                cr.compute_log_likelihood(approx.sample(5, random_seed=0))
        finally:
            cr.set_data({"x": np.linspace(-1, 1, 20)})


PUBLIC = [cr.fit, cr.sample, cr.find_MAP, cr.sample_posterior_predictive, cr.sample_prior_predictive,
          cr.compute_log_likelihood, cr.load_approximation, cr.Approximation.sample, cr.Approximation.refine,
          cr.sample_ppc]


@pytest.mark.parametrize("function", PUBLIC, ids=lambda f: f.__qualname__)
def test_docstrings_list_every_argument_and_have_an_example(function):
    doc = inspect.getdoc(function)
    assert "Examples\n--------\n>>> " in doc
    if function is cr.sample_ppc:
        return
    documented = set(re.findall(r"^(\w+) :", doc, flags=re.MULTILINE)) | \
        set(re.findall(r"^(\*\*\w+)$", doc, flags=re.MULTILINE))
    parameters = [name for name, parameter in inspect.signature(function).parameters.items() if name != "self"]
    parameters = ["**" + name if inspect.signature(function).parameters[name].kind == inspect.Parameter.VAR_KEYWORD
                  else name for name in parameters]
    assert [name for name in parameters if name not in documented] == []
