"""Checkpoints of a fit or a NUTS run: saved atomically as it goes, resumed by running the same call again.

``cr.fit(n, ..., checkpoint="run.npz")`` writes the approximation to
``run.npz`` every ``checkpoint_every`` (steps or time) and when the run ends
(finished, stopped by a callback, or interrupted), each save atomic (see
:func:`credo.inference.io.write_arrays`). The file is an ordinary saved
approximation (``cr.load_approximation`` reads it) whose metadata also
record the fit's settings: the model's variables and data, the family, the
optimiser, the Monte Carlo draws, the chunk size, the start, the seed.
Running the same call again continues from the file: step ``s`` always
draws from ``fold_in(key, s)`` and the optimiser's state is saved, so the
finished result equals, bit for bit, the one an uninterrupted fit gives,
and at most one checkpoint interval of work is repeated.

``cr.sample(..., checkpoint="trace.npz")`` saves the tuned step sizes and
mass matrices, each chain's state and the draws so far, after tuning and
as the draws go; the same call continues without tuning again, draw for
draw as the uninterrupted run (tuning itself runs as one compiled call and
cannot be checkpointed).

A file written by another run is refused with a
:class:`~credo.errors.CheckpointError` naming every setting that differs;
it is never reused or overwritten.
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
from jax.experimental import multihost_utils

from ..errors import CheckpointError, FitError
from ..model.placement import DistributedRows
from ..model.sources import StreamedRows
from .io import ApproximationFileError, read_checked, write_with_metadata

__all__ = ["CheckpointError", "Checkpointer", "checkpoint_interval", "fit_settings", "check_settings",
           "sample_settings", "save_sampling_progress", "read_sampling_progress", "SamplingCheckpointer",
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
        if isinstance(arrays[name], DistributedRows):
            parts += [name, _distributed_digest(arrays[name])]
            continue
        if isinstance(arrays[name], StreamedRows):  # its shape and first rows: the file is not read through
            sample = np.ascontiguousarray(arrays[name].sample())
            parts += [name, str(arrays[name].shape), sample.dtype.str, sample.tobytes()]
            continue
        array = np.ascontiguousarray(np.asarray(arrays[name]))
        parts += [name, str(array.shape), array.dtype.str, array.tobytes()]
    return _digest(*parts)


def _distributed_digest(value: DistributedRows) -> str:
    """The digest of rows spread over processes: every process's digest of its rows, gathered (a collective)."""
    local = np.ascontiguousarray(value.local)
    mine = np.frombuffer(hashlib.sha256(local.tobytes() + local.dtype.str.encode()).digest(), np.uint8)
    everyone = np.asarray(multihost_utils.process_allgather(mine)) if jax.process_count() > 1 else mine
    return _digest(str(value.shape), everyone.tobytes())


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
         "random_seed": "random_seed", "n_starts": "n_starts", "tune": "tune", "chains": "chains",
         "target_accept": "target_accept", "max_treedepth": "max_treedepth", "initvals": "initvals",
         "jitter": "jitter"}


def check_settings(path, saved: Mapping | None, current: Mapping, ignore: tuple = ()) -> None:
    """Raise :class:`CheckpointError` naming every setting in which ``saved`` and ``current`` differ."""
    if not isinstance(saved, Mapping):
        raise CheckpointError(f"checkpoint {str(path)!r} is not a checkpoint of this kind of run (it records no "
                              "settings); refusing to continue from it or overwrite it. Give another checkpoint path "
                              "(a saved approximation continues with cr.load_approximation(...).refine(n)).")
    differ = []
    for name, value in current.items():
        if name in ignore or saved.get(name) == value:
            continue
        shown = "" if name in ("data", "optimizer", "start", "random_seed") else \
            f" (checkpoint: {saved.get(name)!r}, this call: {value!r})"
        differ.append(f"{_WHAT.get(name, name)}{shown}")
    if differ:
        raise CheckpointError(
            f"checkpoint {str(path)!r} was written by another run: {'; '.join(differ)} differ. It is neither reused "
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


# --- cr.sample: checkpoints of the draws after tuning ------------------------------------------

SAMPLING_FORMAT = "credo.sampling_checkpoint"
_STAT_DTYPES = ("bool", "int32", "int64", "float32", "float64")
_STATE_FIELDS = ("position", "logdensity", "logdensity_grad")


def sample_settings(*, variables: list, data: Mapping, tune: int, chains: int, target_accept: float,
                    max_treedepth: int, key, initvals: Mapping | None, jitter: bool, init: str = "auto") -> dict:
    """What a sampling checkpoint must share with the ``cr.sample`` call that continues it."""
    return {
        "variables": [f"{v['name']}{tuple(v['shape'])}:{v['transform']}" for v in variables],
        "data": _arrays_digest(data),
        "tune": int(tune),
        "chains": int(chains),
        "target_accept": float(target_accept),
        "max_treedepth": int(max_treedepth),
        "initvals": _arrays_digest(dict(initvals)) if initvals else None,
        "jitter": bool(jitter),
        "init": str(init),
        "random_seed": np.asarray(jax.random.key_data(key)).ravel().tolist(),
    }


def save_sampling_progress(path, progress, settings: dict) -> None:
    """Write a :class:`~credo.inference.nuts.NUTSProgress` to ``path`` atomically."""
    arrays = {"step_size": np.asarray(progress.parameters.step_size),
              "inverse_mass_matrix": np.asarray(progress.parameters.inverse_mass_matrix),
              "draws": np.asarray(progress.positions)}
    arrays.update({f"state.{name}": np.asarray(getattr(progress.states, name)) for name in _STATE_FIELDS})
    arrays.update({f"stats.{name}": np.asarray(value) for name, value in progress.stats.items()})
    metadata = {"format": SAMPLING_FORMAT, "format_version": 1, "settings": settings,
                "num_done": int(progress.positions.shape[1]),
                "stats": {name: str(np.asarray(value).dtype) for name, value in progress.stats.items()}}
    write_with_metadata(path, arrays, metadata)


def read_sampling_progress(path, settings: dict, seeded: bool, dim: int, dtype) -> tuple:
    """``(NUTSProgress, saved settings)`` from a sampling checkpoint of this model and these settings."""
    chains = settings["chains"]

    def expected(metadata):
        check_settings(path, metadata.get("settings"), settings, ignore=() if seeded else ("random_seed",))
        done, stats = metadata.get("num_done"), metadata.get("stats")
        if isinstance(done, bool) or not isinstance(done, int) or not 0 <= done <= 1 << 30 or \
                not isinstance(stats, dict) or any(not isinstance(value, str) or value not in _STAT_DTYPES
                                                   for value in stats.values()):
            raise ApproximationFileError(f"{path}: the metadata of this sampling checkpoint are malformed.")
        shapes = {"step_size": ((chains,), dtype), "inverse_mass_matrix": ((chains, dim), dtype),
                  "draws": ((chains, done, dim), dtype), "state.position": ((chains, dim), dtype),
                  "state.logdensity": ((chains,), dtype), "state.logdensity_grad": ((chains, dim), dtype)}
        shapes.update({f"stats.{name}": ((chains, done), np.dtype(kind)) for name, kind in stats.items()})
        return shapes

    metadata, arrays = read_checked(path, SAMPLING_FORMAT, "cr.sample(checkpoint=...)", expected)
    return arrays, metadata["settings"]


class SamplingCheckpointer:
    """``checkpointer(progress, final)`` for :func:`credo.inference.nuts.run_nuts`: saves when due."""

    def __init__(self, path, settings: dict, steps: int | None, seconds: float | None, done: int = 0):
        self.path, self.settings, self.steps, self.seconds = path, settings, steps, seconds
        self.saves, self.seconds_saving = 0, 0.0
        self._last_done, self._last_time = done, time.monotonic()
        self._written = False

    def __call__(self, progress_fn: Callable, final: bool) -> None:
        due = final or (self.seconds is not None and time.monotonic() - self._last_time >= self.seconds)
        progress = None
        if not due and self.steps is not None:
            progress = progress_fn()
            due = progress.positions.shape[1] - self._last_done >= self.steps
        if not due:
            return
        progress = progress if progress is not None else progress_fn()
        done = progress.positions.shape[1]
        if self._written and done == self._last_done:
            return
        began = time.perf_counter()
        save_sampling_progress(self.path, progress, self.settings)
        self.seconds_saving += time.perf_counter() - began
        self.saves += 1
        self._last_done, self._last_time, self._written = done, time.monotonic(), True
