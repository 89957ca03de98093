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
    """An initialised state of ``family`` with every parameter moved off its start (one compiled call)."""
    algorithm = family.algorithm(target, optax.adam(0.1), 1)

    def make(key):
        chol = 0.3 * jnp.tril(jax.random.normal(key, (DIM, DIM)), -1) + jnp.diag(jnp.linspace(0.5, 1.5, DIM))
        state = algorithm.init(jnp.linspace(-1.0, 1.0, DIM), cholesky=chol, whiten=whiten)
        leaves, tree = jax.tree_util.tree_flatten(state.params)
        keys = jax.random.split(jax.random.fold_in(key, 1), len(leaves))
        moved = [leaf + 0.2 * jax.random.normal(k, leaf.shape) for leaf, k in zip(leaves, keys)]
        return state._replace(params=jax.tree_util.tree_unflatten(tree, moved))

    return jax.jit(make)(jax.random.key(seed))


@pytest.mark.parametrize("whiten", [False, True], ids=["plain", "framed"])
@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.label)
def test_entropy_log_density_and_covariance_are_those_of_one_gaussian(family, whiten):
    state = perturbed_state(family, whiten)
    algorithm = family.algorithm(lambda position, data: jnp.zeros(()), optax.sgd(0.0), 1)

    @jax.jit
    def summary(state, key):  # everything the checks need, in one compiled call
        draws = family.draw(key, state, 40_000)
        return (family.state_mean(state), family.state_covariance(state), family.state_std(state),
                -algorithm.loss(state, key, None), draws, family.state_log_prob(state, draws[:5]))

    mean, covariance, std, entropy, draws, log_q = (np.asarray(v, np.float64) for v in summary(state, jax.random.key(1)))
    np.testing.assert_allclose(covariance, covariance.T, atol=1e-6)
    gaussian = stats.multivariate_normal(mean, covariance)
    # The entropy (the loss with log p = 0) is the closed form of the covariance the family reports.
    np.testing.assert_allclose(entropy, gaussian.entropy(), rtol=1e-5)
    np.testing.assert_allclose(std, np.sqrt(np.diag(covariance)), rtol=1e-5)
    # Draws have that mean and covariance (tolerances: 5 Monte Carlo standard errors).
    assert draws.shape == (40_000, DIM)
    assert np.all(np.abs(draws.mean(0) - mean) < 5 * std / np.sqrt(40_000))
    scale = np.sqrt(np.outer(np.diag(covariance), np.diag(covariance)) + covariance**2)
    assert np.all(np.abs(np.cov(draws.T) - covariance) < 5 * scale / np.sqrt(40_000))
    # log q is the Gaussian's density.
    np.testing.assert_allclose(log_q, gaussian.logpdf(draws[:5]), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.label)
def test_init_holds_the_covariance_it_is_given(family):
    chol = jnp.tril(jnp.full((DIM, DIM), 0.2)) + jnp.diag(jnp.linspace(0.5, 1.0, DIM))
    algorithm = family.algorithm(target, optax.adam(0.1), 1)

    @jax.jit
    def covariances(chol):
        given = algorithm.init(jnp.zeros(DIM), cholesky=chol)
        diagonal = algorithm.init(jnp.zeros(DIM), std=jnp.full(DIM, 0.7))
        return family.state_covariance(given), family.state_std(diagonal)

    got, std = covariances(chol)
    covariance = np.asarray(chol @ chol.T)
    if isinstance(family, FullRank):
        np.testing.assert_allclose(got, covariance, rtol=1e-5, atol=1e-6)
    else:  # the diagonal always matches; off-diagonal terms as far as the family can hold them
        np.testing.assert_allclose(np.diag(got), np.diag(covariance), rtol=2e-2)
    np.testing.assert_allclose(std, np.full(DIM, 0.7), rtol=1e-5)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.label)
def test_step_is_jit_and_vmap_compatible_and_moves_toward_the_target(family):
    data = jnp.array([1.0, -2.0, 0.5, 3.0])
    algorithm = family.algorithm(target, optax.adam(0.05), 2)
    state = jax.jit(algorithm.init)(jnp.zeros(DIM))
    keys = jax.random.split(jax.random.key(1), 3)

    @jax.jit
    def check(state):
        single = jax.lax.map(lambda key: algorithm.step(key, state, data), keys)  # one state at a time
        states = jax.tree_util.tree_map(lambda leaf: jnp.stack([leaf] * 3), state)
        batched = jax.vmap(algorithm.step, (0, 0, None))(keys, states, data)
        final = jax.lax.fori_loop(0, 400, lambda i, s: algorithm.step(jax.random.key(i), s, data)[0], state)
        return single, batched, final

    (single, single_infos), (batched, infos), final = check(state)
    assert bool(np.all(single_infos.finite)) and bool(np.all(infos.finite))
    for a, b in zip(jax.tree_util.tree_leaves(single), jax.tree_util.tree_leaves(batched)):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(family.state_mean(final), data, atol=0.3)
    assert int(final.step) == 400


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
