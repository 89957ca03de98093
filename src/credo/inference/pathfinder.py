"""Pathfinder (Zhang, Carpenter, Gelman and Vehtari 2022): normals along L-BFGS paths.

Each path runs L-BFGS on ``-log p`` from a jittered start and keeps every
iterate with its gradient and the diagonal of the inverse-Hessian estimate.
At each iterate the L-BFGS inverse Hessian (diagonal plus the rank ``2J``
correction of the last ``J`` position and gradient differences) is the
covariance of a normal centred one quasi-Newton step further; the iterate
whose normal has the highest ELBO (estimated with ``num_elbo_draws`` draws)
is the path's approximation. With several paths the approximation is the
equal-weight mixture of the paths' normals; ``sample(importance="psis")``
then gives the paper's multi-path draws (Pareto-smoothed importance
resampling, here with the mixture's density as the proposal, which weighs a
draw by how well all the paths together cover it).

The paths run at once (``jax.vmap``) inside one compiled program: L-BFGS in
a ``lax.while_loop`` that stops when every path has converged, then the
ELBO of every recorded iterate in a ``lax.map`` that skips the iterates past
the longest path.

From BlackJAX (:mod:`blackjax.optimizers.lbfgs`) come the recovery of the
inverse-Hessian diagonal along the path (``lbfgs_recover_alpha``, the
paper's Algorithm 3) and the factors of the inverse Hessian
(``lbfgs_inverse_hessian_factors``, formula II.2). Its driver
(``blackjax.vi.pathfinder.approximate``) does not fit: it runs every path
for ``maxiter`` iterations (a ``lax.cond`` in a ``lax.scan``, which becomes a
select under ``vmap``), and its normals are centred at ``x + H grad(-log p)``,
a step away from the mode instead of towards it (it hands the gradient of
the objective where the paper's ``mu = x + H grad log p`` needs that of the
log density), which the ELBO selection then hides by picking the iterates
nearest the mode. Its sampler ``bfgs_sample`` factorises the covariance
at every call; the normals here keep the factors as parameters.

A normal is stored as ``mean``, ``log_alpha`` (the diagonal), an
orthonormal ``basis`` ``Q`` (``d x r``, ``r = min(d, 2J)``) and a
lower-triangular ``factor`` ``L`` (``r x r``): ``x = mean + sqrt(alpha) *
(u + Q (L - I) Q^T u)`` for ``u ~ N(0, I)``, covariance
``diag(alpha) + sqrt(alpha) Q (L L^T - I) Q^T sqrt(alpha)``.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..errors import FitError
from .advi import LOG_2PI, ADVIState, VariationalAlgorithm
from .method import VariationalMethod

__all__ = ["PathfinderNormals", "PathfinderResult", "pathfinder_fn", "lbfgs_path", "difference_pairs", "normal_at"]

#: Largest number of function evaluations of one line search.
MAX_LINESEARCH_STEPS = 20
#: Stop a path when the objective's relative decrease falls below this.
RELATIVE_TOLERANCE = 1e-6
#: Stop a path when the gradient norm falls below this.
GRADIENT_TOLERANCE = 1e-8


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise FitError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


@dataclasses.dataclass(frozen=True)
class PathfinderNormals(VariationalMethod):
    """Pathfinder's approximation: the ELBO-best normal of each of ``num_paths`` L-BFGS paths, mixed equally.

    Options (each a field, so equal options share compiled programs):

    num_paths : int
        L-BFGS paths from independent jittered starts (default 4, as Stan).
    history_size : int
        L-BFGS history ``J``: the covariance is diagonal plus rank ``2J``.
    maxiter : int
        Largest number of L-BFGS iterations per path.
    num_elbo_draws : int
        Draws behind each iterate's ELBO estimate.
    jitter : float
        Each path starts at the initial point plus uniform(-jitter, jitter)
        noise in the unconstrained space (2, as Stan).
    """

    num_paths: int = 4
    history_size: int = 6
    maxiter: int = 1000
    num_elbo_draws: int = 25
    jitter: float = 2.0
    name: ClassVar[str] = "pathfinder"
    iterative: ClassVar[bool] = False

    def __post_init__(self):
        for name in ("num_paths", "history_size", "maxiter", "num_elbo_draws"):
            _positive_int(getattr(self, name), name)
        if isinstance(self.jitter, bool) or not isinstance(self.jitter, (int, float, np.number)) \
                or not np.isfinite(self.jitter) or self.jitter < 0:
            raise FitError(f"jitter must be a non-negative number; got {self.jitter!r}.")

    def rank(self, dim: int) -> int:
        return min(int(dim), 2 * int(self.history_size))

    # --- the method interface --------------------------------------------------------------
    def algorithm(self, logdensity_fn, optimizer, num_mc) -> VariationalAlgorithm:
        """``init`` gives the state's layout (unit normals at ``position``); Pathfinder takes no steps."""
        del logdensity_fn, optimizer, num_mc

        def init(position, std=None, cholesky=None, whiten=False, key=None) -> ADVIState:
            del std, cholesky, whiten, key
            return ADVIState(unit_normals(jnp.asarray(position), self.num_paths, self.rank(position.shape[-1])),
                             None, jnp.zeros((), jnp.int32), None)

        def step(key, state, data):  # pragma: no cover - refine refuses one-shot methods
            raise FitError("Pathfinder is one-shot: it takes no steps.")

        return VariationalAlgorithm(init, step, step)

    def draw(self, key, state, num: int):
        params = state.params
        component_key, noise_key = jax.random.split(key)
        mean = params["mean"]
        noise = jax.random.normal(noise_key, (num, mean.shape[-1]), mean.dtype)
        draws = jax.vmap(lambda p: _transform(p, noise))(params)  # (paths, num, d)
        if mean.shape[0] == 1:
            return draws[0]
        component = jax.random.randint(component_key, (num,), 0, mean.shape[0])
        return draws[component, jnp.arange(num)]

    def state_log_prob(self, state, x):
        params = state.params
        per_path = jax.vmap(lambda p: _log_prob(p, x))(params)  # (paths, ...)
        return jax.scipy.special.logsumexp(per_path, axis=0) - jnp.log(params["mean"].shape[0])

    def state_mean(self, state):
        return jnp.mean(state.params["mean"], axis=0)

    def state_std(self, state):
        params = state.params
        variance = jax.vmap(_variance)(params)
        second = jnp.mean(variance + params["mean"] ** 2, axis=0)
        return jnp.sqrt(jnp.maximum(second - self.state_mean(state) ** 2, 0.0))

    def state_covariance(self, state):
        params = state.params
        covariance = jax.vmap(_covariance)(params)
        mean = params["mean"]
        second = jnp.mean(covariance + mean[:, :, None] * mean[:, None, :], axis=0)
        overall = self.state_mean(state)
        return second - overall[:, None] * overall[None, :]


def unit_normals(position: jax.Array, num_paths: int, rank: int) -> dict:
    """Parameters of ``num_paths`` standard normals at ``position`` (the layout of a Pathfinder state)."""
    dim = position.shape[-1]
    dtype = position.dtype
    basis = jnp.eye(dim, rank, dtype=dtype)
    return {
        "mean": jnp.broadcast_to(position, (num_paths, dim)),
        "log_alpha": jnp.zeros((num_paths, dim), dtype),
        "basis": jnp.broadcast_to(basis, (num_paths, dim, rank)),
        "factor": jnp.broadcast_to(jnp.eye(rank, dtype=dtype), (num_paths, rank, rank)),
    }


# --- one normal ------------------------------------------------------------------------------

def _transform(params: dict, noise: jax.Array) -> jax.Array:
    """``mean + sqrt(alpha) * (u + Q (L - I) Q^T u)`` for each row ``u`` of ``noise``."""
    basis, factor = params["basis"], params["factor"]
    projected = noise @ basis
    correction = projected @ (factor - jnp.eye(factor.shape[0], dtype=factor.dtype)).T @ basis.T
    return params["mean"] + jnp.exp(0.5 * params["log_alpha"]) * (noise + correction)


def _log_prob(params: dict, x: jax.Array) -> jax.Array:
    basis, factor = params["basis"], params["factor"]
    scaled = (x - params["mean"]) * jnp.exp(-0.5 * params["log_alpha"])
    projected = scaled @ basis  # (..., r)
    solved = jax.scipy.linalg.solve_triangular(factor, jnp.moveaxis(projected, -1, 0), lower=True)
    noise = scaled + (jnp.moveaxis(solved, 0, -1) - projected) @ basis.T
    log_det = jnp.sum(params["log_alpha"]) + 2 * jnp.sum(jnp.log(jnp.abs(jnp.diag(factor))))
    return -0.5 * (log_det + jnp.sum(noise**2, axis=-1) + x.shape[-1] * LOG_2PI)


def _middle(params: dict) -> jax.Array:
    factor = params["factor"]
    return factor @ factor.T - jnp.eye(factor.shape[0], dtype=factor.dtype)


def _variance(params: dict) -> jax.Array:
    basis = params["basis"]
    return jnp.exp(params["log_alpha"]) * (1.0 + jnp.sum((basis @ _middle(params)) * basis, axis=1))


def _covariance(params: dict) -> jax.Array:
    scale = jnp.exp(0.5 * params["log_alpha"])
    scaled_basis = scale[:, None] * params["basis"]
    return jnp.diag(scale**2) + scaled_basis @ _middle(params) @ scaled_basis.T


# --- the L-BFGS path -------------------------------------------------------------------------

class LBFGSPath(NamedTuple):
    """One path: ``maxiter + 1`` slots, the first ``num_iterations + 1`` filled.

    Attributes
    ----------
    positions, gradients : Array, shape (maxiter + 1, d)
        Iterates and the gradients of ``log p`` there.
    alphas : Array, shape (maxiter + 1, d)
        The inverse-Hessian diagonal estimated at each iterate.
    accepted : Array, shape (maxiter + 1,)
        Whether the difference pair leading to each iterate satisfied the
        curvature condition (and so enters the inverse-Hessian estimate).
    num_iterations : Array
        Iterations run.
    """

    positions: jax.Array
    gradients: jax.Array
    alphas: jax.Array
    accepted: jax.Array
    num_iterations: jax.Array


def lbfgs_path(logdensity_fn: Callable, position: jax.Array, data: Any, *, maxiter: int,
               history_size: int) -> LBFGSPath:
    """L-BFGS on ``-logdensity_fn`` from ``position``, every iterate recorded (see the module doc)."""
    from blackjax.optimizers.lbfgs import lbfgs_recover_alpha

    def objective(x):
        return -logdensity_fn(x, data)

    optimizer = optax.lbfgs(memory_size=history_size, linesearch=optax.scale_by_zoom_linesearch(
        max_linesearch_steps=MAX_LINESEARCH_STEPS, initial_guess_strategy="one"))
    value_and_grad_fn = optax.value_and_grad_from_state(objective)
    value, grad = jax.value_and_grad(objective)(position)
    slots = maxiter + 1
    record = LBFGSPath(
        jnp.zeros((slots,) + position.shape, position.dtype).at[0].set(position),
        jnp.zeros((slots,) + position.shape, position.dtype).at[0].set(-grad),
        jnp.ones((slots,) + position.shape, position.dtype),
        jnp.zeros(slots, bool),
        jnp.zeros((), jnp.int32),
    )

    class Carry(NamedTuple):
        x: jax.Array
        state: Any
        value: jax.Array
        grad: jax.Array
        alpha: jax.Array
        record: LBFGSPath
        running: jax.Array

    def step(carry: Carry) -> Carry:
        updates, state = optimizer.update(carry.grad, carry.state, carry.x, value=carry.value, grad=carry.grad,
                                          value_fn=objective)
        x = optax.apply_updates(carry.x, updates)
        value, grad = value_and_grad_fn(x, state=state)
        alpha, accepted = lbfgs_recover_alpha(carry.alpha, x - carry.x, grad - carry.grad)
        finite = jnp.isfinite(value) & jnp.all(jnp.isfinite(grad))
        count = carry.record.num_iterations + finite.astype(jnp.int32)
        slot = jnp.where(finite, count, maxiter)  # a failed step writes only to a slot no ELBO reads
        old = carry.record
        record = LBFGSPath(old.positions.at[slot].set(x), old.gradients.at[slot].set(-grad),
                           old.alphas.at[slot].set(alpha), old.accepted.at[slot].set(jnp.all(accepted)), count)
        decrease = jnp.abs(carry.value - value) / jnp.maximum(jnp.maximum(jnp.abs(carry.value), jnp.abs(value)), 1.0)
        running = (finite & (count < maxiter) & (decrease > RELATIVE_TOLERANCE)
                   & (jnp.linalg.norm(grad) > GRADIENT_TOLERANCE) & jnp.any(x != carry.x))
        keep = lambda new, previous: jnp.where(finite, new, previous)  # noqa: E731
        return Carry(keep(x, carry.x), state, keep(value, carry.value), keep(grad, carry.grad),
                     keep(alpha, carry.alpha), record, running)

    start = Carry(position, optimizer.init(position), value, grad, jnp.ones_like(position), record,
                  jnp.isfinite(value) & jnp.all(jnp.isfinite(grad)))
    return jax.lax.while_loop(lambda carry: carry.running, step, start).record


# --- the normal at an iterate ----------------------------------------------------------------

def difference_pairs(path: LBFGSPath, history_size: int) -> tuple[jax.Array, jax.Array]:
    """The path's position and objective-gradient differences, zero where rejected, with ``history_size``
    rows of zeros in front (so that every iterate has a full window). Computed once per path."""
    differences = jnp.diff(path.positions, axis=0)
    # The objective's gradient differences: gradients holds grad log p.
    gradient_differences = -jnp.diff(path.gradients, axis=0)
    accepted = path.accepted[1:, None]
    pad = ((history_size, 0), (0, 0))
    return (jnp.pad(jnp.where(accepted, differences, 0.0), pad),
            jnp.pad(jnp.where(accepted, gradient_differences, 0.0), pad))


def normal_at(path: LBFGSPath, pairs: tuple[jax.Array, jax.Array], index: jax.Array, history_size: int) -> dict:
    """The parameters of the Pathfinder normal at iterate ``index`` of ``path`` (``pairs`` from
    :func:`difference_pairs`)."""
    from blackjax.optimizers.lbfgs import lbfgs_inverse_hessian_factors

    window = index + jnp.arange(history_size)
    differences, gradient_differences = pairs
    alpha = path.alphas[index]
    beta, gamma = lbfgs_inverse_hessian_factors(differences[window].T, gradient_differences[window].T, alpha)
    position, gradient = path.positions[index], path.gradients[index]
    mean = position + alpha * gradient + beta @ (gamma @ (beta.T @ gradient))
    basis, upper = jnp.linalg.qr(beta / jnp.sqrt(alpha)[:, None], mode="reduced")
    rank = min(position.shape[-1], 2 * history_size)
    basis, upper = basis[:, :rank], upper[:rank]
    factor = jnp.linalg.cholesky(jnp.eye(rank, dtype=alpha.dtype) + upper @ gamma @ upper.T)
    return {"mean": mean, "log_alpha": jnp.log(alpha), "basis": basis, "factor": factor}


def _elbo(logdensity_fn, data, params: dict, key, num: int) -> jax.Array:
    draws = _transform(params, jax.random.normal(key, (num, params["mean"].shape[-1]), params["mean"].dtype))
    log_p = jax.vmap(logdensity_fn, (0, None))(draws, data)
    value = jnp.mean(log_p - _log_prob(params, draws))
    finite = jnp.isfinite(value) & jnp.all(jnp.isfinite(params["factor"]))
    return jnp.where(finite, value, -jnp.inf)


class PathfinderResult(NamedTuple):
    """What :func:`pathfinder_fn` returns.

    Attributes
    ----------
    params : dict of Array
        The ELBO-best normal of each path, stacked on a leading path axis.
    elbo : Array, shape (paths, maxiter + 1)
        The ELBO estimate of every iterate's normal (-inf past a path's end).
    best : Array, shape (paths,)
        The iterate each path keeps.
    num_iterations : Array, shape (paths,)
        L-BFGS iterations of each path.
    """

    params: dict
    elbo: jax.Array
    best: jax.Array
    num_iterations: jax.Array


def pathfinder_fn(logdensity_fn: Callable, method: PathfinderNormals) -> Callable:
    """``run(key, initial_positions, data) -> PathfinderResult``: every path of Pathfinder, to be jitted."""
    return functools.partial(_pathfinder, logdensity_fn=logdensity_fn, maxiter=int(method.maxiter),
                             history_size=int(method.history_size), num_elbo_draws=int(method.num_elbo_draws))


def _pathfinder(key, initial_positions, data, *, logdensity_fn, maxiter, history_size, num_elbo_draws):
    paths = jax.vmap(lambda x: lbfgs_path(logdensity_fn, x, data, maxiter=maxiter,
                                          history_size=history_size))(initial_positions)
    pairs = jax.vmap(lambda path: difference_pairs(path, history_size))(paths)
    longest = jnp.max(paths.num_iterations)
    num_paths = initial_positions.shape[0]

    def at(index):
        keys = jax.random.split(jax.random.fold_in(key, index), num_paths)

        def one(path, path_pairs, path_key):
            params = normal_at(path, path_pairs, index, history_size)
            value = _elbo(logdensity_fn, data, params, path_key, num_elbo_draws)
            return params, jnp.where(index <= path.num_iterations, value, -jnp.inf)

        return jax.vmap(one)(paths, pairs, keys)

    def visit(best, index):
        """Keep each path's best normal so far; the iterates past the longest path are skipped."""
        def compute(best):
            params, elbo = at(index)
            better = elbo > best[1]
            keep = lambda new, old: jnp.where(better.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)  # noqa: E731
            return (jax.tree_util.tree_map(keep, params, best[0]), jnp.where(better, elbo, best[1]),
                    jnp.where(better, index, best[2])), elbo

        return jax.lax.cond(index <= longest, compute, lambda best: (best, jnp.full(num_paths, -jnp.inf)), best)

    shapes = jax.eval_shape(lambda: at(0)[0])
    start = (jax.tree_util.tree_map(lambda shape: jnp.zeros(shape.shape, shape.dtype), shapes),
             jnp.full(num_paths, -jnp.inf, initial_positions.dtype), jnp.zeros(num_paths, jnp.int32))
    (params, _, best), elbo = jax.lax.scan(visit, start, jnp.arange(maxiter + 1))
    return PathfinderResult(params, elbo.T, best, paths.num_iterations)
