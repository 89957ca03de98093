"""Plots for fitted Bayesian neural networks.

Every plotting function draws on the axes it is given (``ax=None`` makes a
new figure), returns the :class:`matplotlib.figure.Figure` and never calls
``plt.show``. ``matplotlib.pyplot`` is imported inside the functions so that
importing credo stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

import numpy as np
from numpy.typing import ArrayLike

from . import metrics

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "Grid2D",
    "grid_2d",
    "plot_data",
    "plot_decision_surface",
    "plot_loss",
    "plot_predicted_labels",
    "plot_predictive_interval",
    "plot_reliability",
]

_CLASS_COLORS = ("tab:blue", "tab:red", "tab:green", "tab:orange", "tab:purple")


class Grid2D(NamedTuple):
    """A regular 2-D grid, as made by :func:`grid_2d`.

    Attributes
    ----------
    grid_x, grid_y : numpy.ndarray
        ``(resolution, resolution)`` meshgrid coordinates.
    points : numpy.ndarray
        ``(resolution ** 2, 2)`` the grid points as rows, in the order of
        ``grid_x.ravel()``; predictions on ``points`` reshape to the grid.
    """

    grid_x: np.ndarray
    grid_y: np.ndarray
    points: np.ndarray


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _figure_and_axes(ax: Axes | None) -> tuple[Figure, Axes]:
    """The given axes and their root figure, or a new figure with one axes."""
    if ax is None:
        import matplotlib.pyplot as plt

        figure, ax = plt.subplots()
        return figure, ax
    return _root_figure(ax), ax


def _root_figure(ax: Axes) -> Figure:
    figure = ax.figure
    while getattr(figure, "figure", figure) is not figure:  # sub-figures
        figure = figure.figure
    return figure


def _as_vector(values: ArrayLike, argument: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{argument}: expected a 1-D array, got shape {array.shape}.")
    return array


def _as_points_2d(X: ArrayLike, argument: str = "X") -> np.ndarray:
    array = np.asarray(X, dtype=float)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(
            f"{argument}: expected shape (N, 2) of 2-D inputs, got shape {array.shape}."
        )
    return array


def _check_same_length(arrays: dict[str, np.ndarray]) -> None:
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise ValueError(f"expected arrays of the same length: {described}.")


def _scatter_by_class(ax: Axes, X: np.ndarray, labels: ArrayLike, argument: str) -> None:
    """Scatter the rows of ``X`` with one colour and legend entry per class."""
    labels = np.asarray(labels)
    if labels.dtype == bool:
        labels = labels.astype(int)
    if labels.ndim != 1:
        raise ValueError(f"{argument}: expected a 1-D array of labels, got shape {labels.shape}.")
    _check_same_length({"X": X, argument: labels})
    for index, label in enumerate(np.unique(labels)):
        chosen = labels == label
        color = _CLASS_COLORS[index % len(_CLASS_COLORS)]
        ax.scatter(X[chosen, 0], X[chosen, 1], s=12, color=color,
                   edgecolor="white", linewidth=0.4, label=f"class {_label_text(label)}")
    ax.legend(loc="best")


def _label_text(label: Any) -> str:
    """``1.0`` and ``1`` both read as ``1``; other labels as they are."""
    if isinstance(label, (np.integer, np.floating)):
        return f"{label:g}"
    return str(label)


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------


def plot_loss(hist: ArrayLike, ax: Axes | None = None, smooth: int | None = None) -> Figure:
    """Plot the loss (negative ELBO) against the iteration.

    Parameters
    ----------
    hist : array_like
        ``(num_steps,)`` loss per iteration.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure by default.
    smooth : int, optional
        Window of a moving average drawn over the raw curve (which is then
        drawn faintly).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> figure = plot_loss(1000 / np.arange(1, 501), smooth=20)
    """
    loss = _as_vector(hist, "hist")
    if loss.size == 0:
        raise ValueError("hist: expected at least one loss value, got an empty array.")
    figure, ax = _figure_and_axes(ax)
    steps = np.arange(loss.size)
    if smooth is None:
        ax.plot(steps, loss, color="tab:blue", label="loss")
    else:
        window = _check_window(smooth, loss.size)
        averaged = np.convolve(loss, np.ones(window) / window, mode="valid")
        ax.plot(steps, loss, color="tab:blue", alpha=0.3, label="loss")
        ax.plot(steps[window - 1:], averaged, color="tab:blue",
                label=f"moving average ({window})")
        ax.legend(loc="best")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (negative ELBO)")
    return figure


def _check_window(smooth: int, length: int) -> int:
    if isinstance(smooth, bool) or not isinstance(smooth, (int, np.integer)):
        raise TypeError(f"smooth: expected an int window, got {type(smooth).__name__}.")
    if not 1 <= smooth <= length:
        raise ValueError(
            f"smooth: expected a window between 1 and the number of iterations "
            f"({length}), got {smooth}."
        )
    return int(smooth)


# --------------------------------------------------------------------------
# 2-D classification
# --------------------------------------------------------------------------


def grid_2d(X: ArrayLike, resolution: int = 100, margin: float = 0.5) -> Grid2D:
    """A regular grid covering 2-D inputs, for plotting a decision surface.

    Parameters
    ----------
    X : array_like
        ``(N, 2)`` inputs.
    resolution : int, default 100
        Number of grid points along each axis.
    margin : float, default 0.5
        Extra room beyond the smallest and largest input on each axis.

    Returns
    -------
    Grid2D
        ``(grid_x, grid_y, points)``; ``points`` has shape
        ``(resolution ** 2, 2)``.

    Examples
    --------
    >>> grid_x, grid_y, points = grid_2d([[0.0, 0.0], [1.0, 2.0]], resolution=3, margin=0.0)
    >>> grid_x[0]
    array([0. , 0.5, 1. ])
    >>> points.shape
    (9, 2)
    """
    inputs = _as_points_2d(X)
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)):
        raise TypeError(f"resolution: expected an int, got {type(resolution).__name__}.")
    if resolution < 2:
        raise ValueError(f"resolution: expected at least 2 points per axis, got {resolution}.")
    if inputs.shape[0] == 0:
        raise ValueError("X: expected at least one point, got an empty array.")
    low = inputs.min(axis=0) - margin
    high = inputs.max(axis=0) + margin
    grid_x, grid_y = np.meshgrid(
        np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution)
    )
    points = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    return Grid2D(grid_x, grid_y, points)


def _on_grid(values: ArrayLike, grid_shape: tuple[int, ...], argument: str) -> np.ndarray:
    """Values with the grid's shape (flat values are reshaped)."""
    array = np.asarray(values, dtype=float)
    if array.shape == grid_shape:
        return array
    if array.size == int(np.prod(grid_shape)) and array.ndim == 1:
        return array.reshape(grid_shape)
    raise ValueError(
        f"{argument}: expected shape {grid_shape} (the grid's) or a flat array of "
        f"{int(np.prod(grid_shape))} values, got shape {array.shape}."
    )


#: What the std panel of :func:`plot_decision_surface` shows: ``std_of`` -> (title, colour-bar label).
STD_KINDS = {
    "p": ("Uncertainty: std of P(class 1) across posterior draws", "std of P(class 1)"),
    "predictive": ("Uncertainty: std of the posterior predictive draws", "std of the predicted class label"),
}


def plot_decision_surface(
    grid_x: ArrayLike,
    grid_y: ArrayLike,
    mean: ArrayLike,
    std: ArrayLike,
    X: ArrayLike | None = None,
    y: ArrayLike | None = None,
    axes: Sequence[Axes] | None = None,
    *,
    std_of: str = "p",
) -> Figure:
    """Plot the predictive mean probability of class 1 and an uncertainty on a grid.

    Two panels, each with a labelled colour bar: the posterior predictive
    mean of P(class 1), and a standard deviation across posterior draws, of
    one of two quantities (``std_of``):

    - ``"p"``: the std of the network's output probability P(class 1)
      across posterior draws (the model's uncertainty about the probability);
    - ``"predictive"``: the std of the posterior predictive draws of the
      class label (0 or 1), as the PyMC tutorial plots; it also holds the
      noise of the Bernoulli draw (about ``sqrt(m (1 - m))`` for a mean m).

    If ``X`` and ``y`` are given, the training points are drawn by class.

    Parameters
    ----------
    grid_x, grid_y : array_like
        Meshgrid coordinates of equal 2-D shape, as from :func:`grid_2d`.
    mean, std : array_like
        Predictive mean of P(class 1) and the standard deviation named by
        ``std_of``, at the grid points, either of the grid's shape or flat in
        the order of ``grid_x.ravel()``.
    X : array_like, optional
        ``(N, 2)`` training inputs to overlay.
    y : array_like, optional
        ``(N,)`` their class labels; required with ``X``.
    axes : sequence of two matplotlib.axes.Axes, optional
        Axes to draw on; a new figure with two panels by default.
    std_of : {"p", "predictive"}
        What ``std`` is the standard deviation of (sets the panel's title and
        colour-bar label).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> grid = grid_2d(np.array([[-1.0, -1.0], [1.0, 1.0]]), resolution=20)
    >>> rng = np.random.default_rng(0)
    >>> p_draws = 1 / (1 + np.exp(-grid.points.sum(axis=1) * rng.uniform(0.5, 2, (50, 1))))
    >>> figure = plot_decision_surface(grid.grid_x, grid.grid_y, p_draws.mean(0), p_draws.std(0), std_of="p")
    >>> label_draws = rng.uniform(size=p_draws.shape) < p_draws
    >>> figure = plot_decision_surface(grid.grid_x, grid.grid_y, label_draws.mean(0), label_draws.std(0),
    ...                                std_of="predictive")
    """
    if std_of not in STD_KINDS:
        raise ValueError(f"std_of: expected one of {sorted(STD_KINDS)}, got {std_of!r}.")
    grid_x = np.asarray(grid_x, dtype=float)
    grid_y = np.asarray(grid_y, dtype=float)
    if grid_x.ndim != 2 or grid_x.shape != grid_y.shape:
        raise ValueError(
            "grid_x, grid_y: expected 2-D meshgrid arrays of equal shape, got "
            f"shapes {grid_x.shape} and {grid_y.shape}."
        )
    mean = _on_grid(mean, grid_x.shape, "mean")
    std = _on_grid(std, grid_x.shape, "std")
    if (X is None) != (y is None):
        raise ValueError("X and y: pass both to overlay the training points, or neither.")
    figure, (mean_ax, std_ax) = _figure_and_two_axes(axes)
    _contour_panel(figure, mean_ax, grid_x, grid_y, mean, "coolwarm", np.linspace(0.0, 1.0, 21),
                   "Posterior predictive mean of P(class 1)", "P(class 1)")
    title, colorbar_label = STD_KINDS[std_of]
    _contour_panel(figure, std_ax, grid_x, grid_y, std, "viridis", 20, title, colorbar_label)
    if X is not None:
        points = _as_points_2d(X)
        for ax in (mean_ax, std_ax):
            _scatter_by_class(ax, points, y, "y")
    return figure


def _figure_and_two_axes(axes: Sequence[Axes] | None) -> tuple[Figure, tuple[Axes, Axes]]:
    if axes is None:
        import matplotlib.pyplot as plt

        figure, (first, second) = plt.subplots(1, 2, figsize=(12, 5))
        return figure, (first, second)
    axes = list(axes)
    if len(axes) != 2:
        raise ValueError(f"axes: expected two Axes (mean, std), got {len(axes)}.")
    return _root_figure(axes[0]), (axes[0], axes[1])


def _contour_panel(figure: Figure, ax: Axes, grid_x: np.ndarray, grid_y: np.ndarray,
                   values: np.ndarray, colormap: str, levels: Any, title: str, colorbar_label: str) -> None:
    contour = ax.contourf(grid_x, grid_y, values, levels=levels, cmap=colormap)
    colorbar = figure.colorbar(contour, ax=ax)
    colorbar.set_label(colorbar_label)
    ax.set_title(title)
    ax.set_xlabel("X1")
    ax.set_ylabel("X2")


def plot_data(X: ArrayLike, y: ArrayLike, ax: Axes | None = None, title: str = "Data") -> Figure:
    """Scatter a 2-D classification data set, one colour per class.

    Parameters
    ----------
    X : array_like
        ``(N, 2)`` inputs.
    y : array_like
        ``(N,)`` class labels.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure by default.
    title : str, default "Data"

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> figure = plot_data([[0.0, 0.0], [1.0, 1.0]], [0, 1])
    """
    return _class_scatter_figure(X, y, "y", ax, title)


def plot_predicted_labels(
    X: ArrayLike, labels: ArrayLike, ax: Axes | None = None, title: str = "Predicted labels"
) -> Figure:
    """Scatter 2-D inputs coloured by predicted class.

    Parameters
    ----------
    X : array_like
        ``(N, 2)`` inputs.
    labels : array_like
        ``(N,)`` predicted class labels (for instance
        ``metrics.predictive_probabilities(draws) > 0.5``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure by default.
    title : str, default "Predicted labels"

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> figure = plot_predicted_labels([[0.0, 0.0], [1.0, 1.0]], [1, 1])
    """
    return _class_scatter_figure(X, labels, "labels", ax, title)


def _class_scatter_figure(X: ArrayLike, classes: ArrayLike, what: str, ax: Axes | None, title: str) -> Figure:
    points = _as_points_2d(X)
    figure, ax = _figure_and_axes(ax)
    _scatter_by_class(ax, points, classes, what)
    ax.set_title(title)
    ax.set_xlabel("X1")
    ax.set_ylabel("X2")
    return figure


# --------------------------------------------------------------------------
# Calibration and regression
# --------------------------------------------------------------------------


def plot_reliability(
    y_true: ArrayLike, probabilities: ArrayLike | Any, n_bins: int = 10, ax: Axes | None = None
) -> Figure:
    """Reliability diagram: accuracy against confidence per bin.

    Bars show the accuracy of each non-empty confidence bin of
    :func:`credo.metrics.calibration_bins`; the diagonal is perfect
    calibration; the title gives the expected calibration error.

    Parameters
    ----------
    y_true : array_like
        ``(N,)`` integer class labels.
    probabilities : array_like or arviz.InferenceData
        ``(N,)`` class-1 probabilities or ``(N, K)`` class probabilities (see
        :mod:`credo.metrics`).
    n_bins : int, default 10
        Number of equal-width confidence bins.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> figure = plot_reliability([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.3], n_bins=5)
    """
    bins = metrics.calibration_bins(y_true, probabilities, n_bins=n_bins)
    error = metrics.expected_calibration_error(y_true, probabilities, n_bins=n_bins)
    figure, ax = _figure_and_axes(ax)
    filled = bins.counts > 0
    widths = np.diff(bins.edges)
    ax.bar(bins.edges[:-1][filled], bins.accuracy[filled], width=widths[filled],
           align="edge", edgecolor="black", alpha=0.7, label="accuracy")
    ax.plot(bins.confidence[filled], bins.accuracy[filled], "o", color="black",
            label="mean confidence")
    ax.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"Reliability diagram (ECE = {error:.3f})")
    ax.legend(loc="upper left")
    return figure


def plot_predictive_interval(
    x: ArrayLike,
    mean: ArrayLike,
    lower: ArrayLike,
    upper: ArrayLike,
    x_train: ArrayLike | None = None,
    y_train: ArrayLike | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plot a 1-D regression's predictive mean and interval band.

    Parameters
    ----------
    x : array_like
        ``(M,)`` inputs where the prediction was made (sorted here).
    mean, lower, upper : array_like
        ``(M,)`` predictive mean and the interval's bounds at ``x``.
    x_train, y_train : array_like, optional
        ``(N,)`` training data to overlay; pass both or neither.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(-1, 1, 50)
    >>> figure = plot_predictive_interval(x, x ** 2, x ** 2 - 0.1, x ** 2 + 0.1)
    """
    columns = {name: _as_vector(values, name) for name, values in
               (("x", x), ("mean", mean), ("lower", lower), ("upper", upper))}
    _check_same_length(columns)
    order = np.argsort(columns["x"])
    x, mean, lower, upper = (columns[name][order] for name in ("x", "mean", "lower", "upper"))
    if (x_train is None) != (y_train is None):
        raise ValueError("x_train and y_train: pass both to overlay the training data, or neither.")
    figure, ax = _figure_and_axes(ax)
    ax.fill_between(x, lower, upper, color="tab:blue", alpha=0.25, label="predictive interval")
    ax.plot(x, mean, color="tab:blue", label="predictive mean")
    if x_train is not None:
        train = {"x_train": _as_vector(x_train, "x_train"),
                 "y_train": _as_vector(y_train, "y_train")}
        _check_same_length(train)
        ax.scatter(train["x_train"], train["y_train"], s=10, color="black", label="training data")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="best")
    return figure
