"""Host arrays onto the device, and the default float type, without compiling anything."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["float_dtype", "to_device"]


def float_dtype() -> np.dtype:
    """JAX's default float: float32, or float64 when x64 is on."""
    return np.dtype(jnp.result_type(float))


def to_device(value, dtype=None) -> jax.Array:
    """``value`` on the device, converted on the host first.

    ``jnp.asarray`` of a numpy array compiles a small program for every new
    shape; ``jax.device_put`` of a host array compiles nothing.
    """
    return jax.device_put(np.asarray(value, dtype=dtype))
