"""Checks of the arguments of the public inference functions: a credo error naming the argument.

Each check raises ``error`` (a :class:`~credo.errors.CredoError`) with the
function's name, the argument's name, what it must be and what it was.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import numpy as np

from ..errors import FitError
from ..model.core import Model

__all__ = ["positive_int", "nonnegative_int", "check_bool", "check_callbacks", "check_seed", "check_names",
           "check_model_argument"]


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def positive_int(value, name: str, what: str, error: type = FitError) -> int:
    """``value`` as an int, if it is an integer of at least 1."""
    if not _is_int(value) or value < 1:
        raise error(f"{what}: {name} must be a positive integer; got {value!r}.")
    return int(value)


def nonnegative_int(value, name: str, what: str, error: type = FitError) -> int:
    if not _is_int(value) or value < 0:
        raise error(f"{what}: {name} must be a non-negative integer; got {value!r}.")
    return int(value)


def check_bool(value, name: str, what: str, error: type = FitError) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise error(f"{what}: {name} must be True or False; got {value!r}.")
    return bool(value)


def check_callbacks(callbacks, what: str, error: type = FitError) -> list[Callable]:
    """A list of callables from ``None``, one callable, or a sequence of callables."""
    if callbacks is None:
        return []
    if callable(callbacks) and not isinstance(callbacks, (list, tuple)):
        callbacks = [callbacks]
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Sequence):
        raise error(f"{what}: callbacks must be a list of callables; got {type(callbacks).__name__}.")
    bad = [item for item in callbacks if not callable(item)]
    if bad:
        raise error(f"{what}: callbacks must be callables callback(approx, losses, step); got {bad[0]!r}.")
    return list(callbacks)


def check_seed(random_seed, what: str, error: type = FitError) -> Any:
    """``random_seed`` if it is None, an integer or a JAX key."""
    if random_seed is None or _is_int(random_seed) or isinstance(random_seed, jax.Array):
        return random_seed
    raise error(f"{what}: random_seed must be an int, a JAX key or None; got {random_seed!r}.")


def check_names(names, known: Sequence[str], name: str, what: str, error: type = FitError) -> tuple[str, ...]:
    """A tuple of names from a string or a sequence of strings, each in ``known``."""
    if isinstance(names, str):
        names = (names,)
    if not isinstance(names, Sequence) or not all(isinstance(item, str) for item in names):
        raise error(f"{what}: {name} must be a list of variable names; got {names!r}.")
    unknown = [item for item in names if item not in known]
    if unknown:
        raise error(f"{what}: {name} {unknown} are not among the variables it can take; choose from "
                    f"{sorted(known)}.")
    return tuple(names)


def check_model_argument(model, what: str, error: type = FitError):
    """``model`` if it is None or a credo Model."""
    if model is not None and not isinstance(model, Model):
        raise error(f"{what}: model must be a credo Model; got {type(model).__name__}.")
    return model
