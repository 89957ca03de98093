"""Predictive metrics for classifiers and regressors with posterior draws.

Shapes used throughout
----------------------
``N`` is the number of data points, ``K`` the number of classes and ``S`` the
number of posterior (predictive) draws.

*Mean probabilities* (what :func:`accuracy`, :func:`brier_score`,
:func:`expected_calibration_error` and :func:`calibration_bins` take):

- ``(N,)``: binary problems, the probability of class 1;
- ``(N, K)``: ``K >= 2`` classes, each row a probability vector.

*Draws* (what :func:`predictive_probabilities` and the entropy functions take)
carry a leading draws axis:

- ``(S, N)``: binary problems, draws of the class-1 probability (or of 0/1
  labels, for :func:`predictive_probabilities`);
- ``(S, N, K)``: draws of class-probability vectors.

Turn draws into mean probabilities with :func:`predictive_probabilities`.

Every function that takes probabilities or draws also accepts an
``arviz.InferenceData``: the variable ``var_name`` of its
``posterior_predictive`` group (its ``log_likelihood`` group for
:func:`log_predictive_density`) is read and its ``chain`` and ``draw``
dimensions are stacked into the leading draws axis. The functions taking mean
probabilities average those draws over the draws axis first.

Only numpy is needed; jax arrays are converted with ``numpy.asarray``.
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "CalibrationBins",
    "accuracy",
    "brier_score",
    "calibration_bins",
    "expected_calibration_error",
    "expected_entropy",
    "log_predictive_density",
    "mutual_information",
    "predictive_entropy",
    "predictive_probabilities",
]

# Round-off allowed on probabilities (float32 softmax outputs, averaged draws).
_PROBABILITY_TOLERANCE = 1e-6
_ROW_SUM_TOLERANCE = 1e-3


class CalibrationBins(NamedTuple):
    """Per-bin statistics of a reliability diagram.

    Attributes
    ----------
    edges : numpy.ndarray
        ``(n_bins + 1,)`` bin edges, equally spaced on ``[0, 1]``. Bin ``b``
        holds confidences in ``(edges[b], edges[b + 1]]``; a confidence of
        exactly 0 falls in the first bin.
    accuracy : numpy.ndarray
        ``(n_bins,)`` fraction of correct predictions in each bin (NaN where
        the bin is empty).
    confidence : numpy.ndarray
        ``(n_bins,)`` mean confidence in each bin (NaN where the bin is empty).
    counts : numpy.ndarray
        ``(n_bins,)`` number of points in each bin.
    """

    edges: np.ndarray
    accuracy: np.ndarray
    confidence: np.ndarray
    counts: np.ndarray


# --------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------


def _is_inference_data(value: Any) -> bool:
    """Whether ``value`` is an ``arviz.InferenceData``, without importing arviz."""
    arviz = sys.modules.get("arviz")
    return arviz is not None and isinstance(value, arviz.InferenceData)


def _draws_from_inference_data(
    data: Any, group: str, var_name: str | None, argument: str
) -> np.ndarray:
    """Read one variable of an InferenceData group as ``(S, ...)`` draws."""
    if group not in data.groups():
        raise ValueError(
            f"{argument}: the InferenceData has no {group!r} group "
            f"(groups found: {list(data.groups())})."
        )
    dataset = getattr(data, group)
    names = [str(name) for name in dataset.data_vars]
    if var_name is None:
        if len(names) != 1:
            raise ValueError(
                f"{argument}: the {group!r} group holds {len(names)} variables "
                f"{names}; pass var_name to choose one."
            )
        var_name = names[0]
    if var_name not in names:
        raise ValueError(
            f"{argument}: variable {var_name!r} is not in the {group!r} group "
            f"(variables found: {names})."
        )
    variable = dataset[var_name]
    if variable.dims[:2] != ("chain", "draw"):
        raise ValueError(
            f"{argument}: expected {var_name!r} to have leading dimensions "
            f"('chain', 'draw'), found {variable.dims}."
        )
    values = np.asarray(variable.values, dtype=float)
    return values.reshape((-1,) + values.shape[2:])


def _as_draws(
    values: Any, argument: str, var_name: str | None, group: str = "posterior_predictive"
) -> np.ndarray:
    """Array of draws from an array-like or an InferenceData."""
    if _is_inference_data(values):
        return _draws_from_inference_data(values, group, var_name, argument)
    return _as_float_array(values, argument)


def _as_float_array(values: ArrayLike, argument: str) -> np.ndarray:
    """Convert to a float array, rejecting non-numeric input and NaN."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{argument}: expected a numeric array, got {type(values).__name__}."
        ) from error
    if np.isnan(array).any():
        raise ValueError(f"{argument}: contains NaN values.")
    return array


def _check_ndim(array: np.ndarray, allowed: tuple[int, ...], argument: str, expected: str) -> None:
    if array.ndim not in allowed:
        raise ValueError(
            f"{argument}: expected {expected}, got an array of shape {array.shape}."
        )


def _check_probability_values(array: np.ndarray, argument: str) -> np.ndarray:
    """Check that values lie in [0, 1] (up to round-off) and clip the round-off."""
    tolerance = _PROBABILITY_TOLERANCE
    if array.size and (array.min() < -tolerance or array.max() > 1 + tolerance):
        raise ValueError(
            f"{argument}: probabilities must lie in [0, 1], found values in "
            f"[{array.min():g}, {array.max():g}]."
        )
    return np.clip(array, 0.0, 1.0)


def _check_rows_sum_to_one(array: np.ndarray, argument: str) -> None:
    """Check that the last axis of a class-probability array sums to one."""
    if array.shape[-1] < 2:
        raise ValueError(
            f"{argument}: expected at least 2 classes on the last axis, got "
            f"shape {array.shape}; give binary probabilities without a class axis."
        )
    sums = array.sum(axis=-1)
    if array.size and np.abs(sums - 1.0).max() > _ROW_SUM_TOLERANCE:
        raise ValueError(
            f"{argument}: class probabilities must sum to 1 along the last axis, "
            f"found sums in [{sums.min():g}, {sums.max():g}]."
        )


def _mean_probabilities(
    probabilities: Any, var_name: str | None, argument: str = "probabilities"
) -> np.ndarray:
    """Validated ``(N,)`` or ``(N, K)`` mean probabilities."""
    if _is_inference_data(probabilities):
        return predictive_probabilities(probabilities, var_name=var_name)
    array = _as_float_array(probabilities, argument)
    _check_ndim(array, (1, 2), argument, "shape (N,) for binary or (N, K) for K classes")
    array = _check_probability_values(array, argument)
    if array.ndim == 2:
        _check_rows_sum_to_one(array, argument)
    return array


def _class_labels(y_true: ArrayLike, num_points: int, num_classes: int) -> np.ndarray:
    """Validated integer labels ``(N,)`` with values in ``[0, num_classes)``."""
    labels = _as_float_array(y_true, "y_true")
    _check_ndim(labels, (1,), "y_true", "a 1-D array of class labels")
    if labels.shape[0] != num_points:
        raise ValueError(
            f"y_true has {labels.shape[0]} labels but probabilities has "
            f"{num_points} rows; they must match."
        )
    if not np.all(labels == np.round(labels)):
        raise ValueError("y_true: expected integer class labels, found non-integer values.")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"y_true: expected labels in 0..{num_classes - 1}, found values in "
            f"[{labels.min():g}, {labels.max():g}]."
        )
    return labels.astype(int)


def _as_class_probabilities(probabilities: np.ndarray) -> np.ndarray:
    """``(..., N)`` binary class-1 probabilities become ``(..., N, 2)``."""
    return np.stack([1.0 - probabilities, probabilities], axis=-1)


def _probability_draws(draws: Any, var_name: str | None) -> np.ndarray:
    """Validated ``(S, N, K)`` probability draws (binary draws get a class axis)."""
    array = _as_draws(draws, "probability_draws", var_name)
    _check_ndim(
        array, (2, 3), "probability_draws",
        "shape (S, N) for binary or (S, N, K) for K classes",
    )
    array = _check_probability_values(array, "probability_draws")
    if array.ndim == 2:
        return _as_class_probabilities(array)
    _check_rows_sum_to_one(array, "probability_draws")
    return array


def _entropy(probabilities: np.ndarray) -> np.ndarray:
    """Entropy over the last axis in nats, with ``0 log 0 = 0``."""
    safe = np.where(probabilities > 0, probabilities, 1.0)
    return -np.sum(probabilities * np.log(safe), axis=-1)


# --------------------------------------------------------------------------
# Draws to probabilities
# --------------------------------------------------------------------------


def predictive_probabilities(
    draws: ArrayLike | Any, var_name: str | None = None, num_classes: int | None = None
) -> np.ndarray:
    """Average predictive draws over the leading draws axis.

    Parameters
    ----------
    draws : array_like or arviz.InferenceData
        Without ``num_classes``: ``(S, N)`` draws of 0/1 labels or of class-1
        probabilities, or ``(S, N, K)`` draws of class-probability vectors.
        With ``num_classes``: ``(S, N)`` draws of integer labels in
        ``0..num_classes - 1``. An InferenceData is read from its
        ``posterior_predictive`` group.
    var_name : str, optional
        Variable to read from an InferenceData; by default its only variable.
    num_classes : int, optional
        Treat ``draws`` as integer class labels and return the frequency of
        each class.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` class-1 probabilities or ``(N, K)`` class probabilities.

    Examples
    --------
    >>> predictive_probabilities([[0, 1, 1], [1, 1, 0]])
    array([0.5, 1. , 0.5])
    >>> predictive_probabilities([[0, 2], [1, 2]], num_classes=3)
    array([[0.5, 0.5, 0. ],
           [0. , 0. , 1. ]])
    """
    array = _as_draws(draws, "draws", var_name)
    if num_classes is not None:
        return _label_frequencies(array, num_classes)
    _check_ndim(array, (2, 3), "draws", "shape (S, N) or (S, N, K) with a leading draws axis")
    array = _check_probability_values(array, "draws")
    if array.ndim == 3:
        _check_rows_sum_to_one(array, "draws")
    return array.mean(axis=0)


def _label_frequencies(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """``(S, N)`` integer label draws to ``(N, K)`` class frequencies."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"num_classes: expected an int, got {type(num_classes).__name__}.")
    if num_classes < 2:
        raise ValueError(f"num_classes: expected at least 2, got {num_classes}.")
    _check_ndim(labels, (2,), "draws", "shape (S, N) of integer labels when num_classes is given")
    if not np.all(labels == np.round(labels)) or labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"draws: expected integer labels in 0..{num_classes - 1} when "
            f"num_classes={num_classes}."
        )
    one_hot = np.eye(num_classes)[labels.astype(int)]
    return one_hot.mean(axis=0)


# --------------------------------------------------------------------------
# Point metrics
# --------------------------------------------------------------------------


def accuracy(
    y_true: ArrayLike,
    probabilities: ArrayLike | Any,
    threshold: float = 0.5,
    var_name: str | None = None,
) -> float:
    """Fraction of points whose predicted class equals the true label.

    Parameters
    ----------
    y_true : array_like
        ``(N,)`` integer class labels.
    probabilities : array_like or arviz.InferenceData
        ``(N,)`` class-1 probabilities or ``(N, K)`` class probabilities; an
        InferenceData is averaged over its posterior predictive draws first.
    threshold : float, default 0.5
        Binary only: class 1 is predicted where the probability is strictly
        above ``threshold``. With ``K`` classes the most probable class is
        predicted.
    var_name : str, optional
        Variable to read from an InferenceData.

    Returns
    -------
    float

    Examples
    --------
    >>> accuracy([0, 1, 1, 0], [0.2, 0.9, 0.4, 0.1])
    0.75
    """
    mean = _mean_probabilities(probabilities, var_name)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold: expected a value in [0, 1], got {threshold}.")
    predicted = _predicted_classes(mean, threshold)
    labels = _class_labels(y_true, mean.shape[0], _num_classes(mean))
    return float(np.mean(predicted == labels))


def _num_classes(probabilities: np.ndarray) -> int:
    return 2 if probabilities.ndim == 1 else probabilities.shape[1]


def _predicted_classes(probabilities: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    if probabilities.ndim == 1:
        return (probabilities > threshold).astype(int)
    return np.argmax(probabilities, axis=1)


def brier_score(
    y_true: ArrayLike, probabilities: ArrayLike | Any, var_name: str | None = None
) -> float:
    """Mean squared difference between predicted probabilities and outcomes.

    Binary ``(N,)`` probabilities give ``mean((p - y) ** 2)``, in ``[0, 1]``.
    ``(N, K)`` probabilities give the mean over rows of
    ``sum_k (p_k - onehot_k) ** 2``, in ``[0, 2]``; for two classes this is
    twice the binary score.

    Parameters
    ----------
    y_true : array_like
        ``(N,)`` integer class labels.
    probabilities : array_like or arviz.InferenceData
        ``(N,)`` class-1 probabilities or ``(N, K)`` class probabilities; an
        InferenceData is averaged over its posterior predictive draws first.
    var_name : str, optional
        Variable to read from an InferenceData.

    Returns
    -------
    float
        Lower is better.

    Examples
    --------
    >>> round(brier_score([1, 0], [0.8, 0.4]), 6)
    0.1
    """
    mean = _mean_probabilities(probabilities, var_name)
    labels = _class_labels(y_true, mean.shape[0], _num_classes(mean))
    if mean.ndim == 1:
        return float(np.mean((mean - labels) ** 2))
    one_hot = np.eye(mean.shape[1])[labels]
    return float(np.mean(np.sum((mean - one_hot) ** 2, axis=1)))


# --------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------


def calibration_bins(
    y_true: ArrayLike,
    probabilities: ArrayLike | Any,
    n_bins: int = 10,
    var_name: str | None = None,
) -> CalibrationBins:
    """Accuracy and confidence of the predicted class in equal-width bins.

    The confidence of a point is the probability of its predicted class: the
    largest class probability, or ``max(p, 1 - p)`` for binary probabilities
    (class 1 predicted where ``p > 0.5``).

    Parameters
    ----------
    y_true : array_like
        ``(N,)`` integer class labels.
    probabilities : array_like or arviz.InferenceData
        ``(N,)`` class-1 probabilities or ``(N, K)`` class probabilities; an
        InferenceData is averaged over its posterior predictive draws first.
    n_bins : int, default 10
        Number of equal-width bins on ``[0, 1]``.
    var_name : str, optional
        Variable to read from an InferenceData.

    Returns
    -------
    CalibrationBins
        ``edges``, ``accuracy``, ``confidence`` and ``counts`` per bin.

    Examples
    --------
    >>> bins = calibration_bins([1, 0, 1], [0.9, 0.35, 0.3], n_bins=2)
    >>> bins.counts
    array([0, 3])
    >>> bins.accuracy
    array([       nan, 0.66666667])
    """
    mean = _mean_probabilities(probabilities, var_name)
    labels = _class_labels(y_true, mean.shape[0], _num_classes(mean))
    _check_n_bins(n_bins)
    class_probabilities = _as_class_probabilities(mean) if mean.ndim == 1 else mean
    predicted = _predicted_classes(mean)
    confidence = np.take_along_axis(class_probabilities, predicted[:, None], axis=1)[:, 0]
    correct = (predicted == labels).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bin_index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    counts = np.bincount(bin_index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        bin_accuracy = np.bincount(bin_index, weights=correct, minlength=n_bins) / counts
        bin_confidence = np.bincount(bin_index, weights=confidence, minlength=n_bins) / counts
    return CalibrationBins(edges, bin_accuracy, bin_confidence, counts)


def _check_n_bins(n_bins: int) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)):
        raise TypeError(f"n_bins: expected an int, got {type(n_bins).__name__}.")
    if n_bins < 1:
        raise ValueError(f"n_bins: expected at least 1 bin, got {n_bins}.")


def expected_calibration_error(
    y_true: ArrayLike,
    probabilities: ArrayLike | Any,
    n_bins: int = 10,
    var_name: str | None = None,
) -> float:
    """Expected calibration error over equal-width confidence bins.

    ``ECE = sum_b (n_b / N) |accuracy_b - confidence_b|``, with the bins of
    :func:`calibration_bins`.

    Parameters
    ----------
    y_true : array_like
        ``(N,)`` integer class labels.
    probabilities : array_like or arviz.InferenceData
        ``(N,)`` class-1 probabilities or ``(N, K)`` class probabilities; an
        InferenceData is averaged over its posterior predictive draws first.
    n_bins : int, default 10
        Number of equal-width bins on ``[0, 1]``.
    var_name : str, optional
        Variable to read from an InferenceData.

    Returns
    -------
    float
        In ``[0, 1]``; 0 for a perfectly calibrated classifier.

    Examples
    --------
    >>> round(expected_calibration_error([1, 0, 1], [0.9, 0.35, 0.3], n_bins=2), 6)
    0.083333
    """
    bins = calibration_bins(y_true, probabilities, n_bins=n_bins, var_name=var_name)
    filled = bins.counts > 0
    weights = bins.counts[filled] / bins.counts.sum()
    gaps = np.abs(bins.accuracy[filled] - bins.confidence[filled])
    return float(np.sum(weights * gaps))


# --------------------------------------------------------------------------
# Log predictive density
# --------------------------------------------------------------------------


def log_predictive_density(
    log_likelihood_draws: ArrayLike | Any, var_name: str | None = None
) -> np.ndarray:
    """Pointwise log of the likelihood averaged over posterior draws.

    ``lpd_n = log((1 / S) sum_s exp(log_likelihood[s, n]))``, computed as a
    log-sum-exp minus ``log S`` so that very negative log-likelihoods do not
    underflow.

    Parameters
    ----------
    log_likelihood_draws : array_like or arviz.InferenceData
        ``(S, N)`` (or ``(S, ...)``) log-likelihood of each point under each
        draw. An InferenceData is read from its ``log_likelihood`` group.
    var_name : str, optional
        Variable to read from an InferenceData; by default its only variable.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` (or the shape after the draws axis). Sum it for the total log
        predictive density, average it for the mean test log-likelihood.

    Examples
    --------
    >>> import numpy as np
    >>> log_predictive_density(np.log([[0.2, 0.5], [0.4, 0.5]]))
    array([-1.2039728 , -0.69314718])
    """
    log_likelihood = _as_draws(
        log_likelihood_draws, "log_likelihood_draws", var_name, group="log_likelihood"
    )
    if log_likelihood.ndim < 2:
        raise ValueError(
            "log_likelihood_draws: expected shape (S, N) with a leading draws axis, "
            f"got an array of shape {log_likelihood.shape}."
        )
    if np.any(log_likelihood == np.inf):
        raise ValueError("log_likelihood_draws: contains +inf values.")
    num_draws = log_likelihood.shape[0]
    largest = log_likelihood.max(axis=0)
    shift = np.where(np.isfinite(largest), largest, 0.0)
    with np.errstate(divide="ignore"):
        log_sum = np.log(np.sum(np.exp(log_likelihood - shift), axis=0)) + shift
    return log_sum - np.log(num_draws)


# --------------------------------------------------------------------------
# Uncertainty decomposition
# --------------------------------------------------------------------------


def predictive_entropy(
    probability_draws: ArrayLike | Any, var_name: str | None = None
) -> np.ndarray:
    """Entropy of the mean prediction (total uncertainty), per point.

    ``H[mean_s p_s]`` in nats, where ``p_s`` is the class-probability vector of
    draw ``s``.

    Parameters
    ----------
    probability_draws : array_like or arviz.InferenceData
        ``(S, N)`` draws of class-1 probabilities or ``(S, N, K)`` draws of
        class-probability vectors. An InferenceData is read from its
        ``posterior_predictive`` group; the variable must hold probabilities
        (for instance a deterministic), not sampled labels.
    var_name : str, optional
        Variable to read from an InferenceData.

    Returns
    -------
    numpy.ndarray
        ``(N,)``, between 0 and ``log K``.

    Examples
    --------
    >>> predictive_entropy([[0.0, 0.5], [1.0, 0.5]])
    array([0.69314718, 0.69314718])
    """
    draws = _probability_draws(probability_draws, var_name)
    return _entropy(draws.mean(axis=0))


def expected_entropy(
    probability_draws: ArrayLike | Any, var_name: str | None = None
) -> np.ndarray:
    """Mean over draws of each draw's entropy (aleatoric uncertainty), per point.

    ``mean_s H[p_s]`` in nats.

    Parameters
    ----------
    probability_draws : array_like or arviz.InferenceData
        ``(S, N)`` draws of class-1 probabilities or ``(S, N, K)`` draws of
        class-probability vectors, as for :func:`predictive_entropy`.
    var_name : str, optional
        Variable to read from an InferenceData.

    Returns
    -------
    numpy.ndarray
        ``(N,)``.

    Examples
    --------
    >>> expected_entropy([[0.0, 0.5], [1.0, 0.5]])
    array([0.        , 0.69314718])
    """
    draws = _probability_draws(probability_draws, var_name)
    return _entropy(draws).mean(axis=0)


def mutual_information(
    probability_draws: ArrayLike | Any, var_name: str | None = None
) -> np.ndarray:
    """Mutual information between prediction and parameters (epistemic uncertainty).

    ``predictive_entropy - expected_entropy`` per point, clipped at 0 to
    remove round-off.

    Parameters
    ----------
    probability_draws : array_like or arviz.InferenceData
        ``(S, N)`` draws of class-1 probabilities or ``(S, N, K)`` draws of
        class-probability vectors, as for :func:`predictive_entropy`.
    var_name : str, optional
        Variable to read from an InferenceData.

    Returns
    -------
    numpy.ndarray
        ``(N,)``, non-negative.

    Examples
    --------
    >>> mutual_information([[0.0, 0.5], [1.0, 0.5]])
    array([0.69314718, 0.        ])
    """
    draws = _probability_draws(probability_draws, var_name)
    total = _entropy(draws.mean(axis=0))
    aleatoric = _entropy(draws).mean(axis=0)
    return np.maximum(total - aleatoric, 0.0)
