"""The No-U-Turn Sampler on a flat log density.

The model layer compiles a model to ``logdensity_fn(position, data)``, where
``position`` is a flat 1-D array of every unconstrained parameter and ``data``
a pytree of arrays.  :func:`run_nuts` samples that density with several chains
at once: each chain adapts its own step size and diagonal mass matrix (Stan's
window adaptation), then draws with NUTS.  The NUTS kernel and the window
adaptation are BlackJAX's; this module only arranges them over chains and
over compiled chunks of steps.

``data`` always travels as an argument of the compiled functions, so a new
data set of the same shapes reuses the compiled code and is never baked into
it as a constant.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import FitError, SamplingInterrupted
from .driver import CallSizer, InterruptFlag, wait_interruptibly

__all__ = ["NUTSParameters", "NUTSPrograms", "NUTSProgress", "nuts_programs", "run_nuts", "hmc_states", "STAT_NAMES"]

#: Number of sampling steps compiled into one ``lax.scan``; ``progress_fn`` is
#: called after each chunk.
SAMPLING_CHUNK_SIZE = 100

#: Names of the per-draw statistics returned by :func:`run_nuts`.
STAT_NAMES = (
    "diverging",
    "energy",
    "tree_depth",
    "acceptance_rate",
    "step_size",
    "lp",
    "n_steps",
)

LogDensityFn = Callable[[jax.Array, Any], jax.Array]
ProgressFn = Callable[[str, int, int], None]


class NUTSParameters(NamedTuple):
    """Tuned NUTS parameters, one row per chain.

    Attributes
    ----------
    step_size : Array, shape (chains,)
        Integrator step size of each chain.
    inverse_mass_matrix : Array, shape (chains, d)
        Diagonal of each chain's inverse mass matrix.
    """

    step_size: jax.Array
    inverse_mass_matrix: jax.Array


# ---------------------------------------------------------------------------
# The pieces, compiled by :func:`nuts_programs`.  ``data`` is a traced
# argument, bound to the log density inside the trace.  BlackJAX is imported
# when they are traced, so that importing credo does not import it.
# ---------------------------------------------------------------------------


def _warmup(
    keys: jax.Array,
    initial_positions: jax.Array,
    data: Any,
    *,
    logdensity_fn: LogDensityFn,
    num_warmup: int,
    target_accept: float,
    max_tree_depth: int,
) -> tuple[Any, NUTSParameters]:
    """Window adaptation of every chain, as one compiled call."""
    import blackjax
    from blackjax.adaptation.base import get_filter_adapt_info_fn

    bound_logdensity_fn = lambda position: logdensity_fn(position, data)
    adaptation = blackjax.window_adaptation(
        blackjax.nuts,
        bound_logdensity_fn,
        is_mass_matrix_diagonal=True,
        target_acceptance_rate=target_accept,
        # Keep no per-step warm-up trace: only the final state is used.
        adaptation_info_fn=get_filter_adapt_info_fn(),
        max_num_doublings=max_tree_depth,
    )

    def adapt_one_chain(key: jax.Array, position: jax.Array):
        (state, parameters), _ = adaptation.run(key, position, num_steps=num_warmup)
        return state, NUTSParameters(
            parameters["step_size"], parameters["inverse_mass_matrix"]
        )

    return jax.vmap(adapt_one_chain)(keys, initial_positions)


def _initial_states(initial_positions: jax.Array, data: Any, *, logdensity_fn: LogDensityFn):
    """NUTS states at the initial positions (used when there is no warm-up)."""
    import blackjax

    bound_logdensity_fn = lambda position: logdensity_fn(position, data)
    return jax.vmap(lambda position: blackjax.nuts.init(position, bound_logdensity_fn))(
        initial_positions
    )


def _sample_chunk(
    chain_keys: jax.Array,
    states: Any,
    parameters: NUTSParameters,
    first_step: jax.Array,
    num_steps: jax.Array,
    data: Any,
    *,
    logdensity_fn: LogDensityFn,
    capacity: int,
    max_tree_depth: int,
) -> tuple[Any, jax.Array, dict[str, jax.Array]]:
    """``num_steps`` (traced, at most ``capacity``) NUTS transitions of every chain in one compiled loop.

    The key of step ``t`` of a chain is ``fold_in(chain_key, t)``, with ``t``
    counted from the start of sampling, so the draws do not depend on how the
    run is cut into calls. The outputs have ``capacity`` entries per chain, of
    which the first ``num_steps`` are the draws.
    """
    import blackjax

    bound_logdensity_fn = lambda position: logdensity_fn(position, data)
    kernel = blackjax.nuts.build_kernel()

    def sample_one_chain(
        chain_key: jax.Array,
        state: Any,
        step_size: jax.Array,
        inverse_mass_matrix: jax.Array,
    ):
        def one_step(state: Any, step_index: jax.Array):
            key = jax.random.fold_in(chain_key, step_index)
            state, info = kernel(
                key,
                state,
                bound_logdensity_fn,
                step_size,
                inverse_mass_matrix,
                max_num_doublings=max_tree_depth,
            )
            stats = {
                "diverging": info.is_divergent,
                "energy": info.energy,
                "tree_depth": info.num_trajectory_expansions,
                "acceptance_rate": info.acceptance_rate,
                "step_size": jnp.broadcast_to(step_size, info.energy.shape),
                "lp": state.logdensity,
                "n_steps": info.num_integration_steps,
            }
            return state, (state.position, stats)

        outputs = jax.eval_shape(lambda s: one_step(s, first_step)[1], state)
        buffers = jax.tree_util.tree_map(lambda leaf: jnp.zeros((capacity,) + leaf.shape, leaf.dtype), outputs)

        def body(index, carry):
            state, buffers = carry
            state, output = one_step(state, first_step + index)
            buffers = jax.tree_util.tree_map(
                lambda buffer, value: jax.lax.dynamic_update_index_in_dim(buffer, value, index, 0), buffers, output)
            return state, buffers

        state, (positions, stats) = jax.lax.fori_loop(0, num_steps, body, (state, buffers))
        return state, (positions, stats)

    states, (positions, stats) = jax.vmap(sample_one_chain)(
        chain_keys, states, parameters.step_size, parameters.inverse_mass_matrix
    )
    return states, positions, stats


class NUTSProgress(NamedTuple):
    """Where a NUTS run stands after tuning: enough to continue it exactly.

    Attributes
    ----------
    states : blackjax HMCState
        Each chain's state (position, logdensity, logdensity_grad), stacked.
    parameters : NUTSParameters
        The tuned step sizes and inverse mass matrices.
    positions : numpy.ndarray, shape (chains, k, d)
        The ``k`` draws kept so far.
    stats : dict of numpy.ndarray, each (chains, k)
    """

    states: Any
    parameters: NUTSParameters
    positions: np.ndarray
    stats: dict


def hmc_states(position, logdensity, logdensity_grad):
    """BlackJAX's HMC state of every chain from its three arrays (to continue a saved run)."""
    from blackjax.mcmc.hmc import HMCState

    return HMCState(jnp.asarray(position), jnp.asarray(logdensity), jnp.asarray(logdensity_grad))


class NUTSPrograms(NamedTuple):
    """The compiled pieces :func:`run_nuts` calls (see :func:`nuts_programs`).

    Attributes
    ----------
    warmup : callable
        ``warmup(keys, initial_positions, data) -> (states, NUTSParameters)``.
    initial_states : callable
        ``initial_states(initial_positions, data) -> states`` (no warm-up).
    sample_chunk : callable
        ``sample_chunk(chain_keys, states, parameters, first_step, num_steps,
        data) -> (states, positions, stats)``: up to ``SAMPLING_CHUNK_SIZE``
        steps (``num_steps`` traced: one program serves calls of any length).
    """

    warmup: Callable
    initial_states: Callable
    sample_chunk: Callable


def nuts_programs(
    logdensity_fn: LogDensityFn,
    *,
    num_warmup: int,
    target_accept: float = 0.8,
    max_tree_depth: int = 10,
    jit: Callable = jax.jit,
) -> NUTSPrograms:
    """The pieces of a NUTS run on ``logdensity_fn``, each compiled with ``jit(fn, **kwargs)``.

    Model drivers pass a ``jit`` that applies the model's XLA options and
    keep the programs in the model's program cache.
    """
    return NUTSPrograms(
        jit(functools.partial(_warmup, logdensity_fn=logdensity_fn, num_warmup=int(num_warmup),
                              target_accept=float(target_accept), max_tree_depth=int(max_tree_depth))),
        jit(functools.partial(_initial_states, logdensity_fn=logdensity_fn)),
        jit(functools.partial(_sample_chunk, logdensity_fn=logdensity_fn, capacity=SAMPLING_CHUNK_SIZE,
                              max_tree_depth=int(max_tree_depth))),
    )


# ---------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------


def run_nuts(
    key: jax.Array,
    logdensity_fn: LogDensityFn,
    initial_positions: jax.Array,
    data: Any,
    *,
    num_warmup: int = 1000,
    num_draws: int = 1000,
    target_accept: float = 0.8,
    max_tree_depth: int = 10,
    progress_fn: ProgressFn | None = None,
    programs: NUTSPrograms | None = None,
    interrupt: InterruptFlag | None = None,
    resume: NUTSProgress | None = None,
    checkpoint_fn: Callable[[Callable[[], NUTSProgress], bool], None] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Draw from a flat log density with NUTS, several chains at once.

    Each chain first runs Stan's window adaptation of its own step size and
    diagonal inverse mass matrix (``num_warmup`` steps, discarded), then
    ``num_draws`` NUTS transitions with those parameters fixed.  The chains
    run together under ``jax.vmap``.

    Parameters
    ----------
    key : jax.Array
        PRNG key.
    logdensity_fn : callable
        ``logdensity_fn(position, data) -> scalar``: the log density (up to a
        constant) of a flat 1-D unconstrained position.
    initial_positions : array, shape (chains, d)
        Starting point of each chain.  Its floating dtype sets the dtype of
        the run (float64 needs ``jax_enable_x64``).
    data : pytree of arrays
        Passed to ``logdensity_fn`` unchanged; an argument of the compiled
        code, so new values of the same shapes do not recompile.
    num_warmup : int, default 1000
        Adaptation steps per chain.  With 0, NUTS runs with step size 1 and
        an identity mass matrix.
    num_draws : int, default 1000
        Draws kept per chain.
    target_accept : float, default 0.8
        Mean acceptance probability the step size adaptation aims at; raise
        it (0.9, 0.95) to remove divergences in difficult geometry.
    max_tree_depth : int, default 10
        Largest number of trajectory doublings, i.e. at most
        ``2**max_tree_depth - 1`` leapfrog steps per draw.
    progress_fn : callable, optional
        ``progress_fn(phase, num_done, num_total)`` with ``phase`` one of
        ``"warmup"`` and ``"sampling"``.  Called with ``num_done=0`` before
        each phase and after each compiled chunk, ending with
        ``num_done == num_total``.
    programs : NUTSPrograms, optional
        The compiled pieces (:func:`nuts_programs` with the same settings), to
        reuse across calls; compiled afresh when not given.
    interrupt : InterruptFlag, optional
        Set by Ctrl-C (see :class:`credo.inference.driver.InterruptFlag`):
        sampling stops after the running call (sized to about a quarter of a
        second) and the draws so far are returned (fewer than ``num_draws``);
        during warm-up :class:`~credo.errors.SamplingInterrupted` is raised at
        once (the warm-up computation is abandoned).
    resume : NUTSProgress, optional
        Continue a run from where it stood (no warm-up): the draws equal those
        of the uninterrupted run.
    checkpoint_fn : callable, optional
        ``checkpoint_fn(progress, final)`` after the warm-up (``final`` True),
        after every sampling call and at the end (``final`` True), with
        ``progress()`` building the :class:`NUTSProgress` so far.

    Returns
    -------
    positions : numpy.ndarray, shape (chains, num_draws, d)
        The draws.
    stats : dict of numpy.ndarray, each of shape (chains, num_draws)
        Per-draw statistics: ``diverging`` (bool), ``energy`` (Hamiltonian),
        ``tree_depth`` (trajectory doublings), ``acceptance_rate``,
        ``step_size``, ``lp`` (log density of the draw) and ``n_steps``
        (leapfrog steps).

    Notes
    -----
    Warm-up runs as one compiled call: BlackJAX's window adaptation scans
    its whole schedule internally and does not expose a resumable state, so
    ``progress_fn`` only sees its start and end.  Sampling is cut into
    compiled calls of at most ``SAMPLING_CHUNK_SIZE`` steps, sized by
    measured time (about a quarter of a second each, one program for every
    length), with ``progress_fn`` called between them.  The draws do not
    depend on how they are cut.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> def logdensity_fn(position, data):
    ...     return -0.5 * jnp.sum((position - data["mean"]) ** 2)
    >>> positions, stats = run_nuts(
    ...     jax.random.key(0), logdensity_fn, jnp.zeros((2, 3)),
    ...     {"mean": jnp.ones(3)}, num_warmup=200, num_draws=200)
    >>> positions.shape, stats["diverging"].shape
    ((2, 200, 3), (2, 200))
    """
    initial_positions = _checked_positions(initial_positions, num_warmup, num_draws, target_accept, max_tree_depth)
    num_chains = initial_positions.shape[0]
    if programs is None:
        programs = nuts_programs(logdensity_fn, num_warmup=num_warmup, target_accept=target_accept,
                                 max_tree_depth=max_tree_depth)
    report = progress_fn if progress_fn is not None else (lambda *args: None)
    checkpoint = checkpoint_fn if checkpoint_fn is not None else (lambda progress, final: None)
    interrupt = interrupt if interrupt is not None else InterruptFlag()
    warmup_key, sampling_key = jax.random.split(key)

    report("warmup", 0, num_warmup)
    states, parameters = _tune(programs, warmup_key, initial_positions, data, num_warmup, resume, interrupt)
    report("warmup", num_warmup, num_warmup)

    # --- Sampling: compiled calls sized by time, progress reported in between. ---
    chain_keys = jax.random.split(sampling_key, num_chains)
    draws = _Draws(initial_positions.shape, np.dtype(initial_positions.dtype), resume)
    progress = lambda: draws.progress(states, parameters)  # noqa: E731
    checkpoint(progress, True)
    report("sampling", draws.num_done, num_draws)
    sizer = CallSizer(SAMPLING_CHUNK_SIZE, first=min(SAMPLING_CHUNK_SIZE, 10))
    try:
        while draws.num_done < num_draws and not interrupt.requested:
            num_steps = min(sizer.next(), num_draws - draws.num_done)
            began = time.perf_counter()
            states, positions, stats = programs.sample_chunk(
                chain_keys, states, parameters, jnp.asarray(draws.num_done, jnp.int32),
                jnp.asarray(num_steps, jnp.int32), data
            )
            draws.append(positions, stats, num_steps)  # moving the chunk to the host waits for it
            sizer.record(num_steps, time.perf_counter() - began, interrupt)
            report("sampling", draws.num_done, num_draws)
            checkpoint(progress, False)
    except KeyboardInterrupt:  # no flag handler (another thread): the running call is lost
        interrupt.requested = True
    checkpoint(progress, True)
    if draws.num_done == 0:
        raise SamplingInterrupted("interrupted after tuning, before the first draw was kept: there are no draws to "
                                  "return.")
    return draws.positions(), draws.stats()


def _checked_positions(initial_positions, num_warmup: int, num_draws: int, target_accept: float,
                       max_tree_depth: int) -> jax.Array:
    """``initial_positions`` as a float ``(chains, d)`` array, after checking :func:`run_nuts`'s settings."""
    initial_positions = jnp.asarray(initial_positions)
    if not jnp.issubdtype(initial_positions.dtype, jnp.floating):
        initial_positions = initial_positions.astype(jnp.result_type(float))
    if initial_positions.ndim != 2:
        raise FitError(f"run_nuts: initial_positions must have shape (chains, d), got shape "
                       f"{tuple(initial_positions.shape)}.")
    if num_warmup < 0 or num_draws <= 0:
        raise FitError(f"run_nuts: need num_warmup >= 0 and num_draws > 0, got num_warmup={num_warmup}, "
                       f"num_draws={num_draws}.")
    if not 0.0 < target_accept < 1.0:
        raise FitError(f"run_nuts: target_accept must lie in (0, 1), got {target_accept}.")
    if max_tree_depth < 1:
        raise FitError(f"run_nuts: max_tree_depth must be at least 1, got {max_tree_depth}.")
    return initial_positions


def _tune(programs: NUTSPrograms, key, initial_positions, data, num_warmup: int, resume: NUTSProgress | None,
          interrupt: InterruptFlag) -> tuple[Any, NUTSParameters]:
    """The chains' states and tuned parameters after the warm-up (one compiled call; see :func:`run_nuts`)."""
    num_chains, dimension = initial_positions.shape
    dtype = initial_positions.dtype
    if resume is not None:
        states, parameters = resume.states, resume.parameters
    elif num_warmup > 0:
        states, parameters = programs.warmup(jax.random.split(key, num_chains), initial_positions, data)
    else:
        states = programs.initial_states(initial_positions, data)
        parameters = NUTSParameters(jnp.ones(num_chains, dtype), jnp.ones((num_chains, dimension), dtype))
    if not wait_interruptibly((states, parameters), interrupt):
        raise SamplingInterrupted(
            f"interrupted during tuning (tune={num_warmup}): tuning steps are not kept, so there are no draws to "
            "return. Run again (with fewer tuning steps if tuning took too long)."
        )
    # Keep the run in the dtype of the initial positions.
    return states, NUTSParameters(parameters.step_size.astype(dtype), parameters.inverse_mass_matrix.astype(dtype))


class _Draws:
    """The draws and statistics kept so far, chunk by chunk (with those of a resumed run first)."""

    def __init__(self, shape: tuple, dtype: np.dtype, resume: NUTSProgress | None):
        self._shape, self._dtype = shape, dtype
        self._positions: list[np.ndarray] = []
        self._stats: list[dict[str, np.ndarray]] = []
        self.num_done = 0
        if resume is not None and resume.positions.shape[1] > 0:
            self.append(resume.positions, resume.stats, resume.positions.shape[1])

    def append(self, positions, stats: dict, num_steps: int) -> None:
        self._positions.append(np.asarray(positions)[:, :num_steps])
        self._stats.append({name: np.asarray(stats[name])[:, :num_steps] for name in STAT_NAMES})
        self.num_done += num_steps

    def positions(self) -> np.ndarray:
        """``(chains, num_done, d)``."""
        num_chains, dimension = self._shape
        if not self._positions:
            return np.zeros((num_chains, 0, dimension), self._dtype)
        return np.concatenate(self._positions, axis=1)

    def stats(self) -> dict[str, np.ndarray]:
        """Each statistic as ``(chains, num_done)``."""
        if not self._stats:
            return {name: np.zeros((self._shape[0], 0)) for name in STAT_NAMES}
        return {name: np.concatenate([chunk[name] for chunk in self._stats], axis=1) for name in STAT_NAMES}

    def progress(self, states, parameters: NUTSParameters) -> NUTSProgress:
        return NUTSProgress(jax.device_get(states), jax.device_get(parameters), self.positions(), self.stats())
