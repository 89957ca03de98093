"""Embeddings and layer normalisation: ``cr.nn.embedding``, ``cr.nn.layer_norm``."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from ..model import math as cm
from ..model.core import Model
from ..model.variables import DataNode, Node
from .priors import PriorSpec, layer_rng, layer_variable, resolve_prior

__all__ = ["embedding", "layer_norm"]


def _index_values(indices: Any):
    """The concrete values of ``indices`` where they are known (an array or a ``cr.Data``), else None."""
    if isinstance(indices, DataNode):
        model = Model.get_context(error=False)
        return None if model is None else model.data_values.get(indices.name)
    if isinstance(indices, Node):
        return None
    return np.asarray(indices)


def embedding(
    name: str,
    indices: Any,
    num_embeddings: int,
    features: int,
    prior_sigma: Any = None,
    random_seed: int | np.random.Generator | None = None,
    *,
    prior: PriorSpec = None,
    bayesian: bool = True,
) -> Node:
    """A table of ``num_embeddings`` vectors of ``features`` values, looked up by integer ``indices``.

    Creates ``{name}_w`` of shape ``(num_embeddings, features)`` and returns
    its rows at ``indices``: ``(..., features)`` for indices of shape ``(...)``.

    Parameters
    ----------
    name : str
    indices : node or array of int
        Values in ``0 .. num_embeddings - 1`` (checked where they are known:
        arrays and ``cr.Data``).
    num_embeddings, features : int
    prior_sigma, prior, bayesian, random_seed :
        As in :func:`credo.nn.dense`; initial rows are ``N(0, 1/features)``.

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model() as model:
    ...     words = cr.Data("words", np.array([[0, 3], [2, 2]]))
    ...     vectors = cr.nn.embedding("embed", words, num_embeddings=5, features=4)
    >>> vectors.shape, model["embed_w"].shape
    ((2, 2, 4), (5, 4))
    """
    what = f"embedding {name!r}"
    for argument, value in (("num_embeddings", num_embeddings), ("features", features)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{what}: {argument} must be a positive integer; got {value!r}.")
    dtype = indices.dtype if isinstance(indices, Node) else np.asarray(indices).dtype
    if not jnp.issubdtype(dtype, jnp.integer):
        raise ValueError(f"{what}: indices must be integers; got dtype {jnp.dtype(dtype).name}.")
    values = _index_values(indices)
    if values is not None and values.size and (int(np.min(values)) < 0 or int(np.max(values)) >= num_embeddings):
        raise ValueError(f"{what}: indices must lie in 0..{num_embeddings - 1}; found values from "
                         f"{int(np.min(values))} to {int(np.max(values))}.")
    prior = resolve_prior(prior, prior_sigma, what)
    shape = (int(num_embeddings), int(features))
    initval = layer_rng(random_seed, name).normal(0.0, 1.0 / np.sqrt(features), size=shape)
    table = layer_variable(f"{name}_w", shape, prior, initval, bayesian, what)
    return cm.apply(_lookup, table, indices)


def _lookup(table, indices):
    return jnp.take(table, indices, axis=0, mode="clip")


def layer_norm(
    name: str,
    inputs: Any,
    epsilon: float = 1e-5,
    scale: bool = True,
    center: bool = True,
    prior_sigma: Any = None,
    *,
    prior: PriorSpec = None,
    bayesian: bool = False,
) -> Node:
    """Normalise the last axis to mean 0 and variance 1, then scale and shift it.

    ``(x - mean(x)) / sqrt(var(x) + epsilon) * {name}_scale + {name}_shift``
    over the last axis. The scale (starting at 1, prior ``Normal(1,
    prior_sigma)``) and the shift (starting at 0, prior ``Normal(0,
    prior_sigma)``) have one value per feature and are point estimates by
    default (``bayesian=False``: deterministic, fitted by MAP inside the
    ELBO); ``bayesian=True`` gives them distributions like any weight.

    Parameters
    ----------
    name : str
    inputs : node or array
        ``(..., features)``.
    epsilon : float
    scale, center : bool
        Learn a scale, a shift (without either: normalisation alone).
    prior_sigma, prior, bayesian :
        As in :func:`credo.nn.dense` (a scale or node prior is centred on 1
        for the scale).

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model() as model:
    ...     h = cr.nn.layer_norm("norm", cr.Data("x", np.zeros((10, 6))))
    >>> h.shape, model["norm_scale"].shape, model["norm_scale"].point_estimate
    ((10, 6), (6,), True)
    """
    what = f"layer_norm {name!r}"
    shape = tuple(inputs.shape if isinstance(inputs, Node) else np.shape(inputs))
    if not shape:
        raise ValueError(f"{what}: inputs need a features axis; got a scalar.")
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.floating)) or not epsilon > 0:
        raise ValueError(f"{what}: epsilon must be a positive number; got {epsilon!r}.")
    prior = resolve_prior(prior, prior_sigma, what)
    features = shape[-1]
    out = cm.apply(_normalise, inputs, epsilon=float(epsilon))
    if scale:
        out = out * layer_variable(f"{name}_scale", (features,), prior, np.ones(features), bayesian, what, loc=1.0)
    if center:
        out = out + layer_variable(f"{name}_shift", (features,), prior, np.zeros(features), bayesian, what)
    return out


def _normalise(values, epsilon):
    mean = jnp.mean(values, axis=-1, keepdims=True)
    variance = jnp.mean(jnp.square(values - mean), axis=-1, keepdims=True)
    return (values - mean) / jnp.sqrt(variance + epsilon)
