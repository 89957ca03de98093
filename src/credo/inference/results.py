"""Draws to arviz.InferenceData, and random seeds to JAX keys."""

from __future__ import annotations

from typing import Mapping

import jax
import numpy as np

__all__ = ["to_inference_data", "as_key"]


def as_key(random_seed) -> jax.Array:
    """A JAX PRNG key from an int, a key, or None (a fresh seed from numpy's global state)."""
    if random_seed is None:
        random_seed = int(np.random.randint(0, 2**31 - 1))
    if isinstance(random_seed, jax.Array):
        if jax.dtypes.issubdtype(random_seed.dtype, jax.dtypes.prng_key):
            return random_seed
        return jax.random.wrap_key_data(random_seed)
    if isinstance(random_seed, (int, np.integer)):
        seed = int(random_seed)
        if 0 <= seed < 2**32 and jax.config.jax_default_prng_impl == "threefry2x32":
            # The key jax.random.key(seed) makes, without compiling its seeding program.
            return jax.random.wrap_key_data(np.array([0, seed], np.uint32))
        return jax.random.key(seed)
    raise TypeError(f"random_seed must be an int, a JAX key or None; got {type(random_seed).__name__}.")


def _dims(name: str, shape: tuple) -> list[str]:
    return [f"{name}_dim_{i}" for i in range(len(shape))]


def to_inference_data(**groups: Mapping[str, np.ndarray]):
    """An ``arviz.InferenceData`` from groups of arrays.

    Sample groups (posterior, prior, posterior_predictive, prior_predictive,
    sample_stats) hold arrays shaped ``(chain, draw, ...)``; observed_data and
    constant_data hold plain arrays.
    """
    import arviz as az

    kwargs = {}
    dims = {}
    for group, values in groups.items():
        if values is None:
            continue
        arrays = {name: np.asarray(value) for name, value in values.items()}
        kwargs[group] = arrays
        sampled = group not in ("observed_data", "constant_data")
        for name, array in arrays.items():
            shape = array.shape[2:] if sampled else array.shape
            dims.setdefault(name, _dims(name, shape))
    return az.from_dict(**kwargs, dims=dims)
