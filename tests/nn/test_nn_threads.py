"""Estimators own their model: one estimator per thread is safe, and results do not depend on the others."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from credo.nn import BNNRegressor

FAST = dict(hidden_layer_sizes=(8,), n_iter=300, draws=50, learning_rate=0.05, n_members=1)


def data(seed: int, rows: int):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(rows, 2))
    return X, np.sin(X[:, 0]) + 0.3 * X[:, 1] + 0.1 * rng.normal(size=rows)


def fit_and_predict(seed: int):
    X, y = data(seed, rows=40 + 13 * seed)  # different row counts: different programs
    model = BNNRegressor(**FAST, random_state=seed).fit(X, y)
    return model.predict(X[:9], return_std=True), model.posterior_


@pytest.mark.slow
def test_estimators_in_threads_equal_the_same_fits_one_after_another():
    sequential = [fit_and_predict(seed) for seed in range(3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        threaded = list(pool.map(fit_and_predict, range(3)))
    for ((mean, std), posterior), ((t_mean, t_std), t_posterior) in zip(sequential, threaded):
        np.testing.assert_array_equal(mean, t_mean)
        np.testing.assert_array_equal(std, t_std)
        for name in posterior:
            np.testing.assert_array_equal(posterior[name], t_posterior[name])


def test_predictions_do_not_change_the_fitted_model():
    X, y = data(0, rows=30)
    model = BNNRegressor(**FAST, random_state=0).fit(X, y)
    held = {name: np.asarray(value) for name, value in model.approximation_.model.data_values.items()}
    first = model.predict(X[:5])
    model.predict(np.zeros((123, 2)))  # another bucket of rows
    np.testing.assert_array_equal(model.predict(X[:5]), first)
    for name, value in model.approximation_.model.data_values.items():
        np.testing.assert_array_equal(np.asarray(value), held[name])
