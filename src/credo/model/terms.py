"""The terms of a model's log density, one by one: each free variable's prior, each likelihood, each potential.

:func:`nonfinite_terms` evaluates every term at a position and says which
are not finite, and why (a parameter outside its domain, observed values
outside a support that depends on a free variable, a value that overflowed
its transform). It builds the terms with the compiled model's own building
blocks (``distribution_of``, ``transform_of``, ``likelihood_scale``).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ModelError
from .programs import data_signature
from .support import describe, describe_violation, first_violation, satisfies
from .variables import RandomVariable, evaluate

__all__ = ["TermCheck", "nonfinite_terms", "describe_nonfinite"]


class TermCheck(NamedTuple):
    """One term of the log density that is not finite at a position.

    Attributes
    ----------
    name : str
        The variable (or potential) the term belongs to.
    kind : str
        ``"prior"`` (a free variable's prior, with its transform's
        log-Jacobian), ``"likelihood"`` or ``"potential"``.
    logp : float
        The term's value (scaled by ``total_size`` for a likelihood).
    reason : str
        Why, in words: ``"observed 'k' has values above its upper bound n (7 > 5 at index (3,))"``.
    """

    name: str
    kind: str
    logp: float
    reason: str


def _term_values(compiled, position: jax.Array, data: Mapping) -> dict:
    """Every term's log density, parameters and value at one position (a pure function: jit it)."""
    values, cache = compiled.base_values(data), {}
    unconstrained = compiled.unflatten(position)
    out = {}
    for rv in compiled.free_rvs:
        d = compiled.distribution_of(rv, values, cache)
        transform = compiled.transform_of(d)
        value = transform(unconstrained[rv.name])
        values[rv.name] = value
        logp = jnp.sum(d.log_prob(value)) + jnp.sum(transform.log_abs_det_jacobian(unconstrained[rv.name], value))
        out[rv.name] = {"logp": logp, "value": value,
                        "params": {k: evaluate(v, values, cache) for k, v in rv.params.items()}}
    for rv in compiled.observed_rvs:
        d = compiled.distribution_of(rv, values, cache)
        observed = values[rv.name]
        scale = compiled.likelihood_scale(rv.total_size, tuple(observed.shape))
        out[rv.name] = {"logp": scale * jnp.sum(d.log_prob(observed)), "value": observed,
                        "params": {k: evaluate(v, values, cache) for k, v in rv.params.items()}}
    for potential in compiled.potential_nodes:
        out[potential.name] = {"logp": jnp.sum(evaluate(potential, values, cache))}
    return out


@dataclasses.dataclass(frozen=True)
class _TermValues:
    """Spec of the compiled :func:`_term_values` over a batch of positions."""

    signature: tuple

    def build(self, compiled):
        return jax.jit(jax.vmap(lambda position, data: _term_values(compiled, position, data), (0, None)))


def _parameter_reason(rv: RandomVariable, params: dict) -> str:
    for key, value in params.items():
        if np.issubdtype(value.dtype, np.inexact) and not np.isfinite(value).all():
            return f"its parameter {key} is not finite ({first_violation(np.isfinite(value), value)})"
    for key, constraint in rv.distribution.param_constraints.items():
        if key in params:
            ok = np.asarray(satisfies(constraint, params[key]))
            if not ok.all():
                where = f"; found {first_violation(ok, params[key])}" if ok.shape == params[key].shape else ""
                return f"its parameter {key} must be {describe(constraint)}{where}"
    return ""


def _variable_reason(rv: RandomVariable, entry: dict) -> str:
    params = {k: np.asarray(v) for k, v in entry["params"].items()}
    reason = _parameter_reason(rv, params)
    what = f"observed {rv.name!r}" if rv.is_observed else f"the value of {rv.name!r}"
    value = np.asarray(entry["value"])
    if not reason and np.issubdtype(value.dtype, np.inexact) and not np.isfinite(value).all():
        cause = "" if rv.is_observed else " (the position overflowed the map onto its support)"
        return f"{what} is not finite{cause} ({first_violation(np.isfinite(value), value)})"
    if not reason:
        support = rv.distribution.support
        if support is None:
            support = rv.distribution.build({k: jnp.asarray(v) for k, v in params.items()}).support
        violation = describe_violation(support, value, rv.distribution.bound_names)
        if violation:
            return f"{what} has {violation}"
        reason = "its log density overflowed at valid parameters and values (try x64, or tighter priors)"
    kind = "likelihood of observed" if rv.is_observed else "prior of"
    return f"the {kind} {rv.name!r} is {float(entry['logp']):g}: {reason}"


def nonfinite_terms(compiled, position: jax.Array, data: Mapping) -> list[TermCheck]:
    """The terms of the log density that are not finite at ``position``, each with its reason.

    ``position`` is a flat unconstrained vector, or a batch of them (the first
    position where some term is not finite is the one described). ``data``
    are the data the log density saw (a minibatch during a fit).
    """
    if compiled.discrete_free:
        raise ModelError(f"the free variables {compiled.discrete_free} are discrete; their terms are not checked.")
    positions = jnp.reshape(jnp.asarray(position), (-1, compiled.dim))
    data = dict(data)
    program = compiled.programs.get(_TermValues(data_signature(data)), compiled)
    entries = jax.tree_util.tree_map(np.asarray, program(positions, data))
    bad_rows = [row for row in range(positions.shape[0])
                if not all(np.isfinite(entry["logp"][row]) for entry in entries.values())]
    if not bad_rows:
        return []
    row = bad_rows[0]
    variables = {rv.name: rv for rv in compiled.free_rvs + compiled.observed_rvs}
    found = []
    for name in list(variables) + [potential.name for potential in compiled.potential_nodes]:  # model order
        entry = jax.tree_util.tree_map(lambda array: array[row], entries[name])
        logp = float(entry["logp"])
        if np.isfinite(logp):
            continue
        if name in variables:
            rv = variables[name]
            kind = "likelihood" if rv.is_observed else "prior"
            found.append(TermCheck(name, kind, logp, _variable_reason(rv, entry)))
        else:
            found.append(TermCheck(name, "potential", logp, f"the potential {name!r} is {logp:g}"))
    return found


def describe_nonfinite(compiled, position: jax.Array, data: Mapping) -> str:
    """The reasons of :func:`nonfinite_terms` as one sentence, or ``""`` when every term is finite."""
    try:
        terms = nonfinite_terms(compiled, position, data)
    except ModelError:
        return ""
    return "; ".join(term.reason for term in terms)
