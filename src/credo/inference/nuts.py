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
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import FitError

__all__ = ["NUTSParameters", "NUTSPrograms", "nuts_programs", "run_nuts", "STAT_NAMES"]

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
    data: Any,
    *,
    logdensity_fn: LogDensityFn,
    num_steps: int,
    max_tree_depth: int,
) -> tuple[Any, jax.Array, dict[str, jax.Array]]:
    """``num_steps`` NUTS transitions of every chain, as one ``lax.scan``.

    The key of step ``t`` of a chain is ``fold_in(chain_key, t)``, with ``t``
    counted from the start of sampling, so the draws do not depend on how the
    run is cut into chunks.
    """
    import blackjax

    bound_logdensity_fn = lambda position: logdensity_fn(position, data)
    kernel = blackjax.nuts.build_kernel()
    step_indices = first_step + jnp.arange(num_steps)

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

        return jax.lax.scan(one_step, state, step_indices)

    states, (positions, stats) = jax.vmap(sample_one_chain)(
        chain_keys, states, parameters.step_size, parameters.inverse_mass_matrix
    )
    return states, positions, stats


class NUTSPrograms(NamedTuple):
    """The compiled pieces :func:`run_nuts` calls (see :func:`nuts_programs`).

    Attributes
    ----------
    warmup : callable
        ``warmup(keys, initial_positions, data) -> (states, NUTSParameters)``.
    initial_states : callable
        ``initial_states(initial_positions, data) -> states`` (no warm-up).
    sample_chunk : callable
        ``sample_chunk(chain_keys, states, parameters, first_step, data,
        num_steps=...) -> (states, positions, stats)`` (``num_steps`` static).
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
        jit(functools.partial(_sample_chunk, logdensity_fn=logdensity_fn, max_tree_depth=int(max_tree_depth)),
            static_argnames=("num_steps",)),
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
    compiled ``lax.scan`` chunks of ``SAMPLING_CHUNK_SIZE`` steps, with
    ``progress_fn`` called between chunks; a shorter last chunk compiles
    once more.  The draws do not depend on the chunk size.

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
    initial_positions = jnp.asarray(initial_positions)
    if not jnp.issubdtype(initial_positions.dtype, jnp.floating):
        initial_positions = initial_positions.astype(jnp.result_type(float))
    if initial_positions.ndim != 2:
        raise FitError(
            "run_nuts: initial_positions must have shape (chains, d), "
            f"got shape {tuple(initial_positions.shape)}."
        )
    if num_warmup < 0 or num_draws <= 0:
        raise FitError(
            "run_nuts: need num_warmup >= 0 and num_draws > 0, "
            f"got num_warmup={num_warmup}, num_draws={num_draws}."
        )
    if not 0.0 < target_accept < 1.0:
        raise FitError(
            f"run_nuts: target_accept must lie in (0, 1), got {target_accept}."
        )
    if max_tree_depth < 1:
        raise FitError(
            f"run_nuts: max_tree_depth must be at least 1, got {max_tree_depth}."
        )

    num_chains, dimension = initial_positions.shape
    if programs is None:
        programs = nuts_programs(logdensity_fn, num_warmup=num_warmup, target_accept=target_accept,
                                 max_tree_depth=max_tree_depth)
    dtype = initial_positions.dtype
    report = progress_fn if progress_fn is not None else (lambda *args: None)
    warmup_key, sampling_key = jax.random.split(key)

    # --- Warm-up: one compiled call (see Notes). ---
    report("warmup", 0, num_warmup)
    if num_warmup > 0:
        states, parameters = programs.warmup(jax.random.split(warmup_key, num_chains), initial_positions, data)
    else:
        states = programs.initial_states(initial_positions, data)
        parameters = NUTSParameters(
            jnp.ones(num_chains, dtype), jnp.ones((num_chains, dimension), dtype)
        )
    # Keep the run in the dtype of the initial positions.
    parameters = NUTSParameters(
        parameters.step_size.astype(dtype), parameters.inverse_mass_matrix.astype(dtype)
    )
    jax.block_until_ready(states)
    report("warmup", num_warmup, num_warmup)

    # --- Sampling: compiled chunks, progress reported in between. ---
    chain_keys = jax.random.split(sampling_key, num_chains)
    position_chunks: list[np.ndarray] = []
    stat_chunks: list[dict[str, np.ndarray]] = []
    report("sampling", 0, num_draws)
    num_done = 0
    while num_done < num_draws:
        num_steps = min(SAMPLING_CHUNK_SIZE, num_draws - num_done)
        states, positions, stats = programs.sample_chunk(
            chain_keys, states, parameters, jnp.asarray(num_done, jnp.int32), data, num_steps=num_steps
        )
        # Moving the chunk to the host also waits for it to finish.
        position_chunks.append(np.asarray(positions))
        stat_chunks.append({name: np.asarray(value) for name, value in stats.items()})
        num_done += num_steps
        report("sampling", num_done, num_draws)

    all_positions = np.concatenate(position_chunks, axis=1)
    all_stats = {
        name: np.concatenate([chunk[name] for chunk in stat_chunks], axis=1)
        for name in STAT_NAMES
    }
    return all_positions, all_stats
