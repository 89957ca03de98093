"""Process-wide settings credo applies lazily, on first compile.

credo keeps JAX's persistent compilation cache on by default, so that a
model compiled once is loaded from disk in later processes instead of being
compiled again (a fresh process then fits in a fraction of the time). The
cache lives in ``~/.cache/credo/jax`` (or ``$XDG_CACHE_HOME/credo/jax``);
set ``CREDO_COMPILATION_CACHE`` to another folder, or to ``0`` to turn it
off. A cache folder the user already gave JAX is left as it is.

Programs of small models are compiled with XLA options of their own (see
:func:`compiler_options`).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from pathlib import Path
from typing import Any, Mapping

import jax
import numpy as np

_applied = False


def _cache_dir() -> str | None:
    setting = os.environ.get("CREDO_COMPILATION_CACHE", "")
    if setting.lower() in ("0", "off", "false", "no"):
        return None
    if setting:
        return setting
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "credo" / "jax")


def apply_defaults() -> None:
    """Turn on the persistent compilation cache once per process (see module doc)."""
    global _applied
    if _applied:
        return
    _applied = True
    path = _cache_dir()
    if path is None or jax.config.jax_compilation_cache_dir:
        return
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # a read-only home: compile as usual
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def prefetch_arviz() -> None:
    """Import arviz in a background thread while a fit compiles and runs.

    Results are returned as arviz.InferenceData; importing arviz takes about a
    second, which this overlaps with work that does not hold the GIL.
    """
    if "arviz" in sys.modules:
        return
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
    other backends, and where this jaxlib does not know the option.
    """
    if size > SMALL_MODEL_SIZE or not _library_dots_option_known():
        return {}
    return dict(_LIBRARY_DOTS_OFF)


@functools.cache
def _library_dots_option_known() -> bool:
    if jax.default_backend() != "cpu":
        return False
    apply_defaults()
    try:
        jax.jit(lambda x: x + 1, compiler_options=_LIBRARY_DOTS_OFF).lower(jax.numpy.zeros(())).compile()
    except Exception:  # an older jax without compiler_options, or a jaxlib without the option
        return False
    return True


def jit(fn, size: int, **kwargs):
    """``jax.jit(fn, **kwargs)`` with the :func:`compiler_options` of a model of this :func:`model_size`."""
    options = compiler_options(size)
    if options:
        kwargs["compiler_options"] = options
    return jax.jit(fn, **kwargs)


def jit_by_size(fn, **kwargs):
    """``fn`` jitted once per set of :func:`compiler_options`, for module-level
    programs that serve models of any size: ``jit_by_size(fn)(size)`` is the
    jitted ``fn`` for a model of this :func:`model_size`."""
    variants = {}

    def for_size(size: int):
        key = tuple(sorted(compiler_options(size).items()))
        if key not in variants:
            variants[key] = jit(fn, size, **kwargs)
        return variants[key]

    return for_size
