"""Automatic differentiation variational inference over Gaussian families.

Pure functions over small array-only states, in the manner of optax and
BlackJAX: a family says how to draw from, and measure the entropy of, a
Gaussian on the flat unconstrained space; :func:`advi` turns a log density,
a family and an optax optimiser into ``init`` and ``step`` functions that a
``lax.scan`` drives (see :mod:`credo.inference.fit`).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = [
    "GaussianFamily",
    "ADVIState",
    "ADVIInfo",
    "VariationalAlgorithm",
    "meanfield",
    "fullrank",
    "lowrank",
    "advi",
    "FAMILIES",
    "family_from_name",
    "trainable",
    "natural_params",
    "with_frame",
]

LOG_2PI = float(np.log(2 * np.pi))


class GaussianFamily(NamedTuple):
    """A Gaussian family on the flat unconstrained space.

    Attributes
    ----------
    name : str
    init_fn : callable
        ``init_fn(mean, std, cholesky=None) -> params``: variational parameters
        for a Gaussian with that mean and diagonal standard deviation (or that
        Cholesky factor of the covariance, where the family can hold one).
    sample_fn : callable
        ``sample_fn(key, params, num) -> (num, d)`` reparameterised draws.
    entropy_fn : callable
        ``entropy_fn(params) -> scalar`` entropy of the Gaussian.
    mean_fn, std_fn, covariance_fn : callable
        Moments of the Gaussian from its parameters.
    """

    name: str
    init_fn: Callable
    sample_fn: Callable
    entropy_fn: Callable
    mean_fn: Callable
    std_fn: Callable
    covariance_fn: Callable


def trainable(params: dict) -> dict:
    """The parameters the optimiser moves: all but a fixed ``"frame"`` (see :func:`with_frame`)."""
    return {k: v for k, v in params.items() if k != "frame"}


def with_frame(family: GaussianFamily) -> GaussianFamily:
    """``family``, also understanding parameters given in a fixed affine frame.

    When ``params`` holds ``"frame": {"loc": m, "chol": L}`` the Gaussian is
    ``m + L u`` with ``u`` drawn from ``family`` under the other parameters:
    optimising in this whitened space (``m``, ``L`` the mode and Laplace
    Cholesky factor) makes a strongly correlated, badly scaled posterior look
    like a standard normal to the optimiser. The frame is never optimised.
    Without a ``"frame"`` entry every function is ``family``'s own (the check
    happens once, when tracing: no cost per step).
    """

    def sample_fn(key, params, num):
        frame = params.get("frame")
        if frame is None:
            return family.sample_fn(key, params, num)
        return frame["loc"] + family.sample_fn(key, trainable(params), num) @ frame["chol"].T

    def entropy_fn(params):
        frame = params.get("frame")
        if frame is None:
            return family.entropy_fn(params)
        return family.entropy_fn(trainable(params)) + jnp.sum(jnp.log(jnp.abs(jnp.diag(frame["chol"]))))

    def mean_fn(params):
        frame = params.get("frame")
        if frame is None:
            return family.mean_fn(params)
        return frame["loc"] + frame["chol"] @ family.mean_fn(trainable(params))

    def covariance_fn(params):
        frame = params.get("frame")
        if frame is None:
            return family.covariance_fn(params)
        return frame["chol"] @ family.covariance_fn(trainable(params)) @ frame["chol"].T

    def std_fn(params):
        if params.get("frame") is None:
            return family.std_fn(params)
        return jnp.sqrt(jnp.diag(covariance_fn(params)))

    return GaussianFamily(family.name, family.init_fn, sample_fn, entropy_fn, mean_fn, std_fn, covariance_fn)


def natural_params(params: dict) -> dict:
    """The parameters of the Gaussian itself, a frame folded in.

    For full-rank parameters in a frame (``init="map"``): the mean
    ``loc + L m`` and the Cholesky factor ``L C`` (lower-triangular, its
    diagonal as logarithms), the layout of an unframed full-rank fit. Other
    parameters are returned as they are.
    """
    frame = params.get("frame")
    if frame is None or set(params) != {"mean", "chol", "frame"}:
        return params
    cholesky = frame["chol"] @ _cholesky(params["chol"])
    raw = jnp.tril(cholesky, -1) + jnp.diag(jnp.log(jnp.diag(cholesky)))
    return {"mean": frame["loc"] + frame["chol"] @ params["mean"], "chol": raw}


def _inverse_softplus(x):
    return x + jnp.log(-jnp.expm1(-x))


def _gaussian_constant(dim: int, dtype) -> jax.Array:
    return jnp.asarray(0.5 * dim * (1.0 + LOG_2PI), dtype)


def meanfield() -> GaussianFamily:
    """Independent Gaussians: ``params = {"mean", "rho"}``, std = softplus(rho)."""

    def init_fn(mean, std, cholesky=None):
        if cholesky is not None:
            std = jnp.sqrt(jnp.sum(cholesky**2, axis=1))
        return {"mean": mean, "rho": _inverse_softplus(std)}

    def sample_fn(key, params, num):
        noise = jax.random.normal(key, (num,) + params["mean"].shape, params["mean"].dtype)
        return params["mean"] + jax.nn.softplus(params["rho"]) * noise

    def entropy_fn(params):
        std = jax.nn.softplus(params["rho"])
        return jnp.sum(jnp.log(std)) + _gaussian_constant(std.shape[-1], std.dtype)

    def std_fn(params):
        return jax.nn.softplus(params["rho"])

    return GaussianFamily("meanfield", init_fn, sample_fn, entropy_fn, lambda p: p["mean"], std_fn,
                          lambda p: jnp.diag(std_fn(p) ** 2))


def _cholesky(raw):
    return jnp.tril(raw, -1) + jnp.diag(jnp.exp(jnp.diag(raw)))


def fullrank() -> GaussianFamily:
    """A full covariance: ``params = {"mean", "chol"}``, the Cholesky factor with
    its diagonal stored as logarithms (so it stays positive)."""

    def init_fn(mean, std, cholesky=None):
        if cholesky is None:
            cholesky = jnp.diag(std)
        raw = jnp.tril(cholesky, -1) + jnp.diag(jnp.log(jnp.diag(cholesky)))
        return {"mean": mean, "chol": raw}

    def sample_fn(key, params, num):
        noise = jax.random.normal(key, (num,) + params["mean"].shape, params["mean"].dtype)
        return params["mean"] + noise @ _cholesky(params["chol"]).T

    def entropy_fn(params):
        raw = params["chol"]
        return jnp.sum(jnp.diag(raw)) + _gaussian_constant(raw.shape[0], raw.dtype)

    def covariance_fn(params):
        cholesky = _cholesky(params["chol"])
        return cholesky @ cholesky.T

    return GaussianFamily("fullrank", init_fn, sample_fn, entropy_fn, lambda p: p["mean"],
                          lambda p: jnp.sqrt(jnp.diag(covariance_fn(p))), covariance_fn)


def lowrank(rank: int) -> GaussianFamily:
    """Diagonal plus rank ``rank``: covariance ``diag(softplus(rho))**2 + F F^T``,
    ``params = {"mean", "rho", "factor"}``."""
    if int(rank) < 1:
        raise ValueError(f"rank must be a positive integer; got {rank}.")

    def init_fn(mean, std, cholesky=None):
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

    def sample_fn(key, params, num):
        mean, factor = params["mean"], params["factor"]
        key_diag, key_factor = jax.random.split(key)
        diag_noise = jax.random.normal(key_diag, (num,) + mean.shape, mean.dtype)
        factor_noise = jax.random.normal(key_factor, (num, factor.shape[1]), mean.dtype)
        return mean + jax.nn.softplus(params["rho"]) * diag_noise + factor_noise @ factor.T

    def entropy_fn(params):
        std = jax.nn.softplus(params["rho"])
        scaled = params["factor"] / std[:, None]
        capacitance = jnp.eye(scaled.shape[1], dtype=std.dtype) + scaled.T @ scaled
        _, logdet = jnp.linalg.slogdet(capacitance)
        return jnp.sum(jnp.log(std)) + 0.5 * logdet + _gaussian_constant(std.shape[0], std.dtype)

    def covariance_fn(params):
        std = jax.nn.softplus(params["rho"])
        return jnp.diag(std**2) + params["factor"] @ params["factor"].T

    return GaussianFamily(f"lowrank{int(rank)}", init_fn, sample_fn, entropy_fn, lambda p: p["mean"],
                          lambda p: jnp.sqrt(jnp.diag(covariance_fn(p))), covariance_fn)


FAMILIES = {
    "meanfield": lambda: with_frame(meanfield()),
    "fullrank": lambda: with_frame(fullrank()),
    "lowrank": lambda rank: with_frame(lowrank(rank)),
}


def family_from_name(name: str) -> GaussianFamily:
    """The family a name such as ``"meanfield"``, ``"fullrank"`` or ``"lowrank3"`` stands for."""
    if name in ("meanfield", "fullrank"):
        return FAMILIES[name]()
    if name.startswith("lowrank") and name[len("lowrank"):].isdigit():
        return FAMILIES["lowrank"](int(name[len("lowrank"):]))
    raise ValueError(f"unknown Gaussian family {name!r}; expected meanfield, fullrank or lowrank<k>.")


class ADVIState(NamedTuple):
    """State of an ADVI fit.

    Attributes
    ----------
    params : dict of Array
        The family's variational parameters.
    opt_state : optax.OptState
        The optimiser's state.
    step : Array
        Number of steps taken so far (int32); step ``s`` draws its noise from
        ``fold_in(key, s)``, so a fit continued later equals one long fit.
    """

    params: dict
    opt_state: Any
    step: jax.Array


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
    """``init(position, std=None, cholesky=None) -> ADVIState``;
    ``step(key, state, data) -> (ADVIState, ADVIInfo)``;
    ``loss(params, key, data) -> scalar``."""

    init: Callable
    step: Callable
    loss: Callable


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
    >>> from credo.inference.advi import advi, meanfield
    >>> algorithm = advi(lambda x, data: -0.5 * jnp.sum((x - data) ** 2), meanfield(), optax.adam(0.05))
    >>> state = algorithm.init(jnp.zeros(2))
    >>> state, info = algorithm.step(jax.random.key(0), state, jnp.ones(2))
    """
    if int(num_mc) < 1:
        raise ValueError(f"obj_n_mc must be a positive integer; got {num_mc}.")
    num_mc = int(num_mc)

    def loss(params, key, data):
        draws = family.sample_fn(key, params, num_mc)
        if num_mc == 1:
            expected_logdensity = logdensity_fn(draws[0], data)
        else:
            expected_logdensity = jnp.mean(jax.vmap(logdensity_fn, (0, None))(draws, data))
        return -(expected_logdensity + family.entropy_fn(params))

    def init(position, std=None, cholesky=None, whiten: bool = False) -> ADVIState:
        """The state of a Gaussian with mean ``position`` and diagonal ``std``
        (default softplus(0), as PyMC starts) or Cholesky factor ``cholesky``.

        With ``whiten=True`` the Gaussian is parameterised in the frame
        ``position + cholesky @ u`` (see :func:`with_frame`): the optimiser
        starts from ``u ~ N(0, I)`` and sees a well-conditioned problem.
        """
        position = jnp.asarray(position)
        if std is None:
            std = jnp.full_like(position, float(np.log(2.0)))  # softplus(0), as PyMC starts
        std = jnp.asarray(std, position.dtype)
        if whiten:
            frame_chol = jnp.diag(std) if cholesky is None else jnp.asarray(cholesky, position.dtype)
            params = family.init_fn(jnp.zeros_like(position), jnp.ones_like(position), None)
            params = dict(params, frame={"loc": position, "chol": frame_chol})
        else:
            params = family.init_fn(position, std, cholesky)
        return ADVIState(params, optimizer.init(trainable(params)), jnp.zeros((), jnp.int32))

    def step(key, state: ADVIState, data) -> tuple[ADVIState, ADVIInfo]:
        params = state.params
        if "frame" in params:  # decided when tracing: the frame is held fixed
            frame = params["frame"]
            free = trainable(params)
            value, grads = jax.value_and_grad(lambda p: loss(dict(p, frame=frame), key, data))(free)
            updates, opt_state = optimizer.update(grads, state.opt_state, free)
            new_params = dict(optax.apply_updates(free, updates), frame=frame)
        else:
            value, grads = jax.value_and_grad(loss)(params, key, data)
            updates, opt_state = optimizer.update(grads, state.opt_state, params)
            new_params = optax.apply_updates(params, updates)
        finite = jnp.isfinite(value)
        for leaf in jax.tree_util.tree_leaves(grads):
            finite = finite & jnp.all(jnp.isfinite(leaf))
        keep = lambda new, old: jnp.where(finite, new, old)  # noqa: E731
        new_state = ADVIState(
            jax.tree_util.tree_map(keep, new_params, params),
            jax.tree_util.tree_map(keep, opt_state, state.opt_state),
            state.step + finite.astype(jnp.int32),
        )
        return new_state, ADVIInfo(value, finite)

    return VariationalAlgorithm(init, step, loss)
