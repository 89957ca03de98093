"""The Pathfinder driver: ``cr.fit(method="pathfinder")`` and ``cr.sample(init="pathfinder")``.

One compiled call runs every path (:class:`~credo.inference.programs.PathfinderRun`);
the result is a frozen :class:`~credo.inference.approximation.Approximation`
whose state holds the paths' ELBO-best normals (see
:mod:`credo.inference.pathfinder`).
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import FitError
from ..model.core import Model
from ..model.placement import Placement
from ..model.programs import data_signature
from .advi import ADVIState
from .approximation import Approximation, FitInfo, FitSettings
from .diagnostics import importance_draws, psis
from .pathfinder import PathfinderNormals
from .programs import PathfinderRun

__all__ = ["fit_pathfinder", "pathfinder_initial_positions", "INIT_PATHS", "INIT_POOL"]

#: Paths run to start NUTS chains (``cr.sample(init="pathfinder")``), as Stan.
INIT_PATHS = 4
#: Draws from the Pathfinder mixture that the chains' starts are resampled from.
INIT_POOL = 1000


def fit_pathfinder(model: Model, method: PathfinderNormals, key: jax.Array,
                   start: Mapping | None = None, placement: Placement | None = None) -> Approximation:
    """Run Pathfinder on ``model`` (see :func:`credo.fit` with ``method="pathfinder"``).

    The approximation's ``hist`` is the negative ELBO estimate of the normal
    at every iterate of the path kept (the path whose best normal has the
    highest ELBO); ``start_losses`` holds each path's best negative ELBO,
    ``best_start`` the path kept in ``hist``; ``num_steps`` is that path's
    L-BFGS iterations. A path whose every normal failed (no finite ELBO)
    is replaced by the best path's normal.
    """
    compiled = model.compile()
    data = model.placed_data(placement).arrays
    position = compiled.position_from_point(start)
    jitter_key, run_key = jax.random.split(key)
    jitter = jax.random.uniform(jitter_key, (method.num_paths,) + position.shape, position.dtype,
                                -method.jitter, method.jitter)
    program = compiled.programs.get(PathfinderRun(method, data_signature(data)), compiled)
    result = jax.device_get(program(run_key, position + jitter, data))
    elbo = np.asarray(result.elbo, np.float64)
    best = np.asarray(result.best)
    best_elbo = elbo[np.arange(method.num_paths), best]
    if not np.isfinite(best_elbo).any():
        raise FitError(f"pathfinder: none of the {method.num_paths} paths found a normal with a finite ELBO: the "
                       "log density may not be finite around the starts; give start values inside the support, or "
                       "check the priors and data.")
    kept = int(np.argmax(np.where(np.isfinite(best_elbo), best_elbo, -np.inf)))
    failed = ~np.isfinite(best_elbo)
    params = {name: np.where(failed.reshape((-1,) + (1,) * (value.ndim - 1)), value[kept], value)
              for name, value in result.params.items()}
    iterations = int(np.asarray(result.num_iterations)[kept])
    hist = -elbo[kept, : iterations + 1]
    state = ADVIState({name: jnp.asarray(value) for name, value in params.items()}, None,
                      jnp.asarray(iterations, jnp.int32), None)
    return Approximation(model, method, state, key, np.where(np.isfinite(hist), hist, np.inf),
                         FitSettings(None, int(method.num_elbo_draws), 1),
                         FitInfo(start_losses=-best_elbo, best_start=kept), placement)


def pathfinder_initial_positions(model: Model, chains: int, key: jax.Array, start: Mapping | None = None,
                                 num_paths: int = INIT_PATHS, placement: Placement | None = None) -> jax.Array:
    """``chains`` starts for NUTS: multi-path Pathfinder, then Pareto-smoothed importance resampling of
    :data:`INIT_POOL` mixture draws, without replacement (distinct starts) while the weights allow."""
    fit_key, draw_key, choice_key = jax.random.split(key, 3)
    approx = fit_pathfinder(model, PathfinderNormals(num_paths=num_paths), fit_key, start, placement)
    flat, log_ratios = importance_draws(approx, draw_key, max(INIT_POOL, chains))
    log_weights, _ = psis(log_ratios)
    weights = np.exp(log_weights - log_weights.max())
    weights /= weights.sum()
    rng = np.random.default_rng(np.asarray(jax.random.key_data(choice_key)).ravel().astype(np.uint64))
    replace = int(np.count_nonzero(weights)) < chains
    return jnp.asarray(flat[rng.choice(len(weights), size=chains, replace=replace, p=weights)])
