"""What the scikit-learn estimators of :mod:`credo.nn.estimators` share: the model, the fit, the draws.

:class:`BNNBase` builds an estimator's credo model (an MLP from
:func:`credo.nn.mlp` and the subclass's likelihood), fits it by calling the
compiled programs of the template model of its structure with its own
padded data (see :mod:`credo.nn.templates`), or by NUTS, and draws from the
posterior predictive at new inputs.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ..data import Minibatch
from ..inference.advi import FullRank, LowRank, MeanField
from ..inference.approximation import Approximation, FitSettings
from ..inference.driver import run_chunks
from ..inference.mixture import Mixture
from ..inference.optimizers import as_optimizer
from ..inference.predictive import predictive_draws
from ..inference.programs import ADVIChunk, ADVIInit, GaussianDraws
from ..inference.results import as_key
from ..inference.sampling import sample
from ..model.core import Data, Model
from ..model.placement import place_data, placement_for
from ..model.programs import data_signature
from .layers import mlp
from .templates import device_data, template

__all__ = ["BNNBase", "padded_rows", "logsumexp_mean", "standardize_stats", "validate", "LOG_2PI"]

_METHODS = ("advi", "fullrank_advi", "lowrank_advi", "nuts")
LOG_2PI = float(np.log(2.0 * np.pi))

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _sk_validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    _sk_validate_data = None


def validate(estimator, X, y="no_validation", reset=True, **kwargs):
    """``validate_data`` across scikit-learn versions (X alone when ``y`` is "no_validation")."""
    if _sk_validate_data is not None:
        return _sk_validate_data(estimator, X, y, reset=reset, **kwargs)
    return estimator._validate_data(X, y, reset=reset, **kwargs)  # pragma: no cover


def standardize_stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def logsumexp_mean(log_values: np.ndarray) -> np.ndarray:
    """``log(mean(exp(log_values), axis=0))``, computed stably."""
    top = np.max(log_values, axis=0)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.mean(np.exp(log_values - top), axis=0)) + top


def padded_rows(n: int) -> int:
    """Rows a data set of ``n`` rows is padded to: few distinct shapes, so few compilations.

    Powers of two up to 64 (at least 16); above, the next multiple of an
    eighth of the power of two below ``n`` (at most a quarter more rows). Data
    sets of similar size (the folds of a cross-validation, the small data of
    tests) then share their compiled code.
    """
    n = int(n)
    if n <= 64:
        return max(16, 1 << max(n - 1, 0).bit_length())
    step = 1 << (n.bit_length() - 3)
    return -(-n // step) * step


def _pad(values: np.ndarray, rows: int) -> np.ndarray:
    """``values`` with zero rows appended up to ``rows`` rows."""
    extra = rows - values.shape[0]
    if extra <= 0:
        return values
    return np.concatenate([values, np.zeros((extra,) + values.shape[1:], values.dtype)])


def _placed_like(value, like: jax.Array) -> jax.Array:
    """``value`` as an array of ``like``'s dtype, committed to ``like``'s devices only where ``like`` is.

    A program compiles once per committedness of its arguments, and a
    committed argument makes its outputs committed: one committed stage
    value among uncommitted data compiled the chunk program three times.
    """
    value = jnp.asarray(value, like.dtype)
    return jax.device_put(value, like.sharding) if like.committed else value


def _initial_position(compiled, rng: np.random.Generator) -> np.ndarray:
    """The model's initial point, with fresh ``N(0, 1/fan_in)`` weights (``*_w``) from ``rng``."""
    position = np.array(compiled.initial_position(), dtype=np.float64)
    for info in compiled.free:
        if info.name.endswith("_w") and not info.transformed:
            fan_in = info.shape[0]
            draw = rng.normal(0.0, 1.0 / np.sqrt(max(fan_in, 1)), size=info.size)
            position[info.offset: info.offset + info.size] = draw
    return position


class _Fit(NamedTuple):
    """A variational fit's outcome: what :attr:`approximation_` is rebuilt from."""

    family: object
    optimizer: object
    state: object
    key: object
    hist: np.ndarray
    chunk_size: int
    batch_size: int | None


class _Runtime:
    """What a fitted estimator holds that is not pickled: its (padded) training data and its variational fit."""

    def __init__(self, data: dict | None = None, fit: _Fit | None = None, approximation=None):
        self.data = data
        self.fit = fit
        self.approximation = approximation


class BNNBase(BaseEstimator):
    """Shared machinery of the BNN estimators (see :class:`BNNRegressor`)."""

    _kind = "regression"
    #: What ``n_members="auto"`` means with a variational method.
    _auto_members = 1

    def __init__(
        self,
        hidden_layer_sizes=(50,),
        activation="relu",
        prior_sigma=3.0,
        method="advi",
        n_iter=20_000,
        batch_size=None,
        learning_rate=0.001,
        draws=500,
        init_std=1e-3,
        random_state=None,
        progressbar=False,
        devices=None,
        n_members=1,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.prior_sigma = prior_sigma
        self.method = method
        self.n_iter = n_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.draws = draws
        self.init_std = init_std
        self.random_state = random_state
        self.progressbar = progressbar
        self.devices = devices
        self.n_members = n_members

    # parameters -----------------------------------------------------------------
    def _check_params(self) -> None:
        name = type(self).__name__
        hidden = self.hidden_layer_sizes
        if isinstance(hidden, (Integral, np.integer)) and not isinstance(hidden, bool):
            hidden = (hidden,)
        try:
            hidden = tuple(hidden)
        except TypeError:
            raise ValueError(
                f"{name}: hidden_layer_sizes must be a sequence of positive integers; got {hidden!r}.") from None
        if not all(isinstance(h, (Integral, np.integer)) and not isinstance(h, bool) and h > 0 for h in hidden):
            raise ValueError(
                f"{name}: hidden_layer_sizes must hold positive integers; got {self.hidden_layer_sizes!r}.")
        self._hidden = tuple(int(h) for h in hidden)
        if not isinstance(self.method, str) or self.method.lower() not in _METHODS:
            raise ValueError(f"{name}: method must be one of {list(_METHODS)}; got {self.method!r}.")
        members = self.n_members
        if isinstance(members, str) and members == "auto":  # NUTS draws from one posterior
            members = 1 if self.method.lower() == "nuts" else self._auto_members
        for param, value, expected in (("n_iter", self.n_iter, "a positive integer"),
                                       ("draws", self.draws, "a positive integer"),
                                       ("n_members", members, "a positive integer or 'auto'")):
            if isinstance(value, bool) or not isinstance(value, (Integral, np.integer)) or value < 1:
                raise ValueError(f"{name}: {param} must be {expected}; got {value!r}.")
        self._n_members = int(members)
        prior = self.prior_sigma
        if isinstance(prior, (list, tuple, np.ndarray)):
            if len(prior) != len(self._hidden) + 1:
                raise ValueError(f"{name}: prior_sigma has {len(prior)} entries; give one number, or one per layer "
                                 f"({len(self._hidden) + 1}, the output layer last).")
            prior = tuple(prior)
        else:
            prior = (prior,)
        if not all(not isinstance(p, bool) and isinstance(p, (Real, np.floating, np.integer)) and p > 0 for p in prior):
            raise ValueError(
                f"{name}: prior_sigma must be a positive number or one per layer; got {self.prior_sigma!r}.")
        self._prior = tuple(float(p) for p in prior) if len(prior) > 1 else float(prior[0])
        for param in ("learning_rate", "init_std"):
            value = getattr(self, param)
            if isinstance(value, bool) or not isinstance(value, (Real, np.floating, np.integer)) or not value > 0:
                raise ValueError(f"{name}: {param} must be a positive number; got {value!r}.")
        if self._n_members > 1 and self.method.lower() == "nuts":
            raise ValueError(f"{name}: n_members needs a variational method; NUTS draws from one posterior.")
        if self.batch_size is not None and (
            isinstance(self.batch_size, bool) or not isinstance(self.batch_size, (Integral, np.integer))
            or self.batch_size < 1
        ):
            raise ValueError(f"{name}: batch_size must be None or a positive integer; got {self.batch_size!r}.")
        self._check_likelihood_params()

    def _check_likelihood_params(self) -> None:
        """Check the parameters a subclass adds for its likelihood (none here)."""

    # the model --------------------------------------------------------------------
    def _n_outputs(self) -> int:
        """Width of the network's output layer (None: one unit, dropped axis)."""
        return None

    def _build_model(self, data: dict, batch_size: int | None = None, batch_seed: int | None = None):
        """The estimator's own credo model on ``data`` (``X``, ``y``, ``mask``; see :meth:`_padded_data`).

        The data variables are named ``"X"``, ``"y"`` and ``"mask"``
        (``cr.Data``, or ``cr.Minibatch`` nodes with ``batch_size``), so that
        predictions pass new values of them to the compiled programs.
        ``mask`` is 1 on the rows of the data and 0 on the rows that pad them
        to one of a few shapes (see :func:`padded_rows`): on a padded row the
        likelihood is a constant (the network's output is multiplied by 0),
        which leaves the posterior exactly as without the padding.
        """
        X, y, mask = data["X"], data["y"], data["mask"]
        with Model() as model:
            if batch_size is None:
                x_node, y_node, mask_node = Data("X", X), Data("y", y), Data("mask", mask)
                total_size = None
            else:
                x_node, y_node, mask_node = Minibatch(X, y, mask, batch_size=int(batch_size), random_seed=batch_seed,
                                                      names=("X", "y", "mask"))
                total_size = int(X.shape[0])
            out = mlp("net", x_node, hidden=self._hidden, out_units=self._n_outputs(), activation=self.activation,
                      prior_sigma=self._prior, random_seed=0)
            extra = {name: Data(name, data[name]) for name in self._stage_data()}
            self._likelihood(out, y_node, mask_node, total_size, **extra)
        return model

    def _padded_data(self, X_std: np.ndarray, y: np.ndarray | None = None, pad: bool = True) -> tuple[dict, int]:
        """Standardised inputs (and targets, or a placeholder) padded to a few shapes, on the device in the
        model's dtypes, and the real row count."""
        n = X_std.shape[0]
        rows = padded_rows(n) if pad else n
        y = self._placeholder_y(n) if y is None else y
        mask = np.zeros(rows)
        mask[:n] = 1.0
        arrays = {"X": _pad(X_std, rows), "y": _pad(y, rows), "mask": mask, **self._stage_data()}
        return device_data(arrays, self._dtypes()), n

    def _dtypes(self) -> dict:
        """The dtypes of the model's data: floats as credo's (float32, or float64 with x64), integer labels."""
        real = jnp.zeros(()).dtype
        return {"X": real, "y": np.int32 if self._kind == "classification" else real, "mask": real,
                **{name: real for name in self._stage_data()}}

    def _stage_data(self) -> dict:
        """Scalar data of the model beside the rows, at their values after the fit (see :meth:`_fit_stages`)."""
        return {}

    def _fit_stages(self, n_iter: int) -> list[tuple[int, dict]]:
        """The fit's stages: ``(steps, values of stage data)``, run in turn by one compiled program."""
        return [(n_iter, {})]

    def _template_model(self, rows: int | None = None, batch_size: int | None = None) -> Model:
        """The template model of this estimator's structure (see :mod:`credo.nn.templates`).

        Full-batch fits and predictions share the template of ``rows=None``
        (built on one placeholder row: their programs take the data as
        arguments); a minibatch fit's depends on its rows, which scale its
        likelihood.
        """
        key = (type(self).__name__, self.n_features_in_, self._n_outputs(), self._hidden, self.activation,
               self._prior, self._likelihood_key(), rows, batch_size)

        def build() -> Model:
            shape_rows = 1 if rows is None else rows
            placeholder, _ = self._padded_data(np.zeros((shape_rows, self.n_features_in_)), pad=False)
            return self._build_model(placeholder, batch_size, batch_seed=0)

        return template(key, build)

    def _likelihood_key(self) -> tuple:
        """What, beyond the network, sets the subclass's likelihood (part of the template's key)."""
        return ()

    #: Minus the log-likelihood of one padded row (a constant): removed from ``loss_curve_``.
    def _padding_loss(self) -> float:  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    def _likelihood(self, out, y_node, mask_node, total_size):  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    def _placeholder_y(self, n: int) -> np.ndarray:
        return np.zeros(n)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_runtime", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "posterior_" in state:
            self._runtime = _Runtime()

    # fitting ----------------------------------------------------------------------
    def _fit(self, X_std: np.ndarray, y_model: np.ndarray):
        """Fit the model to standardised inputs and model-scale targets; store the posterior draws.

        Variational fits call the programs of the template model of the
        estimator's structure with the estimator's data (padded to one of a
        few row counts, see :func:`padded_rows`), so that the clones of a
        cross-validation compile each program once per row count. NUTS fits
        a model of the estimator's own.
        """
        self._check_params()
        rng = check_random_state(self.random_state)
        init_seed, fit_seed, draw_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=3))
        method = self.method.lower()
        batch_size = None
        if self.batch_size is not None and self.batch_size < X_std.shape[0]:
            if method == "nuts":
                raise ValueError(f"{type(self).__name__}: batch_size needs a variational method; NUTS uses all rows.")
            batch_size = int(self.batch_size)
        data, n = self._padded_data(X_std, y_model, pad=method != "nuts")
        n_padding = data["mask"].shape[0] - n
        if method == "nuts":
            model = self._build_model(data)
            names = [rv.name for rv in model.free_variables]
            chains = 2
            idata = sample(draws=max(1, int(np.ceil(self.draws / chains))), tune=int(self.n_iter), chains=chains,
                           random_seed=fit_seed, progressbar=bool(self.progressbar), model=model,
                           devices=self.devices)
            posterior = {}
            for name in names:
                value = np.asarray(idata.posterior[name])
                posterior[name] = value.reshape((-1,) + value.shape[2:])[: self.draws]
            self.loss_curve_ = np.zeros(0)
            fit = None
        else:
            model = self._template_model(None if batch_size is None else data["mask"].shape[0], batch_size)
            fit = self._fit_vi(model, data, method, fit_seed, init_seed, batch_size)
            # draw the weights with one placeholder row: the deterministics are not needed here
            placeholder, _ = self._padded_data(X_std[:1], y_model[:1], pad=False)
            compiled = model.compile()
            draws = compiled.programs.get(GaussianDraws(fit.family, data_signature(placeholder)), compiled)
            values = draws(as_key(draw_seed), fit.state, placeholder, int(self.draws))
            posterior = {info.name: np.asarray(values[info.name]) for info in compiled.free}
            self.loss_curve_ = np.asarray(fit.hist) - n_padding * self._padding_loss()
        self.posterior_ = posterior
        self._runtime = _Runtime(data, fit)
        return self

    def _fit_vi(self, model, data: dict, method: str, seed: int, init_seed: int, batch_size: int | None) -> _Fit:
        """A variational fit with the compiled programs of ``model`` (a template) on ``data``."""
        family = {"advi": MeanField(), "fullrank_advi": FullRank(), "lowrank_advi": LowRank()}[method]
        members = self._n_members
        if members > 1:  # an ensemble: every member from its own initial weights, all run as one program
            family = Mixture(family, members)
        n_iter = int(self.n_iter)
        # Adam with a learning rate that decays tenfold along a cosine: fast early, little noise late.
        optimizer = as_optimizer(optax.adam(optax.cosine_decay_schedule(float(self.learning_rate), n_iter, alpha=0.1)),
                                 family.default_optimizer)
        compiled = model.compile()
        data = place_data(model, data, self._placement()).arrays  # rows sharded over the devices, if several
        signature = data_signature(data)
        real = jnp.zeros(()).dtype
        rng = np.random.default_rng(init_seed)
        position = _initial_position(compiled, rng)
        if members > 1:  # member 0 starts where a single fit of the same seed does
            position = np.stack([position] + [_initial_position(compiled, rng) for _ in range(members - 1)])
        position = jnp.asarray(position, real)
        init = compiled.programs.get(ADVIInit(family, optimizer, False, signature), compiled)
        state = init(position, std=jnp.full(compiled.dim, float(self.init_std), real))
        chunk_size = min(n_iter, 2000)
        runner = compiled.programs.get(ADVIChunk(family, optimizer, 1, chunk_size, tuple(model.minibatches),
                                                 signature), compiled)
        key = as_key(seed)
        hist, alive = None, True
        for steps, values in self._fit_stages(n_iter):  # the stage data are arguments: one program for every stage
            stage = {**data, **{name: _placed_like(value, data[name]) for name, value in values.items()}}
            run = run_chunks(runner, state, key, stage, steps, chunk_size, hist=hist, alive=alive,
                             progressbar=bool(self.progressbar))
            state, hist, alive = run.state, run.hist, run.alive
            if not np.all(alive) or run.stop_reason is not None:
                break
        if not np.all(run.alive):
            warnings.warn(f"{type(self).__name__}: the loss turned non-finite at iteration {len(run.hist)}. "
                          "Predictions use the last finite approximation; try a smaller learning_rate.",
                          ConvergenceWarning, stacklevel=3)
        return _Fit(family, optimizer, run.state, key, run.hist, chunk_size, batch_size)

    def _placement(self):
        """Where this estimator's programs run (see ``devices``)."""
        return placement_for(self.devices, f"{type(self).__name__}: devices")

    # prediction ---------------------------------------------------------------------
    def _check_X(self, X) -> np.ndarray:
        check_is_fitted(self, "posterior_")
        X = validate(self, X, reset=False, dtype=np.float64)
        return (X - self.X_mean_) / self.X_std_

    def _draws(self, X_std: np.ndarray, names: tuple, posterior: dict, seed: int) -> dict:
        """Draws ``(S, n, ...)`` of each of ``names`` (deterministics, the likelihood) at the standardised
        inputs, from one compiled call.

        The rows are padded to one of a few counts: predictions on sets of
        similar size share one compiled program.
        """
        data, n = self._padded_data(X_std)
        compiled = self._template_model().compile()
        values = predictive_draws(compiled, posterior, data, tuple(names), as_key(seed), self._placement())
        return {name: np.asarray(values[name], dtype=np.float64)[:, :n] for name in names}

    def _deterministic_draws(self, X_std: np.ndarray, name: str) -> np.ndarray:
        """Draws ``(S, n, ...)`` of the deterministic ``name`` at the standardised inputs."""
        return self._draws(X_std, (name,), self.posterior_, seed=0)[name]

    def _observed_draws(self, X_std: np.ndarray, draws: int | None, random_state) -> np.ndarray:
        total = next(iter(self.posterior_.values())).shape[0]
        if draws is None:
            draws = total
        if isinstance(draws, bool) or not isinstance(draws, (Integral, np.integer)) or draws < 1:
            raise ValueError(f"draws must be a positive integer; got {draws!r}.")
        random_state = check_random_state(random_state)
        seed = int(random_state.randint(0, 2**31 - 1))
        if draws > total:  # reuse posterior draws, each with fresh likelihood noise
            index = np.arange(draws) % total
        elif draws < total:
            index = np.sort(random_state.choice(total, int(draws), replace=False))
        else:
            index = np.arange(total)
        posterior = {name: value[index] for name, value in self.posterior_.items()}
        return self._draws(X_std, ("y_obs",), posterior, seed)["y_obs"]

    @property
    def approximation_(self):
        """The fitted variational approximation (None after NUTS, or after unpickling).

        Its model is the estimator's own, holding the (padded, standardised)
        training data, built when this is first read: it refines, samples
        and saves as any approximation.
        """
        check_is_fitted(self, "posterior_")
        runtime = self._runtime
        if runtime.approximation is None and runtime.fit is not None:
            fit = runtime.fit
            model = self._build_model(runtime.data, fit.batch_size, batch_seed=0)
            runtime.approximation = Approximation(model, fit.family, fit.state, fit.key, fit.hist,
                                                  FitSettings(fit.optimizer, 1, fit.chunk_size))
        return runtime.approximation


