"""Coordinates and dimensions, with PyMC 5's semantics.

A model holds ``coords`` (dimension name -> tuple of labels) and
``named_vars_to_dims`` (variable name -> tuple of dimension names, ``None``
for an unnamed dimension). A dimension gets its length from its labels; a
``cr.Data`` may introduce a dimension from its shape (labelled ``0..n-1``),
and ``set_data`` may change a dimension's length together with its data:
with new labels (``coords=``) where the labels were given by the user, with
new ``0..n-1`` labels where they were not.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np

from ..errors import CoordsError, ParameterTypeError

__all__ = ["normalize_dims", "coord_labels", "add_coord", "shape_from_dims", "register_dims", "resized_coords"]


def normalize_dims(dims: Any, label: str) -> tuple | None:
    """``dims`` as a tuple of names (``None`` for an unnamed dimension), or None.

    Examples
    --------
    >>> normalize_dims("city", "Normal 'a'")
    ('city',)
    """
    if dims is None:
        return None
    if isinstance(dims, str):
        dims = (dims,)
    if isinstance(dims, (tuple, list)) and all(d is None or (isinstance(d, str) and d) for d in dims):
        return tuple(dims)
    raise ParameterTypeError(f"{label}: dims must be a dimension name or a tuple of names (None for an "
                             f"unnamed dimension); got {dims!r}.")


def coord_labels(name: Any, values: Any = None, length: Any = None) -> tuple:
    """The labels of a dimension, checked: a sequence of distinct hashable labels, or ``0..length-1``.

    Examples
    --------
    >>> coord_labels("city", ["Paris", "Oslo"]), coord_labels("obs", length=3)
    (('Paris', 'Oslo'), (0, 1, 2))
    """
    if not isinstance(name, str) or not name:
        raise CoordsError(f"coordinate names must be non-empty strings; got {name!r}.")
    if values is None:
        if length is None:
            raise CoordsError(f"coordinate {name!r}: give its values (labels) or its length.")
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
            raise CoordsError(f"coordinate {name!r}: length must be a non-negative integer; got {length!r}.")
        return tuple(range(int(length)))
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable) or isinstance(values, Mapping):
        raise CoordsError(f"coordinate {name!r}: values must be a sequence of labels (a list, a tuple, a range, "
                          f"an array); got {type(values).__name__} {values!r}.")
    labels = tuple(v.item() if isinstance(v, np.generic) else v for v in np.asarray(values, dtype=object).ravel()) \
        if isinstance(values, np.ndarray) else tuple(values)
    if not all(isinstance(v, Hashable) for v in labels):
        raise CoordsError(f"coordinate {name!r}: labels must be hashable (numbers, strings); got {labels[:3]}...")
    if len(set(labels)) != len(labels):
        repeated = sorted({repr(v) for v in labels if labels.count(v) > 1})
        raise CoordsError(f"coordinate {name!r}: labels must be distinct; {', '.join(repeated)} repeat.")
    if length is not None and length != len(labels):
        raise CoordsError(f"coordinate {name!r}: {len(labels)} labels but length={length}.")
    return labels


def add_coord(model, name: str, values: Any = None, length: Any = None) -> None:
    """Record a dimension in ``model`` (see :meth:`credo.Model.add_coord`)."""
    labels = coord_labels(name, values, length)
    if name in model.coords:
        if model.coords[name] == labels:
            if values is not None:
                model.labelled_dims.add(name)
            return
        if name in model.labelled_dims or values is None or len(labels) != len(model.coords[name]):
            raise CoordsError(f"coordinate {name!r} is already defined with {len(model.coords[name])} labels "
                              f"{_preview(model.coords[name])}; got {len(labels)} labels {_preview(labels)}.")
    model.coords[name] = labels
    if values is not None:
        model.labelled_dims.add(name)


def _preview(labels: tuple) -> str:
    return repr(labels) if len(labels) <= 4 else f"({', '.join(map(repr, labels[:3]))}, ...)"


def shape_from_dims(model, dims: tuple, label: str) -> tuple:
    """The lengths of ``dims`` (``None`` where a dimension is unnamed); a CoordsError for unknown names."""
    unknown = [d for d in dims if d is not None and d not in model.coords]
    if unknown:
        known = sorted(model.coords) or "none"
        raise CoordsError(f"{label}: the dimensions {unknown} are not coordinates of the model (it has {known}); "
                          "add them with cr.Model(coords={...}) or model.add_coord(name, values).")
    return tuple(None if d is None else len(model.coords[d]) for d in dims)


def register_dims(model, name: str, dims: tuple | None, shape: tuple, label: str, new_dims: bool = False) -> None:
    """Check ``dims`` against a variable's ``shape`` and record them; with ``new_dims`` (Data), unknown
    dimensions are added with the lengths of ``shape``."""
    if dims is None:
        return
    if len(dims) != len(shape):
        raise CoordsError(f"{label}: dims {dims} name {len(dims)} dimensions but its shape {shape} has {len(shape)}.")
    for axis, (dim, length) in enumerate(zip(dims, shape)):
        if dim is None:
            continue
        if dim not in model.coords:
            if not new_dims:
                shape_from_dims(model, (dim,), label)  # raises the error naming the unknown dimension
            continue
        if len(model.coords[dim]) != length:
            raise CoordsError(f"{label}: dimension {dim!r} has {len(model.coords[dim])} labels but axis {axis} of "
                              f"its shape {shape} has length {length}.")
    for dim, length in zip(dims, shape):
        if dim is not None and dim not in model.coords:
            model.coords[dim] = tuple(range(length))
    model.named_vars_to_dims[name] = dims


def resized_coords(model, updates: Mapping[str, Any], coords: Mapping[str, Any] | None, what: str) -> dict:
    """The coords after ``set_data(updates, coords=coords)``, checked; the model is not changed."""
    given = {}
    for dim, values in (coords or {}).items():
        if dim not in model.coords:
            raise CoordsError(f"{what}: coords for {dim!r}, which is not a dimension of the model (it has "
                              f"{sorted(model.coords) or 'none'}).")
        given[dim] = coord_labels(dim, values)
    lengths: dict = {}
    for name, array in updates.items():
        for axis, dim in enumerate(model.named_vars_to_dims.get(name, ())):
            if dim is None:
                continue
            length = int(np.shape(array)[axis])
            if lengths.setdefault(dim, (length, name))[0] != length:
                raise CoordsError(f"{what}: {name!r} gives dimension {dim!r} length {length} but "
                                  f"{lengths[dim][1]!r} gives it length {lengths[dim][0]}.")
    new = {}
    for dim, (length, name) in lengths.items():
        if dim in given:
            if len(given[dim]) != length:
                raise CoordsError(f"{what}: coords for {dim!r} have {len(given[dim])} labels but {name!r} gives it "
                                  f"length {length}.")
            new[dim] = given[dim]
        elif length != len(model.coords[dim]):
            if dim in model.labelled_dims:
                raise CoordsError(f"{what}: {name!r} changes the length of dimension {dim!r} from "
                                  f"{len(model.coords[dim])} to {length}, and {dim!r} has labels: give new ones, "
                                  f"set_data({{...}}, coords={{{dim!r}: [...]}}).")
            new[dim] = tuple(range(length))
    relabelled = {dim: labels for dim, labels in given.items() if dim not in new}
    new.update(relabelled)
    _check_fixed_dims(model, {dim: labels for dim, labels in new.items() if len(labels) != len(model.coords[dim])},
                      what)
    for dim, labels in relabelled.items():
        if len(labels) != len(model.coords[dim]):
            raise CoordsError(f"{what}: coords for {dim!r} have {len(labels)} labels but the dimension has "
                              f"length {len(model.coords[dim])}; set_data the variables of that dimension too.")
    return new


def _check_fixed_dims(model, resized: dict, what: str) -> None:
    """Refuse to resize a dimension that sets the shape of a free variable (its shape cannot change)."""
    for rv in model.free_variables:
        for dim in model.named_vars_to_dims.get(rv.name, ()):
            if dim in resized:
                raise CoordsError(f"{what}: dimension {dim!r} sets the shape of the free variable {rv.name!r}; its "
                                  f"length ({len(model.coords[dim])}) cannot change.")
