"""``cr.fit``: variational inference driven by compiled chunks of steps.

The optimisation runs as one ``jax.lax.scan`` per chunk of steps; between
chunks the driver updates the progress bar, checks that the loss stayed
finite and calls the callbacks. Python never runs once per step.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..errors import FitError, NonFiniteLossError
from ..model.compile import check_data
from ..model.core import Model, modelcontext
from .advi import FAMILIES, ADVIState, advi
from .optimizers import adagrad_window
from .results import as_key

__all__ = ["fit", "ADVI", "FullRankADVI", "LowRankADVI", "DEFAULT_CHUNK_SIZE"]

#: Steps compiled into one ``lax.scan`` call; the progress bar moves once per chunk.
DEFAULT_CHUNK_SIZE = 1000

_DEFAULT_LEARNING_RATE = 1e-3


class ADVI:
    """Mean-field ADVI, as ``pm.ADVI``: ``inference = cr.ADVI(); approx = cr.fit(n, method=inference)``.

    Parameters
    ----------
    obj_optimizer : optax.GradientTransformation, optional
        Default: :func:`credo.adagrad_window` with learning rate 1e-3.
    obj_n_mc : int
        Monte Carlo draws per step for the ELBO gradient.

    Attributes
    ----------
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
    ...     approx = cr.fit(n=2000, method=inference, random_seed=0, progressbar=False)
    >>> len(inference.hist)
    2000
    """

    family_name = "meanfield"

    def __init__(self, obj_optimizer: optax.GradientTransformation | None = None, obj_n_mc: int = 1, **family_kwargs):
        self.obj_optimizer = obj_optimizer
        self.obj_n_mc = obj_n_mc
        self.family_kwargs = family_kwargs
        self.approx = None

    @property
    def hist(self) -> np.ndarray:
        return self.approx.hist if self.approx is not None else np.zeros(0)

    def family(self):
        return FAMILIES[self.family_name](**self.family_kwargs)

    def fit(self, n: int = 10_000, **kwargs):
        """Fit the model of the current context (see :func:`credo.fit`)."""
        return fit(n, method=self, **kwargs)


class FullRankADVI(ADVI):
    """ADVI with a full-covariance Gaussian (Cholesky factor with a log diagonal).

    Starts at the mode with the Laplace curvature by default (``init="map"``)
    and is then optimised in the frame whitened by it (see :func:`credo.fit`).
    """

    family_name = "fullrank"


class LowRankADVI(ADVI):
    """ADVI with a diagonal plus rank-``rank`` covariance."""

    family_name = "lowrank"

    def __init__(self, rank: int = 2, **kwargs):
        super().__init__(rank=rank, **kwargs)


_METHODS = {"advi": ADVI, "meanfield": ADVI, "fullrank_advi": FullRankADVI, "lowrank_advi": LowRankADVI}


def _inference(method, obj_optimizer, obj_n_mc, kwargs) -> ADVI:
    if isinstance(method, ADVI):
        if obj_optimizer is not None:
            method.obj_optimizer = obj_optimizer
        if obj_n_mc is not None:
            method.obj_n_mc = obj_n_mc
        return method
    if not isinstance(method, str) or method.lower() not in _METHODS:
        raise FitError(f"unknown method {method!r}; choose one of {sorted(_METHODS) + ['laplace']} or pass cr.ADVI().")
    cls = _METHODS[method.lower()]
    return cls(obj_optimizer=obj_optimizer, obj_n_mc=1 if obj_n_mc is None else obj_n_mc, **kwargs)


def _runner(compiled, family, optimizer, num_mc: int, chunk_size: int, batch_fn, multi: bool = False):
    """The compiled chunk of ``chunk_size`` steps, cached on the compiled model.

    With ``multi`` the chunk runs several fits at once (``jax.vmap`` over
    their states, NaN flags and keys; see ``n_starts``).
    """
    key = ("advi", family.name, id(optimizer), num_mc, chunk_size, batch_fn) + (("multi",) if multi else ())
    cache = compiled.cache
    if key in cache:
        return cache[key][0]
    algorithm = advi(compiled.logdensity_fn, family, optimizer, num_mc)

    def run_chunk(state: ADVIState, alive, key, data, num_active):
        def body(carry, index):
            state, alive = carry
            step_key = jax.random.fold_in(key, state.step)
            step_data = batch_fn(step_key, data) if batch_fn is not None else data
            new_state, info = algorithm.step(step_key, state, step_data)
            ok = alive & info.finite & (index < num_active)
            state = jax.tree_util.tree_map(lambda new, old: jnp.where(ok, new, old), new_state, state)
            return (state, alive & (info.finite | (index >= num_active))), info.loss

        (state, alive), losses = jax.lax.scan(body, (state, alive), jnp.arange(chunk_size))
        return state, alive, losses

    if multi:
        runner = compiled.jit(jax.vmap(run_chunk, in_axes=(0, 0, 0, None, None)))
    else:
        runner = compiled.jit(run_chunk)
    cache[key] = (runner, algorithm, optimizer)  # the optimizer is kept alive so its id stays unique
    return runner


_DEFAULT_OPTIMIZERS: dict = {}

#: Learning rate of the full-rank default, Adam (see :func:`default_optimizer`).
FULLRANK_LEARNING_RATE = 1e-3


def default_optimizer(family_name: str = "meanfield") -> optax.GradientTransformation:
    """The default optimiser of a family (one object per process, so compiled fits are reused).

    Mean-field: windowed adagrad with learning rate 1e-3, as PyMC.
    Full-rank and low-rank: Adam with learning rate 1e-3. From the whitened
    MAP start (``init="map"``) every full-rank parameter has unit scale, and
    there windowed adagrad's short window (10 steps) biases the noisy
    Cholesky gradients: it inflates the variances by 10-20% at stationarity,
    while Adam's long second-moment average does not (its noise is about
    +-7% on a variance at lr 1e-3). The low-rank factor starts at zero, a
    saddle that Adam leaves within a few thousand steps and windowed adagrad
    does not.
    """
    kind = "meanfield" if family_name == "meanfield" else "adam"
    if kind not in _DEFAULT_OPTIMIZERS:
        _DEFAULT_OPTIMIZERS[kind] = (adagrad_window(_DEFAULT_LEARNING_RATE) if kind == "meanfield"
                                     else optax.adam(FULLRANK_LEARNING_RATE))
    return _DEFAULT_OPTIMIZERS[kind]


def _optimizer(compiled, obj_optimizer, family_name: str = "meanfield"):
    del compiled
    if obj_optimizer is not None:
        if not isinstance(obj_optimizer, optax.GradientTransformation):
            raise FitError(
                f"obj_optimizer must be an optax.GradientTransformation (e.g. optax.adam(1e-2)); "
                f"got {type(obj_optimizer).__name__}."
            )
        return obj_optimizer
    return default_optimizer(family_name)


def _chunk_size(approx, callbacks: Sequence[Callable]) -> int:
    """The chunk size for a run: the approximation's, or less where a callback asks
    to be called ``every`` so many steps (e.g. CheckParametersConvergence)."""
    size = int(approx.chunk_size)
    for callback in callbacks:
        every = getattr(callback, "every", None)
        if isinstance(every, (int, np.integer)) and not isinstance(every, bool) and 0 < every < size:
            size = int(every)
    return size


def _callback_stop(callbacks: Sequence[Callable], approx, losses: np.ndarray, step: int) -> str | None:
    """Call every callback; the reason to stop if one raised or returned StopIteration."""
    for callback in callbacks:
        try:
            result = callback(approx, losses, step)
        except StopIteration as stop:
            return str(stop) or f"{_name(callback)} stopped the fit at step {step}"
        if result is StopIteration or isinstance(result, StopIteration):
            if isinstance(result, StopIteration) and str(result):
                return str(result)
            return f"{_name(callback)} stopped the fit at step {step}"
    return None


def _name(callback) -> str:
    return getattr(callback, "__name__", type(callback).__name__)


def run_chunks(approx, n: int, progressbar: bool = True, callbacks: Sequence[Callable] = ()) -> None:
    """Advance ``approx`` by ``n`` steps in compiled chunks (in place).

    After each chunk the callbacks are called as ``callback(approx, losses,
    step)``; one that raises ``StopIteration`` (as PyMC's do) or returns it
    stops the fit, and its message is kept as ``approx.stop_reason``.
    """
    from tqdm.auto import tqdm

    if approx.optimizer is None:
        raise FitError(
            "this approximation has no optimiser to continue with (it was loaded from a file written with a "
            "custom optimiser): pass the same optimiser to cr.load_approximation(..., optimizer=...)."
        )
    callbacks = list(callbacks)
    chunk_size = _chunk_size(approx, callbacks)
    compiled = approx.compiled
    runner = _runner(compiled, approx.family, approx.optimizer, approx.num_mc, chunk_size, approx.batch_fn)
    data = approx.model_data()
    alive = jnp.asarray(True)
    done = 0
    approx.stop_reason = None
    bar = tqdm(total=n, disable=not progressbar, leave=True, dynamic_ncols=True)
    try:
        while done < n:
            active = min(chunk_size, n - done)
            start_state = approx.state
            state, alive, losses = runner(start_state, alive, approx.key, data, jnp.asarray(active, jnp.int32))
            losses = np.asarray(losses[:active])
            if not bool(alive):
                # Steps count only where the loss and the gradients were finite: the
                # state stopped at the failing step (a finite loss may have NaN gradients).
                good = int(state.step) - int(start_state.step)
                approx._record(state, losses[:good])
                raise _non_finite(approx, approx.num_steps, data)
            approx._record(state, losses)
            done += active
            bar.update(active)
            bar.set_description(f"Average Loss = {np.mean(losses):.5g}", refresh=False)
            if callbacks:
                reason = _callback_stop(callbacks, approx, losses, approx.num_steps)
                if reason is not None:
                    approx.stop_reason = reason
                    logging.getLogger("credo").info(reason)
                    bar.set_description(reason, refresh=False)
                    break
    finally:
        bar.close()


def _non_finite(approx, iteration: int, data) -> NonFiniteLossError:
    """The error for a non-finite loss, naming the variables whose gradients broke."""
    compiled = approx.compiled
    step_key = jax.random.fold_in(approx.key, approx.state.step)
    step_data = approx.batch_fn(step_key, data) if approx.batch_fn is not None else data
    algorithm = advi(compiled.logdensity_fn, approx.family, approx.optimizer, approx.num_mc)
    loss = algorithm.loss(approx.state.params, step_key, step_data)
    # The gradient of the log density at each of the step's draws, by variable (whatever the parameterisation).
    draws = approx.family.sample_fn(step_key, approx.state.params, approx.num_mc)
    gradients = np.asarray(jax.vmap(jax.grad(compiled.logdensity_fn), (0, None))(draws, step_data))
    broken = [
        info.name
        for info in compiled.free
        if not np.isfinite(gradients[:, info.offset : info.offset + info.size]).all()
    ]
    what = f"gradients of {broken} are not finite" if broken else f"the loss is {float(loss)}"
    message = (
        f"the loss turned non-finite at iteration {iteration}: {what}. The approximation from the last finite "
        "step is kept on this error as `.approximation`. Try a smaller learning rate, better initial values, "
        "or tighter priors."
    )
    return NonFiniteLossError(message, iteration, broken, approx)


#: Starting Gaussians ``cr.fit(init=...)`` knows.
INITS = ("map", "initial_point")


def _init_name(init, family_name: str) -> str:
    if init is None:
        return "map" if family_name == "fullrank" else "initial_point"
    if not isinstance(init, str) or init.lower() not in INITS:
        raise FitError(f"unknown init {init!r}; choose 'map' (the mode and the Laplace curvature there) or "
                       "'initial_point' (the model's initial point, std softplus(0) as PyMC starts).")
    return init.lower()


def _starting_gaussian(compiled, family_name: str, init: str, position, data) -> tuple[dict, Any]:
    """Keyword arguments of ``algorithm.init`` for one start, and the MAP result (or None).

    ``init="map"``: full-rank fits are whitened by the mode and the Laplace
    Cholesky factor; mean-field fits start at the mode with the standard
    deviations a mean-field Gaussian has on a Gaussian target,
    ``1/sqrt(diag(precision))``; low-rank fits with the leading eigenvectors of
    the Laplace covariance. Where the mode or its curvature cannot be found
    the fit warns and starts from ``position`` instead.
    """
    from .mode import laplace_start

    whiten = family_name == "fullrank" and init == "map"
    if init != "map":
        return {"position": position, "whiten": whiten}, None
    try:
        mode, cholesky, result = laplace_start(compiled, position, data, what="init='map'")
    except FitError as error:
        warnings.warn(f"init='map' found no usable mode ({error}) The fit starts from the initial point.",
                      stacklevel=3)
        return {"position": position, "whiten": whiten}, None
    if family_name == "fullrank":
        return {"position": mode, "cholesky": cholesky, "whiten": True}, result
    if family_name == "meanfield":
        inverse = jax.scipy.linalg.solve_triangular(cholesky, jnp.eye(cholesky.shape[0], dtype=cholesky.dtype),
                                                    lower=True)
        return {"position": mode, "std": 1.0 / jnp.sqrt(jnp.sum(inverse**2, axis=0))}, result
    return {"position": mode, "cholesky": cholesky}, result


def fit(
    n: int = 10_000,
    method: str | ADVI = "advi",
    model: Model | None = None,
    random_seed: int | jax.Array | None = None,
    obj_optimizer: optax.GradientTransformation | None = None,
    obj_n_mc: int | None = None,
    progressbar: bool = True,
    callbacks: Sequence[Callable] | None = None,
    start: Any = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    init: str | None = None,
    n_starts: int = 1,
    **kwargs,
):
    """Fit a variational approximation to the posterior of the current model.

    Parameters
    ----------
    n : int
        Number of optimisation steps (not used by ``method="laplace"``, whose
        L-BFGS runs at most 1,000 iterations).
    method : str or ADVI
        ``"advi"`` (mean-field), ``"fullrank_advi"``, ``"lowrank_advi"``
        (with ``rank=k``), ``"laplace"`` (the Gaussian at the mode with the
        inverse Hessian as covariance; no ADVI steps), or an inference object
        such as ``cr.ADVI()``.
    random_seed : int or key, optional
        Makes the fit reproducible.
    obj_optimizer : optax.GradientTransformation, optional
        Default for mean-field: windowed adagrad with learning rate 1e-3
        (:func:`credo.adagrad_window`, PyMC's default), which moves each
        weight by at most about the learning rate per step whatever the scale
        of its gradient. Default for full-rank and low-rank:
        ``optax.adam(1e-3)`` (see :func:`default_optimizer`);
        with ``init="map"`` the full-rank family is optimised in the frame
        whitened by the Laplace curvature, where every parameter has unit
        scale, and Adam's long gradient average keeps the covariance unbiased
        there (windowed adagrad's 10-step window inflates variances by 10-20%).
        Learning rates may be optax schedules
        (``cr.adagrad_window(optax.exponential_decay(...))``,
        ``optax.adam(schedule)``).
    obj_n_mc : int, optional
        Monte Carlo draws per step for the ELBO gradient (default 1).
    progressbar : bool
        Show a progress bar with the average loss (updated once per chunk).
    callbacks : list of callables, optional
        ``callback(approx, losses, step)`` after each chunk, with the chunk's
        losses and the number of steps so far; one that raises (as PyMC's do)
        or returns ``StopIteration`` stops the fit (its message is kept as
        ``approx.stop_reason``). See :mod:`credo.callbacks`. A callback with an
        ``every`` attribute is called at least every ``every`` steps.
    start : Approximation or dict, optional
        An Approximation: continue it (same as ``start.refine(n)``). A dict:
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
    n_starts : int
        Run this many fits at once (vmapped in one compiled loop) from
        random starts (the first at the initial point, the others jittered by
        uniform(-1, 1) in the unconstrained space) and keep the one with the
        best final ELBO (mean loss over the last 10% of steps, at most 1,000).
        All final losses are in ``approx.start_losses``. The first start
        reproduces the single fit of the same seed.

    Returns
    -------
    Approximation

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
    from .._config import prefetch_arviz
    from ..data import minibatch_fn
    from .approximation import Approximation
    from .mode import point_to_position

    prefetch_arviz()
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise FitError(f"n must be a positive number of iterations; got {n!r}.")
    if isinstance(n_starts, bool) or not isinstance(n_starts, (int, np.integer)) or n_starts < 1:
        raise FitError(f"n_starts must be a positive integer; got {n_starts!r}.")
    if start is not None and not isinstance(start, dict):
        if not hasattr(start, "refine"):
            raise FitError(f"start must be an Approximation to continue, or a dict of start values; got "
                           f"{type(start).__name__}.")
        if n_starts != 1 or init is not None:
            raise FitError("start=approx continues that fit: init and n_starts do not apply.")
        start.refine(int(n), progressbar=progressbar, callbacks=callbacks)
        return start
    model = modelcontext(model, what="fit")
    if isinstance(method, str) and method.lower() == "laplace":
        if kwargs or n_starts != 1 or callbacks or init not in (None, "map"):
            raise FitError("method='laplace' takes no ADVI options (n_starts, callbacks, init, family options).")
        from .mode import laplace

        return laplace(model=model, random_seed=random_seed, start=start,
                       obj_optimizer=obj_optimizer, obj_n_mc=1 if obj_n_mc is None else obj_n_mc,
                       chunk_size=chunk_size)
    inference = _inference(method, obj_optimizer, obj_n_mc, kwargs)
    compiled = model.compile()
    if compiled.dim == 0:
        raise FitError("the model has no free variables: there is nothing to fit.")
    if compiled.discrete_free:
        raise FitError(f"the free variables {compiled.discrete_free} are discrete; ADVI needs continuous ones.")
    check_data(model)
    family = inference.family()
    family_name = inference.family_name
    init_name = _init_name(init, family_name)
    optimizer = _optimizer(compiled, inference.obj_optimizer, family_name)
    key = as_key(random_seed)
    batch_fn = minibatch_fn(model)
    position = point_to_position(model, start)
    data = dict(model.data_values)
    if n_starts == 1:
        start_kwargs, map_result = _starting_gaussian(compiled, family_name, init_name, position, data)
        approx = Approximation.start(model, family, optimizer, int(inference.obj_n_mc), key, int(chunk_size),
                                     batch_fn, **start_kwargs)
        approx.map_result = map_result
        inference.approx = approx
        run_chunks(approx, int(n), progressbar, callbacks or ())
        return approx
    if callbacks:
        raise FitError("callbacks do not apply while several starts run (n_starts > 1): fit with n_starts, then "
                       "continue the best with approx.refine(n, callbacks=[...]).")
    approx = _fit_multi(model, family, family_name, init_name, optimizer, int(inference.obj_n_mc), key,
                        int(chunk_size), batch_fn, position, data, int(n), int(n_starts), progressbar)
    inference.approx = approx
    return approx


def _final_loss(losses: np.ndarray, n: int) -> np.ndarray:
    """Mean loss over the last 10% of ``n`` steps (at least 1, at most 1,000) of each row."""
    window = int(min(1000, max(1, n // 10)))
    return losses[:, -window:].mean(axis=1)


def _fit_multi(model, family, family_name, init_name, optimizer, num_mc, key, chunk_size, batch_fn, position, data,
               n, n_starts, progressbar):
    """Several fits from jittered starts, vmapped in one compiled loop; the best by final loss."""
    from tqdm.auto import tqdm

    from .approximation import Approximation

    compiled = model.compile()
    algorithm = advi(compiled.logdensity_fn, family, optimizer, num_mc)
    keys = [key] + [jax.random.fold_in(key, i) for i in range(1, n_starts)]
    jitter = jax.random.uniform(jax.random.fold_in(key, n_starts + 0x6A17), (n_starts,) + position.shape,
                                position.dtype, -1.0, 1.0).at[0].set(0.0)
    states, map_results = [], []
    for i in range(n_starts):
        start_kwargs, result = _starting_gaussian(compiled, family_name, init_name, position + jitter[i], data)
        start_position = start_kwargs.pop("position")
        states.append(algorithm.init(start_position, **start_kwargs))
        map_results.append(result)
    states = jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *states)
    key_batch = jnp.stack(keys)
    runner = _runner(compiled, family, optimizer, num_mc, chunk_size, batch_fn, multi=True)
    alive = jnp.ones(n_starts, bool)
    chunks, done = [], 0
    bar = tqdm(total=n, disable=not progressbar, leave=True, dynamic_ncols=True)
    try:
        while done < n:
            active = min(chunk_size, n - done)
            states, alive, losses = runner(states, alive, key_batch, data, jnp.asarray(active, jnp.int32))
            chunks.append(np.asarray(losses[:, :active]))
            done += active
            bar.update(active)
            bar.set_description(f"Average Loss (best start) = {np.min(np.mean(chunks[-1], axis=1)):.5g}",
                                refresh=False)
    finally:
        bar.close()
    losses = np.concatenate(chunks, axis=1)
    alive = np.asarray(alive)
    final = np.where(alive, _final_loss(np.where(np.isfinite(losses), losses, np.inf), n), np.inf)
    if not np.isfinite(final).any():
        raise FitError(f"all {n_starts} starts turned non-finite; try a smaller learning rate, better initial "
                       "values, or tighter priors.")
    best = int(np.argmin(final))
    state = jax.tree_util.tree_map(lambda leaf: leaf[best], states)
    approx = Approximation(model, family, optimizer, num_mc, keys[best], state, losses[best], chunk_size, batch_fn)
    approx.start_losses = final
    approx.best_start = best
    approx.map_result = map_results[best]
    return approx
