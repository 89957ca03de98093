"""Tests of credo.metrics against small hand-computed examples."""

import math

import arviz as az
import numpy as np
import pytest

from credo import metrics

LOG2 = math.log(2.0)


def binary_entropy(p: float) -> float:
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


# --------------------------------------------------------------------------
# accuracy
# --------------------------------------------------------------------------


def test_accuracy_binary_uses_strict_threshold():
    # predictions: 0.9 -> 1, 0.2 -> 0, 0.5 -> 0 (not above 0.5), 0.7 -> 1
    y_true = [1, 0, 1, 0]
    probabilities = [0.9, 0.2, 0.5, 0.7]
    # correct: yes, yes, no, no
    assert metrics.accuracy(y_true, probabilities) == pytest.approx(0.5)


def test_accuracy_threshold_changes_predictions():
    # threshold 0.3: 0.9 -> 1, 0.2 -> 0, 0.5 -> 1, 0.7 -> 1: correct 3 of 4
    assert metrics.accuracy([1, 0, 1, 0], [0.9, 0.2, 0.5, 0.7], threshold=0.3) == 0.75


def test_accuracy_multiclass_takes_argmax():
    probabilities = [[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8]]
    # argmax: 0, 1, 2 against labels 0, 2, 2: two of three correct
    assert metrics.accuracy([0, 2, 2], probabilities) == pytest.approx(2 / 3)


def test_accuracy_accepts_jax_arrays_and_float_labels():
    import jax.numpy as jnp

    value = metrics.accuracy(jnp.array([1.0, 0.0]), jnp.array([0.8, 0.6], dtype=jnp.float32))
    assert value == 0.5


# --------------------------------------------------------------------------
# predictive_probabilities
# --------------------------------------------------------------------------


def test_predictive_probabilities_averages_label_draws():
    draws = np.array([[0, 1, 1], [1, 1, 0], [0, 1, 0], [0, 1, 0]])
    np.testing.assert_allclose(metrics.predictive_probabilities(draws), [0.25, 1.0, 0.25])


def test_predictive_probabilities_counts_class_labels():
    draws = np.array([[0, 2], [1, 2], [0, 1], [0, 2]])
    expected = [[3 / 4, 1 / 4, 0.0], [0.0, 1 / 4, 3 / 4]]
    np.testing.assert_allclose(metrics.predictive_probabilities(draws, num_classes=3), expected)


def test_predictive_probabilities_averages_probability_vectors():
    draws = np.array([[[0.2, 0.8]], [[0.6, 0.4]]])
    np.testing.assert_allclose(metrics.predictive_probabilities(draws), [[0.4, 0.6]])


# --------------------------------------------------------------------------
# Brier score
# --------------------------------------------------------------------------


def test_brier_score_binary():
    # (0.9-1)^2 + (0.2-0)^2 + (0.6-1)^2 + (0.7-0)^2 = 0.01 + 0.04 + 0.16 + 0.49 = 0.70
    assert metrics.brier_score([1, 0, 1, 0], [0.9, 0.2, 0.6, 0.7]) == pytest.approx(0.70 / 4)


def test_brier_score_multiclass():
    probabilities = [[0.7, 0.2, 0.1], [0.2, 0.5, 0.3]]
    # row 0, label 0: 0.3^2 + 0.2^2 + 0.1^2 = 0.09 + 0.04 + 0.01 = 0.14
    # row 1, label 2: 0.2^2 + 0.5^2 + 0.7^2 = 0.04 + 0.25 + 0.49 = 0.78
    assert metrics.brier_score([0, 2], probabilities) == pytest.approx((0.14 + 0.78) / 2)


def test_brier_score_two_class_form_is_twice_binary():
    p = np.array([0.9, 0.2, 0.6, 0.7])
    y = [1, 0, 1, 0]
    two_class = np.column_stack([1 - p, p])
    assert metrics.brier_score(y, two_class) == pytest.approx(2 * metrics.brier_score(y, p))


# --------------------------------------------------------------------------
# calibration
# --------------------------------------------------------------------------


BINARY_LABELS = [1, 0, 1, 0, 1]
BINARY_PROBABILITIES = [0.9, 0.25, 0.65, 0.7, 0.45]


def test_calibration_bins_binary_by_hand():
    # bins of width 0.2; (predicted class, confidence, correct):
    # 0.90 -> (1, 0.90, yes) bin 4;   0.25 -> (0, 0.75, yes) bin 3
    # 0.65 -> (1, 0.65, yes) bin 3;   0.70 -> (1, 0.70, no)  bin 3
    # 0.45 -> (0, 0.55, no)  bin 2
    bins = metrics.calibration_bins(BINARY_LABELS, BINARY_PROBABILITIES, n_bins=5)
    np.testing.assert_allclose(bins.edges, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_array_equal(bins.counts, [0, 0, 1, 3, 1])
    np.testing.assert_allclose(bins.accuracy[2:], [0.0, 2 / 3, 1.0])
    np.testing.assert_allclose(bins.confidence[2:], [0.55, (0.75 + 0.65 + 0.70) / 3, 0.90])
    assert np.isnan(bins.accuracy[:2]).all() and np.isnan(bins.confidence[:2]).all()


def test_expected_calibration_error_binary_by_hand():
    # (1/5)|0 - 0.55| + (3/5)|2/3 - 0.70| + (1/5)|1 - 0.90| = 0.11 + 0.02 + 0.02
    value = metrics.expected_calibration_error(BINARY_LABELS, BINARY_PROBABILITIES, n_bins=5)
    assert value == pytest.approx(0.15)


def test_expected_calibration_error_multiclass_by_hand():
    probabilities = [[0.75, 0.15, 0.10], [0.30, 0.45, 0.25], [0.05, 0.10, 0.85]]
    # confidences 0.75 (correct), 0.45 (predicts 1, label 2: wrong), 0.85 (correct),
    # each alone in its bin: (1/3)(0.25 + 0.45 + 0.15)
    value = metrics.expected_calibration_error([0, 2, 2], probabilities)
    assert value == pytest.approx(0.85 / 3)


def test_expected_calibration_error_is_zero_when_calibrated():
    # confidence 0.75 in one bin, and exactly 3 of 4 predictions correct
    value = metrics.expected_calibration_error([1, 1, 1, 0], [0.75, 0.75, 0.75, 0.75])
    assert value == pytest.approx(0.0)


# --------------------------------------------------------------------------
# log predictive density
# --------------------------------------------------------------------------


def test_log_predictive_density_matches_direct_formula():
    rng = np.random.default_rng(0)
    log_likelihood = rng.normal(-2.0, 1.5, size=(50, 7))
    expected = np.log(np.mean(np.exp(log_likelihood), axis=0))
    np.testing.assert_allclose(metrics.log_predictive_density(log_likelihood), expected)


def test_log_predictive_density_is_stable_for_very_negative_values():
    # point 0: log mean(exp(-1000), exp(-1000 - log 3)) = -1000 + log((1 + 1/3) / 2)
    # point 1: both draws -2000 -> -2000
    log_likelihood = np.array([[-1000.0, -2000.0], [-1000.0 - math.log(3.0), -2000.0]])
    with np.errstate(divide="ignore"):
        assert np.isneginf(np.log(np.mean(np.exp(log_likelihood), axis=0))).all()
    result = metrics.log_predictive_density(log_likelihood)
    np.testing.assert_allclose(result, [-1000.0 + math.log(2 / 3), -2000.0])


def test_log_predictive_density_of_impossible_point_is_minus_infinity():
    result = metrics.log_predictive_density([[-np.inf, 0.0], [-np.inf, 0.0]])
    assert np.isneginf(result[0]) and result[1] == pytest.approx(0.0)


# --------------------------------------------------------------------------
# entropies and mutual information
# --------------------------------------------------------------------------


BINARY_DRAWS = np.array([[0.5, 0.9], [0.5, 0.1]])  # (S=2, N=2)


def test_predictive_entropy_binary():
    # both points have mean probability 0.5: entropy log 2
    np.testing.assert_allclose(metrics.predictive_entropy(BINARY_DRAWS), [LOG2, LOG2])


def test_expected_entropy_binary():
    # point 0: H(0.5) = log 2 in both draws; point 1: H(0.9) = H(0.1)
    # H(0.9) = -(0.9 log 0.9 + 0.1 log 0.1) = 0.0948245 + 0.2302585 = 0.3250830
    expected = [LOG2, binary_entropy(0.9)]
    np.testing.assert_allclose(metrics.expected_entropy(BINARY_DRAWS), expected)
    assert binary_entropy(0.9) == pytest.approx(0.3250830, abs=1e-7)


def test_mutual_information_binary():
    # point 0: log 2 - log 2 = 0; point 1: 0.6931472 - 0.3250830 = 0.3680642
    result = metrics.mutual_information(BINARY_DRAWS)
    np.testing.assert_allclose(result, [0.0, 0.3680642], atol=1e-7)
    assert np.all(result >= 0.0)


def test_entropies_multiclass():
    # point 0: draws one-hot on class 0 and class 1 -> mean (0.5, 0.5, 0):
    #          predictive log 2, expected 0, mutual information log 2
    # point 1: both draws uniform over 3 classes -> log 3, log 3, 0
    third = 1 / 3
    draws = np.array([
        [[1.0, 0.0, 0.0], [third, third, third]],
        [[0.0, 1.0, 0.0], [third, third, third]],
    ])
    np.testing.assert_allclose(metrics.predictive_entropy(draws), [LOG2, math.log(3)])
    np.testing.assert_allclose(metrics.expected_entropy(draws), [0.0, math.log(3)], atol=1e-12)
    np.testing.assert_allclose(metrics.mutual_information(draws), [LOG2, 0.0], atol=1e-12)


def test_binary_and_two_class_entropies_agree():
    two_class = np.stack([1 - BINARY_DRAWS, BINARY_DRAWS], axis=-1)
    for function in (metrics.predictive_entropy, metrics.expected_entropy,
                     metrics.mutual_information):
        np.testing.assert_allclose(function(two_class), function(BINARY_DRAWS))


# --------------------------------------------------------------------------
# InferenceData input
# --------------------------------------------------------------------------


def make_inference_data():
    # 2 chains x 3 draws of class-1 probabilities for 4 points
    probabilities = np.array([
        [[0.9, 0.2, 0.6, 0.1], [0.7, 0.4, 0.6, 0.3], [0.8, 0.3, 0.3, 0.2]],
        [[0.9, 0.1, 0.6, 0.4], [0.6, 0.2, 0.3, 0.5], [0.9, 0.4, 0.6, 0.5]],
    ])
    log_likelihood = np.log(probabilities)
    idata = az.from_dict(
        posterior_predictive={"p": probabilities},
        log_likelihood={"y": log_likelihood},
    )
    return idata, probabilities


def test_inference_data_draws_are_stacked_and_averaged():
    idata, probabilities = make_inference_data()
    stacked = probabilities.reshape(6, 4)
    mean = stacked.mean(axis=0)
    np.testing.assert_allclose(metrics.predictive_probabilities(idata), mean)
    y_true = [1, 0, 1, 0]
    assert metrics.accuracy(y_true, idata) == metrics.accuracy(y_true, mean)
    assert metrics.brier_score(y_true, idata) == pytest.approx(metrics.brier_score(y_true, mean))
    np.testing.assert_allclose(metrics.mutual_information(idata),
                               metrics.mutual_information(stacked))


def test_inference_data_log_likelihood_group():
    idata, probabilities = make_inference_data()
    expected = np.log(probabilities.reshape(6, 4).mean(axis=0))
    np.testing.assert_allclose(metrics.log_predictive_density(idata), expected)


def test_inference_data_with_several_variables_needs_var_name():
    _, probabilities = make_inference_data()
    idata = az.from_dict(posterior_predictive={"p": probabilities, "q": 1 - probabilities})
    with pytest.raises(ValueError, match=r"var_name.*\['p', 'q'\]|\['p', 'q'\].*var_name"):
        metrics.predictive_probabilities(idata)
    np.testing.assert_allclose(metrics.predictive_probabilities(idata, var_name="q"),
                               1 - probabilities.reshape(6, 4).mean(axis=0))
    with pytest.raises(ValueError, match="'r' is not in"):
        metrics.predictive_entropy(idata, var_name="r")


def test_inference_data_without_the_group():
    _, probabilities = make_inference_data()
    idata = az.from_dict(posterior_predictive={"p": probabilities})
    with pytest.raises(ValueError, match="no 'log_likelihood' group"):
        metrics.log_predictive_density(idata)


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


def test_mismatched_lengths_are_rejected():
    with pytest.raises(ValueError, match="y_true has 3 labels but probabilities has 2 rows"):
        metrics.accuracy([0, 1, 1], [0.2, 0.8])


def test_probabilities_outside_unit_interval_are_rejected():
    with pytest.raises(ValueError, match=r"probabilities: .*\[0, 1\]"):
        metrics.brier_score([0, 1], [-0.1, 0.8])
    with pytest.raises(ValueError, match=r"probability_draws: .*\[0, 1\]"):
        metrics.predictive_entropy([[0.2, 1.5]])


def test_wrong_ndim_is_rejected():
    with pytest.raises(ValueError, match=r"probabilities: expected shape \(N,\)"):
        metrics.accuracy([0], np.full((1, 2, 2), 0.5))
    with pytest.raises(ValueError, match=r"probability_draws: expected shape \(S, N\)"):
        metrics.mutual_information([0.2, 0.4])
    with pytest.raises(ValueError, match=r"log_likelihood_draws: expected shape \(S, N\)"):
        metrics.log_predictive_density([-1.0, -2.0])
    with pytest.raises(ValueError, match="y_true: expected a 1-D array"):
        metrics.accuracy([[0, 1]], [0.2, 0.8])


def test_rows_not_summing_to_one_are_rejected():
    with pytest.raises(ValueError, match="sum to 1"):
        metrics.expected_calibration_error([0, 1], [[0.5, 0.2], [0.5, 0.5]])


def test_bad_labels_are_rejected():
    with pytest.raises(ValueError, match="integer class labels"):
        metrics.accuracy([0.5, 1.0], [0.2, 0.8])
    with pytest.raises(ValueError, match=r"labels in 0\.\.1"):
        metrics.accuracy([0, 2], [0.2, 0.8])
    with pytest.raises(ValueError, match=r"labels in 0\.\.2"):
        metrics.predictive_probabilities([[0, 3]], num_classes=3)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="n_bins"):
        metrics.expected_calibration_error([0, 1], [0.2, 0.8], n_bins=0)
    with pytest.raises(ValueError, match="threshold"):
        metrics.accuracy([0, 1], [0.2, 0.8], threshold=1.5)
    with pytest.raises(ValueError, match="NaN"):
        metrics.brier_score([0, 1], [np.nan, 0.8])
    with pytest.raises(TypeError, match="numeric array"):
        metrics.brier_score([0, 1], ["a", "b"])
