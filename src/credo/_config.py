"""Process-wide settings, all in one place: :func:`config`.

credo applies its settings once, when it is imported, and again only when
:func:`config` is called; nothing changes them in the middle of a run.

``compilation_cache``
    JAX's persistent compilation cache, so that a model compiled once loads
    from disk in later processes instead of being compiled again. Default:
    ``~/.cache/credo/jax`` (or ``$XDG_CACHE_HOME/credo/jax``); the
    environment variable ``CREDO_COMPILATION_CACHE`` sets another folder, or
    ``0`` to turn it off. A cache folder the user already gave JAX is left as
    it is. While the cache is credo's, every program compiled in the process
    is cached (JAX's minimum compile time and entry size are set to 0:
    credo's programs compile in well under JAX's default threshold of one
    second).
``small_model_xla``
    Compile the programs of small models without XLA's threaded
    matrix-product library on the CPU (see ``credo._config.compiler_options``).
``program_cache_size``
    How many compiled programs each model keeps (least recently used dropped
    first; see :class:`credo.model.programs.ProgramCache`).
``prefetch_arviz``
    Import arviz in a background thread when the first fit starts, so that
    the import overlaps with compiling (once per process).
``diagnose_draws``
    Draws from the approximation behind the importance-sampling verdict
    (Pareto k-hat) that ``cr.fit`` gives at the end of every fit; 0 turns the
    verdict off. Default 256: one compiled program per model and method, a
    few milliseconds a fit for small models.
``minibatch_device_bytes``
    ``cr.Minibatch`` arrays that are not in memory (a numpy memmap, an HDF5
    or zarr array, any object with ``len()`` and row indexing) are loaded
    onto the device and sliced there when all the arrays of the minibatch
    together take at most this many bytes (default 1 GiB); larger ones
    stream from the host, a few batches at a time (see :func:`credo.Minibatch`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import threading
from pathlib import Path
from typing import Any, Mapping

import jax
import numpy as np
from jax.experimental.compilation_cache import compilation_cache as _jax_cache

from .errors import ConfigError

__all__ = ["config", "settings", "compiler_options", "model_size", "jit", "SMALL_MODEL_SIZE"]


@dataclasses.dataclass(frozen=True)
class Settings:
    """The values :func:`config` reads and writes (see the module doc)."""

    compilation_cache: str | None
    small_model_xla: bool = True
    program_cache_size: int = 64
    prefetch_arviz: bool = True
    diagnose_draws: int = 256
    minibatch_device_bytes: int = 1 << 30


def _default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "credo" / "jax")


def _cache_dir_from_environment() -> str | None:
    setting = os.environ.get("CREDO_COMPILATION_CACHE", "")
    if setting.lower() in ("0", "off", "false", "no"):
        return None
    return setting or _default_cache_dir()


_settings = Settings(compilation_cache=_cache_dir_from_environment())
_cache_owned = False  # whether the JAX cache folder in use is the one credo set


def settings() -> Settings:
    """The settings in force (a frozen value)."""
    return _settings


def _apply_compilation_cache(path: str | None) -> None:
    global _cache_owned
    current = jax.config.jax_compilation_cache_dir
    if current and not _cache_owned:
        return  # the user's own JAX setting wins
    if path is not None:
        try:
            Path(path).mkdir(parents=True, exist_ok=True)
        except OSError:
            path = None  # a read-only home: compile as usual
    if path == current:
        return
    if path is None:
        if _cache_owned:
            jax.config.update("jax_compilation_cache_dir", None)
            _jax_cache.reset_cache()
            _cache_owned = False
        return
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    _jax_cache.reset_cache()
    _cache_owned = True


_UNSET: Any = object()


def config(*, compilation_cache: str | bool | None = _UNSET, small_model_xla: bool = _UNSET,
           program_cache_size: int = _UNSET, prefetch_arviz: bool = _UNSET,
           diagnose_draws: int = _UNSET, minibatch_device_bytes: int = _UNSET) -> Settings:
    """Read or change credo's process-wide settings.

    Called with no argument it returns the settings in force. Each argument
    given replaces one setting for the rest of the process; programs already
    compiled keep the options they were compiled with.

    Parameters
    ----------
    compilation_cache : str, bool or None, optional
        A folder for JAX's persistent compilation cache, ``True`` for
        credo's default folder, ``False`` or ``None`` to turn it off.
    small_model_xla : bool, optional
        Compile small models without XLA's threaded matrix-product library
        on the CPU (faster for them; see ``credo._config.compiler_options``).
    program_cache_size : int, optional
        Compiled programs kept per model (at least 1).
    prefetch_arviz : bool, optional
        Import arviz in the background when the first fit starts.
    diagnose_draws : int, optional
        Draws behind the Pareto k-hat verdict at the end of every fit (0:
        no verdict; otherwise at least 10).
    minibatch_device_bytes : int, optional
        Largest size of a ``cr.Minibatch`` read from a file (or any array
        not in memory) that is loaded onto the device; larger ones stream.

    Returns
    -------
    Settings
        The settings now in force.

    Examples
    --------
    >>> import credo as cr
    >>> cr.config().program_cache_size
    64
    >>> cr.config(program_cache_size=32).program_cache_size
    32
    >>> cr.config(program_cache_size=64).program_cache_size
    64
    """
    global _settings
    changes: dict[str, Any] = {}
    if compilation_cache is not _UNSET:
        if compilation_cache is True:
            compilation_cache = _default_cache_dir()
        elif compilation_cache is False:
            compilation_cache = None
        elif compilation_cache is not None and not isinstance(compilation_cache, (str, os.PathLike)):
            raise ConfigError(f"config: compilation_cache must be a folder, True, False or None; got "
                              f"{compilation_cache!r}.")
        changes["compilation_cache"] = None if compilation_cache is None else os.fspath(compilation_cache)
    for name, value in (("small_model_xla", small_model_xla), ("prefetch_arviz", prefetch_arviz)):
        if value is not _UNSET:
            if not isinstance(value, (bool, np.bool_)):
                raise ConfigError(f"config: {name} must be True or False; got {value!r}.")
            changes[name] = bool(value)
    if program_cache_size is not _UNSET:
        if isinstance(program_cache_size, bool) or not isinstance(program_cache_size, (int, np.integer)) \
                or program_cache_size < 1:
            raise ConfigError(f"config: program_cache_size must be a positive integer; got {program_cache_size!r}.")
        changes["program_cache_size"] = int(program_cache_size)
    if diagnose_draws is not _UNSET:
        if isinstance(diagnose_draws, bool) or not isinstance(diagnose_draws, (int, np.integer)) \
                or not (diagnose_draws == 0 or diagnose_draws >= 10):
            raise ConfigError(f"config: diagnose_draws must be 0 (no verdict) or an integer of at least 10; got "
                              f"{diagnose_draws!r}.")
        changes["diagnose_draws"] = int(diagnose_draws)
    if minibatch_device_bytes is not _UNSET:
        if isinstance(minibatch_device_bytes, bool) or not isinstance(minibatch_device_bytes, (int, np.integer)) \
                or minibatch_device_bytes < 0:
            raise ConfigError(f"config: minibatch_device_bytes must be a non-negative number of bytes; got "
                              f"{minibatch_device_bytes!r}.")
        changes["minibatch_device_bytes"] = int(minibatch_device_bytes)
    if changes:
        _settings = dataclasses.replace(_settings, **changes)
        if "compilation_cache" in changes:
            _apply_compilation_cache(_settings.compilation_cache)
    return _settings


def apply_at_import() -> None:
    """Put the settings read from the environment in force (called once, by ``import credo``)."""
    _apply_compilation_cache(_settings.compilation_cache)


_prefetched = False


def prefetch_arviz() -> None:
    """Import arviz in a background thread, once per process (see the module doc).

    Results are returned as arviz.InferenceData; importing arviz takes about a
    second, which this overlaps with compiling, which does not hold the GIL.
    """
    global _prefetched
    if _prefetched or not _settings.prefetch_arviz or "arviz" in sys.modules:
        return
    _prefetched = True
    threading.Thread(target=_import_arviz, name="credo-import-arviz", daemon=True).start()


def _import_arviz() -> None:
    try:
        import arviz  # noqa: F401
    except Exception:  # pragma: no cover - the foreground import will report it
        pass


#: Models whose size (:func:`model_size`) is at most this get :func:`compiler_options`.
SMALL_MODEL_SIZE = 1 << 20

# XLA:CPU hands matrix products to a library (YNNPACK) that splits them across threads.
_LIBRARY_DOTS_OFF = {"xla_cpu_experimental_ynn_fusion_type": ""}


def model_size(dim: int, data: Any = None, batch_rows: Mapping[str, int] | None = None) -> int:
    """Parameters times the rows of data one evaluation of the log density sees.

    For a neural network this is about the multiply-adds of one evaluation.
    ``batch_rows`` gives the batch size of arrays read in minibatches.
    """
    batch_rows = batch_rows or {}
    if isinstance(data, Mapping):
        rows = [batch_rows.get(name, np.shape(value)[0]) for name, value in data.items() if np.ndim(value) > 0]
    else:
        rows = [np.shape(leaf)[0] for leaf in jax.tree_util.tree_leaves(data) if np.ndim(leaf) > 0]
    return int(dim) * max(rows, default=1)


def compiler_options(size: int) -> dict:
    """XLA options for the compiled programs of a model of this :func:`model_size`.

    On the CPU, XLA hands matrix products to a library that splits each
    product across threads. For a small network the hand-offs cost more than
    the arithmetic. Gradient steps per second with XLA's own code for the
    products, against the library, on two cores: the tutorial's 2-5-5-1
    network on 500 rows (size 20,000) 1.7x; one layer of 50 units on 927 rows
    (the UCI concrete data, size 460,000) 1.8x; on 2,000 rows (size 1e6)
    1.04x; on 4,000 and 7,373 rows (kin8nm, size 3.7e6) 0.80x and 0.87x;
    wide layers of 100-1,000 units 0.83-1.0x. So models up to
    :data:`SMALL_MODEL_SIZE` are compiled without the library. Empty on
    other backends, where this jaxlib does not know the option, and when
    ``config(small_model_xla=False)``.
    """
    if not _settings.small_model_xla or size > SMALL_MODEL_SIZE or not _library_dots_option_known():
        return {}
    return dict(_LIBRARY_DOTS_OFF)


@functools.cache
def _library_dots_option_known() -> bool:
    if jax.default_backend() != "cpu":
        return False
    try:
        probe = jax.jit(lambda x: x + 1, compiler_options=_LIBRARY_DOTS_OFF)
        probe.lower(jax.ShapeDtypeStruct((), np.float32)).compile()
    except Exception:  # an older jax without compiler_options, or a jaxlib without the option
        return False
    return True


def jit(fn, size: int, **kwargs):
    """``jax.jit(fn, **kwargs)`` with the :func:`compiler_options` of a model of this :func:`model_size`."""
    options = compiler_options(size)
    if options:
        kwargs["compiler_options"] = options
    return jax.jit(fn, **kwargs)
