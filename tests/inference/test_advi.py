"""Mean-field ADVI through ``cr.fit``: accuracy on conjugate models, reproducibility,
continuation, the NaN stop and the errors of bad arguments."""

from __future__ import annotations

import numpy as np
import optax
import pytest

import credo as cr
from credo.errors import FitError, NonFiniteLossError

# --- conjugate models ---------------------------------------------------------

SIGMA, PRIOR_MU, PRIOR_SD = 2.0, 1.0, 3.0
NORMAL_Y = np.random.default_rng(0).normal(2.5, SIGMA, size=20)


def normal_normal_model():
    with cr.Model() as model:
        mu = cr.Normal("mu", PRIOR_MU, sigma=PRIOR_SD)
        cr.Normal("y", mu, sigma=SIGMA, observed=NORMAL_Y)
    return model


def normal_normal_posterior():
    precision = 1 / PRIOR_SD**2 + NORMAL_Y.size / SIGMA**2
    mean = (PRIOR_MU / PRIOR_SD**2 + NORMAL_Y.sum() / SIGMA**2) / precision
    return mean, precision**-0.5


def decaying_adam(n):
    return optax.adam(optax.cosine_decay_schedule(0.05, n, alpha=0.002))


def test_normal_normal_posterior_mean_and_sd():
    n = 3000
    with normal_normal_model():
        approx = cr.fit(n, random_seed=0, obj_optimizer=decaying_adam(n), obj_n_mc=10, progressbar=False)
    mean, sd = normal_normal_posterior()
    assert approx.mean["mu"].shape == () and approx.std["mu"].shape == ()
    np.testing.assert_allclose(approx.mean["mu"], mean, rtol=0.02)
    assert abs(float(approx.mean["mu"]) - mean) < 0.05 * sd
    np.testing.assert_allclose(approx.std["mu"], sd, rtol=0.05)
    # the draws agree with the moments
    draws = approx.sample(4000, random_seed=1).posterior["mu"].values
    assert draws.shape == (1, 4000)
    np.testing.assert_allclose(draws.mean(), mean, atol=4 * sd / np.sqrt(4000) + 0.05 * sd)
    np.testing.assert_allclose(draws.std(), sd, rtol=0.08)
    assert len(approx.hist) == n and np.isfinite(approx.hist).all()
    # the loss fell: the last iterations' mean is below the first ones'
    assert approx.hist[-200:].mean() < approx.hist[:200].mean()


def test_gamma_poisson_positive_variable_mean():
    # Gamma(2, 1) prior on a Poisson rate: the posterior is Gamma(2 + sum y, 1 + n).
    # A Gaussian on log(rate) that minimises KL(q || p) has E_q[rate] equal to
    # the posterior mean exactly, so approx.mean recovers it up to Monte Carlo error.
    alpha, beta = 2.0, 1.0
    counts = np.random.default_rng(1).poisson(3.0, size=30)
    n = 3000
    with cr.Model():
        rate = cr.Gamma("rate", alpha=alpha, beta=beta)
        cr.Poisson("counts", rate, observed=counts)
        approx = cr.fit(n, random_seed=0, obj_optimizer=decaying_adam(n), obj_n_mc=10, progressbar=False)
    shape, inverse_scale = alpha + counts.sum(), beta + counts.size
    posterior_mean, posterior_sd = shape / inverse_scale, np.sqrt(shape) / inverse_scale
    assert float(approx.mean["rate"]) > 0
    np.testing.assert_allclose(approx.mean["rate"], posterior_mean, rtol=0.02)
    np.testing.assert_allclose(approx.std["rate"], posterior_sd, rtol=0.1)
    draws = approx.sample(500, random_seed=2).posterior["rate"].values
    assert (draws > 0).all()


# --- reproducibility and continuation ---------------------------------------------


def test_same_seed_same_fit_and_other_seed_differs():
    model = normal_normal_model()
    with model:
        first = cr.fit(1500, random_seed=7, progressbar=False)
        second = cr.fit(1500, random_seed=7, progressbar=False)
        other = cr.fit(1500, random_seed=8, progressbar=False)
    np.testing.assert_array_equal(first.hist, second.hist)
    for name in first.params:
        np.testing.assert_array_equal(first.params[name], second.params[name])
    assert not np.array_equal(first.hist, other.hist)
    assert not np.array_equal(np.asarray(first.params["mean"]), np.asarray(other.params["mean"]))
    # draws are reproducible too
    a = first.sample(50, random_seed=3).posterior["mu"].values
    b = second.sample(50, random_seed=3).posterior["mu"].values
    np.testing.assert_array_equal(a, b)


def test_refine_continues_the_same_fit():
    model = normal_normal_model()
    with model:
        # 1,500 steps end in the middle of a chunk: refine must carry on exactly there
        first = cr.fit(1500, random_seed=3, progressbar=False)
        approx = first.refine(1000, progressbar=False)
        whole = cr.fit(2500, random_seed=3, progressbar=False)
    # refine returns a new value: the fit it continued is left as it was
    assert approx is not first and len(first.hist) == first.num_steps == 1500
    np.testing.assert_array_equal(first.hist, approx.hist[:1500])
    assert len(approx.hist) == len(whole.hist) == 2500
    assert approx.num_steps == 2500
    np.testing.assert_allclose(approx.hist, whole.hist, rtol=1e-6, atol=1e-6)
    for name in whole.params:
        np.testing.assert_allclose(approx.params[name], whole.params[name], rtol=1e-6, atol=1e-7)


def test_advi_object_style_and_hist():
    with normal_normal_model():
        inference = cr.ADVI()
        assert len(inference.hist) == 0
        approx = cr.fit(n=1200, method=inference, random_seed=0, progressbar=False)
    assert isinstance(approx, cr.Approximation)
    assert inference.approx is approx
    assert isinstance(inference.hist, np.ndarray)
    assert inference.hist.shape == (1200,)
    np.testing.assert_array_equal(inference.hist, approx.hist)


def test_obj_n_mc_greater_than_one_reduces_noise():
    model = normal_normal_model()
    optimizer = optax.adam(0.02)
    with model:
        single = cr.fit(1000, random_seed=0, obj_optimizer=optimizer, progressbar=False)
        many = cr.fit(1000, random_seed=0, obj_optimizer=optimizer, obj_n_mc=16, progressbar=False)
    assert many.hist.shape == (1000,) and np.isfinite(many.hist).all()
    mean, _ = normal_normal_posterior()
    np.testing.assert_allclose(many.mean["mu"], mean, rtol=0.05)
    # the loss estimate averages 16 draws: its spread near the optimum is smaller
    assert many.hist[-300:].std() < single.hist[-300:].std()


# --- the NaN stop -------------------------------------------------------------------


def wall_model(wall=None):
    """``x`` is pushed towards a wall at 3, beyond which ``sqrt(3 - x)`` and its
    gradient are NaN; ``z`` is a bystander whose gradient stays finite."""
    with cr.Model() as model:
        x = cr.Normal("x", 0, 1)
        cr.Normal("z", 0, 1)
        cr.Potential("push", 10 * x)
        cr.Potential("wall", cr.math.sqrt(3 - x) if wall is None else wall(x))
    return model


def check_non_finite_error(error: NonFiniteLossError):
    assert isinstance(error, FloatingPointError)
    assert error.variables == ["x"]
    assert f"iteration {error.iteration}" in str(error) and "'x'" in str(error)
    approx = error.approximation
    assert isinstance(approx, cr.Approximation)
    hist = approx.hist
    assert np.isfinite(hist).all()
    assert len(hist) == error.iteration == approx.num_steps
    for value in approx.params.values():
        assert np.isfinite(np.asarray(value)).all()
    # the last finite approximation is usable
    draws = approx.sample(20, random_seed=0).posterior
    assert np.isfinite(draws["x"].values).all() and np.isfinite(draws["z"].values).all()


def test_non_finite_loss_stops_with_the_last_finite_approximation():
    with wall_model():
        with pytest.raises(NonFiniteLossError) as info:
            cr.fit(5000, random_seed=0, obj_optimizer=optax.adam(0.1), progressbar=False, chunk_size=10)
    # the wall is reached after a few dozen steps, past the first chunks
    assert 10 < info.value.iteration < 5000
    check_non_finite_error(info.value)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_non_finite_error_names_the_variable_with_several_draws_per_step(seed):
    # the failing step averaged 8 draws: the variables are found among those same draws
    with wall_model():
        with pytest.raises(NonFiniteLossError) as info:
            cr.fit(5000, random_seed=seed, obj_optimizer=optax.adam(0.1), obj_n_mc=8, progressbar=False,
                   chunk_size=50)
    check_non_finite_error(info.value)


def test_non_finite_loss_during_refine_counts_iterations_over_the_whole_fit():
    with wall_model():
        approx = cr.fit(3, random_seed=0, obj_optimizer=optax.adam(0.1), progressbar=False, chunk_size=50)
        with pytest.raises(NonFiniteLossError) as info:
            approx.refine(5000, progressbar=False)
    assert info.value.iteration > 3
    check_non_finite_error(info.value)


def test_finite_loss_with_non_finite_gradient_stops_at_the_right_iteration():
    # where() picks 0 beyond the wall, but the NaN gradient of the other branch leaks through
    def wall(x):
        return cr.math.where(x < 3, cr.math.sqrt(cr.math.maximum(3 - x, 0.0)), 0.0)

    with wall_model(wall):
        with pytest.raises(NonFiniteLossError) as info:
            cr.fit(5000, random_seed=0, obj_optimizer=optax.adam(0.1), progressbar=False, chunk_size=1000)
    assert info.value.iteration > 0
    check_non_finite_error(info.value)


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, -5, 2.5, True])
def test_bad_number_of_iterations(n):
    with normal_normal_model():
        with pytest.raises(FitError, match="n must be a positive"):
            cr.fit(n, progressbar=False)


def test_unknown_method():
    with normal_normal_model():
        with pytest.raises(FitError, match="unknown method 'nuts_please'"):
            cr.fit(100, method="nuts_please", progressbar=False)


def test_model_without_free_variables():
    with cr.Model():
        cr.Normal("y", 0, 1, observed=np.zeros(3))
        with pytest.raises(FitError, match="no free variables"):
            cr.fit(100, progressbar=False)


@pytest.mark.parametrize("optimizer", ["adam", optax.adam, 0.01])
def test_obj_optimizer_must_be_an_optax_transformation(optimizer):
    with normal_normal_model():
        with pytest.raises(FitError, match="optax.GradientTransformation"):
            cr.fit(100, obj_optimizer=optimizer, progressbar=False)


def test_refine_rejects_bad_n():
    with normal_normal_model():
        approx = cr.fit(10, random_seed=0, progressbar=False, chunk_size=10)
    with pytest.raises(FitError, match="n must be a positive"):
        approx.refine(0)


def test_fit_outside_a_model_context():
    with pytest.raises(TypeError, match="model context"):
        cr.fit(100, progressbar=False)
