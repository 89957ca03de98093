"""The result of a variational fit: a frozen value holding a Gaussian on the unconstrained space."""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Callable, Mapping, Sequence

import jax
import numpy as np

from ..data import minibatch_fn
from ..errors import FitError, NonFiniteLossError
from ..model.compile import check_data, check_data_arguments
from ..model.core import Model, modelcontext
from ..model.placement import (
    PlacedData, Placement, place_data, placement_for, single_device_description, streamed_names,
)
from ..model.programs import data_signature
from .advi import ADVIState
from .checks import check_bool, check_callbacks, check_model_argument, check_seed, positive_int
from .diagnostics import Diagnosis, diagnose, importance_draws, psis, resample
from .driver import FIRST_CALL_STEPS, chunk_size_for, run_chunks
from .io import read_fields, save_approximation
from .likelihood import check_idata_kwargs, log_likelihood_values
from .method import VariationalMethod
from .mixture import WEIGHTS, Mixture
from .optimizers import Optimizer
from .programs import ADVIChunk, ADVIInit, Constrain, GaussianDraws
from .results import as_key, devices_attrs, observed_and_constant_data, to_inference_data
from .streaming import BatchStream, block_steps, streaming_runner

__all__ = ["Approximation", "FitSettings", "FitInfo", "load_approximation", "approximation_from_fields",
           "MOMENT_DRAWS"]

#: Draws used for the constrained-space mean and std of transformed variables (once per approximation).
MOMENT_DRAWS = 4000
#: Where the key of a method's random start (SVGD's particles) is folded from the fit's key.
INIT_STREAM = 0x1A17
#: Ways ``sample(importance=...)`` reweights draws.
IMPORTANCE = ("psis",)


@dataclasses.dataclass(frozen=True)
class FitSettings:
    """How an approximation is optimised when it is continued.

    Attributes
    ----------
    optimizer : Optimizer or None
        None for a file loaded without its custom optimiser (it samples but
        cannot be continued).
    num_mc : int
        Monte Carlo draws per step for the ELBO gradient.
    chunk_size : int
        Steps per compiled chunk.
    """

    optimizer: Optimizer | None
    num_mc: int = 1
    chunk_size: int = 1000


@dataclasses.dataclass(frozen=True)
class FitInfo:
    """What a fit reports besides its state.

    Attributes
    ----------
    stop_reason : str or None
        Why the last run stopped early (a callback's message, an interrupt).
    start_losses : numpy.ndarray or None
        With ``n_starts > 1``: the final loss of every start.
    best_start : int or None
        The start kept (the lowest final loss).
    map_result : MAPResult or None
        The L-BFGS outcome where the fit started at the mode.
    diagnosis : Diagnosis or None
        The importance-sampling verdict ``cr.fit`` gives at the end of a fit
        (see :meth:`Approximation.diagnose`).
    """

    stop_reason: str | None = None
    start_losses: np.ndarray | None = None
    best_start: int | None = None
    map_result: object = None
    diagnosis: object = None


@dataclasses.dataclass(frozen=True, eq=False)
class Approximation:
    """A fitted Gaussian approximation of the posterior: a value, never changed after it is made.

    ``refine`` returns a new approximation; the one it continues stays as it
    was.

    Attributes
    ----------
    model : credo.Model
    family : VariationalMethod
    state : ADVIState
        Parameters, frame, optimiser state and step count: everything needed
        to continue.
    key : jax.Array
        The fit's key; step ``s`` draws from ``fold_in(key, s)``.
    hist : numpy.ndarray
        The loss (negative ELBO) of every iteration so far (read-only).
    settings : FitSettings
    info : FitInfo
    placement : Placement or None
        The devices the fit ran on, with the data's rows sharded over them
        (None: one device); ``refine``, ``sample`` and ``diagnose`` run there
        too. ``approx.devices`` describes them.

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model():
    ...     mu = cr.Normal("mu", 0, 1)
    ...     y = cr.Normal("y", mu, 1, observed=np.zeros(3))
    ...     approx = cr.fit(n=3000, random_seed=0, progressbar=False)
    >>> idata = approx.sample(draws=100, random_seed=1)
    >>> idata.posterior["mu"].shape
    (1, 100)
    """

    model: Model
    family: VariationalMethod
    state: ADVIState
    key: jax.Array
    hist: np.ndarray
    settings: FitSettings
    info: FitInfo = FitInfo()
    placement: Placement | None = None

    def __post_init__(self):
        hist = np.asarray(self.hist, np.float32)
        if hist.flags.writeable:  # a private read-only copy: the value cannot change under it
            hist = hist.copy()
            hist.flags.writeable = False
        object.__setattr__(self, "hist", hist)

    @classmethod
    def start(cls, model: Model, family: VariationalMethod, optimizer: Optimizer, key: jax.Array, *, num_mc: int = 1,
              chunk_size: int = 1000, position=None, std=None, cholesky=None, whiten: bool = False,
              map_result=None, placement: Placement | None = None) -> "Approximation":
        """A fresh approximation (no step taken) with mean ``position`` and ``std`` or ``cholesky``, fitted on
        ``placement``'s devices."""
        compiled = model.compile()
        if position is None:
            position = compiled.initial_position()
        data = model.placed_data(placement, stand_in=True).arrays
        init = compiled.programs.get(ADVIInit(family, optimizer, bool(whiten), data_signature(data)), compiled)
        state = init(position, std=std, cholesky=cholesky, key=jax.random.fold_in(key, INIT_STREAM))
        return cls(model, family, state, key, np.zeros(0, np.float32),
                   FitSettings(optimizer, int(num_mc), int(chunk_size)), FitInfo(map_result=map_result), placement)

    # progress ---------------------------------------------------------------
    @property
    def compiled(self):
        return self.model.compile()

    @property
    def devices(self) -> dict:
        """The devices and processes the fit ran on: ``{"devices", "processes", "platform", "device_kind"}``."""
        return single_device_description() if self.placement is None else self.placement.describe()

    def placed_data(self, data: Mapping | None = None, stand_in: bool = False) -> PlacedData:
        """The model's data (or ``data``, new values of some Data variables, checked) placed on this fit's
        devices, as its programs receive them (``stand_in``: see :func:`~credo.model.placement.place_data`)."""
        if data is None:
            return self.model.placed_data(self.placement, stand_in)
        return place_data(self.model, check_data_arguments(self.model, data), self.placement, stand_in)

    @property
    def num_steps(self) -> int:
        return int(self.state.step)

    @property
    def params(self) -> dict:
        """The variational parameters of the Gaussian (a frame folded in, see :func:`credo.inference.advi.natural_params`)."""
        return self.family.state_params(self.state)

    @property
    def stop_reason(self) -> str | None:
        return self.info.stop_reason

    @property
    def start_losses(self) -> np.ndarray | None:
        return self.info.start_losses

    @property
    def best_start(self) -> int | None:
        return self.info.best_start

    @property
    def map_result(self):
        return self.info.map_result

    def refine(self, n: int, progressbar: bool = True, callbacks: Sequence[Callable] | None = None) -> "Approximation":
        """Continue the fit for ``n`` more steps: a new approximation (this one is left as it is).

        ``fit(m)`` then ``refine(n)`` gives the same result as ``fit(m + n)``
        with the same seed. Ctrl-C stops it after the running call (within
        about a second) and returns the approximation of the last completed
        step, with a warning naming it.

        Parameters
        ----------
        n : int
            Steps to add.
        progressbar : bool
        callbacks : list of callables, optional
            Called as in :func:`credo.fit`.

        Returns
        -------
        Approximation

        Examples
        --------
        >>> import credo as cr, numpy as np
        >>> with cr.Model():
        ...     mu = cr.Normal("mu", 0, 1)
        ...     y = cr.Normal("y", mu, 1, observed=np.zeros(3))
        ...     approx = cr.fit(n=1000, random_seed=0, progressbar=False)
        >>> longer = approx.refine(500, progressbar=False)
        >>> len(approx.hist), len(longer.hist)
        (1000, 1500)
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise FitError(f"refine: n must be a positive number of iterations; got {n!r}.")
        if not isinstance(progressbar, (bool, np.bool_)):
            raise FitError(f"refine: progressbar must be True or False; got {progressbar!r}.")
        return self.run(int(n), progressbar=bool(progressbar), callbacks=check_callbacks(callbacks, "refine"))

    def run(self, n: int, *, progressbar: bool = True, callbacks: Sequence[Callable] = (),
            checkpoint: Callable[["Approximation"], Callable] | None = None) -> "Approximation":
        """``refine`` without the argument checks, for the drivers; ``checkpoint(result_fn)`` builds the
        driver's ``checkpoint_fn`` (see :class:`credo.inference.checkpoint.Checkpointer`)."""
        if not self.family.iterative:
            raise FitError(f"{self.family.name} is a one-shot method: there are no iterations to continue; fit "
                           "again (with other options) instead.")
        settings = self.settings
        if settings.optimizer is None:
            raise FitError(
                "this approximation has no optimiser to continue with (it was loaded from a file written with a "
                "custom optimiser): pass the same optimiser to cr.load_approximation(..., optimizer=...)."
            )
        check_data(self.model)
        callbacks = list(callbacks or ())
        chunk_size = chunk_size_for(settings.chunk_size, callbacks)
        info = dataclasses.replace(self.info, stop_reason=None, diagnosis=None)  # the verdict was on the old state

        def result(state, hist, stop_reason=None):
            return dataclasses.replace(self, state=state, hist=hist,
                                       info=dataclasses.replace(info, stop_reason=stop_reason))

        streamed = streamed_names(self.model.data_values)
        if not streamed:
            data = self.placed_data().arrays
            runner = self._chunk_program(chunk_size, data)
            run = run_chunks(runner, self.state, self.key, data, int(n), chunk_size, hist=self.hist,
                             progressbar=progressbar, callbacks=callbacks, result_fn=result,
                             checkpoint_fn=checkpoint(result) if checkpoint is not None else None)
            approx = result(run.state, run.hist, run.stop_reason)
            if not bool(run.alive):
                raise _non_finite(approx, data)
            return approx
        data = place_data(self.model, {name: value for name, value in self.model.data_values.items()
                                       if name not in streamed}, self.placement).arrays
        stream = BatchStream(self.compiled, streamed, self.key, block_steps(self.model, streamed, chunk_size),
                             self.placement)
        try:
            read, first = stream.load(self.num_steps, FIRST_CALL_STEPS)  # the first call's rows; the data's shapes
            stream.keep(self.num_steps, first, read)
            runner = streaming_runner(self._chunk_program(stream.steps, dict(data, **first), streamed), stream)
            run = run_chunks(runner, self.state, self.key, data, int(n), chunk_size, hist=self.hist,
                             progressbar=progressbar, callbacks=callbacks, result_fn=result,
                             checkpoint_fn=checkpoint(result) if checkpoint is not None else None,
                             call_limit=stream.steps)
            approx = result(run.state, run.hist, run.stop_reason)
            if not bool(run.alive):
                blocks = stream.blocks(approx.num_steps, 1)
                raise _non_finite(approx, dict(data, **blocks), streamed)
        finally:
            stream.close()
        return approx

    def _chunk_program(self, chunk_size: int, data: dict, streamed: tuple = ()):
        """The compiled chunk of up to ``chunk_size`` steps on data like ``data`` (``streamed`` arrays as blocks)."""
        settings = self.settings
        spec = ADVIChunk(self.family, settings.optimizer, settings.num_mc, chunk_size, tuple(self.model.minibatches),
                         data_signature(data), streamed=streamed)
        return self.compiled.programs.get(spec, self.compiled)

    # moments ----------------------------------------------------------------
    @property
    def mean_unconstrained(self) -> np.ndarray:
        """Mean of the Gaussian on the flat unconstrained space."""
        return np.asarray(self.family.state_mean(self.state))

    @property
    def std_unconstrained(self) -> np.ndarray:
        return np.asarray(self.family.state_std(self.state))

    @property
    def cov(self) -> np.ndarray:
        """Covariance of the Gaussian on the flat unconstrained space."""
        return np.asarray(self.family.state_covariance(self.state))

    @functools.cached_property
    def _moments(self) -> tuple[dict, dict]:
        flat_mean, flat_std = self.mean_unconstrained, self.std_unconstrained
        means, stds = {}, {}
        free = self.compiled.free
        if any(info.transformed for info in free):
            draws = self._constrained(jax.random.key(0), MOMENT_DRAWS)
        for info in free:
            if info.transformed:
                means[info.name] = np.asarray(draws[info.name]).mean(0)
                stds[info.name] = np.asarray(draws[info.name]).std(0)
            else:
                part = slice(info.offset, info.offset + info.size)
                means[info.name] = flat_mean[part].reshape(info.shape)
                stds[info.name] = flat_std[part].reshape(info.shape)
        return means, stds

    @property
    def mean(self) -> dict[str, np.ndarray]:
        """Posterior mean of each free variable in constrained space.

        Exact for unbounded variables; for transformed ones (positive, bounded,
        simplex) estimated from 4,000 draws, drawn once per approximation.
        """
        return self._moments[0]

    @property
    def std(self) -> dict[str, np.ndarray]:
        """Posterior standard deviation of each free variable in constrained space (see ``mean``)."""
        return self._moments[1]

    # mixtures ---------------------------------------------------------------
    def _mixture(self, what: str) -> Mixture:
        if not isinstance(self.family, Mixture):
            raise FitError(f"approx.{what}: this approximation is one {self.family.name} fit, not a mixture; fit "
                           "with cr.fit(..., n_starts=k, keep='all') for an ensemble of fits.")
        return self.family

    @property
    def weights(self) -> np.ndarray:
        """The members' weights of a mixture approximation (``keep="all"``), summing to 1."""
        return np.asarray(self.state.params[WEIGHTS]) if isinstance(self.family, Mixture) else np.ones(1)

    @property
    def members(self) -> tuple["Approximation", ...]:
        """The members of a mixture approximation, each an approximation of the member's method.

        Member ``i`` keeps the mixture's key folded with ``i`` (what its
        steps drew from), the mixture's loss history and settings.

        Examples
        --------
        >>> import credo as cr, numpy as np
        >>> with cr.Model():
        ...     mu = cr.Normal("mu", 0, 1)
        ...     y = cr.Normal("y", mu, 1, observed=np.zeros(3))
        ...     approx = cr.fit(n=500, n_starts=3, keep="all", random_seed=0, progressbar=False)
        >>> [member.family.label for member in approx.members]
        ['meanfield', 'meanfield', 'meanfield']
        """
        mixture = self._mixture("members")
        return tuple(
            Approximation(self.model, mixture.member, mixture.member_state(self.state, i),
                          jax.random.fold_in(self.key, i), self.hist, self.settings, placement=self.placement)
            for i in range(int(mixture.size))
        )

    def with_weights(self, weights) -> "Approximation":
        """The same members of a mixture approximation with other weights (normalised to sum to 1).

        Parameters
        ----------
        weights : array-like, shape (members,)
            Non-negative, not all zero: e.g. :func:`credo.inference.mixture.stacking_weights`
            of the members' log predictive densities on held-out rows.

        Examples
        --------
        >>> import credo as cr, numpy as np
        >>> with cr.Model():
        ...     mu = cr.Normal("mu", 0, 1)
        ...     y = cr.Normal("y", mu, 1, observed=np.zeros(3))
        ...     approx = cr.fit(n=500, n_starts=2, keep="all", random_seed=0, progressbar=False)
        >>> approx.with_weights([3, 1]).weights
        array([0.75, 0.25], dtype=float32)
        """
        mixture = self._mixture("with_weights")
        values = np.asarray(weights, np.float64)
        if values.shape != (int(mixture.size),) or not np.all(np.isfinite(values)) or np.any(values < 0) \
                or not values.sum() > 0:
            raise FitError(f"with_weights: weights must be {int(mixture.size)} non-negative finite numbers, not all "
                           f"zero; got {weights!r}.")
        current = self.state.params[WEIGHTS]
        params = dict(self.state.params, **{WEIGHTS: jax.numpy.asarray(values / values.sum(), current.dtype)})
        return dataclasses.replace(self, state=self.state._replace(params=params),
                                   info=dataclasses.replace(self.info, diagnosis=None))

    # sampling ---------------------------------------------------------------
    def _constrained(self, key: jax.Array, draws: int, data=None) -> dict:
        """``draws`` constrained draws and the deterministics; with data streamed from the host, the
        deterministics with a row per observation are left out (their rows are not all at hand)."""
        compiled = self.compiled
        placed = self.placed_data(data, stand_in=True)
        run = compiled.programs.get(GaussianDraws(self.family, data_signature(placed.arrays)), compiled)
        values = placed.cut(run(key, self.state, placed.arrays, draws))
        shapes = {node.name: tuple(node.shape) for node in compiled.deterministic_nodes}
        return {name: value for name, value in values.items()
                if name not in shapes or data is not None or tuple(value.shape[1:]) == shapes[name]}

    def sample(self, draws: int = 1000, random_seed=None, return_inferencedata: bool = True, *, data=None,
               idata_kwargs: dict | None = None,
               importance: str | None = None):
        """Draw from the approximation: free variables and deterministics.

        Parameters
        ----------
        draws : int
        random_seed : int or key, optional
        return_inferencedata : bool
            False: a dict of ``(draws, ...)`` arrays (with ``idata_kwargs``'
            log-likelihood: ``{"posterior": ..., "log_likelihood": ...}`` of
            ``(1, draws, ...)`` arrays).
        data : dict of arrays, optional
            Values of the model's data variables to compute the deterministics
            with, in place of the model's current data (the model is not
            changed).
        idata_kwargs : dict, optional
            ``{"log_likelihood": True}`` adds the pointwise log-likelihood
            group (at the model's current data) for ``az.loo``/``az.compare``;
            ``"coords"`` and ``"dims"`` add to the model's.
        importance : {"psis"}, optional
            ``"psis"``: draw ``draws`` from the approximation, weigh each by
            ``p / q`` with Pareto smoothing (see :meth:`diagnose`) and
            resample ``draws`` of them with replacement by those weights:
            draws closer to the posterior where k-hat <= 0.7 (with repeats;
            how many distinct draws there are is about the importance ESS).
            Not for particle approximations (no density).

        Returns
        -------
        arviz.InferenceData
            A posterior group with one chain of ``draws`` draws, and the
            ``observed_data`` and ``constant_data`` groups (dims and labels
            from the model's ``coords`` and ``dims``). Deterministics are
            computed with the model's current data.

        Examples
        --------
        >>> import credo as cr, numpy as np
        >>> with cr.Model():
        ...     mu = cr.Normal("mu", 0, 1)
        ...     y = cr.Normal("y", mu, 1, observed=np.zeros(3))
        ...     approx = cr.fit(1000, random_seed=0, progressbar=False)
        >>> approx.sample(10, random_seed=1, return_inferencedata=False)["mu"].shape
        (10,)
        >>> approx.sample(10, random_seed=1, idata_kwargs={"log_likelihood": True}).log_likelihood["y"].shape
        (1, 10, 3)
        """
        what = "approx.sample"
        draws = positive_int(draws, "draws", what)
        check_seed(random_seed, what)
        check_bool(return_inferencedata, "return_inferencedata", what)
        idata_kwargs = check_idata_kwargs(idata_kwargs, what)
        if data is not None and not isinstance(data, Mapping):
            raise FitError(f"{what}: data must be a dict of Data values; got {type(data).__name__}.")
        if importance is None:
            values = self._constrained(as_key(random_seed), draws, data)
        else:
            values = self._importance_resampled(as_key(random_seed), draws, importance, data)
        values = {name: np.asarray(value) for name, value in values.items()}
        log_likelihood = None
        if idata_kwargs.get("log_likelihood"):
            check_data(self.model)
            free = {info.name: values[info.name][None] for info in self.compiled.free}
            log_likelihood = log_likelihood_values(self.model, free, self.compiled.observed_names, self.placement)
        if not return_inferencedata:
            if log_likelihood is None:
                return values
            return {"posterior": {name: value[None] for name, value in values.items()},
                    "log_likelihood": log_likelihood}
        observed, constant = observed_and_constant_data(self.model)
        idata = to_inference_data(self.model, coords=idata_kwargs.get("coords"), dims=idata_kwargs.get("dims"),
                                  posterior={name: value[None] for name, value in values.items()},
                                  log_likelihood=log_likelihood, observed_data=observed, constant_data=constant)
        idata.posterior.attrs.update(devices_attrs(self.devices))
        return idata

    def _importance_resampled(self, key: jax.Array, draws: int, importance, data) -> dict:
        if importance not in IMPORTANCE:
            raise FitError(f"importance must be one of {IMPORTANCE} or None; got {importance!r}.")
        placed = self.placed_data(data)
        draw_key, choice_key = jax.random.split(key)
        flat, log_ratios = importance_draws(self, draw_key, max(draws, 2), placed.arrays)
        log_weights, _ = psis(log_ratios)
        chosen = flat[resample(choice_key, log_weights, draws)]
        compiled = self.compiled
        constrain = compiled.programs.get(Constrain(data_signature(placed.arrays)), compiled)
        return placed.cut(constrain(chosen, placed.arrays))

    # verdict ------------------------------------------------------------------
    def diagnose(self, draws: int = 1000, random_seed=None) -> Diagnosis:
        """Pareto-smoothed importance sampling of ``p / q``: can the approximation be trusted?

        Draws ``draws`` from the approximation, computes the model's log
        density (Jacobians included) and the approximation's at each, and
        gives ArviZ's Pareto k-hat of the ratios with the effective sample
        size of the smoothed weights. k-hat < 0.5: good; up to 0.7: usable,
        better with ``sample(importance="psis")``; above 0.7: unreliable
        (see :mod:`credo.inference.diagnostics`). ``cr.fit`` gives this
        verdict at the end of every fit (``approx.info.diagnosis``).

        Examples
        --------
        >>> import credo as cr, numpy as np
        >>> with cr.Model():
        ...     mu = cr.Normal("mu", 0, 1)
        ...     y = cr.Normal("y", mu, 1, observed=np.zeros(3))
        ...     approx = cr.fit(n=3000, random_seed=0, progressbar=False)
        >>> approx.diagnose(draws=500).verdict
        'good'
        """
        return diagnose(self, draws, as_key(0 if random_seed is None else random_seed))

    @property
    def diagnosis(self) -> Diagnosis | None:
        """The verdict the fit ended with (None if it was turned off or not made)."""
        return self.info.diagnosis

    # saving -------------------------------------------------------------------
    def save(self, path) -> None:
        """Write the approximation to ``path`` atomically (a ``.npz`` file of arrays and JSON metadata).

        Everything needed to sample, predict and continue: the variational
        parameters, the optimiser state, the step count, the key, the loss
        history, and the model's layout (names, shapes, transforms) that
        :func:`credo.load_approximation` checks. No Python object is pickled.
        The file is written under a temporary name and renamed over ``path``,
        so a failure during the save leaves a previous file intact. NUTS
        results (InferenceData) save with ``idata.to_netcdf(path)``.

        A file takes ``4 * (1 + w) * p`` bytes for ``p`` variational
        parameters (``2 * d`` for a mean-field fit of ``d`` model parameters,
        ``d + d**2`` for a full-rank one) and an optimiser keeping ``w``
        arrays per parameter (10 for the default windowed adagrad, 2 for
        Adam), plus 4 bytes per step of loss history and about 3 kB of
        metadata: 88 bytes per model parameter for a default mean-field fit,
        24 with Adam (measured).

        Checkpoints: ``cr.fit(n, ..., checkpoint="run.npz",
        checkpoint_every=...)`` writes the same file as the fit goes and
        continues from it when the same call is run again (the result equals
        an uninterrupted fit bit for bit); see :func:`credo.fit` and
        :mod:`credo.inference.checkpoint`.

        Examples
        --------
        >>> import credo as cr, numpy as np, tempfile, os
        >>> with cr.Model() as model:
        ...     mu = cr.Normal("mu", 0, 1)
        ...     y = cr.Normal("y", mu, 1, observed=np.zeros(3))
        ...     approx = cr.fit(n=500, random_seed=0, progressbar=False)
        >>> path = os.path.join(tempfile.mkdtemp(), "fit.npz")
        >>> approx.save(path)
        >>> cr.load_approximation(path, model).num_steps
        500
        """
        save_approximation(self, path)

    def __repr__(self) -> str:
        last = self.hist[-1] if len(self.hist) else float("nan")
        return (f"<Approximation {self.family.label}: {self.compiled.dim} parameters, "
                f"{len(self.hist)} iterations, last loss {last:.5g}>")


def _non_finite(approx: Approximation, data, streamed: tuple = ()) -> NonFiniteLossError:
    """The error for a non-finite loss, naming the variables whose gradients broke (``streamed`` arrays of
    ``data`` hold the block of batches from the failing step)."""
    compiled = approx.compiled
    state = approx.state
    step_key = jax.random.fold_in(approx.key, state.step)
    batch_fn = minibatch_fn(tuple(approx.model.minibatches), data_signature(data), streamed)
    step_data = batch_fn(step_key, data, 0) if batch_fn is not None else data
    algorithm = approx.family.algorithm(compiled.logdensity_fn, approx.settings.optimizer.transformation,
                                        approx.settings.num_mc)
    loss = algorithm.loss(state, step_key, step_data)
    # The gradient of the log density at each of the step's draws, by variable (whatever the parameterisation).
    draws = approx.family.draw(step_key, state, approx.settings.num_mc)
    gradients = np.asarray(jax.vmap(jax.grad(compiled.logdensity_fn), (0, None))(draws, step_data))
    broken = [info.name for info in compiled.free
              if not np.isfinite(gradients[:, info.offset: info.offset + info.size]).all()]
    what = f"gradients of {broken} are not finite" if broken else f"the loss is {float(loss)}"
    why = compiled.describe_nonfinite(draws, step_data)
    what += f" ({why})" if why else ""
    message = (
        f"the loss turned non-finite at iteration {approx.num_steps}: {what}. The approximation from the last finite "
        "step is kept on this error as `.approximation`. Try a smaller learning rate, better initial values, "
        "or tighter priors."
    )
    return NonFiniteLossError(message, approx.num_steps, broken, approx)


def load_approximation(path, model: Model | None = None, optimizer=None) -> Approximation:
    """Read an approximation written by ``approx.save(path)`` for ``model``.

    Parameters
    ----------
    path : str or path-like
    model : credo.Model, optional
        The model it was fitted to (default: the current context). Its free
        variables must have the saved names, shapes and transforms.
    optimizer : optax.GradientTransformation, optional
        The optimiser to continue with. Fits with the default optimiser need
        none; for a custom one pass the same optimiser: its state is checked
        leaf by leaf against ``optimizer.init(params)``. Without it the loaded
        approximation samples and predicts but cannot ``refine``.

    Returns
    -------
    Approximation
        Samples, predicts and refines like the original (same draws for the
        same seed; ``refine(n)`` continues exactly).

    Raises
    ------
    ApproximationFileError
        (a ``ValueError``) for a file that is not a credo approximation,
        holds pickled objects or non-finite parameters, or does not fit the
        model.

    Examples
    --------
    >>> import credo as cr, numpy as np, tempfile, os
    >>> with cr.Model() as model:
    ...     mu = cr.Normal("mu", 0, 1)
    ...     y = cr.Normal("y", mu, 1, observed=np.zeros(3))
    ...     approx = cr.fit(n=500, random_seed=0, progressbar=False)
    >>> path = os.path.join(tempfile.mkdtemp(), "fit.npz")
    >>> approx.save(path)
    >>> loaded = cr.load_approximation(path, model)
    >>> bool((loaded.hist == approx.hist).all())
    True
    """
    check_model_argument(model, "load_approximation")
    if not isinstance(path, (str, os.PathLike)):
        raise FitError(f"load_approximation: path must be a file path; got {type(path).__name__}.")
    model = modelcontext(model, what="load_approximation")
    return approximation_from_fields(model, read_fields(path, model, optimizer))


def approximation_from_fields(model: Model, fields: dict) -> Approximation:
    """The approximation :func:`credo.inference.io.read_fields` read for ``model``."""
    return Approximation(
        model, fields["family"], fields["state"], fields["key"], fields["hist"],
        FitSettings(fields["optimizer"], fields["num_mc"], fields["chunk_size"]),
        FitInfo(stop_reason=fields["stop_reason"], start_losses=fields["start_losses"],
                best_start=fields["best_start"]),
        placement_for(None),
    )
