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

from ..distributions import Normal
from ..model import math as cm
from ..model.variables import Node

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


def _rng(random_seed: Any, name: str) -> np.random.Generator:
    """A numpy generator: from the seed, or (seed None) from the layer's name, so models rebuild identically."""
    if isinstance(random_seed, np.random.Generator):
        return random_seed
    if random_seed is None:
        random_seed = zlib.crc32(name.encode())
    return np.random.default_rng(random_seed)


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
    prior_sigma: Any = 1.0,
    bias: bool = True,
    random_seed: int | np.random.Generator | None = None,
) -> Node:
    """A fully connected layer with Normal priors on its weights and bias.

    Creates ``{name}_w`` of shape ``(fan_in, units)`` and (with ``bias``)
    ``{name}_b`` of shape ``(units,)``, both ``Normal(0, prior_sigma)``, in the
    current model and returns ``activation(inputs @ w + b)``.

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
    prior_sigma : float, array or node
        Standard deviation of the Normal priors (a node gives a hierarchical prior).
    bias : bool
        Add a bias vector.
    random_seed : int or numpy Generator, optional
        Seeds the initial values: weights ``N(0, 1/fan_in)`` so that units start
        apart (symmetric units would otherwise move together), biases 0. By
        default the seed comes from ``name``: a model rebuilds identically.

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
    fan_in = _fan_in(inputs, name)
    rng = _rng(random_seed, name)
    w_init = rng.normal(0.0, 1.0 / np.sqrt(max(fan_in, 1)), size=(fan_in, units))
    w = Normal(f"{name}_w", 0.0, sigma=prior_sigma, shape=(fan_in, units), initval=w_init)
    out = cm.matmul(inputs, w)
    if bias:
        b = Normal(f"{name}_b", 0.0, sigma=prior_sigma, shape=(units,), initval=np.zeros(units))
        out = out + b
    return act(out) if act is not None else out


def mlp(
    name: str,
    inputs: Any,
    hidden: Sequence[int] = (5, 5),
    out_units: int | None = None,
    activation: str | Callable | None = "tanh",
    prior_sigma: Any = 1.0,
    bias: bool = True,
    random_seed: int | None = None,
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
    activation, prior_sigma, bias :
        As in :func:`dense` (the output layer is always linear). ``prior_sigma``
        may also be a sequence with one entry per layer, output layer last.
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
    if isinstance(prior_sigma, (list, tuple)):
        if len(prior_sigma) != n_layers:
            raise ValueError(
                f"mlp {name!r}: prior_sigma has {len(prior_sigma)} entries; give one per layer ({n_layers}) "
                "or one value."
            )
        sigmas = list(prior_sigma)
    else:
        sigmas = [prior_sigma] * n_layers
    if random_seed is None:
        random_seed = zlib.crc32(name.encode())
    seeds = np.random.SeedSequence(random_seed).spawn(n_layers)
    out = inputs
    for i, units in enumerate(hidden):
        out = dense(f"{name}_{i}", out, units, activation, sigmas[i], bias, np.random.default_rng(seeds[i]))
    units = 1 if out_units is None else out_units
    out = dense(f"{name}_out", out, units, None, sigmas[-1], bias, np.random.default_rng(seeds[-1]))
    if out_units is None:
        out = out[..., 0]
    return out
