"""cr.fit(n_starts=k, keep="all"): every start kept as one equal-weight mixture, run as one program."""

from __future__ import annotations

import jax
import numpy as np
import optax
import pytest
from scipy.special import logsumexp

import credo as cr
from credo.errors import FitError
from credo.inference.mixture import Mixture, component_indices, stacking_weights
from credo.inference.programs import ADVIChunk

OPTIMIZER = optax.adam(0.05)
MEMBERS = 6


@pytest.fixture(scope="module")
def model():
    # y = w**2 + noise: two modes, w = +-1.5 (each a near-Gaussian of sd about 0.02); b is a plain normal.
    with cr.Model() as model:
        w = cr.Normal("w", 0, 2)
        b = cr.Normal("b", 0, 1)
        cr.Normal("y", w**2, 0.3, observed=np.full(20, 2.25))
        cr.Normal("z", b, 1, observed=np.array([0.5]))
    return model


@pytest.fixture(scope="module")
def mixture(model):
    with model:
        return cr.fit(2000, random_seed=3, progressbar=False, n_starts=MEMBERS, keep="all", obj_optimizer=OPTIMIZER)


@pytest.mark.slow
def test_every_start_is_kept_and_the_members_find_both_modes(mixture):
    assert isinstance(mixture.family, Mixture) and mixture.family.label == f"mixture{MEMBERS}[meanfield]"
    np.testing.assert_allclose(mixture.weights, np.full(MEMBERS, 1 / MEMBERS), rtol=1e-6)
    members = mixture.members
    assert len(members) == MEMBERS
    w = np.array([float(member.mean["w"]) for member in members])
    np.testing.assert_allclose(np.abs(w), 1.5, atol=0.05)  # every member at a mode ...
    assert (w > 0).any() and (w < 0).any()  # ... and the ensemble holds both
    # b's posterior is N(0.25, 1/2): the members find it, up to the noise of Adam at a constant 0.05
    assert abs(np.mean([float(m.mean["b"]) for m in members]) - 0.25) < 0.15
    assert abs(np.mean([float(m.std["b"]) for m in members]) - np.sqrt(0.5)) < 0.15
    assert mixture.start_losses.shape == (MEMBERS,) and np.isfinite(mixture.start_losses).all()
    assert mixture.hist.shape == (2000,)


def test_the_moments_are_the_mixture_of_the_members(mixture):
    members = mixture.members
    means = np.array([float(m.mean["w"]) for m in members])
    variances = np.array([float(m.std["w"]) ** 2 for m in members])
    mean = means.mean()
    std = np.sqrt(np.mean(variances + means**2) - mean**2)
    np.testing.assert_allclose(float(mixture.mean["w"]), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(mixture.std["w"]), std, rtol=1e-5)
    assert float(mixture.std["w"]) > 0.5  # two modes 3 apart: far wider than any member (sd ~ 0.02)


def test_draws_are_stratified_and_match_the_members_moments(mixture):
    num = 6000
    family = mixture.family  # its methods jitted: outside jit JAX compiles them operation by operation
    flat = np.asarray(jax.jit(family.draw, static_argnums=2)(jax.random.key(1), mixture.state, num))
    assert flat.shape == (num, 2)
    members = family.members(mixture.state)
    member_means = np.asarray(jax.jit(jax.vmap(family.member.state_mean))(members))
    member_stds = np.asarray(jax.jit(jax.vmap(family.member.state_std))(members))
    # each draw belongs to the member whose mean it is nearest (in units of that member's sd): every member
    # gets exactly num / k draws, and within a member the draws have its moments.
    distance = np.abs((flat[:, None, :] - member_means[None]) / member_stds[None]).sum(axis=2)
    owner = distance.argmin(axis=1)
    # members at the same mode cannot be told apart by position; count by mode and by b instead
    mode_counts = np.bincount((member_means[owner, 0] > 0).astype(int), minlength=2)
    expected = np.bincount((member_means[:, 0] > 0).astype(int), minlength=2) * num // MEMBERS
    np.testing.assert_array_equal(mode_counts, expected)
    # the draws' mean and variance against the mixture's: Monte Carlo standard error sd / sqrt(num), 5 of them
    mean = member_means.mean(axis=0)
    variance = np.mean(member_stds**2 + member_means**2, axis=0) - mean**2
    assert np.all(np.abs(flat.mean(axis=0) - mean) < 5 * np.sqrt(variance / num))
    # the variance of b: standard error sqrt(2 / num) * variance for a near-normal component
    assert abs(flat[:, 1].var() - variance[1]) < 5 * np.sqrt(2 / num) * variance[1]


def test_component_indices_give_every_member_its_share():
    counts = np.bincount(np.asarray(component_indices(jax.random.key(0), np.array([0.5, 0.25, 0.0, 0.25]), 400)),
                         minlength=4)
    np.testing.assert_array_equal(counts, [200, 100, 0, 100])


def test_the_density_is_the_weighted_sum_of_the_members(mixture):
    x = np.array([[1.5, 0.2], [-1.49, 0.3], [0.0, 0.0]], np.float32)
    family = mixture.family
    members = family.members(mixture.state)
    per_member = np.asarray(jax.jit(jax.vmap(lambda m: family.member.state_log_prob(m, x)))(members))
    expected = logsumexp(per_member, axis=0) - np.log(MEMBERS)
    np.testing.assert_allclose(np.asarray(jax.jit(family.state_log_prob)(mixture.state, x)), expected, rtol=1e-5)


def test_save_and_load_round_trip(mixture, model, tmp_path):
    path = tmp_path / "mixture.npz"
    mixture.save(path)
    with model:
        loaded = cr.load_approximation(path, optimizer=OPTIMIZER)
    assert loaded.family == mixture.family
    for name, value in mixture.state.params.items():
        np.testing.assert_array_equal(np.asarray(loaded.state.params[name]), np.asarray(value))
    np.testing.assert_array_equal(loaded.hist, mixture.hist)
    a = mixture.sample(200, random_seed=5, return_inferencedata=False)
    b = loaded.sample(200, random_seed=5, return_inferencedata=False)
    for name in a:
        np.testing.assert_array_equal(np.asarray(a[name]), np.asarray(b[name]))
    # the loaded mixture continues as one: its members keep their modes
    refined = loaded.refine(200, progressbar=False)
    assert len(refined.hist) == 2200
    np.testing.assert_allclose(np.abs([float(m.mean["w"]) for m in refined.members]), 1.5, atol=0.05)


def test_k_members_compile_one_chunk_program(model):
    with model:
        compiled = model.compile()
        before = compiled.programs.builds
        cr.fit(300, random_seed=0, progressbar=False, n_starts=4, keep="all", obj_optimizer=OPTIMIZER)
        built = compiled.programs.builds - before
        chunks = [spec for spec in compiled.programs.specs() if isinstance(spec, ADVIChunk)
                  and isinstance(spec.family, Mixture) and spec.family.size == 4]
        assert len(chunks) == 1  # one program runs the four members
        # a second ensemble of the same size and settings builds nothing new
        again = compiled.programs.builds
        cr.fit(300, random_seed=1, progressbar=False, n_starts=4, keep="all", obj_optimizer=OPTIMIZER)
        assert compiled.programs.builds == again
    assert built <= 3  # the chunk, the members' ELBO estimate and the draws of the fit's report


def test_weights_and_arguments(mixture, model):
    reweighted = mixture.with_weights([1, 0, 0, 0, 0, 3])
    np.testing.assert_allclose(reweighted.weights, [0.25, 0, 0, 0, 0, 0.75])
    members = mixture.members
    np.testing.assert_allclose(float(reweighted.mean["w"]),
                               0.25 * float(members[0].mean["w"]) + 0.75 * float(members[5].mean["w"]), rtol=1e-5)
    with pytest.raises(FitError, match="with_weights"):
        mixture.with_weights([1, 2])
    with pytest.raises(FitError, match="with_weights"):
        mixture.with_weights([-1, 1, 1, 1, 1, 1])
    with model:
        with pytest.raises(FitError, match="keep"):
            cr.fit(10, n_starts=2, keep="some", progressbar=False)
        single = cr.fit(10, progressbar=False)
    with pytest.raises(FitError, match="not a mixture"):
        single.with_weights([1.0])


def test_stacking_weights_maximise_the_held_out_density():
    rng = np.random.default_rng(0)
    log_densities = np.log(rng.uniform(0.05, 1.0, size=(3, 200)))
    weights = stacking_weights(log_densities)
    assert weights.shape == (3,) and abs(weights.sum() - 1) < 1e-9 and (weights >= 0).all()
    best = logsumexp(log_densities, b=weights[:, None], axis=0).sum()
    for _ in range(200):  # no point of the simplex does better
        other = rng.dirichlet(np.ones(3))
        assert logsumexp(log_densities, b=other[:, None], axis=0).sum() <= best + 1e-6
