"""The posterior mode (``cr.find_MAP``) and the Laplace approximation at it.

Both work on the model's flat unconstrained log density (Jacobians included,
as PyMC's ``find_MAP`` does since 5.0) with the compiled L-BFGS of
:mod:`credo.inference.map`. The Laplace approximation is the Gaussian at the
mode with the inverse negative Hessian there as covariance, returned as a
full-rank :class:`~credo.inference.approximation.Approximation`: it samples
and predicts like any other, and ``refine(n)`` continues it as full-rank ADVI.
"""

from __future__ import annotations

import time
import warnings
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax.tree_utils

from ..errors import FitError
from ..model.compile import check_data
from ..model.core import Model, modelcontext
from ..model.placement import Placement, placement_for
from ..model.programs import data_signature
from .advi import FullRank
from .approximation import Approximation
from .driver import CallSizer, InterruptFlag, committed_like, user_stacklevel
from .map import MAPResult, flat_position, laplace_cholesky
from .optimizers import as_optimizer
from .programs import LBFGS, Constrain, Laplace, LogDensity
from .checks import check_bool, check_model_argument, check_seed, positive_int
from .results import as_key

__all__ = ["find_MAP", "laplace", "laplace_start", "MAP_METHODS"]

#: Names ``find_MAP(method=...)`` accepts (all run optax's L-BFGS with a zoom line search).
MAP_METHODS = ("lbfgs", "l-bfgs", "l-bfgs-b", "bfgs")
#: L-BFGS iterations used when a fit starts at the MAP (``init="map"``).
INIT_MAP_MAXITER = 1000
#: Steps per compiled chunk when a Laplace approximation is continued as full-rank ADVI.
LAPLACE_CHUNK_SIZE = 1000


def _checked_model(model: Model, what: str):
    compiled = model.compile()
    if compiled.dim == 0:
        raise FitError(f"{what}: the model has no free variables.")
    if compiled.discrete_free:
        raise FitError(f"{what}: the free variables {compiled.discrete_free} are discrete; the mode is found "
                       "over continuous ones.")
    check_data(model)
    return compiled


def run_map(compiled, position: jax.Array, data, maxiter: int, tolerance: float, what: str,
            keep_interrupted: bool = False) -> MAPResult:
    """L-BFGS from ``position``; a clear error if the log density is not finite there or at the end.

    The search runs in compiled calls sized to about a quarter of a second.
    At Ctrl-C: with ``keep_interrupted`` the point reached is returned with a
    warning naming the iteration (``converged`` False); else
    ``KeyboardInterrupt`` is raised after the running call.
    """
    start_value = float(compiled.programs.get(LogDensity(data_signature(data)), compiled)(position, data))
    if not np.isfinite(start_value):
        why = compiled.describe_nonfinite(position, data)
        raise FitError(f"{what}: the log density is {start_value} at the starting point{': ' + why if why else ''}; "
                       "give start values inside the support, or check the priors and data.")
    position = flat_position(position, f"{what}: the start")
    steps = compiled.programs.get(LBFGS(data_signature(data)), compiled)
    tolerance = jnp.asarray(tolerance, position.dtype)
    carry, running, done = committed_like(steps.init(position), data), True, 0
    sizer = CallSizer(int(maxiter), first=5)
    with InterruptFlag() as interrupt:
        while running and done < maxiter and not interrupt.requested:
            began = time.perf_counter()
            until = min(int(maxiter), done + sizer.next())
            carry, running = steps.advance(carry, data, tolerance, jnp.asarray(until, jnp.int32))
            running = bool(running)
            now = _iterations(carry)
            sizer.record(max(now - done, 1), time.perf_counter() - began, interrupt)
            done = now
    result = steps.finish(carry, data, tolerance)
    if interrupt.requested and running and done < maxiter:
        if not keep_interrupted:
            raise KeyboardInterrupt
        warnings.warn(f"{what} interrupted at iteration {done}: returning the point reached there, which is not "
                      "the mode.", stacklevel=user_stacklevel())
    if not np.isfinite(float(result.logdensity)) or not np.all(np.isfinite(np.asarray(result.position))):
        raise FitError(f"{what}: L-BFGS left the region where the log density is finite (log density "
                       f"{float(result.logdensity)}): the posterior may have no mode (an unbounded density, as "
                       "in a centred hierarchical model); try other start values or a non-centred model.")
    return result


def _iterations(carry) -> int:
    return int(optax.tree_utils.tree_get(carry.state, "count"))


def find_MAP(
    start: Mapping | None = None,
    method: str = "lbfgs",
    maxiter: int = 1000,
    tolerance: float = 1e-6,
    random_seed=None,
    jitter: float = 0.0,
    return_raw: bool = False,
    progressbar: bool = False,
    model: Model | None = None,
    devices=None,
):
    """The posterior mode, found with L-BFGS in the unconstrained space.

    Parameters
    ----------
    start : dict, optional
        Constrained start values of some free variables (the others start at
        their initial values).
    method : str
        ``"lbfgs"`` (also accepted: ``"L-BFGS-B"``, ``"BFGS"``): optax's
        L-BFGS with a zoom line search, compiled as one loop.
    maxiter : int
        Largest number of L-BFGS iterations.
    tolerance : float
        Stop when the gradient norm falls below this (in float32 the search
        usually stops earlier, when it can no longer improve).
    random_seed : int or key, optional
        Seeds the ``jitter`` of the start.
    jitter : float
        Add uniform(-jitter, jitter) noise to the unconstrained start
        (default 0: start exactly at the initial point).
    return_raw : bool
        Also return the :class:`~credo.inference.map.MAPResult` (unconstrained
        position, log density, iterations, convergence flag).
    progressbar : bool
        Accepted for PyMC compatibility; the search runs in compiled calls of
        about a quarter of a second each.
    model : credo.Model, optional
        Default: the model of the current ``with`` block.
    devices : int, list of jax devices or jax.sharding.Mesh, optional
        Where to search: the data's rows are sharded over these devices
        (default: every device JAX sees; one device is the plain path).

    Returns
    -------
    dict
        Constrained values of the free variables and the deterministics (and
        the MAPResult when ``return_raw``). Ctrl-C stops the search after the
        running call (within about a second): the point reached so far is
        returned with a warning naming the iteration (``converged`` is False
        in the MAPResult); it is not the mode.

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model():
    ...     mu = cr.Normal("mu", 0, 10)
    ...     sigma = cr.HalfNormal("sigma", 1)
    ...     y = cr.Normal("y", mu, sigma, observed=np.array([0.9, 1.1, 1.0]))
    ...     point = cr.find_MAP(random_seed=0)
    >>> round(float(point["mu"]), 2)
    1.0
    """
    what = "find_MAP"
    check_model_argument(model, what)
    if start is not None and not isinstance(start, Mapping):
        raise FitError(f"{what}: start must be a dict of start values; got {type(start).__name__}.")
    maxiter = positive_int(maxiter, "maxiter", what)
    for name, value in (("tolerance", tolerance), ("jitter", jitter)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not np.isfinite(value) \
                or value < 0:
            raise FitError(f"{what}: {name} must be a non-negative number; got {value!r}.")
    check_seed(random_seed, what)
    check_bool(return_raw, "return_raw", what)
    check_bool(progressbar, "progressbar", what)
    model = modelcontext(model, what=what)
    if not isinstance(method, str) or method.lower() not in MAP_METHODS:
        raise FitError(f"find_MAP: unknown method {method!r}; credo offers 'lbfgs'.")
    compiled = _checked_model(model, "find_MAP")
    placed = model.placed_data(placement_for(devices, "find_MAP: devices"))
    data = placed.arrays
    position = compiled.position_from_point(start)
    if jitter:
        position = position + jax.random.uniform(as_key(random_seed), position.shape, position.dtype, -jitter, jitter)
    result = run_map(compiled, position, data, maxiter, tolerance, "find_MAP", keep_interrupted=True)
    if not bool(result.converged) and int(result.num_iterations) >= int(maxiter):
        warnings.warn(f"find_MAP stopped at maxiter={maxiter} before converging (gradient norm "
                      f"{float(result.grad_norm):.3g}); raise maxiter.", stacklevel=2)
    constrain = compiled.programs.get(Constrain(data_signature(data), batched=False), compiled)
    values = placed.cut(constrain(result.position, data), axis=0)
    point = {name: np.asarray(value) for name, value in values.items()}
    return (point, result) if return_raw else point


def laplace_start(compiled, position: jax.Array, data, maxiter: int = INIT_MAP_MAXITER,
                  what: str = "the Laplace approximation") -> tuple[jax.Array, jax.Array, MAPResult]:
    """The mode from ``position`` and the Cholesky factor of the Laplace covariance there."""
    result = run_map(compiled, position, data, maxiter, 1e-6, what)
    program = compiled.programs.get(Laplace(data_signature(data)), compiled)
    try:
        cholesky = laplace_cholesky(compiled.logdensity_fn, result.position, data, program=program)
    except np.linalg.LinAlgError:  # a Hessian with NaN or inf entries
        raise FitError(f"{what}: the curvature at the point L-BFGS reached is not finite (log density "
                       f"{float(result.logdensity):.4g}): the posterior may have no mode there.") from None
    return result.position, cholesky, result


def laplace(
    model: Model | None = None,
    maxiter: int = INIT_MAP_MAXITER,
    random_seed=None,
    start: Mapping | None = None,
    obj_optimizer=None,
    obj_n_mc: int = 1,
    chunk_size: int | None = None,
    placement: Placement | None = None,
) -> Approximation:
    """The Laplace approximation: a Gaussian at the mode with the inverse negative Hessian as covariance.

    What ``cr.fit(method="laplace")`` returns. The result is a full-rank
    :class:`Approximation` with an empty ``hist``, parameterised in the
    whitened frame of the mode (its ``state`` is that of a full-rank ADVI fit
    started with ``init="map"``), so ``approx.refine(n)`` continues it as
    full-rank ADVI with ``obj_optimizer`` (default Adam at 1e-3) and
    ``obj_n_mc`` draws per step. ``approx.map_result`` holds the L-BFGS
    outcome.

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model():
    ...     mu = cr.Normal("mu", 0, 10)
    ...     y = cr.Normal("y", mu, 1, observed=np.array([0.9, 1.1, 1.0]))
    ...     approx = cr.fit(method="laplace", random_seed=0)
    >>> round(float(approx.mean["mu"]), 2), round(float(approx.std["mu"]), 2)
    (1.0, 0.58)
    """
    model = modelcontext(model, what="fit")
    compiled = _checked_model(model, "laplace")
    data = model.placed_data(placement).arrays
    mode, cholesky, result = laplace_start(compiled, compiled.position_from_point(start), data, maxiter)
    family = FullRank()
    return Approximation.start(model, family, as_optimizer(obj_optimizer, family.default_optimizer),
                               as_key(random_seed), num_mc=obj_n_mc, chunk_size=chunk_size or LAPLACE_CHUNK_SIZE,
                               position=mode, cholesky=cholesky, whiten=True, map_result=result,
                               placement=placement)
