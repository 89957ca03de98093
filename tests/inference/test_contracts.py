"""What every family and every optimiser must do, checked over all of them (as optax and NumPyro test theirs)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats

import credo as cr
from credo.inference.advi import FullRank, LowRank, MeanField, family_from_label
from credo.inference.optimizers import Optimizer, optimizer_key

DIM = 4
FAMILIES = [MeanField(), FullRank(), LowRank(1), LowRank(3)]


def target(position, data):
    return -0.5 * jnp.sum((position - data) ** 2)


def perturbed_state(family, whiten: bool, seed: int = 0):
    """An initialised state of ``family`` with every parameter moved off its start."""
    algorithm = family.algorithm(target, optax.adam(0.1), 1)
    key = jax.random.key(seed)
    chol = 0.3 * jnp.tril(jax.random.normal(key, (DIM, DIM)), -1) + jnp.diag(jnp.linspace(0.5, 1.5, DIM))
    state = algorithm.init(jnp.linspace(-1.0, 1.0, DIM), cholesky=chol, whiten=whiten)
    leaves, tree = jax.tree_util.tree_flatten(state.params)
    keys = jax.random.split(jax.random.fold_in(key, 1), len(leaves))
    moved = [leaf + 0.2 * jax.random.normal(k, leaf.shape) for leaf, k in zip(leaves, keys)]
    return state._replace(params=jax.tree_util.tree_unflatten(tree, moved))


@pytest.mark.parametrize("whiten", [False, True], ids=["plain", "framed"])
@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.label)
def test_entropy_log_density_and_covariance_are_those_of_one_gaussian(family, whiten):
    state = perturbed_state(family, whiten)
    mean = np.asarray(family.state_mean(state), np.float64)
    covariance = np.asarray(family.state_covariance(state), np.float64)
    np.testing.assert_allclose(covariance, covariance.T, atol=1e-6)
    gaussian = stats.multivariate_normal(mean, covariance)
    # The entropy is the closed form of the covariance the family reports.
    algorithm = family.algorithm(lambda position, data: jnp.zeros(()), optax.sgd(0.0), 1)
    loss = float(algorithm.loss(state, jax.random.key(0), None))  # -(E log p + H) with log p = 0
    np.testing.assert_allclose(-loss, gaussian.entropy(), rtol=1e-5)
    np.testing.assert_allclose(family.state_std(state), np.sqrt(np.diag(covariance)), rtol=1e-5)
    # Draws have that mean and covariance (tolerances: 5 Monte Carlo standard errors).
    draws = np.asarray(family.draw(jax.random.key(1), state, 40_000), np.float64)
    assert draws.shape == (40_000, DIM)
    std = np.sqrt(np.diag(covariance))
    assert np.all(np.abs(draws.mean(0) - mean) < 5 * std / np.sqrt(40_000))
    scale = np.sqrt(np.outer(np.diag(covariance), np.diag(covariance)) + covariance**2)
    assert np.all(np.abs(np.cov(draws.T) - covariance) < 5 * scale / np.sqrt(40_000))
    # log q is the Gaussian's density.
    np.testing.assert_allclose(family.state_log_prob(state, jnp.asarray(draws[:5], jnp.float32)),
                               gaussian.logpdf(draws[:5]), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.label)
def test_init_holds_the_covariance_it_is_given(family):
    chol = jnp.tril(jnp.full((DIM, DIM), 0.2)) + jnp.diag(jnp.linspace(0.5, 1.0, DIM))
    state = family.algorithm(target, optax.adam(0.1), 1).init(jnp.zeros(DIM), cholesky=chol)
    covariance = np.asarray(chol @ chol.T)
    got = np.asarray(family.state_covariance(state))
    if isinstance(family, FullRank):
        np.testing.assert_allclose(got, covariance, rtol=1e-5, atol=1e-6)
    else:  # the diagonal always matches; off-diagonal terms as far as the family can hold them
        np.testing.assert_allclose(np.diag(got), np.diag(covariance), rtol=2e-2)
    std_state = family.algorithm(target, optax.adam(0.1), 1).init(jnp.zeros(DIM), std=jnp.full(DIM, 0.7))
    np.testing.assert_allclose(family.state_std(std_state), np.full(DIM, 0.7), rtol=1e-5)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.label)
def test_step_is_jit_and_vmap_compatible_and_moves_toward_the_target(family):
    data = jnp.array([1.0, -2.0, 0.5, 3.0])
    algorithm = family.algorithm(target, optax.adam(0.05), 2)
    state = algorithm.init(jnp.zeros(DIM))
    eager, info = algorithm.step(jax.random.key(0), state, data)
    jitted, jitted_info = jax.jit(algorithm.step)(jax.random.key(0), state, data)
    for a, b in zip(jax.tree_util.tree_leaves(eager), jax.tree_util.tree_leaves(jitted)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert bool(info.finite) and np.isclose(float(info.loss), float(jitted_info.loss), rtol=1e-5)
    states = jax.tree_util.tree_map(lambda leaf: jnp.stack([leaf] * 3), state)
    keys = jax.random.split(jax.random.key(1), 3)
    batched, infos = jax.vmap(algorithm.step, (0, 0, None))(keys, states, data)
    for i in range(3):
        single, _ = algorithm.step(keys[i], state, data)
        for a, b in zip(jax.tree_util.tree_leaves(single), jax.tree_util.tree_leaves(batched)):
            np.testing.assert_allclose(b[i], a, rtol=1e-5, atol=1e-6)
    run = jax.jit(lambda s: jax.lax.fori_loop(0, 400, lambda i, s: algorithm.step(jax.random.key(i), s, data)[0], s))
    np.testing.assert_allclose(family.state_mean(run(state)), data, atol=0.3)
    assert int(run(state).step) == 400


def test_families_are_hashable_values_with_labels_that_round_trip():
    for family in FAMILIES:
        assert family_from_label(family.label) == family
        assert hash(family) == hash(dataclasses.replace(family))
        with pytest.raises(dataclasses.FrozenInstanceError):
            family.rank = 7
    assert LowRank(2) != LowRank(3) and MeanField() != FullRank()


@pytest.fixture(scope="module")
def model():
    with cr.Model() as model:
        w = cr.Normal("w", 0, 1, shape=2)
        sigma = cr.HalfNormal("sigma", 1)
        cr.Normal("y", w[0] + w[1] * np.linspace(-1, 1, 8), sigma, observed=np.linspace(-1, 2, 8))
    return model


@pytest.mark.parametrize("method,options", [("advi", {}), ("fullrank_advi", {}), ("lowrank_advi", {"rank": 2}),
                                            ("laplace", {})])
def test_every_family_saves_loads_and_continues_exactly(model, tmp_path, method, options):
    with model:
        approx = cr.fit(300, method=method, random_seed=0, progressbar=False, **options)
    approx.save(tmp_path / "fit.npz")
    loaded = cr.load_approximation(tmp_path / "fit.npz", model)
    assert loaded.family == approx.family
    for a, b in zip(jax.tree_util.tree_leaves(approx.state), jax.tree_util.tree_leaves(loaded.state)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(approx.refine(50, progressbar=False).hist, loaded.refine(50, progressbar=False).hist)


OPTIMIZERS = {
    "adagrad_window": lambda lr: cr.adagrad_window(lr),
    "adam": lambda lr: optax.adam(lr),
    "adam_schedule": lambda lr: optax.adam(optax.cosine_decay_schedule(lr, 1000, 0.1)),
    "sgd_momentum": lambda lr: optax.sgd(lr, momentum=0.9),
    "adamw_clipped": lambda lr: optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(lr)),
    "rmsprop": lambda lr: optax.rmsprop(lr),
    "lion": lambda lr: optax.lion(lr),
    "inject_hyperparams": lambda lr: optax.inject_hyperparams(optax.adam)(learning_rate=lr),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizers_of_equal_hyperparameters_share_a_key_and_differ_otherwise(name):
    make = OPTIMIZERS[name]
    assert optimizer_key(make(1e-3)) == optimizer_key(make(1e-3))
    assert Optimizer(make(1e-3)) == Optimizer(make(1e-3))
    assert hash(Optimizer(make(1e-3))) == hash(Optimizer(make(1e-3)))
    assert optimizer_key(make(1e-3)) != optimizer_key(make(2e-3))
    assert optimizer_key(make(1e-3))[0] == "structure"  # read, not fallen back to the object


def test_an_optimizer_that_cannot_be_read_is_its_own_key():
    class Opaque:  # unhashable, so it cannot be read or compared
        __hash__ = None

    opaque = Opaque()
    base = optax.adam(1e-3)
    unreadable = optax.GradientTransformation(base.init, lambda u, s, p=None, _o=opaque: base.update(u, s, p))
    key = optimizer_key(unreadable)
    assert key == ("object", unreadable) and key != optimizer_key(optax.adam(1e-3))


#: Learning rates for the fit below (plain momentum SGD diverges on this model at 1e-2).
FIT_RATES = {"sgd_momentum": 1e-3}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_fits_and_a_fresh_equal_one_reuses_the_program(model, name):
    make, rate = OPTIMIZERS[name], FIT_RATES.get(name, 1e-2)
    compiled = model.compile()
    with model:
        first = cr.fit(200, random_seed=0, progressbar=False, obj_optimizer=make(rate), chunk_size=100)
        builds = compiled.programs.builds
        second = cr.fit(200, random_seed=0, progressbar=False, obj_optimizer=make(rate), chunk_size=100)
    assert compiled.programs.builds == builds
    np.testing.assert_array_equal(first.hist, second.hist)
    assert np.isfinite(first.hist).all() and first.hist[-20:].mean() < first.hist[:20].mean()
