"""Data a model holds by reference: rows that are not in this process's memory as one array.

Two kinds: :class:`~credo.model.placement.DistributedRows` (each process of
a multi-process run holds its own rows) and :class:`StreamedRows` (rows read
from a numpy memmap, an HDF5 or zarr array, or any object with ``__len__``
and row indexing, a few batches at a time: see :func:`credo.Minibatch`).
Both stand in for the array in ``model.data_values`` with its global
``shape`` and ``dtype``; the checks a model makes of its data read a
``sample()`` of the rows instead of all of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DataError

__all__ = ["RowsElsewhere", "StreamedRows", "is_row_source", "SAMPLE_ROWS"]

#: Rows read from a streamed source for the checks of a model and as a stand-in batch.
SAMPLE_ROWS = 256


class RowsElsewhere:
    """Base of the data held by reference: ``shape``, ``dtype``, ``ndim``, ``len()`` and a ``sample()`` of rows.

    ``numpy.asarray`` of one is an error: there is no whole array here.
    """

    __slots__ = ()

    @property
    def shape(self) -> tuple:  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    @property
    def dtype(self) -> np.dtype:  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def sample(self) -> np.ndarray:  # pragma: no cover - defined by subclasses
        """Some of the rows, in memory: what checks of the data's values read."""
        raise NotImplementedError

    def __array__(self, *args, **kwargs):
        raise DataError(f"{self!r} holds its rows elsewhere: there is no whole array in memory here.")


def is_row_source(value: Any) -> bool:
    """Whether ``value`` is an array that streams rather than loads: not an in-memory numpy or JAX array, a
    list or a number, but a numpy memmap or any object with ``__len__``, ``shape`` or row indexing
    (an HDF5 dataset, a zarr array)."""
    if isinstance(value, np.memmap):
        return True
    if isinstance(value, (np.ndarray, list, tuple, int, float, RowsElsewhere)) or hasattr(value, "__jax_array__"):
        return False
    if type(value).__module__.startswith(("jax", "jaxlib")):
        return False
    return hasattr(value, "__len__") and hasattr(value, "__getitem__")


def _trailing_shape(source: Any, first: np.ndarray) -> tuple:
    shape = getattr(source, "shape", None)
    return tuple(shape[1:]) if shape is not None else tuple(first.shape)


class StreamedRows(RowsElsewhere):
    """Rows read from ``source`` when a fit asks for them (see :func:`credo.Minibatch`).

    Parameters
    ----------
    source : numpy memmap, HDF5 dataset, zarr array, or any object with ``__len__`` and row indexing
    dtype : numpy dtype
        What the rows are converted to when read (the model's float or integer type).
    what : str
        Names the array in messages.

    Examples
    --------
    >>> rows = StreamedRows(np.arange(10.0).reshape(5, 2), np.float32, "x")
    >>> rows.shape, rows.read(np.array([4, 0, 4]))[:, 0]
    ((5, 2), array([8., 0., 8.], dtype=float32))
    """

    __slots__ = ("source", "_dtype", "_shape", "_sample", "what")

    def __init__(self, source: Any, dtype, what: str):
        self.source = source
        self.what = what
        try:
            rows = len(source)
        except TypeError:
            raise DataError(f"{what}: a streamed array needs len(); got {type(source).__name__}.") from None
        if rows < 1:
            raise DataError(f"{what}: the array has no rows; there is nothing to draw a batch from.")
        first = np.asarray(source[0])
        self._dtype = np.dtype(dtype)
        self._shape = (int(rows),) + _trailing_shape(source, first)
        self._sample = self.read(np.arange(min(rows, SAMPLE_ROWS)))

    @property
    def shape(self) -> tuple:
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def nbytes(self) -> int:
        return int(np.prod(self._shape, dtype=np.int64)) * self._dtype.itemsize

    def sample(self) -> np.ndarray:
        return self._sample

    def read(self, index: np.ndarray) -> np.ndarray:
        """The rows ``index`` (any order, repeats allowed), converted to ``dtype``.

        Each distinct row is read once, in increasing order (what HDF5
        needs, and the fastest order on disk).
        """
        index = np.asarray(index, np.int64)
        unique, inverse = np.unique(index, return_inverse=True)
        rows = _read_sorted(self.source, unique)
        if rows.shape[1:] != self._shape[1:] and len(unique):
            raise DataError(f"{self.what}: rows of shape {rows.shape[1:]} were read; the array's rows have shape "
                            f"{self._shape[1:]}.")
        return np.asarray(rows, self._dtype)[inverse.reshape(index.shape)]

    def __repr__(self) -> str:
        return f"<StreamedRows {self.what}: {self._shape} {self._dtype} from {type(self.source).__name__}>"


def _read_sorted(source: Any, index: np.ndarray) -> np.ndarray:
    """Rows ``index`` (sorted, distinct) of ``source``: one fancy index where the source takes one."""
    if isinstance(source, np.ndarray):
        return np.take(source, index, axis=0)
    oindex = getattr(source, "oindex", None)  # zarr
    if oindex is not None:
        return np.asarray(oindex[index])
    try:
        return np.asarray(source[index])
    except (TypeError, IndexError, ValueError, KeyError):
        return np.stack([np.asarray(source[int(i)]) for i in index]) if len(index) else np.zeros((0,))
