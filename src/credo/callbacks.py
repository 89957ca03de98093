"""Callbacks for ``cr.fit(..., callbacks=[...])``, as in ``pymc.variational.callbacks``.

A callback is any callable ``callback(approx, losses, step)``. The fit calls
it between compiled chunks of steps with the approximation, the losses of the
chunk just run and the number of steps taken so far. To stop the fit it
raises ``StopIteration`` (as PyMC's callbacks do) or returns it; the message
is kept as ``approx.stop_reason``. A callback with an integer ``every``
attribute is called at least every ``every`` steps (the fit shortens its
chunks to that; otherwise chunks are ``chunk_size`` = 1,000 steps).

Examples
--------
>>> import credo as cr, numpy as np
>>> with cr.Model():
...     mu = cr.Normal("mu", 0, 1)
...     y = cr.Normal("y", mu, 1, observed=np.array([0.5, 1.0]))
...     check = cr.callbacks.CheckParametersConvergence(every=100, tolerance=1e-2, diff="absolute")
...     approx = cr.fit(50_000, callbacks=[check], random_seed=0, progressbar=False)
>>> len(approx.hist) < 50_000
True
"""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["Callback", "CheckParametersConvergence", "LossConvergence", "Tracker", "relative", "absolute"]


def relative(current: np.ndarray, prev: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Elementwise relative change, ``(|current - prev| + eps) / (|prev| + eps)`` (PyMC's)."""
    return (np.abs(current - prev) + eps) / (np.abs(prev) + eps)


def absolute(current: np.ndarray, prev: np.ndarray) -> np.ndarray:
    """Elementwise absolute change."""
    return np.abs(current - prev)


_DIFFS = {"relative": relative, "absolute": absolute}


class Callback:
    """Base class (optional: any callable ``(approx, losses, step)`` works)."""

    def __call__(self, approx, losses: np.ndarray, step: int):  # pragma: no cover - interface
        raise NotImplementedError


def _flat_params(approx) -> np.ndarray:
    """The optimised variational parameters as one vector (a fixed frame is left out)."""
    params = {k: v for k, v in approx.params.items() if k != "frame"}
    return np.concatenate([np.ravel(np.asarray(params[k])) for k in sorted(params)])


class CheckParametersConvergence(Callback):
    """Stop when the variational parameters have stopped moving (PyMC's callback).

    Every ``every`` steps the parameters are compared with those ``every``
    steps before; when the ``ord``-norm of their elementwise change (relative
    or absolute) is below ``tolerance`` the fit stops.

    Parameters
    ----------
    every : int
        Steps between checks (the fit calls this callback that often).
    tolerance : float
    diff : {"relative", "absolute"}
    ord : int or float
        The norm, as ``numpy.linalg.norm``'s ``ord`` (default the largest change).
    """

    def __init__(self, every: int = 100, tolerance: float = 1e-3, diff: str = "relative", ord=np.inf):
        if diff not in _DIFFS:
            raise ValueError(f"diff must be 'relative' or 'absolute'; got {diff!r}.")
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be a positive integer; got {every!r}.")
        self.every = int(every)
        self.tolerance = float(tolerance)
        self.diff = diff
        self._diff = _DIFFS[diff]
        self.ord = ord
        self.prev = None
        self._prev_step = None

    def __call__(self, approx, losses, step):
        if self.prev is None or self._prev_step is None or step < self._prev_step:
            self.prev, self._prev_step = _flat_params(approx), step
            return
        if step - self._prev_step < self.every:
            return
        current = _flat_params(approx)
        delta = self._diff(current, self.prev)
        self.prev, self._prev_step = current, step
        norm = np.linalg.norm(delta, self.ord)
        if norm < self.tolerance:
            raise StopIteration(f"Convergence achieved at {step}")


class LossConvergence(Callback):
    """Stop when the windowed mean loss has stopped changing: robust to noisy (minibatch) losses.

    Compares the mean loss over the last ``window`` steps with the mean over
    the ``window`` steps before them; when their relative change
    ``|new - old| / |old|`` is below ``tolerance`` the fit stops. Averaging over
    windows makes the rule work on the noisy losses of minibatch fits, where a
    per-step comparison never settles; take a window long enough that the
    noise of its mean is below ``tolerance`` (the noise of the mean falls with
    the square root of the window).

    Parameters
    ----------
    window : int
        Steps per window (checks start after ``2 * window`` steps).
    tolerance : float
        Relative change that counts as converged.
    every : int, optional
        Check every so many steps (default: after every chunk).
    """

    def __init__(self, window: int = 1000, tolerance: float = 1e-3, every: int | None = None):
        if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
            raise ValueError(f"window must be a positive integer; got {window!r}.")
        self.window = int(window)
        self.tolerance = float(tolerance)
        if every is not None:
            self.every = int(every)
        self._recent = np.zeros(0)
        self.changes: list[tuple[int, float]] = []

    def __call__(self, approx, losses, step):
        losses = np.asarray(losses, dtype=np.float64)
        self._recent = np.concatenate([self._recent, losses])[-2 * self.window:]
        if len(self._recent) < 2 * self.window:
            return
        old = self._recent[: self.window].mean()
        new = self._recent[self.window:].mean()
        change = abs(new - old) / max(abs(old), 1e-12)
        self.changes.append((int(step), float(change)))
        if change < self.tolerance:
            raise StopIteration(f"Convergence achieved at {step}: the mean loss over the last {self.window} steps "
                                f"changed by {change:.2g} (relative)")


class Tracker(Callback):
    """Record values computed from the approximation after each chunk (PyMC's Tracker).

    Examples
    --------
    >>> import credo as cr
    >>> tracker = cr.callbacks.Tracker(mean=lambda approx: approx.mean_unconstrained)
    >>> # cr.fit(..., callbacks=[tracker]); tracker["mean"] is then a list of arrays
    """

    def __init__(self, **fns: Callable):
        self.fns = fns
        self.hist: dict[str, list] = {name: [] for name in fns}
        self.steps: list[int] = []

    def __call__(self, approx, losses, step):
        self.steps.append(int(step))
        for name, fn in self.fns.items():
            self.hist[name].append(fn(approx))

    def __getitem__(self, name: str) -> list:
        return self.hist[name]
