"""The result of a variational fit: a Gaussian on the unconstrained space."""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import jax
import numpy as np

from .advi import ADVIState, GaussianFamily, advi, natural_params
from .batching import batch_size, map_in_batches
from .results import as_key, to_inference_data

__all__ = ["Approximation"]

#: Draws used for the constrained-space mean and std of transformed variables.
MOMENT_DRAWS = 4000


class Approximation:
    """A fitted Gaussian approximation of the posterior.

    Attributes
    ----------
    hist : numpy.ndarray
        The loss (negative ELBO) of every iteration so far.
    params : dict of Array
        The family's variational parameters (mean-field ``mean``, ``rho``;
        full-rank ``mean``, ``chol``; low-rank ``mean``, ``rho``, ``factor``).
    state : ADVIState
        Parameters, optimiser state and step count: everything needed to
        continue. Full-rank fits started with ``init="map"`` and Laplace
        approximations are optimised in the frame of the mode: their
        ``state.params`` hold the whitened parameters and the fixed
        ``"frame"`` (the mode and the Laplace Cholesky factor), while
        ``params`` folds the frame in.
    family : GaussianFamily
    model : credo.Model
    start_losses : numpy.ndarray or None
        With ``n_starts > 1``: the final loss (negative ELBO) of every start;
        this approximation is the one with the lowest (``best_start``).
    map_result : MAPResult or None
        The L-BFGS outcome where the fit started at the mode.
    stop_reason : str or None
        Why a callback stopped the last run, if one did.

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

    def __init__(self, model, family: GaussianFamily, optimizer, num_mc: int, key: jax.Array, state: ADVIState,
                 hist: np.ndarray, chunk_size: int, batch_fn: Callable | None = None):
        self.model = model
        self.compiled = model.compile()
        self.family = family
        self.optimizer = optimizer
        self.num_mc = num_mc
        self.key = key
        self.state = state
        self._hist = [np.asarray(hist)]
        self.chunk_size = chunk_size
        self.batch_fn = batch_fn
        self.start_losses = None
        self.best_start = None
        self.map_result = None
        self.stop_reason = None

    @classmethod
    def start(cls, model, family, optimizer, num_mc, key, chunk_size, batch_fn=None, position=None, std=None,
              cholesky=None, whiten=False) -> "Approximation":
        compiled = model.compile()
        if position is None:
            position = compiled.initial_position()
        key_init = ("advi_init", family.name, id(optimizer), whiten)
        if key_init not in compiled.cache:  # one compiled call rather than a dozen eager operations
            algorithm = advi(compiled.logdensity_fn, family, optimizer, num_mc)
            init = functools.partial(algorithm.init, whiten=whiten)
            compiled.cache[key_init] = (compiled.jit(init), optimizer)  # keeps the optimizer's id unique
        state = compiled.cache[key_init][0](position, std=std, cholesky=cholesky)
        return cls(model, family, optimizer, num_mc, key, state, np.zeros(0, np.float32), chunk_size, batch_fn)

    # progress ---------------------------------------------------------------
    def _record(self, state: ADVIState, losses: np.ndarray) -> None:
        self.state = state
        self._hist.append(np.asarray(losses))

    @property
    def hist(self) -> np.ndarray:
        if len(self._hist) > 1:
            self._hist = [np.concatenate(self._hist)]
        return self._hist[0]

    @property
    def num_steps(self) -> int:
        return int(self.state.step)

    @property
    def params(self) -> dict:
        return natural_params(self.state.params)

    def model_data(self) -> dict:
        return dict(self.model.data_values)

    def refine(self, n: int, progressbar: bool = True, callbacks: Sequence[Callable] | None = None) -> "Approximation":
        """Continue the fit for ``n`` more steps from the same parameters and optimiser state.

        ``fit(m)`` then ``refine(n)`` gives the same result as ``fit(m + n)`` with
        the same seed.
        """
        from ..errors import FitError
        from .fit import run_chunks

        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise FitError(f"n must be a positive number of iterations; got {n!r}.")
        run_chunks(self, int(n), progressbar, callbacks or ())
        return self

    # moments ----------------------------------------------------------------
    @property
    def mean_unconstrained(self) -> np.ndarray:
        """Mean of the Gaussian on the flat unconstrained space."""
        return np.asarray(self.family.mean_fn(self.state.params))

    @property
    def std_unconstrained(self) -> np.ndarray:
        return np.asarray(self.family.std_fn(self.state.params))

    @property
    def cov(self) -> np.ndarray:
        """Covariance of the Gaussian on the flat unconstrained space."""
        return np.asarray(self.family.covariance_fn(self.state.params))

    def _moments(self) -> tuple[dict, dict]:
        flat_mean, flat_std = self.mean_unconstrained, self.std_unconstrained
        means, stds = {}, {}
        transformed = [info.name for info in self.compiled.free if info.transformed]
        if transformed:
            draws = self._constrained(jax.random.key(0), MOMENT_DRAWS)
        for info in self.compiled.free:
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
        simplex) estimated from 4,000 draws.
        """
        return self._moments()[0]

    @property
    def std(self) -> dict[str, np.ndarray]:
        """Posterior standard deviation of each free variable in constrained space (see ``mean``)."""
        return self._moments()[1]

    # sampling ---------------------------------------------------------------
    def _sampler(self):
        cache = self.compiled.cache
        key = ("sample", self.family.name)
        if key not in cache:
            compiled, family = self.compiled, self.family

            def draw(key, params, data, num):
                flat = family.sample_fn(key, params, num)
                return map_in_batches(lambda z: compiled.constrain_fn(z, data), flat, batch_size(data, num))

            cache[key] = compiled.jit(draw, static_argnums=3)
        return cache[key]

    def _constrained(self, key: jax.Array, draws: int) -> dict:
        return self._sampler()(key, self.state.params, self.model_data(), draws)

    def sample(self, draws: int = 1000, random_seed=None, return_inferencedata: bool = True):
        """Draw from the approximation: free variables and deterministics.

        Returns
        -------
        arviz.InferenceData
            A posterior group with one chain of ``draws`` draws (or a dict of
            arrays with ``return_inferencedata=False``). Deterministics are
            computed with the model's current data.
        """
        if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws <= 0:
            raise ValueError(f"draws must be a positive integer; got {draws!r}.")
        values = jax.device_get(self._constrained(as_key(random_seed), int(draws)))
        if not return_inferencedata:
            return values
        return to_inference_data(posterior={name: value[None] for name, value in values.items()})

    # saving -------------------------------------------------------------------
    def save(self, path) -> None:
        """Write the approximation to ``path`` (a ``.npz`` file of arrays and JSON metadata).

        Everything needed to sample, predict and continue: the variational
        parameters, the optimiser state, the step count, the key, the loss
        history, and the model's layout (names, shapes, transforms) that
        :func:`credo.load_approximation` checks. No Python object is pickled.
        NUTS results (InferenceData) save with ``idata.to_netcdf(path)``.
        """
        from .io import save_approximation

        save_approximation(self, path)

    def __repr__(self) -> str:
        return (f"<Approximation {self.family.name}: {self.compiled.dim} parameters, "
                f"{len(self.hist)} iterations, last loss {self.hist[-1] if len(self.hist) else float('nan'):.5g}>")
