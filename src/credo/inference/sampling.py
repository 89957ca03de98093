"""``cr.sample``: NUTS on a model, returned as arviz.InferenceData.

The model's flat unconstrained log density goes to :func:`credo.inference.nuts.run_nuts`
(BlackJAX's NUTS with Stan's window adaptation of the step size and a
diagonal mass matrix, the chains vmapped together). Chains start jittered
around the initial point as PyMC's default ``jitter+adapt_diag`` does.
"""

from __future__ import annotations

import datetime
import os
import time
import warnings
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from .._config import prefetch_arviz
from ..errors import CheckpointError, FitError
from ..model.compile import check_data
from ..model.arrays import float_dtype
from ..model.core import Model, modelcontext
from ..model.placement import is_main_process, placement_for
from ..model.programs import data_signature
from .checkpoint import (
    SamplingCheckpointer, checkpoint_interval, checkpoint_path, read_sampling_progress, sample_settings,
)
from .checks import check_bool, check_model_argument, check_seed, nonnegative_int, positive_int
from .driver import InterruptFlag
from .likelihood import check_idata_kwargs, log_likelihood_values
from .io import describe_variables
from .nuts import STAT_NAMES, NUTSParameters, NUTSProgress, hmc_states, run_nuts
from .pathfinder_fit import pathfinder_initial_positions
from .programs import NUTS, Constrain, FiniteCheck, LogDensity
from .results import as_key, devices_attrs, observed_and_constant_data, to_inference_data

__all__ = ["sample"]

#: Tries at a jittered start with a finite log density before a chain starts unjittered.
JITTER_TRIES = 10
#: How ``sample(init=...)`` starts the chains.
INITS = ("auto", "jitter+adapt_diag", "adapt_diag", "pathfinder")


def _initial_positions(compiled, start: jax.Array, data, chains: int, key: jax.Array, jitter: bool) -> jax.Array:
    """``chains`` starts: ``start`` plus uniform(-1, 1) jitter, redrawn where the density is not finite."""
    finite = compiled.programs.get(FiniteCheck(data_signature(data)), compiled)
    positions = jnp.broadcast_to(start, (chains,) + start.shape)
    if not bool(finite(positions, data)[0]):  # every chain's rows: the shape of the jittered starts' check
        value = float(compiled.programs.get(LogDensity(data_signature(data)), compiled)(start, data))
        why = compiled.describe_nonfinite(start, data)
        raise FitError(f"sample: the log density (or its gradient) is not finite at the initial point (log density "
                       f"{value}{': ' + why if why else ''}); give initvals inside the support, or check the priors "
                       "and data.")
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


def _sampling_checkpoint(checkpoint, checkpoint_every, compiled, data, key, seeded: bool, *, draws: int, **options):
    """``(key, NUTSProgress or None, SamplingCheckpointer)`` of ``cr.sample(checkpoint=...)`` (see ``sample``)."""
    path = checkpoint_path(checkpoint)
    steps, seconds = checkpoint_interval(checkpoint_every)
    settings = sample_settings(variables=describe_variables(compiled), data=data, key=key, **options)
    if not path.exists():
        return key, None, SamplingCheckpointer(path, settings, steps, seconds)
    dtype = float_dtype()
    arrays, saved = read_sampling_progress(path, settings, seeded, compiled.dim, dtype)
    done = arrays["draws"].shape[1]
    if done > draws:
        raise CheckpointError(f"checkpoint {str(path)!r} holds {done} draws per chain, more than the draws={draws} "
                              f"asked for: ask for draws >= {done}, or give another path.")
    key = jax.random.wrap_key_data(jnp.asarray(np.asarray(saved["random_seed"], np.uint32)))
    settings = dict(settings, random_seed=saved["random_seed"])
    resume = NUTSProgress(hmc_states(*(arrays[f"state.{name}"] for name in ("position", "logdensity",
                                                                              "logdensity_grad"))),
                          NUTSParameters(jnp.asarray(arrays["step_size"]), jnp.asarray(arrays["inverse_mass_matrix"])),
                          arrays["draws"], {name[len("stats."):]: value for name, value in arrays.items()
                                            if name.startswith("stats.")})
    return key, resume, SamplingCheckpointer(path, settings, steps, seconds, done=done)


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
    idata_kwargs: Mapping | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | str | datetime.timedelta | None = None,
    init: str = "auto",
    devices=None,
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
    model : credo.Model, optional
        Default: the model of the current ``with`` block.
    cores : int, optional
        Accepted for PyMC compatibility: the chains always run together on one
        device.
    return_inferencedata : bool
        False: a dict of groups, each a dict of ``(chain, draw, ...)`` arrays.
    idata_kwargs : dict, optional
        ``{"log_likelihood": True}`` adds the pointwise log-likelihood group
        (see :func:`credo.compute_log_likelihood`) for ``az.loo`` and
        ``az.compare``; ``"coords"`` and ``"dims"`` add to the model's.

    checkpoint : str or path-like, optional
        Save the run to this file after tuning and as the draws go (every
        ``checkpoint_every``, and at the end or at Ctrl-C), each save atomic.
        Running the same call again after the process was killed skips the
        tuning and continues the draws from the file: the result equals the
        uninterrupted run's draw for draw (same seed); a larger ``draws``
        continues further. A file written with other settings (model, data,
        tune, chains, target_accept, max_treedepth, initvals, jitter, seed)
        is refused with a :class:`~credo.errors.CheckpointError` naming what
        differs, and not overwritten. Tuning itself cannot be checkpointed
        (BlackJAX's window adaptation runs as one compiled call).
    checkpoint_every : int, str or datetime.timedelta, optional
        Draws between checkpoints (an int) or a time (``"30s"``, ``"5min"``);
        default 60 seconds.
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
    devices : int, list of jax devices or jax.sharding.Mesh, optional
        Where to sample: the data's rows are sharded over these devices and
        every log density adds the devices' partial sums (default: every
        device JAX sees; one device is the plain path). The chains are the
        same as on one device up to the order of float additions, which a
        long chain amplifies: compare results statistically.

    Returns
    -------
    arviz.InferenceData
        ``posterior`` (free variables and deterministics, constrained),
        ``sample_stats`` (diverging, energy, tree_depth, acceptance_rate,
        step_size, lp, n_steps; lp is the log density sampled, on the
        unconstrained space, Jacobians included), ``observed_data`` and
        ``constant_data`` (the ``cr.Data`` values), and ``log_likelihood``
        when asked for; dims and coordinate labels from the model's ``coords``
        and ``dims``. Save it with ``idata.to_netcdf(path)`` and read it back
        with ``arviz.from_netcdf(path)``.

    Notes
    -----
    Ctrl-C during sampling returns the draws completed so far (after tuning)
    with a warning; during tuning it raises
    :class:`~credo.errors.SamplingInterrupted` at once, as there are no draws
    to return.

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
    prefetch_arviz()
    idata_kwargs = _check_arguments(model=model, random_seed=random_seed, progressbar=progressbar, jitter=jitter,
                                    return_inferencedata=return_inferencedata, initvals=initvals, init=init,
                                    idata_kwargs=idata_kwargs, draws=draws, chains=chains, max_treedepth=max_treedepth,
                                    target_accept=target_accept, tune=tune)
    draws, tune, chains, max_treedepth, target_accept = (int(draws), int(tune), int(chains), int(max_treedepth),
                                                          float(target_accept))
    model = modelcontext(model, what="sample")
    compiled = _checked_model(model)
    placement = placement_for(devices, "sample: devices")
    placed = model.placed_data(placement)
    data = placed.arrays
    key = as_key(random_seed)
    resume = checkpointer = None
    if checkpoint is not None:
        key, resume, checkpointer = _sampling_checkpoint(
            checkpoint, checkpoint_every, compiled, model.data_values, key, random_seed is not None, draws=draws,
            tune=tune, chains=chains, target_accept=target_accept, max_treedepth=max_treedepth, initvals=initvals,
            jitter=bool(jitter), init=init)
    jitter_key, nuts_key = jax.random.split(key)
    if resume is not None:
        positions = resume.states.position
    elif init == "pathfinder":
        positions = pathfinder_initial_positions(model, chains, jitter_key, initvals, placement=placement)
    else:
        positions = _initial_positions(compiled, compiled.position_from_point(initvals), data, chains, jitter_key,
                                       jitter and init != "adapt_diag")
    programs = compiled.programs.get(NUTS(tune, target_accept, max_treedepth, data_signature(data)), compiled)
    began = time.perf_counter()
    flat, stats = _run_chains(compiled, programs, nuts_key, positions, data, draws, tune, target_accept, max_treedepth,
                              progressbar, resume, checkpointer)
    elapsed = time.perf_counter() - began
    if flat.shape[1] < draws:
        warnings.warn(f"Interrupted at draw {flat.shape[1]} of {draws}: returning the {flat.shape[1]} draws of each "
                      "chain completed after tuning.", stacklevel=2)
    result = _sample_result(model, placed, flat, stats, idata_kwargs, return_inferencedata, elapsed, tune)
    n_divergent = int(np.sum(stats["diverging"]))
    if n_divergent:
        warnings.warn(f"There were {n_divergent} divergences after tuning. Increase `target_accept` or "
                      "reparameterize.", stacklevel=2)
    return result


def _run_chains(compiled, programs, key, positions, data, draws: int, tune: int, target_accept: float,
                max_treedepth: int, progressbar: bool, resume, checkpointer):
    """NUTS from ``positions`` (one chain each) with a progress bar; Ctrl-C keeps the draws made."""
    bar, progress_fn = _progress(tune, draws, positions.shape[0], progressbar and is_main_process())
    try:
        with InterruptFlag() as interrupt:
            return run_nuts(key, compiled.logdensity_fn, positions, data, num_warmup=tune, num_draws=draws,
                            target_accept=target_accept, max_tree_depth=max_treedepth, progress_fn=progress_fn,
                            programs=programs, interrupt=interrupt, resume=resume, checkpoint_fn=checkpointer)
    finally:
        bar.close()


def _check_arguments(*, model, random_seed, progressbar, jitter, return_inferencedata, initvals, init, idata_kwargs,
                     draws, chains, max_treedepth, target_accept, tune) -> dict:
    """``sample``'s checks of its arguments' values; the checked ``idata_kwargs``."""
    check_model_argument(model, "sample")
    check_seed(random_seed, "sample")
    for name, value in (("progressbar", progressbar), ("jitter", jitter),
                        ("return_inferencedata", return_inferencedata)):
        check_bool(value, name, "sample")
    if initvals is not None and not isinstance(initvals, Mapping):
        raise FitError(f"sample: initvals must be a dict of start values; got {type(initvals).__name__}.")
    if not isinstance(init, str) or init not in INITS:
        raise FitError(f"sample: init must be one of {INITS}; got {init!r}.")
    idata_kwargs = check_idata_kwargs(idata_kwargs, "sample")
    for name, value in (("draws", draws), ("chains", chains), ("max_treedepth", max_treedepth)):
        positive_int(value, name, "sample")
    if isinstance(target_accept, bool) or not isinstance(target_accept, (int, float, np.number)) \
            or not 0 < target_accept < 1:
        raise FitError(f"sample: target_accept must be a number in (0, 1); got {target_accept!r}.")
    nonnegative_int(tune, "tune", "sample")
    return idata_kwargs


def _checked_model(model: Model):
    """The compiled model, once it can be sampled with NUTS."""
    compiled = model.compile()
    if compiled.dim == 0:
        raise FitError("sample: the model has no free variables: there is nothing to sample.")
    if compiled.discrete_free:
        raise FitError(f"sample: the free variables {compiled.discrete_free} are discrete; NUTS needs continuous "
                       "ones (observe them, or marginalise them out).")
    check_data(model)
    return compiled


def _sample_result(model: Model, placed, flat, stats: dict, idata_kwargs: dict, return_inferencedata: bool,
                   elapsed: float, tune: int):
    """The draws ``flat`` (chains, draws, dim) constrained, as InferenceData (or a dict of groups)."""
    compiled = model.compile()
    chains, draws = flat.shape[:2]
    constrain = compiled.programs.get(Constrain(data_signature(placed.arrays)), compiled)
    values = placed.cut(constrain(jnp.asarray(flat.reshape(chains * draws, -1)), placed.arrays))
    posterior = {name: np.asarray(value).reshape((chains, draws) + value.shape[1:])
                 for name, value in values.items()}
    sample_stats = {name: stats[name] for name in STAT_NAMES if name in stats}
    log_likelihood = None
    if idata_kwargs.get("log_likelihood"):
        log_likelihood = log_likelihood_values(model, posterior, compiled.observed_names, placed.placement)
    if not return_inferencedata:
        groups = {"posterior": posterior, "sample_stats": sample_stats}
        return groups if log_likelihood is None else dict(groups, log_likelihood=log_likelihood)
    observed, constant = observed_and_constant_data(model)
    idata = to_inference_data(model, coords=idata_kwargs.get("coords"), dims=idata_kwargs.get("dims"),
                              posterior=posterior, sample_stats=sample_stats, log_likelihood=log_likelihood,
                              observed_data=observed, constant_data=constant)
    for group in ("posterior", "sample_stats"):
        idata[group].attrs.update({"sampling_time": elapsed, "tuning_steps": tune, "inference_library": "credo",
                                   **devices_attrs(placed.describe())})
    return idata
