"""``cr.fit``: variational inference driven by compiled chunks of steps.

The optimisation runs as one ``jax.lax.scan`` per chunk of steps (see
:mod:`credo.inference.driver`); between chunks the driver updates the
progress bar, checks that the loss stayed finite and calls the callbacks.
Python never runs once per step. Every fit returns a new
:class:`~credo.inference.approximation.Approximation`.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import warnings
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .._config import prefetch_arviz
from ..errors import FitError, NonFiniteLossError
from ..model.compile import check_data
from ..model.core import Model, modelcontext
from ..model.placement import placement_for, streamed_names
from ..model.programs import data_signature
from .advi import FullRank, GaussianFamily, LowRank, MeanField, with_point_estimates
from .approximation import INIT_STREAM, Approximation, FitInfo, FitSettings, approximation_from_fields
from .checkpoint import (
    CheckpointError, Checkpointer, check_settings, checkpoint_interval, checkpoint_path, fit_settings,
)
from .checks import check_bool, check_callbacks, check_model_argument, check_seed
from .diagnostics import report_fit
from .driver import run_chunks
from .flows import NormalizingFlow
from .io import describe_variables, read_fields, read_metadata, save_approximation
from .mixture import JITTER_STREAM, Mixture, stack_states
from .mode import laplace, laplace_start
from .optimizers import Optimizer, as_optimizer
from .pathfinder import PathfinderNormals
from .pathfinder_fit import fit_pathfinder
from .programs import ADVIChunk, MemberLosses
from .results import as_key
from .svgd import SteinParticles

__all__ = ["fit", "ADVI", "FullRankADVI", "LowRankADVI", "SVGD", "NFVI", "Pathfinder", "DEFAULT_CHUNK_SIZE", "INITS"]

#: Steps compiled into one ``lax.scan`` call; the progress bar moves once per chunk.
DEFAULT_CHUNK_SIZE = 1000

#: Starting Gaussians ``cr.fit(init=...)`` knows.
INITS = ("map", "initial_point")
#: What ``cr.fit(n_starts=k, keep=...)`` returns: the best start, or every start as a mixture.
KEEP = ("best", "all")
#: How ``cr.fit(keep="all", weights=...)`` weighs the members.
MEMBER_WEIGHTS = ("equal", "elbo")
#: Draws behind each member's final ELBO estimate (``keep="all"``).
MEMBER_ELBO_DRAWS = 100


class ADVI:
    """Mean-field ADVI, as ``pm.ADVI``: ``inference = cr.ADVI(); approx = inference.fit(n)``.

    An inference object in PyMC's manner: it remembers the approximation of
    its last ``fit`` or ``refine`` (``inference.approx``, ``inference.hist``).
    The approximations themselves are values: ``inference.refine(n)``
    returns a new one and keeps it as ``inference.approx``.

    Parameters
    ----------
    obj_optimizer : optax.GradientTransformation, optional
        Default: the family's (:func:`credo.adagrad_window` at 1e-3 for
        mean-field, ``optax.adam(1e-3)`` for full-rank and low-rank).
    obj_n_mc : int
        Monte Carlo draws per step for the ELBO gradient.

    Attributes
    ----------
    family : GaussianFamily
    approx : Approximation or None
        The result of the last fit.
    hist : numpy.ndarray
        Loss (negative ELBO) per iteration of the last fit.

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model():
    ...     mu = cr.Normal("mu", 0, 1)
    ...     y = cr.Normal("y", mu, 1, observed=np.array([0.5, 1.0]))
    ...     inference = cr.ADVI()
    ...     approx = inference.fit(n=2000, random_seed=0, progressbar=False)
    >>> len(inference.hist)
    2000
    """

    family_type: type[GaussianFamily] = MeanField

    def __init__(self, obj_optimizer=None, obj_n_mc: int = 1, **family_options):
        accepted = [field.name for field in dataclasses.fields(self.family_type)]
        unknown = [name for name in family_options if name not in accepted]
        if unknown:
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {unknown[0]!r}; it accepts "
                            f"{', '.join(['obj_optimizer', 'obj_n_mc'] + accepted)}.")
        self.family = self.family_type(**family_options)
        self.obj_optimizer = obj_optimizer
        self.obj_n_mc = obj_n_mc
        self.approx: Approximation | None = None

    @property
    def hist(self) -> np.ndarray:
        return self.approx.hist if self.approx is not None else np.zeros(0)

    def fit(self, n: int = 10_000, **kwargs) -> Approximation:
        """Fit the model of the current context (see :func:`credo.fit`); the result is kept as ``approx``."""
        return fit(n, method=self, **kwargs)

    def refine(self, n: int, progressbar: bool = True, callbacks: Sequence[Callable] | None = None) -> Approximation:
        """Continue the last fit for ``n`` steps (see :meth:`Approximation.refine`); kept as ``approx``."""
        if self.approx is None:
            raise FitError(f"{type(self).__name__}.refine: nothing to continue; call fit first.")
        self.approx = self.approx.refine(n, progressbar=progressbar, callbacks=callbacks)
        return self.approx


class FullRankADVI(ADVI):
    """ADVI with a full-covariance Gaussian (Cholesky factor with a log diagonal).

    Starts at the mode with the Laplace curvature by default (``init="map"``)
    and is then optimised in the frame whitened by it (see :func:`credo.fit`).
    """

    family_type = FullRank


class LowRankADVI(ADVI):
    """ADVI with a diagonal plus rank-``rank`` covariance."""

    family_type = LowRank

    def __init__(self, rank: int = 2, obj_optimizer=None, obj_n_mc: int = 1):
        super().__init__(obj_optimizer=obj_optimizer, obj_n_mc=obj_n_mc, rank=rank)


class SVGD(ADVI):
    """Stein variational gradient descent (Liu and Wang 2016), as ``pm.SVGD``: ``n_particles`` particles
    moved together by the kernelised Stein direction (see :mod:`credo.inference.svgd`).

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model():
    ...     mu = cr.Normal("mu", 0, 1)
    ...     y = cr.Normal("y", mu, 1, observed=np.array([0.5, 1.0]))
    ...     approx = cr.SVGD(n_particles=50).fit(n=500, random_seed=0, progressbar=False)
    >>> approx.params["particles"].shape
    (50, 1)
    """

    family_type = SteinParticles


class NFVI(ADVI):
    """Normalizing-flow variational inference: a full-rank Gaussian pushed through the flow layers of
    ``flow`` (``"planar*8"``, ``"realnvp*4"``, ``"iaf*2"``, joined by ``-``; see :mod:`credo.inference.flows`)."""

    family_type = NormalizingFlow


class Pathfinder(ADVI):
    """Pathfinder (Zhang et al. 2022): the ELBO-best normals along ``num_paths`` L-BFGS paths
    (see :mod:`credo.inference.pathfinder`); one-shot, so ``n`` and the optimiser do not apply."""

    family_type = PathfinderNormals


#: Method names and the inference each stands for (``"laplace"`` is handled apart).
METHODS: dict[str, type[ADVI]] = {"advi": ADVI, "meanfield": ADVI, "fullrank_advi": FullRankADVI,
                                  "lowrank_advi": LowRankADVI, "svgd": SVGD, "nfvi": NFVI, "pathfinder": Pathfinder}


def _inference(method, family_options: dict) -> ADVI:
    if isinstance(method, ADVI):
        if family_options:
            name = next(iter(family_options))
            raise TypeError(f"fit() got an unexpected keyword argument {name!r}: family options belong to the "
                            f"inference object (e.g. cr.LowRankADVI(rank=3)).")
        return method
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise FitError(f"unknown method {method!r}; choose one of {sorted(METHODS) + ['laplace']} or pass cr.ADVI().")
    cls = METHODS[method.lower()]
    accepted = [field.name for field in dataclasses.fields(cls.family_type)]
    for name in family_options:
        if name not in accepted:
            owners = [m for m, c in METHODS.items() if name in [f.name for f in dataclasses.fields(c.family_type)]]
            hint = f" ({name} applies to method={owners[0]!r})" if owners else ""
            raise TypeError(f"fit() got an unexpected keyword argument {name!r}{hint}; with method={method!r} it "
                            f"accepts {', '.join(_FIT_ARGUMENTS + accepted)}.")
    return cls(**family_options)


#: One-shot methods (no steps to take) and their drivers ``driver(model, method, key, start) -> Approximation``.
ONE_SHOT = {PathfinderNormals: fit_pathfinder}

_FIT_ARGUMENTS = ["n", "method", "model", "random_seed", "obj_optimizer", "obj_n_mc", "progressbar", "callbacks",
                  "start", "chunk_size", "init", "n_starts", "keep", "weights", "checkpoint", "checkpoint_every"]


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise FitError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def _init_name(init, family: GaussianFamily) -> str:
    if init is None:
        return family.default_init
    if not isinstance(init, str) or init.lower() not in INITS:
        raise FitError(f"unknown init {init!r}; choose 'map' (the mode and the Laplace curvature there) or "
                       "'initial_point' (the model's initial point, std softplus(0) as PyMC starts).")
    return init.lower()


def _starting_gaussian(compiled, family: GaussianFamily, init: str, position, data) -> tuple[dict, Any]:
    """Keyword arguments of ``Approximation.start`` for one start, and the MAP result (or None).

    ``init="map"``: the family's start at the mode and the Laplace Cholesky
    factor there (:meth:`GaussianFamily.start_at_mode`). Where the mode or its
    curvature cannot be found the fit warns and starts from ``position``.
    """
    if init != "map":
        return {"position": position}, None
    try:
        mode, cholesky, result = laplace_start(compiled, position, data, what="init='map'")
    except FitError as error:
        warnings.warn(f"init='map' found no usable mode ({error}) The fit starts from the initial point.",
                      stacklevel=4)
        return {"position": position}, None
    return family.start_at_mode(mode, cholesky), result


def fit(
    n: int = 10_000,
    method: str | ADVI = "advi",
    model: Model | None = None,
    random_seed: int | jax.Array | None = None,
    obj_optimizer=None,
    obj_n_mc: int | None = None,
    progressbar: bool = True,
    callbacks: Sequence[Callable] | None = None,
    start: Approximation | Mapping | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    init: str | None = None,
    n_starts: int = 1,
    keep: str = "best",
    weights: str = "equal",
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | str | datetime.timedelta | None = None,
    devices=None,
    **family_options,
) -> Approximation:
    """Fit a variational approximation to the posterior of the current model.

    Parameters
    ----------
    n : int
        Number of optimisation steps (not used by ``method="laplace"``, whose
        L-BFGS runs at most 1,000 iterations).
    method : str or ADVI
        ``"advi"`` (mean-field), ``"fullrank_advi"``, ``"lowrank_advi"``
        (with ``rank=k``), ``"laplace"`` (the Gaussian at the mode with the
        inverse Hessian as covariance; no ADVI steps), ``"svgd"`` (particles,
        ``n_particles=100``, ``jitter=1``), ``"nfvi"`` (normalizing flows,
        ``flow="planar*8"``, ``nn_width=32``), ``"pathfinder"`` (one-shot:
        ``num_paths=4``, ``history_size=6``, ``maxiter=1000``,
        ``num_elbo_draws=25``, ``jitter=2``; ``n`` and the optimiser do not
        apply), or an inference object such as ``cr.ADVI()``, ``cr.SVGD()``.
        Every fit ends with the Pareto k-hat verdict of
        :meth:`Approximation.diagnose` (``approx.diagnosis``; a warning above
        0.7; ``cr.config(diagnose_draws=0)`` turns it off).
    model : credo.Model, optional
        Default: the model of the current ``with`` block.
    random_seed : int or key, optional
        Makes the fit reproducible.
    obj_optimizer : optax.GradientTransformation, optional
        Default for mean-field: windowed adagrad with learning rate 1e-3
        (:func:`credo.adagrad_window`, PyMC's default), which moves each
        weight by at most about the learning rate per step whatever the scale
        of its gradient. Default for full-rank and low-rank:
        ``optax.adam(1e-3)``; with ``init="map"`` the full-rank family is
        optimised in the frame whitened by the Laplace curvature, where every
        parameter has unit scale, and Adam's long gradient average keeps the
        covariance unbiased there (windowed adagrad's 10-step window inflates
        variances by 10-20%). Learning rates may be optax schedules
        (``cr.adagrad_window(optax.exponential_decay(...))``,
        ``optax.adam(schedule)``). Fits with optimisers of equal
        hyperparameters share one compiled program (see
        :mod:`credo.inference.optimizers`).
    obj_n_mc : int, optional
        Monte Carlo draws per step for the ELBO gradient (default 1).
    progressbar : bool
        Show a progress bar with the average loss (updated once per chunk).
    callbacks : list of callables, optional
        ``callback(approx, losses, step)`` after each chunk, with the
        approximation so far, the chunk's losses and the number of steps so
        far; one that raises (as PyMC's do) or returns ``StopIteration`` stops
        the fit (its message is kept as ``approx.stop_reason``). See
        :mod:`credo.callbacks`. A callback with an ``every`` attribute is
        called at least every ``every`` steps.
    start : Approximation or dict, optional
        An Approximation: continue it (same as ``start.refine(n)``; its
        optimiser and key continue, so ``obj_optimizer``, ``obj_n_mc``,
        ``random_seed``, ``init`` and ``n_starts`` do not apply). A dict:
        constrained start values of some free variables.
    chunk_size : int
        Steps per compiled chunk.
    init : {"map", "initial_point"}, optional
        The starting Gaussian. ``"map"`` (the default for the full-rank
        family): L-BFGS to the mode, then the Gaussian there with the Laplace
        curvature; the full-rank family is then optimised in the frame
        whitened by that curvature, which makes strongly correlated and badly
        scaled posteriors well-conditioned. ``"initial_point"`` (the default
        otherwise, as PyMC): the model's initial point, std softplus(0).
    checkpoint : str or path-like, optional
        Save the approximation to this ``.npz`` file as the fit goes (every
        ``checkpoint_every``, and when it ends, stops or is interrupted), each
        save atomic. Running the same call again after the process was
        killed continues from the file: the finished result equals, bit for
        bit, the one an uninterrupted fit gives with the same seed, and at
        most one checkpoint interval of steps is repeated; once the file
        holds all ``n`` steps the call returns it without fitting. A file
        written by another fit (other data, family, optimiser, ``obj_n_mc``,
        ``chunk_size``, ``init``, start values or ``random_seed``) is refused
        with a :class:`~credo.inference.checkpoint.CheckpointError` naming
        what differs, and is not overwritten. With ``random_seed=None`` the
        seed of the checkpoint is used. Not with ``n_starts > 1``. The file
        is a saved approximation: ``cr.load_approximation`` reads it.
    checkpoint_every : int, str or datetime.timedelta, optional
        Steps between checkpoints (an int), or a time (``"30s"``, ``"5min"``,
        a ``timedelta``); default 60 seconds.
    n_starts : int
        Run this many fits at once (vmapped in one compiled loop) from
        random starts (the first at the initial point, the others jittered by
        uniform(-1, 1) in the unconstrained space) and keep the one with the
        best final ELBO (mean loss over the last 10% of steps, at most 1,000).
        All final losses are in ``approx.start_losses``. The first start
        reproduces the single fit of the same seed. With ``keep="all"``
        every start is kept instead (see ``keep``).
    keep : {"best", "all"}
        With ``n_starts > 1``: ``"best"`` keeps the start of the best final
        ELBO; ``"all"`` returns every start as one mixture approximation
        (:class:`~credo.inference.mixture.Mixture`, an ensemble of fits) that
        samples, predicts, diagnoses, saves, loads and refines as one. Its
        members run as one compiled program (``jax.vmap``), each from its own
        start (the same starts as ``"best"``), with its own noise; a member
        whose loss turns non-finite is dropped (weight 0) and the others go
        on. ``approx.hist`` is the members' mean loss; ``start_losses``
        each member's final negative ELBO (estimated with 100 draws).
    weights : {"equal", "elbo"}
        With ``keep="all"``: equal weights (the default), or weights
        proportional to ``exp(ELBO)`` of each member (which tends to put all
        the weight on one member when the ELBOs differ by more than a few
        nats). :meth:`Approximation.with_weights` sets any others, e.g.
        :func:`~credo.inference.mixture.stacking_weights` on held-out data.
    devices : int, list of jax devices or jax.sharding.Mesh, optional
        Where to fit (default: every device JAX sees, over every process
        after ``jax.distributed.initialize``; one device is the plain path).
        The rows of the data (``cr.Data``, observed values, ``cr.Minibatch``)
        are sharded over the devices, padded where they do not divide evenly
        (the padded rows add nothing), and the parameters replicated: each
        device computes the terms of its rows and the gradients are summed
        across devices. The fit is the same as on one device up to the order
        of float additions (see :mod:`credo.model.placement`);
        ``approx.devices`` records where it ran, and ``refine``, ``sample``
        and ``diagnose`` run there too.
    **family_options
        Options of the method: ``rank`` for ``method="lowrank_advi"``,
        ``n_particles`` for ``"svgd"``, ``flow`` for ``"nfvi"``, ``num_paths``
        for ``"pathfinder"`` (see ``method``); an option of another method is
        a TypeError naming the accepted ones.

    Returns
    -------
    Approximation
        Ctrl-C stops the fit after the running compiled call (calls are sized
        to about a quarter of a second, so within about a second) and returns
        the approximation of the last completed step, with a warning naming
        it (``approx.stop_reason``). With ``checkpoint`` that step is saved
        too.

    Raises
    ------
    TypeError
        For a keyword argument ``fit`` does not take (naming the accepted ones).
    FitError
        For a value it cannot take (``n <= 0``, an unknown method, ...).
    NonFiniteLossError
        When the loss turns NaN or inf; it carries the approximation of the
        last finite step.

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model():
    ...     mu = cr.Normal("mu", 0, 1)
    ...     y = cr.Normal("y", mu, 1, observed=np.array([0.5, 1.0]))
    ...     approx = cr.fit(n=5000, random_seed=1, progressbar=False)
    >>> approx.hist.shape
    (5000,)
    """
    prefetch_arviz()
    check_model_argument(model, "fit")
    check_seed(random_seed, "fit")
    check_bool(progressbar, "progressbar", "fit")
    callbacks = check_callbacks(callbacks, "fit")
    if start is not None and not isinstance(start, (Mapping, Approximation)):
        raise FitError(f"fit: start must be an Approximation to continue, or a dict of start values; got "
                       f"{type(start).__name__}.")
    n = _positive_int(n, "n")
    n_starts = _positive_int(n_starts, "n_starts")
    if keep not in KEEP:
        raise FitError(f"fit: keep must be one of {KEEP}; got {keep!r}.")
    if weights not in MEMBER_WEIGHTS:
        raise FitError(f"fit: weights must be one of {MEMBER_WEIGHTS}; got {weights!r}.")
    if weights != "equal" and keep != "all":
        raise FitError(f"fit: weights={weights!r} weighs the members of keep='all'; with keep={keep!r} there is one "
                       "fit.")
    chunk_size = _positive_int(chunk_size, "chunk_size")
    if obj_n_mc is not None:
        _positive_int(obj_n_mc, "obj_n_mc")
    if start is not None and not isinstance(start, Mapping):
        return _continue(start, n, progressbar, callbacks, family_options, obj_optimizer=obj_optimizer,
                         obj_n_mc=obj_n_mc, random_seed=random_seed, init=init, n_starts=n_starts,
                         checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                         keep=None if keep == "best" else keep, weights=None if weights == "equal" else weights)
    model = modelcontext(model, what="fit")
    placement = placement_for(devices, "fit: devices")
    if isinstance(method, str) and method.lower() == "laplace":
        if family_options or n_starts != 1 or callbacks or init not in (None, "map") or checkpoint is not None:
            raise FitError("method='laplace' takes no ADVI options (n_starts, callbacks, init, checkpoint, family "
                           "options).")
        return report_fit(laplace(model=model, random_seed=random_seed, start=start, obj_optimizer=obj_optimizer,
                                  obj_n_mc=1 if obj_n_mc is None else obj_n_mc, chunk_size=chunk_size,
                                  placement=placement), progressbar)
    inference = _inference(method, family_options)
    compiled = model.compile()
    family = with_point_estimates(inference.family, compiled.point_slices)
    if compiled.dim == 0:
        raise FitError("the model has no free variables: there is nothing to fit.")
    if compiled.discrete_free:
        raise FitError(f"the free variables {compiled.discrete_free} are discrete; ADVI needs continuous ones.")
    check_data(model)
    one_shot = ONE_SHOT.get(type(family))
    if one_shot is not None:
        given = {"obj_optimizer": obj_optimizer, "obj_n_mc": obj_n_mc, "callbacks": callbacks or None, "init": init,
                 "n_starts": None if n_starts == 1 else n_starts}
        if any(value is not None for value in given.values()):
            raise FitError(f"method={family.name!r} is one-shot: {[k for k, v in given.items() if v is not None]} "
                           "do not apply to it.")
        approx = report_fit(one_shot(model, family, as_key(random_seed), start, placement), progressbar)
        inference.approx = approx
        return approx
    optimizer = as_optimizer(obj_optimizer if obj_optimizer is not None else inference.obj_optimizer,
                             family.default_optimizer)
    num_mc = _positive_int(obj_n_mc if obj_n_mc is not None else inference.obj_n_mc, "obj_n_mc")
    init_name = _init_name(init, family)
    key = as_key(random_seed)
    position = compiled.position_from_point(start)
    if init_name == "map" and streamed_names(model.data_values):
        raise FitError("init='map' needs the log density of every row, and the minibatches stream from the host: "
                       "give init='initial_point'.")
    data = model.placed_data(placement, stand_in=True).arrays
    if checkpoint is not None:
        if n_starts != 1:
            raise FitError("fit: checkpoint works with one start (n_starts=1): fit with n_starts, save the best, "
                           "then continue it with cr.fit(n, start=approx) or approx.refine(n).")
        settings = fit_settings(variables=describe_variables(compiled), data=model.data_values, family=family,
                                optimizer=optimizer,
                                num_mc=num_mc, chunk_size=chunk_size, init=init_name, key=key, start=start,
                                n_starts=n_starts)
        approx = _fit_checkpointed(model, family, init_name, optimizer, num_mc, key, chunk_size, position, data, n,
                                   progressbar, callbacks, settings, checkpoint, checkpoint_every,
                                   seeded=random_seed is not None, placement=placement)
        inference.approx = approx
        return approx
    if n_starts == 1:
        start_kwargs, map_result = _starting_gaussian(compiled, family, init_name, position, data)
        approx = Approximation.start(model, family, optimizer, key, num_mc=num_mc, chunk_size=chunk_size,
                                     map_result=map_result, placement=placement, **start_kwargs)
        try:
            approx = approx.refine(n, progressbar=progressbar, callbacks=callbacks)
        except NonFiniteLossError as error:
            inference.approx = error.approximation
            raise
        approx = report_fit(approx, progressbar)
        inference.approx = approx
        return approx
    if keep == "all":
        try:
            approx = _fit_mixture(model, family, init_name, optimizer, num_mc, key, chunk_size, position, data, n,
                                  n_starts, progressbar, callbacks, weights, placement)
        except NonFiniteLossError as error:
            inference.approx = error.approximation
            raise
        approx = report_fit(approx, progressbar)
        inference.approx = approx
        return approx
    if callbacks:
        raise FitError("callbacks do not apply while several starts run (n_starts > 1) with keep='best': fit with "
                       "n_starts, then continue the best with approx.refine(n, callbacks=[...]), or keep='all'.")
    if streamed_names(model.data_values):
        raise FitError(f"n_starts > 1 with minibatches streamed from the host ({list(streamed_names(model.data_values))})"
                       ": each start would read its own batches; fit one start (n_starts=1), or load the data "
                       "(cr.Minibatch(..., stream=False)).")
    approx = _fit_multi(model, family, init_name, optimizer, num_mc, key, chunk_size, position, data, n, n_starts,
                        progressbar, placement)
    approx = report_fit(approx, progressbar)
    inference.approx = approx
    return approx


def _fit_checkpointed(model, family, init_name, optimizer, num_mc, key, chunk_size, position, data, n, progressbar,
                      callbacks, settings: dict, checkpoint, checkpoint_every, seeded: bool,
                      placement=None) -> Approximation:
    """A single fit saved to ``checkpoint`` as it goes, continued from it where it exists (see ``fit``)."""
    path = checkpoint_path(checkpoint)
    steps, seconds = checkpoint_interval(checkpoint_every)
    if path.exists():
        saved = read_metadata(path).get("checkpoint")
        check_settings(path, saved, settings, ignore=() if seeded else ("random_seed",))
        approx = dataclasses.replace(approximation_from_fields(model, read_fields(path, model, optimizer)),
                                     placement=placement)
        settings = dict(settings, random_seed=saved["random_seed"])
        if approx.num_steps > n:
            raise CheckpointError(f"checkpoint {str(path)!r} holds a fit of {approx.num_steps} steps, more than the "
                                  f"n={n} asked for: ask for n >= {approx.num_steps}, or give another path.")
        on_disk = True
    else:
        start_kwargs, map_result = _starting_gaussian(model.compile(), family, init_name, position, data)
        approx = Approximation.start(model, family, optimizer, key, num_mc=num_mc, chunk_size=chunk_size,
                                     map_result=map_result, placement=placement, **start_kwargs)
        on_disk = False
    remaining = n - approx.num_steps
    if remaining == 0:
        return approx

    def checkpointer(result_fn):
        return Checkpointer(path, settings, result_fn, save_approximation, steps, seconds,
                            start_step=approx.num_steps, on_disk=on_disk)

    return approx.run(remaining, progressbar=progressbar, callbacks=callbacks, checkpoint=checkpointer)


def _continue(approx, n: int, progressbar: bool, callbacks, family_options: dict, **ignored) -> Approximation:
    """``fit(n, start=approx)``: ``approx.refine(n)``, refusing the options that cannot apply to it."""
    if not isinstance(approx, Approximation):
        raise FitError(f"start must be an Approximation to continue, or a dict of start values; got "
                       f"{type(approx).__name__}.")
    given = [name for name, value in ignored.items() if value is not None and not (name == "n_starts" and value == 1)]
    given += list(family_options)
    if given:
        raise FitError(f"start=approx continues that fit with its own optimiser, key and family: {given} do not "
                       "apply; start a new fit to change them.")
    return report_fit(approx.refine(n, progressbar=progressbar, callbacks=callbacks), progressbar)


def _final_loss(losses: np.ndarray, n: int) -> np.ndarray:
    """Mean loss over the last 10% of ``n`` steps (at least 1, at most 1,000) of each row."""
    window = int(min(1000, max(1, n // 10)))
    return losses[:, -window:].mean(axis=1)


def _start_states(compiled, family, init_name, optimizer: Optimizer, num_mc, key, position, data, n_starts):
    """The states of ``n_starts`` starts (the first at ``position``, the others jittered by uniform(-1, 1)),
    stacked, their keys and MAP results."""
    algorithm = family.algorithm(compiled.logdensity_fn, optimizer.transformation, num_mc)
    keys = [key] + [jax.random.fold_in(key, i) for i in range(1, n_starts)]
    jitter = jax.random.uniform(jax.random.fold_in(key, n_starts + JITTER_STREAM), (n_starts,) + position.shape,
                                position.dtype, -1.0, 1.0).at[0].set(0.0)
    states, map_results = [], []
    for i in range(n_starts):
        start_kwargs, result = _starting_gaussian(compiled, family, init_name, position + jitter[i], data)
        states.append(algorithm.init(start_kwargs.pop("position"), key=jax.random.fold_in(keys[i], INIT_STREAM),
                                     **start_kwargs))
        map_results.append(result)
    return stack_states(states), keys, map_results


def _fit_mixture(model, family, init_name, optimizer: Optimizer, num_mc, key, chunk_size, position, data, n,
                 n_starts, progressbar, callbacks, weights: str, placement) -> Approximation:
    """Every start kept: one mixture approximation whose members run as one program (see ``fit``'s ``keep``)."""
    compiled = model.compile()
    mixture = Mixture(family, n_starts)
    states, _, map_results = _start_states(compiled, family, init_name, optimizer, num_mc, key, position, data,
                                           n_starts)
    state = mixture.combine(states, jnp.ones(n_starts, position.dtype))
    approx = Approximation(model, mixture, state, key, np.zeros(0, np.float32),
                           FitSettings(optimizer, num_mc, chunk_size), FitInfo(map_result=map_results[0]), placement)
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


def _fit_multi(model, family, init_name, optimizer: Optimizer, num_mc, key, chunk_size, position, data, n,
               n_starts, progressbar, placement) -> Approximation:
    """Several fits from jittered starts, vmapped in one compiled loop; the best by final loss."""
    compiled = model.compile()
    states, keys, map_results = _start_states(compiled, family, init_name, optimizer, num_mc, key, position, data,
                                              n_starts)
    spec = ADVIChunk(family, optimizer, num_mc, chunk_size, tuple(model.minibatches), data_signature(data),
                     multi=True)
    runner = compiled.programs.get(spec, compiled)
    run = run_chunks(runner, states, jnp.stack(keys), data, n, chunk_size, alive=np.ones(n_starts, bool),
                     progressbar=progressbar)
    losses = np.asarray(run.hist)
    final = np.where(run.alive, _final_loss(np.where(np.isfinite(losses), losses, np.inf), n), np.inf)
    if not np.isfinite(final).any():
        raise FitError(f"all {n_starts} starts turned non-finite; try a smaller learning rate, better initial "
                       "values, or tighter priors.")
    best = int(np.argmin(final))
    state = jax.tree_util.tree_map(lambda leaf: leaf[best], run.state)
    return Approximation(model, family, state, keys[best], losses[best], FitSettings(optimizer, num_mc, chunk_size),
                         FitInfo(stop_reason=run.stop_reason, start_losses=final, best_start=best,
                                 map_result=map_results[best]), placement)
