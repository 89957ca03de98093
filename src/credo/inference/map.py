"""Posterior mode and Laplace approximation on a flat log density.

:func:`optimize_lbfgs` maximises ``logdensity_fn(position, data)`` over a flat
1-D unconstrained position with optax's L-BFGS and zoom line search, the whole
loop compiled as one ``lax.while_loop``.  :func:`laplace_covariance` and
:func:`laplace_cholesky` turn the curvature at the mode into the covariance of
a Gaussian approximation of the posterior.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.tree_utils as otu

from ..errors import FitError

__all__ = ["MAPResult", "laplace_cholesky", "laplace_covariance", "optimize_lbfgs", "lbfgs_fn", "laplace_fn",
           "LBFGSCarry", "LBFGSSteps", "lbfgs_steps", "flat_position"]

LogDensityFn = Callable[[jax.Array, Any], jax.Array]

#: Largest number of function evaluations of one line search.
MAX_LINESEARCH_STEPS = 20


class MAPResult(NamedTuple):
    """Outcome of :func:`optimize_lbfgs`.

    Attributes
    ----------
    position : Array, shape (d,)
        The best position found (the mode when ``converged``).
    logdensity : Array, scalar
        Log density at ``position``.
    num_iterations : Array, scalar int
        L-BFGS iterations run.
    converged : Array, scalar bool
        Whether the gradient norm fell below the tolerance.
    grad_norm : Array, scalar
        Euclidean norm of the log density's gradient at ``position``.
    """

    position: jax.Array
    logdensity: jax.Array
    num_iterations: jax.Array
    converged: jax.Array
    grad_norm: jax.Array


def flat_position(position: Any, what: str) -> jax.Array:
    """``position`` as a flat floating array, else a FitError naming ``what``."""
    position = jnp.asarray(position)
    if not jnp.issubdtype(position.dtype, jnp.floating):
        position = position.astype(jnp.result_type(float))
    if position.ndim != 1:
        raise FitError(f"{what} must be a flat 1-D array, got shape {tuple(position.shape)}.")
    return position


def lbfgs_fn(logdensity_fn: LogDensityFn, maxiter: int) -> Callable[[jax.Array, Any, jax.Array], MAPResult]:
    """``run(initial_position, data, tolerance) -> MAPResult``: the whole L-BFGS loop, to be jitted."""
    return functools.partial(_lbfgs, logdensity_fn=logdensity_fn, maxiter=int(maxiter))


class LBFGSCarry(NamedTuple):
    """The state of an L-BFGS search between calls of :func:`lbfgs_steps`.

    Attributes
    ----------
    position : Array, shape (d,)
    state : optax.OptState
        optax's L-BFGS state (iteration count, memory, value and gradient).
    moved : Array, scalar bool
        Whether the last iteration changed the position.
    """

    position: jax.Array
    state: Any
    moved: jax.Array


def _lbfgs_parts(logdensity_fn: LogDensityFn, maxiter: int | None):
    """``(init, step, running, finish)`` of an L-BFGS search (see :func:`optimize_lbfgs`); ``running``
    ignores the iteration count where ``maxiter`` is None (the caller bounds it)."""
    optimizer = optax.lbfgs(
        linesearch=optax.scale_by_zoom_linesearch(
            max_linesearch_steps=MAX_LINESEARCH_STEPS, initial_guess_strategy="one"
        )
    )

    def init(initial_position: jax.Array) -> LBFGSCarry:
        # optax's state holds weakly typed scalars, which its update makes strong: strong from the start,
        # so that the state a call returns has the types of the one it was given (one compiled program)
        state = jax.tree_util.tree_map(lambda leaf: jnp.asarray(leaf, leaf.dtype), optimizer.init(initial_position))
        return LBFGSCarry(initial_position, state, jnp.array(True))

    def step(carry: LBFGSCarry, data: Any) -> LBFGSCarry:
        objective_fn = lambda position: -logdensity_fn(position, data)  # noqa: E731
        value, grad = optax.value_and_grad_from_state(objective_fn)(carry.position, state=carry.state)
        updates, state = optimizer.update(
            grad, carry.state, carry.position,
            value=value, grad=grad, value_fn=objective_fn,
        )
        position = optax.apply_updates(carry.position, updates)
        return LBFGSCarry(position, state, jnp.any(position != carry.position))

    def running(carry: LBFGSCarry, tolerance: jax.Array) -> jax.Array:
        iteration = otu.tree_get(carry.state, "count")
        value = otu.tree_get(carry.state, "value")
        grad_norm = otu.tree_norm(otu.tree_get(carry.state, "grad"))
        # Stop at the tolerance, at maxiter, when the line search can no longer
        # move the position (the precision of the dtype is exhausted) or when
        # the objective stops being finite.
        keep_going = (grad_norm >= tolerance) & carry.moved & jnp.isfinite(value)
        if maxiter is not None:
            keep_going = keep_going & (iteration < maxiter)
        return (iteration == 0) | keep_going

    def finish(carry: LBFGSCarry, data: Any, tolerance: jax.Array) -> MAPResult:
        logdensity, grad = jax.value_and_grad(lambda x: logdensity_fn(x, data))(carry.position)
        grad_norm = jnp.linalg.norm(grad)
        return MAPResult(
            position=carry.position,
            logdensity=logdensity,
            num_iterations=otu.tree_get(carry.state, "count"),
            converged=jnp.isfinite(logdensity) & (grad_norm < tolerance),
            grad_norm=grad_norm,
        )

    return init, step, running, finish


def _lbfgs(
    initial_position: jax.Array,
    data: Any,
    tolerance: jax.Array,
    *,
    logdensity_fn: LogDensityFn,
    maxiter: int,
) -> MAPResult:
    """The whole L-BFGS loop (see :func:`optimize_lbfgs`)."""
    init, step, running, finish = _lbfgs_parts(logdensity_fn, maxiter)
    final = jax.lax.while_loop(lambda carry: running(carry, tolerance), lambda carry: step(carry, data),
                               init(initial_position))
    return finish(final, data, tolerance)


class LBFGSSteps(NamedTuple):
    """The pieces of an L-BFGS search run in calls of a bounded number of iterations.

    ``init(position) -> LBFGSCarry``; ``advance(carry, data, tolerance,
    until) -> (carry, running)`` iterates while the search runs and its
    iteration count is below ``until`` (traced: one program for any bound);
    ``finish(carry, data, tolerance) -> MAPResult``. The iterations are those
    of :func:`optimize_lbfgs`'s single loop, whatever the bounds.
    """

    init: Callable
    advance: Callable
    finish: Callable


def lbfgs_steps(logdensity_fn: LogDensityFn, jit: Callable = jax.jit) -> LBFGSSteps:
    """An L-BFGS search as :class:`LBFGSSteps`, each piece compiled with ``jit`` (the caller bounds the
    iterations with ``until``: one program for any ``maxiter``)."""
    init, step, running, finish = _lbfgs_parts(logdensity_fn, None)

    def advance(carry: LBFGSCarry, data: Any, tolerance: jax.Array, until: jax.Array):
        count = lambda carry: otu.tree_get(carry.state, "count")  # noqa: E731
        carry = jax.lax.while_loop(lambda carry: running(carry, tolerance) & (count(carry) < until),
                                   lambda carry: step(carry, data), carry)
        return carry, running(carry, tolerance)

    return LBFGSSteps(jit(init), jit(advance), jit(finish))


def optimize_lbfgs(
    logdensity_fn: LogDensityFn,
    initial_position: jax.Array,
    data: Any,
    *,
    maxiter: int = 1000,
    tolerance: float = 1e-6,
    program: Callable | None = None,
) -> MAPResult:
    """Find the mode of a flat log density with L-BFGS.

    Minimises ``-logdensity_fn(position, data)`` with optax's L-BFGS and
    zoom line search (strong Wolfe conditions).  The loop runs inside one
    compiled ``lax.while_loop`` and stops when the gradient's Euclidean norm
    falls below ``tolerance``, after ``maxiter`` iterations, when the line
    search can no longer move the position, or when the log density stops
    being finite.

    Parameters
    ----------
    logdensity_fn : callable
        ``logdensity_fn(position, data) -> scalar`` on a flat 1-D
        unconstrained position.
    initial_position : array, shape (d,)
        Starting point; its floating dtype sets the dtype of the search.
    data : pytree of arrays
        Passed to ``logdensity_fn``; an argument of the compiled loop, never
        baked into it.
    maxiter : int, default 1000
        Largest number of L-BFGS iterations.
    tolerance : float, default 1e-6
        Convergence threshold on the gradient norm.  In float32 a gradient
        norm that small may be out of reach for large or badly scaled
        problems; the search then stops once it can no longer move, with
        ``converged=False``.
    program : callable, optional
        The compiled loop, ``jax.jit(lbfgs_fn(logdensity_fn, maxiter))``, to
        reuse across calls (model drivers keep one per model); compiled
        afresh when not given.

    Returns
    -------
    MAPResult
        ``position``, ``logdensity``, ``num_iterations``, ``converged`` and
        ``grad_norm`` (as JAX arrays).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> def logdensity_fn(position, data):
    ...     return -0.5 * jnp.sum((position - data["mean"]) ** 2)
    >>> result = optimize_lbfgs(logdensity_fn, jnp.zeros(2),
    ...                         {"mean": jnp.array([1.0, -2.0])})
    >>> bool(result.converged), result.position.round(4).tolist()
    (True, [1.0, -2.0])
    """
    initial_position = flat_position(initial_position, "optimize_lbfgs: initial_position")
    if maxiter < 1:
        raise FitError(f"optimize_lbfgs: maxiter must be at least 1, got {maxiter}.")
    if program is None:
        program = jax.jit(lbfgs_fn(logdensity_fn, maxiter))
    return program(initial_position, data, jnp.asarray(tolerance, initial_position.dtype))


def _precision(logdensity_fn: LogDensityFn, position: jax.Array, data: Any) -> jax.Array:
    """The symmetrised negative Hessian.

    Reverse mode twice rather than ``jax.hessian``'s forward over reverse: a
    model may hold functions with a custom reverse-mode rule only (cr.nn's
    convolutions), which forward mode cannot differentiate.
    """
    hessian = jax.jacrev(jax.jacrev(lambda x: logdensity_fn(x, data)))(position)
    return -0.5 * (hessian + hessian.T)


def laplace_fn(logdensity_fn: LogDensityFn) -> Callable[[jax.Array, Any], tuple[jax.Array, ...]]:
    """``run(position, data) -> (covariance, its Cholesky factor, the precision's, the precision)``, to
    be jitted (NaN factors where the negative Hessian is not positive definite)."""

    def run(position: jax.Array, data: Any) -> tuple[jax.Array, ...]:
        precision = _precision(logdensity_fn, position, data)
        precision_cholesky = jnp.linalg.cholesky(precision)
        identity = jnp.eye(position.shape[0], dtype=precision_cholesky.dtype)
        covariance = jax.scipy.linalg.cho_solve((precision_cholesky, True), identity)
        covariance = 0.5 * (covariance + covariance.T)
        return covariance, jnp.linalg.cholesky(covariance), precision_cholesky, precision

    return run


def _checked_laplace(
    logdensity_fn: LogDensityFn, position: jax.Array, data: Any, caller: str, program: Callable | None = None
) -> tuple[jax.Array, jax.Array]:
    position = flat_position(position, f"{caller}: position")
    if program is None:
        program = jax.jit(laplace_fn(logdensity_fn))
    covariance, covariance_cholesky, precision_cholesky, precision = program(position, data)
    if not (
        np.all(np.isfinite(precision_cholesky))
        and np.all(np.isfinite(covariance_cholesky))
    ):
        eigenvalues = np.linalg.eigvalsh(np.asarray(precision, dtype=np.float64))
        raise FitError(
            f"{caller}: the curvature of the log density at this position is not "
            "positive definite (smallest eigenvalue of the negative Hessian: "
            f"{eigenvalues.min():.3g}), so it is not a mode and has no Laplace "
            "approximation. The optimiser may have stopped at a saddle point or "
            "before converging: run optimize_lbfgs with more iterations (maxiter) "
            "or a tighter tolerance, check that result.converged is True, or "
            "start from another initial position."
        )
    return covariance, covariance_cholesky


def laplace_covariance(
    logdensity_fn: LogDensityFn, position: jax.Array, data: Any
) -> jax.Array:
    """Covariance of the Laplace approximation at a mode.

    The inverse of the negative Hessian of ``logdensity_fn`` at ``position``
    (computed with ``jax.hessian``), symmetrised.

    Parameters
    ----------
    logdensity_fn : callable
        ``logdensity_fn(position, data) -> scalar`` on a flat 1-D position.
    position : array, shape (d,)
        The mode, e.g. ``optimize_lbfgs(...).position``.
    data : pytree of arrays
        Passed to ``logdensity_fn``.

    Returns
    -------
    Array, shape (d, d)
        The covariance matrix.

    Raises
    ------
    ValueError
        (:class:`credo.errors.FitError`) if the negative Hessian is not
        positive definite: ``position`` is not a mode (a saddle, or the
        optimiser stopped too early).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> def logdensity_fn(position, data):
    ...     return -0.5 * jnp.sum(position ** 2 / data["variance"])
    >>> laplace_covariance(logdensity_fn, jnp.zeros(2),
    ...                    {"variance": jnp.array([4.0, 0.25])}).tolist()
    [[4.0, 0.0], [0.0, 0.25]]
    """
    covariance, _ = _checked_laplace(logdensity_fn, position, data, "laplace_covariance")
    return covariance


def laplace_cholesky(
    logdensity_fn: LogDensityFn, position: jax.Array, data: Any, program: Callable | None = None
) -> jax.Array:
    """Lower Cholesky factor of the Laplace covariance at a mode.

    ``L`` with ``L @ L.T == laplace_covariance(logdensity_fn, position,
    data)``, so that ``position + L @ z`` with ``z ~ N(0, I)`` draws from
    the Laplace approximation.

    Parameters
    ----------
    logdensity_fn : callable
        ``logdensity_fn(position, data) -> scalar`` on a flat 1-D position.
    position : array, shape (d,)
        The mode.
    data : pytree of arrays
        Passed to ``logdensity_fn``.
    program : callable, optional
        ``jax.jit(laplace_fn(logdensity_fn))``, to reuse across calls.

    Returns
    -------
    Array, shape (d, d)
        Lower-triangular factor of the covariance.

    Raises
    ------
    ValueError
        (:class:`credo.errors.FitError`) if the negative Hessian is not
        positive definite.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> def logdensity_fn(position, data):
    ...     return -0.5 * jnp.sum(position ** 2 / data["variance"])
    >>> mode = jnp.zeros(2)
    >>> chol = laplace_cholesky(logdensity_fn, mode, {"variance": jnp.array([4.0, 1.0])})
    >>> draws = mode + jax.random.normal(jax.random.key(0), (1000, 2)) @ chol.T
    """
    _, covariance_cholesky = _checked_laplace(
        logdensity_fn, position, data, "laplace_cholesky", program
    )
    return covariance_cholesky
