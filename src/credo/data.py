"""Minibatches: ``cr.Minibatch(X, Y, batch_size=50)``.

A minibatch group is a set of arrays with the same number of rows. Each
array becomes a data variable of the model holding the *full* array, so that
outside a fit (NUTS, ``approx.sample``, predictions) the model sees all the
data, and ``cr.set_data`` replaces them like any ``cr.Data``. During a fit the
driver's compiled scan calls :func:`minibatch_fn`'s function once per step:
it draws ``batch_size`` row indices (with replacement, as PyMC does) from the
step's key and takes those rows from every array of the group, so the rows of
X and Y stay paired. With ``total_size=N`` on the likelihood, its log density
is scaled by ``N / batch_size``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .errors import DataError
from .model.core import Data, Model, modelcontext
from .model.variables import DataNode

__all__ = ["Minibatch", "MinibatchNode", "MinibatchGroup", "minibatch_fn"]

# Separates the index stream from the step's ADVI noise (both derive from the step key).
_INDEX_STREAM = 0x6D696E69


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

    def __init__(self, name: str, value: jax.Array, group: MinibatchGroup | None = None):
        super().__init__(name, value)
        self.group = group


def Minibatch(*arrays, batch_size: int, random_seed: int | None = None, names=None, model: Model | None = None):
    """Minibatch inputs: the same ``batch_size`` random rows of every array at each fit step.

    Use the returned nodes in the model in place of ``cr.Data``, and give the
    likelihood ``total_size=len(X)``. The slicing happens inside the compiled
    fit, once per step. Outside a fit the nodes hold the full arrays; after a
    fit, ``cr.set_data({x.name: X_new, y.name: Y_new})`` replaces them (any
    number of rows) for predictions.

    Parameters
    ----------
    *arrays : array_like
        Arrays with the same number of rows (the first dimension).
    batch_size : int
        Rows per step.
    random_seed : int, optional
        Mixed with each step's key to draw the rows (the fit's seed still
        applies: fits with the same seeds draw the same rows).
    names : sequence of str, optional
        Names of the data variables; default ``minibatch<g>_<i>``.

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
    model = modelcontext(model, what="Minibatch(...)")
    if not arrays:
        raise DataError("Minibatch needs at least one array.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise DataError(f"Minibatch: batch_size must be a positive integer; got {batch_size!r}.")
    if random_seed is not None and (isinstance(random_seed, bool) or not isinstance(random_seed, (int, np.integer))):
        raise DataError(f"Minibatch: random_seed must be an int or None; got {type(random_seed).__name__}.")
    values = [np.asarray(model.data_values[a.name]) if isinstance(a, DataNode) else np.asarray(a) for a in arrays]
    for i, value in enumerate(values):
        if value.ndim == 0:
            raise DataError(f"Minibatch: array {i} is a scalar; every array needs rows to draw from.")
    rows = {value.shape[0] for value in values}
    if len(rows) > 1:
        raise DataError(f"Minibatch: the arrays must have the same number of rows to be drawn together; got "
                        f"{[value.shape[0] for value in values]}.")
    group_index = len(model.minibatches)
    if names is None:
        names = [f"minibatch{group_index}_{i}" for i in range(len(values))]
    names = tuple(names)
    if len(names) != len(values):
        raise DataError(f"Minibatch: got {len(names)} names for {len(values)} arrays.")
    group = MinibatchGroup(names, int(batch_size), None if random_seed is None else int(random_seed))
    nodes = []
    for name, value in zip(names, values):
        Data(name, value, model=model)  # validates the name and the values and stores them
        nodes.append(MinibatchNode(name, model.data_values[name], group))
    model.add_minibatch_group(group, nodes)  # the Data nodes, now known as minibatch nodes
    return nodes[0] if len(nodes) == 1 else tuple(nodes)


def batch_rows(groups: tuple) -> dict[str, int]:
    """The batch size of every array read in minibatches, by name."""
    return {name: group.batch_size for group in groups for name in group.names}


def minibatch_fn(groups: tuple):
    """``batch_fn(step_key, data) -> data`` for a fit's compiled step, or None without groups.

    ``groups`` is a model's ``minibatches`` (a tuple of :class:`MinibatchGroup`,
    hashable: it is part of the spec of the compiled fit, so the same groups
    share one compiled program).
    """
    groups = tuple(groups)
    if not groups:
        return None

    def batch_fn(step_key, data):
        data = dict(data)
        stream = jax.random.fold_in(step_key, _INDEX_STREAM)
        for index, group in enumerate(groups):
            rows = {data[name].shape[0] for name in group.names}
            if len(rows) > 1:
                shapes = {name: tuple(data[name].shape) for name in group.names}
                raise DataError(f"the minibatch arrays {shapes} have different numbers of rows: set_data all of a "
                                "Minibatch's arrays together.")
            key = jax.random.fold_in(stream, index)
            if group.seed is not None:
                key = jax.random.fold_in(key, group.seed)
            rows_available = rows.pop()
            chosen = jax.random.randint(key, (group.batch_size,), 0, rows_available)
            for name in group.names:
                data[name] = jnp.take(data[name], chosen, axis=0, mode="clip")
        return data

    return batch_fn
