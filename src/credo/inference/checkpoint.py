"""Checkpoints of a variational fit: saved atomically as it goes, resumed by running the same call again.

``cr.fit(n, ..., checkpoint="run.npz")`` writes the approximation to
``run.npz`` every ``checkpoint_every`` (steps or time) and when the run ends
(finished, stopped by a callback, or interrupted), each save atomic (see
:func:`credo.inference.io.write_arrays`). The file is an ordinary saved
approximation (``cr.load_approximation`` reads it) whose metadata also
record the fit's settings: the model's data, the family, the optimiser, the
Monte Carlo draws, the chunk size, the start, the seed. Running the same
call again continues from the file: step ``s`` always draws from
``fold_in(key, s)`` and the optimiser's state is saved, so the finished
result equals, bit for bit, the one an uninterrupted fit gives, and at most
one checkpoint interval of work is repeated. A file written by another fit
is refused with a :class:`~credo.errors.CheckpointError` naming every setting
that differs; it is never reused or overwritten.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import time
import types
from pathlib import Path
from typing import Any, Callable, Mapping

import jax
import numpy as np

from ..errors import CheckpointError, FitError

__all__ = ["CheckpointError", "Checkpointer", "checkpoint_interval", "fit_settings", "check_settings",
           "DEFAULT_CHECKPOINT_EVERY"]

#: Time between checkpoints when ``checkpoint_every`` is not given.
DEFAULT_CHECKPOINT_EVERY = datetime.timedelta(seconds=60)

_UNITS = {"s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0}


def checkpoint_interval(every) -> tuple[int | None, float | None]:
    """``(steps, seconds)`` between checkpoints from ``checkpoint_every``.

    An int is a number of steps; a ``datetime.timedelta`` or a string such as
    ``"30s"``, ``"5min"``, ``"1h"`` a time; None the default (60 seconds).

    Examples
    --------
    >>> checkpoint_interval(500), checkpoint_interval("2min"), checkpoint_interval(None)
    ((500, None), (None, 120.0), (None, 60.0))
    """
    if every is None:
        every = DEFAULT_CHECKPOINT_EVERY
    if isinstance(every, (int, np.integer)) and not isinstance(every, bool):
        if every < 1:
            raise FitError(f"checkpoint_every must be a positive number of steps or a time; got {every!r}.")
        return int(every), None
    if isinstance(every, datetime.timedelta):
        seconds = every.total_seconds()
    elif isinstance(every, str) and (match := re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(s|sec|min|h)\s*", every)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise FitError(f"checkpoint_every must be a number of steps (int), a datetime.timedelta, or a time such as "
                       f"'30s', '5min', '1h'; got {every!r}.")
    if not seconds > 0:
        raise FitError(f"checkpoint_every must be a positive time; got {every!r}.")
    return None, float(seconds)


def checkpoint_path(checkpoint) -> Path:
    """``checkpoint`` as a path whose folder exists, checked before the fit starts."""
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise FitError(f"checkpoint must be a file path; got {type(checkpoint).__name__}.")
    path = Path(os.fspath(checkpoint))
    if path.is_dir():
        raise FitError(f"checkpoint {str(path)!r} is a folder; give a file path such as 'run.npz'.")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FitError(f"checkpoint {str(path)!r}: the folder {str(folder)!r} does not exist.")
    if not os.access(folder, os.W_OK):
        raise FitError(f"checkpoint {str(path)!r}: the folder {str(folder)!r} is not writable.")
    return path


# --- the settings a checkpoint records ------------------------------------------------------

def _canonical(value: Any) -> str:
    """A text that is equal for equal optimiser keys in any process (see :func:`optimizer_key`)."""
    if isinstance(value, tuple):
        return "(" + ",".join(_canonical(item) for item in value) + ")"
    if isinstance(value, types.CodeType):
        return f"code:{value.co_qualname}@{os.path.basename(value.co_filename)}"
    if isinstance(value, bytes):
        return "bytes:" + value.hex()
    if isinstance(value, (str, int, float, complex, bool)) or value is None:
        return repr(value)
    return f"object:{type(value).__module__}.{type(value).__qualname__}"


def _digest(*parts) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(part if isinstance(part, bytes) else str(part).encode())
        sha.update(b"\0")
    return sha.hexdigest()[:16]


def _arrays_digest(arrays: Mapping[str, Any]) -> str:
    parts = []
    for name in sorted(arrays):
        array = np.ascontiguousarray(np.asarray(arrays[name]))
        parts += [name, str(array.shape), array.dtype.str, array.tobytes()]
    return _digest(*parts)


def fit_settings(*, variables: list, data: Mapping, family, optimizer, num_mc: int, chunk_size: int, init: str, key,
                 start: Mapping | None, n_starts: int) -> dict:
    """What a checkpoint must share with the fit that resumes it, as JSON values."""
    return {
        "variables": [f"{v['name']}{tuple(v['shape'])}:{v['transform']}" for v in variables],
        "data": _arrays_digest(data),
        "family": family.label,
        "optimizer": _digest(_canonical(optimizer.key)),
        "num_mc": int(num_mc),
        "chunk_size": int(chunk_size),
        "init": init,
        "start": _arrays_digest(dict(start)) if start else None,
        "random_seed": np.asarray(jax.random.key_data(key)).ravel().tolist(),
        "n_starts": int(n_starts),
    }


_WHAT = {"variables": "the model's free variables", "data": "the model's data", "family": "the family",
         "optimizer": "the optimiser (obj_optimizer)",
         "num_mc": "obj_n_mc", "chunk_size": "chunk_size", "init": "init", "start": "the start values",
         "random_seed": "random_seed", "n_starts": "n_starts"}


def check_settings(path, saved: Mapping | None, current: Mapping, ignore: tuple = ()) -> None:
    """Raise :class:`CheckpointError` naming every setting in which ``saved`` and ``current`` differ."""
    if not isinstance(saved, Mapping):
        raise CheckpointError(f"checkpoint {str(path)!r} is a saved approximation but not a checkpoint of cr.fit "
                              "(it records no fit settings); refusing to continue from it or overwrite it. Give "
                              "another checkpoint path, or continue it with cr.load_approximation(...).refine(n).")
    differ = []
    for name, value in current.items():
        if name in ignore or saved.get(name) == value:
            continue
        shown = "" if name in ("data", "optimizer", "start", "random_seed") else \
            f" (checkpoint: {saved.get(name)!r}, this call: {value!r})"
        differ.append(f"{_WHAT.get(name, name)}{shown}")
    if differ:
        raise CheckpointError(
            f"checkpoint {str(path)!r} was written by another fit: {'; '.join(differ)} differ. It is neither reused "
            "nor overwritten: give another checkpoint path, or delete the file to start afresh."
        )


class Checkpointer:
    """``checkpointer(state, hist, final)``: save ``approx_fn(state, hist)`` to ``path`` when due.

    Due every ``steps`` steps or ``seconds`` seconds since the last save, and
    always when ``final``. Each save is atomic. ``saves`` and ``seconds_saving``
    count the saves and the time they took.
    """

    def __init__(self, path, settings: dict, approx_fn: Callable, save_fn: Callable, steps: int | None,
                 seconds: float | None, start_step: int = 0, on_disk: bool = False):
        self.path = path
        self.settings = settings
        self.approx_fn = approx_fn
        self.save_fn = save_fn
        self.steps = steps
        self.seconds = seconds
        self.saves = 0
        self.seconds_saving = 0.0
        self._last_time = time.monotonic()
        self._last_step = int(start_step)
        self._on_disk = bool(on_disk)  # whether the file already holds the state of _last_step

    def __call__(self, state, hist, final: bool) -> None:
        step = int(np.max(np.asarray(state.step)))
        due = final or (self.steps is not None and step - self._last_step >= self.steps) or \
            (self.seconds is not None and time.monotonic() - self._last_time >= self.seconds)
        if not due or (step == self._last_step and self._on_disk):
            return
        began = time.perf_counter()
        self.save_fn(self.approx_fn(state, hist), self.path, checkpoint=self.settings)
        self.seconds_saving += time.perf_counter() - began
        self.saves += 1
        self._last_step, self._last_time, self._on_disk = step, time.monotonic(), True
