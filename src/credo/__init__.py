"""credo: Bayesian neural networks and variational inference on JAX, written the PyMC way.

Examples
--------
>>> import credo as cr, numpy as np
>>> with cr.Model() as model:
...     mu = cr.Normal("mu", 0, sigma=1)
...     y = cr.Normal("y", mu, sigma=1, observed=np.array([0.3, -0.1]))
"""

import importlib as _importlib

from . import _config, errors
from ._config import config
from ._version import __version__  # noqa: F401 - the package version
from . import callbacks, distributed, nn
from .data import Minibatch
from .distributions import (
    Bernoulli, Beta, Binomial, Categorical, Cauchy, Dirichlet, Exponential, Flat, Gamma, HalfCauchy, HalfFlat,
    HalfNormal, HalfStudentT, InverseGamma, Laplace, LogNormal, MvNormal, Normal, Poisson, StudentT, Uniform,
)
from .inference.approximation import Approximation, load_approximation
from .inference.fit import ADVI, NFVI, SVGD, FullRankADVI, LowRankADVI, Pathfinder, fit
from .inference.mode import find_MAP
from .inference.optimizers import adagrad_window
from .inference.likelihood import compute_log_likelihood
from .inference.predictive import sample_posterior_predictive, sample_ppc, sample_prior_predictive
from .inference.sampling import sample
from .model import math
from .model.core import ConstantData, Data, Deterministic, Model, MutableData, Potential, modelcontext, set_data
from .model.diagram import model_to_graphviz

_config.apply_at_import()

__all__ = [
    "Model", "Data", "MutableData", "ConstantData", "Deterministic", "Potential", "modelcontext", "set_data",
    "model_to_graphviz", "math", "errors",
    "Normal", "HalfNormal", "StudentT", "HalfStudentT", "Laplace", "Cauchy", "HalfCauchy", "Exponential", "Gamma",
    "InverseGamma", "Beta", "Uniform", "LogNormal", "Flat", "HalfFlat", "Bernoulli", "Binomial", "Poisson",
    "Categorical", "MvNormal", "Dirichlet",
    "fit", "ADVI", "FullRankADVI", "LowRankADVI", "SVGD", "NFVI", "Pathfinder", "Approximation", "adagrad_window",
    "sample_posterior_predictive", "sample_prior_predictive", "sample_ppc", "compute_log_likelihood",
    "sample", "find_MAP", "Minibatch", "load_approximation", "callbacks", "nn", "config", "distributed",
    "metrics", "plots", "datasets",
]

#: Public submodules loaded on first use (they import matplotlib or scikit-learn).
_LAZY_SUBMODULES = ("metrics", "plots", "datasets")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'credo' has no attribute {name!r}")
