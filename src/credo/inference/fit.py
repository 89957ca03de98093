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
from typing import Callable, Mapping, Sequence

import jax
import numpy as np

from .._config import prefetch_arviz
from ..errors import FitError, NonFiniteLossError
from ..model.compile import check_data
from ..model.core import Model, modelcontext
from ..model.placement import placement_for, streamed_names
from .advi import FullRank, GaussianFamily, LowRank, MeanField, with_point_estimates
from .approximation import Approximation, approximation_from_fields
from .checkpoint import (
    Checkpointer, CheckpointError, check_settings, checkpoint_interval, checkpoint_path, fit_settings,
)
from .checks import check_bool, check_callbacks, check_model_argument, check_seed, positive_int
from .diagnostics import report_fit
from .flows import NormalizingFlow
from .io import describe_variables, read_fields, read_metadata, save_approximation
from .mode import laplace
from .optimizers import as_optimizer
from .pathfinder import PathfinderNormals
from .pathfinder_fit import fit_pathfinder
from .results import as_key
from .starts import FitPlan, fit_best_start, fit_mixture
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


def _init_name(init, family: GaussianFamily) -> str:
    if init is None:
        return family.default_init
    if not isinstance(init, str) or init.lower() not in INITS:
        raise FitError(f"unknown init {init!r}; choose 'map' (the mode and the Laplace curvature there) or "
                       "'initial_point' (the model's initial point, std softplus(0) as PyMC starts).")
    return init.lower()


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
    n, n_starts, chunk_size = _check_arguments(n=n, model=model, random_seed=random_seed, progressbar=progressbar,
                                               start=start, n_starts=n_starts, keep=keep, weights=weights,
                                               chunk_size=chunk_size, obj_n_mc=obj_n_mc)
    callbacks = check_callbacks(callbacks, "fit")
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
    family = _checked_family(model, inference)
    key = as_key(random_seed)
    one_shot = ONE_SHOT.get(type(family))
    try:
        if one_shot is not None:
            _refuse_steps_options(family, obj_optimizer=obj_optimizer, obj_n_mc=obj_n_mc, callbacks=callbacks or None,
                                  init=init, n_starts=None if n_starts == 1 else n_starts)
            approx = one_shot(model, family, key, start, placement)
        else:
            plan = _plan(model, inference, family, key, start, init, obj_optimizer, obj_n_mc, chunk_size, placement)
            approx = _fit_steps(plan, n, n_starts, keep, weights, progressbar, callbacks, checkpoint,
                                checkpoint_every, start=start, seeded=random_seed is not None)
    except NonFiniteLossError as error:
        inference.approx = error.approximation
        raise
    approx = report_fit(approx, progressbar)
    inference.approx = approx
    return approx


def _fit_steps(plan: FitPlan, n: int, n_starts: int, keep: str, weights: str, progressbar: bool, callbacks,
               checkpoint, checkpoint_every, start, seeded: bool) -> Approximation:
    """``n`` steps of an iterative method: one start (checkpointed or not), the best of several, or all of them."""
    if checkpoint is not None:
        return _fit_checkpointed(plan, n, n_starts, progressbar, callbacks, checkpoint, checkpoint_every, start=start,
                                 seeded=seeded)
    if n_starts == 1:
        return plan.start().run(n, progressbar=progressbar, callbacks=callbacks)
    if keep == "all":
        return fit_mixture(plan, n, n_starts, progressbar, callbacks, weights)
    _check_best_of_starts(plan.model, callbacks)
    return fit_best_start(plan, n, n_starts, progressbar)


def _check_arguments(*, n, model, random_seed, progressbar, start, n_starts, keep, weights, chunk_size,
                     obj_n_mc) -> tuple[int, int, int]:
    """``fit``'s checks of its arguments' values; ``n``, ``n_starts`` and ``chunk_size`` as ints."""
    check_model_argument(model, "fit")
    check_seed(random_seed, "fit")
    check_bool(progressbar, "progressbar", "fit")
    if start is not None and not isinstance(start, (Mapping, Approximation)):
        raise FitError(f"fit: start must be an Approximation to continue, or a dict of start values; got "
                       f"{type(start).__name__}.")
    if keep not in KEEP:
        raise FitError(f"fit: keep must be one of {KEEP}; got {keep!r}.")
    if weights not in MEMBER_WEIGHTS:
        raise FitError(f"fit: weights must be one of {MEMBER_WEIGHTS}; got {weights!r}.")
    if weights != "equal" and keep != "all":
        raise FitError(f"fit: weights={weights!r} weighs the members of keep='all'; with keep={keep!r} there is one "
                       "fit.")
    if obj_n_mc is not None:
        positive_int(obj_n_mc, "obj_n_mc", "fit")
    return positive_int(n, "n", "fit"), positive_int(n_starts, "n_starts", "fit"), positive_int(chunk_size,
                                                                                                 "chunk_size", "fit")


def _checked_family(model: Model, inference: ADVI):
    """The inference object's family, with the model's point-estimated variables, once the model can be fitted."""
    compiled = model.compile()
    if compiled.dim == 0:
        raise FitError("the model has no free variables: there is nothing to fit.")
    if compiled.discrete_free:
        raise FitError(f"the free variables {compiled.discrete_free} are discrete; ADVI needs continuous ones.")
    check_data(model)
    return with_point_estimates(inference.family, compiled.point_slices)


def _refuse_steps_options(family, **given) -> None:
    """A one-shot method (no steps) refuses the options of the steps."""
    named = [name for name, value in given.items() if value is not None]
    if named:
        raise FitError(f"method={family.name!r} is one-shot: {named} do not apply to it.")


def _plan(model, inference: ADVI, family, key, start, init, obj_optimizer, obj_n_mc, chunk_size,
          placement) -> FitPlan:
    optimizer = as_optimizer(obj_optimizer if obj_optimizer is not None else inference.obj_optimizer,
                             family.default_optimizer)
    num_mc = positive_int(obj_n_mc if obj_n_mc is not None else inference.obj_n_mc, "obj_n_mc", "fit")
    init_name = _init_name(init, family)
    if init_name == "map" and streamed_names(model.data_values):
        raise FitError("init='map' needs the log density of every row, and the minibatches stream from the host: "
                       "give init='initial_point'.")
    return FitPlan(model, family, init_name, optimizer, num_mc, chunk_size, key,
                   model.compile().position_from_point(start), model.placed_data(placement, stand_in=True).arrays,
                   placement)


def _check_best_of_starts(model: Model, callbacks) -> None:
    if callbacks:
        raise FitError("callbacks do not apply while several starts run (n_starts > 1) with keep='best': fit with "
                       "n_starts, then continue the best with approx.refine(n, callbacks=[...]), or keep='all'.")
    if streamed_names(model.data_values):
        raise FitError(f"n_starts > 1 with minibatches streamed from the host ({list(streamed_names(model.data_values))})"
                       ": each start would read its own batches; fit one start (n_starts=1), or load the data "
                       "(cr.Minibatch(..., stream=False)).")


def _fit_checkpointed(plan: FitPlan, n: int, n_starts: int, progressbar: bool, callbacks, checkpoint,
                      checkpoint_every, start, seeded: bool) -> Approximation:
    """A single fit saved to ``checkpoint`` as it goes, continued from it where it exists (see ``fit``)."""
    if n_starts != 1:
        raise FitError("fit: checkpoint works with one start (n_starts=1): fit with n_starts, save the best, "
                       "then continue it with cr.fit(n, start=approx) or approx.refine(n).")
    model = plan.model
    settings = fit_settings(variables=describe_variables(model.compile()), data=model.data_values, family=plan.family,
                            optimizer=plan.optimizer, num_mc=plan.num_mc, chunk_size=plan.chunk_size, init=plan.init,
                            key=plan.key, start=start, n_starts=n_starts)
    path = checkpoint_path(checkpoint)
    steps, seconds = checkpoint_interval(checkpoint_every)
    if path.exists():
        saved = read_metadata(path).get("checkpoint")
        check_settings(path, saved, settings, ignore=() if seeded else ("random_seed",))
        approx = dataclasses.replace(approximation_from_fields(model, read_fields(path, model, plan.optimizer)),
                                     placement=plan.placement)
        settings = dict(settings, random_seed=saved["random_seed"])
        if approx.num_steps > n:
            raise CheckpointError(f"checkpoint {str(path)!r} holds a fit of {approx.num_steps} steps, more than the "
                                  f"n={n} asked for: ask for n >= {approx.num_steps}, or give another path.")
        on_disk = True
    else:
        approx = plan.start()
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
