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

import jax

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


#: Models with at most this many unconstrained parameters get :func:`compiler_options`.
SMALL_MODEL_DIM = 4096

# XLA:CPU hands matrix products to a library (YNNPACK) that splits them across threads.
_LIBRARY_DOTS_OFF = {"xla_cpu_experimental_ynn_fusion_type": ""}


def compiler_options(dim: int) -> dict:
    """XLA options for the compiled programs of a model with ``dim`` parameters.

    On the CPU, XLA hands matrix products to a library that splits each
    product across threads. For a small network the hand-offs cost more than
    the arithmetic: the tutorial's 2-5-5-1 network fits 1.7x as many steps
    per second with XLA's own code for the products (a 2-50-50-1 network on
    500 rows 1.13x; wide layers of 100 units or more run 0-17% faster with the
    library). So models with at most :data:`SMALL_MODEL_DIM` parameters are
    compiled without it. Empty on other backends, and where this jaxlib does
    not know the option.
    """
    if dim > SMALL_MODEL_DIM or not _library_dots_option_known():
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


def jit(fn, dim: int, **kwargs):
    """``jax.jit(fn, **kwargs)`` with the :func:`compiler_options` of a model with ``dim`` parameters."""
    options = compiler_options(dim)
    if options:
        kwargs["compiler_options"] = options
    return jax.jit(fn, **kwargs)


def jit_by_size(fn, **kwargs):
    """``fn`` jitted once per set of :func:`compiler_options`, for module-level
    programs that serve models of any size: ``jit_by_size(fn)(dim)`` is the
    jitted ``fn`` for a model with ``dim`` parameters."""
    variants = {}

    def for_dim(dim: int):
        key = tuple(sorted(compiler_options(dim).items()))
        if key not in variants:
            variants[key] = jit(fn, dim, **kwargs)
        return variants[key]

    return for_dim
