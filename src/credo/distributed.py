"""Many processes, one model: each process holds its own rows of the data.

After ``jax.distributed.initialize(...)``, every process builds the same
model and gives its own block of rows wrapped in :func:`rows`, wherever an
array is taken (``cr.Data``, ``observed=``, ``cr.Minibatch``)::

    jax.distributed.initialize(coordinator, num_processes, process_id)
    X_mine, y_mine = load_my_block()
    with cr.Model():
        x = cr.Data("x", cr.distributed.rows(X_mine))
        w = cr.Normal("w", 0, 1, shape=X_mine.shape[1])
        cr.Normal("y", x @ w, 1, observed=cr.distributed.rows(y_mine))
        approx = cr.fit(10_000)

The model's arrays have the global shape (every process's rows, in process
order); the rows stay on their processes and are put together on the
devices (``jax.make_array_from_process_local_data``) when a program runs, so
no host ever holds them all. Programs run on every device of every process
and every process gets the same result. Only process 0 draws progress bars
and writes files (``approx.save``, checkpoints). Every process must make the
same calls in the same order: :func:`rows` itself is a collective (it
exchanges the row counts). The fit of rows spread over processes equals
the single-process fit on all of them up to the order of float additions
(``tests/inference/test_sharding.py`` checks it at 1e-4 relative).

On CPUs the processes' collectives run over gloo: set
``jax.config.update("jax_cpu_collectives_implementation", "gloo")`` before
``jax.distributed.initialize``. Streaming minibatches from the host
(``cr.Minibatch(..., stream=True)``) and distributed rows do not combine
yet: give each process's block of rows in memory.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.experimental import multihost_utils

from .errors import DataError
from .model.placement import DistributedRows, is_main_process

__all__ = ["rows", "DistributedRows", "is_main_process", "process_index", "process_count"]

#: The most trailing dimensions compared between processes.
_MAX_DIMS = 8


def rows(local_rows) -> DistributedRows:
    """This process's rows of an array whose rows are spread over the processes.

    Parameters
    ----------
    local_rows : array_like
        This process's rows (at least one), in the order they take in the
        global array: process 0's rows first, then process 1's, and so on.
        Every process gives the same trailing shape and dtype kind.

    Returns
    -------
    DistributedRows
        Give it to ``cr.Data``, as ``observed=``, to ``cr.Minibatch`` or to
        ``cr.set_data``; its ``shape`` is the global one.

    Examples
    --------
    With one process the rows are all the rows:

    >>> import credo as cr, numpy as np
    >>> block = cr.distributed.rows(np.zeros((5, 2)))
    >>> block.shape, block.counts
    ((5, 2), (5,))
    """
    try:
        local = np.asarray(local_rows)
    except ValueError:
        raise DataError("cr.distributed.rows: the rows must be a numeric array; got a ragged sequence.") from None
    if local.ndim == 0:
        raise DataError("cr.distributed.rows: give an array of rows (at least one dimension); got a scalar.")
    if local.ndim > _MAX_DIMS:
        raise DataError(f"cr.distributed.rows: arrays of at most {_MAX_DIMS} dimensions; got {local.ndim}.")
    described = np.full(2 + _MAX_DIMS, -1, np.int64)
    described[0], described[1] = local.shape[0], local.ndim
    described[2: 1 + local.ndim] = local.shape[1:]
    everyone = np.asarray(multihost_utils.process_allgather(described)).reshape(-1, 2 + _MAX_DIMS) \
        if jax.process_count() > 1 else described[None]
    trailing = {tuple(row[1:]) for row in everyone}
    if len(trailing) > 1:
        shapes = [tuple(int(size) for size in row[2: 1 + row[1]]) for row in everyone]
        raise DataError(f"cr.distributed.rows: the processes' rows have different trailing shapes {shapes}; every "
                        "process must give rows of the same shape.")
    return DistributedRows(local, [int(row[0]) for row in everyone], jax.process_index())


def process_index() -> int:
    """This process's index (0 without ``jax.distributed``).

    Examples
    --------
    >>> import credo as cr
    >>> cr.distributed.process_index()
    0
    """
    return jax.process_index()


def process_count() -> int:
    """How many processes run the model (1 without ``jax.distributed``).

    Examples
    --------
    >>> import credo as cr
    >>> cr.distributed.process_count()
    1
    """
    return jax.process_count()
