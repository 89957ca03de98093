"""BNNClassifier and BNNRegressor: scikit-learn conformance, predictions, uncertainty."""

import logging
import pickle

import jax
import numpy as np
import pytest
from sklearn.datasets import load_iris, make_moons
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import credo as cr
from credo.metrics import log_predictive_density
from credo.nn import BNNClassifier, BNNRegressor
from credo.nn.templates import clear_templates

# Small networks and short fits: check_estimator fits a few dozen times.
FAST = dict(hidden_layer_sizes=(10,), n_iter=500, draws=100, learning_rate=0.05)
# The regressor with one noise scale and one member: the model the tests below write out by hand.
HOMOSCEDASTIC = dict(noise="homoscedastic", n_members=1)


# One member each: the checks test the API's shape; the default ensemble is checked by the pickle test below.
@parametrize_with_checks([BNNRegressor(**FAST, n_members=1), BNNClassifier(**FAST)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


# The same checks of the regressor with one noise scale (the same API over another likelihood).
@pytest.mark.slow
@parametrize_with_checks([BNNRegressor(**FAST, **HOMOSCEDASTIC)])
def test_sklearn_compatible_with_one_noise_scale(estimator, check):
    check(estimator)


def _relu_forward(posterior, X):
    """The network's output per draw, computed with numpy from the posterior draws."""
    hidden = np.maximum(np.einsum("nd,sdh->snh", X, posterior["net_0_w"]) + posterior["net_0_b"][:, None], 0)
    return np.einsum("snh,sho->sno", hidden, posterior["net_out_w"]) + posterior["net_out_b"][:, None]


def test_regressor_predictions_are_the_networks_in_original_units():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(120, 2)) * [1.0, 10.0] + [0.0, 50.0]
    y = 100 + 20 * np.sin(X[:, 0]) + 0.5 * (X[:, 1] - 50) + rng.normal(0, 1.0, size=120)
    model = BNNRegressor(**FAST, **HOMOSCEDASTIC, random_state=0).fit(X, y)
    assert model.score(X, y) > 0.95
    X_new = rng.uniform(-2, 2, size=(7, 2)) * [1.0, 10.0] + [0.0, 50.0]
    f = _relu_forward(model.posterior_, (X_new - model.X_mean_) / model.X_std_)[..., 0]  # (S, n) standardised
    mean, std = model.predict(X_new, return_std=True)
    np.testing.assert_allclose(mean, f.mean(0) * model.y_std_ + model.y_mean_, rtol=1e-4)
    sigma = model.posterior_["sigma"][:, None]
    np.testing.assert_allclose(std, np.sqrt(f.var(0) + np.mean(sigma**2)) * model.y_std_, rtol=1e-3)
    # the noise is learned: about 1 in original units
    assert 0.5 < float(np.mean(sigma)) * model.y_std_ < 2.0
    # log predictive density per row, in original units, = log mean_s N(y | mu_s, sigma_s)
    y_new = 100 + 20 * np.sin(X_new[:, 0]) + 0.5 * (X_new[:, 1] - 50)
    mu_orig, sigma_orig = f * model.y_std_ + model.y_mean_, sigma * model.y_std_
    log_lik = -0.5 * ((y_new - mu_orig) / sigma_orig) ** 2 - np.log(sigma_orig) - 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(model.log_predictive_density(X_new, y_new), log_predictive_density(log_lik),
                               rtol=1e-4, atol=1e-4)
    draws = model.sample_predictive(X_new, draws=2000, random_state=1)
    assert draws.shape == (2000, 7)
    np.testing.assert_allclose(draws.mean(0), mean, atol=4 * std.max() / np.sqrt(2000) + 0.05)
    np.testing.assert_allclose(draws.std(0), std, rtol=0.15)
    parts = model.predict_uncertainty(X_new)
    np.testing.assert_allclose(parts["total"], std, rtol=1e-3)


def test_predictive_std_grows_away_from_the_training_inputs():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(80, 1))
    y = np.sin(3 * X[:, 0]) + 0.1 * rng.normal(size=80)
    model = BNNRegressor(**FAST, **HOMOSCEDASTIC, random_state=0).fit(X, y)
    grid = np.array([[-4.0], [-2.5], [-1.5], [-0.5], [0.0], [0.5], [1.5], [2.5], [4.0]])
    _, std = model.predict(grid, return_std=True)
    inside = std[3:6].max()
    assert std[0] > 2 * inside and std[-1] > 2 * inside
    assert std[0] > std[1] > std[2] > inside and std[-1] > std[-2] > std[-3] > inside
    epistemic = model.predict_uncertainty(grid)["epistemic"]
    assert epistemic[0] > 3 * epistemic[4] and epistemic[-1] > 3 * epistemic[4]


def test_classifier_binary_and_multiclass():
    X, y = make_moons(200, noise=0.15, random_state=0)
    labels = np.array(["left", "right"])[y]
    clf = BNNClassifier(**FAST, random_state=0).fit(X, labels)
    assert clf.score(X, labels) > 0.93
    proba = clf.predict_proba(X[:10])
    assert proba.shape == (10, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
    draws = clf.sample_predictive(X[:5], draws=30, random_state=0)
    assert draws.shape == (30, 5) and set(np.unique(draws)) <= {"left", "right"}
    lpd = clf.log_predictive_density(X[:10], labels[:10])
    np.testing.assert_allclose(lpd, np.log(proba[np.arange(10), y[:10]]), rtol=1e-5)
    assert clf.sample_probabilities(X[:4]).shape == (clf.draws, 4, 2)

    X, y = load_iris(return_X_y=True)
    clf = BNNClassifier(**FAST, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.93
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    lpd = clf.log_predictive_density(X, y)
    assert lpd.shape == (150,) and np.all(lpd <= 0)
    np.testing.assert_allclose(lpd, np.log(proba[np.arange(150), y]), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="not seen in fit"):
        clf.log_predictive_density(X[:2], [0, 7])


@pytest.mark.slow
def test_pipeline_and_grid_search():
    X, y = make_moons(120, noise=0.2, random_state=2)
    pipe = make_pipeline(StandardScaler(), BNNClassifier(**FAST, random_state=0))
    search = GridSearchCV(pipe, {"bnnclassifier__init_std": [1e-3, 1e-2]}, cv=2)
    search.fit(X, y)
    assert search.best_score_ > 0.8
    assert search.predict(X[:5]).shape == (5,)
    reg = GridSearchCV(BNNRegressor(**FAST, random_state=0), {"draws": [50, 100]}, cv=2)
    reg.fit(X, X[:, 0] + X[:, 1])
    assert reg.best_estimator_.predict(X[:3]).shape == (3,)


def test_pickle_round_trip_and_refit_is_reproducible():
    X, y = make_moons(60, noise=0.2, random_state=3)
    reg = BNNRegressor(**FAST, random_state=4).fit(X, y)
    again = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))
    np.testing.assert_allclose(BNNRegressor(**FAST, random_state=4).fit(X, y).predict(X), reg.predict(X))
    assert reg.approximation_ is not None and again.approximation_ is None
    assert reg.loss_curve_.shape == (FAST["n_iter"],)
    # the regressor's defaults: three members ("auto" with a variational method), a noise scale per input
    assert reg.approximation_.family.label == "mixture3[meanfield]" and "net_out_w" in reg.posterior_
    assert reg.posterior_["net_out_w"].shape[-1] == 2 and "sigma" not in reg.posterior_


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fullrank_advi", "lowrank_advi"])
def test_other_variational_families(method):
    X, y = make_moons(60, noise=0.2, random_state=0)
    clf = BNNClassifier(hidden_layer_sizes=(3,), method=method, n_iter=800, draws=50, learning_rate=0.03,
                        random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.75


@pytest.mark.slow
def test_minibatches():
    if not hasattr(cr, "Minibatch"):
        with pytest.raises(NotImplementedError, match="Minibatch"):
            BNNRegressor(batch_size=10, n_iter=10).fit(np.zeros((20, 1)), np.zeros(20))
        return
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    y = X[:, 0] - 2 * X[:, 1] + 0.1 * rng.normal(size=400)
    model = BNNRegressor(hidden_layer_sizes=(8,), batch_size=50, n_iter=3000, draws=100, learning_rate=0.01,
                         random_state=0).fit(X, y)
    assert model.score(X, y) > 0.95


@pytest.mark.slow
def test_nuts():
    if not hasattr(cr, "sample"):
        pytest.skip("cr.sample (NUTS) is not available")
    X, y = make_moons(40, noise=0.2, random_state=0)
    # n_members="auto" is one member with NUTS; one noise scale: 100 tuning steps on 40 rows are too few for the
    # per-input noise's posterior (10 divergences, R^2 0.2)
    model = BNNRegressor(hidden_layer_sizes=(2,), method="nuts", n_iter=100, draws=60, random_state=0,
                         noise="homoscedastic").fit(X, y)
    assert next(iter(model.posterior_.values())).shape[0] == 60 and "sigma" in model.posterior_
    assert model.score(X, y) > 0.3


def test_bad_parameters_are_reported_at_fit():
    X, y = np.zeros((10, 2)), np.zeros(10)
    for params, match in [({"method": "sgd"}, "method"), ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
                          ({"n_iter": 0}, "n_iter"), ({"prior_sigma": -1.0}, "prior_sigma"),
                          ({"prior_sigma": [1.0]}, "prior_sigma"), ({"batch_size": 0}, "batch_size"),
                          ({"n_members": "many"}, r"n_members must be a positive integer or 'auto'; got 'many'")]:
        with pytest.raises(ValueError, match=match):
            BNNRegressor(**params).fit(X, y)
    with pytest.raises(ValueError, match="1 class"):
        BNNClassifier(n_iter=10).fit(X, np.zeros(10))


class _CompileLog(logging.Handler):
    """Counts jax's "Finished XLA compilation of jit(NAME)" records by NAME."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.counts = {}

    def emit(self, record):
        message = record.getMessage()
        if message.startswith("Finished XLA compilation of "):
            name = message.split()[4]
            self.counts[name] = self.counts.get(name, 0) + 1


@pytest.fixture
def compile_log():
    handler, logger = _CompileLog(), logging.getLogger("jax")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        with jax.log_compiles(True):
            yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_cross_validation_and_predictions_compile_once_per_row_bucket(compile_log):
    clear_templates()
    X, y = make_moons(300, noise=0.2, random_state=0)
    clf = BNNClassifier(hidden_layer_sizes=(7,), n_iter=200, draws=30, learning_rate=0.02, random_state=0)
    # three folds: 200 training rows each (padded to 224), 100 test rows (padded to 112)
    scores = cross_val_score(clf, X, y, cv=3)
    assert scores.mean() > 0.75
    programs = clf.fit(X[:200], y[:200])._template_model().compile().programs
    # the initial point, the fit's init and chunk, the weights' draws, the predictive on 112 rows
    assert programs.builds == 5
    counts = compile_log.counts
    assert counts.get("jit(init)") == 1 and counts.get("jit(run_chunk)") == 1 and counts.get("jit(run)") == 3
    # predictions on 3, 9, 16 rows share the 16-row program; 17 and 30 the 32-row one; 100 the 112-row one
    for n in (3, 9, 16, 17, 30, 100):
        assert clf.predict_proba(X[:n]).shape == (n, 2)
    assert programs.builds == 7
    assert counts.get("jit(init)") == 1 and counts.get("jit(run_chunk)") == 1 and counts.get("jit(run)") == 5
    # a clone of another structure has programs of its own
    BNNClassifier(hidden_layer_sizes=(5,), n_iter=50, draws=10).fit(X[:200], y[:200])
    assert counts.get("jit(run_chunk)") == 2


def test_the_approximation_is_the_fit_on_the_estimators_own_padded_data():
    X, y = make_moons(60, noise=0.2, random_state=1)
    clf = BNNClassifier(hidden_layer_sizes=(4,), n_iter=300, draws=20, learning_rate=0.02, random_state=0).fit(X, y)
    approx = clf.approximation_
    assert approx is clf.approximation_ and approx.num_steps == 300
    data = approx.model.data_values
    assert data["X"].shape == (64, 2) and float(np.sum(data["mask"])) == 60  # 60 rows padded to 64
    np.testing.assert_allclose(np.asarray(data["X"])[:60], (X - clf.X_mean_) / clf.X_std_, rtol=1e-6)
    # the loss curve is the approximation's, less the constant likelihood of the 4 padding rows
    np.testing.assert_allclose(clf.loss_curve_, approx.hist - 4 * np.log(2), rtol=1e-6)
    longer = approx.refine(50, progressbar=False)
    assert longer.num_steps == 350 and np.isfinite(longer.hist).all()


@pytest.mark.slow
def test_an_ensemble_of_members_shares_the_draws_equally():
    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 2, size=(80, 2))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] + rng.normal(0, 0.1, size=80)
    model = BNNRegressor(**dict(FAST, draws=99), n_members=3, random_state=0).fit(X, y)
    approx = model.approximation_
    assert approx.family.label == "mixture3[meanfield]"
    members = approx.members
    # every posterior draw of the weights lies nearest (in its sds) the member it came from: 33 each
    names = sorted(model.posterior_)
    flat = np.concatenate([model.posterior_[n].reshape(99, -1) for n in names], axis=1)
    means = np.stack([np.concatenate([np.ravel(m.mean[n]) for n in names]) for m in members])
    stds = np.stack([np.concatenate([np.ravel(m.std[n]) for n in names]) for m in members])
    owner = np.argmin(np.abs((flat[:, None] - means[None]) / stds[None]).sum(axis=2), axis=1)
    np.testing.assert_array_equal(np.bincount(owner, minlength=3), [33, 33, 33])
    assert len({round(float(m.mean["net_out_b"][0]), 4) for m in members}) == 3  # the members differ
    assert model.score(X, y) > 0.9
    with pytest.raises(ValueError, match="n_members"):
        BNNRegressor(method="nuts", n_members=2).fit(X, y)
    with pytest.raises(ValueError, match="n_members"):
        BNNRegressor(n_members=0).fit(X, y)
