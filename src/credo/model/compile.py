"""A model description compiled to pure JAX functions.

Every function takes the data as an argument (a dict of arrays): nothing is
closed over, so ``set_data`` needs no rebuild, and data can be sliced for
minibatches or sharded across devices by the caller.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as ndist
from numpyro.distributions.transforms import IdentityTransform, IndependentTransform, biject_to

from .._config import jit as _jit_for_size, settings
from ..errors import InitvalError, ModelError, ObservedError
from .programs import ProgramCache, data_signature
from .variables import RandomVariable, evaluate

__all__ = [
    "CompiledModel", "compile_model", "initial_point", "joint_logp", "likelihood_scale", "point_to_position",
    "build_distribution", "default_transform", "describe_transform", "check_data", "check_data_arguments",
    "FreeVariableInfo",
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
    within one evaluation (see :func:`credo.model.variables.evaluate`).
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
    """

    def __init__(self, model):
        self.model = model
        self._free_rvs = list(model.free_variables)
        self._observed_rvs = list(model.observed_variables)
        self._deterministics = list(model.deterministics)
        self._potentials = list(model.potentials)
        self.deterministic_names = [d.name for d in self._deterministics]
        self.observed_names = [rv.name for rv in self._observed_rvs]
        self.discrete_free = [rv.name for rv in self._free_rvs if rv.distribution.discrete]
        self.free = self._layout(model)
        self.dim = sum(info.size for info in self.free)
        #: Compiled programs of the inference layer, keyed by hashable specs (bounded: see ProgramCache).
        self.programs = ProgramCache(lambda: settings().program_cache_size)

    # layout ---------------------------------------------------------------------
    def _layout(self, model) -> list[FreeVariableInfo]:
        infos, offset = [], 0
        shapes = self._unconstrained_shapes(model.data_values)
        for rv in self._free_rvs:
            shape, transformed, transform = shapes[rv.name]
            size = int(np.prod(shape, dtype=int))
            infos.append(FreeVariableInfo(rv.name, rv.shape, shape, offset, size, transformed, transform))
            offset += size
        return infos

    def _unconstrained_shapes(self, data) -> dict:
        found = {}

        def probe(data):
            values, cache = self._base_values(data), {}
            for rv in self._free_rvs:
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

        jax.eval_shape(probe, dict(data))
        return found

    def jit(self, fn, signature=None, batch_rows=None, **kwargs):
        """``jax.jit(fn, **kwargs)`` with the XLA options for this model's size on data of this
        signature (see :func:`credo._config.compiler_options`).

        ``signature`` is a :func:`~credo.model.programs.data_signature` (the
        model's current data when None); ``batch_rows`` the batch size of
        arrays read in minibatches.
        """
        if signature is None:
            signature = data_signature(self.model.data_values)
        rows = [(batch_rows or {}).get(name, shape[0]) for name, shape, _ in signature if len(shape) > 0]
        return _jit_for_size(fn, int(self.dim) * max(rows, default=1), **kwargs)

    @property
    def free_names(self) -> list[str]:
        return [info.name for info in self.free]

    @property
    def point_slices(self) -> tuple:
        """``(start, stop)`` of each point-estimated free variable in the flat vector (see
        :attr:`RandomVariable.point_estimate <credo.model.variables.RandomVariable>`), merged where adjacent."""
        slices: list = []
        for rv, info in zip(self._free_rvs, self.free):
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
    def _base_values(self, data) -> dict:
        values = dict(data)
        for rv in self._observed_rvs:
            values[rv.name] = data[rv.observed.name]
        return values

    def _constrain_into(self, position, values, cache):
        """Fill ``values`` with the constrained free variables; return the log-Jacobian terms."""
        params = self.unflatten(position)
        terms = []
        for rv in self._free_rvs:
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
        """
        if self.discrete_free:
            raise ModelError(
                f"the free variables {self.discrete_free} are discrete; credo's inference needs continuous "
                "free variables (observe them, or marginalise them out)."
            )
        values, cache = self._base_values(data), {}
        total = jnp.zeros((), position.dtype)
        for d, value, transform, unconstrained in self._constrain_into(position, values, cache):
            total = total + _prior_term(d, value)
            if not _is_identity(transform):
                total = total + jnp.sum(transform.log_abs_det_jacobian(unconstrained, value))
        for rv in self._observed_rvs:
            d = build_distribution(rv, values, cache)
            observed = values[rv.name]
            scale = likelihood_scale(rv.total_size, tuple(observed.shape))
            total = total + scale * jnp.sum(d.log_prob(observed))
        for potential in self._potentials:
            total = total + jnp.sum(evaluate(potential, values, cache))
        return total

    def constrain_fn(self, position: jax.Array, data: Mapping[str, jax.Array]) -> dict[str, jax.Array]:
        """Constrained values of the free variables and the deterministics."""
        values, cache = self._base_values(data), {}
        self._constrain_into(position, values, cache)
        out = {rv.name: values[rv.name] for rv in self._free_rvs}
        for det in self._deterministics:
            out[det.name] = evaluate(det, values, cache)
        return out

    def forward_sample_fn(
        self, key: jax.Array, free_values: Mapping[str, jax.Array], data: Mapping[str, jax.Array]
    ) -> dict[str, jax.Array]:
        """Draw every observed variable given constrained values of the free ones.

        Returns the observed draws and the deterministics (recomputed from the
        current data).
        """
        values, cache = self._base_values(data), {}
        values.update(free_values)
        out = {}
        for index, rv in enumerate(self._observed_rvs):
            d = build_distribution(rv, values, cache)
            batch = _sample_batch(d, tuple(values[rv.name].shape), rv.param_batch_shape)
            if batch != tuple(d.batch_shape):
                d = d.expand(batch)
            draw = d.sample(jax.random.fold_in(key, index))
            values[rv.name] = draw
            out[rv.name] = draw
        for det in self._deterministics:
            out[det.name] = evaluate(det, values, cache)
        return out

    def prior_sample_fn(self, key: jax.Array, data: Mapping[str, jax.Array]) -> dict[str, jax.Array]:
        """Ancestral draw of every free variable, deterministic and observed variable."""
        values, cache = self._base_values(data), {}
        out = {}
        for index, rv in enumerate(self._free_rvs):
            d = build_distribution(rv, values, cache)
            if _is_improper(d):
                raise ModelError(f"{rv.distribution.name} {rv.name!r} is improper: it has no prior to draw from.")
            values[rv.name] = out[rv.name] = d.sample(jax.random.fold_in(key, index))
        observed = self.forward_sample_fn(jax.random.fold_in(key, len(self._free_rvs)), out, data)
        out.update(observed)
        return out

    def unconstrain_fn(self, free_values: Mapping[str, jax.Array], data: Mapping[str, jax.Array]) -> jax.Array:
        """The flat unconstrained vector of constrained free values (the inverse of ``constrain_fn``)."""
        values, cache = self._base_values(data), {}
        params = {}
        for rv in self._free_rvs:
            d = build_distribution(rv, values, cache)
            value = jnp.asarray(free_values[rv.name])
            values[rv.name] = value
            params[rv.name] = default_transform(d).inv(value)
        return self.flatten(params)

    def initial_position(self) -> jax.Array:
        """The model's initial point as a flat unconstrained vector."""
        point = initial_point(self.model)
        if not any(info.transformed for info in self.free):  # nothing to transform: no program to compile
            dtype = jnp.zeros(()).dtype
            return jnp.asarray(np.concatenate([np.ravel(point[info.name]).astype(dtype) for info in self.free]))
        data = dict(self.model.data_values)
        # one compiled call rather than a dozen eager operations
        return self.programs.get(_Unconstrain(data_signature(data)), self)(point, data)

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
        values, cache = self._base_values(self.model.data_values), {}
        params = {}
        dtype = jnp.zeros(()).dtype
        for rv in self._free_rvs:
            d = build_distribution(rv, values, cache)
            if rv.name in point:
                value = jnp.asarray(point[rv.name], dtype)
                try:
                    value = jnp.broadcast_to(value, rv.shape)
                except ValueError:
                    raise InitvalError(f"the start value of {rv.name!r} has shape {np.shape(point[rv.name])}; the "
                                       f"variable has shape {rv.shape}.") from None
                if not bool(jnp.all(jnp.isfinite(value))) or not bool(jnp.all(d.support.check(value))):
                    raise InitvalError(f"the start value of {rv.name!r} is outside its support ({d.support}).")
            else:
                value = rv.initval if rv.initval is not None else _default_value(rv, d)
            values[rv.name] = value
            params[rv.name] = default_transform(d).inv(jnp.asarray(value, dtype))
        return self.flatten(params)


class _Unconstrain(NamedTuple):
    """Spec of the compiled ``unconstrain_fn`` (see :class:`~credo.model.programs.ProgramCache`)."""

    signature: tuple

    def build(self, compiled: "CompiledModel"):
        return compiled.jit(compiled.unconstrain_fn, self.signature)


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
    shape = rv.shape
    if rv.distribution.discrete:
        return jnp.zeros(shape, jnp.int32)
    try:
        mean = jnp.broadcast_to(d.mean, shape)
        if bool(jnp.all(jnp.isfinite(mean))) and bool(jnp.all(d.support.check(mean))):
            return mean
    except (NotImplementedError, ValueError, TypeError, AttributeError):
        pass
    transform = default_transform(d)
    return transform(jnp.zeros(transform.inverse_shape(shape)))


def initial_point(model) -> dict[str, np.ndarray]:
    """Initial constrained values of the free variables (see :meth:`Model.initial_point`)."""
    values = dict(model.data_values)
    for rv in model.observed_variables:
        values[rv.name] = model.data_values[rv.observed.name]
    cache: dict = {}
    point = {}
    for rv in model.free_variables:
        d = build_distribution(rv, values, cache)
        value = rv.initval if rv.initval is not None else _default_value(rv, d)
        values[rv.name] = value
        point[rv.name] = np.asarray(value)
    return point


def joint_logp(model, point: Mapping[str, Any], jacobian: bool = False) -> jax.Array:
    """The joint log density at constrained values (see :meth:`Model.logp`)."""
    values = dict(model.data_values)
    for rv in model.observed_variables:
        values[rv.name] = model.data_values[rv.observed.name]
    known = {rv.name for rv in model.free_variables + model.observed_variables}
    unknown = sorted(set(point) - known)
    if unknown:
        raise ModelError(f"logp: {unknown} are not random variables of the model; it has {sorted(known)}.")
    cache: dict = {}
    total = jnp.zeros(())
    for rv in model.free_variables:
        if rv.name not in point:
            raise ModelError(f"logp: give a value for the free variable {rv.name!r}.")
        d = build_distribution(rv, values, cache)
        value = _point_value(rv, point[rv.name])
        values[rv.name] = value
        total = total + jnp.sum(d.log_prob(value))
        if jacobian and not rv.distribution.discrete:  # discrete variables have no transform
            transform = default_transform(d)
            unconstrained = transform.inv(value)
            total = total + jnp.sum(transform.log_abs_det_jacobian(unconstrained, value))
    for rv in model.observed_variables:
        if rv.name in point:
            values[rv.name] = _point_value(rv, point[rv.name], observed=True)
        d = build_distribution(rv, values, cache)
        observed = values[rv.name]
        total = total + likelihood_scale(rv.total_size, tuple(observed.shape)) * jnp.sum(d.log_prob(observed))
    for potential in model.potentials:
        total = total + jnp.sum(evaluate(potential, values, cache))
    return total


def _point_value(rv: RandomVariable, value, observed: bool = False) -> jax.Array:
    array = jnp.asarray(value)
    if not observed:
        try:
            array = jnp.broadcast_to(array, rv.shape)
        except ValueError:
            raise ModelError(f"logp: {rv.name!r} has shape {rv.shape}; got a value of shape {array.shape}.") from None
    elif not np.isfinite(np.asarray(array, dtype=float)).all():
        raise ObservedError(f"logp: the values given for {rv.name!r} contain NaN or inf.")
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
        values, cache = compiled._base_values(data), {}
        compiled._constrain_into(position, values, cache)
        for rv in compiled._observed_rvs:
            d = build_distribution(rv, values, cache)
            found[rv] = (tuple(d.batch_shape), tuple(d.event_shape), tuple(values[rv.name].shape))
        return jnp.zeros(())

    jax.eval_shape(probe, jax.ShapeDtypeStruct((compiled.dim,), jnp.zeros(()).dtype), dict(data_values))
    for rv, (batch, event, observed_shape) in found.items():
        if not _data_fit(batch, event, observed_shape, rv.param_batch_shape or ()):
            raise ObservedError(
                f"observed variable {rv.name!r}: its data have shape {observed_shape} but its likelihood has shape "
                f"{batch + event} under the current data; set_data the matching observed values too."
            )


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
