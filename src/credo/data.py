"""Minibatches: ``cr.Minibatch(X, Y, batch_size=50)``.

A minibatch group is a set of arrays with the same number of rows. Each
array becomes a data variable of the model holding the *full* array, so that
outside a fit (NUTS, ``approx.sample``, predictions) the model sees all the
data, and ``cr.set_data`` replaces them like any ``cr.Data``. During a fit the
driver's compiled scan calls :func:`minibatch_fn`'s function once per step:
it draws ``batch_size`` row indices (with replacement, as PyMC does) from the
step's key and takes those rows from every array of the group, so the rows of
X and Y stay paired. Separate minibatches with the same ``random_seed``,
batch size and number of rows draw the same rows too (PyMC3's contract).
With ``total_size=N`` on the likelihood, its log density is scaled by
``N / batch_size``.

A minibatch made outside any model (``mx = cr.Minibatch(X, batch_size=50)``
before ``with cr.Model():``, as PyMC allows) joins the model that first
uses it.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from ._config import settings
from .errors import DataError
from .model.arrays import float_dtype
from .model.core import Data, Model, as_data_array
from .model.placement import ROW_BLOCKS, ROW_MASK, block_positions, real_rows, signature_shardings
from .model.sources import RowsElsewhere, StreamedRows, is_row_source
from .model.variables import DataNode

__all__ = ["Minibatch", "MinibatchNode", "MinibatchGroup", "minibatch_fn", "streamed_rows_fn"]

# Separates the index stream from the step's ADVI noise (both derive from the step key).
_INDEX_STREAM = 0x6D696E69
# The stream of seeded groups: equal seeds give equal keys, whatever the group's position.
_SEEDED_STREAM = 0x73656564


class MinibatchGroup(NamedTuple):
    """Arrays whose rows are drawn together.

    Attributes
    ----------
    names : tuple of str
        The data variables of the group.
    batch_size : int
    seed : int or None
        Mixed into the step key to draw the indices.
    """

    names: tuple
    batch_size: int
    seed: int | None


class MinibatchNode(DataNode):
    """A data variable that a fit reads in minibatches (see :func:`Minibatch`).

    Its value and ``shape`` are those of the full array.
    """

    def __init__(self, name: str | None, value: jax.Array, group: MinibatchGroup | None = None,
                 pending: "_PendingMinibatch | None" = None):
        super().__init__(name, value)
        self.group = group
        self._pending = pending

    def adopt(self, model: Model) -> None:
        """Join ``model`` (with the other arrays of its ``cr.Minibatch`` call), if made outside any model."""
        if self._pending is not None and self.name is None:
            self._pending.register(model)


class _PendingMinibatch:
    """The arrays of a ``cr.Minibatch`` call made outside any model, until a model uses one of them."""

    def __init__(self, values: list, batch_size: int, seed: int | None, names):
        self.values = values
        self.batch_size = batch_size
        self.seed = seed
        self.names = names
        self.nodes: list[MinibatchNode] = []

    def register(self, model: Model) -> None:
        _register(model, self.values, self.batch_size, self.seed, self.names, self.nodes)


def Minibatch(*arrays, batch_size: int, random_seed: int | None = None, names=None, model: Model | None = None,
              stream: bool | None = None):
    """Minibatch inputs: the same ``batch_size`` random rows of every array at each fit step.

    Use the returned nodes in the model in place of ``cr.Data``, and give the
    likelihood ``total_size=len(X)``. The slicing happens inside the compiled
    fit, once per step. Outside a fit the nodes hold the full arrays; after a
    fit, ``cr.set_data({x.name: X_new, y.name: Y_new})`` replaces them (any
    number of rows) for predictions.

    Data larger than memory: the arrays may be a numpy memmap, an HDF5
    dataset, a zarr array or any object with ``len()`` and row indexing.
    Up to ``cr.config().minibatch_device_bytes`` (all arrays together,
    default 1 GiB) they are loaded onto the device and sliced there, the
    fastest way: the whole fit runs on the device. Larger, they *stream*:
    the fit's host reads the rows of the next calls' steps (the same rows
    the device would draw: they come from each step's key, so the fit does
    not depend on thread timing) and a background thread fills the next
    block of batches while the device works on the current one. Streaming
    holds two blocks of batches in memory (a block is at most 16 MiB, and at
    most an eighth of ``minibatch_device_bytes``) instead of the data, and costs a host read and a transfer per block:
    its speed is bounded by random reads from the file (or the page cache).
    Outside a fit, programs that need every row at once (NUTS, predictions
    at the training data) ask for ``cr.set_data`` with a test set first;
    ``approx.sample`` leaves out deterministics with a row per observation.

    Parameters
    ----------
    *arrays : array_like
        Arrays with the same number of rows (the first dimension).
    batch_size : int
        Rows per step.
    random_seed : int, optional
        Mixed with each step's key to draw the rows (the fit's seed still
        applies: fits with the same seeds draw the same rows). Separate
        minibatches with the same seed, batch size and number of rows draw
        the same rows, so ``cr.Minibatch(X, batch_size=50, random_seed=1)``
        and ``cr.Minibatch(Y, batch_size=50, random_seed=1)`` pair.
    names : sequence of str, optional
        Names of the data variables; default ``minibatch<g>_<i>``.
    model : Model, optional
        The model (default: the one of the ``with`` block; outside any
        model, the minibatch joins the first model that uses it).
    stream : bool, optional
        Stream the rows from the host (True) or load them onto the device
        (False); by default arrays not in memory stream when larger than
        ``cr.config().minibatch_device_bytes``, the others load.

    Returns
    -------
    MinibatchNode or tuple of MinibatchNode
        One per array (a single node for a single array, as in PyMC).

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> X, Y = np.random.randn(500, 2), np.random.randn(500)
    >>> with cr.Model() as model:
    ...     x, y = cr.Minibatch(X, Y, batch_size=50, random_seed=0)
    ...     w = cr.Normal("w", 0, 1, shape=2)
    ...     obs = cr.Normal("obs", x @ w, 1, observed=y, total_size=len(Y))
    >>> x.shape, x.name
    ((500, 2), 'minibatch0_0')
    """
    if model is None:
        model = Model.get_context(error=False)
    if not arrays:
        raise DataError("Minibatch needs at least one array.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise DataError(f"Minibatch: batch_size must be a positive integer; got {batch_size!r}.")
    if random_seed is not None and (isinstance(random_seed, bool) or not isinstance(random_seed, (int, np.integer))):
        raise DataError(f"Minibatch: random_seed must be an int or None; got {type(random_seed).__name__}.")
    if any(isinstance(a, DataNode) for a in arrays) and model is None:
        raise DataError("Minibatch: a cr.Data array belongs to a model: call Minibatch inside its `with` block.")
    if stream is not None and not isinstance(stream, (bool, np.bool_)):
        raise DataError(f"Minibatch: stream must be True, False or None; got {stream!r}.")
    values = _minibatch_values(arrays, model, stream)
    for i, value in enumerate(values):
        if value.ndim == 0:
            raise DataError(f"Minibatch: array {i} is a scalar; every array needs rows to draw from.")
    rows = [value.shape[0] for value in values]
    if len(set(rows)) > 1:
        raise DataError(f"Minibatch: the arrays must have the same number of rows to be drawn together; got {rows}.")
    if rows[0] == 0:
        raise DataError(f"Minibatch: the arrays have no rows (shape {tuple(values[0].shape)}); there is nothing to "
                        "draw a batch from.")
    if names is not None:
        names = tuple(names)
        if len(names) != len(values):
            raise DataError(f"Minibatch: got {len(names)} names for {len(values)} arrays.")
    seed = None if random_seed is None else int(random_seed)
    nodes: list[MinibatchNode] = []
    if model is None:  # joins the first model that uses it
        pending = _PendingMinibatch(values, int(batch_size), seed, names)
        nodes = [MinibatchNode(None, value, None, pending) for value in values]
        pending.nodes = nodes
    else:
        _register(model, values, int(batch_size), seed, names, nodes)
    return nodes[0] if len(nodes) == 1 else tuple(nodes)


def _minibatch_values(arrays, model: Model | None, stream: bool | None) -> list:
    """The arrays of a minibatch as the model holds them: on the device, or streamed from the host."""
    if stream is None:
        sources = [a for a in arrays if is_row_source(a)]
        stream = bool(sources) and sum(_nbytes(a) for a in arrays) > settings().minibatch_device_bytes
    values = []
    for i, array in enumerate(arrays):
        what = f"Minibatch: array {i}"
        if isinstance(array, DataNode):
            if stream:
                raise DataError(f"{what} is the cr.Data variable {array.name!r}, already in memory: stream the arrays "
                                "themselves (give them to Minibatch directly), or stream=False.")
            values.append(model.data_values[array.name])
        elif stream and isinstance(array, RowsElsewhere):
            raise DataError(f"{what} holds rows spread over processes (cr.distributed.rows): they cannot stream from "
                            "the host; give each process's rows in memory (stream=False).")
        elif stream:
            values.append(as_data_array(StreamedRows(array, _model_dtype(array), what), what))
        elif is_row_source(array):  # small enough: loaded once, sliced on the device
            rows = StreamedRows(array, _model_dtype(array), what)
            values.append(as_data_array(rows.read(np.arange(rows.shape[0])), what))
        else:
            values.append(as_data_array(array, what))
    return values


def _nbytes(array) -> int:
    shape = getattr(array, "shape", None)
    if shape is None:
        return int(np.asarray(array).nbytes) if not is_row_source(array) else len(array) * 8
    return int(np.prod(shape, dtype=np.int64)) * 4


def _model_dtype(array) -> np.dtype:
    """The dtype the model holds ``array``'s values in: the default float, or the default integer for integers."""
    dtype = getattr(array, "dtype", None)
    if dtype is None:
        dtype = np.asarray(array[0]).dtype
    if np.issubdtype(np.dtype(dtype), np.integer):
        return np.dtype(jax.dtypes.canonicalize_dtype(np.int64))
    return float_dtype()


def _register(model: Model, values: list, batch_size: int, seed: int | None, names, nodes: list) -> None:
    """Record a minibatch group in ``model``: each array as a Data variable, then as a minibatch node
    (``nodes`` are filled in, or named and bound if they exist)."""
    if names is None:
        names = tuple(f"minibatch{len(model.minibatches)}_{i}" for i in range(len(values)))
    group = MinibatchGroup(names, batch_size, seed)
    for name, value in zip(names, values):
        Data(name, value, model=model)  # validates the name and stores the values
    if not nodes:
        nodes.extend(MinibatchNode(name, model.data_values[name], group) for name in names)
    for node, name in zip(nodes, names):
        node.name, node.group = name, group
    model.add_minibatch_group(group, nodes)  # the Data nodes, now known as minibatch nodes


def _batch_sharding(block_sharding):
    """The sharding of one step's batch of a block of batches sharded by rows (its second axis)."""
    if block_sharding is None:
        return None
    return NamedSharding(block_sharding.mesh, PartitionSpec(*block_sharding.spec[1:]))


def _sharded_batch(batch: jax.Array, sharding) -> jax.Array:
    """The rows of ``batch`` over the devices of ``sharding`` where they divide evenly among them."""
    if sharding is None or batch.shape[0] % sharding.num_devices:
        return batch
    return jax.lax.with_sharding_constraint(batch, sharding)


def batch_rows(groups: tuple) -> dict[str, int]:
    """The batch size of every array read in minibatches, by name."""
    return {name: group.batch_size for group in groups for name in group.names}


def _group_key(step_key: jax.Array, index: int, group: MinibatchGroup) -> jax.Array:
    """The key a step draws the rows of the ``index``-th group from."""
    stream = jax.random.fold_in(step_key, _INDEX_STREAM)
    if group.seed is None:  # a stream of its own
        return jax.random.fold_in(stream, index)
    # the seed's stream: groups of equal seed, batch size and rows draw the same rows
    return jax.random.fold_in(jax.random.fold_in(stream, _SEEDED_STREAM), group.seed)


def streamed_rows_fn(groups: tuple, streamed: tuple, rows: dict):
    """``rows_fn(key, steps) -> {first name: (len(steps), batch_size)}``: the rows each of ``steps`` draws for
    each streamed group, the same as :func:`minibatch_fn` draws on the device (``rows``: rows by first name)."""
    chosen = [(index, group) for index, group in enumerate(groups) if group.names[0] in streamed]

    def rows_fn(key, steps):
        def one(step):
            step_key = jax.random.fold_in(key, step)
            return {group.names[0]: jax.random.randint(_group_key(step_key, index, group), (group.batch_size,), 0,
                                                       rows[group.names[0]])
                    for index, group in chosen}

        return jax.vmap(one)(steps)

    return rows_fn


def minibatch_fn(groups: tuple, signature: tuple = (), streamed: tuple = ()):
    """``batch_fn(step_key, data, index) -> data`` for a fit's compiled step, or None without groups.

    ``groups`` is a model's ``minibatches`` (a tuple of :class:`MinibatchGroup`,
    hashable: it is part of the spec of the compiled fit, so the same groups
    share one compiled program). ``signature``, the data's
    :func:`~credo.model.programs.data_signature`, says which arrays are
    sharded over devices: the rows of a batch are then sharded the same way
    where the batch size divides among the devices. Where the rows were
    padded to share them evenly (:mod:`credo.model.placement`), the indices
    are drawn among the real rows only, exactly as on one device. The
    arrays of ``streamed`` groups arrive as blocks of batches read by the
    host (:func:`streamed_rows_fn`), one per step of the call: step
    ``index`` of the call takes its batch from the block.
    """
    groups = tuple(groups)
    if not groups:
        return None
    shardings = signature_shardings(signature)

    def batch_fn(step_key, data, step_index=0):
        data = dict(data)
        for index, group in enumerate(groups):
            if group.names[0] in streamed:
                for name in group.names:
                    data[name] = _sharded_batch(data[name][step_index], _batch_sharding(shardings.get(name)))
                continue
            rows = {data[name].shape[0] for name in group.names}
            if len(rows) > 1:
                shapes = {name: tuple(data[name].shape) for name in group.names}
                raise DataError(f"the minibatch arrays {shapes} have different numbers of rows: set_data all of a "
                                "Minibatch's arrays together.")
            key = _group_key(step_key, index, group)
            rows_available = rows.pop()
            padded = ROW_MASK in data and rows_available == data[ROW_MASK].shape[0]
            if padded:  # the same draws as on one device, then where those rows sit
                chosen = jax.random.randint(key, (group.batch_size,), 0, real_rows(data))
                chosen = block_positions(chosen, data[ROW_BLOCKS])
            else:
                chosen = jax.random.randint(key, (group.batch_size,), 0, rows_available)
            for name in group.names:
                data[name] = _sharded_batch(jnp.take(data[name], chosen, axis=0, mode="clip"), shardings.get(name))
        return data

    return batch_fn
