"""Point-estimated layers (bayesian=False) inside a mean-field fit, and the compiled step of large networks."""

import os
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats

import credo as cr
from credo.errors import FitError, NonFiniteLossError
from credo.inference.advi import CONDITIONAL_SIZE, MeanField, family_from_label

N = 100
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, 1))
Y = 1.5 * X[:, 0] + 0.5 + RNG.normal(size=N)


def regression(bayesian_slope: bool = False):
    """y ~ Normal(x w + b, 1): the slope w a point estimate (prior N(0, 2^2)), the intercept b ~ N(0, 1)."""
    with cr.Model() as model:
        slope = cr.nn.dense("lin", cr.Data("x", X), 1, activation=None, bias=False, prior_sigma=2.0,
                            bayesian=bayesian_slope)
        b = cr.Normal("b", 0.0, 1.0)
        cr.Normal("y", slope[:, 0] + b, 1.0, observed=Y)
    return model


def test_a_point_estimate_is_the_map_inside_the_elbo():
    # With q(b) = N(m, s^2) and w a point, the ELBO is, up to constants,
    #   -sum (y - x w - m)^2 / 2 - n s^2 / 2 - w^2 / 8 - (m^2 + s^2) / 2 + log s,
    # maximised at s = 1 / sqrt(n + 1) and (w, m) solving the 2x2 system below.
    model = regression()
    n = 4000
    approx = cr.fit(n, model=model, random_seed=0, progressbar=False,
                    obj_optimizer=optax.adam(optax.cosine_decay_schedule(0.05, n, alpha=0.002)))
    x = X[:, 0]
    system = np.array([[x @ x + 1 / 4, x.sum()], [x.sum(), N + 1]])
    w, m = np.linalg.solve(system, [x @ Y, Y.sum()])
    # the last steps move the means by about lr (1e-4) times the gradient noise: 0.01 is far above it
    assert approx.mean["lin_w"].item() == pytest.approx(w, abs=0.01)
    assert approx.mean["b"] == pytest.approx(m, abs=0.01)
    assert approx.std["b"] == pytest.approx(1 / np.sqrt(N + 1), rel=0.05)
    assert approx.std["lin_w"].item() == 0.0  # no spread: every draw is the point
    draws = approx.sample(50, random_seed=1, return_inferencedata=False)
    assert np.all(draws["lin_w"] == approx.mean["lin_w"]) and np.std(draws["b"]) > 0
    assert approx.family == MeanField(point=((0, 1),)) and approx.family.label == "meanfield:point=0-1"
    path = os.path.join(tempfile.mkdtemp(), "point.npz")
    approx.save(path)
    loaded = cr.load_approximation(path, model)
    assert loaded.family == approx.family
    np.testing.assert_array_equal(loaded.sample(5, random_seed=2, return_inferencedata=False)["lin_w"],
                                  draws["lin_w"][:5])


def test_point_estimates_need_the_mean_field_family():
    with pytest.raises(FitError, match="point-estimated"):
        cr.fit(10, model=regression(), method="fullrank_advi", init="initial_point", progressbar=False)
    assert family_from_label("meanfield:point=0-3,5-9") == MeanField(point=((0, 3), (5, 9)))
    with pytest.raises(ValueError, match="point"):
        family_from_label("meanfield:point=3")
    with pytest.raises(FitError, match="disjoint"):
        MeanField(point=((0, 5), (3, 8)))


def test_mean_field_entropy_and_log_q_leave_the_point_slices_out():
    family = MeanField(point=((1, 3),))
    params = {"mean": jnp.array([0.5, 1.0, -1.0, 2.0]), "rho": jnp.array([0.3, -0.2, 0.1, 1.0])}
    std = np.asarray(jax.nn.softplus(params["rho"]))
    kept = [0, 3]
    assert float(family.entropy(params)) == pytest.approx(sum(stats.norm(0, std[i]).entropy() for i in kept),
                                                          rel=1e-5)
    x = jnp.array([0.1, 1.0, -1.0, 2.5])
    expected = sum(stats.norm(params["mean"][i], std[i]).logpdf(x[i]) for i in kept)
    assert float(family.log_prob(params, x)) == pytest.approx(expected, rel=1e-5)
    np.testing.assert_array_equal(np.asarray(family.std(params))[1:3], 0.0)


def big_wall_model():
    """``x`` pushed towards a wall at 3 (NaN beyond it), with a bystander large enough for the conditional step."""
    with cr.Model() as model:
        x = cr.Normal("x", 0, 1)
        cr.Normal("z", 0, 1, shape=CONDITIONAL_SIZE)
        cr.Potential("push", 10 * x)
        cr.Potential("wall", cr.math.sqrt(3 - x))
    return model


def test_a_large_fit_stops_at_a_non_finite_step_with_the_last_finite_state():
    with pytest.raises(NonFiniteLossError) as info:
        cr.fit(5000, model=big_wall_model(), random_seed=0, obj_optimizer=optax.adam(0.1), progressbar=False,
               chunk_size=10)
    error = info.value
    assert 10 < error.iteration < 5000 and error.variables == ["x"]
    approx = error.approximation
    assert len(approx.hist) == error.iteration == approx.num_steps and np.isfinite(approx.hist).all()
    assert all(np.isfinite(np.asarray(v)).all() for v in approx.params.values())


def test_a_large_fit_continued_equals_one_long_fit():
    # chunks of 64 steps: the runs end inside a chunk, whose remaining steps are skipped
    model = big_wall_model()
    with model:
        cr.Potential("hold", -10 * model["x"] ** 2)  # keeps x away from the wall
    fit = lambda n: cr.fit(n, model=model, random_seed=3, obj_optimizer=optax.adam(1e-2), progressbar=False,  # noqa
                           chunk_size=64)
    once, twice = fit(300), fit(200).refine(100, progressbar=False)
    np.testing.assert_array_equal(once.hist, twice.hist)
    for key in once.params:
        np.testing.assert_array_equal(once.params[key], twice.params[key])
