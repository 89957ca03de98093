"""The weight variables of ``cr.nn`` layers: their priors, initial values and point estimates.

Every layer creates its parameters through :func:`layer_variable`, which
reads the layer's ``prior`` argument:

- a number or an array: ``Normal(0, prior)`` (the default, ``1.0``);
- a credo node, e.g. ``cr.HalfNormal("scale", 1)``: ``Normal(0, node)``, a
  hierarchical scale learned with the weights;
- a callable ``prior(name, shape=..., initval=...)`` returning a credo
  variable of that shape: any credo distribution, e.g.
  ``functools.partial(cr.Laplace, mu=0.0, b=0.1)`` or
  ``lambda name, **kw: cr.StudentT(name, nu=4, mu=0, sigma=1, **kw)``.

With ``bayesian=False`` the variable is a point estimate
(``point_estimate``): variational
fits give it no spread and no entropy term, so it is fitted by MAP inside
the same ELBO (its prior acts as a penalty).
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from ..distributions import Normal
from ..errors import ModelError
from ..model.variables import Node, RandomVariable

__all__ = ["layer_variable", "layer_rng", "check_prior", "resolve_prior", "per_layer", "PriorSpec"]

#: What a layer's ``prior`` may be (see the module doc).
PriorSpec = Any


def layer_rng(random_seed: Any, name: str) -> np.random.Generator:
    """A numpy generator: from the seed, or (seed None) from the layer's name, so models rebuild identically."""
    if isinstance(random_seed, np.random.Generator):
        return random_seed
    if random_seed is None:
        random_seed = zlib.crc32(name.encode())
    return np.random.default_rng(random_seed)


def check_prior(prior: PriorSpec, what: str) -> None:
    """Raise a TypeError naming ``what`` if ``prior`` is none of the accepted kinds."""
    if isinstance(prior, (Node, int, float, np.integer, np.floating, np.ndarray, list, tuple)) \
            and not isinstance(prior, bool):
        return
    if callable(prior):
        return
    raise TypeError(f"{what}: prior must be a number or array (the scale of a Normal(0, scale) prior), a credo node "
                    f"(a learned scale), or a callable prior(name, shape=..., initval=...) returning a credo "
                    f"variable; got {type(prior).__name__}.")


def resolve_prior(prior: PriorSpec, prior_sigma: Any, what: str) -> PriorSpec:
    """The prior a layer uses: ``prior``, else ``Normal(0, prior_sigma)``, else ``Normal(0, 1)``."""
    if prior is not None and prior_sigma is not None:
        raise TypeError(f"{what}: give prior or prior_sigma (the scale of the default Normal prior), not both.")
    chosen = prior if prior is not None else (1.0 if prior_sigma is None else prior_sigma)
    check_prior(chosen, what)
    return chosen


def per_layer(value: Any, n_layers: int, what: str, argument: str) -> list:
    """``value`` once per layer: a list or tuple must have one entry per layer, anything else is repeated."""
    if isinstance(value, (list, tuple)):
        if len(value) != n_layers:
            raise ValueError(f"{what}: {argument} has {len(value)} entries; give one per layer ({n_layers}, the "
                             "output layer last) or one value.")
        return list(value)
    return [value] * n_layers


def layer_variable(name: str, shape: tuple, prior: PriorSpec, initval: np.ndarray, bayesian: bool = True,
                   what: str | None = None, loc: float = 0.0) -> RandomVariable:
    """A layer's parameter ``name`` of ``shape`` with ``prior`` (see the module doc), starting at ``initval``.

    A scale or node prior is ``Normal(loc, prior)`` (``loc`` 1 for a layer
    norm's scale, 0 for weights).
    """
    what = what or name
    check_prior(prior, what)
    shape = tuple(int(s) for s in shape)
    if callable(prior) and not isinstance(prior, Node):
        variable = prior(name, shape=shape, initval=initval)
        if not isinstance(variable, RandomVariable) or variable.name != name:
            raise ModelError(f"{what}: the prior callable must return the credo variable named {name!r} (call the "
                             f"distribution with the name it is given); got {variable!r}.")
        if tuple(variable.shape) != shape:
            raise ModelError(f"{what}: the prior callable made {name!r} of shape {tuple(variable.shape)}; the layer "
                             f"needs shape {shape} (pass shape=shape on to the distribution).")
        if variable.is_observed:
            raise ModelError(f"{what}: the prior callable made an observed variable; a weight must be free.")
    else:
        variable = Normal(name, loc, sigma=prior, shape=shape, initval=initval)
    if not bayesian:
        variable.point_estimate = True
    return variable

