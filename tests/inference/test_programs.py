"""Compiled programs: one bounded cache per model, keyed by specs; results are frozen values."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import optax
import pytest

import credo as cr
from credo.errors import ConfigError, FitError


def make_model(rows: int = 12):
    with cr.Model() as model:
        x = cr.Data("x", np.linspace(-1, 1, rows))
        w = cr.Normal("w", 0, 1, shape=2)
        cr.Normal("y", w[0] + w[1] * x, 0.5, observed=np.linspace(0, 1, rows))
    return model


def resident_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_hundred_fits_with_fresh_equal_optimizers_compile_once_and_stay_flat():
    import arviz  # noqa: F401 - imported by the first fit in the background; its memory is not the fits'

    model = make_model()
    compiled = model.compile()
    with model:
        cr.fit(10, obj_optimizer=optax.adam(1e-3), chunk_size=10, random_seed=0, progressbar=False)
        builds = compiled.programs.builds
        for i in range(20):
            cr.fit(10, obj_optimizer=optax.adam(1e-3), chunk_size=10, random_seed=i, progressbar=False)
        before = resident_bytes()
        for i in range(80):
            cr.fit(10, obj_optimizer=optax.adam(1e-3), chunk_size=10, random_seed=i, progressbar=False)
        after = resident_bytes()
    assert compiled.programs.builds == builds  # no program built after the first fit
    assert len(compiled.programs) <= cr.config().program_cache_size
    assert after - before < 16 * 2**20, f"resident memory grew by {(after - before) / 2**20:.1f} MB over 80 fits"


def test_the_cache_is_bounded_and_keeps_the_most_recent():
    model = make_model()
    compiled = model.compile()
    cr.config(program_cache_size=3, diagnose_draws=0)  # no verdict at the end of each fit: its program too
    try:
        with model:
            for rate in (1e-3, 2e-3, 3e-3, 4e-3):
                cr.fit(10, obj_optimizer=optax.adam(rate), chunk_size=10, random_seed=0, progressbar=False)
        assert len(compiled.programs) == 3  # the initial point, then an init and a chunk per rate; 3 kept
        builds = compiled.programs.builds
        with model:  # the latest rate's init and chunk are still there; the first rate's were dropped
            cr.fit(10, obj_optimizer=optax.adam(4e-3), chunk_size=10, random_seed=0, progressbar=False)
            assert compiled.programs.builds == builds
            cr.fit(10, obj_optimizer=optax.adam(1e-3), chunk_size=10, random_seed=0, progressbar=False)
            assert compiled.programs.builds == builds + 2
    finally:
        cr.config(program_cache_size=64, diagnose_draws=256)
    with pytest.raises(ConfigError, match="program_cache_size"):
        cr.config(program_cache_size=0)


def test_programs_follow_the_data_shapes_and_different_settings_do_not_share():
    model = make_model(rows=12)
    compiled = model.compile()
    with model:
        cr.fit(10, chunk_size=10, random_seed=0, progressbar=False)
        builds = compiled.programs.builds
        cr.set_data({"x": np.zeros(7)})
        with pytest.raises(cr.errors.ObservedError):  # x changed without y: refused before compiling
            cr.fit(10, chunk_size=10, random_seed=0, progressbar=False)
        cr.set_data({"x": np.linspace(-1, 1, 12)})
        cr.fit(10, chunk_size=10, random_seed=1, progressbar=False)
        assert compiled.programs.builds == builds
        cr.fit(10, chunk_size=5, random_seed=1, progressbar=False)  # another chunk size: another program
        assert compiled.programs.builds == builds + 1


def test_approximations_are_frozen_values():
    model = make_model()
    with model:
        approx = cr.fit(100, random_seed=0, progressbar=False)
    for field in ("hist", "state", "model", "family", "key", "settings", "info"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(approx, field, None)
    with pytest.raises(ValueError, match="read-only"):
        approx.hist[0] = 0.0
    longer = approx.refine(50, progressbar=False)
    assert len(approx.hist) == 100 and len(longer.hist) == 150
    assert approx.mean is approx.mean  # computed once


def test_unknown_and_inapplicable_arguments_are_refused_by_name():
    model = make_model()
    with model:
        with pytest.raises(TypeError, match=r"'foo'.*accepts.*obj_optimizer"):
            cr.fit(10, foo=1)
        with pytest.raises(TypeError, match=r"'rank'.*lowrank_advi"):
            cr.fit(10, method="advi", rank=3)
        with pytest.raises(TypeError, match=r"'rank'"):
            cr.ADVI(rank=2)
        approx = cr.fit(10, method="lowrank_advi", rank=3, random_seed=0, progressbar=False)
        assert approx.family.label == "lowrank3"
        with pytest.raises(FitError, match=r"random_seed"):
            cr.fit(10, start=approx, random_seed=1)
        with pytest.raises(FitError, match=r"obj_optimizer"):
            cr.fit(10, start=approx, obj_optimizer=optax.adam(1e-2))
        for bad in (0, -3, 2.5, True, "10"):
            with pytest.raises(FitError, match="chunk_size"):
                cr.fit(10, chunk_size=bad)


def _regression_step(weights: int, rows: int = 50):
    """``_step`` of mean-field ADVI on ``y ~ Normal(X @ w, 1)`` with ``X`` of ``rows x weights``, and its parts."""
    import jax
    import jax.numpy as jnp

    from credo.inference.advi import MeanField

    rng = np.random.default_rng(0)
    with cr.Model() as model:
        X = cr.Data("X", rng.normal(size=(rows, weights)).astype(np.float32))
        w = cr.Normal("w", 0, 1, shape=weights)
        cr.Normal("y", X @ w, 1, observed=rng.normal(size=rows).astype(np.float32))
    compiled = model.compile()
    algorithm = MeanField().algorithm(compiled.logdensity_fn, optax.adam(1e-2), 1)
    state = algorithm.init(jnp.zeros(weights, jnp.float32))
    data = {name: jnp.asarray(value) for name, value in model.data_values.items()}
    return algorithm, state, data, jax.random.key(1)


def _primitives(jaxpr, inside_cond: bool = False):
    """``(primitive name, whether inside a conditional)`` of every equation of ``jaxpr``, nested ones too."""
    for eqn in jaxpr.eqns:
        yield eqn.primitive.name, inside_cond
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else (value,):
                sub = getattr(sub, "jaxpr", sub)
                if hasattr(sub, "eqns"):
                    yield from _primitives(sub, inside_cond or eqn.primitive.name == "cond")


@pytest.mark.parametrize("weights, large", [(600, True), (100, False)])
def test_a_large_step_makes_its_noise_inside_a_conditional_and_its_gradient_outside(weights, large):
    import jax

    from credo.inference import programs
    from credo.inference.advi import CONDITIONAL_SIZE

    algorithm, state, data, key = _regression_step(weights)
    assert (2 * weights >= CONDITIONAL_SIZE) == large
    step = jax.jit(lambda state: programs._step(algorithm, key, state, data, True))
    found = list(_primitives(step.trace(state).jaxpr.jaxpr))
    # the noise: random bits turned into normal numbers (erf_inv), inside a conditional only for a large state
    assert {inside for name, inside in found if name == "erf_inv"} == {large}
    # the gradient's products (X @ w and its transpose) are never inside a conditional
    assert {inside for name, inside in found if name == "dot_general"} == {False}
    taken, _ = step(state)
    expected, _ = jax.jit(algorithm.step)(key, state, data)
    np.testing.assert_array_equal(taken.params["mean"], expected.params["mean"])
