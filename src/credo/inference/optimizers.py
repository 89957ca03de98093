"""Optimisers for variational fits, as optax ``GradientTransformation`` objects.

Any optax optimiser works as ``obj_optimizer``; this module adds the one credo
uses by default for mean-field fits, windowed adagrad, the families' default
optimisers (:class:`OptimizerSpec`), and :class:`Optimizer`, the wrapper that
lets compiled fits be shared between optimiser objects with equal
hyperparameters.

Which optimisers share compiled programs
----------------------------------------
An optax optimiser is a pair of closures. :func:`optimizer_key` reads them:
the code of each function and the values it closes over (numbers, strings,
small arrays, tuples, other functions, ``functools.partial`` objects),
recursively. Two optimisers built by the same optax calls with equal
hyperparameters (``optax.adam(1e-3)`` twice, ``optax.adam(schedule)`` with
schedules built by equal calls, ``optax.chain`` of such) get equal keys, so a
fit with a fresh object reuses the program compiled for the first. A closure
over anything else (an object of the user's own class, a large array, a
jitted function) makes the key that optimiser object itself: a fit with the
same object reuses its program; a fresh one compiles again (the programs are
bounded in number all the same, see ``cr.config(program_cache_size=...)``).
"""

from __future__ import annotations

import dataclasses
import functools
import types
from typing import Any, Callable, Hashable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..errors import FitError

__all__ = [
    "adagrad_window", "scale_by_window_adagrad", "WindowAdagradState", "Optimizer", "OptimizerSpec",
    "optimizer_key", "as_optimizer",
]


class WindowAdagradState(NamedTuple):
    """State of :func:`scale_by_window_adagrad`.

    Attributes
    ----------
    squared_gradients : pytree
        The last ``n_win`` squared gradients of each parameter, stacked on a
        leading axis of length ``n_win`` (a ring buffer).
    index : Array
        Where the next squared gradient is written.
    """

    squared_gradients: optax.Updates
    index: jax.Array


def scale_by_window_adagrad(n_win: int = 10, epsilon: float = 0.1) -> optax.GradientTransformation:
    """Divide each gradient by the root of the sum of its last ``n_win`` squares.

    Adagrad that forgets: only a window of recent gradients sets the scale, so
    the step size does not decay to zero over long fits.
    """
    if isinstance(n_win, bool) or not isinstance(n_win, (int, np.integer)) or n_win < 1:
        raise FitError(f"adagrad_window: n_win must be a positive integer; got {n_win!r}.")
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.number)) or not epsilon > 0:
        raise FitError(f"adagrad_window: epsilon must be a positive number; got {epsilon!r}.")

    def init_fn(params):
        buffers = jax.tree_util.tree_map(lambda p: jnp.zeros((n_win,) + jnp.shape(p), jnp.result_type(p)), params)
        return WindowAdagradState(buffers, jnp.zeros((), jnp.int32))

    def update_fn(updates, state, params=None):
        del params
        buffers = jax.tree_util.tree_map(lambda b, g: b.at[state.index].set(g * g), state.squared_gradients, updates)
        scaled = jax.tree_util.tree_map(lambda g, b: g / jnp.sqrt(jnp.sum(b, axis=0) + epsilon), updates, buffers)
        return scaled, WindowAdagradState(buffers, (state.index + 1) % n_win)

    return optax.GradientTransformation(init_fn, update_fn)


def _check_learning_rate(learning_rate, what: str) -> None:
    if callable(learning_rate):
        return  # an optax schedule
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float, np.number)) \
            or not np.isfinite(learning_rate) or learning_rate <= 0:
        raise FitError(f"{what}: learning_rate must be a positive number or an optax schedule; got "
                       f"{learning_rate!r}.")


def adagrad_window(learning_rate: float | optax.Schedule = 1e-3, n_win: int = 10, epsilon: float = 0.1):
    """Windowed adagrad: credo's default optimiser for mean-field ADVI.

    Each step moves a parameter by ``learning_rate * g / sqrt(sum of the last
    n_win g**2 + epsilon)``. It is robust to the scale of the gradients (large
    likelihoods, minibatch noise) without the decaying steps of plain adagrad.
    ``learning_rate`` may be an optax schedule.

    Examples
    --------
    >>> import credo as cr, optax
    >>> optimizer = cr.adagrad_window(learning_rate=1e-2)
    >>> optimizer = cr.adagrad_window(optax.exponential_decay(1e-2, 1000, 0.5))
    """
    _check_learning_rate(learning_rate, "adagrad_window")
    return optax.chain(scale_by_window_adagrad(n_win, epsilon), optax.scale_by_learning_rate(learning_rate))


_BUILDERS: dict[str, Callable[[float], optax.GradientTransformation]] = {
    "adagrad_window": adagrad_window,
    "adam": optax.adam,
}


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    """A named optimiser and its learning rate: a family's default (see :mod:`credo.inference.advi`).

    Examples
    --------
    >>> OptimizerSpec("adam", 1e-3).build()  # doctest: +ELLIPSIS
    GradientTransformation...
    """

    name: str
    learning_rate: float

    def build(self) -> optax.GradientTransformation:
        return _BUILDERS[self.name](self.learning_rate)


# --- keys ------------------------------------------------------------------------------------

class _Opaque(Exception):
    """A value :func:`optimizer_key` cannot read."""


#: Arrays up to this many elements are read by value; larger ones make the key the optimiser itself.
_ARRAY_LIMIT = 4096


def _fingerprint(value: Any, depth: int) -> Hashable:
    if depth > 50:
        raise _Opaque
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return (type(value).__name__, value)
    if isinstance(value, np.generic):
        return ("scalar", value.dtype.str, value.item())
    if isinstance(value, (np.ndarray, jax.Array)):
        if isinstance(value, jax.core.Tracer) or np.size(value) > _ARRAY_LIMIT:
            raise _Opaque
        array = np.asarray(value)
        return ("array", array.shape, array.dtype.str, array.tobytes())
    if isinstance(value, (tuple, list)):
        return (type(value).__qualname__, tuple(_fingerprint(item, depth + 1) for item in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((repr(k), _fingerprint(v, depth + 1)) for k, v in value.items())))
    if isinstance(value, functools.partial):
        return ("partial", _fingerprint(value.func, depth + 1), _fingerprint(value.args, depth + 1),
                _fingerprint(value.keywords, depth + 1))
    if isinstance(value, types.FunctionType):
        closure = value.__closure__ or ()
        try:
            cells = tuple(_fingerprint(cell.cell_contents, depth + 1) for cell in closure)
        except ValueError:  # an empty cell
            raise _Opaque from None
        return ("function", value.__code__, _fingerprint(value.__defaults__, depth + 1),
                _fingerprint(value.__kwdefaults__, depth + 1), cells)
    try:
        hash(value)
    except TypeError:
        raise _Opaque from None
    return ("object", value)  # equal by its own __eq__ (for most objects: the same object)


def optimizer_key(optimizer: optax.GradientTransformation) -> Hashable:
    """A hashable key equal for optimisers with the same code and hyperparameters (see the module doc).

    Examples
    --------
    >>> import optax
    >>> optimizer_key(optax.adam(1e-3)) == optimizer_key(optax.adam(1e-3))
    True
    >>> optimizer_key(optax.adam(1e-3)) == optimizer_key(optax.adam(2e-3))
    False
    """
    try:
        return ("structure", _fingerprint(optimizer, 0))
    except (_Opaque, RecursionError, TypeError):
        return ("object", optimizer)


class Optimizer:
    """An optax optimiser with its :func:`optimizer_key`: equal keys, equal programs.

    Attributes
    ----------
    transformation : optax.GradientTransformation
    key : hashable
    """

    __slots__ = ("transformation", "key", "_hash")

    def __init__(self, transformation: optax.GradientTransformation):
        self.transformation = transformation
        self.key = optimizer_key(transformation)
        self._hash = hash(self.key)

    def __eq__(self, other) -> bool:
        return isinstance(other, Optimizer) and self._hash == hash(other) and self.key == other.key

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Optimizer({type(self.transformation).__name__})"


def as_optimizer(optimizer, default: OptimizerSpec) -> Optimizer:
    """``optimizer`` (an optax GradientTransformation, or None for ``default``) as an :class:`Optimizer`."""
    if optimizer is None:
        return Optimizer(default.build())
    if isinstance(optimizer, Optimizer):
        return optimizer
    if not isinstance(optimizer, optax.GradientTransformation):
        raise FitError(f"obj_optimizer must be an optax.GradientTransformation (e.g. optax.adam(1e-2)); got "
                       f"{type(optimizer).__name__}.")
    return Optimizer(optimizer)
