"""The UCI protocol on one small split, and the ``credo uci`` command in a reduced mode."""

from pathlib import Path

import numpy as np
import pytest

from credo.datasets import load_uci
from credo.metrics import log_predictive_density
from credo.nn import BNNRegressor
from credo.nn.uci import NAMES, PUBLISHED, main, run_uci, summarize

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "uci"
if not DATA.is_dir():  # the repository sits beside shared/ (a checkout one level down also finds it)
    DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "uci"
needs_data = pytest.mark.skipif(not (DATA / "yacht").is_dir(), reason=f"UCI data not found at {DATA}")

HOMOSCEDASTIC = dict(noise="homoscedastic", n_members=1)


def test_published_table_is_complete():
    assert set(PUBLISHED) == set(NAMES)
    for name, methods in PUBLISHED.items():
        assert set(methods) == {"VI", "PBP", "MC dropout", "Deep ensembles"}
        assert all(len(v) == 4 for v in methods.values())
    assert PUBLISHED["yacht"]["PBP"] == (1.02, 0.05, -1.63, 0.02)
    # the deep ensembles' paper reports NLL -1.20 and 0.94 for kin8nm and wine: the table holds their negatives
    assert PUBLISHED["kin8nm"]["Deep ensembles"] == (0.09, 0.00, 1.20, 0.02)
    assert PUBLISHED["wine-quality-red"]["Deep ensembles"] == (0.64, 0.04, -0.94, 0.12)


def test_summarize_mean_and_standard_error():
    rows = [{"rmse": 1.0, "ll": -1.0, "seconds": 2.0}, {"rmse": 3.0, "ll": -2.0, "seconds": 4.0}]
    s = summarize(rows)
    assert s["rmse_mean"] == 2.0 and s["rmse_se"] == pytest.approx(1.0 / np.sqrt(2))
    assert s["ll_mean"] == -1.5 and s["ll_se"] == pytest.approx(0.5 / np.sqrt(2))
    assert s["seconds_per_split"] == 3.0 and s["n_splits"] == 2


@needs_data
def test_yacht_split_protocol_and_metrics():
    data = load_uci("yacht", split=0, data_dir=DATA)
    assert data.X_train.shape[1] == 6 and data.n_hidden == 50
    # one noise scale and one member: the model whose density is written out below
    model = BNNRegressor(n_iter=3000, draws=200, random_state=0, **HOMOSCEDASTIC).fit(data.X_train, data.y_train)
    # the estimator standardises as the protocol does: with the training rows' mean and std
    standardized = data.standardize()
    np.testing.assert_allclose(model.X_mean_, standardized.X_mean)
    np.testing.assert_allclose(model.X_std_, standardized.X_std)
    assert model.y_std_ == pytest.approx(float(standardized.y_std))
    prediction = model.predict(data.X_test)
    rmse = float(np.sqrt(np.mean((prediction - data.y_test) ** 2)))
    lpd = model.log_predictive_density(data.X_test, data.y_test)
    assert lpd.shape == data.y_test.shape
    # a short fit already beats the published VI (RMSE 6.89, LL -3.43) on this split
    assert rmse < 4.0 and -3.4 < lpd.mean() < 0.5
    # the test log-likelihood is the log of the draws-averaged Normal density, in original units
    mu = model._deterministic_draws(standardized.X_test, "mu") * model.y_std_ + model.y_mean_
    sigma = model.posterior_["sigma"][:, None] * model.y_std_
    log_lik = -0.5 * ((data.y_test - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(lpd, log_predictive_density(log_lik), rtol=1e-4, atol=1e-4)
    # run_uci gives the same numbers for the same settings
    results = run_uci("yacht", DATA, splits=[0], n_iter=3000, draws=200, seed=0, **HOMOSCEDASTIC)
    assert results["rows"][0]["rmse"] == pytest.approx(rmse, rel=1e-5)
    assert results["ll_mean"] == pytest.approx(float(lpd.mean()), rel=1e-5)


@needs_data
def test_cli_on_one_split(capsys):
    assert main(["yacht", "--data-dir", str(DATA), "--splits", "1", "--n-iter", "500", "--draws", "50",
                 "--members", "1"]) == 0
    out = capsys.readouterr().out
    assert "yacht split  0: RMSE" in out
    for method in ("VI", "PBP", "MC dropout", "credo"):
        assert method in out
    assert "s per split" in out and "±" in out


def test_cli_reports_a_missing_folder(tmp_path, capsys):
    assert main(["yacht", "--data-dir", str(tmp_path / "nowhere"), "--splits", "1"]) == 2
    assert "does not exist" in capsys.readouterr().err
