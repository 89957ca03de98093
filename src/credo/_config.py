"""Process-wide settings credo applies lazily, on first compile.

credo keeps JAX's persistent compilation cache on by default, so that a
model compiled once is loaded from disk in later processes instead of being
compiled again (a fresh process then fits in a fraction of the time). The
cache lives in ``~/.cache/credo/jax`` (or ``$XDG_CACHE_HOME/credo/jax``);
set ``CREDO_COMPILATION_CACHE`` to another folder, or to ``0`` to turn it
off. A cache folder the user already gave JAX is left as it is.
"""

from __future__ import annotations

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
