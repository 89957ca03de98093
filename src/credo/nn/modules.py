"""Bring your own network: a Flax (NNX or Linen) or Equinox module as a credo model term.

:func:`bayesian` makes every parameter array of the module a credo variable
(with a prior; see :mod:`credo.nn.priors`), starting at the value the
module's own initialiser gave it, and returns a callable that applies the
module to credo nodes:

>>> import credo as cr, jax, numpy as np, equinox as eqx
>>> X, y = np.random.default_rng(0).normal(size=(50, 3)), np.arange(50) % 2
>>> with cr.Model() as model:
...     net = cr.nn.bayesian(eqx.nn.MLP(3, "scalar", 8, 1, key=jax.random.key(0)), prior=1.0, name="net")
...     logits = net(cr.Data("x", X))
...     obs = cr.Bernoulli("obs", logit_p=logits, observed=y)
>>> logits.shape, sorted(net.variables)[:2]
((50,), ['layers.0.bias', 'layers.0.weight'])

Flax and Equinox are optional: they are imported only to recognise and
rebuild a module of theirs.
"""

from __future__ import annotations

import fnmatch
import sys
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ModelError
from ..model import math as cm
from ..model.core import Model, modelcontext
from ..model.variables import Node, RandomVariable
from .priors import PriorSpec, check_prior, layer_variable

__all__ = ["bayesian", "BayesianModule", "leaf_path"]


def leaf_path(key_path: tuple) -> str:
    """A pytree key path as a dotted string: ``layers.0.weight``, ``Dense_0.kernel``."""
    parts = []
    for entry in key_path:
        for attribute in ("key", "name", "idx"):
            if hasattr(entry, attribute):
                parts.append(str(getattr(entry, attribute)))
                break
        else:
            parts.append(str(entry))
    if len(parts) > 1 and parts[-1] == "value":  # an NNX variable's array
        parts = parts[:-1]
    return ".".join(parts)


def _kind(module: Any) -> str:
    """``"nnx"``, ``"linen"`` or ``"equinox"``; a TypeError for anything else."""
    if "flax" in sys.modules:
        from flax import linen, nnx

        if isinstance(module, nnx.Module):
            return "nnx"
        if isinstance(module, linen.Module):
            return "linen"
    if "equinox" in sys.modules:
        import equinox

        if isinstance(module, equinox.Module):
            return "equinox"
    raise TypeError(f"bayesian: module must be a Flax (NNX or Linen) or Equinox module; got "
                    f"{type(module).__module__}.{type(module).__name__}.")


class _Split:
    """A module's parameters as leaves (paths, initial values) and the function that rebuilds and applies it."""

    def __init__(self, paths: list[str], values: list, apply_fn: Callable):
        self.paths, self.values, self.apply_fn = paths, values, apply_fn


def _split_nnx(module) -> _Split:
    from flax import nnx

    graphdef, params, rest = nnx.split(module, nnx.Param, ...)
    flat, treedef = jax.tree_util.tree_flatten_with_path(params)

    def apply_fn(values, *args, **kwargs):
        return nnx.merge(graphdef, jax.tree_util.tree_unflatten(treedef, values), rest)(*args, **kwargs)

    return _Split([leaf_path(path) for path, _ in flat], [value for _, value in flat], apply_fn)


def _split_linen(module, random_seed: int, args: tuple, kwargs: dict) -> _Split:
    examples = [jnp.zeros((1,) + tuple(a.shape[1:]) if a.ndim else (), a.dtype) for a in args]
    variables = module.init(jax.random.key(random_seed), *examples, **kwargs)
    variables = dict(variables)
    if "params" not in variables:
        raise ModelError("bayesian: the Linen module has no 'params' collection to make Bayesian.")
    params = variables.pop("params")
    rest = variables
    flat, treedef = jax.tree_util.tree_flatten_with_path(params)

    def apply_fn(values, *args, **kwargs):
        return module.apply({"params": jax.tree_util.tree_unflatten(treedef, values), **rest}, *args, **kwargs)

    return _Split([leaf_path(path) for path, _ in flat], [value for _, value in flat], apply_fn)


def _split_equinox(module, vmap: bool) -> _Split:
    import equinox

    params, static = equinox.partition(module, equinox.is_inexact_array)
    flat, treedef = jax.tree_util.tree_flatten_with_path(params)

    def apply_fn(values, *args, **kwargs):
        rebuilt = equinox.combine(jax.tree_util.tree_unflatten(treedef, values), static)
        if vmap:
            return jax.vmap(lambda *rows: rebuilt(*rows, **kwargs))(*args)
        return rebuilt(*args, **kwargs)

    return _Split([leaf_path(path) for path, _ in flat], [value for _, value in flat], apply_fn)


def _prior_for(path: str, prior: PriorSpec, priors: Mapping[str, PriorSpec]) -> PriorSpec:
    """The prior of the leaf at ``path``: an exact key of ``priors``, else its first matching pattern, else ``prior``."""
    if path in priors:
        return priors[path]
    for pattern, value in priors.items():
        if fnmatch.fnmatchcase(path, pattern):
            return value
    return prior


class BayesianModule:
    """A Flax or Equinox module whose parameters are credo variables (made by :func:`bayesian`).

    Call it as the module is called, with credo nodes (``cr.Data``, other
    layers' outputs) or arrays among the arguments: the result is a node.

    Attributes
    ----------
    name : str
        The prefix of the variable names (``{name}.{path}``).
    variables : dict of str to RandomVariable
        The parameter variables by leaf path (``layers.0.weight``). Empty
        for a Linen module until its first call (it is initialised on the
        shapes of that call's arguments).
    """

    def __init__(self, module, kind: str, name: str, prior: PriorSpec, priors: Mapping[str, PriorSpec],
                 point_estimates: Sequence[str], vmap: bool, random_seed: int, model: Model):
        self.module, self.kind, self.name = module, kind, name
        self._prior, self._priors, self._points = prior, dict(priors), tuple(point_estimates)
        self._vmap, self._seed, self._model = vmap, int(random_seed), model
        self._split: _Split | None = None
        self.variables: dict[str, RandomVariable] = {}
        if kind == "nnx":
            self._make(_split_nnx(module))
        elif kind == "equinox":
            self._make(_split_equinox(module, vmap))

    def _make(self, split: _Split) -> None:
        unused = [p for p in list(self._priors) + list(self._points)
                  if p not in split.paths and not any(fnmatch.fnmatchcase(path, p) for path in split.paths)]
        if unused:
            raise ModelError(f"bayesian {self.name!r}: {unused} match no parameter of the module; its parameters are "
                             f"{split.paths}.")
        with self._model:
            for path, value in zip(split.paths, split.values):
                point = any(fnmatch.fnmatchcase(path, p) for p in self._points)
                self.variables[path] = layer_variable(
                    f"{self.name}.{path}", tuple(np.shape(value)), _prior_for(path, self._prior, self._priors),
                    np.asarray(value, dtype=np.float64), not point, f"bayesian {self.name!r} ({path})")
        self._split = split

    def __call__(self, *args, **kwargs) -> Node:
        if self._split is None:  # Linen: initialised on the shapes of the first call's arguments
            shapes = [_struct(a) for a in args]
            self._make(_split_linen(self.module, self._seed, tuple(shapes), kwargs))
        parameters = tuple(self.variables[path] for path in self._split.paths)
        apply_fn = self._split.apply_fn
        return cm.apply(lambda values, *a, **k: apply_fn(list(values), *a, **k), parameters, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<BayesianModule {self.name!r}: {self.kind}, {len(self.variables)} parameter arrays>"


def _struct(value):
    if isinstance(value, Node):
        return jax.ShapeDtypeStruct(value.shape, value.dtype)
    array = jnp.asarray(value)
    return jax.ShapeDtypeStruct(array.shape, array.dtype)


def bayesian(
    module: Any,
    prior: PriorSpec = 1.0,
    name: str = "net",
    *,
    priors: Mapping[str, PriorSpec] | None = None,
    point_estimates: Sequence[str] = (),
    vmap: bool | None = None,
    random_seed: int = 0,
    model: Model | None = None,
) -> BayesianModule:
    """A Flax (NNX or Linen) or Equinox module as a Bayesian network in the current model.

    Every parameter array of the module becomes a credo variable named
    ``{name}.{path}`` (``net.layers.0.weight``), with ``prior`` and the
    module's own initial value, and the returned object applies the module
    to credo nodes.

    Parameters
    ----------
    module : flax.nnx.Module, flax.linen.Module or equinox.Module
        NNX and Equinox modules hold their parameters already; a Linen
        module is initialised (``module.init`` with ``random_seed``) on the
        shapes of the first call's arguments, one row each.
    prior : number, array, node or callable
        The prior of every parameter (see :mod:`credo.nn.priors`): a scale
        for ``Normal(0, scale)``, a learned scale, or a callable making any
        credo distribution.
    name : str
        Prefix of the variable names.
    priors : dict of str to prior, optional
        Per-leaf overrides: a leaf path (``"layers.0.bias"``) or a pattern
        (``"*.bias"``, ``"Dense_0.*"``); an exact path first, then the first
        matching pattern.
    point_estimates : sequence of str
        Paths or patterns of leaves fitted as point estimates (MAP inside
        the ELBO, see :func:`credo.nn.dense`'s ``bayesian``).
    vmap : bool, optional
        Map the module over the first axis of its arguments. Default: True
        for Equinox (its layers take one example), False for Flax.
    random_seed : int
        Seeds a Linen module's initialisation.
    model : credo.Model, optional
        Default: the current model.

    Returns
    -------
    BayesianModule
        ``net(*args, **kwargs)`` is a node; ``net.variables`` the parameter
        variables by path.

    Examples
    --------
    >>> import credo as cr, jax, numpy as np
    >>> from flax import nnx
    >>> with cr.Model() as model:
    ...     net = cr.nn.bayesian(nnx.Linear(3, 2, rngs=nnx.Rngs(0)), priors={"bias": 10.0}, name="lin")
    ...     out = net(cr.Data("x", np.zeros((5, 3))))
    >>> out.shape, [v.name for v in model.free_variables]
    ((5, 2), ['lin.bias', 'lin.kernel'])
    """
    model = modelcontext(model, what="bayesian(...)")
    kind = _kind(module)
    if not isinstance(name, str) or not name:
        raise ModelError(f"bayesian: name must be a non-empty string; got {name!r}.")
    check_prior(prior, f"bayesian {name!r}")
    priors = dict(priors or {})
    for path, value in priors.items():
        check_prior(value, f"bayesian {name!r}: priors[{path!r}]")
    if isinstance(point_estimates, str):
        point_estimates = (point_estimates,)
    vmap = (kind == "equinox") if vmap is None else bool(vmap)
    return BayesianModule(module, kind, name, prior, priors, point_estimates, vmap, random_seed, model)
