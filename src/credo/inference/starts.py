"""How ``cr.fit`` starts: one start, or several at once (``n_starts``), keeping the best or every one.

A :class:`FitPlan` holds what every start of one ``cr.fit`` call shares
(model, family, optimiser, key, start position, data, devices).
:func:`starting_gaussian` is the Gaussian a start begins from (the initial
point, or the mode and its Laplace curvature for ``init="map"``).

With ``n_starts = k`` the starts run as one compiled program (their steps
``jax.vmap``-ed): the first at the plan's position, the others jittered by
uniform(-1, 1) in the unconstrained space. :func:`fit_best_start` keeps the
start of the best final ELBO; :func:`fit_mixture` keeps every start as one
:class:`~credo.inference.mixture.Mixture` approximation.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import FitError
from ..model.core import Model
from ..model.placement import Placement
from ..model.programs import data_signature
from .approximation import INIT_STREAM, Approximation, FitInfo, FitSettings
from .driver import run_chunks
from .method import VariationalMethod
from .mixture import JITTER_STREAM, Mixture, stack_states
from .mode import laplace_start
from .optimizers import Optimizer
from .programs import ADVIChunk, MemberLosses
from .results import as_key

__all__ = ["FitPlan", "starting_gaussian", "fit_best_start", "fit_mixture", "member_losses", "final_loss",
           "MEMBER_ELBO_DRAWS"]

#: Draws behind each member's final ELBO estimate (``keep="all"``).
MEMBER_ELBO_DRAWS = 100


@dataclasses.dataclass(frozen=True)
class FitPlan:
    """What every start of one ``cr.fit`` call shares."""

    model: Model
    family: VariationalMethod
    init: str  # "map" or "initial_point"
    optimizer: Optimizer
    num_mc: int
    chunk_size: int
    key: jax.Array
    position: jax.Array  # the first start's unconstrained position
    data: dict  # the data arrays, placed on the fit's devices
    placement: Placement | None

    @property
    def settings(self) -> FitSettings:
        return FitSettings(self.optimizer, self.num_mc, self.chunk_size)

    def start(self) -> Approximation:
        """The approximation of the single start, before any step."""
        start_kwargs, map_result = starting_gaussian(self, self.position)
        return Approximation.start(self.model, self.family, self.optimizer, self.key, num_mc=self.num_mc,
                                   chunk_size=self.chunk_size, map_result=map_result, placement=self.placement,
                                   **start_kwargs)


def starting_gaussian(plan: FitPlan, position) -> tuple[dict, Any]:
    """Keyword arguments of ``Approximation.start`` for a start at ``position``, and the MAP result (or None).

    ``init="map"``: the family's start at the mode and the Laplace Cholesky
    factor there (``family.start_at_mode``). Where the mode or its curvature
    cannot be found the fit warns and starts from ``position``.
    """
    if plan.init != "map":
        return {"position": position}, None
    try:
        mode, cholesky, result = laplace_start(plan.model.compile(), position, plan.data, what="init='map'")
    except FitError as error:
        warnings.warn(f"init='map' found no usable mode ({error}) The fit starts from the initial point.",
                      stacklevel=4)
        return {"position": position}, None
    return plan.family.start_at_mode(mode, cholesky), result


def _start_states(plan: FitPlan, n_starts: int):
    """The states of ``n_starts`` starts (the first at the plan's position, the others jittered by
    uniform(-1, 1)), stacked, their keys and MAP results."""
    algorithm = plan.family.algorithm(plan.model.compile().logdensity_fn, plan.optimizer.transformation,
                                      plan.num_mc)
    keys = [plan.key] + [jax.random.fold_in(plan.key, i) for i in range(1, n_starts)]
    position = plan.position
    jitter = jax.random.uniform(jax.random.fold_in(plan.key, n_starts + JITTER_STREAM), (n_starts,) + position.shape,
                                position.dtype, -1.0, 1.0).at[0].set(0.0)
    states, map_results = [], []
    for i in range(n_starts):
        start_kwargs, result = starting_gaussian(plan, position + jitter[i])
        states.append(algorithm.init(start_kwargs.pop("position"), key=jax.random.fold_in(keys[i], INIT_STREAM),
                                     **start_kwargs))
        map_results.append(result)
    return stack_states(states), keys, map_results


def final_loss(losses: np.ndarray, n: int) -> np.ndarray:
    """Mean loss over the last 10% of ``n`` steps (at least 1, at most 1,000) of each row."""
    window = int(min(1000, max(1, n // 10)))
    return losses[:, -window:].mean(axis=1)


def fit_best_start(plan: FitPlan, n: int, n_starts: int, progressbar: bool) -> Approximation:
    """Several fits from jittered starts, vmapped in one compiled loop; the best by final loss."""
    compiled = plan.model.compile()
    states, keys, map_results = _start_states(plan, n_starts)
    spec = ADVIChunk(plan.family, plan.optimizer, plan.num_mc, plan.chunk_size, tuple(plan.model.minibatches),
                     data_signature(plan.data), multi=True)
    runner = compiled.programs.get(spec, compiled)
    run = run_chunks(runner, states, jnp.stack(keys), plan.data, n, plan.chunk_size, alive=np.ones(n_starts, bool),
                     progressbar=progressbar)
    losses = np.asarray(run.hist)
    final = np.where(run.alive, final_loss(np.where(np.isfinite(losses), losses, np.inf), n), np.inf)
    if not np.isfinite(final).any():
        raise FitError(f"all {n_starts} starts turned non-finite; try a smaller learning rate, better initial "
                       "values, or tighter priors.")
    best = int(np.argmin(final))
    state = jax.tree_util.tree_map(lambda leaf: leaf[best], run.state)
    return Approximation(plan.model, plan.family, state, keys[best], losses[best], plan.settings,
                         FitInfo(stop_reason=run.stop_reason, start_losses=final, best_start=best,
                                 map_result=map_results[best]), plan.placement)


def fit_mixture(plan: FitPlan, n: int, n_starts: int, progressbar: bool, callbacks, weights: str) -> Approximation:
    """Every start kept: one mixture approximation whose members run as one program (see ``cr.fit``'s
    ``keep``), weighted equally or by ``exp(ELBO)`` (``weights="elbo"``)."""
    mixture = Mixture(plan.family, n_starts)
    states, _, map_results = _start_states(plan, n_starts)
    state = mixture.combine(states, jnp.ones(n_starts, plan.position.dtype))
    approx = Approximation(plan.model, mixture, state, plan.key, np.zeros(0, np.float32), plan.settings,
                           FitInfo(map_result=map_results[0]), plan.placement)
    approx = approx.run(n, progressbar=progressbar, callbacks=callbacks)
    losses = member_losses(approx, MEMBER_ELBO_DRAWS)
    if weights == "elbo":
        live = np.asarray(mixture.weights(approx.state)) > 0
        elbo = np.where(live & np.isfinite(losses), -losses, -np.inf)
        approx = approx.with_weights(np.exp(elbo - elbo.max()))
    return dataclasses.replace(approx, info=dataclasses.replace(approx.info, start_losses=losses))


def member_losses(approx: Approximation, draws: int = MEMBER_ELBO_DRAWS, random_seed=0) -> np.ndarray:
    """Each member's negative ELBO, estimated with ``draws`` draws, for a mixture approximation (at the model's
    current data)."""
    if not isinstance(approx.family, Mixture):
        raise FitError(f"member_losses: the approximation is not a mixture ({approx.family.label}).")
    compiled = approx.compiled
    data = dict(approx.model.data_values)
    program = compiled.programs.get(MemberLosses(approx.family, int(draws), data_signature(data)), compiled)
    return np.asarray(program(approx.state, as_key(random_seed), data), np.float64)
