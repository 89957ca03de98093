"""cr.fit(n_starts=k): several fits in one vmapped loop, the best kept."""

from __future__ import annotations

import numpy as np
import pytest

import credo as cr
from credo.errors import FitError


OPTIMIZER = cr.adagrad_window(1e-2)


@pytest.fixture(scope="module")
def model():
    # y = w**2 + noise: two modes, w = +-1.5; the initial point w = 0 sits between them.
    with cr.Model() as model:
        w = cr.Normal("w", 0, 2)
        b = cr.Normal("b", 0, 1)
        cr.Normal("y", w**2, 0.3, observed=np.full(20, 2.25))
        cr.Normal("z", b, 1, observed=np.array([0.5]))
    return model


def test_multi_start_keeps_the_best_and_reports_every_final_loss(model):
    with model:
        single = cr.fit(2000, random_seed=3, progressbar=False, obj_optimizer=OPTIMIZER)
        multi = cr.fit(2000, random_seed=3, progressbar=False, n_starts=6, obj_optimizer=OPTIMIZER)
    losses = multi.start_losses
    assert losses.shape == (6,) and np.isfinite(losses).all()
    assert multi.best_start == int(np.argmin(losses))
    assert len(np.unique(np.round(losses, 3))) > 1  # the starts differ
    # The first start is the single fit of the same seed, so the best is never worse.
    np.testing.assert_allclose(losses[0], np.mean(single.hist[-200:]), rtol=1e-5)
    assert losses.min() <= losses[0]
    np.testing.assert_allclose(multi.hist[-200:].mean(), losses.min(), rtol=1e-5)
    assert multi.hist.shape == (2000,)
    # The kept fit continues like any other.
    multi = multi.refine(500, progressbar=False)
    assert len(multi.hist) == 2500
    assert abs(abs(float(multi.mean["w"])) - 1.5) < 0.3


@pytest.mark.slow
def test_multi_start_with_the_map_start_of_full_rank(model):
    with model:
        approx = cr.fit(500, method="fullrank_advi", random_seed=0, progressbar=False, n_starts=3,
                        start={"w": 0.5})  # w = 0 is a saddle: L-BFGS would not move from it
    assert approx.start_losses.shape == (3,) and np.isfinite(approx.start_losses).all()
    assert approx.state.frame is not None and set(approx.params) == {"mean", "chol"}
    assert abs(abs(float(approx.mean["w"])) - 1.5) < 0.3


def test_multi_start_arguments(model):
    with model:
        with pytest.raises(FitError, match="n_starts"):
            cr.fit(10, n_starts=0, progressbar=False)
        with pytest.raises(FitError, match="callbacks"):
            cr.fit(10, n_starts=2, progressbar=False, callbacks=[lambda *a: None])
