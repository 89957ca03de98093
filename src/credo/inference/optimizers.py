"""Optimisers for variational fits, as optax ``GradientTransformation`` objects.

Any optax optimiser works as ``obj_optimizer``; this module adds the one credo
uses by default, windowed adagrad.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["adagrad_window", "scale_by_window_adagrad", "WindowAdagradState"]


class WindowAdagradState(NamedTuple):
    """State of :func:`scale_by_window_adagrad`.

    Attributes
    ----------
    squared_gradients : pytree
        The last ``n_win`` squared gradients of each parameter, stacked on a
        leading axis of length ``n_win`` (a ring buffer).
    index : Array
        Where the next squared gradient is written.
    """

    squared_gradients: optax.Updates
    index: jax.Array


def scale_by_window_adagrad(n_win: int = 10, epsilon: float = 0.1) -> optax.GradientTransformation:
    """Divide each gradient by the root of the sum of its last ``n_win`` squares.

    Adagrad that forgets: only a window of recent gradients sets the scale, so
    the step size does not decay to zero over long fits.
    """
    if n_win < 1:
        raise ValueError(f"n_win must be a positive integer; got {n_win}.")

    def init_fn(params):
        buffers = jax.tree_util.tree_map(lambda p: jnp.zeros((n_win,) + jnp.shape(p), jnp.result_type(p)), params)
        return WindowAdagradState(buffers, jnp.zeros((), jnp.int32))

    def update_fn(updates, state, params=None):
        del params
        buffers = jax.tree_util.tree_map(lambda b, g: b.at[state.index].set(g * g), state.squared_gradients, updates)
        scaled = jax.tree_util.tree_map(lambda g, b: g / jnp.sqrt(jnp.sum(b, axis=0) + epsilon), updates, buffers)
        return scaled, WindowAdagradState(buffers, (state.index + 1) % n_win)

    return optax.GradientTransformation(init_fn, update_fn)


def adagrad_window(learning_rate: float | optax.Schedule = 1e-3, n_win: int = 10, epsilon: float = 0.1):
    """Windowed adagrad: credo's default optimiser for ADVI.

    Each step moves a parameter by ``learning_rate * g / sqrt(sum of the last
    n_win g**2 + epsilon)``. It is robust to the scale of the gradients (large
    likelihoods, minibatch noise) without the decaying steps of plain adagrad.
    ``learning_rate`` may be an optax schedule.

    Examples
    --------
    >>> import credo as cr, optax
    >>> optimizer = cr.adagrad_window(learning_rate=1e-2)
    >>> optimizer = cr.adagrad_window(optax.exponential_decay(1e-2, 1000, 0.5))
    """
    return optax.chain(scale_by_window_adagrad(n_win, epsilon), optax.scale_by_learning_rate(learning_rate))
