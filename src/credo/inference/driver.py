"""The loop every iterative fit runs: compiled calls of steps, a progress bar, callbacks, checkpoints, Ctrl-C.

A chunk program ``runner(state, alive, key, data, num_active) -> (state,
alive, losses)`` runs ``num_active`` steps (at most ``chunk_size``) in one
compiled loop (see :class:`credo.inference.programs.ADVIChunk`). The loop
here calls it until ``n`` steps are done, each call sized by measured time
(about a quarter of a second, :class:`CallSizer`), moves the progress bar,
calls the callbacks every ``chunk_size`` steps, lets a checkpoint be saved,
and stops at the first non-finite step, at a callback's request, or at
Ctrl-C (honoured after the running call, whose steps are kept). With
several processes only process 0 draws the progress bar. Step ``s``
uses ``fold_in(key, s)``, so the result does not depend on how the steps
were cut into calls. Python never runs once per step. The loop mutates
nothing it is given: it returns the final state and the losses as a
:class:`Run`.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
import warnings
from typing import Any, Callable, NamedTuple, Sequence

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec

from ..model.placement import is_main_process

__all__ = ["Run", "run_chunks", "chunk_size_for", "callback_stop", "CallSizer", "InterruptFlag",
           "wait_interruptibly", "user_stacklevel", "committed_like", "CALL_SECONDS", "FIRST_CALL_STEPS"]

#: Seconds one compiled call aims at: Ctrl-C is honoured after the running call.
CALL_SECONDS = 0.25
#: Steps of the first call of a run (its time includes compiling).
FIRST_CALL_STEPS = 8


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


class CallSizer:
    """Steps per compiled call, sized by measured time so that an interrupt is seen within about a second.

    The first call runs ``first`` steps (its time includes compiling and is
    not measured); after each later call the size is set so that a call
    takes about ``seconds``, growing at most fourfold per call and never past
    ``limit``. Fast models reach ``limit`` (the chunk size) after a few calls.

    With several processes (:mod:`credo.distributed`) every process must run
    the same calls: after each call the processes take process 0's size, and
    its Ctrl-C (``record(..., interrupt)``), so that timing never makes them
    disagree.

    Examples
    --------
    >>> sizer = CallSizer(limit=1000, seconds=0.25, first=8)
    >>> sizer.next()
    8
    >>> sizer.record(8, 5.0)  # compiling: not measured
    >>> sizer.record(8, 0.001)
    >>> sizer.next()
    32
    """

    def __init__(self, limit: int, seconds: float = CALL_SECONDS, first: int = FIRST_CALL_STEPS):
        self.limit = max(1, int(limit))
        self.seconds = float(seconds)
        self.size = min(self.limit, max(1, int(first)))
        self.calls = 0

    def next(self) -> int:
        return self.size

    def record(self, steps: int, elapsed: float, interrupt: "InterruptFlag | None" = None) -> None:
        self.calls += 1
        if self.calls > 1 and steps >= 1:
            per_step = max(elapsed, 1e-9) / steps
            wanted = int(self.seconds / per_step)
            self.size = int(min(self.limit, max(1, min(wanted, 4 * max(self.size, steps)))))
        if jax.process_count() > 1:
            stop = bool(interrupt.requested) if interrupt is not None else False
            agreed = np.asarray(multihost_utils.broadcast_one_to_all(np.array([self.size, stop], np.int32)))
            self.size = int(agreed[0])
            if interrupt is not None:
                interrupt.requested = bool(agreed[1])


class InterruptFlag:
    """Ctrl-C as a request to stop at the next safe point, for the duration of a ``with`` block.

    In the main thread, while Python's default handler is installed, the
    first SIGINT sets ``requested`` instead of raising ``KeyboardInterrupt``
    inside a compiled call (which would lose the steps it ran); the driver
    stops after the running call, which its sizing keeps short. A second
    Ctrl-C raises ``KeyboardInterrupt`` at once. Elsewhere (another thread, a
    custom handler) ``KeyboardInterrupt`` arrives as usual and the driver
    catches it.
    """

    def __init__(self):
        self.requested = False
        self.when: float | None = None
        self._previous = None

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.when = time.perf_counter()

    def __enter__(self) -> "InterruptFlag":
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def wait_interruptibly(tree, interrupt: InterruptFlag, poll: float = 0.02) -> bool:
    """Wait until every array of ``tree`` is computed; False if Ctrl-C came first (the arrays are then
    abandoned: the computation finishes in the background)."""
    leaves = [leaf for leaf in jax.tree_util.tree_leaves(tree) if isinstance(leaf, jax.Array)]
    while not all(leaf.is_ready() for leaf in leaves):
        if interrupt.requested:
            return False
        time.sleep(poll)
    return True


def user_stacklevel() -> int:
    """The ``stacklevel`` of ``warnings.warn`` that points at the first caller outside credo."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "credo":
        frame, level = frame.f_back, level + 1
    return level


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
    checkpoint_fn: Callable[[Any, np.ndarray, bool], None] | None = None,
    call_seconds: float = CALL_SECONDS,
    call_limit: int | None = None,
) -> Run:
    """Run ``n`` steps of ``runner`` (see the module doc).

    ``alive`` is one flag (one fit) or one per fit (several fits vmapped in
    one program: then the run goes on while any is alive). Calls are sized
    by :class:`CallSizer` and never cross a multiple of ``chunk_size`` steps:
    there the callbacks run, as ``callback(result_fn(state, hist),
    chunk_losses, step)``. ``checkpoint_fn(state, hist, final)`` is called
    after every call (it decides whether a save is due) and once more with
    ``final=True`` when the run ends. Ctrl-C stops the run after the running
    call (see :class:`InterruptFlag`) with a warning naming the step; the
    steps completed are kept. ``call_limit`` caps the steps of one call below ``chunk_size`` (a
    streamed fit's block of batches).
    """
    from tqdm.auto import tqdm

    state = committed_like(state, data)
    alive = np.asarray(alive, bool)
    before = np.zeros(alive.shape + (0,), np.float32) if hist is None else np.asarray(hist)
    buffer = np.empty(alive.shape + (before.shape[-1] + n,), np.float32)
    buffer[..., : before.shape[-1]] = before
    filled = before.shape[-1]
    reason = None
    done = 0
    # Callbacks run at multiples of chunk_size steps counted from the fit's start, so a resumed fit
    # calls them where an uninterrupted one does.
    since_callback = int(np.max(_steps(state))) % chunk_size
    sizer = CallSizer(min(chunk_size, call_limit or chunk_size), call_seconds)
    bar = tqdm(total=n, disable=not progressbar or not is_main_process(), leave=True, dynamic_ncols=True)
    try:
        with InterruptFlag() as interrupt:
            while done < n and alive.any() and not interrupt.requested:
                active = min(sizer.next(), chunk_size - since_callback, n - done)
                start_steps = _steps(state)
                began = time.perf_counter()
                new_state, new_alive, losses = runner(state, alive, key, data, np.int32(active))
                losses = np.asarray(losses)[..., :active]  # waits for the call
                sizer.record(active, time.perf_counter() - began, interrupt)
                new_alive = np.asarray(new_alive)
                if alive.ndim == 0 and not new_alive:
                    # Steps count only where the loss and the gradients were finite: the
                    # state stopped at the failing step (a finite loss may have NaN gradients).
                    good = int(_steps(new_state) - start_steps)
                    buffer[filled: filled + good] = losses[:good]
                    return Run(new_state, _frozen(buffer[: filled + good]), new_alive, None)
                buffer[..., filled: filled + active] = losses
                # One assignment: a KeyboardInterrupt (no flag handler) never splits the state from its losses.
                state, alive, filled = new_state, new_alive, filled + active
                done += active
                since_callback += active
                _show(bar, active, losses)
                if since_callback == chunk_size or done == n:
                    if callbacks:
                        chunk_losses = buffer[..., filled - since_callback: filled]
                        reason = callback_stop(callbacks, result_fn(state, _frozen(buffer[..., :filled])),
                                               chunk_losses, int(np.max(_steps(state))))
                    since_callback = 0
                    if reason is not None:
                        logging.getLogger("credo").info(reason)
                        bar.set_description(reason, refresh=False)
                        break
                if checkpoint_fn is not None:
                    checkpoint_fn(state, buffer[..., :filled], False)
            if interrupt.requested and done < n:
                reason = _interrupted(state, interrupt)
    except KeyboardInterrupt:
        reason = _interrupted(state, None)
    finally:
        bar.close()
    if checkpoint_fn is not None:
        checkpoint_fn(state, buffer[..., :filled], True)
    return Run(state, _frozen(buffer[..., :filled]), alive, reason)


def committed_like(state: Any, data: Any) -> Any:
    """``state`` with its uncommitted arrays committed where the committed ``data`` are (replicated over
    their mesh); unchanged when no data array is committed.

    A committed argument makes a program's outputs committed, and a program
    compiles once per committedness of its arguments: without this, the
    first call (a fresh state from an initialising program or a file)
    compiled the chunk program once and the second call (the state it
    returned) again.
    """
    placed = [leaf.sharding for leaf in jax.tree_util.tree_leaves(data)
              if isinstance(leaf, jax.Array) and leaf.committed]
    if not placed:
        return state
    target = placed[0]
    if isinstance(target, NamedSharding):
        target = NamedSharding(target.mesh, PartitionSpec())

    def commit(leaf):
        return jax.device_put(leaf, target) if isinstance(leaf, jax.Array) and not leaf.committed else leaf

    return jax.tree_util.tree_map(commit, state)


def _show(bar, active: int, losses: np.ndarray) -> None:
    bar.update(active)
    best = np.min(np.mean(losses, axis=-1)) if losses.ndim > 1 else np.mean(losses)
    label = "Average Loss (best start)" if losses.ndim > 1 else "Average Loss"
    bar.set_description(f"{label} = {best:.5g}", refresh=False)


def _interrupted(state, interrupt: InterruptFlag | None) -> str:
    step = int(np.max(_steps(state)))
    reason = f"Interrupted at step {step}"
    logging.getLogger("credo").info(reason)
    warnings.warn(f"{reason}: the fit returns the approximation of step {step}, the last completed step.",
                  stacklevel=user_stacklevel())
    return reason


def _frozen(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view
