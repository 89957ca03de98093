"""Callbacks that stop fits, user callables, and optax schedules as learning rates."""

from __future__ import annotations

import numpy as np
import optax
import pytest

import credo as cr


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    with cr.Model() as model:
        mu = cr.Normal("mu", 0, 10)
        sigma = cr.HalfNormal("sigma", 2)
        cr.Normal("y", mu, sigma, observed=rng.normal(1.0, 0.5, size=50))
    return model


def test_check_parameters_convergence_stops_the_fit(model):
    check = cr.callbacks.CheckParametersConvergence(every=100, tolerance=1e-2, diff="absolute")
    with model:
        approx = cr.fit(50_000, random_seed=0, progressbar=False, callbacks=[check])
    steps = len(approx.hist)
    assert steps < 50_000 and steps % 100 == 0  # checked every 100 steps
    assert approx.stop_reason == f"Convergence achieved at {steps}"
    assert abs(float(approx.mean["mu"]) - 1.0) < 0.3


def test_check_parameters_convergence_relative_is_pymc_like():
    check = cr.callbacks.CheckParametersConvergence()
    assert (check.every, check.tolerance, check.diff) == (100, 1e-3, "relative")
    np.testing.assert_allclose(cr.callbacks.relative(np.array([1.1]), np.array([1.0])), [0.1], rtol=1e-4)
    with pytest.raises(ValueError, match="diff"):
        cr.callbacks.CheckParametersConvergence(diff="squared")


def test_loss_convergence_works_on_noisy_losses():
    loss = cr.callbacks.LossConvergence(window=200, tolerance=0.01)
    rng = np.random.default_rng(0)
    with pytest.raises(StopIteration, match="Convergence achieved at") as stopped:
        for step in range(100, 10_001, 100):
            # Flat but noisy (sd 10% of the level): a per-step rule would never settle.
            loss(None, 100 + 10 * rng.normal(size=100), step)
    assert loss.changes[-1][0] <= 2000 and "the mean loss over the last 200 steps" in str(stopped.value)
    decreasing = cr.callbacks.LossConvergence(window=200, tolerance=0.01)
    for step in range(100, 2001, 100):
        decreasing(None, np.full(100, 1000.0 / step), step)  # still falling fast: no stop


def test_loss_convergence_stops_a_fit(model):
    loss = cr.callbacks.LossConvergence(window=1000, tolerance=0.02)
    with model:
        approx = cr.fit(100_000, random_seed=0, progressbar=False, callbacks=[loss])
    assert len(approx.hist) < 100_000 and approx.stop_reason.startswith("Convergence achieved")


def test_user_callbacks_see_the_approximation_and_may_stop(model):
    calls = []

    def record(approx, losses, step):
        calls.append((step, len(losses), approx.num_steps))

    def stop_at_3000(approx, losses, step):
        if step >= 3000:
            return StopIteration

    tracker = cr.callbacks.Tracker(mean=lambda approx: approx.mean_unconstrained.copy())
    with model:
        approx = cr.fit(10_000, random_seed=0, progressbar=False, callbacks=[record, tracker, stop_at_3000])
    assert calls == [(1000, 1000, 1000), (2000, 1000, 2000), (3000, 1000, 3000)]
    assert len(tracker["mean"]) == 3 and tracker.steps == [1000, 2000, 3000]
    assert len(approx.hist) == 3000 and "stop_at_3000" in approx.stop_reason

    def raise_stop(approx, losses, step):
        raise StopIteration("enough")

    approx = approx.refine(5000, progressbar=False, callbacks=[raise_stop])
    assert len(approx.hist) == 4000 and approx.stop_reason == "enough"


def test_optax_schedule_as_learning_rate(model):
    # The learning rate drops to zero after 300 steps: the parameters stop there.
    schedule = optax.piecewise_constant_schedule(1e-2, {300: 0.0})
    params = []
    with model:
        cr.fit(1000, random_seed=0, progressbar=False, chunk_size=250,
               obj_optimizer=cr.adagrad_window(schedule),
               callbacks=[lambda a, losses, step: params.append(np.array(a.params["mean"]))])
    assert not np.allclose(params[0], params[1])  # steps 250 -> 500 crossed 300
    np.testing.assert_array_equal(params[1], params[2])
    np.testing.assert_array_equal(params[2], params[3])
    with model:
        decayed = cr.fit(2000, random_seed=0, progressbar=False,
                         obj_optimizer=optax.adam(optax.exponential_decay(0.05, 500, 0.5)))
    assert abs(float(decayed.mean["mu"]) - 1.0) < 0.3
