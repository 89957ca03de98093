"""Random seeds to JAX keys."""

import jax
import numpy as np
import pytest

from credo.inference.results import as_key


@pytest.mark.parametrize("seed", [0, 1, 42, 2**31 - 1, 2**32 - 1, np.int64(7), -3, 2**40])
def test_as_key_makes_the_key_jax_random_key_makes(seed):
    expected = jax.random.key_data(jax.random.key(int(seed)))
    np.testing.assert_array_equal(jax.random.key_data(as_key(seed)), expected)
    np.testing.assert_array_equal(jax.random.normal(as_key(seed), (3,)), jax.random.normal(jax.random.key(int(seed)), (3,)))
