"""Distributions under PyMC's names and parameter names.

Each is a thin adapter: a function that records a random variable in the
current model, and a :class:`DistributionSpec` that says how to build the
matching ``numpyro.distributions`` object from the parameter values.
Densities, sampling and the transforms to the real line are numpyro's.
"""

from __future__ import annotations

import functools
import inspect

import jax
import numpy as np
import numpyro.distributions as ndist
from numpyro.distributions import constraints

from .errors import ModelError, ParameterError, check_keywords
from .model.define import OPTIONS, as_param, random_variable
from .model.spec import DistributionSpec
from .model.support import check_constraint
from .model.variables import Apply, DeterministicNode, Node, RandomVariable

__all__ = [
    "DistributionSpec",
    "Normal",
    "HalfNormal",
    "StudentT",
    "HalfStudentT",
    "Laplace",
    "Cauchy",
    "HalfCauchy",
    "Exponential",
    "Gamma",
    "InverseGamma",
    "Beta",
    "Uniform",
    "LogNormal",
    "Flat",
    "HalfFlat",
    "Bernoulli",
    "Binomial",
    "Poisson",
    "Categorical",
    "MvNormal",
    "Dirichlet",
]

_OPTIONS_DOC = """
    Other Parameters
    ----------------
    shape : int or tuple of int, optional
        The variable's shape (default: the parameters' broadcast shape, or
        the observed data's, or the lengths of ``dims``).
    dims : str or tuple of str, optional
        A dimension name of the model's ``coords`` per axis; sets the shape
        when ``shape`` is not given.
    observed : array_like or Data, optional
        Observed values: the variable becomes a likelihood term. Its shape is
        the data's; the parameters must broadcast to it.
    total_size : int or tuple of (int or None), optional
        The full data set's size when ``observed`` is a minibatch: the
        likelihood is scaled by ``total_size / rows``.
    initval : array_like, optional
        The initial value (in the support) of a free variable.
    testval : array_like, optional
        PyMC3's name for ``initval``.
"""


def _distribution(constructor):
    """Give a distribution's constructor the common options in its signature and docstring, and a
    TypeError naming the accepted arguments for an unknown keyword argument."""
    signature = inspect.signature(constructor)
    own = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    accepted = tuple(p.name for p in own[1:]) + OPTIONS
    options = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None) for name in OPTIONS]

    @functools.wraps(constructor)
    def record(name, *args, **kwargs):
        check_keywords(constructor.__name__, kwargs, accepted)
        return constructor(name, *args, **kwargs)

    record.__signature__ = signature.replace(parameters=own + options)
    doc = constructor.__doc__ or ""
    at = doc.find("\n    Examples\n")
    record.__doc__ = (doc[:at] + "\n" + _OPTIONS_DOC + doc[at:]) if at >= 0 else doc + "\n" + _OPTIONS_DOC
    return record


# Kept for code that imported them from here.
_random_variable = random_variable
_as_param = as_param
_check_constraint = check_constraint


def _logits_of(p, squash_fn):
    """The logits behind ``p`` when ``p`` is ``squash_fn(logits)``, else None.

    ``Bernoulli(p=sigmoid(z))`` is evaluated as ``Bernoulli(logit_p=z)``: the
    same density, without the loss of precision (and the infinite loss) when
    the sigmoid saturates to exactly 0 or 1 in float32.
    """
    node = p.expression if isinstance(p, DeterministicNode) else p
    if isinstance(node, Apply) and node.fn is squash_fn and len(node.args) == 1 and not node.kwargs:
        return node.args[0]
    return None


def _as_written(rv: RandomVariable, written: dict) -> RandomVariable:
    """Record the parameters as written on ``rv`` where credo evaluates another form of them."""
    if set(written) != set(rv.params):
        rv.written_params = written
    return rv


def _one_of(label, **kwargs):
    given = {k: v for k, v in kwargs.items() if v is not None}
    if len(given) > 1:
        raise ModelError(f"{label}: give only one of {', '.join(kwargs)}; got {', '.join(given)}.")
    return next(iter(given.items())) if given else (None, None)


def _scale(name, label, sigma, sd, tau, default=1.0, precision="tau"):
    key, value = _one_of(label, **{"sigma": sigma, "sd": sd, precision: tau})
    if key is None:
        return default
    if key == precision:
        if not isinstance(value, Node):
            value = as_param(NORMAL, precision, value, label)
            check_constraint(constraints.positive, value, f"{label}: parameter {precision}", ParameterError)
        return 1.0 / value**0.5
    return value


def _numeric(value, name, label):
    """Constants as arrays, so that reparametrisations (``1 / scale``, ``mu**2``) work on lists too."""
    return value if isinstance(value, Node) else as_param(NORMAL, name, value, label)


# ---------------------------------------------------------------------------
# Specs


def _flat(support):
    def build():
        return ndist.ImproperUniform(support, (), ())

    return build


NORMAL = DistributionSpec("Normal", lambda mu, sigma: ndist.Normal(mu, sigma), {"sigma": constraints.positive})
HALF_NORMAL = DistributionSpec("HalfNormal", lambda sigma: ndist.HalfNormal(sigma), {"sigma": constraints.positive},
                               constraints.positive)
STUDENT_T = DistributionSpec("StudentT", lambda nu, mu, sigma: ndist.StudentT(nu, mu, sigma),
                             {"nu": constraints.positive, "sigma": constraints.positive})
HALF_STUDENT_T = DistributionSpec("HalfStudentT",
                                  lambda nu, sigma: ndist.FoldedDistribution(ndist.StudentT(nu, 0.0, sigma)),
                                  {"nu": constraints.positive, "sigma": constraints.positive}, constraints.positive)
LAPLACE = DistributionSpec("Laplace", lambda mu, b: ndist.Laplace(mu, b), {"b": constraints.positive})
CAUCHY = DistributionSpec("Cauchy", lambda alpha, beta: ndist.Cauchy(alpha, beta), {"beta": constraints.positive})
HALF_CAUCHY = DistributionSpec("HalfCauchy", lambda beta: ndist.HalfCauchy(beta), {"beta": constraints.positive},
                               constraints.positive)
EXPONENTIAL = DistributionSpec("Exponential", lambda lam: ndist.Exponential(lam), {"lam": constraints.positive},
                               constraints.positive)
GAMMA = DistributionSpec("Gamma", lambda alpha, beta: ndist.Gamma(alpha, beta),
                         {"alpha": constraints.positive, "beta": constraints.positive}, constraints.positive)
INVERSE_GAMMA = DistributionSpec("InverseGamma", lambda alpha, beta: ndist.InverseGamma(alpha, beta),
                                 {"alpha": constraints.positive, "beta": constraints.positive}, constraints.positive)
BETA = DistributionSpec("Beta", lambda alpha, beta: ndist.Beta(alpha, beta),
                        {"alpha": constraints.positive, "beta": constraints.positive}, constraints.unit_interval)
UNIFORM = DistributionSpec("Uniform", lambda lower, upper: ndist.Uniform(lower, upper), {}, None,
                           support_params=("lower", "upper"))
LOG_NORMAL = DistributionSpec("LogNormal", lambda mu, sigma: ndist.LogNormal(mu, sigma),
                              {"sigma": constraints.positive}, constraints.positive)
FLAT = DistributionSpec("Flat", _flat(constraints.real), {}, constraints.real)
HALF_FLAT = DistributionSpec("HalfFlat", _flat(constraints.positive), {}, constraints.positive)
BERNOULLI_P = DistributionSpec("Bernoulli", lambda p: ndist.BernoulliProbs(p), {"p": constraints.unit_interval},
                               constraints.boolean, discrete=True)
BERNOULLI_LOGIT = DistributionSpec("Bernoulli", lambda logit_p: ndist.BernoulliLogits(logit_p), {},
                                   constraints.boolean, discrete=True)
BINOMIAL_P = DistributionSpec("Binomial", lambda n, p: ndist.BinomialProbs(p, n),
                              {"n": constraints.nonnegative_integer, "p": constraints.unit_interval}, None,
                              discrete=True, integer_params=("n",), support_params=("n",),
                              bound_names={"upper": "n"})
BINOMIAL_LOGIT = DistributionSpec("Binomial", lambda n, logit_p: ndist.BinomialLogits(logit_p, n),
                                  {"n": constraints.nonnegative_integer}, None, discrete=True, integer_params=("n",),
                                  support_params=("n",), bound_names={"upper": "n"})
POISSON = DistributionSpec("Poisson", lambda mu: ndist.Poisson(mu), {"mu": constraints.positive},
                           constraints.nonnegative_integer, discrete=True)
CATEGORICAL_P = DistributionSpec("Categorical", lambda p: ndist.CategoricalProbs(p), {"p": constraints.simplex},
                                 None, discrete=True, bound_names={"upper": "K-1 (categories are 0..K-1)"})
CATEGORICAL_LOGIT = DistributionSpec("Categorical", lambda logit_p: ndist.CategoricalLogits(logit_p), {},
                                     None, discrete=True, bound_names={"upper": "K-1 (categories are 0..K-1)"})
MV_NORMAL_COV = DistributionSpec("MvNormal", lambda mu, cov: ndist.MultivariateNormal(mu, covariance_matrix=cov),
                                 {"cov": constraints.positive_definite}, constraints.real_vector)
MV_NORMAL_CHOL = DistributionSpec("MvNormal", lambda mu, chol: ndist.MultivariateNormal(mu, scale_tril=chol),
                                  {"chol": constraints.lower_cholesky}, constraints.real_vector)
DIRICHLET = DistributionSpec("Dirichlet", lambda a: ndist.Dirichlet(a), {"a": constraints.positive},
                             constraints.simplex)


# ---------------------------------------------------------------------------
# The user-facing constructors. Common keyword arguments, as in PyMC:
# shape, initval (testval), observed, total_size.

@_distribution
def Normal(name: str, mu=0.0, sigma=None, *, sd=None, tau=None, **kwargs) -> RandomVariable:
    """Normal distribution with mean ``mu`` and standard deviation ``sigma``
    (or PyMC3's ``sd``, or precision ``tau``).

    Parameters
    ----------
    name : str
        The variable's name in the model.
    mu : float, array_like or node
        Mean.
    sigma : float, array_like or node, optional
        Standard deviation (> 0); default 1.
    sd : float, array_like or node, optional
        PyMC3's name for ``sigma``.
    tau : float, array_like or node, optional
        Precision, ``1 / sigma**2``.

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model():
    ...     w = cr.Normal("w", 0, sigma=1, shape=(2, 5))
    >>> w.shape
    (2, 5)
    """
    label = f"Normal {name!r}"
    return random_variable(NORMAL, name, {"mu": mu, "sigma": _scale(name, label, sigma, sd, tau)}, **kwargs)


@_distribution
def HalfNormal(name: str, sigma=None, *, sd=None, tau=None, **kwargs) -> RandomVariable:
    """Half-normal distribution on the positive reals with scale ``sigma``.

    Parameters
    ----------
    name : str
        The variable's name in the model.
    sigma : float, array_like or node, optional
        Scale (> 0); default 1.
    sd : float, array_like or node, optional
        PyMC3's name for ``sigma``.
    tau : float, array_like or node, optional
        Precision, ``1 / sigma**2``.

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     s = cr.HalfNormal("s", sigma=2.0)
    >>> round(model.point_logps({"s": 1.0})["s"], 4)
    -1.0439
    """
    label = f"HalfNormal {name!r}"
    return random_variable(HALF_NORMAL, name, {"sigma": _scale(name, label, sigma, sd, tau)}, **kwargs)


@_distribution
def StudentT(name: str, nu, mu=0.0, sigma=None, *, sd=None, lam=None, **kwargs) -> RandomVariable:
    """Student's t distribution with ``nu`` degrees of freedom, location ``mu``, scale ``sigma``.

    Parameters
    ----------
    name : str
        The variable's name in the model.
    nu : float, array_like or node
        Degrees of freedom (> 0).
    mu : float, array_like or node
        Location.
    sigma : float, array_like or node, optional
        Scale (> 0); default 1.
    sd : float, array_like or node, optional
        PyMC3's name for ``sigma``.
    lam : float, array_like or node, optional
        Precision, ``1 / sigma**2``.

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     y = cr.StudentT("y", nu=4, mu=0, sigma=1, observed=[0.5, -1.0])
    >>> round(model.point_logps({})["y"], 4)
    -2.6711
    """
    label = f"StudentT {name!r}"
    sigma = _scale(name, label, sigma, sd, lam, precision="lam")
    return random_variable(STUDENT_T, name, {"nu": nu, "mu": mu, "sigma": sigma}, **kwargs)


@_distribution
def HalfStudentT(name: str, nu=1.0, sigma=None, *, sd=None, lam=None, **kwargs) -> RandomVariable:
    """Half Student's t distribution on the positive reals.

    Parameters
    ----------
    name : str
        The variable's name in the model.
    nu : float, array_like or node
        Degrees of freedom (> 0); default 1.
    sigma : float, array_like or node, optional
        Scale (> 0); default 1.
    sd : float, array_like or node, optional
        PyMC3's name for ``sigma``.
    lam : float, array_like or node, optional
        Precision, ``1 / sigma**2``.

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     s = cr.HalfStudentT("s", nu=3, sigma=2.0)
    >>> round(model.point_logps({"s": 1.0})["s"], 4)
    -1.161
    """
    label = f"HalfStudentT {name!r}"
    sigma = _scale(name, label, sigma, sd, lam, precision="lam")
    return random_variable(HALF_STUDENT_T, name, {"nu": nu, "sigma": sigma}, **kwargs)


@_distribution
def Laplace(name: str, mu=0.0, b=1.0, **kwargs) -> RandomVariable:
    """Laplace distribution with location ``mu`` and scale ``b``.

    Parameters
    ----------
    name : str
        The variable's name in the model.
    mu : float, array_like or node
        Location.
    b : float, array_like or node
        Scale (> 0).

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     x = cr.Laplace("x", mu=0, b=2.0)
    >>> round(model.point_logps({"x": 1.0})["x"], 4)
    -1.8863
    """
    return random_variable(LAPLACE, name, {"mu": mu, "b": b}, **kwargs)


@_distribution
def Cauchy(name: str, alpha=0.0, beta=1.0, **kwargs) -> RandomVariable:
    """Cauchy distribution with location ``alpha`` and scale ``beta``.

    Parameters
    ----------
    name : str
        The variable's name in the model.
    alpha : float, array_like or node
        Location.
    beta : float, array_like or node
        Scale (> 0).

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     x = cr.Cauchy("x", alpha=0, beta=1)
    >>> round(model.point_logps({"x": 1.0})["x"], 4)
    -1.8379
    """
    return random_variable(CAUCHY, name, {"alpha": alpha, "beta": beta}, **kwargs)


@_distribution
def HalfCauchy(name: str, beta=1.0, **kwargs) -> RandomVariable:
    """Half-Cauchy distribution on the positive reals with scale ``beta``.

    Parameters
    ----------
    name : str
        The variable's name in the model.
    beta : float, array_like or node
        Scale (> 0).

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     tau = cr.HalfCauchy("tau", beta=2.5)
    >>> round(model.point_logps({"tau": 1.0})["tau"], 4)
    -1.5163
    """
    return random_variable(HALF_CAUCHY, name, {"beta": beta}, **kwargs)


@_distribution
def Exponential(name: str, lam=None, *, scale=None, **kwargs) -> RandomVariable:
    """Exponential distribution with rate ``lam`` (or ``scale = 1 / lam``).

    Parameters
    ----------
    name : str
        The variable's name in the model.
    lam : float, array_like or node
        Rate (> 0).
    scale : float, array_like or node, optional
        ``1 / lam``, instead of ``lam``.

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     x = cr.Exponential("x", lam=2.0)
    >>> round(model.point_logps({"x": 1.0})["x"], 4)
    -1.3069
    """
    key, value = _one_of(f"Exponential {name!r}", lam=lam, scale=scale)
    if key is None:
        raise ModelError(f"Exponential {name!r}: give the rate lam (or scale).")
    if key == "scale":
        value = _numeric(value, "scale", f"Exponential {name!r}")
        if not isinstance(value, Node):
            check_constraint(constraints.positive, value, f"Exponential {name!r}: parameter scale", ParameterError)
    return random_variable(EXPONENTIAL, name, {"lam": value if key == "lam" else 1.0 / value}, **kwargs)


@_distribution
def Gamma(name: str, alpha=None, beta=None, *, mu=None, sigma=None, **kwargs) -> RandomVariable:
    """Gamma distribution with shape ``alpha`` and rate ``beta`` (or mean ``mu`` and sd ``sigma``).

    Parameters
    ----------
    name : str
        The variable's name in the model.
    alpha : float, array_like or node
        Shape (> 0).
    beta : float, array_like or node
        Rate (> 0).
    mu : float, array_like or node, optional
        Mean, with ``sigma``, instead of ``alpha`` and ``beta``.
    sigma : float, array_like or node, optional
        Standard deviation, with ``mu``.

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     x = cr.Gamma("x", mu=2.0, sigma=1.0)
    >>> round(model.point_logps({"x": 1.0})["x"], 4)
    -1.0192
    """
    if mu is not None or sigma is not None:
        if alpha is not None or beta is not None or mu is None or sigma is None:
            raise ModelError(f"Gamma {name!r}: give either alpha and beta, or mu and sigma.")
        mu, sigma = _numeric(mu, "mu", f"Gamma {name!r}"), _numeric(sigma, "sigma", f"Gamma {name!r}")
        alpha, beta = mu**2 / sigma**2, mu / sigma**2
    if alpha is None or beta is None:
        raise ModelError(f"Gamma {name!r}: give either alpha and beta, or mu and sigma.")
    return random_variable(GAMMA, name, {"alpha": alpha, "beta": beta}, **kwargs)


@_distribution
def InverseGamma(name: str, alpha, beta=1.0, **kwargs) -> RandomVariable:
    """Inverse-gamma distribution with shape ``alpha`` and scale ``beta``.

    Parameters
    ----------
    name : str
        The variable's name in the model.
    alpha : float, array_like or node
        Shape (> 0).
    beta : float, array_like or node
        Scale (> 0).

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     x = cr.InverseGamma("x", alpha=3.0, beta=1.0)
    >>> round(model.point_logps({"x": 0.5})["x"], 4)
    0.0794
    """
    return random_variable(INVERSE_GAMMA, name, {"alpha": alpha, "beta": beta}, **kwargs)


@_distribution
def Beta(name: str, alpha=None, beta=None, *, mu=None, sigma=None, **kwargs) -> RandomVariable:
    """Beta distribution on [0, 1] (``alpha``, ``beta``, or mean ``mu`` and sd ``sigma``).

    Parameters
    ----------
    name : str
        The variable's name in the model.
    alpha, beta : float, array_like or node
        Shapes (> 0).
    mu : float, array_like or node, optional
        Mean, with ``sigma``, instead of ``alpha`` and ``beta``.
    sigma : float, array_like or node, optional
        Standard deviation, with ``mu``.

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     p = cr.Beta("p", alpha=2, beta=2)
    >>> round(model.point_logps({"p": 0.5})["p"], 4)
    0.4055
    """
    if mu is not None or sigma is not None:
        if alpha is not None or beta is not None or mu is None or sigma is None:
            raise ModelError(f"Beta {name!r}: give either alpha and beta, or mu and sigma.")
        mu, sigma = _numeric(mu, "mu", f"Beta {name!r}"), _numeric(sigma, "sigma", f"Beta {name!r}")
        kappa = mu * (1 - mu) / sigma**2 - 1
        alpha, beta = mu * kappa, (1 - mu) * kappa
    if alpha is None or beta is None:
        raise ModelError(f"Beta {name!r}: give either alpha and beta, or mu and sigma.")
    return random_variable(BETA, name, {"alpha": alpha, "beta": beta}, **kwargs)


@_distribution
def Uniform(name: str, lower=0.0, upper=1.0, **kwargs) -> RandomVariable:
    """Uniform distribution on [``lower``, ``upper``].

    Parameters
    ----------
    name : str
        The variable's name in the model.
    lower, upper : float, array_like or node
        The bounds, ``lower < upper``.

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     x = cr.Uniform("x", lower=-1, upper=3)
    >>> round(model.point_logps({"x": 0.0})["x"], 4)
    -1.3863
    """
    if not isinstance(lower, Node) and not isinstance(upper, Node):
        if not np.all(np.asarray(lower) < np.asarray(upper)):
            raise ParameterError(f"Uniform {name!r}: lower must be below upper; got lower={lower}, upper={upper}.")
    return random_variable(UNIFORM, name, {"lower": lower, "upper": upper}, **kwargs)


@_distribution
def LogNormal(name: str, mu=0.0, sigma=None, *, sd=None, tau=None, **kwargs) -> RandomVariable:
    """Log-normal distribution: ``log(x)`` is Normal(``mu``, ``sigma``).

    Parameters
    ----------
    name : str
        The variable's name in the model.
    mu : float, array_like or node
        Mean of ``log(x)``.
    sigma : float, array_like or node, optional
        Standard deviation of ``log(x)`` (> 0); default 1.
    sd : float, array_like or node, optional
        PyMC3's name for ``sigma``.
    tau : float, array_like or node, optional
        Precision of ``log(x)``.

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     x = cr.LogNormal("x", mu=0, sigma=1)
    >>> round(model.point_logps({"x": 1.0})["x"], 4)
    -0.9189
    """
    label = f"LogNormal {name!r}"
    return random_variable(LOG_NORMAL, name, {"mu": mu, "sigma": _scale(name, label, sigma, sd, tau)}, **kwargs)


@_distribution
def Flat(name: str, **kwargs) -> RandomVariable:
    """Improper uniform density on the real line (log density 0).

    Parameters
    ----------
    name : str
        The variable's name in the model.

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     x = cr.Flat("x")
    >>> model.point_logps({"x": 123.0})["x"]
    0.0
    """
    return random_variable(FLAT, name, {}, **kwargs)


@_distribution
def HalfFlat(name: str, **kwargs) -> RandomVariable:
    """Improper uniform density on the positive reals (log density 0).

    Parameters
    ----------
    name : str
        The variable's name in the model.

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     x = cr.HalfFlat("x")
    >>> model.point_logps({"x": 5.0})["x"]
    0.0
    """
    return random_variable(HALF_FLAT, name, {}, **kwargs)


@_distribution
def Bernoulli(name: str, p=None, *, logit_p=None, **kwargs) -> RandomVariable:
    """Bernoulli distribution with probability ``p`` of a 1 (or log-odds ``logit_p``).

    Parameters
    ----------
    name : str
        The variable's name in the model.
    p : float, array_like or node, optional
        Probability of a 1.
    logit_p : float, array_like or node, optional
        Log-odds of a 1, instead of ``p``.

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model():
    ...     p = cr.Beta("p", 1, 1)
    ...     y = cr.Bernoulli("y", p=p, observed=np.array([0, 1, 1]))
    """
    key, value = _one_of(f"Bernoulli {name!r}", p=p, logit_p=logit_p)
    if key is None:
        raise ModelError(f"Bernoulli {name!r}: give p or logit_p.")
    written = {key: value}
    if key == "p" and _logits_of(value, jax.nn.sigmoid) is not None:
        key, value = "logit_p", _logits_of(value, jax.nn.sigmoid)
    spec = BERNOULLI_P if key == "p" else BERNOULLI_LOGIT
    return _as_written(random_variable(spec, name, {key: value}, **kwargs), written)


@_distribution
def Binomial(name: str, n, p=None, *, logit_p=None, **kwargs) -> RandomVariable:
    """Binomial distribution: successes in ``n`` trials of probability ``p`` (or ``logit_p``).

    Parameters
    ----------
    name : str
        The variable's name in the model.
    n : int, array_like or node
        Number of trials (a non-negative integer).
    p : float, array_like or node, optional
        Probability of success.
    logit_p : float, array_like or node, optional
        Log-odds of success, instead of ``p``.

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     k = cr.Binomial("k", n=10, p=0.3, observed=[2, 5])
    >>> round(model.point_logps({})["k"], 4)
    -3.7285
    """
    key, value = _one_of(f"Binomial {name!r}", p=p, logit_p=logit_p)
    if key is None:
        raise ModelError(f"Binomial {name!r}: give p or logit_p.")
    spec = BINOMIAL_P if key == "p" else BINOMIAL_LOGIT
    return random_variable(spec, name, {"n": n, key: value}, **kwargs)


@_distribution
def Poisson(name: str, mu, **kwargs) -> RandomVariable:
    """Poisson distribution with rate ``mu``.

    Parameters
    ----------
    name : str
        The variable's name in the model.
    mu : float, array_like or node
        Rate (> 0).

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     counts = cr.Poisson("counts", mu=3.0, observed=[1, 4, 2])
    >>> round(model.point_logps({})["counts"], 4)
    -5.1809
    """
    return random_variable(POISSON, name, {"mu": mu}, **kwargs)


@_distribution
def Categorical(name: str, p=None, *, logit_p=None, **kwargs) -> RandomVariable:
    """Categorical distribution over ``0..K-1`` with probabilities ``p`` (last axis) or ``logit_p``.

    Parameters
    ----------
    name : str
        The variable's name in the model.
    p : array_like or node, optional
        Probabilities of the categories over the last axis.
    logit_p : array_like or node, optional
        Unnormalised log-probabilities, instead of ``p``.

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     label = cr.Categorical("label", p=[0.2, 0.5, 0.3], observed=[1, 2])
    >>> round(model.point_logps({})["label"], 4)
    -1.8971
    """
    key, value = _one_of(f"Categorical {name!r}", p=p, logit_p=logit_p)
    if key is None:
        raise ModelError(f"Categorical {name!r}: give p or logit_p.")
    written = {key: value}
    if key == "p" and _logits_of(value, jax.nn.softmax) is not None:
        key, value = "logit_p", _logits_of(value, jax.nn.softmax)
    spec = CATEGORICAL_P if key == "p" else CATEGORICAL_LOGIT
    return _as_written(random_variable(spec, name, {key: value}, **kwargs), written)


@_distribution
def MvNormal(name: str, mu, cov=None, *, chol=None, **kwargs) -> RandomVariable:
    """Multivariate normal with mean ``mu`` and covariance ``cov`` (or its Cholesky factor ``chol``).

    Parameters
    ----------
    name : str
        The variable's name in the model.
    mu : array_like or node
        Mean vector (the last axis).
    cov : array_like or node, optional
        Covariance matrix (symmetric positive definite).
    chol : array_like or node, optional
        Its lower Cholesky factor, instead of ``cov``.

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     x = cr.MvNormal("x", mu=[0.0, 0.0], cov=[[1.0, 0.5], [0.5, 1.0]], shape=(10, 2))
    >>> x.shape
    (10, 2)
    """
    key, value = _one_of(f"MvNormal {name!r}", cov=cov, chol=chol)
    if key is None:
        raise ModelError(f"MvNormal {name!r}: give cov or chol.")
    spec = MV_NORMAL_COV if key == "cov" else MV_NORMAL_CHOL
    return random_variable(spec, name, {"mu": mu, key: value}, **kwargs)


@_distribution
def Dirichlet(name: str, a, **kwargs) -> RandomVariable:
    """Dirichlet distribution on the simplex with concentrations ``a`` (last axis).

    Parameters
    ----------
    name : str
        The variable's name in the model.
    a : array_like or node
        Concentrations (> 0) over the last axis.

    Returns
    -------
    RandomVariable

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     w = cr.Dirichlet("w", a=[1.0, 1.0, 1.0])
    >>> round(model.point_logps({"w": [0.2, 0.3, 0.5]})["w"], 4)
    0.6931
    """
    return random_variable(DIRICHLET, name, {"a": a}, **kwargs)
