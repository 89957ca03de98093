"""Automatic differentiation variational inference over Gaussian families.

Pure functions over small array-only states, in the manner of optax and
BlackJAX. A family (:class:`MeanField`, :class:`FullRank`, :class:`LowRank`)
is a frozen, hashable spec: how to draw from, and measure the entropy of, a
Gaussian on the flat unconstrained space, and its policy (default start,
default optimiser, whether a start at the mode whitens). :func:`advi` turns
a log density, a family and an optax optimiser into ``init`` and ``step``
functions that a ``lax.scan`` drives (see :mod:`credo.inference.driver`).

A state may carry a fixed affine :class:`Frame` ``(loc, chol)``: the
Gaussian is then ``loc + chol @ u`` with ``u`` drawn from the family under
the optimised parameters. Optimising in this whitened space (the mode and
the Laplace Cholesky factor as frame) makes a strongly correlated, badly
scaled posterior look like a standard normal to the optimiser.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as ndist
import optax

from ..errors import FitError
from .method import VariationalMethod
from .optimizers import OptimizerSpec

__all__ = [
    "GaussianFamily", "MeanField", "FullRank", "LowRank", "Frame", "ADVIState", "ADVIInfo",
    "VariationalAlgorithm", "advi", "family_from_label", "with_point_estimates", "draw", "draw_from_noise",
    "where_state", "is_large", "CONDITIONAL_SIZE", "entropy", "mean", "covariance", "std", "natural_params",
]

LOG_2PI = float(np.log(2 * np.pi))


def _inverse_softplus(x):
    return x + jnp.log(-jnp.expm1(-x))


def _gaussian_constant(dim: int, dtype) -> jax.Array:
    return jnp.asarray(0.5 * dim * (1.0 + LOG_2PI), dtype)


def _cholesky(raw):
    return jnp.tril(raw, -1) + jnp.diag(jnp.exp(jnp.diag(raw)))


def _raw_cholesky(cholesky):
    """A Cholesky factor in the stored layout: strictly lower part as it is, the diagonal as logarithms."""
    return jnp.tril(cholesky, -1) + jnp.diag(jnp.log(jnp.diag(cholesky)))


@dataclasses.dataclass(frozen=True)
class GaussianFamily(VariationalMethod):
    """A Gaussian family on the flat unconstrained space (a frozen, hashable spec).

    Class attributes give the family's policy (see
    :class:`~credo.inference.method.VariationalMethod`): ``name``,
    ``default_init``, ``whiten_at_map`` (whether a start at the mode
    optimises in the frame of the mode and the Laplace Cholesky factor),
    ``default_optimizer``.

    Methods take the family's parameters, a dict of arrays.
    """

    def init(self, mean, std, cholesky=None) -> dict:  # pragma: no cover - interface
        """Parameters of the Gaussian with this mean and diagonal ``std`` (or Cholesky factor)."""
        raise NotImplementedError

    def noise(self, key, params, num: int):
        """The standard normal noise of ``num`` draws (``(num, d)`` here; families may use another shape).

        A fit draws the noise apart from the parameters and :meth:`transform`
        maps it: the compiled step then makes the noise once and reads it
        wherever the draw is used, instead of recomputing it in each use.
        """
        mean = params["mean"]
        return jax.random.normal(key, (num,) + mean.shape, mean.dtype)

    def transform(self, params, noise):  # pragma: no cover - interface
        """``(num, d)`` draws: the Gaussian of ``params`` applied to :meth:`GaussianFamily.noise`."""
        raise NotImplementedError

    def sample(self, key, params, num: int):
        """``(num, d)`` reparameterised draws."""
        return self.transform(params, self.noise(key, params, num))

    def entropy(self, params):  # pragma: no cover - interface
        raise NotImplementedError

    def mean(self, params):
        return params["mean"]

    def covariance(self, params):  # pragma: no cover - interface
        raise NotImplementedError

    def std(self, params):
        return jnp.sqrt(jnp.diag(self.covariance(params)))

    def log_prob(self, params, x):  # pragma: no cover - interface
        """Log density of the Gaussian at ``x`` (``(..., d)``)."""
        raise NotImplementedError

    # --- the method's interface: what Approximation and the drivers call -----------------------
    # A method spec that is not a Gaussian family (particles, flows) implements these.
    def algorithm(self, logdensity_fn: Callable, optimizer: optax.GradientTransformation,
                  num_mc: int) -> "VariationalAlgorithm":
        """``init`` / ``step`` / ``loss`` of the fit (ADVI for every Gaussian family)."""
        return advi(logdensity_fn, self, optimizer, num_mc)

    def draw(self, key, state: "ADVIState", num: int):
        """``(num, d)`` draws of the approximation in ``state`` on the flat unconstrained space."""
        return draw(self, key, state.params, state.frame, num)

    def state_mean(self, state: "ADVIState"):
        return mean(self, state.params, state.frame)

    def state_std(self, state: "ADVIState"):
        return std(self, state.params, state.frame)

    def state_covariance(self, state: "ADVIState"):
        return covariance(self, state.params, state.frame)

    def state_log_prob(self, state: "ADVIState", x):
        """``log q(x)`` of the approximation in ``state``, ``x`` of shape ``(..., d)``."""
        frame = state.frame
        if frame is None:
            return self.log_prob(state.params, x)
        u = jax.scipy.linalg.solve_triangular(frame.chol, jnp.moveaxis(x - frame.loc, -1, 0), lower=True)
        return self.log_prob(state.params, jnp.moveaxis(u, 0, -1)) - jnp.sum(jnp.log(jnp.abs(jnp.diag(frame.chol))))

    def state_params(self, state: "ADVIState") -> dict:
        """The parameters of the approximation itself (see :func:`natural_params`)."""
        return natural_params(self, state.params, state.frame)


@dataclasses.dataclass(frozen=True)
class MeanField(GaussianFamily):
    """Independent Gaussians: ``params = {"mean", "rho"}``, std = softplus(rho).

    Starts, as PyMC, at the model's initial point with std softplus(0), and is
    optimised with windowed adagrad at 1e-3.

    Parameters
    ----------
    point : tuple of (start, stop)
        Slices of the flat vector that are point estimates: their standard
        deviation is 0 (the draws are the mean) and they have no entropy
        term, so the ELBO's gradient moves them to the mode of the rest of
        the objective (MAP inside the same fit). ``cr.fit`` sets them from
        the model's point-estimated variables (``cr.nn`` layers with
        ``bayesian=False``); their ``rho`` stays as it starts.
    """

    point: tuple = ()
    name: ClassVar[str] = "meanfield"
    default_optimizer: ClassVar[OptimizerSpec] = OptimizerSpec("adagrad_window", 1e-3)

    def __post_init__(self):
        object.__setattr__(self, "point", _slices(self.point))

    @property
    def label(self) -> str:
        if not self.point:
            return self.name
        return f"{self.name}:point=" + ",".join(f"{start}-{stop}" for start, stop in self.point)

    def _point_size(self) -> int:
        return sum(stop - start for start, stop in self.point)

    def _spread(self, rho):
        """The standard deviations, 0 on the point-estimated slices."""
        return _zero_slices(jax.nn.softplus(rho), self.point)

    def _bayesian_sum(self, values):
        """The sum over the last axis of ``values`` outside the point-estimated slices."""
        total = jnp.sum(values, axis=-1)
        for start, stop in self.point:
            total = total - jnp.sum(values[..., start:stop], axis=-1)
        return total

    def init(self, mean, std, cholesky=None):
        if cholesky is not None:
            std = jnp.sqrt(jnp.sum(cholesky**2, axis=1))
        return {"mean": mean, "rho": _inverse_softplus(std)}

    def transform(self, params, noise):
        std = self._spread(params["rho"]) if self.point else jax.nn.softplus(params["rho"])
        return params["mean"] + std * noise

    def entropy(self, params):
        log_std = jnp.log(jax.nn.softplus(params["rho"]))
        size = log_std.shape[-1] - self._point_size()
        return self._bayesian_sum(log_std) + _gaussian_constant(size, log_std.dtype)

    def std(self, params):
        return self._spread(params["rho"])

    def covariance(self, params):
        return jnp.diag(self.std(params) ** 2)

    def log_prob(self, params, x):
        """Log density at ``x`` of the Gaussian on the coordinates that are not point estimates."""
        std = jax.nn.softplus(params["rho"])
        z = (x - params["mean"]) / std
        size = z.shape[-1] - self._point_size()
        return self._bayesian_sum(-0.5 * z**2 - jnp.log(std)) - 0.5 * size * LOG_2PI

    def start_at_mode(self, mode, cholesky):
        # The standard deviations a mean-field Gaussian has on a Gaussian target: 1/sqrt(diag(precision)).
        inverse = jax.scipy.linalg.solve_triangular(cholesky, jnp.eye(cholesky.shape[0], dtype=cholesky.dtype),
                                                    lower=True)
        return {"position": mode, "std": 1.0 / jnp.sqrt(jnp.sum(inverse**2, axis=0)), "whiten": False}


@dataclasses.dataclass(frozen=True)
class FullRank(GaussianFamily):
    """A full covariance: ``params = {"mean", "chol"}``, the Cholesky factor with
    its diagonal stored as logarithms (so it stays positive).

    Starts at the mode by default and is optimised there in the frame whitened
    by the Laplace curvature, with Adam at 1e-3: every parameter then has unit
    scale, and Adam's long gradient average keeps the covariance unbiased
    (windowed adagrad's 10-step window inflates the variances by 10-20%).
    """

    name: ClassVar[str] = "fullrank"
    default_init: ClassVar[str] = "map"
    whiten_at_map: ClassVar[bool] = True

    def init(self, mean, std, cholesky=None):
        if cholesky is None:
            cholesky = jnp.diag(std)
        return {"mean": mean, "chol": _raw_cholesky(cholesky)}

    def transform(self, params, noise):
        return params["mean"] + noise @ _cholesky(params["chol"]).T

    def entropy(self, params):
        raw = params["chol"]
        return jnp.sum(jnp.diag(raw)) + _gaussian_constant(raw.shape[0], raw.dtype)

    def covariance(self, params):
        cholesky = _cholesky(params["chol"])
        return cholesky @ cholesky.T

    def log_prob(self, params, x):
        cholesky = _cholesky(params["chol"])
        z = jax.scipy.linalg.solve_triangular(cholesky, jnp.moveaxis(x - params["mean"], -1, 0), lower=True)
        return (-0.5 * jnp.sum(z**2, axis=0) - jnp.sum(jnp.diag(params["chol"]))
                - 0.5 * cholesky.shape[0] * LOG_2PI)


@dataclasses.dataclass(frozen=True)
class LowRank(GaussianFamily):
    """Diagonal plus rank ``rank``: covariance ``diag(softplus(rho))**2 + F F^T``,
    ``params = {"mean", "rho", "factor"}``.

    Optimised with Adam at 1e-3: the factor starts at zero, a saddle that Adam
    leaves within a few thousand steps and windowed adagrad does not.
    """

    rank: int = 2
    name: ClassVar[str] = "lowrank"

    def __post_init__(self):
        if isinstance(self.rank, bool) or not isinstance(self.rank, (int, np.integer)) or self.rank < 1:
            raise FitError(f"rank must be a positive integer; got {self.rank!r}.")

    @property
    def label(self) -> str:
        return f"lowrank{int(self.rank)}"

    def init(self, mean, std, cholesky=None):
        rank = int(self.rank)
        if cholesky is not None:
            # The leading eigenvectors of the covariance as the low-rank part, the
            # variance they leave on the diagonal (at least 1% of each variance).
            covariance = cholesky @ cholesky.T
            values, vectors = jnp.linalg.eigh(covariance)
            k = min(rank, mean.shape[0])
            factor = vectors[:, ::-1][:, :k] * jnp.sqrt(jnp.maximum(values[::-1][:k], 0.0))
            if k < rank:
                factor = jnp.concatenate([factor, jnp.zeros((mean.shape[0], rank - k), mean.dtype)], axis=1)
            variance = jnp.diag(covariance)
            rest = variance - jnp.sum(factor**2, axis=1)
            std = jnp.sqrt(jnp.maximum(rest, 1e-2 * variance))
        else:
            factor = jnp.zeros((mean.shape[0], rank), mean.dtype)
        return {"mean": mean, "rho": _inverse_softplus(std), "factor": factor}

    def noise(self, key, params, num):
        """``(diagonal noise (num, d), factor noise (num, rank))``."""
        mean, factor = params["mean"], params["factor"]
        key_diag, key_factor = jax.random.split(key)
        return (jax.random.normal(key_diag, (num,) + mean.shape, mean.dtype),
                jax.random.normal(key_factor, (num, factor.shape[1]), mean.dtype))

    def transform(self, params, noise):
        diag_noise, factor_noise = noise
        return params["mean"] + jax.nn.softplus(params["rho"]) * diag_noise + factor_noise @ params["factor"].T

    def entropy(self, params):
        std = jax.nn.softplus(params["rho"])
        scaled = params["factor"] / std[:, None]
        capacitance = jnp.eye(scaled.shape[1], dtype=std.dtype) + scaled.T @ scaled
        _, logdet = jnp.linalg.slogdet(capacitance)
        return jnp.sum(jnp.log(std)) + 0.5 * logdet + _gaussian_constant(std.shape[0], std.dtype)

    def covariance(self, params):
        std = jax.nn.softplus(params["rho"])
        return jnp.diag(std**2) + params["factor"] @ params["factor"].T

    def log_prob(self, params, x):
        std = jax.nn.softplus(params["rho"])
        normal = ndist.LowRankMultivariateNormal(params["mean"], params["factor"], std**2)
        return normal.log_prob(x)


def with_point_estimates(family: GaussianFamily, slices: tuple) -> GaussianFamily:
    """``family`` estimating the ``(start, stop)`` slices of the flat vector by points (see :class:`MeanField`).

    Only the mean-field family separates coordinates so; the others raise a
    FitError naming the remedy when there are such slices.
    """
    if not slices and not getattr(family, "point", ()):
        return family
    if not isinstance(family, MeanField):
        raise FitError(f"the model has point-estimated variables (cr.nn layers with bayesian=False); the "
                       f"{family.label} family cannot hold them: fit with method='advi' (mean-field), or make "
                       "those layers Bayesian.")
    return dataclasses.replace(family, point=tuple(slices))


def _slices(point) -> tuple:
    """``point`` as sorted, disjoint ``(start, stop)`` pairs of ints (a FitError otherwise)."""
    try:
        pairs = tuple(sorted((int(start), int(stop)) for start, stop in point))
    except (TypeError, ValueError):
        raise FitError(f"point must be (start, stop) pairs of the flat vector; got {point!r}.") from None
    previous = 0
    for start, stop in pairs:
        if start < previous or stop <= start:
            raise FitError(f"point slices must be non-empty, ordered and disjoint; got {pairs!r}.")
        previous = stop
    return pairs


def _zero_slices(values, slices: tuple):
    """``values`` with 0 on the ``(start, stop)`` slices of its last axis (one fused concatenation)."""
    if not slices:
        return values
    pieces, previous = [], 0
    for start, stop in slices:
        pieces += [values[..., previous:start], jnp.zeros(values.shape[:-1] + (stop - start,), values.dtype)]
        previous = stop
    pieces.append(values[..., previous:])
    return jnp.concatenate(pieces, axis=-1)


def family_from_label(label: str) -> GaussianFamily:
    """The family a label such as ``"meanfield"``, ``"fullrank"``, ``"lowrank3"`` or
    ``"meanfield:point=0-40,90-100"`` (with point-estimated slices) stands for."""
    if label == "meanfield":
        return MeanField()
    if isinstance(label, str) and label.startswith("meanfield:point="):
        try:
            pairs = [part.split("-") for part in label[len("meanfield:point="):].split(",")]
            return MeanField(point=tuple((int(start), int(stop)) for start, stop in pairs))
        except (ValueError, FitError):
            raise ValueError(f"unknown Gaussian family {label!r}: its point-estimated slices do not read as "
                             "start-stop pairs.") from None
    if label == "fullrank":
        return FullRank()
    if isinstance(label, str) and label.startswith("lowrank") and label[len("lowrank"):].isdigit():
        return LowRank(int(label[len("lowrank"):]))
    raise ValueError(f"unknown Gaussian family {label!r}; expected meanfield, fullrank or lowrank<k>.")


class Frame(NamedTuple):
    """A fixed affine frame: the Gaussian is ``loc + chol @ u`` (see the module doc).

    Attributes
    ----------
    loc : Array, shape (d,)
    chol : Array, shape (d, d)
        Lower-triangular.
    """

    loc: jax.Array
    chol: jax.Array


# --- the Gaussian of a family's parameters in a frame ------------------------------------------

def draw(family: GaussianFamily, key, params, frame: Frame | None, num: int):
    """``(num, d)`` reparameterised draws of the Gaussian (in the frame, if any)."""
    return draw_from_noise(family, params, frame, family.noise(key, params, num))


def draw_from_noise(family: GaussianFamily, params, frame: Frame | None, noise):
    """The draws of the Gaussian (in the frame, if any) for the family's standard normal ``noise``."""
    draws = family.transform(params, noise)
    return draws if frame is None else frame.loc + draws @ frame.chol.T


def entropy(family: GaussianFamily, params, frame: Frame | None):
    value = family.entropy(params)
    return value if frame is None else value + jnp.sum(jnp.log(jnp.abs(jnp.diag(frame.chol))))


def mean(family: GaussianFamily, params, frame: Frame | None):
    value = family.mean(params)
    return value if frame is None else frame.loc + frame.chol @ value


def covariance(family: GaussianFamily, params, frame: Frame | None):
    value = family.covariance(params)
    return value if frame is None else frame.chol @ value @ frame.chol.T


def std(family: GaussianFamily, params, frame: Frame | None):
    return family.std(params) if frame is None else jnp.sqrt(jnp.diag(covariance(family, params, frame)))


def natural_params(family: GaussianFamily, params: dict, frame: Frame | None) -> dict:
    """The parameters of the Gaussian itself, a frame folded in.

    For full-rank parameters in a frame (``init="map"``, Laplace): the mean
    ``loc + L m`` and the Cholesky factor ``L C`` (lower-triangular, its
    diagonal as logarithms), the layout of an unframed full-rank fit. Other
    parameters are returned as they are (only full-rank fits use a frame).
    """
    if frame is None or not isinstance(family, FullRank):
        return params
    cholesky = frame.chol @ _cholesky(params["chol"])
    return {"mean": frame.loc + frame.chol @ params["mean"], "chol": _raw_cholesky(cholesky)}


# --- the algorithm ---------------------------------------------------------------------------

#: States with at least this many parameters are kept or updated by a conditional (see :func:`where_state`).
CONDITIONAL_SIZE = 512


def is_large(state) -> bool:
    """Whether ``state`` has at least :data:`CONDITIONAL_SIZE` parameters (a conditional then pays)."""
    return sum(int(np.size(leaf)) for leaf in jax.tree_util.tree_leaves(state.params)) >= CONDITIONAL_SIZE


def where_state(predicate, update_fn: Callable, state, skip_fn: Callable | None = None):
    """``update_fn(state)`` where ``predicate`` holds, else ``skip_fn(state)`` (default: ``state``).

    For a large state a ``lax.cond``: nothing is computed for the branch not
    taken, no array is selected element by element, and the conditional
    separates what is computed before it from what is fused inside it (see
    :class:`credo.inference.programs.ADVIChunk`). For a small one (fewer
    than :data:`CONDITIONAL_SIZE` parameters) both branches and an
    elementwise select, cheaper than a conditional's fixed cost: 43-111 against
    45-125 us per step on the tutorial's 40-weight network, while at 1,000
    weights the conditional is already the quicker (214 against 305 us).
    """
    skip_fn = skip_fn if skip_fn is not None else (lambda state: state)
    if is_large(state):
        return jax.lax.cond(predicate, update_fn, skip_fn, state)
    taken, skipped = update_fn(state), skip_fn(state)
    return jax.tree_util.tree_map(lambda new, old: jnp.where(predicate, new, old), taken, skipped)


class ADVIState(NamedTuple):
    """State of a variational fit (ADVI, and every other method: see :mod:`credo.inference.method`).

    Attributes
    ----------
    params : dict of Array
        The method's variational parameters (in the frame, if any): a flat
        dict of arrays, so that saved files hold them by name.
    opt_state : optax.OptState
        The optimiser's state.
    step : Array
        Number of steps taken so far (int32); step ``s`` draws its noise from
        ``fold_in(key, s)``, so a fit continued later equals one long fit.
    frame : Frame or None
        The fixed frame the parameters are given in (never optimised).
    """

    params: dict
    opt_state: Any
    step: jax.Array
    frame: Frame | None = None


class ADVIInfo(NamedTuple):
    """What one ADVI step reports.

    Attributes
    ----------
    loss : Array
        The Monte Carlo estimate of the negative ELBO at the step's parameters.
    finite : Array
        Whether the loss and every gradient were finite; if not, the step left
        the state unchanged.
    """

    loss: jax.Array
    finite: jax.Array


class VariationalAlgorithm(NamedTuple):
    """``init(position, std=None, cholesky=None, whiten=False, key=None) -> ADVIState``;
    ``step(key, state, data) -> (ADVIState, ADVIInfo)``;
    ``loss(state, key, data) -> scalar``, the negative ELBO the step estimates.

    A method whose step is a function of random noise drawn from the key
    also gives ``noise(key, state)`` and ``step_with_noise(noise, state,
    data)``, with ``step(key, state, data) == step_with_noise(noise(key,
    state), state, data)``. The compiled loop then draws the noise outside
    the step's gradient, so that it is made once per step and read where the
    draw is used (see :class:`credo.inference.programs.ADVIChunk`).
    """

    init: Callable
    step: Callable
    loss: Callable
    noise: Callable | None = None
    step_with_noise: Callable | None = None


def advi(
    logdensity_fn: Callable,
    family: GaussianFamily,
    optimizer: optax.GradientTransformation,
    num_mc: int = 1,
) -> VariationalAlgorithm:
    """ADVI with the reparameterised Monte Carlo gradient of the ELBO.

    Parameters
    ----------
    logdensity_fn : callable
        ``logdensity_fn(position, data) -> scalar`` on the flat unconstrained space.
    family : GaussianFamily
    optimizer : optax.GradientTransformation
    num_mc : int
        Monte Carlo draws per step for the ELBO gradient.

    Examples
    --------
    >>> import jax, jax.numpy as jnp, optax
    >>> from credo.inference.advi import advi, MeanField
    >>> algorithm = advi(lambda x, data: -0.5 * jnp.sum((x - data) ** 2), MeanField(), optax.adam(0.05))
    >>> state = algorithm.init(jnp.zeros(2))
    >>> state, info = algorithm.step(jax.random.key(0), state, jnp.ones(2))
    """
    if isinstance(num_mc, bool) or not isinstance(num_mc, (int, np.integer)) or num_mc < 1:
        raise FitError(f"num_mc must be a positive integer; got {num_mc!r}.")
    num_mc = int(num_mc)

    def objective_at(params, frame, noise, data):
        draws = draw_from_noise(family, params, frame, noise)
        if num_mc == 1:
            expected_logdensity = logdensity_fn(draws[0], data)
        else:
            expected_logdensity = jnp.mean(jax.vmap(logdensity_fn, (0, None))(draws, data))
        return -(expected_logdensity + entropy(family, params, frame))

    def objective(params, frame, key, data):
        return objective_at(params, frame, family.noise(key, params, num_mc), data)

    def init(position, std=None, cholesky=None, whiten: bool = False, key=None) -> ADVIState:
        """The state of a Gaussian with mean ``position`` and diagonal ``std``
        (default softplus(0), as PyMC starts) or Cholesky factor ``cholesky``.

        With ``whiten=True`` the Gaussian is parameterised in the frame
        ``position + cholesky @ u``: the optimiser starts from ``u ~ N(0, I)``.
        ``key`` is not used (the start of a Gaussian is not random).
        """
        position = jnp.asarray(position)
        if std is None:
            std = jnp.full_like(position, float(np.log(2.0)))  # softplus(0), as PyMC starts
        std = jnp.asarray(std, position.dtype)
        frame = None
        if whiten:
            frame = Frame(position, jnp.diag(std) if cholesky is None else jnp.asarray(cholesky, position.dtype))
            params = family.init(jnp.zeros_like(position), jnp.ones_like(position), None)
        else:
            params = family.init(position, std, cholesky)
        return ADVIState(params, optimizer.init(params), jnp.zeros((), jnp.int32), frame)

    def noise(key, state: ADVIState):
        return family.noise(key, state.params, num_mc)

    def step_with_noise(noise, state: ADVIState, data) -> tuple[ADVIState, ADVIInfo]:
        value, grads = jax.value_and_grad(objective_at)(state.params, state.frame, noise, data)
        finite = jnp.isfinite(value)
        for leaf in jax.tree_util.tree_leaves(grads):
            # max |g| is finite where every g is, NaN or inf otherwise: one fused reduction over the
            # gradient, where all(isfinite(g)) writes a mask and reads it again.
            finite = finite & jnp.isfinite(jnp.max(jnp.abs(leaf)))

        def update(state: ADVIState) -> ADVIState:
            updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
            return ADVIState(optax.apply_updates(state.params, updates), opt_state, state.step + 1, state.frame)

        # A non-finite step leaves the state as it was.
        return where_state(finite, update, state), ADVIInfo(value, finite)

    def step(key, state: ADVIState, data) -> tuple[ADVIState, ADVIInfo]:
        return step_with_noise(noise(key, state), state, data)

    def loss(state: ADVIState, key, data):
        return objective(state.params, state.frame, key, data)

    return VariationalAlgorithm(init, step, loss, noise, step_with_noise)
