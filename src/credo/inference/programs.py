"""The compiled programs of the inference drivers, each named by a spec.

A spec is a frozen, hashable value holding everything a program depends on
besides its arguments; ``compiled.programs.get(spec, compiled)`` returns the
program, built by ``spec.build(compiled)`` the first time (see
:class:`credo.model.programs.ProgramCache`). Data are always arguments of
the programs, never constants in them: the data's shapes and dtypes
(``signature``) are part of each spec because they set the XLA options
(``credo._config.compiler_options``) and the shapes compiled for.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import optax

from ..data import batch_rows, minibatch_fn, streamed_rows_fn
from .advi import ADVIState, GaussianFamily, is_large, where_state
from .batching import batch_size, map_in_batches
from .map import laplace_fn, lbfgs_steps
from .mixture import Mixture
from .nuts import nuts_programs
from .optimizers import Optimizer
from .pathfinder import PathfinderNormals, pathfinder_fn

__all__ = [
    "ADVIInit", "ADVIChunk", "GaussianDraws", "ImportanceDraws", "Constrain", "Predictive", "PriorPredictive",
    "FiniteCheck", "LBFGS", "Laplace", "NUTS", "LogDensity", "LogLikelihood", "PathfinderRun", "StreamIndices",
    "MemberLosses",
]

#: Draws pushed through the model per compiled batch when constraining NUTS draws.
CONSTRAIN_BATCH = 1024


def _algorithm(compiled, family: GaussianFamily, optimizer: Optimizer, num_mc: int):
    return family.algorithm(compiled.logdensity_fn, optimizer.transformation, num_mc)


def _step(algorithm, key, state, data, alive):
    """One step of ``algorithm``: ``(state, info)``, its noise made by :func:`_noise` where it exposes it."""
    if algorithm.step_with_noise is None:
        return algorithm.step(key, state, data)
    return algorithm.step_with_noise(_noise(algorithm, key, state, alive), state, data)


def _noise(algorithm, key, state, alive):
    """The step's noise; for a state of :data:`~credo.inference.advi.CONDITIONAL_SIZE` parameters or more,
    made inside a conditional on ``alive`` (True wherever a step runs).

    Left to fusion, the noise (a few dozen operations per parameter to make
    a normal number from random bits) is recomputed in every fused kernel
    that reads the draw: three or four times per parameter in a network,
    the larger part of a step's work at 10^5-10^6 weights. The conditional's
    result is an array XLA makes once and the gradient reads. (An
    optimisation barrier does not do this on the CPU: XLA removes barriers
    before it fuses.) The step itself stays outside the conditional: inside
    one, the convolutions of a network of 6x10^4 weights ran a fifth slower.
    Smaller states skip the conditional, whose fixed cost is then larger
    than the noise's.
    """
    def make():
        return algorithm.noise(key, state)

    if not is_large(state):
        return make()
    shapes = jax.eval_shape(make)
    return jax.lax.cond(alive, make, lambda: jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes))


@dataclasses.dataclass(frozen=True)
class ADVIInit:
    """``init(position, std, cholesky) -> ADVIState``, as one compiled call."""

    family: GaussianFamily
    optimizer: Optimizer
    whiten: bool
    signature: tuple

    def build(self, compiled):
        init = _algorithm(compiled, self.family, self.optimizer, 1).init
        return compiled.jit(functools.partial(init, whiten=self.whiten), self.signature)


@dataclasses.dataclass(frozen=True)
class ADVIChunk:
    """``run(state, alive, key, data, num_active) -> (state, alive, losses)``: up to ``chunk_size`` ADVI steps.

    The program runs ``num_active`` steps (a traced argument, at most
    ``chunk_size``) as one ``lax.while_loop``, so one compiled program serves
    calls of any length: the driver sizes its calls by measured time
    (:func:`credo.inference.driver.run_chunks`). ``losses`` has
    ``chunk_size`` entries of which the first ``num_active`` are the steps'.
    Step ``s`` draws its noise from ``fold_in(key, s)``, so the result does not
    depend on how the steps are cut into calls. A non-finite loss or gradient
    leaves the state as it was and turns ``alive`` False; a single fit then
    stops at once. With ``multi`` the program runs several fits at once
    (``jax.vmap`` over their states, flags and keys). The minibatch ``batch``
    groups, if any, slice the data once per step; the arrays named in
    ``streamed`` arrive as blocks of ``chunk_size`` batches read by the host
    (step ``i`` of the call reads batch ``i``; see :mod:`credo.inference.streaming`).
    """

    family: GaussianFamily
    optimizer: Optimizer
    num_mc: int
    chunk_size: int
    batch: tuple
    signature: tuple
    multi: bool = False
    streamed: tuple = ()

    def build(self, compiled):
        algorithm = _algorithm(compiled, self.family, self.optimizer, self.num_mc)
        batch_fn = minibatch_fn(self.batch, self.signature, self.streamed)
        chunk_size = self.chunk_size

        def run_chunk(state: ADVIState, alive, key, data, num_active):
            dtype = jnp.result_type(jax.tree_util.tree_leaves(state.params)[0])

            def keep_going(carry):
                index, _, alive, _ = carry
                return (index < num_active) & alive

            def body(carry):
                index, state, alive, losses = carry
                step_key = jax.random.fold_in(key, state.step)
                step_data = batch_fn(step_key, data, index) if batch_fn is not None else data
                new_state, info = _step(algorithm, step_key, state, step_data, alive)
                if algorithm.step_with_noise is None:  # a method whose step does not keep a failed step out
                    new_state = where_state(info.finite, lambda _: new_state, state)
                losses = jax.lax.dynamic_update_index_in_dim(losses, info.loss.astype(dtype), index, 0)
                return index + 1, new_state, alive & info.finite, losses

            carry = (jnp.zeros((), jnp.int32), state, alive, jnp.full(chunk_size, jnp.nan, dtype))
            _, state, alive, losses = jax.lax.while_loop(keep_going, body, carry)
            return state, alive, losses

        if self.multi:
            run_chunk = jax.vmap(run_chunk, in_axes=(0, 0, 0, None, None))
        return compiled.jit(run_chunk, self.signature, batch_rows(self.batch))


@dataclasses.dataclass(frozen=True)
class StreamIndices:
    """``run(key, steps) -> {first name: (len(steps), batch_size)}``: the rows the streamed minibatch groups draw
    at each of ``steps`` (see ``credo.data.streamed_rows_fn``), for the host to read."""

    batch: tuple
    streamed: tuple
    rows: tuple  # ((first name, rows), ...)

    def build(self, compiled):
        return jax.jit(streamed_rows_fn(self.batch, self.streamed, dict(self.rows)))


@dataclasses.dataclass(frozen=True)
class GaussianDraws:
    """``run(key, state, data, num) -> {name: (num, ...)}``: constrained draws of an approximation and
    the deterministics (``num`` static)."""

    family: GaussianFamily
    signature: tuple

    def build(self, compiled):
        family = self.family

        def run(key, state, data, num):
            flat = family.draw(key, state, num)
            return map_in_batches(lambda z: compiled.constrain_fn(z, data), flat, batch_size(data, num))

        return compiled.jit(run, self.signature, static_argnums=3)


@dataclasses.dataclass(frozen=True)
class ImportanceDraws:
    """``run(key, state, data, num) -> (flat, log_p, log_q)``: ``num`` draws of an approximation on the flat
    unconstrained space, the model's log density at each (Jacobians included) and the approximation's
    (``num`` static). One program per model, method and data shapes: what the importance diagnostics use."""

    family: GaussianFamily
    signature: tuple

    def build(self, compiled):
        family = self.family

        def run(key, state, data, num):
            flat, log_q = family.draw_and_log_prob(key, state, num)
            log_p = map_in_batches(lambda z: compiled.logdensity_fn(z, data), flat, batch_size(data, num))
            return flat, log_p, log_q

        return compiled.jit(run, self.signature, static_argnums=3)


@dataclasses.dataclass(frozen=True)
class Constrain:
    """``run(flat, data) -> {name: (n, ...)}``: constrained values of ``(n, d)`` flat positions, in batches."""

    signature: tuple
    batched: bool = True

    def build(self, compiled):
        if not self.batched:
            return compiled.jit(compiled.constrain_fn, self.signature)

        def run(flat, data):
            return jax.lax.map(lambda z: compiled.constrain_fn(z, data), flat, batch_size=CONSTRAIN_BATCH)

        return compiled.jit(run, self.signature)


@dataclasses.dataclass(frozen=True)
class Predictive:
    """``run(key, free_values, data, size) -> {name: (n, ...)}``: one draw of ``names`` per posterior draw,
    each with its own key from ``split(key)``, in batches of ``size`` draws (static)."""

    names: tuple
    signature: tuple

    def build(self, compiled):
        names = self.names

        def run(key, free_values, data, size):
            def one(args):
                draw_key, values = args
                out = compiled.forward_sample_fn(draw_key, values, data)
                return {name: out[name] for name in names}

            num = jax.tree_util.tree_leaves(free_values)[0].shape[0]
            return map_in_batches(one, (jax.random.split(key, num), free_values), size)

        return compiled.jit(run, self.signature, static_argnums=3)


@dataclasses.dataclass(frozen=True)
class LogLikelihood:
    """``run(free_values, data, size) -> {name: (n, ...)}``: the pointwise log-likelihood of the observed
    ``names`` at ``n`` constrained draws, in batches of ``size`` draws (static)."""

    names: tuple
    signature: tuple

    def build(self, compiled):
        names = self.names

        def fn(free_values, data):
            return compiled.log_likelihood_fn(free_values, data, names)

        def run(free_values, data, size):
            return map_in_batches(lambda values: fn(values, data), free_values, size)

        return compiled.jit(run, self.signature, static_argnums=2)


@dataclasses.dataclass(frozen=True)
class PriorPredictive:
    """``run(keys, data) -> {name: (n, ...)}``: one ancestral draw of every variable per key."""

    signature: tuple

    def build(self, compiled):
        return compiled.jit(jax.vmap(compiled.prior_sample_fn, (0, None)), self.signature)


@dataclasses.dataclass(frozen=True)
class FiniteCheck:
    """``run(positions, data) -> (n,) bool``: whether the log density and its gradient are finite."""

    signature: tuple

    def build(self, compiled):
        def finite(positions, data):
            value, grad = jax.vmap(jax.value_and_grad(compiled.logdensity_fn), (0, None))(positions, data)
            return jnp.isfinite(value) & jnp.all(jnp.isfinite(grad), axis=-1)

        return compiled.jit(finite, self.signature)


@dataclasses.dataclass(frozen=True)
class LBFGS:
    """L-BFGS to the mode in calls of bounded length (any ``maxiter``): :class:`~credo.inference.map.LBFGSSteps`."""

    signature: tuple

    def build(self, compiled):
        return lbfgs_steps(compiled.logdensity_fn, jit=lambda fn: compiled.jit(fn, self.signature))


@dataclasses.dataclass(frozen=True)
class Laplace:
    """``run(position, data) -> (covariance, its Cholesky factor, the precision's, the precision)`` at a mode."""

    signature: tuple

    def build(self, compiled):
        return compiled.jit(laplace_fn(compiled.logdensity_fn), self.signature)


@dataclasses.dataclass(frozen=True)
class NUTS:
    """The compiled pieces of a NUTS run (see :func:`credo.inference.nuts.nuts_programs`)."""

    num_warmup: int
    target_accept: float
    max_tree_depth: int
    signature: tuple

    def build(self, compiled):
        return nuts_programs(compiled.logdensity_fn, num_warmup=self.num_warmup, target_accept=self.target_accept,
                             max_tree_depth=self.max_tree_depth,
                             jit=lambda fn, **kwargs: compiled.jit(fn, self.signature, **kwargs))


@dataclasses.dataclass(frozen=True)
class LogDensity:
    """``run(position, data) -> scalar``: the model's log density at one flat position."""

    signature: tuple

    def build(self, compiled):
        return compiled.jit(compiled.logdensity_fn, self.signature)


@dataclasses.dataclass(frozen=True)
class PathfinderRun:
    """``run(key, initial_positions, data) -> PathfinderResult``: every path of Pathfinder in one call
    (see :mod:`credo.inference.pathfinder`)."""

    method: PathfinderNormals
    signature: tuple

    def build(self, compiled):
        return compiled.jit(pathfinder_fn(compiled.logdensity_fn, self.method), self.signature)


@dataclasses.dataclass(frozen=True)
class MemberLosses:
    """``run(state, key, data) -> (size,)``: each member's negative ELBO of a mixture, the mean of
    ``num_draws`` one-draw estimates (a ``lax.map``, so memory stays that of one draw per member)."""

    family: Mixture
    num_draws: int
    signature: tuple

    def build(self, compiled):
        family = self.family
        member = family.member.algorithm(compiled.logdensity_fn, optax.identity(), 1)
        num = self.num_draws

        def run(state, key, data):
            losses = jax.lax.map(lambda k: family.member_losses(member, state, k, data), jax.random.split(key, num))
            return jnp.mean(losses, axis=0)

        return compiled.jit(run, self.signature)
