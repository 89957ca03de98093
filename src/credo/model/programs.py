"""The bounded cache of compiled programs that every :class:`~credo.model.compile.CompiledModel` owns.

A program (a jitted function: a fit's chunk of steps, a sampler, a
predictive) is stored under a *spec*: a hashable value that says everything
the program depends on besides its arguments (the family, the optimiser's
fingerprint, the chunk size, the minibatch groups, the shapes and dtypes of
the data). Equal specs share one program; the least recently used programs
are dropped when more than ``config().program_cache_size`` are held, and
their compiled executables with them.

A spec type says which program it stands for: it is a frozen dataclass with
a ``build(compiled)`` method that returns the program, so
``compiled.programs.get(spec)`` is typed by the spec. (Not a NamedTuple: two
NamedTuple types with equal fields compare equal, and would share a program.)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable, Mapping

import jax
import numpy as np

__all__ = ["ProgramCache", "data_signature", "DataSignature"]

#: ``((name, shape, dtype[, sharding]), ...)`` of a dict of data arrays, sorted by name.
DataSignature = tuple


def data_signature(data: Mapping[str, Any]) -> DataSignature:
    """The shapes and dtypes of a dict of arrays, as a hashable value (part of every program's spec).

    An array placed on several devices adds its sharding (see
    :mod:`credo.model.placement`): a program compiled for rows sharded over
    four devices is another program than the one-device one. Arrays on one
    device add nothing, so the one-device specs are those of before.

    Examples
    --------
    >>> import numpy as np
    >>> data_signature({"x": np.zeros((3, 2), np.float32)})
    (('x', (3, 2), 'float32'),)
    """
    return tuple(_entry(name, value) for name, value in sorted(data.items()))


def _entry(name: str, value: Any) -> tuple:
    entry = (name, tuple(np.shape(value)), str(jax.numpy.result_type(value)))
    if isinstance(value, jax.Array) and len(value.sharding.device_set) > 1:
        entry += (value.sharding,)
    return entry


class ProgramCache:
    """Compiled programs keyed by hashable specs, least recently used dropped first.

    Parameters
    ----------
    maxsize : callable or int
        The bound, or a function returning it (read at every insertion, so
        ``cr.config(program_cache_size=...)`` applies to existing models).

    Examples
    --------
    >>> import dataclasses
    >>> @dataclasses.dataclass(frozen=True)
    ... class Double:
    ...     def build(self, compiled):
    ...         return lambda x: 2 * x
    >>> cache = ProgramCache(maxsize=2)
    >>> cache.get(Double(), compiled=None)(3)
    6
    >>> len(cache)
    1
    """

    def __init__(self, maxsize: int | Callable[[], int]):
        self._maxsize = maxsize
        self._programs: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        #: How many programs were built (a cache miss each): tests read it.
        self.builds = 0

    @property
    def maxsize(self) -> int:
        return int(self._maxsize() if callable(self._maxsize) else self._maxsize)

    def get(self, spec: Hashable, compiled) -> Any:
        """The program of ``spec``, built with ``spec.build(compiled)`` the first time."""
        with self._lock:
            program = self._programs.get(spec)
            if program is not None:
                self._programs.move_to_end(spec)
                return program
        program = spec.build(compiled)
        with self._lock:
            program = self._programs.setdefault(spec, program)
            self.builds += 1
            while len(self._programs) > self.maxsize:
                self._programs.popitem(last=False)
        return program

    def __len__(self) -> int:
        return len(self._programs)

    def __contains__(self, spec: Hashable) -> bool:
        return spec in self._programs

    def specs(self) -> list:
        """The specs held, least recently used first."""
        with self._lock:
            return list(self._programs)

    def clear(self) -> None:
        with self._lock:
            self._programs.clear()
