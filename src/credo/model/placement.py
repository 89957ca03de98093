"""Where the data of a compiled program live: on one device, or row by row over many devices and processes.

A model's data are the arguments of its compiled programs (never constants
in them), so spreading a program over several devices is a matter of where
those arguments are put. :func:`place_data` puts them for a
:class:`Placement` (a ``jax.sharding.Mesh``): the *rows* of the data (the
arrays whose first dimension is the observations') are sharded over every
device of the mesh, every other array is replicated, and ``jax.jit`` compiles
each program for those shardings, so each device computes the per-row terms
of its own rows and XLA adds the devices' partial sums. The shardings are
part of each program's spec (:func:`credo.model.programs.data_signature`);
the algorithms never see them.

Rows that do not divide evenly among the devices are padded with copies of
the last real row (values inside every support, so nothing turns NaN) and
two entries join the data: :data:`ROW_MASK`, True on real rows (sharded like
the rows), and :data:`ROW_BLOCKS`, the ``(start, count)`` of each block of
real rows (one block on one host, one per process on many). The log density
leaves the padded rows out of every likelihood and potential (``jnp.where``:
they add exactly zero, to the value and to the gradient), ``total_size``
scales by the real rows, minibatches draw real rows only, and outputs with
a row per observation (predictive draws, log-likelihoods, deterministics)
are cut back to the real rows on the host (:meth:`PlacedData.cut`).

With one device (and one process) nothing here applies: the data go to the
programs as they are, which is today's path and speed. Rows that would
need padding while a free variable has a dimension as long as the rows (one
value per row, which padded rows would not match) are not sharded: every
device holds them whole.

Many processes (after ``jax.distributed.initialize``): each process holds
its own block of rows as a :class:`DistributedRows` (made by
:func:`credo.distributed.rows`), and :func:`place_data` assembles the global
arrays with ``jax.make_array_from_process_local_data``; process ``p``'s rows
go to its own devices, padded to the same block size on every process.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..errors import DataError
from .sources import RowsElsewhere, StreamedRows

__all__ = [
    "ROW_MASK", "ROW_BLOCKS", "RESERVED_PREFIX", "ROW_AXIS", "Placement", "placement_for", "RowLayout",
    "PlacedData", "place_data", "row_names", "DistributedRows", "host_values", "shape_structs",
    "masked_rows", "real_rows", "likelihood_scale_rows", "block_positions", "signature_shardings", "to_host",
    "is_main_process", "streamed_names", "single_device_description",
]

#: The data entry holding True on real rows and False on padded ones (present only where rows are padded).
ROW_MASK = "__credo_row_mask__"
#: The data entry holding the ``(start, count)`` of each block of real rows (with :data:`ROW_MASK`).
ROW_BLOCKS = "__credo_row_blocks__"
#: Names starting with this are credo's own data entries; no variable may take one.
RESERVED_PREFIX = "__credo_"
#: The name of the mesh axis of a :class:`Placement` made from a list of devices.
ROW_AXIS = "rows"


# -- placements ---------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Placement:
    """The devices a program's rows are sharded over: a ``jax.sharding.Mesh`` (rows over all its axes).

    Attributes
    ----------
    mesh : jax.sharding.Mesh
    """

    mesh: Mesh

    @property
    def devices(self) -> list:
        return list(self.mesh.devices.flat)

    @property
    def num_devices(self) -> int:
        return int(self.mesh.devices.size)

    @property
    def num_processes(self) -> int:
        return len({device.process_index for device in self.devices})

    @property
    def row_sharding(self) -> NamedSharding:
        """Rows (the first dimension) split over every device of the mesh."""
        names = self.mesh.axis_names
        return NamedSharding(self.mesh, PartitionSpec(names[0] if len(names) == 1 else tuple(names)))

    @property
    def replicated(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec())

    def describe(self) -> dict:
        """What results record: how many devices and processes, and of which kind."""
        devices = self.devices
        return {"devices": len(devices), "processes": self.num_processes, "platform": devices[0].platform,
                "device_kind": devices[0].device_kind}


def single_device_description() -> dict:
    """What results record for a program run on one device (the default one)."""
    device = jax.devices()[0]
    return {"devices": 1, "processes": 1, "platform": device.platform, "device_kind": device.device_kind}


def placement_for(devices: Any = None, what: str = "devices") -> Placement | None:
    """The :class:`Placement` that ``devices=`` asks for, or None for one device (today's path).

    ``None``: every device JAX sees (every process's, after
    ``jax.distributed.initialize``), or None where there is only one; an int:
    the first that many; a sequence of ``jax.Device``; or a
    ``jax.sharding.Mesh`` (rows over all its axes).

    Examples
    --------
    >>> placement_for(1) is None
    True
    """
    if devices is None:
        devices = jax.devices()
    elif isinstance(devices, Mesh):
        return None if devices.devices.size == 1 and jax.process_count() == 1 else Placement(devices)
    elif isinstance(devices, (int, np.integer)) and not isinstance(devices, bool):
        available = jax.devices()
        if not 1 <= devices <= len(available):
            raise DataError(f"{what}: asked for {devices} devices; JAX sees {len(available)} "
                            f"({available[0].platform}). Give a number from 1 to {len(available)}.")
        devices = available[: int(devices)]
    elif isinstance(devices, Placement):
        return devices
    elif not isinstance(devices, (list, tuple)) or not devices or \
            not all(isinstance(device, jax.Device) for device in devices):
        raise DataError(f"{what}: give None (every device), a number of devices, a list of jax devices or a "
                        f"jax.sharding.Mesh; got {devices!r}.")
    devices = list(devices)
    if len(set(devices)) != len(devices):
        raise DataError(f"{what}: a device is listed twice in {devices}.")
    if len(devices) == 1 and jax.process_count() == 1:
        return None
    return Placement(Mesh(np.array(devices), (ROW_AXIS,)))


def is_main_process() -> bool:
    """Whether this is process 0 (the one that draws progress bars and writes files), or the only one."""
    return jax.process_index() == 0


# -- rows held by several processes -------------------------------------------------------------------------------
class DistributedRows(RowsElsewhere):
    """This process's block of the rows of an array spread over the processes of a multi-process run.

    Made by :func:`credo.distributed.rows`; the model holds it in place of
    the array. ``shape`` is the global one (every process's rows), ``local``
    this process's rows, ``counts`` the rows of each process in process
    order. The rows are put together on the devices when a program runs
    (:func:`~credo.model.placement.place_data`); they are never gathered on one host.
    """

    __slots__ = ("local", "counts", "process")

    def __init__(self, local: np.ndarray, counts: Sequence[int], process: int):
        self.local = local
        self.counts = tuple(int(count) for count in counts)
        self.process = int(process)

    @property
    def rows(self) -> int:
        return sum(self.counts)

    @property
    def shape(self) -> tuple:
        return (self.rows,) + tuple(self.local.shape[1:])

    @property
    def dtype(self):
        return self.local.dtype

    def sample(self) -> np.ndarray:
        """This process's rows."""
        return self.local

    def with_local(self, local: np.ndarray) -> "DistributedRows":
        """The same rows held in another form (converted, checked) on this process."""
        return DistributedRows(np.asarray(local), self.counts, self.process)

    def __array__(self, *args, **kwargs):
        raise DataError(f"these {self.rows} rows are spread over {len(self.counts)} processes: there is no whole "
                        "array on this host. credo's programs assemble them on the devices; read this process's "
                        "block as .local.")

    def __repr__(self) -> str:
        return (f"<DistributedRows: rows {sum(self.counts[: self.process])}..{sum(self.counts[: self.process + 1])} "
                f"of {self.shape} on process {self.process} of {len(self.counts)}>")


def host_values(value: Any) -> np.ndarray:
    """The values of a data array this host holds: all of them, this process's rows of distributed ones, the
    first rows of streamed ones (see :mod:`credo.model.sources`)."""
    return value.sample() if isinstance(value, RowsElsewhere) else np.asarray(value)


def shape_structs(data: Mapping[str, Any]) -> dict:
    """``data`` with arrays held elsewhere as ``jax.ShapeDtypeStruct`` of their global shape (for ``eval_shape``)."""
    return {name: jax.ShapeDtypeStruct(value.shape, value.dtype) if isinstance(value, RowsElsewhere) else value
            for name, value in data.items()}


def streamed_names(data: Mapping[str, Any]) -> tuple:
    """The arrays of ``data`` whose rows stream from the host (see :func:`credo.Minibatch`)."""
    return tuple(sorted(name for name, value in data.items() if isinstance(value, StreamedRows)))


# -- which rows, and where --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RowLayout:
    """Where the real rows sit among the padded rows of the placed data.

    Attributes
    ----------
    rows : int
        Real rows.
    padded : int
        Rows of every placed row array (a multiple of the devices).
    blocks : tuple of (int, int)
        ``(start, count)`` of each block of real rows, in order.
    names : tuple of str
        The row arrays.
    """

    rows: int
    padded: int
    blocks: tuple
    names: tuple

    @property
    def is_padded(self) -> bool:
        return self.padded != self.rows

    def positions(self) -> np.ndarray:
        """Where each real row sits, in order."""
        return np.concatenate([np.arange(start, start + count) for start, count in self.blocks])


class PlacedData(NamedTuple):
    """The data as a program receives them, and how to read its outputs back.

    Attributes
    ----------
    arrays : dict
        The program's data argument.
    layout : RowLayout or None
        Where the real rows are (None: rows not sharded).
    placement : Placement or None
    """

    arrays: dict
    layout: RowLayout | None
    placement: Placement | None

    def cut(self, values: Mapping[str, Any], axis: int = 1) -> dict:
        """``values`` on the host, each array with a row per padded row along ``axis`` cut back to the real rows."""
        values = to_host(dict(values))
        layout = self.layout
        if layout is None or not layout.is_padded:
            return values
        positions = layout.positions()
        return {name: np.take(value, positions, axis=axis)
                if np.ndim(value) > axis and np.shape(value)[axis] == layout.padded else value
                for name, value in values.items()}

    def describe(self) -> dict:
        return single_device_description() if self.placement is None else self.placement.describe()


def row_names(model, data: Mapping[str, Any]) -> tuple[tuple, int]:
    """``(names, rows)``: the data arrays that hold a row per observation, and how many rows.

    Distributed arrays where there are any; else the rows of the minibatch
    arrays where there are some; else the longest first dimension of the
    observed data. Every data array with that many rows is a row array.
    """
    distributed = sorted(name for name, value in data.items() if isinstance(value, DistributedRows))
    if distributed:
        counts = {data[name].counts for name in distributed}
        if len(counts) > 1:
            found = {name: data[name].counts for name in distributed}
            raise DataError(f"the distributed arrays hold different rows on the processes: {found}. Every array given "
                            "with cr.distributed.rows must hold the same rows (one per observation).")
        rows = data[distributed[0]].rows
        whole = [name for name, value in data.items()
                 if name not in distributed and np.ndim(value) >= 1 and np.shape(value)[0] == rows]
        if whole:
            raise DataError(f"{whole} have the {rows} rows of the distributed arrays but were given whole: give every "
                            "array with a row per observation as cr.distributed.rows(this_process_rows).")
        return tuple(distributed), rows
    groups = [name for group in model.minibatches for name in group.names if name in data]
    candidates = groups or [rv.observed.name for rv in model.observed_variables if rv.observed.name in data]
    rows = max((np.shape(data[name])[0] for name in candidates if np.ndim(data[name]) >= 1), default=0)
    if rows == 0:
        return (), 0
    return tuple(sorted(name for name, value in data.items()
                        if np.ndim(value) >= 1 and np.shape(value)[0] == rows)), int(rows)


def _other_lengths(model, data: Mapping[str, Any], names: Sequence[str]) -> set:
    """Lengths the padded rows must not take, so that any array with that many rows is a row array."""
    lengths = {int(np.shape(value)[0]) for name, value in data.items() if name not in names and np.ndim(value) >= 1}
    lengths |= {int(size) for rv in model.free_variables for size in rv.shape}
    lengths |= {int(group.batch_size) for group in model.minibatches}
    return lengths


def _padded(rows: int, multiple: int, avoid: set) -> int:
    padded = -(-rows // multiple) * multiple
    while padded != rows and padded in avoid:
        padded += multiple
    return padded


def _unsafe_to_pad(model, layout: RowLayout) -> bool:
    """Whether a free variable may have one value per row (a dimension as long as the rows): padded rows would
    not match it, so such rows are not padded (they stay whole on every device)."""
    return layout.is_padded and layout.rows > 1 and any(layout.rows in rv.shape for rv in model.free_variables)


def _layout(model, data: Mapping[str, Any], names: tuple, rows: int, placement: Placement) -> RowLayout:
    avoid = _other_lengths(model, data, names)
    value = data[names[0]]
    if not isinstance(value, DistributedRows):
        layout = RowLayout(rows, _padded(rows, placement.num_devices, avoid), ((0, rows),), names)
    else:
        processes = [device.process_index for device in placement.devices]
        order = sorted(set(processes))
        local = placement.num_devices // len(order)
        expected = [process for process in order for _ in range(local)]
        if processes != expected or order != list(range(len(value.counts))):
            raise DataError(f"distributed rows need a mesh of every process's devices, process by process, the same "
                            f"number on each; the mesh's devices belong to processes {processes}.")
        if min(value.counts) < 1:
            raise DataError(f"every process must hold at least one row of the distributed arrays; they hold "
                            f"{list(value.counts)}.")
        block = _padded(max(value.counts), local, {length // len(order) for length in avoid
                                                   if length % len(order) == 0})
        layout = RowLayout(rows, block * len(order), tuple((p * block, count) for p, count in enumerate(value.counts)),
                           names)
        if _unsafe_to_pad(model, layout):
            raise DataError(f"a free variable has a dimension of {rows}, as many as the rows spread over the processes: "
                            f"the rows are padded to {layout.padded} to share them evenly among the devices, which a "
                            "variable with one value per row would not match. Give every process the same number "
                            "of rows, a multiple of its devices.")
    return layout


def _pad_rows(values: np.ndarray, rows: int) -> np.ndarray:
    """``values`` with copies of its last row appended up to ``rows`` rows."""
    missing = rows - values.shape[0]
    if missing <= 0:
        return values
    return np.concatenate([values, np.repeat(values[-1:], missing, axis=0)])


def _place_rows(value: Any, layout: RowLayout, placement: Placement) -> jax.Array:
    sharding = placement.row_sharding
    if isinstance(value, DistributedRows):
        block = layout.padded // placement.num_processes
        local = _pad_rows(np.asarray(value.local), block)
        return jax.make_array_from_process_local_data(sharding, local, (layout.padded,) + tuple(value.shape[1:]))
    if not layout.is_padded:
        return jax.device_put(value, sharding)
    return jax.device_put(_pad_rows(np.asarray(value), layout.padded), sharding)


def _mask(layout: RowLayout, placement: Placement, distributed: DistributedRows | None) -> jax.Array:
    if distributed is None:
        return jax.device_put(np.arange(layout.padded) < layout.rows, placement.row_sharding)
    block = layout.padded // placement.num_processes
    local = np.arange(block) < distributed.counts[distributed.process]
    return jax.make_array_from_process_local_data(placement.row_sharding, local, (layout.padded,))


def place_data(model, data: Mapping[str, Any], placement: Placement | None, stand_in: bool = False) -> PlacedData:
    """``data`` put where a program on ``placement`` reads it (see the module doc).

    Arrays that stream from the host (:class:`~credo.model.sources.StreamedRows`)
    have no whole value to place: with ``stand_in`` their first rows stand in
    for them (for programs that need only the data's shapes, or whose row
    outputs the caller drops), else a :class:`~credo.errors.DataError` says
    what to do.

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model() as model:
    ...     y = cr.Normal("y", 0, 1, observed=np.zeros(5))
    >>> place_data(model, model.data_values, None).layout is None
    True
    """
    data = dict(data)
    streamed = streamed_names(data)
    if streamed and not stand_in:
        raise DataError(f"{list(streamed)} stream their rows from the host ({data[streamed[0]].shape[0]} rows, read "
                        "a batch at a time by a fit): this needs every row at once. cr.set_data new values of them "
                        "(e.g. a test set) first.")
    for name in streamed:
        data[name] = data[name].sample()
    distributed = [name for name, value in data.items() if isinstance(value, DistributedRows)]
    if placement is None:
        if distributed and jax.process_count() > 1:
            raise DataError(f"{distributed} are spread over {jax.process_count()} processes: run on the devices of "
                            "every process (devices=None).")
        for name in distributed:  # one process holds every row
            data[name] = jax.device_put(data[name].local)
        return PlacedData(data, None, None)
    names, rows = row_names(model, data)
    if not names:
        return PlacedData({name: jax.device_put(value, placement.replicated) for name, value in data.items()},
                          None, placement)
    layout = _layout(model, data, names, rows, placement)
    if _unsafe_to_pad(model, layout):
        return PlacedData({name: jax.device_put(value, placement.replicated) for name, value in data.items()},
                          None, placement)
    arrays = {name: _place_rows(value, layout, placement) if name in names
              else jax.device_put(value, placement.replicated) for name, value in data.items()}
    if layout.is_padded:
        arrays[ROW_MASK] = _mask(layout, placement, data[distributed[0]] if distributed else None)
        arrays[ROW_BLOCKS] = jax.device_put(np.asarray(layout.blocks, np.int32), placement.replicated)
    return PlacedData(arrays, layout, placement)


def to_host(values: Any) -> Any:
    """``values`` as numpy arrays on this host, gathering rows that other processes hold."""
    def one(value):
        if isinstance(value, jax.Array) and not value.is_fully_addressable and not value.is_fully_replicated:
            return np.asarray(multihost_utils.process_allgather(value, tiled=True))
        return np.asarray(value)

    return jax.tree_util.tree_map(one, values)


# -- inside the programs ------------------------------------------------------------------------------------------
def masked_rows(value: jax.Array, data: Mapping[str, Any]) -> jax.Array:
    """``value`` with its padded rows set to zero, where ``value`` has a row per padded row."""
    mask = data.get(ROW_MASK)
    if mask is None or jnp.ndim(value) == 0 or jnp.shape(value)[0] != mask.shape[0]:
        return value
    return jnp.where(jnp.reshape(mask, mask.shape + (1,) * (jnp.ndim(value) - 1)), value, 0)


def real_rows(data: Mapping[str, Any]):
    """The real rows of placed data (traced), or None where rows are not padded."""
    blocks = data.get(ROW_BLOCKS)
    return None if blocks is None else jnp.sum(blocks[:, 1])


def likelihood_scale_rows(total_size, observed_shape: tuple, data: Mapping[str, Any]):
    """``total_size / rows`` for each scaled dimension, with the real rows for the first where rows are padded."""
    if total_size is None:
        return 1.0
    mask = data.get(ROW_MASK)
    padded = mask is not None and len(observed_shape) > 0 and observed_shape[0] == mask.shape[0]
    sizes = (total_size,) if isinstance(total_size, int) else total_size
    scale = 1.0
    for dim, size in enumerate(sizes):
        if size is not None and dim < len(observed_shape) and observed_shape[dim] > 0:
            scale = scale * (size / (real_rows(data) if dim == 0 and padded else observed_shape[dim]))
    return scale


def block_positions(index: jax.Array, blocks: jax.Array) -> jax.Array:
    """Where the real rows numbered ``index`` sit among the padded rows (``blocks``: ``(start, count)``)."""
    counts = blocks[:, 1]
    ends = jnp.cumsum(counts)
    block = jnp.searchsorted(ends, index, side="right")
    return blocks[block, 0] + index - (ends[block] - counts[block])


def signature_shardings(signature: tuple) -> dict:
    """``{name: sharding}`` of the arrays of a data signature placed on several devices."""
    return {entry[0]: entry[3] for entry in signature if len(entry) > 3}
