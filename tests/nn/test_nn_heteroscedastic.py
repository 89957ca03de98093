"""BNNRegressor(noise="heteroscedastic"): a noise scale per input, its predictions and the UCI log-likelihood."""

import pickle

import jax
import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import norm

from credo.inference.programs import ADVIChunk
from credo.nn import BNNRegressor
from credo.nn.estimators import NOISE_FLOOR
from credo.nn.uci import main, run_split


def noise_std(x: np.ndarray) -> np.ndarray:
    """The true noise standard deviation of the synthetic data: 0.1 at 0, 1.1 at |x| = 2."""
    return 0.1 + 0.5 * np.abs(x)


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 1))
    return X, np.sin(2 * X[:, 0]) + noise_std(X[:, 0]) * rng.normal(size=n)


SMALL = dict(hidden_layer_sizes=(20,), n_iter=3000, learning_rate=0.01, draws=100, random_state=0, n_members=1)


@pytest.fixture(scope="module")
def fits():
    X, y = synthetic(1000, seed=0)
    return {noise: BNNRegressor(**SMALL, noise=noise).fit(X, y) for noise in ("heteroscedastic", "homoscedastic")}


def test_the_noise_scale_per_input_is_recovered(fits):
    model = fits["heteroscedastic"]
    points = np.array([[-1.5], [-1.0], [0.0], [1.0], [1.5]])
    noise = model.predict_uncertainty(points)["aleatoric"]
    truth = noise_std(points[:, 0])
    # it grows with |x| on both sides
    assert noise[2] < noise[1] < noise[0] and noise[2] < noise[3] < noise[4]
    # away from the kink at 0: within 20% of the truth. About 100 of the 1000 rows lie within 0.2 of each point,
    # so a standard deviation estimated from them has a relative standard error of 1/sqrt(2 * 100) = 7%: 20% is
    # about 3 standard errors (over five data seeds the ratios were 0.94-1.10)
    np.testing.assert_allclose(noise[[0, 1, 3, 4]], truth[[0, 1, 3, 4]], rtol=0.2)
    # at 0 the network smooths the kink of |x| (the truth averages 0.15 over |x| < 0.2): still well under
    # half the noise at |x| = 1
    assert noise[2] < 0.3
    # the draws' noise is the network's second output through softplus, above the floor
    parameters = model.predictive_parameters(points)
    assert parameters["noise"].shape == parameters["mean"].shape == (100, 5)
    assert np.all(parameters["noise"] > NOISE_FLOOR * model.y_std_)
    # predict's std is the mixture's: variance of the means plus the mean of the per-row noise variances
    mean, std = model.predict(points, return_std=True)
    np.testing.assert_allclose(mean, parameters["mean"].mean(0), rtol=1e-6)
    np.testing.assert_allclose(std, np.sqrt(parameters["mean"].var(0) + (parameters["noise"] ** 2).mean(0)),
                               rtol=1e-6)
    # sampled targets carry the per-row noise: their spread at |x| = 1.5 is several times that at 0
    draws = model.sample_predictive(points, draws=2000, random_state=1)
    np.testing.assert_allclose(draws.std(0), std, rtol=0.1)  # 2000 draws: a relative s.e. of 1.6%


def test_held_out_log_likelihood_beats_the_homoscedastic_fit(fits):
    X_test, y_test = synthetic(2000, seed=1)
    hetero = fits["heteroscedastic"].log_predictive_density(X_test, y_test)
    homo = fits["homoscedastic"].log_predictive_density(X_test, y_test)
    # the exact gain (true noise against its root mean square) is E[log(rms / sd(x))] = 0.33 nats; the paired
    # difference has a standard error of about 0.02 over 2000 rows: 0.15 is far inside both
    assert hetero.mean() > homo.mean() + 0.15
    # the homoscedastic fit has one noise scale per draw, the same on every row
    noise = fits["homoscedastic"].predictive_parameters(X_test[:5])["noise"]
    np.testing.assert_array_equal(noise, np.broadcast_to(noise[:, :1], noise.shape))


def test_bad_noise_value_is_a_clear_error():
    X, y = np.zeros((10, 2)), np.zeros(10)
    for bad in ("hetero", None, 1):
        with pytest.raises(ValueError, match=r"noise must be one of \['homoscedastic', 'heteroscedastic'\]"):
            BNNRegressor(noise=bad, n_iter=10).fit(X, y)
    assert BNNRegressor().get_params()["noise"] == "heteroscedastic"  # the default


def write_uci_set(root, rows: int = 48, seed: int = 0):
    """A tiny UCI-style folder ``root/tiny``: two inputs, a noise that grows with the first, one split."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(rows, 2))
    y = X[:, 0] - 0.5 * X[:, 1] + noise_std(X[:, 0]) * rng.normal(size=rows)
    folder = root / "tiny"
    folder.mkdir(parents=True)
    np.savetxt(folder / "data.txt", np.column_stack([X, y]))
    (folder / "n_splits.txt").write_text("1")
    (folder / "n_hidden.txt").write_text("6")
    (folder / "n_epochs.txt").write_text("10")
    np.savetxt(folder / "index_features.txt", [0, 1], fmt="%d")
    np.savetxt(folder / "index_target.txt", [2], fmt="%d")
    np.savetxt(folder / "index_train_0.txt", np.arange(40), fmt="%d")
    np.savetxt(folder / "index_test_0.txt", np.arange(40, rows), fmt="%d")
    return X, y


# n_iter and draws as in test_credo_uci_noise_option, so that the two share their compiled programs
@pytest.mark.parametrize("params", [{"noise": "heteroscedastic", "n_members": 1},
                                    pytest.param({"noise": "homoscedastic", "n_members": 1}, marks=pytest.mark.slow),
                                    pytest.param({"noise": "heteroscedastic", "n_members": 2},
                                                 marks=pytest.mark.slow)])
def test_run_split_log_likelihood_is_the_draws_log_mean_density(tmp_path, params):
    X, y = write_uci_set(tmp_path)
    settings = dict(params, n_iter=50, draws=10)
    row = run_split("tiny", 0, tmp_path, **settings)
    # the same fit, as run_split makes it (the protocol's 6 ReLU units, random_state = the split)
    model = BNNRegressor(hidden_layer_sizes=(6,), activation="relu", random_state=0, **settings).fit(X[:40], y[:40])
    X_test, y_test = X[40:], y[40:]
    # each draw's mean and noise at each test row, from the weights' draws by numpy: output 0 is the mean,
    # output 1 the noise through softplus (heteroscedastic), or the draw's sigma (homoscedastic)
    w = model.posterior_
    X_std = (X_test - model.X_mean_) / model.X_std_
    hidden = np.maximum(np.einsum("nd,sdh->snh", X_std, w["net_0_w"]) + w["net_0_b"][:, None], 0)
    out = np.einsum("snh,sho->sno", hidden, w["net_out_w"]) + w["net_out_b"][:, None]  # (draws, rows, outputs)
    if params["noise"] == "heteroscedastic":
        mean, noise = out[..., 0], np.logaddexp(0.0, out[..., 1]) + NOISE_FLOOR
        assert np.ptp(noise, axis=1).min() > 0  # a noise scale per row
    else:
        mean, noise = out[..., 0], np.broadcast_to(w["sigma"][:, None], out.shape[:2])
    mean, noise = mean * model.y_std_ + model.y_mean_, noise * model.y_std_
    log_density = norm.logpdf(y_test, loc=mean, scale=noise)  # (draws, rows)
    by_hand = logsumexp(log_density, axis=0) - np.log(log_density.shape[0])
    assert row["ll"] == pytest.approx(float(by_hand.mean()), rel=1e-4, abs=1e-4)
    assert row["rmse"] == pytest.approx(float(np.sqrt(np.mean((mean.mean(0) - y_test) ** 2))), rel=1e-4)
    parameters = model.predictive_parameters(X_test)
    np.testing.assert_allclose(parameters["mean"], mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(parameters["noise"], noise, rtol=1e-4, atol=1e-6)
    # a pickled estimator predicts the same
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(again.log_predictive_density(X_test, y_test), by_hand, rtol=1e-4, atol=1e-4)


def test_predictions_compile_once_per_row_bucket(fits):
    X, y = synthetic(100, seed=2)
    model = fits["heteroscedastic"]
    programs = model._template_model().compile().programs
    model.predict(X[:3], return_std=True)
    builds = programs.builds
    # 3, 9 and 16 rows share the 16-row bucket: one program for the means and noises of every call
    for n in (9, 16):
        model.predict(X[:n], return_std=True)
        model.log_predictive_density(X[:n], y[:n])
        model.predict_uncertainty(X[:n])
    assert programs.builds == builds
    # the homoscedastic estimator of the same network has a template of its own
    assert fits["homoscedastic"]._template_model() is not model._template_model()


def test_the_warmup_and_the_fit_after_it_run_one_program_compiled_once(fits):
    compiled = fits["heteroscedastic"]._template_model().compile()
    chunks = [spec for spec in compiled.programs.specs() if isinstance(spec, ADVIChunk)]
    assert chunks
    # the stages' data are arguments placed as the rest of the data: once, a committed stage value among
    # uncommitted data compiled the chunk program three times (as the state became committed too)
    assert [compiled.programs.get(spec, compiled)._cache_size() for spec in chunks] == [1] * len(chunks)


def test_credo_uci_noise_option(tmp_path, capsys):
    write_uci_set(tmp_path)
    assert main(["tiny", "--data-dir", str(tmp_path), "--splits", "1", "--n-iter", "50", "--draws", "10",
                 "--noise", "heteroscedastic", "--members", "1"]) == 0
    out = capsys.readouterr().out
    assert "tiny split  0: RMSE" in out
    # the row is run_split's with the same settings
    row = run_split("tiny", 0, tmp_path, n_iter=50, draws=10, noise="heteroscedastic", n_members=1)
    assert f"RMSE {row['rmse']:.3f}  test LL {row['ll']:.3f}" in out
    with pytest.raises(SystemExit):
        main(["tiny", "--data-dir", str(tmp_path), "--noise", "hetero"])
    assert "invalid choice: 'hetero'" in capsys.readouterr().err


def test_the_warmup_fits_the_mean_with_one_noise_scale_and_the_noise_to_the_residuals(fits):
    model = fits["heteroscedastic"]
    approx = model.approximation_
    data = dict(approx.model.data_values)
    assert float(data["warmup"]) == 0.0  # the fitted model is the heteroscedastic one, with no warm-up term
    compiled = approx.model.compile()
    rng = np.random.default_rng(0)
    position = jax.numpy.asarray(0.5 * rng.normal(size=compiled.dim), data["X"].dtype)

    @jax.jit  # one program (jax.grad outside jit runs, and compiles, operation by operation)
    def log_density_and_gradient(warmup):
        return jax.value_and_grad(lambda p: compiled.logdensity_fn(p, {**data, "warmup": warmup}))(position)

    def log_density(warmup):
        return log_density_and_gradient(jax.numpy.asarray(warmup, data["X"].dtype))[0]

    # the network by numpy at this position
    w = {info.name: np.asarray(position[info.offset: info.offset + info.size], np.float64).reshape(info.shape)
         for info in compiled.free}
    Xs, ys, mask = (np.asarray(data[name], np.float64) for name in ("X", "y", "mask"))
    hidden = np.maximum(Xs @ w["net_0_w"] + w["net_0_b"], 0.0)
    raw = hidden @ w["net_out_w"] + w["net_out_b"]
    mu, sigma = raw[:, 0], np.logaddexp(0.0, raw[:, 1]) + NOISE_FLOOR
    constant = np.logaddexp(0.0, w["net_out_b"][1]) + NOISE_FLOOR
    # the warm-up's log-likelihood: Normal(y | mu, one noise scale) for the mean and Normal(y | mu held still,
    # sigma(x)) for the noise, so its value is Normal(y | mu, one noise scale) more than the model's (less the
    # constant of the density, which the warm-up term leaves out) ...
    change = norm.logpdf(ys, mu, constant) + 0.5 * np.log(2 * np.pi)
    assert float(log_density(1.0) - log_density(0.0)) == pytest.approx(float(np.sum(change * mask)), rel=1e-4)
    # ... and its gradient: the mean's output weights are pulled as with the one noise scale, the noise's as by
    # the residuals of a mean held still (both beside the Normal(0, 1) prior's pull, -w)
    gradient = np.asarray(log_density_and_gradient(jax.numpy.asarray(1.0, position.dtype))[1], np.float64)
    info = next(i for i in compiled.free if i.name == "net_out_w")
    out_gradient = gradient[info.offset: info.offset + info.size].reshape(info.shape)
    residual = (ys - mu) * mask
    mean_pull = hidden.T @ (residual / constant**2) - w["net_out_w"][:, 0]
    d_sigma = 1.0 / (1.0 + np.exp(-raw[:, 1]))
    noise_pull = hidden.T @ (mask * (residual**2 / sigma**3 - 1.0 / sigma) * d_sigma) - w["net_out_w"][:, 1]
    np.testing.assert_allclose(out_gradient[:, 0], mean_pull, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(out_gradient[:, 1], noise_pull, rtol=1e-3, atol=1e-3)
    # without the warm-up the mean's weights feel the per-row noise: a different pull
    plain = np.asarray(log_density_and_gradient(jax.numpy.asarray(0.0, position.dtype))[1], np.float64)
    assert not np.allclose(plain[info.offset: info.offset + info.size].reshape(info.shape)[:, 0], mean_pull,
                           rtol=1e-2)
    with pytest.raises(ValueError, match=r"noise_warmup must be a number in \[0, 1\)"):
        BNNRegressor(noise="heteroscedastic", noise_warmup=1.0, n_iter=10).fit(Xs, ys)
