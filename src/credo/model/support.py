"""Supports and parameter domains in plain words, checked in numpy.

Used where a model is written (constant parameters, observed values,
initial values) and where a log density turns out not finite (which term,
and why: :mod:`credo.model.terms`).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from numpyro.distributions import constraints

__all__ = ["describe", "satisfies", "check_constraint", "first_violation", "describe_violation"]

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


def _bound_text(bound) -> str:
    array = np.asarray(bound)
    return f"{array.item():g}" if array.size == 1 else f"bounds of shape {array.shape}"


def describe(constraint) -> str:
    """A plain-language description of a numpyro constraint.

    Examples
    --------
    >>> from numpyro.distributions import constraints
    >>> describe(constraints.positive)
    'positive (> 0)'
    """
    for known, description in _DESCRIPTIONS:
        if constraint is known:
            return description
    if isinstance(constraint, constraints._IntegerInterval):
        return f"an integer in [{_bound_text(constraint.lower_bound)}, {_bound_text(constraint.upper_bound)}]"
    if isinstance(constraint, constraints._Interval):
        return f"in [{_bound_text(constraint.lower_bound)}, {_bound_text(constraint.upper_bound)}]"
    return repr(constraint)


def first_violation(ok: np.ndarray, values: np.ndarray) -> str:
    """The first value where ``ok`` is False, with its index: ``"7 at index (3,)"``."""
    ok = np.broadcast_to(np.asarray(ok), np.shape(values)) if np.ndim(ok) else ok
    if np.ndim(values) == 0:
        return f"{np.asarray(values).item()}"
    if np.ndim(ok) == 0:
        return f"{np.asarray(values).ravel()[:3]}"
    index = tuple(int(i) for i in np.argwhere(~ok)[0])
    return f"{np.asarray(values)[index]} at index {index}"


def satisfies(constraint, value) -> np.ndarray:
    """``constraint.check(value)`` computed in numpy for the common constraints.

    Checking constants at definition time in numpy avoids compiling one tiny
    XLA program per check (a model definition would otherwise spend most of
    its time compiling them); other constraints fall back to numpyro's check.

    Examples
    --------
    >>> from numpyro.distributions import constraints
    >>> satisfies(constraints.positive, [1.0, -2.0]).tolist()
    [True, False]
    """
    x = np.asarray(value, dtype=float) if not isinstance(value, np.ndarray) or value.dtype != bool else value
    c = constraints
    if isinstance(constraint, c._IndependentConstraint):
        ok = satisfies(constraint.base_constraint, x)
        return ok.reshape(ok.shape[: ok.ndim - constraint.reinterpreted_batch_ndims] + (-1,)).all(-1)
    if isinstance(constraint, c._Boolean):
        return (x == 0) | (x == 1)
    lower = np.asarray(getattr(constraint, "lower_bound", 0.0), dtype=float)
    upper = np.asarray(getattr(constraint, "upper_bound", 0.0), dtype=float)
    if isinstance(constraint, c._IntegerInterval):
        return (x == np.floor(x)) & (x >= lower) & (x <= upper)
    if isinstance(constraint, c._IntegerGreaterThan):
        return (x == np.floor(x)) & (x >= lower)
    if isinstance(constraint, c._Interval):
        return (x >= lower) & (x <= upper)
    if isinstance(constraint, c._GreaterThanEq):
        return x >= lower
    if isinstance(constraint, c._GreaterThan):
        return x > lower
    if isinstance(constraint, c._Real):
        return np.isfinite(x)
    if isinstance(constraint, c._Simplex):
        return (x >= 0).all(-1) & (np.abs(x.sum(-1) - 1) < 1e-6)
    return np.asarray(constraint.check(jnp.asarray(value)))


def check_constraint(constraint, value, what: str, error_cls, event_dim: int = 0) -> None:
    """Raise ``error_cls("<what> must be <constraint>; found <first bad value>")`` where ``value`` breaks it.

    Examples
    --------
    >>> from numpyro.distributions import constraints
    >>> check_constraint(constraints.positive, [1.0, -2.0], "sigma", ValueError)
    Traceback (most recent call last):
    ...
    ValueError: sigma must be positive (> 0); found -2.0 at index (1,).
    """
    ok = satisfies(constraint, value)
    if not ok.all():
        found = first_violation(ok, np.asarray(value)) if event_dim == 0 else "values that are not"
        raise error_cls(f"{what} must be {describe(constraint)}; found {found}.")


def describe_violation(constraint, value, bound_names: dict | None = None) -> str:
    """Why ``value`` lies outside ``constraint``, in words, or ``""`` when it does not.

    Bounds that depend on other values (Binomial's ``n``, Uniform's
    ``upper``) are named with ``bound_names`` (``{"upper": "n"}``).

    Examples
    --------
    >>> import numpy as np
    >>> from numpyro.distributions import constraints
    >>> describe_violation(constraints.integer_interval(0, np.array([5, 5])), np.array([3, 7]), {"upper": "n"})
    'values above its upper bound n (7 > 5 at index (1,))'
    """
    names = bound_names or {}
    x = np.asarray(value, dtype=float)
    ok = np.asarray(satisfies(constraint, value))
    if np.all(ok):
        return ""
    base = constraint.base_constraint if isinstance(constraint, constraints._IndependentConstraint) else constraint
    for side, attribute, beyond in (("upper", "upper_bound", np.greater), ("lower", "lower_bound", np.less)):
        if not hasattr(base, attribute):
            continue
        bound = np.broadcast_to(np.asarray(getattr(base, attribute), dtype=float), x.shape)
        outside = beyond(x, bound)
        if outside.any():
            index = tuple(int(i) for i in np.argwhere(outside)[0]) if x.ndim else ()
            sign = ">" if side == "upper" else "<"
            name = f" {names[side]}" if side in names else ""
            return (f"values {'above' if side == 'upper' else 'below'} its {side} bound{name} "
                    f"({x[index]:g} {sign} {bound[index]:g} at index {index})")
    if not np.isfinite(x).all():
        return f"values that are not finite ({first_violation(np.isfinite(x), x)})"
    where = f" ({first_violation(ok, x)})" if ok.shape == x.shape else ""
    return f"values outside its support, which is {describe(constraint)}{where}"
