"""Normalizing-flow variational inference: a full-rank Gaussian pushed through invertible layers.

A draw is ``x = T(m + C z)`` with ``z ~ N(0, I)``: the Gaussian base
(mean ``m``, Cholesky factor ``C``) followed by the flow ``T``, a stack of
layers named by a formula such as ``"planar*8"`` or ``"realnvp*2-planar*4"``
(layers joined by ``-``, ``*k`` repeating a layer ``k`` times):

``planar``
    ``y = x + u tanh(w.x + b)`` (Rezende and Mohamed 2015), with ``u``
    constrained so the layer stays invertible.
``realnvp``
    Affine coupling (Dinh, Sohl-Dickstein and Bengio 2017): half of the
    coordinates scale and shift the other half through a small network,
    with a random permutation between layers.
``iaf``
    Inverse autoregressive flow (Kingma et al. 2016): each coordinate is
    scaled and shifted by a masked network of the ones before it.

``log q(x) = log N(m + C z) - log|det dT|``, and the fit maximises the
Monte Carlo ELBO ``E[log p(x) - log q(x)]`` over the base and the layers,
whose entropy term is thus the Monte Carlo estimate ``-E[log q]``. As for
full-rank ADVI, a fit started at the mode (``init="map"``, the default)
runs in the frame whitened by the Laplace curvature: the flow acts on
``u`` and ``x = mode + L u``, so the layers see a standard-normal-like
target.

The layers are flowjax's (``flowjax.flows.planar_flow``, ``coupling_flow``
with an affine transformer, ``masked_autoregressive_flow`` run in its fast
sampling direction), an optional dependency (``pip install credo[flows]``):
numpyro's flows have no planar or coupling layer and distrax pulls in
TensorFlow Probability. The layers' structure (and their non-trainable
permutations) is built from a fixed key, so equal options and dimension
give the same layout, and their trainable arrays are the state's
parameters ``flow.0``, ``flow.1``, ... next to the base's ``mean`` and
``chol``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import re
from typing import Callable, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..errors import FitError
from .advi import LOG_2PI, ADVIInfo, ADVIState, Frame, VariationalAlgorithm, _cholesky, _raw_cholesky
from .method import VariationalMethod, monte_carlo_moments

__all__ = ["NormalizingFlow", "flow_vi", "FLOW_LAYERS", "parse_flow"]

#: Layer names a flow formula may use.
FLOW_LAYERS = ("planar", "realnvp", "iaf")
#: The key the layers' structure and starting values are built from.
STRUCTURE_SEED = 0


def parse_flow(formula: str) -> tuple[tuple[str, int], ...]:
    """``"realnvp*2-planar*4"`` -> ``(("realnvp", 2), ("planar", 4))``, checked.

    Examples
    --------
    >>> parse_flow("planar*8")
    (('planar', 8),)
    """
    if not isinstance(formula, str) or not formula.strip():
        raise FitError(f"flow must be a formula such as 'planar*8' or 'realnvp*2-planar*4'; got {formula!r}.")
    groups = []
    for part in formula.replace(" ", "").lower().split("-"):
        match = re.fullmatch(r"([a-z]+)(?:\*(\d+))?", part)
        if match is None or match.group(1) not in FLOW_LAYERS or (match.group(2) and int(match.group(2)) < 1):
            raise FitError(f"flow {formula!r}: cannot read {part!r}; layers are {', '.join(FLOW_LAYERS)}, each "
                           "optionally repeated as name*k, joined by '-'.")
        groups.append((match.group(1), int(match.group(2) or 1)))
    return tuple(groups)


def _flowjax():
    try:
        import equinox
        import flowjax.bijections
        import flowjax.distributions
        import flowjax.flows
        import paramax
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise FitError(f"method='nfvi' needs flowjax ({error}); install it with `pip install credo[flows]`.") from None
    return flowjax, equinox, paramax


#: Each layer kind's flowjax flow, ``build(flowjax, key, base, layers, nn_width)``, in its fast sampling direction.
_LAYERS = {
    "planar": lambda flowjax, key, base, layers, width: flowjax.flows.planar_flow(
        key, base_dist=base, flow_layers=layers, invert=False),
    "realnvp": lambda flowjax, key, base, layers, width: flowjax.flows.coupling_flow(
        key, base_dist=base, flow_layers=layers, nn_width=width, invert=False),
    "iaf": lambda flowjax, key, base, layers, width: flowjax.flows.masked_autoregressive_flow(
        key, base_dist=base, flow_layers=layers, nn_width=width, invert=False),
}


@functools.lru_cache(maxsize=32)
def _structure(groups: tuple, nn_width: int, dim: int, dtype: str):
    """The flow's static part, the tree of its trainable arrays and their starting values.

    Built in a helper thread: the first use is usually inside a program being
    traced, and flowjax's constructors (their runtime checks) must run
    eagerly; JAX's tracing state is per thread.
    """
    if dim < 2 and any(kind != "planar" for kind, _ in groups):
        raise FitError("realnvp and iaf layers need at least 2 parameters; use planar layers for a 1-parameter model.")
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_build_structure, groups, nn_width, dim, dtype).result()


def _build_structure(groups: tuple, nn_width: int, dim: int, dtype: str):
    flowjax, equinox, paramax = _flowjax()
    base = flowjax.distributions.Normal(jnp.zeros(dim, dtype))
    key = jax.random.key(STRUCTURE_SEED)
    bijections = []
    for index, (kind, layers) in enumerate(groups):
        flow = _LAYERS[kind](flowjax, jax.random.fold_in(key, index), base, layers, nn_width)
        bijections.append(flow.bijection)
    bijection = bijections[0] if len(bijections) == 1 else flowjax.bijections.Chain(bijections)
    is_leaf = lambda leaf: isinstance(leaf, paramax.NonTrainable)  # noqa: E731
    trainable, static = equinox.partition(bijection, equinox.is_inexact_array, is_leaf=is_leaf)
    leaves, treedef = jax.tree_util.tree_flatten(trainable)
    leaves = tuple(np.asarray(leaf, dtype) for leaf in leaves)
    return static, treedef, leaves


@dataclasses.dataclass(frozen=True)
class NormalizingFlow(VariationalMethod):
    """A full-rank Gaussian base followed by flow layers (a frozen, hashable spec; see the module doc).

    Options:

    flow : str
        The layers, e.g. ``"planar*8"`` (default), ``"realnvp*4"``,
        ``"iaf*2"``, ``"realnvp*2-planar*4"``.
    nn_width : int
        Hidden units of the networks of the coupling and autoregressive layers.
    """

    flow: str = "planar*8"
    nn_width: int = 32
    name: ClassVar[str] = "nfvi"
    default_init: ClassVar[str] = "map"
    whiten_at_map: ClassVar[bool] = True

    def __post_init__(self):
        parse_flow(self.flow)
        if isinstance(self.nn_width, bool) or not isinstance(self.nn_width, (int, np.integer)) or self.nn_width < 1:
            raise FitError(f"nn_width must be a positive integer; got {self.nn_width!r}.")

    # --- the flow -----------------------------------------------------------------------------
    def _parts(self, dim: int, dtype):
        return _structure(parse_flow(self.flow), int(self.nn_width), int(dim), str(jnp.dtype(dtype)))

    def bijection(self, params: dict):
        """The flowjax bijection with the trainable arrays of ``params``."""
        _, equinox, _ = _flowjax()
        mean = params["mean"]
        static, treedef, leaves = self._parts(mean.shape[-1], mean.dtype)
        trainable = jax.tree_util.tree_unflatten(treedef, [params[f"flow.{i}"] for i in range(len(leaves))])
        return equinox.combine(trainable, static)

    def init_params(self, mean, cholesky) -> dict:
        _, _, leaves = self._parts(mean.shape[-1], mean.dtype)
        params = {"mean": mean, "chol": _raw_cholesky(cholesky)}
        params.update({f"flow.{i}": jnp.asarray(leaf) for i, leaf in enumerate(leaves)})
        return params

    def forward(self, params: dict, noise: jax.Array):
        """Draws ``T(m + C z)`` for the rows ``z`` of ``noise`` and ``log q`` at each (in the frame's space)."""
        cholesky = _cholesky(params["chol"])
        base = params["mean"] + noise @ cholesky.T
        log_base = (-0.5 * jnp.sum(noise**2, axis=-1) - jnp.sum(jnp.log(jnp.diag(cholesky)))
                    - 0.5 * noise.shape[-1] * LOG_2PI)
        draws, log_det = jax.vmap(self.bijection(params).transform_and_log_det)(base)
        return draws, log_base - log_det

    # --- the method interface -----------------------------------------------------------------
    def algorithm(self, logdensity_fn, optimizer, num_mc) -> VariationalAlgorithm:
        return flow_vi(logdensity_fn, self, optimizer, num_mc)

    def draw_and_log_prob(self, key, state, num: int):
        mean = state.params["mean"]
        noise = jax.random.normal(key, (num,) + mean.shape, mean.dtype)
        draws, log_q = self.forward(state.params, noise)
        frame = state.frame
        if frame is None:
            return draws, log_q
        return frame.loc + draws @ frame.chol.T, log_q - jnp.sum(jnp.log(jnp.abs(jnp.diag(frame.chol))))

    def draw(self, key, state, num: int):
        return self.draw_and_log_prob(key, state, num)[0]

    def state_log_prob(self, state, x):
        frame = state.frame
        correction = 0.0
        if frame is not None:
            x = jnp.moveaxis(jax.scipy.linalg.solve_triangular(frame.chol, jnp.moveaxis(x - frame.loc, -1, 0),
                                                               lower=True), 0, -1)
            correction = jnp.sum(jnp.log(jnp.abs(jnp.diag(frame.chol))))
        try:
            base, log_det = jax.vmap(self.bijection(state.params).inverse_and_log_det)(x.reshape(-1, x.shape[-1]))
        except NotImplementedError:
            raise FitError(f"the flow {self.flow!r} cannot be inverted in closed form, so log q at given points is "
                           "not available (its draws carry their log q: see draw_and_log_prob).") from None
        cholesky = _cholesky(state.params["chol"])
        noise = jax.scipy.linalg.solve_triangular(cholesky, (base - state.params["mean"]).T, lower=True).T
        log_base = (-0.5 * jnp.sum(noise**2, axis=-1) - jnp.sum(jnp.log(jnp.diag(cholesky)))
                    - 0.5 * x.shape[-1] * LOG_2PI)
        return (log_base + log_det - correction).reshape(x.shape[:-1])

    def state_mean(self, state):
        return monte_carlo_moments(self, state)[0]

    def state_covariance(self, state):
        return monte_carlo_moments(self, state)[1]


def flow_vi(logdensity_fn: Callable, method: NormalizingFlow, optimizer: optax.GradientTransformation,
            num_mc: int = 1) -> VariationalAlgorithm:
    """``init`` / ``step`` / ``loss`` of normalizing-flow VI (the Monte Carlo negative ELBO, see the module doc)."""
    if isinstance(num_mc, bool) or not isinstance(num_mc, (int, np.integer)) or num_mc < 1:
        raise FitError(f"num_mc must be a positive integer; got {num_mc!r}.")
    num_mc = int(num_mc)

    def objective(params, frame, key, data):
        state = ADVIState(params, None, jnp.zeros((), jnp.int32), frame)
        draws, log_q = method.draw_and_log_prob(key, state, num_mc)
        log_p = jax.vmap(logdensity_fn, (0, None))(draws, data)
        return jnp.mean(log_q - log_p)

    def init(position, std=None, cholesky=None, whiten: bool = False, key=None) -> ADVIState:
        del key  # the layers start from their fixed structure key
        position = jnp.asarray(position)
        if std is None:
            std = jnp.full_like(position, float(np.log(2.0)))
        std = jnp.asarray(std, position.dtype)
        cholesky = jnp.diag(std) if cholesky is None else jnp.asarray(cholesky, position.dtype)
        frame = None
        if whiten:
            frame = Frame(position, cholesky)
            params = method.init_params(jnp.zeros_like(position), jnp.eye(position.shape[0], dtype=position.dtype))
        else:
            params = method.init_params(position, cholesky)
        return ADVIState(params, optimizer.init(params), jnp.zeros((), jnp.int32), frame)

    def step(key, state: ADVIState, data):
        value, grads = jax.value_and_grad(objective)(state.params, state.frame, key, data)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        finite = jnp.isfinite(value)
        for leaf in jax.tree_util.tree_leaves(grads):
            finite = finite & jnp.all(jnp.isfinite(leaf))
        keep = lambda new, old: jnp.where(finite, new, old)  # noqa: E731
        new_state = ADVIState(jax.tree_util.tree_map(keep, params, state.params),
                              jax.tree_util.tree_map(keep, opt_state, state.opt_state),
                              state.step + finite.astype(jnp.int32), state.frame)
        return new_state, ADVIInfo(value, finite)

    def loss(state: ADVIState, key, data):
        return objective(state.params, state.frame, key, data)

    return VariationalAlgorithm(init, step, loss)
