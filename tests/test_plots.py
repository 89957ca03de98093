"""Tests of credo.plots: each plot returns its Figure with the expected axes."""

import matplotlib

matplotlib.use("Agg")

from pathlib import Path  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from credo import metrics, plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def moons_like():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def test_plot_loss_draws_raw_and_smoothed_curves():
    loss = 100.0 / np.arange(1, 101)
    figure = plots.plot_loss(loss, smooth=10)
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 1
    raw, smoothed = figure.axes[0].get_lines()
    assert len(raw.get_xdata()) == 100
    # a window of 10 leaves 91 averages, the first ending at iteration 9
    assert len(smoothed.get_xdata()) == 91 and smoothed.get_xdata()[0] == 9
    assert smoothed.get_ydata()[0] == pytest.approx(loss[:10].mean())


def test_plot_loss_on_given_axes():
    figure, ax = plt.subplots(1, 2)
    assert plots.plot_loss([3.0, 2.0, 1.0], ax=ax[1]) is figure
    assert len(ax[1].get_lines()) == 1 and len(ax[0].get_lines()) == 0


def test_plot_loss_rejects_bad_window():
    with pytest.raises(ValueError, match="smooth"):
        plots.plot_loss([3.0, 2.0, 1.0], smooth=5)


def test_grid_2d_covers_the_data_with_margin():
    X = np.array([[0.0, -1.0], [2.0, 3.0]])
    grid_x, grid_y, points = plots.grid_2d(X, resolution=5, margin=0.5)
    assert grid_x.shape == grid_y.shape == (5, 5)
    assert points.shape == (25, 2)
    # x from 0 - 0.5 to 2 + 0.5 in steps of 3 / 4
    np.testing.assert_allclose(grid_x[0], [-0.5, 0.25, 1.0, 1.75, 2.5])
    # y from -1 - 0.5 to 3 + 0.5 in steps of 5 / 4
    np.testing.assert_allclose(grid_y[:, 0], [-1.5, -0.25, 1.0, 2.25, 3.5])
    np.testing.assert_array_equal(points[:, 0], grid_x.ravel())
    np.testing.assert_array_equal(points[:, 1], grid_y.ravel())


def test_plot_decision_surface_has_two_panels_and_colorbars(moons_like):
    X, y = moons_like
    grid = plots.grid_2d(X, resolution=30)
    probability = 1 / (1 + np.exp(-grid.points.sum(axis=1)))
    std = np.sqrt(probability * (1 - probability))
    # flat values are reshaped to the grid
    figure = plots.plot_decision_surface(grid.grid_x, grid.grid_y, probability, std, X=X, y=y)
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 4  # two panels and their two colour bars
    mean_ax, std_ax = figure.axes[:2]
    assert "mean" in mean_ax.get_title() and "std" in std_ax.get_title()
    assert len(mean_ax.collections) >= 3  # contour plus one scatter per class


@pytest.mark.parametrize("std_of, title, colorbar", [
    ("p", "std of P(class 1) across posterior draws", "std of P(class 1)"),
    ("predictive", "std of the posterior predictive draws", "std of the predicted class label"),
])
def test_plot_decision_surface_names_its_std_and_labels_colour_bars(moons_like, std_of, title, colorbar):
    X, y = moons_like
    grid = plots.grid_2d(X, resolution=20)
    probability = 1 / (1 + np.exp(-grid.points.sum(axis=1)))
    figure = plots.plot_decision_surface(grid.grid_x, grid.grid_y, probability, probability / 2, std_of=std_of)
    mean_ax, std_ax, mean_bar, std_bar = figure.axes
    assert mean_ax.get_title() == "Posterior predictive mean of P(class 1)"
    assert "class 0" not in mean_ax.get_title()
    assert title in std_ax.get_title()
    assert mean_bar.get_ylabel() == "P(class 1)" and std_bar.get_ylabel() == colorbar
    with pytest.raises(ValueError, match="std_of"):
        plots.plot_decision_surface(grid.grid_x, grid.grid_y, probability, probability, std_of="sd")


def test_example_labels_the_class_1_probability():
    example = (Path(__file__).resolve().parents[1] / "examples" / "bnn_moons.py").read_text()
    assert "class label = 0" not in example and "probability of class label = 1" in example


def test_plot_decision_surface_rejects_wrong_sizes(moons_like):
    X, _ = moons_like
    grid = plots.grid_2d(X, resolution=10)
    with pytest.raises(ValueError, match="mean: expected shape"):
        plots.plot_decision_surface(grid.grid_x, grid.grid_y, np.zeros(99), np.zeros(100))
    with pytest.raises(ValueError, match="pass both"):
        plots.plot_decision_surface(grid.grid_x, grid.grid_y, np.zeros(100), np.zeros(100), X=X)


def test_plot_reliability_shows_ece_in_title(moons_like):
    _, y = moons_like
    probabilities = np.clip(0.2 + 0.6 * y + np.linspace(-0.15, 0.15, y.size), 0, 1)
    figure = plots.plot_reliability(y, probabilities, n_bins=5)
    assert len(figure.axes) == 1
    error = metrics.expected_calibration_error(y, probabilities, n_bins=5)
    assert f"{error:.3f}" in figure.axes[0].get_title()


def test_plot_predictive_interval():
    x = np.linspace(-1, 1, 20)[::-1]  # unsorted input is sorted for drawing
    figure = plots.plot_predictive_interval(
        x, x ** 2, x ** 2 - 0.1, x ** 2 + 0.1, x_train=x[:5], y_train=x[:5] ** 2
    )
    assert len(figure.axes) == 1
    (line,) = figure.axes[0].get_lines()
    assert np.all(np.diff(line.get_xdata()) > 0)
    with pytest.raises(ValueError, match="same length"):
        plots.plot_predictive_interval(x, x, x[:-1], x)


def test_plot_data_and_predicted_labels(moons_like):
    X, y = moons_like
    figure = plots.plot_data(X, y, title="Training data")
    assert len(figure.axes) == 1 and figure.axes[0].get_title() == "Training data"
    assert len(figure.axes[0].collections) == 2  # one scatter per class
    figure = plots.plot_predicted_labels(X, X[:, 0] > 0)
    assert len(figure.axes) == 1 and len(figure.axes[0].collections) == 2
    with pytest.raises(ValueError, match=r"X: expected shape \(N, 2\)"):
        plots.plot_data(X[:, :1], y)
