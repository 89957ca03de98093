"""The loop every iterative fit runs: compiled chunks of steps, a progress bar and callbacks between them.

A chunk program ``runner(state, alive, key, data, num_active) -> (state,
alive, losses)`` runs a fixed number of steps as one ``lax.scan`` (see
:class:`credo.inference.programs.ADVIChunk`); the loop here calls it until
``n`` steps are done, moves the progress bar, calls the callbacks, and
stops at the first non-finite step, at a callback's request, or at Ctrl-C.
Python never runs once per step. The loop mutates nothing it is given: it
returns the final state and the losses as a :class:`Run`.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Callable, NamedTuple, Sequence

import jax
import numpy as np

__all__ = ["Run", "run_chunks", "chunk_size_for", "callback_stop"]


class Run(NamedTuple):
    """What :func:`run_chunks` returns.

    Attributes
    ----------
    state : pytree
        The state after the last completed step.
    hist : numpy.ndarray
        The losses before the run followed by those of every completed step
        (read-only; ``(starts, steps)`` for several fits at once).
    alive : numpy.ndarray
        False where a fit stopped at a non-finite loss or gradient.
    stop_reason : str or None
        Why the run stopped early: a callback's message, or the interrupt.
    """

    state: Any
    hist: np.ndarray
    alive: np.ndarray
    stop_reason: str | None


def chunk_size_for(chunk_size: int, callbacks: Sequence[Callable]) -> int:
    """``chunk_size``, or less where a callback asks to be called ``every`` so many steps."""
    size = int(chunk_size)
    for callback in callbacks:
        every = getattr(callback, "every", None)
        if isinstance(every, (int, np.integer)) and not isinstance(every, bool) and 0 < every < size:
            size = int(every)
    return size


def callback_stop(callbacks: Sequence[Callable], approx, losses: np.ndarray, step: int) -> str | None:
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


def _steps(state) -> np.ndarray:
    return np.asarray(state.step)


def run_chunks(
    runner: Callable,
    state: Any,
    key: jax.Array,
    data: Any,
    n: int,
    chunk_size: int,
    *,
    hist: np.ndarray | None = None,
    alive: np.ndarray | bool = True,
    progressbar: bool = True,
    callbacks: Sequence[Callable] = (),
    result_fn: Callable[[Any, np.ndarray], Any] | None = None,
) -> Run:
    """Run ``n`` steps of ``runner`` in chunks of ``chunk_size`` (see the module doc).

    ``alive`` is one flag (one fit) or one per fit (several fits vmapped in
    one program: then the run goes on while any is alive). ``result_fn(state,
    hist)`` builds the value the callbacks receive as ``callback(result,
    chunk_losses, step)``.
    """
    from tqdm.auto import tqdm

    alive = np.asarray(alive, bool)
    before = np.zeros(alive.shape + (0,), np.float32) if hist is None else np.asarray(hist)
    buffer = np.empty(alive.shape + (before.shape[-1] + n,), np.float32)
    buffer[..., : before.shape[-1]] = before
    filled = before.shape[-1]
    reason = None
    done = 0
    bar = tqdm(total=n, disable=not progressbar, leave=True, dynamic_ncols=True)
    try:
        while done < n and alive.any():
            active = min(chunk_size, n - done)
            start_steps = _steps(state)
            new_state, new_alive, losses = runner(state, alive, key, data, np.int32(active))
            losses = np.asarray(losses)[..., :active]
            new_alive = np.asarray(new_alive)
            if alive.ndim == 0 and not new_alive:
                # Steps count only where the loss and the gradients were finite: the
                # state stopped at the failing step (a finite loss may have NaN gradients).
                good = int(_steps(new_state) - start_steps)
                buffer[filled: filled + good] = losses[:good]
                return Run(new_state, _frozen(buffer[: filled + good]), new_alive, None)
            state, alive = new_state, new_alive
            buffer[..., filled: filled + active] = losses
            filled += active
            done += active
            bar.update(active)
            best = np.min(np.mean(losses, axis=-1)) if losses.ndim > 1 else np.mean(losses)
            label = "Average Loss (best start)" if losses.ndim > 1 else "Average Loss"
            bar.set_description(f"{label} = {best:.5g}", refresh=False)
            if callbacks:
                reason = callback_stop(callbacks, result_fn(state, _frozen(buffer[..., :filled])), losses,
                                       int(_steps(state)))
                if reason is not None:
                    logging.getLogger("credo").info(reason)
                    bar.set_description(reason, refresh=False)
                    break
    except KeyboardInterrupt:
        reason = f"Interrupted at step {int(np.max(_steps(state)))}"
        warnings.warn(f"{reason}: the fit keeps the steps completed so far.", stacklevel=3)
    finally:
        bar.close()
    return Run(state, _frozen(buffer[..., :filled]), alive, reason)


def _frozen(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view
