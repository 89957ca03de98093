"""Recording a random variable in a model, with every check that can be made where the model is written.

:func:`random_variable` is what each distribution (``cr.Normal``, ...)
calls: it checks the options' types (``shape``, ``dims``, ``total_size``),
constant parameters against their domains, that every node comes from this
model, the observed values against the support (wherever the support is
known without the free variables) and against the parameters' shape, and
records the variable with its dimensions.
"""

from __future__ import annotations

import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import (
    CredoWarning, InitvalError, ModelError, ObservedError, ParameterError, ParameterTypeError,
)
from . import coords as _coords
from .arrays import float_dtype, to_device
from .compile import warn_no_rows
from .core import Model, as_data_array
from .graph import adopt_pending, check_same_model, named_parents
from .placement import DistributedRows, host_values
from .sources import RowsElsewhere
from .spec import DistributionSpec
from .support import check_constraint
from .variables import DataNode, DeterministicNode, Node, RandomVariable

__all__ = ["OPTIONS", "random_variable", "as_param"]

#: The keyword arguments every distribution takes besides its parameters.
OPTIONS = ("shape", "dims", "observed", "total_size", "initval", "testval")


def as_param(spec: DistributionSpec, name: str, value, label: str):
    """A parameter as a node or a constant array (integers kept for ``spec.integer_params``).

    Examples
    --------
    >>> from credo.distributions import BINOMIAL_P
    >>> as_param(BINOMIAL_P, "n", 5, "Binomial 'k'").dtype, as_param(BINOMIAL_P, "p", 0.5, "Binomial 'k'").dtype
    (dtype('int32'), dtype('float32'))
    """
    if isinstance(value, Node):
        return value
    if isinstance(value, (jax.Array, np.ndarray)) or np.isscalar(value) or isinstance(value, (list, tuple)):
        try:
            array = np.asarray(value)
        except ValueError:  # ragged nested lists
            array = np.asarray(None)
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) \
                or np.issubdtype(array.dtype, np.complexfloating):
            raise ParameterTypeError(
                f"{label}: parameter {name} must be numeric; got {value!r} (dtype {array.dtype})."
            )
        if name in spec.integer_params and np.issubdtype(array.dtype, np.integer):
            return as_data_array(array, f"{label}: parameter {name}", ParameterError)
        return to_device(array, float_dtype())
    raise ParameterTypeError(
        f"{label}: parameter {name} must be a number, an array or a credo variable; got {type(value).__name__}."
    )


def _check_shape(shape: Any, label: str) -> tuple | None:
    if shape is None:
        return None
    if isinstance(shape, np.ndarray) and shape.ndim <= 1 and np.issubdtype(shape.dtype, np.integer):
        shape = tuple(shape.tolist()) if shape.ndim else int(shape)
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        entries = (shape,)
    elif isinstance(shape, (tuple, list)):
        entries = tuple(shape)
    else:
        raise ParameterTypeError(f"{label}: shape must be an int or a tuple of ints; got {type(shape).__name__} "
                                 f"{shape!r}.")
    for entry in entries:
        if isinstance(entry, (bool, np.bool_)) or not isinstance(entry, (int, np.integer)):
            raise ParameterTypeError(f"{label}: shape must hold integers; got {entry!r} in shape={shape!r}.")
        if entry < 0:
            raise ModelError(f"{label}: shape entries must be non-negative; got shape={shape!r}.")
    return tuple(int(entry) for entry in entries)


def _check_total_size(total_size, label):
    def bad_type(entry) -> bool:
        return isinstance(entry, (bool, np.bool_)) or not isinstance(entry, (int, np.integer))

    if total_size is None:
        return None
    if isinstance(total_size, (tuple, list)):
        if any(entry is not None and bad_type(entry) for entry in total_size):
            raise ParameterTypeError(f"{label}: total_size entries must be integers or None; got {total_size!r}.")
        if not all(entry is None or entry > 0 for entry in total_size):
            raise ModelError(f"{label}: total_size entries must be positive integers or None; got {total_size}.")
        return tuple(None if entry is None else int(entry) for entry in total_size)
    if bad_type(total_size):
        raise ParameterTypeError(f"{label}: total_size must be an integer (the number of rows of the full data "
                                 f"set) or a tuple of integers; got {type(total_size).__name__} {total_size!r}.")
    if total_size <= 0:
        raise ModelError(f"{label}: total_size must be a positive integer; got {total_size}.")
    return int(total_size)


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
    """The batch shape: from ``shape``, else the observed data's, else the parameters'.

    Observed data set the variable's shape (as in PyMC): the parameters must
    broadcast to it, and it to ``shape`` when both are given. Data of shape
    ``(10, 1)`` against a mean of shape ``(10,)`` would otherwise make a
    ``(10, 10)`` likelihood.
    """
    n_event = len(event)
    if shape is not None:
        if n_event and tuple(shape[len(shape) - n_event:]) != event:
            raise ModelError(f"{label}: shape={shape} must end with the event shape {event}.")
        batch = shape[: len(shape) - n_event]
        if not _broadcasts_to(dist_batch, batch):
            raise ModelError(f"{label}: parameters of shape {dist_batch} do not broadcast to shape={shape}.")
        if observed_shape is not None and not _broadcasts_to(observed_shape, shape):
            raise ObservedError(f"{label}: observed data of shape {observed_shape} do not fit shape={shape}.")
        return batch
    if observed_shape is not None:
        observed_batch = observed_shape[: len(observed_shape) - n_event]
        if n_event and tuple(observed_shape[len(observed_shape) - n_event:]) != event:
            raise ObservedError(f"{label}: observed data of shape {observed_shape} must end with the event shape "
                                f"{event}.")
        if not _broadcasts_to(dist_batch, observed_batch):
            raise ObservedError(
                f"{label}: observed data of shape {observed_shape} do not match its parameters' shape "
                f"{dist_batch + event}: the parameters must broadcast to the data's shape (they would give a "
                "likelihood of another shape). Reshape the data (e.g. y.ravel() or y[:, None]) or the parameters."
            )
        return observed_batch
    return dist_batch


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    try:
        return tuple(np.broadcast_shapes(shape, target)) == tuple(target)
    except ValueError:
        return False


def _check_values(spec, params, value, label, what, error_cls):
    support = spec.known_support(params)
    if support is not None:
        check_constraint(support, value, f"{what} of {label}", error_cls, support.event_dim)


def _observed_node(model: Model, name: str, spec, params, observed, label) -> tuple[DataNode, tuple]:
    if isinstance(observed, DataNode):
        value = model.data_values[observed.name]
        node = observed
    elif isinstance(observed, DistributedRows):
        value = observed
        node = None
    elif isinstance(observed, Node):
        raise ObservedError(f"{label}: observed must be an array or a cr.Data variable, not a computed node "
                            f"{observed!r}.")
    else:
        try:
            value = np.asarray(observed)
        except ValueError:  # ragged nested lists
            value = np.asarray(None)
        if not (np.issubdtype(value.dtype, np.number) or value.dtype == bool):
            raise ObservedError(f"{label}: observed values must be a numeric array; got {type(observed).__name__} "
                                f"of dtype {value.dtype}.")
        node = None
    value_np = host_values(value)  # this process's rows of rows spread over processes
    if np.issubdtype(value_np.dtype, np.floating) and not np.isfinite(value_np).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(value_np))[0])
        raise ObservedError(
            f"{label}: observed data contain NaN or inf (first at index {bad}); remove or impute those rows."
        )
    _check_values(spec, params, value_np, label, "observed values", ObservedError)
    if node is None:
        node = model.add_observed_data(name, value if isinstance(value, DistributedRows) else value_np,
                                       discrete=spec.discrete)
    return node, tuple(value.shape) if isinstance(value, RowsElsewhere) else value_np.shape


def _initial_value(spec, params, initval, shape, label):
    try:
        value = np.asarray(initval, dtype=np.float64 if not spec.discrete else None)
    except (TypeError, ValueError):
        raise InitvalError(f"{label}: initval must be numeric; got {type(initval).__name__}.") from None
    try:
        value = np.broadcast_to(value, shape)
    except ValueError:
        raise InitvalError(f"{label}: initval of shape {np.shape(initval)} does not fit the variable's shape "
                           f"{shape}.") from None
    if not np.isfinite(value).all():
        raise InitvalError(f"{label}: initval contains NaN or inf.")
    _check_values(spec, params, value, label, "initval", InitvalError)
    return to_device(value, float_dtype() if not spec.discrete else None)


def _minibatch_groups(rv: RandomVariable) -> list:
    """The minibatch groups a likelihood reads, through expressions and deterministics."""
    groups, seen, stack = [], set(), [rv]
    while stack:
        node = stack.pop()
        for parent in named_parents(node):
            if parent.uid in seen:
                continue
            seen.add(parent.uid)
            group = getattr(parent, "group", None)
            if group is not None and group not in groups:
                groups.append(group)
            if isinstance(parent, DeterministicNode):
                stack.append(parent)
    return groups


def _warn_unpaired_minibatches(model: Model, rv: RandomVariable) -> None:
    groups = _minibatch_groups(rv)
    for i, first in enumerate(groups):
        for second in groups[i + 1:]:
            rows = {model.data_values[name].shape[0] for name in first.names + second.names}
            paired = first.seed is not None and first.seed == second.seed and first.batch_size == second.batch_size
            if len(rows) == 1 and not paired:
                warnings.warn(
                    f"the likelihood {rv.name!r} reads the minibatches {list(first.names)} and {list(second.names)}, "
                    f"which have the same number of rows ({rows.pop()}) but draw their rows independently: inputs "
                    "and targets will not pair. Draw them together with cr.Minibatch(X, Y, batch_size=...), or give "
                    "both the same random_seed and batch_size.", CredoWarning, stacklevel=5)
                return


def random_variable(spec: DistributionSpec, name, params: dict, *, shape=None, dims=None, initval=None,
                    testval=None, observed=None, total_size=None) -> RandomVariable:
    """Record a random variable of distribution ``spec`` in the model of the ``with`` block (what every
    distribution constructor calls; the options are those of :data:`OPTIONS`).

    Examples
    --------
    >>> import credo as cr
    >>> from credo.distributions import NORMAL
    >>> with cr.Model():
    ...     w = random_variable(NORMAL, "w", {"mu": 0.0, "sigma": 1.0}, shape=3)
    >>> w.shape, w.distribution.name
    ((3,), 'Normal')
    """
    label = f"{spec.name} {name!r}"
    model = Model.get_context(what=f"{spec.name}({name!r}, ...)")
    model.check_new_name(name)
    shape = _check_shape(shape, label)
    dims = _coords.normalize_dims(dims, label)
    total_size = _check_total_size(total_size, label)
    params = {k: as_param(spec, k, v, label) for k, v in params.items()}
    uses = [(f"parameter {k}", v) for k, v in params.items()] + [("observed", observed)]
    adopt_pending(model, [value for _, value in uses])
    check_same_model(model, uses, label)
    for key, constraint in spec.param_constraints.items():
        value = params.get(key)
        if value is not None and not isinstance(value, Node):
            check_constraint(constraint, value, f"{label}: parameter {key}", ParameterError, constraint.event_dim)
    dist_batch, event = _build_shape(spec, params, label)
    if dims is not None and shape is None:
        dims_shape = _coords.shape_from_dims(model, dims, label)
        if observed is None and None not in dims_shape:  # observed data set the shape; dims are checked against it
            shape = dims_shape
    observed_node, observed_shape = (None, None)
    if observed is not None:
        observed_node, observed_shape = _observed_node(model, name, spec, params, observed, label)
    try:
        batch = _resolve_shape(label, shape, dist_batch, event, observed_shape)
        full_shape = batch + event
        if testval is not None and initval is None:
            initval = testval
        if initval is not None:
            initval = _initial_value(spec, params, initval, full_shape, label)
        _coords.register_dims(model, name, dims, full_shape, label)
    except Exception:
        # A failed definition leaves no trace: the name stays free for a corrected retry.
        if observed is not None and not isinstance(observed, DataNode):
            model.discard_observed_data(name)
        raise
    dtype = jnp.int32 if spec.discrete else float_dtype()
    rv = RandomVariable(name, spec, params, full_shape, dtype, batch, observed_node, total_size, initval)
    rv.param_batch_shape = tuple(dist_batch)
    model.add_variable(rv)
    if observed_shape is not None:
        if 0 in observed_shape:
            warn_no_rows(name, observed_shape, stacklevel=5)  # the user's line, above the constructor
        _warn_unpaired_minibatches(model, rv)
    return rv
