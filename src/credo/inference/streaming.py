"""Minibatches streamed from the host: data larger than the device's (or the host's) memory.

A ``cr.Minibatch`` of a numpy memmap, an HDF5 or zarr array (or any object
with ``len()`` and row indexing) too large to load (see
:func:`credo.Minibatch`) is held by the model as
:class:`~credo.model.sources.StreamedRows`. A fit then runs its compiled
calls on *blocks of batches*: before a call of up to ``steps`` steps from
step ``s``, the host computes the rows steps ``s, s+1, ...`` draw (from each
step's key, exactly as the in-device slicing draws them:
:class:`~credo.inference.programs.StreamIndices`), reads those rows,
and puts the block ``(steps, batch_size, ...)`` on the devices (its batch
axis sharded like rows where the batch divides among them); step ``i`` of
the call reads batch ``i``. Only the batches of the steps a call runs are
read (the driver sizes calls by time, often shorter than a block). A
background thread reads the next call's block while the devices work on
the current one, so reading overlaps computing. Which rows a step sees depends only on the fit's key and the
step: the fit is the same whatever the thread's timing, and the same as
the in-device fit of the same data and seed (up to the float reduction
order of the batch's rows).
"""

from __future__ import annotations

import concurrent.futures
from typing import Callable

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from .._config import settings
from ..model.placement import Placement
from .programs import StreamIndices

__all__ = ["BLOCK_BYTES", "block_steps", "BatchStream", "streaming_runner"]

#: Largest block of batches read for one compiled call (two are held: the running call's and the next).
BLOCK_BYTES = 16 << 20


def block_bytes() -> int:
    """Bytes of one block: :data:`BLOCK_BYTES`, or less where ``cr.config().minibatch_device_bytes`` is small:
    the blocks in flight (two, each with its host copy) stay within half of it."""
    return int(max(1, min(BLOCK_BYTES, settings().minibatch_device_bytes // 8)))


def block_steps(model, streamed: tuple, limit: int) -> int:
    """Steps per block: as many as fit in ``block_bytes()`` (at least 1, at most ``limit``)."""
    step_bytes = 0
    for group in model.minibatches:
        for name in group.names:
            if name in streamed:
                value = model.data_values[name]
                step_bytes += group.batch_size * int(np.prod(value.shape[1:], dtype=np.int64)) * value.dtype.itemsize
    return int(max(1, min(limit, block_bytes() // max(step_bytes, 1))))


class BatchStream:
    """Blocks of batches of the streamed minibatch groups, read one call ahead by a background thread.

    Parameters
    ----------
    compiled : CompiledModel
    streamed : tuple of str
        The streamed arrays (whole groups).
    key : jax.Array
        The fit's key: step ``s`` draws its rows from ``fold_in(key, s)``.
    steps : int
        Steps per block.
    placement : Placement or None
        The devices the blocks go to.
    """

    def __init__(self, compiled, streamed: tuple, key: jax.Array, steps: int, placement: Placement | None):
        model = compiled.model
        self.groups = [group for group in model.minibatches if group.names[0] in streamed]
        self.sources = {name: model.data_values[name] for group in self.groups for name in group.names}
        rows = tuple((group.names[0], int(self.sources[group.names[0]].shape[0])) for group in self.groups)
        self._rows_fn = compiled.programs.get(StreamIndices(tuple(model.minibatches), tuple(streamed), rows), compiled)
        self.key = key
        self.steps = int(steps)
        self.placement = placement
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="credo-stream")
        self._pending: tuple[int, concurrent.futures.Future] | None = None

    def _sharding(self, group):
        placement = self.placement
        if placement is None:
            return None
        if group.batch_size % placement.num_devices:
            return placement.replicated
        names = placement.mesh.axis_names
        return NamedSharding(placement.mesh, PartitionSpec(None, names[0] if len(names) == 1 else tuple(names)))

    def load(self, start: int, count: int) -> tuple[int, dict]:
        """``(count, block)``: the block of steps ``start, ..., start + steps - 1`` on the devices, of which the
        first ``count`` steps' rows are read (the others are zeros: the call that takes it runs ``count``
        steps or fewer, and random reads are what streaming costs)."""
        count = int(min(max(count, 1), self.steps))
        steps = np.arange(start, start + self.steps, dtype=np.int32)
        chosen = jax.device_get(self._rows_fn(self.key, steps))
        blocks = {}
        for group in self.groups:
            index = np.asarray(chosen[group.names[0]])[:count]
            sharding = self._sharding(group)
            for name in group.names:
                rows = self.sources[name].read(index)
                if count < self.steps:
                    block = np.zeros((self.steps,) + rows.shape[1:], rows.dtype)
                    block[:count] = rows
                    rows = block
                blocks[name] = jax.device_put(rows) if sharding is None else jax.device_put(rows, sharding)
        return count, blocks

    def blocks(self, start: int, count: int) -> dict:
        """The block from step ``start`` with (at least) ``count`` steps read: the one read ahead if it fits,
        else read now."""
        pending, self._pending = self._pending, None
        if pending is not None:
            if pending[0] == start:
                read, blocks = pending[1].result()
                if read >= min(count, self.steps):
                    return blocks
            else:
                pending[1].cancel()
        return self.load(start, count)[1]

    def prefetch(self, start: int, count: int) -> None:
        """Start reading the block from step ``start`` (``count`` steps of it) in the background."""
        self._pending = (start, self._pool.submit(self.load, start, count))

    def keep(self, start: int, blocks: dict, count: int) -> None:
        """Hold ``blocks`` (read already, ``count`` steps of it) as the block from ``start``."""
        future = concurrent.futures.Future()
        future.set_result((count, blocks))
        self._pending = (start, future)

    def close(self) -> None:
        self._pending = None
        self._pool.shutdown(wait=True, cancel_futures=True)


def streaming_runner(program: Callable, stream: BatchStream) -> Callable:
    """A chunk runner (see :func:`credo.inference.driver.run_chunks`) that adds each call's block of batches to
    its data and reads the next call's block while the devices work."""

    def runner(state, alive, key, data, num_active):
        start, count = int(np.max(np.asarray(state.step))), int(num_active)
        out = program(state, alive, key, dict(data, **stream.blocks(start, count)), num_active)
        # the call runs asynchronously: read the next one's rows while it computes, for a call up to a quarter
        # longer than this one (the driver sizes calls by time; a longer one reads its rows when it comes)
        stream.prefetch(start + count, -(-5 * count // 4))
        return out

    return runner
