"""Neural-network layers inside a credo model.

A layer creates its weight and bias variables in the current model (with
Normal priors) and returns the node of its output, so a Bayesian network is
written in a few lines:

>>> import credo as cr, numpy as np
>>> X, Y = np.random.default_rng(0).normal(size=(100, 2)), np.arange(100) % 2
>>> with cr.Model() as model:
...     x = cr.Data("x", X); y = cr.Data("y", Y)
...     logits = cr.nn.mlp("net", x, hidden=(5, 5), bias=False)
...     out = cr.Bernoulli("out", logit_p=logits, observed=y)
>>> [v.name for v in model.free_variables]
['net_0_w', 'net_1_w', 'net_out_w']

That is the classic PyMC tutorial's 2-5-5-1 tanh network (which has no
biases), its three weight matrices and the Bernoulli likelihood.
"""

from __future__ import annotations

import zlib
from typing import Any, Callable, Sequence

import numpy as np

from ..model import math as cm
from ..model.variables import Node
from .priors import PriorSpec, layer_rng, layer_variable, per_layer, resolve_prior

__all__ = ["dense", "mlp", "activation_fn", "ACTIVATIONS"]

#: Activation names understood by :func:`dense` (``None`` or ``"linear"``: none).
ACTIVATIONS: dict[str, Callable | None] = {
    "linear": None,
    "identity": None,
    "tanh": cm.tanh,
    "relu": cm.relu,
    "sigmoid": cm.sigmoid,
    "softplus": cm.softplus,
    "gelu": cm.gelu,
    "elu": cm.elu,
}


def activation_fn(activation: str | Callable | None) -> Callable | None:
    """The lifted function of an activation name or callable (``None`` for linear).

    A callable is lifted with :func:`credo.math.apply`, so any JAX function
    (``jax.nn.silu``) works.
    """
    if activation is None:
        return None
    if isinstance(activation, str):
        key = activation.lower()
        if key not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}, None, or a callable."
            )
        return ACTIVATIONS[key]
    if callable(activation):
        if activation in ACTIVATIONS.values():  # already a cr.math function
            return activation
        return lambda z: cm.apply(activation, z)
    raise TypeError(f"activation must be a name, None or a callable; got {type(activation).__name__}.")


def _fan_in(inputs: Any, name: str) -> int:
    shape = inputs.shape if isinstance(inputs, Node) else np.shape(inputs)
    if len(shape) < 1:
        raise ValueError(f"dense {name!r}: inputs must have at least one dimension (features last); got a scalar.")
    return int(shape[-1])


def dense(
    name: str,
    inputs: Any,
    units: int,
    activation: str | Callable | None = "tanh",
    prior_sigma: Any = None,
    bias: bool = True,
    random_seed: int | np.random.Generator | None = None,
    *,
    prior: PriorSpec = None,
    bayesian: bool = True,
) -> Node:
    """A fully connected layer: ``activation(inputs @ w + b)``, with a prior on its weights and bias.

    Creates ``{name}_w`` of shape ``(fan_in, units)`` and (with ``bias``)
    ``{name}_b`` of shape ``(units,)`` in the current model.

    Parameters
    ----------
    name : str
        Prefix of the variable names.
    inputs : node or array
        ``(..., fan_in)``: a ``cr.Data``, the output of another layer, any node or array.
    units : int
        Output width.
    activation : str, callable or None
        ``"tanh"``, ``"relu"``, ``"sigmoid"``, ``"softplus"``, ``"gelu"``,
        ``"elu"``, ``None``/``"linear"`` (none), or any JAX function.
    prior_sigma : float, array or node, optional
        Standard deviation of the default ``Normal(0, prior_sigma)`` prior
        (1 when neither it nor ``prior`` is given; a node gives a
        hierarchical prior).
    bias : bool
        Add a bias vector.
    random_seed : int or numpy Generator, optional
        Seeds the initial values: weights ``N(0, 1/fan_in)`` so that units start
        apart (symmetric units would otherwise move together), biases 0. By
        default the seed comes from ``name``: a model rebuilds identically.
    prior : number, array, node or callable, optional
        Any prior, in place of ``prior_sigma`` (see :mod:`credo.nn.priors`):
        a scale, a learned scale (node), or ``prior(name, shape=...,
        initval=...)`` making any credo distribution.
    bayesian : bool
        ``False`` makes the layer's parameters point estimates, fitted by
        MAP inside the ELBO of a mean-field fit (no spread, no entropy term).

    Returns
    -------
    Node
        ``(..., units)``.

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model() as model:
    ...     x = cr.Data("x", np.zeros((10, 3)))
    ...     h = cr.nn.dense("hidden", x, 4, activation="relu")
    >>> h.shape, model["hidden_w"].shape, model["hidden_b"].shape
    ((10, 4), (3, 4), (4,))
    """
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
        raise ValueError(f"dense {name!r}: units must be a positive integer; got {units!r}.")
    units = int(units)
    act = activation_fn(activation)
    prior = resolve_prior(prior, prior_sigma, f"dense {name!r}")
    fan_in = _fan_in(inputs, name)
    rng = layer_rng(random_seed, name)
    w_init = rng.normal(0.0, 1.0 / np.sqrt(max(fan_in, 1)), size=(fan_in, units))
    w = layer_variable(f"{name}_w", (fan_in, units), prior, w_init, bayesian, f"dense {name!r}")
    out = cm.matmul(inputs, w)
    if bias:
        b = layer_variable(f"{name}_b", (units,), prior, np.zeros(units), bayesian, f"dense {name!r}")
        out = out + b
    return act(out) if act is not None else out


def mlp(
    name: str,
    inputs: Any,
    hidden: Sequence[int] = (5, 5),
    out_units: int | None = None,
    activation: str | Callable | None = "tanh",
    prior_sigma: Any = None,
    bias: bool = True,
    random_seed: int | None = None,
    *,
    prior: PriorSpec | Sequence[PriorSpec] = None,
    bayesian: bool | Sequence[bool] = True,
) -> Node:
    """A multi-layer perceptron: ``len(hidden)`` dense layers and a linear output layer.

    The layers are named ``{name}_0``, ``{name}_1``, ... and ``{name}_out``
    (variables ``{name}_0_w``, ``{name}_0_b``, ..., ``{name}_out_w``, ``{name}_out_b``).

    Parameters
    ----------
    name : str
    inputs : node or array
        ``(..., fan_in)``.
    hidden : sequence of int
        Widths of the hidden layers (may be empty: a linear model).
    out_units : int or None
        Width of the output layer. ``None`` (the default) means one unit with
        the last axis dropped: the output is ``(...,)``, as the logits of a
        Bernoulli or the mean of a Normal over ``(n,)`` targets must be. An
        integer keeps the axis (``out_units=1`` gives ``(..., 1)``).
    activation, bias :
        As in :func:`dense` (the output layer is always linear).
    prior_sigma, prior, bayesian :
        As in :func:`dense`, for every layer, or a list with one entry per
        layer, the output layer last (e.g. ``bayesian=[False, False, True]``:
        a network with a Bayesian last layer).
    random_seed : int, optional
        Seeds the initial values of every layer (see :func:`dense`).

    Returns
    -------
    Node
        ``(..., out_units)``, or ``(...,)`` when ``out_units`` is None.

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model() as model:
    ...     x = cr.Data("x", np.zeros((10, 3)))
    ...     out = cr.nn.mlp("net", x, hidden=(8,), out_units=2, activation="relu")
    >>> out.shape, sorted(v.name for v in model.free_variables)
    ((10, 2), ['net_0_b', 'net_0_w', 'net_out_b', 'net_out_w'])
    """
    hidden = tuple(int(h) for h in hidden)
    n_layers = len(hidden) + 1
    what = f"mlp {name!r}"
    sigmas = per_layer(prior_sigma, n_layers, what, "prior_sigma")
    priors = per_layer(prior, n_layers, what, "prior")
    bayesians = per_layer(bayesian, n_layers, what, "bayesian")
    if random_seed is None:
        random_seed = zlib.crc32(name.encode())
    seeds = np.random.SeedSequence(random_seed).spawn(n_layers)
    out = inputs
    names = [f"{name}_{i}" for i in range(len(hidden))] + [f"{name}_out"]
    widths = list(hidden) + [1 if out_units is None else out_units]
    for i, (layer, units) in enumerate(zip(names, widths)):
        out = dense(layer, out, units, activation if i < len(hidden) else None, sigmas[i], bias,
                    np.random.default_rng(seeds[i]), prior=priors[i], bayesian=bool(bayesians[i]))
    if out_units is None:
        out = out[..., 0]
    return out
