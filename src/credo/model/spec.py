"""How a credo distribution maps onto ``numpyro.distributions``: :class:`DistributionSpec`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import numpyro
import numpyro.distributions as ndist
from numpyro.distributions import constraints

from .variables import Node

__all__ = ["DistributionSpec"]


@dataclass(frozen=True)
class DistributionSpec:
    """How a credo distribution maps onto numpyro.

    Attributes
    ----------
    name : str
        The PyMC name, used in messages.
    build_fn : callable
        ``build_fn(**params) -> numpyro.distributions.Distribution``.
    param_constraints : dict
        Parameter name to the numpyro constraint its values must meet.
    support : Constraint or None
        The support when it does not depend on the parameters, else ``None``.
    discrete : bool
        Whether values are integers (free discrete variables cannot be fitted).
    integer_params : tuple of str
        Parameters kept as integers (e.g. Binomial's ``n``).
    support_params : tuple of str
        When ``support`` is None: the parameters whose values set the support
        (Binomial's ``n``, Uniform's ``lower`` and ``upper``). The support is
        known when the variable is defined if these are constants; the other
        parameters matter by their shape alone (Categorical's ``p``: its
        number of categories).
    bound_names : dict
        Names of the support's bounds in messages: ``{"upper": "n"}`` for
        Binomial, so that a violation reads "above its upper bound n".
    """

    name: str
    build_fn: Callable[..., ndist.Distribution]
    param_constraints: dict = field(default_factory=dict)
    support: Any = field(default_factory=lambda: constraints.real)
    discrete: bool = False
    integer_params: tuple = ()
    support_params: tuple = ()
    bound_names: dict = field(default_factory=dict)

    def build(self, params: dict) -> ndist.Distribution:
        # credo checks constant parameters itself, once, when the variable is
        # defined; numpyro's checks would run again, as eager JAX operations
        # (each compiled on first use), every time a model function is traced.
        with numpyro.validation_enabled(False):
            return self.build_fn(**params)

    def known_support(self, params: dict):
        """The support when it is known without the free variables, else None.

        Parameters outside ``support_params`` matter by their shape alone, so
        ``Binomial(n=5, p=<free>)`` has the known support ``0..5`` and
        ``Categorical(p=<free of shape (3,)>)`` the support ``0..2``.

        Examples
        --------
        >>> from credo.distributions import BINOMIAL_P
        >>> BINOMIAL_P.known_support({"n": 5, "p": 0.5})
        IntegerInterval(lower_bound=0, upper_bound=5)
        """
        if self.support is not None:
            return self.support
        if any(isinstance(params.get(key), Node) for key in self.support_params):
            return None  # depends on parameters that are only known at run time
        stand_ins = {k: np.full(v.shape, 0.5, v.dtype) if isinstance(v, Node) else v for k, v in params.items()}
        return self.build(stand_ins).support
