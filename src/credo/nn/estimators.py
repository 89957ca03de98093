"""scikit-learn estimators backed by a Bayesian neural network.

:class:`BNNRegressor` and :class:`BNNClassifier` build a credo model (an MLP
from :func:`credo.nn.mlp` with Normal priors on every weight), fit it with
variational inference (or NUTS), keep ``draws`` posterior draws of the
weights, and predict by passing new inputs to the model's compiled programs:
the programs are reused (one per bucket of row counts: rows are padded to a
few sizes under a mask), only the data change.

Each estimator owns its model, and nothing is shared between estimators, so
one estimator per thread is safe (fitting or predicting with the *same*
estimator from several threads at once is not supported, as in
scikit-learn).

Both follow the scikit-learn API (they pass ``check_estimator``, and work in a
``Pipeline`` or ``GridSearchCV``) and add what a Bayesian model offers:
``sample_predictive`` (draws of the target at new inputs) and
``log_predictive_density`` (per row, the log of the posterior-averaged
likelihood: the "test log-likelihood" of the UCI benchmark).

Examples
--------
>>> import numpy as np
>>> from credo.nn import BNNRegressor
>>> rng = np.random.default_rng(0)
>>> X = rng.uniform(-2, 2, size=(200, 1)); y = np.sin(2 * X[:, 0]) + 0.1 * rng.normal(size=200)
>>> model = BNNRegressor(hidden_layer_sizes=(20,), n_iter=2000, learning_rate=0.01, random_state=0).fit(X, y)
>>> mean, std = model.predict(X[:5], return_std=True)
>>> mean.shape, std.shape
((5,), (5,))
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import optax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ..data import Minibatch
from ..errors import NonFiniteLossError
from ..inference.advi import FullRank, LowRank, MeanField
from ..inference.approximation import Approximation
from ..inference.optimizers import as_optimizer
from ..inference.predictive import predictive_draws
from ..inference.results import as_key
from ..inference.sampling import sample
from ..distributions import Bernoulli, Categorical, HalfNormal, Normal
from ..model.core import Data, Deterministic, Model
from ..model.placement import placement_for
from .layers import mlp

__all__ = ["BNNClassifier", "BNNRegressor"]

_METHODS = ("advi", "fullrank_advi", "lowrank_advi", "nuts")
_LOG_2PI = float(np.log(2.0 * np.pi))

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _sk_validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    _sk_validate_data = None


def _validate(estimator, X, y="no_validation", reset=True, **kwargs):
    """``validate_data`` across scikit-learn versions (X alone when ``y`` is "no_validation")."""
    if _sk_validate_data is not None:
        return _sk_validate_data(estimator, X, y, reset=reset, **kwargs)
    return estimator._validate_data(X, y, reset=reset, **kwargs)  # pragma: no cover


def _standardize_stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def _logsumexp_mean(log_values: np.ndarray) -> np.ndarray:
    """``log(mean(exp(log_values), axis=0))``, computed stably."""
    top = np.max(log_values, axis=0)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.mean(np.exp(log_values - top), axis=0)) + top


def _padded_rows(n: int) -> int:
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


def _initial_position(compiled, rng: np.random.Generator) -> np.ndarray:
    """The model's initial point, with fresh ``N(0, 1/fan_in)`` weights (``*_w``) from ``rng``."""
    position = np.array(compiled.initial_position(), dtype=np.float64)
    for info in compiled.free:
        if info.name.endswith("_w") and not info.transformed:
            fan_in = info.shape[0]
            draw = rng.normal(0.0, 1.0 / np.sqrt(max(fan_in, 1)), size=info.size)
            position[info.offset: info.offset + info.size] = draw
    return position


class _Runtime:
    """What a fitted estimator holds that is not pickled: its own model and its approximation."""

    def __init__(self, model=None, approximation=None):
        self.model = model
        self.approximation = approximation


class _BNNBase(BaseEstimator):
    """Shared machinery of the BNN estimators (see :class:`BNNRegressor`)."""

    _kind = "regression"

    def __init__(
        self,
        hidden_layer_sizes=(50,),
        activation="relu",
        prior_sigma=1.0,
        method="advi",
        n_iter=20_000,
        batch_size=None,
        learning_rate=0.001,
        draws=500,
        init_std=1e-3,
        random_state=None,
        progressbar=False,
        devices=None,
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
        for param in ("n_iter", "draws"):
            value = getattr(self, param)
            if isinstance(value, bool) or not isinstance(value, (Integral, np.integer)) or value < 1:
                raise ValueError(f"{name}: {param} must be a positive integer; got {value!r}.")
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
        if self.batch_size is not None and (
            isinstance(self.batch_size, bool) or not isinstance(self.batch_size, (Integral, np.integer))
            or self.batch_size < 1
        ):
            raise ValueError(f"{name}: batch_size must be None or a positive integer; got {self.batch_size!r}.")

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
        to one of a few shapes (see :func:`_padded_rows`): on a padded row the
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
            self._likelihood(out, y_node, mask_node, total_size)
        return model

    def _padded_data(self, X_std: np.ndarray, y: np.ndarray | None = None, pad: bool = True) -> tuple[dict, int]:
        """Standardised inputs (and targets, or a placeholder) padded to a few shapes, and the real row count."""
        n = X_std.shape[0]
        rows = _padded_rows(n) if pad else n
        y = self._placeholder_y(n) if y is None else y
        mask = np.zeros(rows)
        mask[:n] = 1.0
        return {"X": _pad(X_std, rows), "y": _pad(y, rows), "mask": mask}, n

    #: Minus the log-likelihood of one padded row (a constant): removed from ``loss_curve_``.
    def _padding_loss(self) -> float:  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    def _likelihood(self, out, y_node, mask_node, total_size):  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    def _placeholder_y(self, n: int) -> np.ndarray:
        return np.zeros(n)

    def _model(self):
        """The model predictions run through: the fitted one, or one rebuilt after unpickling."""
        runtime = self._runtime
        if runtime.model is None:
            placeholder, _ = self._padded_data(np.zeros((1, self.n_features_in_)), pad=False)
            runtime.model = self._build_model(placeholder)
        return runtime.model

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
        """Fit the model to standardised inputs and model-scale targets; store the posterior draws."""
        self._check_params()
        rng = check_random_state(self.random_state)
        init_seed, fit_seed, draw_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=3))
        method = self.method.lower()
        batch_size = None
        if self.batch_size is not None and self.batch_size < X_std.shape[0]:
            if method == "nuts":
                raise ValueError(f"{type(self).__name__}: batch_size needs a variational method; NUTS uses all rows.")
            batch_size = int(self.batch_size)
        padded = batch_size is None and method != "nuts"
        data, n = self._padded_data(X_std, y_model, pad=padded)
        n_padding = data["mask"].shape[0] - n
        model = self._build_model(data, batch_size, batch_seed=0)
        names = [rv.name for rv in model.free_variables]
        approximation = None
        if method == "nuts":
            chains = 2
            idata = sample(draws=max(1, int(np.ceil(self.draws / chains))), tune=int(self.n_iter), chains=chains,
                           random_seed=fit_seed, progressbar=bool(self.progressbar), model=model,
                           devices=self.devices)
            posterior = {}
            for name in names:
                value = np.asarray(idata.posterior[name])
                posterior[name] = value.reshape((-1,) + value.shape[2:])[: self.draws]
            self.loss_curve_ = np.zeros(0)
        else:
            approximation = self._fit_vi(model, method, fit_seed, init_seed)
            # draw the weights with one placeholder row: the deterministics are not needed here
            placeholder, _ = self._padded_data(X_std[:1], y_model[:1], pad=False)
            values = approximation.sample(int(self.draws), random_seed=draw_seed, return_inferencedata=False,
                                          data=placeholder)
            posterior = {name: np.asarray(values[name]) for name in names}
            self.loss_curve_ = np.asarray(approximation.hist) - n_padding * self._padding_loss()
        self.posterior_ = posterior
        self._runtime = _Runtime(model, approximation)
        return self

    def _fit_vi(self, model, method: str, seed: int, init_seed: int):
        family = {"advi": MeanField(), "fullrank_advi": FullRank(), "lowrank_advi": LowRank()}[method]
        n_iter = int(self.n_iter)
        # Adam with a learning rate that decays tenfold along a cosine: fast early, little noise late.
        optimizer = optax.adam(optax.cosine_decay_schedule(float(self.learning_rate), n_iter, alpha=0.1))
        compiled = model.compile()
        position = _initial_position(compiled, np.random.default_rng(init_seed))
        std = np.full(compiled.dim, float(self.init_std))
        approximation = Approximation.start(model, family, as_optimizer(optimizer, family.default_optimizer),
                                            as_key(seed), chunk_size=min(n_iter, 2000), position=position, std=std,
                                            placement=placement_for(self.devices, f"{type(self).__name__}: devices"))
        try:
            return approximation.refine(n_iter, progressbar=bool(self.progressbar))
        except NonFiniteLossError as error:
            warnings.warn(f"{type(self).__name__}: {error} Predictions use the last finite approximation.",
                          ConvergenceWarning, stacklevel=3)
            return error.approximation

    # prediction ---------------------------------------------------------------------
    def _check_X(self, X) -> np.ndarray:
        check_is_fitted(self, "posterior_")
        X = _validate(self, X, reset=False, dtype=np.float64)
        return (X - self.X_mean_) / self.X_std_

    def _draws(self, X_std: np.ndarray, name: str, posterior: dict, seed: int) -> np.ndarray:
        """Draws ``(S, n, ...)`` of ``name`` (a deterministic or the likelihood) at the standardised inputs."""
        data, n = self._padded_data(X_std)
        model = self._model()
        data = dict(model.data_values, **model.validated_data(data, what=type(self).__name__))
        values = predictive_draws(model.compile(), posterior, data, (name,), as_key(seed),
                                  placement_for(self.devices, f"{type(self).__name__}: devices"))
        return np.asarray(values[name], dtype=np.float64)[:, :n]

    def _deterministic_draws(self, X_std: np.ndarray, name: str) -> np.ndarray:
        """Draws ``(S, n, ...)`` of the deterministic ``name`` at the standardised inputs."""
        return self._draws(X_std, name, self.posterior_, seed=0)

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
        return self._draws(X_std, "y_obs", posterior, seed)

    @property
    def approximation_(self):
        """The fitted variational approximation (None after NUTS, or after unpickling).

        Its model is the estimator's own, holding the (padded, standardised)
        training data.
        """
        check_is_fitted(self, "posterior_")
        return self._runtime.approximation


class BNNRegressor(RegressorMixin, _BNNBase):
    """Regression with a Bayesian neural network and a learned noise scale.

    The model, on inputs and target standardised with the training rows'
    mean and standard deviation::

        f = MLP(x; W)  (hidden_layer_sizes, activation, linear output)
        W ~ Normal(0, prior_sigma)          every weight and bias
        sigma ~ HalfNormal(1)               the noise, learned
        y ~ Normal(f, sigma)

    Predictions are returned in the target's original units.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (50,)
        Widths of the hidden layers.
    activation : str or callable, default "relu"
        ``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"softplus"``, ... (see :func:`credo.nn.dense`).
    prior_sigma : float or sequence of float, default 1.0
        Standard deviation of the Normal prior on every weight and bias (or
        one per layer, the output layer last).
    method : {"advi", "fullrank_advi", "lowrank_advi", "nuts"}, default "advi"
        Mean-field ADVI, full-rank or low-rank ADVI, or NUTS (``cr.sample``).
    n_iter : int, default 20000
        Optimisation steps. For ``method="nuts"``: tuning steps per chain
        (two chains, ``draws`` kept in all); set it lower (e.g. 1000) there.
    batch_size : int or None, default None
        Rows per step (``cr.Minibatch``, with the likelihood scaled to the whole
        data set); None uses every row at every step.
    learning_rate : float, default 0.001
        Initial learning rate of Adam; it decays along a cosine to a tenth of
        that over the ``n_iter`` steps.
    draws : int, default 500
        Posterior draws kept for prediction.
    init_std : float, default 1e-3
        Initial standard deviation of the variational Gaussian (on every
        weight): the fit starts as a nearly deterministic network around its
        random initial weights and lets the uncertainty grow where the data
        allow it.

        With ``learning_rate`` and ``n_iter`` it sets how far the fit goes
        towards the mean-field optimum. Adam moves each variational parameter
        by at most about the learning rate per step, so the log standard
        deviations can grow by at most about ``0.55 * n_iter * learning_rate``
        (11 with the defaults, from log(1e-3) = -6.9): enough to reach the uncertainty the data leave, while the
        fully converged mean-field solution, which switches most hidden units
        off (their weights back at the prior), is approached but not reached.
        On the UCI benchmark that gives better test RMSE and log-likelihood
        than running the same objective to convergence.
    random_state : int, RandomState or None
        Seeds the initial weights, the fit and the draws.
    progressbar : bool, default False
    devices : int, list of jax devices or jax.sharding.Mesh, optional
        Where to fit and predict: the rows are sharded over these devices
        (default: every device JAX sees; see :func:`credo.fit`).

    Attributes
    ----------
    posterior_ : dict of numpy.ndarray
        ``draws`` posterior draws of every weight (``net_0_w``, ...) and of
        ``sigma``, on the standardised scale.
    loss_curve_ : numpy.ndarray
        The loss (negative ELBO) of every step.
    X_mean_, X_std_, y_mean_, y_std_ : numpy.ndarray or float
        The standardisation.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from credo.nn import BNNRegressor
    >>> X = np.linspace(-1, 1, 50)[:, None]; y = 3 * X[:, 0] + 1
    >>> model = BNNRegressor(n_iter=2000, learning_rate=0.01, random_state=0).fit(X, y)
    >>> round(model.score(X, y), 1)
    1.0
    """

    _kind = "regression"

    def _likelihood(self, out, y_node, mask_node, total_size):
        mu = Deterministic("mu", out)
        sigma = HalfNormal("sigma", 1.0)
        # y ~ Normal(mu, sigma) on the rows of the data; Normal(0 | 0, 1), a constant, on padding rows (y = 0)
        Normal("y_obs", mu * mask_node, sigma * mask_node + (1.0 - mask_node), observed=y_node,
                  total_size=total_size)

    def _padding_loss(self) -> float:
        return 0.5 * _LOG_2PI

    def fit(self, X, y):
        """Fit the network to ``X`` (n, d) and ``y`` (n,)."""
        X, y = _validate(self, X, y, reset=True, dtype=np.float64, y_numeric=True)
        self.X_mean_, self.X_std_ = _standardize_stats(X)
        y_mean, y_std = _standardize_stats(y)
        self.y_mean_, self.y_std_ = float(y_mean), float(y_std)
        return self._fit((X - self.X_mean_) / self.X_std_, (y - self.y_mean_) / self.y_std_)

    def _mu_sigma(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Draws of the mean ``(S, n)`` and of the noise ``(S, 1)``, on the standardised scale."""
        mu = self._deterministic_draws(self._check_X(X), "mu")
        sigma = np.asarray(self.posterior_["sigma"], dtype=np.float64).reshape(-1, 1)
        return mu, sigma

    def predict(self, X, return_std: bool = False):
        """Predictive mean (and standard deviation), in the target's units.

        Parameters
        ----------
        X : array-like (n, d)
        return_std : bool
            Also return the standard deviation of the posterior predictive:
            ``sqrt(var over draws of f + mean over draws of sigma**2)``, the
            uncertainty about the function (epistemic) and the noise
            (aleatoric) together.

        Returns
        -------
        mean : numpy.ndarray (n,)
        std : numpy.ndarray (n,), only with ``return_std``
        """
        mu, sigma = self._mu_sigma(X)
        mean = mu.mean(axis=0) * self.y_std_ + self.y_mean_
        if not return_std:
            return mean
        variance = mu.var(axis=0) + np.mean(sigma**2)
        return mean, np.sqrt(variance) * self.y_std_

    def predict_uncertainty(self, X) -> dict[str, np.ndarray]:
        """The predictive standard deviation split into its parts, in the target's units.

        Returns
        -------
        dict
            ``"epistemic"``: std over draws of the network's mean (what more
            data would reduce); ``"aleatoric"``: root mean of ``sigma**2``
            (the noise); ``"total"``: the root of the sum of the squares.
        """
        mu, sigma = self._mu_sigma(X)
        epistemic = mu.std(axis=0) * self.y_std_
        aleatoric = np.full_like(epistemic, np.sqrt(np.mean(sigma**2)) * self.y_std_)
        return {"epistemic": epistemic, "aleatoric": aleatoric, "total": np.hypot(epistemic, aleatoric)}

    def sample_predictive(self, X, draws: int | None = None, random_state=None) -> np.ndarray:
        """Draws ``(draws, n)`` of the target at ``X`` from the posterior predictive, in the target's units."""
        X_std = self._check_X(X)
        return self._observed_draws(X_std, draws, random_state) * self.y_std_ + self.y_mean_

    def log_predictive_density(self, X, y, draws: int = 500) -> np.ndarray:
        """Per row, ``log (1/S) sum_s Normal(y | mu_s, sigma_s)`` in the target's original units.

        The mean of this over a test set is the "test log-likelihood" of the
        UCI benchmark. ``draws`` (at most the ``draws`` kept at fit time)
        posterior draws are used.
        """
        X_std = self._check_X(X)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if y.shape[0] != X_std.shape[0]:
            raise ValueError(f"X has {X_std.shape[0]} rows but y has {y.shape[0]}.")
        mu = self._deterministic_draws(X_std, "mu")
        sigma = np.asarray(self.posterior_["sigma"], dtype=np.float64).reshape(-1, 1)
        use = min(int(draws), mu.shape[0])
        mu, sigma = mu[:use], sigma[:use]
        z = ((y - self.y_mean_) / self.y_std_)[None, :]
        log_lik = -0.5 * ((z - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * _LOG_2PI
        return _logsumexp_mean(log_lik) - np.log(self.y_std_)


class BNNClassifier(ClassifierMixin, _BNNBase):
    """Classification with a Bayesian neural network.

    Two classes: ``y ~ Bernoulli(logit_p=f(x))`` with one output unit; more:
    ``y ~ Categorical(logit_p=f(x))`` with one output unit per class. Every
    weight and bias has a ``Normal(0, prior_sigma)`` prior; the inputs are
    standardised with the training rows' mean and standard deviation.
    Probabilities are averaged over the posterior draws.

    Parameters
    ----------
    See :class:`BNNRegressor`; they mean the same here.

    Attributes
    ----------
    classes_ : numpy.ndarray
        The class labels, in the order of ``predict_proba``'s columns.
    posterior_ : dict of numpy.ndarray
        ``draws`` posterior draws of every weight.
    loss_curve_ : numpy.ndarray
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from credo.nn import BNNClassifier
    >>> X, y = make_moons(200, noise=0.1, random_state=0)
    >>> clf = BNNClassifier(hidden_layer_sizes=(10,), n_iter=2000, learning_rate=0.01, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    """

    _kind = "classification"

    def _n_outputs(self):
        return None if len(self.classes_) == 2 else len(self.classes_)

    def _likelihood(self, out, y_node, mask_node, total_size):
        logits = Deterministic("logits", out)
        # padding rows (mask 0) get logits 0: a constant likelihood, log(1 / n_classes)
        if len(self.classes_) == 2:
            Bernoulli("y_obs", logit_p=logits * mask_node, observed=y_node, total_size=total_size)
        else:
            Categorical("y_obs", logit_p=logits * mask_node[:, None], observed=y_node, total_size=total_size)

    def _padding_loss(self) -> float:
        return float(np.log(len(self.classes_)))

    def _placeholder_y(self, n: int) -> np.ndarray:
        return np.zeros(n, dtype=np.int32)

    def fit(self, X, y):
        """Fit the network to ``X`` (n, d) and class labels ``y`` (n,)."""
        X, y = _validate(self, X, y, reset=True, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes; got 1 class ({self.classes_[0]!r})."
            )
        self.X_mean_, self.X_std_ = _standardize_stats(X)
        return self._fit((X - self.X_mean_) / self.X_std_, y_index.astype(np.int32))

    def _log_probability_draws(self, X_std: np.ndarray) -> np.ndarray:
        """Draws ``(S, n, K)`` of the log class probabilities, computed stably from the logits."""
        logits = self._deterministic_draws(X_std, "logits")
        if len(self.classes_) == 2:
            logits = np.stack([np.zeros_like(logits), logits], axis=-1)
        logits = logits - logits.max(axis=-1, keepdims=True)
        return logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))

    def _probability_draws(self, X_std: np.ndarray) -> np.ndarray:
        """Draws ``(S, n, K)`` of the class probabilities."""
        return np.exp(self._log_probability_draws(X_std))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, K)`` averaged over the posterior draws."""
        return self._probability_draws(self._check_X(X)).mean(axis=0)

    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row (labels from ``classes_``)."""
        probabilities = self.predict_proba(X)
        return self.classes_[np.argmax(probabilities, axis=1)]

    def sample_probabilities(self, X) -> np.ndarray:
        """Draws ``(S, n, K)`` of the class probabilities: the input of :mod:`credo.metrics`' entropies."""
        return self._probability_draws(self._check_X(X))

    def sample_predictive(self, X, draws: int | None = None, random_state=None) -> np.ndarray:
        """Draws ``(draws, n)`` of labels at ``X`` from the posterior predictive."""
        X_std = self._check_X(X)
        return self.classes_[self._observed_draws(X_std, draws, random_state).astype(int)]

    def log_predictive_density(self, X, y, draws: int = 500) -> np.ndarray:
        """Per row, ``log (1/S) sum_s p(y | x, W_s)``: the log of the posterior-averaged probability of ``y``."""
        X_std = self._check_X(X)
        y = np.asarray(y).reshape(-1)
        if y.shape[0] != X_std.shape[0]:
            raise ValueError(f"X has {X_std.shape[0]} rows but y has {y.shape[0]}.")
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        if not np.all(self.classes_[index] == y):
            unknown = sorted(set(np.asarray(y).tolist()) - set(self.classes_.tolist()))
            raise ValueError(f"y holds labels not seen in fit: {unknown[:5]}; classes are {self.classes_.tolist()}.")
        log_probabilities = self._log_probability_draws(X_std)
        use = min(int(draws), log_probabilities.shape[0])
        chosen = np.take_along_axis(log_probabilities[:use], index[None, :, None], axis=-1)[..., 0]
        return _logsumexp_mean(chosen)
