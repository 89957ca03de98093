"""Draws to arviz.InferenceData, and random seeds to JAX keys."""

from __future__ import annotations

import functools
import types
from typing import Mapping, Sequence

import jax
import numpy as np

from .._version import __version__
from ..model.sources import RowsElsewhere

__all__ = ["to_inference_data", "as_key", "inference_data_class", "variable_dims", "observed_and_constant_data",
           "devices_attrs", "SAMPLE_GROUPS"]


def as_key(random_seed) -> jax.Array:
    """A JAX PRNG key from an int, a key, or None (a fresh seed from numpy's global state)."""
    if random_seed is None:
        random_seed = int(np.random.randint(0, 2**31 - 1))
    if isinstance(random_seed, jax.Array):
        if jax.dtypes.issubdtype(random_seed.dtype, jax.dtypes.prng_key):
            return random_seed
        return jax.random.wrap_key_data(random_seed)
    if isinstance(random_seed, (int, np.integer)):
        seed = int(random_seed)
        if 0 <= seed < 2**32 and jax.config.jax_default_prng_impl == "threefry2x32":
            # The key jax.random.key(seed) makes, without compiling its seeding program.
            return jax.random.wrap_key_data(np.array([0, seed], np.uint32))
        return jax.random.key(seed)
    raise TypeError(f"random_seed must be an int, a JAX key or None; got {type(random_seed).__name__}.")


#: Groups whose arrays are shaped ``(chain, draw, ...)``; the others hold plain arrays.
SAMPLE_GROUPS = ("posterior", "prior", "posterior_predictive", "prior_predictive", "sample_stats", "log_likelihood",
                 "predictions")


def variable_dims(name: str, shape: tuple, dims: Mapping[str, Sequence[str]]) -> list[str]:
    """The dimension names of a variable of ``shape`` (without chain and draw): those recorded in
    ``dims`` (``model.named_vars_to_dims``) where they fit, else PyMC's ``{name}_dim_{i}``.

    Recorded dims beyond the array's rank are dropped from the end, as PyMC
    does for the log-likelihood of a multivariate variable (its event dims).

    Examples
    --------
    >>> variable_dims("theta", (3,), {"theta": ("school",)}), variable_dims("w", (2, 4), {})
    (['school'], ['w_dim_0', 'w_dim_1'])
    """
    given = [str(dim) for dim in dims.get(name, ())][: len(shape)]
    return given + [f"{name}_dim_{i}" for i in range(len(given), len(shape))]


def _group_dataset(group: str, values: Mapping[str, np.ndarray], coords: Mapping, dims: Mapping):
    import arviz as az

    arrays = {name: np.asarray(value) for name, value in values.items()}
    sampled = group in SAMPLE_GROUPS
    group_dims, sizes = {}, {}
    for name, array in arrays.items():
        shape = array.shape[2:] if sampled else array.shape
        group_dims[name] = variable_dims(name, shape, dims)
        for dim, size in zip(group_dims[name], shape):
            sizes.setdefault(dim, set()).add(size)
    # Labels go where they fit: a dim whose data changed length (a test set without new coords) is unlabelled.
    group_coords = {dim: np.asarray(labels) for dim, labels in coords.items()
                    if dim in sizes and sizes[dim] == {len(labels)}}
    return az.dict_to_dataset(arrays, library=_library(), coords=group_coords, dims=group_dims,
                              default_dims=["chain", "draw"] if sampled else [], index_origin=0)


def _library():
    return types.SimpleNamespace(__name__="credo", __version__=__version__)


@functools.cache
def inference_data_class() -> type:
    """``arviz.InferenceData`` as credo returns it (built at first use: arviz is imported lazily).

    The same object in every respect, but ``idata["y"]`` for a variable (not
    a group) raises a ``KeyError`` that says which group holds it, e.g.
    ``ppc.posterior_predictive["y"]``.
    """
    import arviz as az

    class InferenceData(az.InferenceData):
        """arviz.InferenceData; ``idata[name]`` of a variable points at the group that holds it."""

        def __getitem__(self, key):
            if isinstance(key, str) and key not in self._groups_all:
                holders = [group for group in self._groups_all if key in getattr(self, group).data_vars]
                if holders:
                    raise KeyError(f"{key!r} is a variable, not a group: its draws are in "
                                   f"idata.{holders[0]}[{key!r}] (groups: {', '.join(self._groups_all)}).")
            return super().__getitem__(key)

    InferenceData.__module__ = __name__  # pickle finds it through this module's __getattr__
    InferenceData.__qualname__ = "InferenceData"
    return InferenceData


def __getattr__(name: str):
    if name == "InferenceData":
        return inference_data_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def to_inference_data(model=None, *, coords: Mapping | None = None, dims: Mapping | None = None,
                      **groups: Mapping[str, np.ndarray] | None):
    """An InferenceData (see :func:`inference_data_class`) from groups of arrays, with coords and dims.

    Sample groups (:data:`SAMPLE_GROUPS`) hold arrays shaped ``(chain, draw,
    ...)``; observed_data, constant_data and predictions_constant_data hold
    plain arrays. Dimension names and labels come from ``model.coords`` and
    ``model.named_vars_to_dims`` (PyMC's records), updated by ``coords`` and
    ``dims``; variables without recorded dims get ``{name}_dim_{i}``.

    Examples
    --------
    >>> import numpy as np
    >>> idata = to_inference_data(posterior={"theta": np.zeros((2, 5, 3))}, coords={"school": ["a", "b", "c"]},
    ...                           dims={"theta": ["school"]})
    >>> idata.posterior["theta"].sel(school="b").shape
    (2, 5)
    """
    all_coords = dict(getattr(model, "coords", None) or {})
    all_coords.update(coords or {})
    all_dims = dict(getattr(model, "named_vars_to_dims", None) or {})
    all_dims.update(dims or {})
    datasets = {group: _group_dataset(group, values, all_coords, all_dims)
                for group, values in groups.items() if values}
    return inference_data_class()(**datasets)


def observed_and_constant_data(model) -> tuple[dict, dict]:
    """The ``observed_data`` (each observed variable's values) and ``constant_data`` (each ``cr.Data``
    variable's current values) groups of ``model``, as numpy arrays.

    Arrays whose rows are spread over processes (:mod:`credo.distributed`) or stream from the host
    (:func:`credo.Minibatch`) are left out: no host holds them whole.
    """
    values = {name: value for name, value in model.data_values.items() if not isinstance(value, RowsElsewhere)}
    observed = {rv.name: np.asarray(values[rv.observed.name]) for rv in model.observed_variables
                if rv.observed.name in values}
    constant = {name: np.asarray(values[name]) for name in model.data_vars if name in values}
    return observed, constant


def devices_attrs(description: Mapping) -> dict:
    """The attributes an InferenceData group records of the devices that computed it (see
    :meth:`credo.model.placement.Placement.describe`).

    Examples
    --------
    >>> devices_attrs({"devices": 4, "processes": 1, "platform": "cpu", "device_kind": "cpu"})
    {'devices': 4, 'processes': 1, 'device_platform': 'cpu', 'device_kind': 'cpu'}
    """
    return {"devices": int(description["devices"]), "processes": int(description["processes"]),
            "device_platform": str(description["platform"]), "device_kind": str(description["device_kind"])}
