"""A model description compiled to pure JAX functions.

Every function takes the data as an argument (a dict of arrays): nothing is
closed over, so ``set_data`` needs no rebuild, and data can be sliced for
minibatches or sharded across devices by the caller.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as ndist
from numpyro.distributions.transforms import IdentityTransform, IndependentTransform, biject_to

from .._config import jit as _jit_for_size, settings
from ..errors import CredoWarning, InitvalError, ModelError, ObservedError
from .arrays import float_dtype, to_device
from .placement import host_values, likelihood_scale_rows, masked_rows, placement_for, shape_structs
from .programs import ProgramCache, data_signature
from .support import check_constraint
from .terms import TermCheck, describe_nonfinite, nonfinite_terms
from .variables import RandomVariable, evaluate

__all__ = [
    "CompiledModel", "compile_model", "initial_point", "joint_logp", "point_logps", "likelihood_scale",
    "point_to_position", "build_distribution", "default_transform", "describe_transform", "check_data",
    "check_data_arguments", "FreeVariableInfo", "TermCheck",
]


class FreeVariableInfo(NamedTuple):
    """Where a free variable lives in the flat unconstrained vector."""

    name: str
    shape: tuple  # constrained shape
    unconstrained_shape: tuple
    offset: int
    size: int
    transformed: bool  # whether the map to the constrained space is not the identity
    transform: str  # the transform's name, e.g. "ExpTransform" (saved files record it)


def build_distribution(rv: RandomVariable, values: dict, cache: dict):
    """The numpyro distribution of ``rv`` given the values of the nodes it depends on.

    ``values`` maps names to arrays; ``cache`` memoises shared sub-expressions
    within one evaluation (see ``credo.model.variables.evaluate``).
    """
    params = {k: _literal(evaluate(v, values, cache)) for k, v in rv.params.items()}
    d = rv.distribution.build(params)
    if not rv.is_observed and tuple(d.batch_shape) != rv.batch_shape:
        d = d.expand(rv.batch_shape)
    return d


#: Constant parameters up to this many elements enter compiled programs as literals.
LITERAL_SIZE = 16


def _literal(value):
    """A small constant parameter as a numpy array, so that a compiled program holds it as a literal.

    A jax array closed over by a traced function becomes an argument of the
    compiled program, so XLA cannot fold it: a Normal(0, 1) prior would
    compute ``(w - 0) / 1`` and keep it in memory for the gradient, for every
    weight. As a literal, XLA folds it away.
    """
    if isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer) and value.size <= LITERAL_SIZE:
        return np.asarray(value)
    return value


def default_transform(d):
    """numpyro's bijection from the real line onto the support of ``d``."""
    return biject_to(d.support)


def describe_transform(transform) -> str:
    """A transform's name, with its parts for composed transforms: ``ComposeTransform(ExpTransform,...)``."""
    name = type(transform).__name__
    if name == "IndependentTransform":
        return describe_transform(transform.base_transform)
    parts = getattr(transform, "parts", None)
    if parts:
        return f"{name}({','.join(describe_transform(p) for p in parts)})"
    return name




def _prior_term(d, value) -> jax.Array:
    """``sum(d.log_prob(value))`` for a free variable's value, without numpyro's check of the support.

    The value comes from the transform onto the support, so it is inside it;
    numpyro would otherwise test every element (finite, in the support) and
    select ``-inf`` where the test fails, in the log density and again in its
    gradient: a few operations per parameter of a network, at every step.
    """
    with numpyro.validation_enabled(False):
        return jnp.sum(d.log_prob(value))


def _is_identity(transform) -> bool:
    while isinstance(transform, IndependentTransform):
        transform = transform.base_transform
    return isinstance(transform, IdentityTransform)


def likelihood_scale(total_size, observed_shape: tuple) -> float:
    """``total_size / rows`` for each scaled dimension (1 when total_size is None)."""
    if total_size is None:
        return 1.0
    sizes = (total_size,) if isinstance(total_size, int) else total_size
    scale = 1.0
    for dim, size in enumerate(sizes):
        if size is not None and dim < len(observed_shape) and observed_shape[dim] > 0:
            scale *= size / observed_shape[dim]
    return scale


def _is_improper(d) -> bool:
    """Whether ``d`` (or the distribution it expands) is improper (Flat, HalfFlat): it has no draws."""
    while isinstance(d, ndist.ExpandedDistribution):
        d = d.base_dist
    return isinstance(d, ndist.ImproperUniform)


def _sample_batch(d, observed_shape: tuple, defined_batch: tuple | None = None) -> tuple:
    """Batch shape of a forward sample of an observed variable.

    It follows the observed data where they broadcast with the likelihood
    (a scalar mean with a vector of observations), and the likelihood's own
    shape where the data are stale (a test set swapped into the inputs only).
    ``defined_batch``, the parameters' batch shape when the variable was
    defined, tells which dimensions the parameters set: those follow the
    parameters now, even where stale data would broadcast with them (a
    one-row test set against the training targets).
    """
    n_event = len(d.event_shape)
    observed_batch = observed_shape[: len(observed_shape) - n_event]
    current = tuple(d.batch_shape)
    try:
        full = tuple(np.broadcast_shapes(current, observed_batch))
    except ValueError:
        return current
    if defined_batch is None:
        return full
    batch = list(full)
    for i in range(1, len(full) + 1):
        set_by_params = i <= len(defined_batch) and defined_batch[-i] != 1
        if set_by_params:
            batch[-i] = current[-i] if i <= len(current) else 1
    return tuple(batch)


class CompiledModel:
    """Pure functions of a model over a flat vector of unconstrained parameters.

    Attributes
    ----------
    free : list of FreeVariableInfo
        The free variables in model order, with their slice of the flat vector.
    dim : int
        Length of the flat unconstrained vector.
    deterministic_names, observed_names : list of str
    free_rvs, observed_rvs : list of RandomVariable
        The model's free and observed variables, in model order.
    deterministic_nodes, potential_nodes : list
        Its ``cr.Deterministic`` and ``cr.Potential`` nodes.
    """

    def __init__(self, model):
        self.model = model
        self.free_rvs = list(model.free_variables)
        self.observed_rvs = list(model.observed_variables)
        self.deterministic_nodes = list(model.deterministics)
        self.potential_nodes = list(model.potentials)
        self.deterministic_names = [d.name for d in self.deterministic_nodes]
        self.observed_names = [rv.name for rv in self.observed_rvs]
        self.discrete_free = [rv.name for rv in self.free_rvs if rv.distribution.discrete]
        self.free = self._layout(model)
        self.dim = sum(info.size for info in self.free)
        #: Compiled programs of the inference layer, keyed by hashable specs (bounded: see ProgramCache).
        self.programs = ProgramCache(lambda: settings().program_cache_size)

    # layout ---------------------------------------------------------------------
    def _layout(self, model) -> list[FreeVariableInfo]:
        infos, offset = [], 0
        shapes = self._unconstrained_shapes(model.data_values)
        for rv in self.free_rvs:
            shape, transformed, transform = shapes[rv.name]
            size = int(np.prod(shape, dtype=int))
            infos.append(FreeVariableInfo(rv.name, rv.shape, shape, offset, size, transformed, transform))
            offset += size
        return infos

    def _unconstrained_shapes(self, data) -> dict:
        found = {}

        def probe(data):
            values, cache = self.base_values(data), {}
            for rv in self.free_rvs:
                d = build_distribution(rv, values, cache)
                if rv.distribution.discrete:
                    found[rv.name] = (tuple(rv.shape), False, "discrete")
                    values[rv.name] = jnp.zeros(rv.shape, jnp.int32)
                    continue
                transform = default_transform(d)
                found[rv.name] = (tuple(transform.inverse_shape(rv.shape)), not _is_identity(transform),
                                  describe_transform(transform))
                values[rv.name] = jnp.zeros(rv.shape, rv.dtype)
            return jnp.zeros(())

        jax.eval_shape(probe, shape_structs(data))
        return found

    def jit(self, fn, signature=None, batch_rows=None, **kwargs):
        """``jax.jit(fn, **kwargs)`` with the XLA options for this model's size on data of this
        signature (see ``credo._config.compiler_options``).

        ``signature`` is a :func:`~credo.model.programs.data_signature` (the
        model's current data when None); ``batch_rows`` the batch size of
        arrays read in minibatches.
        """
        if signature is None:
            signature = data_signature(self.model.data_values)
        rows = [(batch_rows or {}).get(entry[0], entry[1][0]) for entry in signature if len(entry[1]) > 0]
        return _jit_for_size(fn, int(self.dim) * max(rows, default=1), **kwargs)

    @property
    def free_names(self) -> list[str]:
        return [info.name for info in self.free]

    @property
    def point_slices(self) -> tuple:
        """``(start, stop)`` of each point-estimated free variable in the flat vector (see
        ``RandomVariable.point_estimate``), merged where adjacent."""
        slices: list = []
        for rv, info in zip(self.free_rvs, self.free):
            if not rv.point_estimate or info.size == 0:
                continue
            if slices and slices[-1][1] == info.offset:
                slices[-1] = (slices[-1][0], info.offset + info.size)
            else:
                slices.append((info.offset, info.offset + info.size))
        return tuple(slices)

    def unflatten(self, position: jax.Array) -> dict[str, jax.Array]:
        """Split a flat unconstrained vector into one array per free variable."""
        return {
            info.name: position[..., info.offset : info.offset + info.size].reshape(
                position.shape[:-1] + info.unconstrained_shape
            )
            for info in self.free
        }

    def flatten(self, params: Mapping[str, jax.Array]) -> jax.Array:
        """Join unconstrained arrays (one per free variable) into a flat vector."""
        return jnp.concatenate([jnp.reshape(jnp.asarray(params[info.name]), (-1,)) for info in self.free])

    # the pure functions -----------------------------------------------------------
    def base_values(self, data) -> dict:
        """The values every evaluation starts from: the data, and each observed variable's data under its name."""
        values = dict(data)
        for rv in self.observed_rvs:
            values[rv.name] = data[rv.observed.name]
        return values

    def _constrain_into(self, position, values, cache):
        """Fill ``values`` with the constrained free variables; return the log-Jacobian terms."""
        params = self.unflatten(position)
        terms = []
        for rv in self.free_rvs:
            d = build_distribution(rv, values, cache)
            transform = default_transform(d)
            unconstrained = params[rv.name]
            value = transform(unconstrained)
            values[rv.name] = value
            terms.append((d, value, transform, unconstrained))
        return terms

    def logdensity_fn(self, position: jax.Array, data: Mapping[str, jax.Array]) -> jax.Array:
        """Log joint density at an unconstrained position, Jacobians included.

        Observed terms are scaled by ``total_size / rows`` where total_size is set.
        Rows padded to share them evenly among devices add nothing (see
        :mod:`credo.model.placement`).
        """
        if self.discrete_free:
            raise ModelError(
                f"the free variables {self.discrete_free} are discrete; credo's inference needs continuous "
                "free variables (observe them, or marginalise them out)."
            )
        values, cache = self.base_values(data), {}
        total = jnp.zeros((), position.dtype)
        for d, value, transform, unconstrained in self._constrain_into(position, values, cache):
            total = total + _prior_term(d, value)
            if not _is_identity(transform):
                total = total + jnp.sum(transform.log_abs_det_jacobian(unconstrained, value))
        for rv in self.observed_rvs:
            d = build_distribution(rv, values, cache)
            observed = values[rv.name]
            scale = likelihood_scale_rows(rv.total_size, tuple(observed.shape), data)
            total = total + scale * jnp.sum(masked_rows(d.log_prob(observed), data))
        for potential in self.potential_nodes:
            total = total + jnp.sum(masked_rows(evaluate(potential, values, cache), data))
        return total

    # The building blocks of the log density, for its term-by-term diagnosis (credo.model.terms).
    distribution_of = staticmethod(build_distribution)
    transform_of = staticmethod(default_transform)
    likelihood_scale = staticmethod(likelihood_scale)

    def nonfinite_terms(self, position: jax.Array, data: Mapping[str, jax.Array]) -> list[TermCheck]:
        """The terms of the log density (each free variable's prior, each likelihood, each potential)
        that are not finite at ``position`` (or at the first of a batch of positions where one is not),
        each with the reason in words (see :class:`~credo.model.terms.TermCheck`).

        Examples
        --------
        >>> import credo as cr, jax.numpy as jnp
        >>> with cr.Model() as model:
        ...     u = cr.HalfNormal("u", 1)
        ...     y = cr.Uniform("y", 0, u, observed=[0.5, 3.0])
        >>> [term.reason for term in model.compile().nonfinite_terms(jnp.zeros(1), model.data_values)]
        ["observed 'y' has values above its upper bound (3 > 1 at index (1,))"]
        """
        return nonfinite_terms(self, position, data)

    def describe_nonfinite(self, position: jax.Array, data: Mapping[str, jax.Array]) -> str:
        """The reasons of :meth:`nonfinite_terms` joined in one sentence, ``""`` when every term is finite:
        what an error about a non-finite log density adds to its message.

        Examples
        --------
        >>> import credo as cr, jax.numpy as jnp
        >>> with cr.Model() as model:
        ...     s = cr.Normal("s", 0, 1)
        ...     x = cr.Normal("x", 0, s)
        >>> model.compile().describe_nonfinite(jnp.array([-1.0, 0.0]), model.data_values)
        "the prior of 'x' is nan: its parameter sigma must be positive (> 0); found -1.0"
        """
        return describe_nonfinite(self, position, data)

    def constrain_fn(self, position: jax.Array, data: Mapping[str, jax.Array]) -> dict[str, jax.Array]:
        """Constrained values of the free variables and the deterministics."""
        values, cache = self.base_values(data), {}
        self._constrain_into(position, values, cache)
        out = {rv.name: values[rv.name] for rv in self.free_rvs}
        for det in self.deterministic_nodes:
            out[det.name] = evaluate(det, values, cache)
        return out

    def forward_sample_fn(
        self, key: jax.Array, free_values: Mapping[str, jax.Array], data: Mapping[str, jax.Array]
    ) -> dict[str, jax.Array]:
        """Draw every observed variable given constrained values of the free ones.

        Returns the observed draws and the deterministics (recomputed from the
        current data).
        """
        values, cache = self.base_values(data), {}
        values.update(free_values)
        out = {}
        for index, rv in enumerate(self.observed_rvs):
            d = build_distribution(rv, values, cache)
            batch = _sample_batch(d, tuple(values[rv.name].shape), rv.param_batch_shape)
            if batch != tuple(d.batch_shape):
                d = d.expand(batch)
            draw = d.sample(jax.random.fold_in(key, index))
            values[rv.name] = draw
            out[rv.name] = draw
        for det in self.deterministic_nodes:
            out[det.name] = evaluate(det, values, cache)
        return out

    def log_likelihood_fn(self, free_values: Mapping[str, jax.Array], data: Mapping[str, jax.Array],
                          names: tuple) -> dict[str, jax.Array]:
        """The log density of each observation of the observed variables ``names``, at constrained values
        of the free variables.

        Elementwise over the observations (an event of a multivariate
        likelihood counts as one observation), never scaled by ``total_size``:
        what ``az.loo`` and ``az.waic`` read.
        """
        values, cache = self.base_values(data), {}
        values.update(free_values)
        out = {}
        for rv in self.observed_rvs:
            if rv.name not in names:
                continue
            d = build_distribution(rv, values, cache)
            value = values[rv.name]
            log_density = d.log_prob(value)
            shape = jnp.shape(value)[: jnp.ndim(value) - len(d.event_shape)]
            if jnp.shape(log_density) != shape:
                log_density = jnp.broadcast_to(log_density, jnp.broadcast_shapes(jnp.shape(log_density), shape))
            out[rv.name] = log_density
        return out

    def prior_sample_fn(self, key: jax.Array, data: Mapping[str, jax.Array]) -> dict[str, jax.Array]:
        """Ancestral draw of every free variable, deterministic and observed variable."""
        values, cache = self.base_values(data), {}
        out = {}
        for index, rv in enumerate(self.free_rvs):
            d = build_distribution(rv, values, cache)
            if _is_improper(d):
                raise ModelError(f"{rv.distribution.name} {rv.name!r} is improper: it has no prior to draw from.")
            values[rv.name] = out[rv.name] = d.sample(jax.random.fold_in(key, index))
        observed = self.forward_sample_fn(jax.random.fold_in(key, len(self.free_rvs)), out, data)
        out.update(observed)
        return out

    def unconstrain_fn(self, free_values: Mapping[str, jax.Array], data: Mapping[str, jax.Array]) -> jax.Array:
        """The flat unconstrained vector of constrained free values (the inverse of ``constrain_fn``)."""
        values, cache = self.base_values(data), {}
        params = {}
        for rv in self.free_rvs:
            d = build_distribution(rv, values, cache)
            value = jnp.asarray(free_values[rv.name])
            values[rv.name] = value
            params[rv.name] = default_transform(d).inv(value)
        return self.flatten(params)

    def initial_values(self, fixed: Mapping[str, Any], data: Mapping[str, jax.Array]) -> dict[str, jax.Array]:
        """Constrained values of every free variable: ``fixed`` ones as given, the others their default
        (the prior mean where it is finite and inside the support, else the transform of zero)."""
        values, cache = self.base_values(data), {}
        out = {}
        for rv in self.free_rvs:
            d = build_distribution(rv, values, cache)
            value = fixed[rv.name] if rv.name in fixed else _default_value(rv, d)
            values[rv.name] = out[rv.name] = jnp.asarray(value)
        return out

    def initial_point(self, fixed: Mapping[str, Any] | None = None) -> tuple[dict, jax.Array]:
        """The initial point (constrained values) and the flat unconstrained position there.

        ``fixed`` gives constrained values of some free variables; the others
        take their ``initval``, else their default (see :meth:`initial_values`).
        One compiled call per model (and set of fixed names).
        """
        fixed = dict(fixed or {})
        for rv in self.free_rvs:
            if rv.name not in fixed and rv.initval is not None:
                fixed[rv.name] = rv.initval
        data = self.model_data()
        program = self.programs.get(_InitialPoint(data_signature(data), tuple(sorted(fixed))), self)
        return program(fixed, data)

    def model_data(self) -> dict:
        """The model's data as a program receives them: as they are, or assembled on every process's devices
        where the model holds rows spread over processes (see :mod:`credo.model.placement`)."""
        return self.model.placed_data(None if jax.process_count() == 1 else placement_for(None), stand_in=True).arrays

    def initial_position(self) -> jax.Array:
        """The model's initial point as a flat unconstrained vector."""
        return self.initial_point()[1]

    def position_from_point(self, point: Mapping[str, Any] | None = None) -> jax.Array:
        """The flat unconstrained vector of constrained values of some free variables.

        Variables missing from ``point`` take their initial value (``initval``,
        else the prior mean where finite, else the transform of zero). Values
        are checked: a clear error names a variable whose value has the wrong
        shape or lies outside its support.
        """
        if not point:
            return self.initial_position()
        names = set(self.free_names)
        unknown = sorted(set(point) - names)
        if unknown:
            raise ModelError(f"start values for {unknown}: they are not free variables of the model; it has "
                             f"{sorted(names)}.")
        values, cache = self.base_values(self.model.data_values), {}
        defaults, _ = self.initial_point()
        fixed = {}
        for rv in self.free_rvs:
            d = build_distribution(rv, values, cache)
            if rv.name in point:
                value = to_device(point[rv.name], float_dtype())
                try:
                    value = jnp.broadcast_to(value, rv.shape)
                except ValueError:
                    raise InitvalError(f"the start value of {rv.name!r} has shape {np.shape(point[rv.name])}; the "
                                       f"variable has shape {rv.shape}.") from None
                if not bool(jnp.all(jnp.isfinite(value))) or not bool(jnp.all(d.support.check(value))):
                    raise InitvalError(f"the start value of {rv.name!r} is outside its support ({d.support}).")
                fixed[rv.name] = value
            else:
                value = defaults[rv.name]
            values[rv.name] = value
        return self.initial_point(fixed)[1]


@dataclasses.dataclass(frozen=True)
class _InitialPoint:
    """Spec of ``run(fixed, data) -> (point, position)`` (see :meth:`CompiledModel.initial_point`)."""

    signature: tuple
    fixed: tuple

    def build(self, compiled: "CompiledModel"):
        def run(fixed, data):
            point = compiled.initial_values(fixed, data)
            return point, compiled.unconstrain_fn(point, data)

        return compiled.jit(run, self.signature)


def point_to_position(model, point: Mapping[str, Any] | None = None) -> jax.Array:
    """The flat unconstrained vector of ``model`` at constrained values of some free variables
    (see :meth:`CompiledModel.position_from_point`)."""
    return model.compile().position_from_point(point)


def compile_model(model) -> CompiledModel:
    """The pure functions of ``model`` (see :class:`CompiledModel`)."""
    if not model.free_variables and not model.observed_variables:
        raise ModelError("the model has no random variables.")
    return CompiledModel(model)


def _default_value(rv: RandomVariable, d) -> jax.Array:
    """The prior mean where it is finite and inside the support, else the transform of zero (traceable)."""
    shape = rv.shape
    if rv.distribution.discrete:
        return jnp.zeros(shape, jnp.int32)
    transform = default_transform(d)
    fallback = transform(jnp.zeros(transform.inverse_shape(shape), float_dtype()))
    try:
        mean = jnp.broadcast_to(d.mean, shape).astype(fallback.dtype)
    except (NotImplementedError, ValueError, TypeError, AttributeError):
        return fallback
    usable = jnp.all(jnp.isfinite(mean)) & jnp.all(d.support.check(mean))
    return jnp.where(usable, mean, fallback)


def initial_point(model) -> dict[str, np.ndarray]:
    """Initial constrained values of the free variables (see :meth:`credo.Model.initial_point`)."""
    point, _ = model.compile().initial_point()
    return {name: np.asarray(value) for name, value in point.items()}


def _term_logps(model, point: Mapping[str, Any], jacobian: bool, what: str) -> dict[str, jax.Array]:
    """Each term's log density at constrained values, after the data checks of a fit."""
    known = {rv.name for rv in model.free_variables + model.observed_variables}
    unknown = sorted(set(point) - known)
    if unknown:
        raise ModelError(f"{what}: {unknown} are not random variables of the model; it has {sorted(known)}.")
    values = dict(model.data_values)
    checked = dict(model.data_values)  # the data as the likelihoods see them, for the checks of a fit
    for rv in model.observed_variables:
        values[rv.name] = model.data_values[rv.observed.name]
        if rv.name in point:
            values[rv.name] = checked[rv.observed.name] = _point_value(rv, point[rv.name], what, observed=True)
    _check_fit(model, checked)
    cache: dict = {}
    terms = {}
    for rv in model.free_variables:
        if rv.name not in point:
            raise ModelError(f"{what}: give a value for the free variable {rv.name!r}.")
        d = build_distribution(rv, values, cache)
        value = _point_value(rv, point[rv.name], what)
        values[rv.name] = value
        terms[rv.name] = jnp.sum(d.log_prob(value))
        if jacobian and not rv.distribution.discrete:  # discrete variables have no transform
            transform = default_transform(d)
            unconstrained = transform.inv(value)
            terms[rv.name] = terms[rv.name] + jnp.sum(transform.log_abs_det_jacobian(unconstrained, value))
    for rv in model.observed_variables:
        d = build_distribution(rv, values, cache)
        observed = values[rv.name]
        terms[rv.name] = likelihood_scale(rv.total_size, tuple(observed.shape)) * jnp.sum(d.log_prob(observed))
    for potential in model.potentials:
        terms[potential.name] = jnp.sum(evaluate(potential, values, cache))
    return terms


def joint_logp(model, point: Mapping[str, Any], jacobian: bool = False) -> jax.Array:
    """The joint log density at constrained values (see :meth:`credo.Model.logp`)."""
    total = jnp.zeros(())
    for term in _term_logps(model, point, jacobian, "logp").values():
        total = total + term
    return total


def point_logps(model, point: Mapping[str, Any]) -> dict[str, float]:
    """Each term's log density at constrained values (see :meth:`credo.Model.point_logps`)."""
    return {name: float(value) for name, value in _term_logps(model, point, False, "point_logps").items()}


def _point_value(rv: RandomVariable, value, what: str, observed: bool = False) -> jax.Array:
    try:
        array = np.asarray(value)
    except ValueError:  # ragged nested lists
        array = np.asarray(None)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ModelError(f"{what}: the value of {rv.name!r} must be numeric; got {type(value).__name__}.")
    array = jnp.asarray(array)
    if not observed:
        try:
            array = jnp.broadcast_to(array, rv.shape)
        except ValueError:
            raise ModelError(f"{what}: {rv.name!r} has shape {rv.shape}; got a value of shape {array.shape}.") from None
    elif not np.isfinite(np.asarray(array, dtype=float)).all():
        raise ObservedError(f"{what}: the values given for {rv.name!r} contain NaN or inf.")
    return array


def check_data_arguments(model, data: Mapping[str, Any]) -> dict:
    """The model's data with some values replaced by ``data``, checked as ``set_data`` checks them
    and against the likelihoods (:func:`check_data`); the model is not changed."""
    values = dict(model.data_values)
    values.update(model.validated_data(data, what="data"))
    _check_fit(model, values)
    return values


def check_data(model) -> None:
    """Raise a clear error if the current data do not fit the likelihoods.

    Compares, by shape alone, each observed variable's data with the shape of
    its likelihood under the current Data values (e.g. inputs swapped for a
    test set but not the targets). A dimension the likelihood's parameters
    set when the variable was defined (the rows of a regression) must match
    the data exactly: one row of inputs against 500 targets would broadcast,
    and fit 500 copies of that row.
    """
    _check_fit(model, model.data_values)


def _check_fit(model, data_values) -> None:
    compiled = model.compile()
    found = {}

    def probe(position, data):
        values, cache = compiled.base_values(data), {}
        for rv in compiled.free_rvs:  # shapes are all that matter here
            values[rv.name] = jnp.zeros(rv.shape, rv.dtype)
        for rv in compiled.observed_rvs:
            d = build_distribution(rv, values, cache)
            found[rv] = (tuple(d.batch_shape), tuple(d.event_shape), tuple(values[rv.name].shape))
        return jnp.zeros(())

    jax.eval_shape(probe, jax.ShapeDtypeStruct((compiled.dim,), float_dtype()), shape_structs(data_values))
    for rv, (batch, event, observed_shape) in found.items():
        if 0 in observed_shape:
            warn_no_rows(rv.name, observed_shape)
        support = rv.distribution.known_support(rv.params)
        if support is not None:
            check_constraint(support, host_values(data_values[rv.observed.name]),
                             f"observed values of {rv.distribution.name} {rv.name!r}", ObservedError,
                             support.event_dim)
        if not _data_fit(batch, event, observed_shape, rv.param_batch_shape or ()):
            raise ObservedError(
                f"observed variable {rv.name!r}: its data have shape {observed_shape} but its likelihood has shape "
                f"{batch + event} under the current data; set_data the matching observed values too."
            )


def warn_no_rows(name: str, shape: tuple, stacklevel: int = 4) -> None:
    """Warn that observed ``name`` has no values: its likelihood adds nothing, and a fit fits the prior.

    A warning, not an error: the posterior of no data is the prior, which is correct (sequential
    updates may start from an empty data set), but far more often it is an empty selection by mistake.
    """
    warnings.warn(f"observed {name!r} has no values (shape {shape}): its likelihood adds nothing, so a fit gives "
                  "the prior. Check the data (an empty selection?).", CredoWarning, stacklevel=stacklevel)


def _data_fit(batch: tuple, event: tuple, observed_shape: tuple, defined_batch: tuple) -> bool:
    """Whether observed data of ``observed_shape`` fit a likelihood of that batch and event shape:
    they broadcast, and match exactly in the dimensions its parameters set when it was defined."""
    try:
        np.broadcast_shapes(batch + event, observed_shape)
    except ValueError:
        return False
    observed_batch = observed_shape[: len(observed_shape) - len(event)]
    shared = min(len(defined_batch), len(batch), len(observed_batch))
    return all(batch[-i] == observed_batch[-i] for i in range(1, shared + 1) if defined_batch[-i] != 1)
