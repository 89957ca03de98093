"""``cr.sample``: NUTS on a model, returned as arviz.InferenceData.

The model's flat unconstrained log density goes to :func:`credo.inference.nuts.run_nuts`
(BlackJAX's NUTS with Stan's window adaptation of the step size and a
diagonal mass matrix, the chains vmapped together). Chains start jittered
around the initial point as PyMC's default ``jitter+adapt_diag`` does.
"""

from __future__ import annotations

import time
import warnings
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import FitError
from ..model.compile import check_data
from ..model.core import Model, modelcontext
from ..model.programs import data_signature
from .nuts import STAT_NAMES, run_nuts
from .pathfinder_fit import pathfinder_initial_positions
from .programs import NUTS, Constrain, FiniteCheck
from .results import as_key, to_inference_data

__all__ = ["sample"]

#: Tries at a jittered start with a finite log density before a chain starts unjittered.
JITTER_TRIES = 10
#: How ``sample(init=...)`` starts the chains.
INITS = ("auto", "jitter+adapt_diag", "adapt_diag", "pathfinder")


def _initial_positions(compiled, start: jax.Array, data, chains: int, key: jax.Array, jitter: bool) -> jax.Array:
    """``chains`` starts: ``start`` plus uniform(-1, 1) jitter, redrawn where the density is not finite."""
    finite = compiled.programs.get(FiniteCheck(data_signature(data)), compiled)
    if not bool(finite(start[None], data)[0]):
        value = float(compiled.logdensity_fn(start, data))
        raise FitError(f"sample: the log density (or its gradient) is not finite at the initial point (log density "
                       f"{value}); give initvals inside the support, or check the priors and data.")
    positions = jnp.broadcast_to(start, (chains,) + start.shape)
    if not jitter:
        return positions
    settled = np.zeros(chains, bool)
    chosen = np.asarray(positions).copy()
    for attempt in range(JITTER_TRIES):
        proposal = start + jax.random.uniform(jax.random.fold_in(key, attempt), positions.shape, start.dtype, -1, 1)
        ok = np.asarray(finite(proposal, data)) & ~settled
        chosen[ok] = np.asarray(proposal)[ok]
        settled |= ok
        if settled.all():
            break
    return jnp.asarray(chosen)  # chains that never found a finite jitter start unjittered


def _progress(total_warmup: int, total_draws: int, chains: int, enabled: bool):
    from tqdm.auto import tqdm

    bar = tqdm(total=total_warmup + total_draws, disable=not enabled, leave=True, dynamic_ncols=True,
               desc=f"Warm-up ({chains} chains)")
    state = {"warmup": 0, "sampling": 0}

    def progress_fn(phase: str, done: int, total: int) -> None:
        if phase == "sampling" and done == 0:
            bar.set_description(f"Sampling ({chains} chains)", refresh=False)
        bar.update(done - state[phase])
        state[phase] = done

    return bar, progress_fn


def sample(
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    target_accept: float = 0.8,
    random_seed=None,
    progressbar: bool = True,
    initvals: Mapping | None = None,
    model: Model | None = None,
    max_treedepth: int = 10,
    jitter: bool = True,
    cores: int | None = None,
    return_inferencedata: bool = True,
    init: str = "auto",
):
    """Draw from the posterior with NUTS (BlackJAX), as ``pm.sample``.

    Each chain adapts its own step size and diagonal mass matrix over
    ``tune`` steps (Stan's window adaptation) and then draws ``draws``; the
    chains run together under ``jax.vmap``, in compiled chunks between which
    the progress bar moves.

    Parameters
    ----------
    draws : int
        Draws kept per chain.
    tune : int
        Adaptation steps per chain (discarded).
    chains : int
    target_accept : float
        Mean acceptance rate the step size aims at; raise it (0.9, 0.95)
        where there are divergences.
    random_seed : int or key, optional
    progressbar : bool
    initvals : dict, optional
        Constrained start values of some free variables (the others start at
        their initial values).
    max_treedepth : int
        At most ``2**max_treedepth - 1`` leapfrog steps per draw.
    jitter : bool
        Start each chain at the initial point plus uniform(-1, 1) noise in the
        unconstrained space (PyMC's ``jitter+adapt_diag``); a chain whose
        jittered start has no finite log density redraws it (10 tries) and
        otherwise starts unjittered.
    cores : int, optional
        Accepted for PyMC compatibility: the chains always run together on one
        device.
    init : {"auto", "jitter+adapt_diag", "adapt_diag", "pathfinder"}
        Where the chains start. ``"auto"`` and ``"jitter+adapt_diag"``: as
        ``jitter`` says; ``"adapt_diag"``: at the initial point; ``"pathfinder"``:
        at draws of a 4-path Pathfinder approximation, Pareto-smoothed
        importance resampled (see :func:`credo.fit` with
        ``method="pathfinder"``), which puts them in the typical set before
        the warm-up starts. Measured (``benchmarks/pathfinder_init.py``): on
        the tutorial network 9 divergences after tuning in 12 chains against
        24 from jittered starts; the warm-up's own divergences, which the
        window adaptation makes where it restarts its step size at each
        slow window, are as many from either start (eight schools and the
        tutorial).

    Returns
    -------
    arviz.InferenceData
        ``posterior`` (free variables and deterministics, constrained),
        ``sample_stats`` (diverging, energy, tree_depth, acceptance_rate,
        step_size, lp, n_steps; lp is the log density sampled, on the
        unconstrained space, Jacobians included), ``observed_data`` and
        ``constant_data`` (the
        ``cr.Data`` values). Save it with ``idata.to_netcdf(path)`` and read
        it back with ``arviz.from_netcdf(path)``.

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model():
    ...     mu = cr.Normal("mu", 0, 1)
    ...     y = cr.Normal("y", mu, 1, observed=np.array([0.5, 1.0]))
    ...     idata = cr.sample(draws=200, tune=200, chains=2, random_seed=0, progressbar=False)
    >>> idata.posterior["mu"].shape
    (2, 200)
    """
    del cores
    model = modelcontext(model, what="sample")
    for name, value in (("draws", draws), ("chains", chains), ("max_treedepth", max_treedepth)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise FitError(f"sample: {name} must be a positive integer; got {value!r}.")
    if isinstance(target_accept, bool) or not isinstance(target_accept, (int, float, np.number)) \
            or not 0 < target_accept < 1:
        raise FitError(f"sample: target_accept must be a number in (0, 1); got {target_accept!r}.")
    if isinstance(tune, bool) or not isinstance(tune, (int, np.integer)) or tune < 0:
        raise FitError(f"sample: tune must be a non-negative integer; got {tune!r}.")
    compiled = model.compile()
    if compiled.dim == 0:
        raise FitError("sample: the model has no free variables: there is nothing to sample.")
    if compiled.discrete_free:
        raise FitError(f"sample: the free variables {compiled.discrete_free} are discrete; NUTS needs continuous "
                       "ones (observe them, or marginalise them out).")
    check_data(model)
    data = dict(model.data_values)
    signature = data_signature(data)
    key = as_key(random_seed)
    jitter_key, nuts_key = jax.random.split(key)
    if init not in INITS:
        raise FitError(f"sample: init must be one of {INITS}; got {init!r}.")
    start = compiled.position_from_point(initvals)
    if init == "pathfinder":
        positions = pathfinder_initial_positions(model, int(chains), jitter_key, initvals)
    else:
        positions = _initial_positions(compiled, start, data, int(chains), jitter_key,
                                       jitter and init != "adapt_diag")
    programs = compiled.programs.get(NUTS(int(tune), float(target_accept), int(max_treedepth), signature), compiled)
    bar, progress_fn = _progress(int(tune), int(draws), int(chains), progressbar)
    began = time.perf_counter()
    try:
        flat, stats = run_nuts(nuts_key, compiled.logdensity_fn, positions, data, num_warmup=int(tune),
                               num_draws=int(draws), target_accept=float(target_accept),
                               max_tree_depth=int(max_treedepth), progress_fn=progress_fn, programs=programs)
    finally:
        bar.close()
    elapsed = time.perf_counter() - began
    chains_, draws_ = flat.shape[:2]
    constrain = compiled.programs.get(Constrain(signature), compiled)
    values = jax.device_get(constrain(jnp.asarray(flat.reshape(chains_ * draws_, -1)), data))
    posterior = {name: np.asarray(value).reshape((chains_, draws_) + value.shape[1:])
                 for name, value in values.items()}
    sample_stats = {name: stats[name] for name in STAT_NAMES if name in stats}
    if not return_inferencedata:
        return {"posterior": posterior, "sample_stats": sample_stats}
    observed = {rv.name: np.asarray(model.data_values[rv.observed.name]) for rv in model.observed_variables}
    constant = {name: np.asarray(model.data_values[name]) for name in model.data_vars}
    idata = to_inference_data(posterior=posterior, sample_stats=sample_stats, observed_data=observed or None,
                              constant_data=constant or None)
    for group in ("posterior", "sample_stats"):
        idata[group].attrs.update({"sampling_time": elapsed, "tuning_steps": int(tune), "inference_library": "credo"})
    n_divergent = int(np.sum(stats["diverging"]))
    if n_divergent:
        warnings.warn(f"There were {n_divergent} divergences after tuning. Increase `target_accept` or "
                      "reparameterize.", stacklevel=2)
    return idata
