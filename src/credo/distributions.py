"""Distributions under PyMC's names and parameter names.

Each is a thin adapter: a function that records a random variable in the
current model, and a :class:`DistributionSpec` that says how to build the
matching ``numpyro.distributions`` object from the parameter values.
Densities, sampling and the transforms to the real line are numpyro's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as ndist
from numpyro.distributions import constraints

from .errors import InitvalError, ModelError, ObservedError, ParameterError, ParameterTypeError
from .model.arrays import float_dtype, to_device
from .model.core import Model
from .model.variables import Apply, DataNode, DeterministicNode, Node, RandomVariable

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


@dataclass(frozen=True)
class DistributionSpec:
    """How a credo distribution maps onto numpyro.

    Attributes
    ----------
    name : str
        The PyMC name, used in messages.
    build_fn : callable
        ``build_fn(**params) -> numpyro.distributions.Distribution``.
    param_constraints : dict
        Parameter name to the numpyro constraint its constant values must meet.
    support : Constraint or None
        The support when it does not depend on the parameters, else ``None``.
    discrete : bool
        Whether values are integers (free discrete variables cannot be fitted).
    integer_params : tuple of str
        Parameters kept as integers (e.g. Binomial's ``n``).
    """

    name: str
    build_fn: Callable[..., ndist.Distribution]
    param_constraints: dict = field(default_factory=dict)
    support: Any = field(default_factory=lambda: constraints.real)
    discrete: bool = False
    integer_params: tuple = ()

    def build(self, params: dict) -> ndist.Distribution:
        # credo checks constant parameters itself, once, when the variable is
        # defined; numpyro's checks would run again, as eager JAX operations
        # (each compiled on first use), every time a model function is traced.
        with numpyro.validation_enabled(False):
            return self.build_fn(**params)


# Plain-language descriptions of constraints for error messages.
_DESCRIPTIONS = [
    (constraints.positive, "positive (> 0)"),
    (constraints.nonnegative, "non-negative (>= 0)"),
    (constraints.unit_interval, "in [0, 1]"),
    (constraints.boolean, "0 or 1"),
    (constraints.nonnegative_integer, "a non-negative integer"),
    (constraints.real, "a finite real number"),
    (constraints.real_vector, "a vector of finite real numbers"),
    (constraints.simplex, "a probability vector (non-negative, summing to 1 over the last axis)"),
    (constraints.positive_definite, "a symmetric positive-definite matrix"),
    (constraints.lower_cholesky, "a lower-triangular matrix with a positive diagonal"),
]


def describe(constraint) -> str:
    """A plain-language description of a numpyro constraint."""
    for known, description in _DESCRIPTIONS:
        if constraint is known:
            return description
    if isinstance(constraint, constraints._IntegerInterval):
        return f"an integer in [{constraint.lower_bound}, {constraint.upper_bound}]"
    if isinstance(constraint, constraints._Interval):
        return f"in [{constraint.lower_bound}, {constraint.upper_bound}]"
    return repr(constraint)


def _first_violation(ok: np.ndarray, values: np.ndarray) -> str:
    ok = np.broadcast_to(np.asarray(ok), np.shape(values)) if np.ndim(ok) else ok
    if np.ndim(ok) == 0:
        return f"{np.asarray(values).ravel()[:3]}"
    index = tuple(int(i) for i in np.argwhere(~ok)[0])
    return f"{np.asarray(values)[index]} at index {index}"


def _satisfies(constraint, value) -> np.ndarray:
    """``constraint.check(value)`` computed in numpy for the common constraints.

    Checking constants at definition time in numpy avoids compiling one tiny
    XLA program per check (a model definition would otherwise spend most of
    its time compiling them); other constraints fall back to numpyro's check.
    """
    x = np.asarray(value, dtype=float) if not isinstance(value, np.ndarray) or value.dtype != bool else value
    c = constraints
    if isinstance(constraint, c._IndependentConstraint):
        ok = _satisfies(constraint.base_constraint, x)
        return ok.reshape(ok.shape[: ok.ndim - constraint.reinterpreted_batch_ndims] + (-1,)).all(-1)
    if isinstance(constraint, c._Boolean):
        return (x == 0) | (x == 1)
    if isinstance(constraint, c._IntegerInterval):
        return (x == np.floor(x)) & (x >= constraint.lower_bound) & (x <= constraint.upper_bound)
    if isinstance(constraint, c._IntegerGreaterThan):
        return (x == np.floor(x)) & (x >= constraint.lower_bound)
    if isinstance(constraint, c._Interval):
        return (x >= constraint.lower_bound) & (x <= constraint.upper_bound)
    if isinstance(constraint, c._GreaterThanEq):
        return x >= constraint.lower_bound
    if isinstance(constraint, c._GreaterThan):
        return x > constraint.lower_bound
    if isinstance(constraint, c._Real):
        return np.isfinite(x)
    if isinstance(constraint, c._Simplex):
        return (x >= 0).all(-1) & (np.abs(x.sum(-1) - 1) < 1e-6)
    return np.asarray(constraint.check(jnp.asarray(value)))


def _check_constraint(constraint, value, what: str, error_cls, event_dim: int = 0) -> None:
    ok = _satisfies(constraint, value)
    if not ok.all():
        found = _first_violation(ok, np.asarray(value)) if event_dim == 0 else "values that are not"
        raise error_cls(f"{what} must be {describe(constraint)}; found {found}.")


# ---------------------------------------------------------------------------
# Recording a random variable




def _as_param(spec: DistributionSpec, name: str, value, label: str):
    if isinstance(value, Node):
        return value
    if isinstance(value, (jax.Array, np.ndarray)) or np.isscalar(value) or isinstance(value, (list, tuple)):
        try:
            array = np.asarray(value)
        except ValueError:  # ragged nested lists
            array = np.asarray(None)
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
            raise ParameterTypeError(
                f"{label}: parameter {name} must be numeric; got {value!r} (dtype {array.dtype})."
            )
        if name in spec.integer_params and np.issubdtype(array.dtype, np.integer):
            return to_device(array)
        return to_device(array, float_dtype())
    raise ParameterTypeError(
        f"{label}: parameter {name} must be a number, an array or a credo variable; got {type(value).__name__}."
    )


def _build_shape(spec: DistributionSpec, params: dict, label: str):
    """Batch shape and event shape of the distribution, by shape alone."""
    names = [k for k, v in params.items() if isinstance(v, Node)]
    structs = [jax.ShapeDtypeStruct(params[k].shape, params[k].dtype) for k in names]
    found = {}

    def probe(*values):
        d = spec.build({**params, **dict(zip(names, values))})
        found["batch"], found["event"] = tuple(d.batch_shape), tuple(d.event_shape)
        return jnp.zeros(())

    try:
        jax.eval_shape(probe, *structs)
    except Exception as error:
        shapes = {k: v.shape if isinstance(v, Node) else tuple(np.shape(v)) for k, v in params.items()}
        raise ModelError(f"{label}: its parameters' shapes {shapes} do not broadcast together ({error}).") from None
    return found["batch"], found["event"]


def _resolve_shape(label, shape, dist_batch, event, observed_shape):
    if shape is not None:
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
        n_event = len(event)
        if n_event and tuple(shape[len(shape) - n_event:]) != event:
            raise ModelError(f"{label}: shape={shape} must end with the event shape {event}.")
        batch = shape[: len(shape) - n_event]
        try:
            if np.broadcast_shapes(dist_batch, batch) != batch:
                raise ValueError
        except ValueError:
            raise ModelError(f"{label}: parameters of shape {dist_batch} do not broadcast to shape={shape}.") from None
        return batch
    if observed_shape is not None:
        try:
            return tuple(np.broadcast_shapes(dist_batch, observed_shape[: len(observed_shape) - len(event)]))
        except ValueError:
            raise ObservedError(
                f"{label}: observed data of shape {observed_shape} do not broadcast to the likelihood's "
                f"shape {dist_batch + event}."
            ) from None
    return dist_batch


def _concrete_support(spec: DistributionSpec, params: dict):
    if spec.support is not None:
        return spec.support
    if any(isinstance(v, Node) for v in params.values()):
        return None  # depends on parameters that are only known at run time
    return spec.build(params).support


def _check_values(spec, params, value, label, what, error_cls):
    support = _concrete_support(spec, params)
    if support is not None:
        _check_constraint(support, value, f"{what} of {label}", error_cls, support.event_dim)


def _observed_node(model: Model, name: str, spec, params, observed, label) -> tuple[DataNode, tuple]:
    if isinstance(observed, DataNode):
        value = model.data_values[observed.name]
        node = observed
    elif isinstance(observed, Node):
        raise ObservedError(f"{label}: observed must be an array or a cr.Data variable, not a computed node {observed!r}.")
    else:
        try:
            value = np.asarray(observed)
        except ValueError:  # ragged nested lists
            value = np.asarray(None)
        if not (np.issubdtype(value.dtype, np.number) or value.dtype == bool):
            raise ObservedError(f"{label}: observed values must be a numeric array; got {type(observed).__name__} "
                                f"of dtype {value.dtype}.")
        node = None
    value_np = np.asarray(value)
    if np.issubdtype(value_np.dtype, np.floating) and not np.isfinite(value_np).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(value_np))[0])
        raise ObservedError(
            f"{label}: observed data contain NaN or inf (first at index {bad}); remove or impute those rows."
        )
    _check_values(spec, params, value_np, label, "observed values", ObservedError)
    if node is None:
        node = model.add_observed_data(name, value_np, discrete=spec.discrete)
    return node, value_np.shape


def _initial_value(spec, params, initval, shape, label):
    value = np.asarray(initval, dtype=np.float64 if not spec.discrete else None)
    try:
        value = np.broadcast_to(value, shape)
    except ValueError:
        raise InitvalError(f"{label}: initval of shape {np.shape(initval)} does not fit the variable's shape {shape}.") from None
    if not np.isfinite(value).all():
        raise InitvalError(f"{label}: initval contains NaN or inf.")
    _check_values(spec, params, value, label, "initval", InitvalError)
    return to_device(value, float_dtype() if not spec.discrete else None)


def _random_variable(spec: DistributionSpec, name, params: dict, *, shape=None, initval=None, testval=None,
                     observed=None, total_size=None, dims=None) -> RandomVariable:
    label = f"{spec.name} {name!r}"
    model = Model.get_context(what=f"{spec.name}({name!r}, ...)")
    model.check_new_name(name)
    params = {k: _as_param(spec, k, v, label) for k, v in params.items()}
    for key, constraint in spec.param_constraints.items():
        value = params.get(key)
        if value is not None and not isinstance(value, Node):
            _check_constraint(constraint, value, f"{label}: parameter {key}", ParameterError, constraint.event_dim)
    dist_batch, event = _build_shape(spec, params, label)
    observed_node, observed_shape = (None, None)
    if observed is not None:
        observed_node, observed_shape = _observed_node(model, name, spec, params, observed, label)
    try:
        batch = _resolve_shape(label, shape, dist_batch, event, observed_shape)
        full_shape = batch + event
        if observed_shape is not None:
            try:
                np.broadcast_shapes(observed_shape, full_shape)
            except ValueError:
                raise ObservedError(
                    f"{label}: observed data of shape {observed_shape} do not broadcast to the likelihood's "
                    f"shape {full_shape}."
                ) from None
        if testval is not None and initval is None:
            initval = testval
        if initval is not None:
            initval = _initial_value(spec, params, initval, full_shape, label)
        total_size = _check_total_size(total_size, label)
    except Exception:
        # A failed definition leaves no trace: the name stays free for a corrected retry.
        if observed is not None and not isinstance(observed, DataNode):
            model.discard_observed_data(name)
        raise
    dtype = jnp.int32 if spec.discrete else float_dtype()
    rv = RandomVariable(name, spec, params, full_shape, dtype, batch, observed_node, total_size, initval)
    rv.param_batch_shape = tuple(dist_batch)
    model.add_variable(rv)
    return rv


def _check_total_size(total_size, label):
    if total_size is None:
        return None
    if isinstance(total_size, (int, np.integer)):
        if total_size <= 0:
            raise ModelError(f"{label}: total_size must be a positive integer; got {total_size}.")
        return int(total_size)
    if isinstance(total_size, (tuple, list)):
        if not all(s is None or (isinstance(s, (int, np.integer)) and s > 0) for s in total_size):
            raise ModelError(f"{label}: total_size entries must be positive integers or None; got {total_size}.")
        return tuple(None if s is None else int(s) for s in total_size)
    raise ModelError(f"{label}: total_size must be an integer or a tuple of integers; got {type(total_size).__name__}.")


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
            value = _as_param(NORMAL, precision, value, label)
            _check_constraint(constraints.positive, value, f"{label}: parameter {precision}", ParameterError)
        return 1.0 / value**0.5
    return value


def _numeric(value, name, label):
    """Constants as arrays, so that reparametrisations (``1 / scale``, ``mu**2``) work on lists too."""
    return value if isinstance(value, Node) else _as_param(NORMAL, name, value, label)


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
UNIFORM = DistributionSpec("Uniform", lambda lower, upper: ndist.Uniform(lower, upper), {}, None)
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
                              discrete=True, integer_params=("n",))
BINOMIAL_LOGIT = DistributionSpec("Binomial", lambda n, logit_p: ndist.BinomialLogits(logit_p, n),
                                  {"n": constraints.nonnegative_integer}, None, discrete=True, integer_params=("n",))
POISSON = DistributionSpec("Poisson", lambda mu: ndist.Poisson(mu), {"mu": constraints.positive},
                           constraints.nonnegative_integer, discrete=True)
CATEGORICAL_P = DistributionSpec("Categorical", lambda p: ndist.CategoricalProbs(p), {"p": constraints.simplex},
                                 None, discrete=True)
CATEGORICAL_LOGIT = DistributionSpec("Categorical", lambda logit_p: ndist.CategoricalLogits(logit_p), {},
                                     None, discrete=True)
MV_NORMAL_COV = DistributionSpec("MvNormal", lambda mu, cov: ndist.MultivariateNormal(mu, covariance_matrix=cov),
                                 {"cov": constraints.positive_definite}, constraints.real_vector)
MV_NORMAL_CHOL = DistributionSpec("MvNormal", lambda mu, chol: ndist.MultivariateNormal(mu, scale_tril=chol),
                                  {"chol": constraints.lower_cholesky}, constraints.real_vector)
DIRICHLET = DistributionSpec("Dirichlet", lambda a: ndist.Dirichlet(a), {"a": constraints.positive},
                             constraints.simplex)


# ---------------------------------------------------------------------------
# The user-facing constructors. Common keyword arguments, as in PyMC:
# shape, initval (testval), observed, total_size.

def Normal(name: str, mu=0.0, sigma=None, *, sd=None, tau=None, **kwargs) -> RandomVariable:
    """Normal distribution with mean ``mu`` and standard deviation ``sigma``
    (or PyMC3's ``sd``, or precision ``tau``).

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model():
    ...     w = cr.Normal("w", 0, sigma=1, shape=(2, 5))
    >>> w.shape
    (2, 5)
    """
    label = f"Normal {name!r}"
    return _random_variable(NORMAL, name, {"mu": mu, "sigma": _scale(name, label, sigma, sd, tau)}, **kwargs)


def HalfNormal(name: str, sigma=None, *, sd=None, tau=None, **kwargs) -> RandomVariable:
    """Half-normal distribution on the positive reals with scale ``sigma``."""
    label = f"HalfNormal {name!r}"
    return _random_variable(HALF_NORMAL, name, {"sigma": _scale(name, label, sigma, sd, tau)}, **kwargs)


def StudentT(name: str, nu, mu=0.0, sigma=None, *, sd=None, lam=None, **kwargs) -> RandomVariable:
    """Student's t distribution with ``nu`` degrees of freedom, location ``mu``, scale ``sigma``."""
    label = f"StudentT {name!r}"
    sigma = _scale(name, label, sigma, sd, lam, precision="lam")
    return _random_variable(STUDENT_T, name, {"nu": nu, "mu": mu, "sigma": sigma}, **kwargs)


def HalfStudentT(name: str, nu=1.0, sigma=None, *, sd=None, lam=None, **kwargs) -> RandomVariable:
    """Half Student's t distribution on the positive reals."""
    label = f"HalfStudentT {name!r}"
    sigma = _scale(name, label, sigma, sd, lam, precision="lam")
    return _random_variable(HALF_STUDENT_T, name, {"nu": nu, "sigma": sigma}, **kwargs)


def Laplace(name: str, mu=0.0, b=1.0, **kwargs) -> RandomVariable:
    """Laplace distribution with location ``mu`` and scale ``b``."""
    return _random_variable(LAPLACE, name, {"mu": mu, "b": b}, **kwargs)


def Cauchy(name: str, alpha=0.0, beta=1.0, **kwargs) -> RandomVariable:
    """Cauchy distribution with location ``alpha`` and scale ``beta``."""
    return _random_variable(CAUCHY, name, {"alpha": alpha, "beta": beta}, **kwargs)


def HalfCauchy(name: str, beta=1.0, **kwargs) -> RandomVariable:
    """Half-Cauchy distribution on the positive reals with scale ``beta``."""
    return _random_variable(HALF_CAUCHY, name, {"beta": beta}, **kwargs)


def Exponential(name: str, lam=None, *, scale=None, **kwargs) -> RandomVariable:
    """Exponential distribution with rate ``lam`` (or ``scale = 1 / lam``)."""
    key, value = _one_of(f"Exponential {name!r}", lam=lam, scale=scale)
    if key is None:
        raise ModelError(f"Exponential {name!r}: give the rate lam (or scale).")
    if key == "scale":
        value = _numeric(value, "scale", f"Exponential {name!r}")
        if not isinstance(value, Node):
            _check_constraint(constraints.positive, value, f"Exponential {name!r}: parameter scale", ParameterError)
    return _random_variable(EXPONENTIAL, name, {"lam": value if key == "lam" else 1.0 / value}, **kwargs)


def Gamma(name: str, alpha=None, beta=None, *, mu=None, sigma=None, **kwargs) -> RandomVariable:
    """Gamma distribution with shape ``alpha`` and rate ``beta`` (or mean ``mu`` and sd ``sigma``)."""
    if mu is not None or sigma is not None:
        if alpha is not None or beta is not None or mu is None or sigma is None:
            raise ModelError(f"Gamma {name!r}: give either alpha and beta, or mu and sigma.")
        mu, sigma = _numeric(mu, "mu", f"Gamma {name!r}"), _numeric(sigma, "sigma", f"Gamma {name!r}")
        alpha, beta = mu**2 / sigma**2, mu / sigma**2
    if alpha is None or beta is None:
        raise ModelError(f"Gamma {name!r}: give either alpha and beta, or mu and sigma.")
    return _random_variable(GAMMA, name, {"alpha": alpha, "beta": beta}, **kwargs)


def InverseGamma(name: str, alpha, beta=1.0, **kwargs) -> RandomVariable:
    """Inverse-gamma distribution with shape ``alpha`` and scale ``beta``."""
    return _random_variable(INVERSE_GAMMA, name, {"alpha": alpha, "beta": beta}, **kwargs)


def Beta(name: str, alpha=None, beta=None, *, mu=None, sigma=None, **kwargs) -> RandomVariable:
    """Beta distribution on [0, 1] (``alpha``, ``beta``, or mean ``mu`` and sd ``sigma``)."""
    if mu is not None or sigma is not None:
        if alpha is not None or beta is not None or mu is None or sigma is None:
            raise ModelError(f"Beta {name!r}: give either alpha and beta, or mu and sigma.")
        mu, sigma = _numeric(mu, "mu", f"Beta {name!r}"), _numeric(sigma, "sigma", f"Beta {name!r}")
        kappa = mu * (1 - mu) / sigma**2 - 1
        alpha, beta = mu * kappa, (1 - mu) * kappa
    if alpha is None or beta is None:
        raise ModelError(f"Beta {name!r}: give either alpha and beta, or mu and sigma.")
    return _random_variable(BETA, name, {"alpha": alpha, "beta": beta}, **kwargs)


def Uniform(name: str, lower=0.0, upper=1.0, **kwargs) -> RandomVariable:
    """Uniform distribution on [``lower``, ``upper``]."""
    if not isinstance(lower, Node) and not isinstance(upper, Node):
        if not np.all(np.asarray(lower) < np.asarray(upper)):
            raise ParameterError(f"Uniform {name!r}: lower must be below upper; got lower={lower}, upper={upper}.")
    return _random_variable(UNIFORM, name, {"lower": lower, "upper": upper}, **kwargs)


def LogNormal(name: str, mu=0.0, sigma=None, *, sd=None, tau=None, **kwargs) -> RandomVariable:
    """Log-normal distribution: ``log(x)`` is Normal(``mu``, ``sigma``)."""
    label = f"LogNormal {name!r}"
    return _random_variable(LOG_NORMAL, name, {"mu": mu, "sigma": _scale(name, label, sigma, sd, tau)}, **kwargs)


def Flat(name: str, **kwargs) -> RandomVariable:
    """Improper uniform density on the real line (log density 0)."""
    return _random_variable(FLAT, name, {}, **kwargs)


def HalfFlat(name: str, **kwargs) -> RandomVariable:
    """Improper uniform density on the positive reals (log density 0)."""
    return _random_variable(HALF_FLAT, name, {}, **kwargs)


def Bernoulli(name: str, p=None, *, logit_p=None, **kwargs) -> RandomVariable:
    """Bernoulli distribution with probability ``p`` of a 1 (or log-odds ``logit_p``).

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
    if key == "p" and _logits_of(value, jax.nn.sigmoid) is not None:
        key, value = "logit_p", _logits_of(value, jax.nn.sigmoid)
    spec = BERNOULLI_P if key == "p" else BERNOULLI_LOGIT
    return _random_variable(spec, name, {key: value}, **kwargs)


def Binomial(name: str, n, p=None, *, logit_p=None, **kwargs) -> RandomVariable:
    """Binomial distribution: successes in ``n`` trials of probability ``p`` (or ``logit_p``)."""
    key, value = _one_of(f"Binomial {name!r}", p=p, logit_p=logit_p)
    if key is None:
        raise ModelError(f"Binomial {name!r}: give p or logit_p.")
    spec = BINOMIAL_P if key == "p" else BINOMIAL_LOGIT
    return _random_variable(spec, name, {"n": n, key: value}, **kwargs)


def Poisson(name: str, mu, **kwargs) -> RandomVariable:
    """Poisson distribution with rate ``mu``."""
    return _random_variable(POISSON, name, {"mu": mu}, **kwargs)


def Categorical(name: str, p=None, *, logit_p=None, **kwargs) -> RandomVariable:
    """Categorical distribution over ``0..K-1`` with probabilities ``p`` (last axis) or ``logit_p``."""
    key, value = _one_of(f"Categorical {name!r}", p=p, logit_p=logit_p)
    if key is None:
        raise ModelError(f"Categorical {name!r}: give p or logit_p.")
    if key == "p" and _logits_of(value, jax.nn.softmax) is not None:
        key, value = "logit_p", _logits_of(value, jax.nn.softmax)
    spec = CATEGORICAL_P if key == "p" else CATEGORICAL_LOGIT
    return _random_variable(spec, name, {key: value}, **kwargs)


def MvNormal(name: str, mu, cov=None, *, chol=None, **kwargs) -> RandomVariable:
    """Multivariate normal with mean ``mu`` and covariance ``cov`` (or its Cholesky factor ``chol``)."""
    key, value = _one_of(f"MvNormal {name!r}", cov=cov, chol=chol)
    if key is None:
        raise ModelError(f"MvNormal {name!r}: give cov or chol.")
    spec = MV_NORMAL_COV if key == "cov" else MV_NORMAL_CHOL
    return _random_variable(spec, name, {"mu": mu, key: value}, **kwargs)


def Dirichlet(name: str, a, **kwargs) -> RandomVariable:
    """Dirichlet distribution on the simplex with concentrations ``a`` (last axis)."""
    return _random_variable(DIRICHLET, name, {"a": a}, **kwargs)
