"""credo demo digits: the Bayesian CNN against the deterministic one on scikit-learn's digits."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from credo.cli import main  # noqa: E402
from credo.errors import ArgumentError  # noqa: E402
from credo.nn.digits import build_digits_model, load_digits_split, out_of_distribution, run_digits_demo  # noqa: E402


def test_the_data_and_the_shifted_digits():
    X_train, X_test, y_train, y_test = load_digits_split()
    assert X_train.shape == (1198, 8, 8, 1) and X_test.shape == (599, 8, 8, 1)
    assert X_train.dtype == np.float32 and 0 <= X_train.min() and X_train.max() <= 1
    assert np.bincount(y_test).min() >= 58  # stratified: every class about a third
    shifted = out_of_distribution(X_test, seed=0)
    np.testing.assert_array_equal(shifted["rotated"][3, :, :, 0], np.rot90(X_test[3, :, :, 0]))
    noise = shifted["noised"] - X_test
    assert 0.25 < np.std(noise) < 0.5 and shifted["noised"].min() >= 0 and shifted["noised"].max() <= 1


def test_a_temperature_below_one_counts_the_likelihood_that_many_more_times():
    # the likelihood's scale is total_size / rows (checked against hand computations in the model tests)
    X_train, _, y_train, _ = load_digits_split()
    assert build_digits_model(X_train, y_train)["obs"].total_size == 1198
    assert build_digits_model(X_train, y_train, temperature=0.25)["obs"].total_size == 4 * 1198
    with pytest.raises(ArgumentError, match="build_digits_model: temperature must be a number in \\(0, 1\\]; got 2"):
        build_digits_model(X_train, y_train, temperature=2)


@pytest.mark.slow
def test_a_short_demo_reports_every_score_and_writes_its_plots(tmp_path):
    lines = []
    result = run_digits_demo(n=300, draws=20, out=tmp_path, progressbar=False, echo=lines.append)
    for kind in ("bayesian", "deterministic"):
        scores = result[kind]
        assert set(scores) == {"accuracy", "ece", "log_predictive_density", "auroc_rotated", "auroc_noised"}
        assert 0.8 < scores["accuracy"] <= 1 and 0 <= scores["ece"] < 0.2 and scores["log_predictive_density"] < 0
    assert sorted(result["paths"]) == ["entropy", "loss", "reliability", "uncertain_digits"]
    assert all((tmp_path / f"{name}.png").stat().st_size > 10_000 for name in result["paths"])
    assert any(line.startswith("bayesian") for line in lines) and len(result["targets"]) == 4


@pytest.mark.slow
def test_the_command_line_runs_the_demo(capsys):
    assert main(["demo", "digits", "--n", "100", "--draws", "10", "--no-plots", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "credo demo digits: n=100" in out and "deterministic" in out and "AUROC" in out


@pytest.mark.slow
def test_the_bayesian_cnn_is_as_accurate_and_tells_shifted_digits_apart():
    # seeds 0-2 gave AUROC margins of 0.07-0.17 (rotated) and 0.04-0.07 (noised) over the deterministic network
    result = run_digits_demo(seed=0, progressbar=False)
    bayesian, deterministic = result["bayesian"], result["deterministic"]
    assert bayesian["accuracy"] >= deterministic["accuracy"]
    assert bayesian["auroc_rotated"] > deterministic["auroc_rotated"] + 0.02
    assert bayesian["auroc_noised"] > deterministic["auroc_noised"] + 0.02
