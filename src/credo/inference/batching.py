"""Mapping a function over many draws with bounded memory."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import jax
import numpy as np

__all__ = ["BATCH_ELEMENTS", "batch_size", "map_in_batches"]

#: Upper bound on the elements of the data-sized arrays of one batch of draws.
BATCH_ELEMENTS = 1 << 24


def batch_size(data: Mapping[str, Any], num_draws: int) -> int:
    """Draws per batch, so that one batch holds at most ``BATCH_ELEMENTS`` data-sized values."""
    rows = max((int(np.prod(np.shape(v))) for v in data.values()), default=1)
    return int(max(1, min(num_draws, BATCH_ELEMENTS // max(rows, 1))))


def map_in_batches(fn: Callable, xs: Any, size: int) -> Any:
    """``fn`` over the leading axis of ``xs``: one ``vmap`` when every draw fits in
    one batch (the common case, and the quickest to compile), else ``lax.map`` in
    batches of ``size``."""
    num = jax.tree_util.tree_leaves(xs)[0].shape[0]
    if size >= num:
        return jax.vmap(fn)(xs)
    return jax.lax.map(fn, xs, batch_size=size)
