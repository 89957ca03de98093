"""The method interface: what :class:`~credo.inference.approximation.Approximation` and the drivers call.

A variational method is a frozen, hashable spec (a dataclass whose fields
are its options) that carries its policy as class attributes and implements
the functions below over a small array-only state (``ADVIState``: a dict of
parameter arrays, the optimiser's state, a step counter, an optional fixed
frame). The Gaussian families (:mod:`credo.inference.advi`), the particles
of SVGD (:mod:`credo.inference.svgd`), normalizing flows
(:mod:`credo.inference.flows`) and Pathfinder's mixture of normals
(:mod:`credo.inference.pathfinder`) are such specs; the drivers never ask
which one they hold.

The interface
-------------
``algorithm(logdensity_fn, optimizer, num_mc) -> VariationalAlgorithm``
    ``init(position, std=None, cholesky=None, whiten=False, key=None)``,
    ``step(key, state, data) -> (state, info)`` (``info.loss``,
    ``info.finite``), ``loss(state, key, data)``.
``draw(key, state, num)``
    ``(num, d)`` draws on the flat unconstrained space.
``draw_and_log_prob(key, state, num)``
    The draws and ``log q`` at them (what the importance diagnostics need;
    a flow computes both in one pass).
``state_log_prob(state, x)``
    ``log q(x)`` at any ``x`` (methods whose density cannot be evaluated at
    arbitrary points raise :class:`~credo.errors.FitError`).
``state_mean``, ``state_std``, ``state_covariance``, ``state_params``
    Moments on the flat unconstrained space and the parameters themselves.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from .optimizers import OptimizerSpec

__all__ = ["VariationalMethod", "monte_carlo_moments", "MONTE_CARLO_MOMENT_DRAWS"]

#: Draws used by methods whose moments are Monte Carlo estimates (flows).
MONTE_CARLO_MOMENT_DRAWS = 4000


@dataclasses.dataclass(frozen=True)
class VariationalMethod:
    """Base of every method spec (see the module doc).

    Class attributes give the method's policy:

    name : str
        The method's name; ``label`` adds its options.
    default_init : {"initial_point", "map"}
        Where ``cr.fit`` starts it when ``init`` is not given.
    whiten_at_map : bool
        Whether a start at the mode optimises in the frame of the mode and
        the Laplace Cholesky factor.
    default_optimizer : OptimizerSpec
        The optimiser ``cr.fit`` uses when ``obj_optimizer`` is not given.
    iterative : bool
        Whether the fit is a sequence of steps that ``refine`` continues
        (False for one-shot methods such as Pathfinder).
    has_density : bool
        Whether ``log q`` can be evaluated (False for particles); without it
        there is no importance-sampling diagnostic.
    """

    name: ClassVar[str] = ""
    default_init: ClassVar[str] = "initial_point"
    whiten_at_map: ClassVar[bool] = False
    default_optimizer: ClassVar[OptimizerSpec] = OptimizerSpec("adam", 1e-3)
    iterative: ClassVar[bool] = True
    has_density: ClassVar[bool] = True

    @property
    def label(self) -> str:
        """The method's name with its options, ``name(option=value,...)``: what saved files record."""
        options = [f"{field.name}={getattr(self, field.name)}" for field in dataclasses.fields(self)]
        return f"{self.name}({','.join(options)})" if options else self.name

    def start_at_mode(self, mode, cholesky) -> dict:
        """Keyword arguments of ``algorithm.init`` for a start at the mode with that Laplace Cholesky factor."""
        return {"position": mode, "cholesky": cholesky, "whiten": self.whiten_at_map}

    # --- the interface ---------------------------------------------------------------------
    def algorithm(self, logdensity_fn, optimizer, num_mc: int):  # pragma: no cover - interface
        raise NotImplementedError

    def draw(self, key, state, num: int):  # pragma: no cover - interface
        raise NotImplementedError

    def state_log_prob(self, state, x):  # pragma: no cover - interface
        raise NotImplementedError

    def draw_and_log_prob(self, key, state, num: int):
        """``(num, d)`` draws and ``log q`` at each (``(num,)``)."""
        draws = self.draw(key, state, num)
        return draws, self.state_log_prob(state, draws)

    def state_mean(self, state):  # pragma: no cover - interface
        raise NotImplementedError

    def state_std(self, state):
        return jnp.sqrt(jnp.diag(self.state_covariance(state)))

    def state_covariance(self, state):  # pragma: no cover - interface
        raise NotImplementedError

    def state_params(self, state) -> dict:
        return state.params


def monte_carlo_moments(method: VariationalMethod, state, num: int = MONTE_CARLO_MOMENT_DRAWS):
    """Mean and covariance of ``num`` draws with a fixed key (for methods without closed-form moments)."""
    draws = method.draw(jax.random.key(0), state, num)
    mean = jnp.mean(draws, axis=0)
    centred = draws - mean
    return mean, centred.T @ centred / (num - 1)
