"""``credo demo digits``: a Bayesian CNN on scikit-learn's 8x8 digits, against a deterministic one.

:func:`run_digits_demo` fits a small convolutional network (two 3x3
convolutions of 8 and 16 ReLU units, each followed by 2x2 max pooling, and
a linear layer to the 10 classes) to two thirds of the 1,797 bundled digit
images, twice:

- Bayesian: Normal(0, 4^2) priors; by default the convolutions are point
  estimates (``bayesian=False``: MAP inside the ELBO, their prior a weak
  penalty) and the output layer is Bayesian, or (``bayesian_features=True``)
  every layer is; mean-field ADVI from a nearly deterministic start (std
  1e-3 on every weight), minibatches of 128, Adam with a cosine-decaying
  learning rate; predictions average 200 draws;
- deterministic: the same network, initial weights and minibatches, trained
  with optax (Adam) on the cross-entropy.

On the held-out third it reports the accuracy, the expected calibration
error and the log predictive density, and how well each network's
predictive entropy separates the clean test digits from the same digits
rotated by 90 degrees and from the digits with Gaussian noise (standard
deviation 0.5) added: the area under the ROC curve (AUROC), 0.5 for no
separation, 1 for perfect. It writes a reliability diagram of both, the
test digits the Bayesian network is least sure of, the entropy
histograms and the loss curve.

What it shows (seeds 0-2, ``BENCHMARKS.md``): the Bayesian network is at
least as accurate and separates the shifted digits far better (AUROC
0.94-0.99 against 0.81-0.91), but its expected calibration error is two to
three times the deterministic network's (0.023-0.028 against
0.007-0.011): its predictive is underconfident (mean top-class probability
0.961-0.964 against an accuracy of 0.985-0.988). So is the exact posterior
of its output layer given the same convolutions (NUTS: ECE 0.022-0.027,
``benchmarks/digits_posterior.py``), so the gap is the posterior's, not the
approximation's. A tempered posterior (``temperature=0.25``) brings the ECE
to 0.008-0.016.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import metrics, plots
from ..data import Minibatch
from ..distributions import Categorical
from ..errors import ArgumentError
from ..inference.advi import MeanField, with_point_estimates
from ..inference.approximation import Approximation
from ..inference.optimizers import as_optimizer
from ..inference.results import as_key
from ..model.core import Deterministic, Model
from .conv import _convolve, conv2d, flatten, max_pool
from .layers import dense

__all__ = ["load_digits_split", "build_digits_model", "fit_bayesian", "features", "run_digits_demo",
           "DIGITS_PHASES"]

#: Phases timed by :func:`run_digits_demo`, in order.
DIGITS_PHASES = ("data", "bayesian fit", "bayesian predictions", "deterministic fit", "plots")
BATCH = 128
NOISE = 0.5


def load_digits_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as NHWC images in [0, 1] (float32) and labels, split 2/3 : 1/3 by class."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0)[..., None].astype(np.float32)
    return tuple(train_test_split(images, digits.target.astype(np.int32), test_size=1 / 3, random_state=seed,
                                  stratify=digits.target))


def out_of_distribution(images: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """The test digits rotated by 90 degrees, and with Gaussian noise (std 0.5) added, clipped to [0, 1]."""
    rng = np.random.default_rng(seed)
    return {"rotated": np.ascontiguousarray(np.rot90(images, 1, axes=(1, 2))),
            "noised": np.clip(images + rng.normal(0.0, NOISE, images.shape), 0.0, 1.0).astype(np.float32)}


#: The prior scale of every weight.
PRIOR_SIGMA = 4.0


def _network(x, bayesian_features: bool, prior_sigma: float):
    h = max_pool(conv2d("conv1", x, 8, 3, prior_sigma=prior_sigma, bayesian=bayesian_features), 2)
    h = max_pool(conv2d("conv2", h, 16, 3, prior_sigma=prior_sigma, bayesian=bayesian_features), 2)
    return dense("out", flatten(h), 10, activation=None, prior_sigma=prior_sigma)


def build_digits_model(X_train: np.ndarray, y_train: np.ndarray, seed: int = 0, bayesian_features: bool = False,
                       prior_sigma: float = PRIOR_SIGMA, temperature: float = 1.0) -> Model:
    """The Bayesian CNN: minibatches ``x``, ``y`` of 128 rows, the deterministic ``logits``, the likelihood ``obs``.

    With ``bayesian_features=False`` the convolutions are point estimates
    and only the output layer is Bayesian. A ``temperature`` below 1 tempers
    the posterior (a "cold posterior"): the likelihood counts ``1 /
    temperature`` times, through the likelihood's ``total_size``.
    """
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 < temperature <= 1:
        raise ArgumentError(f"build_digits_model: temperature must be a number in (0, 1]; got {temperature!r}.")
    with Model() as model:
        x, y = Minibatch(X_train, y_train, batch_size=BATCH, random_seed=seed, names=("x", "y"))
        logits = Deterministic("logits", _network(x, bayesian_features, prior_sigma))
        Categorical("obs", logit_p=logits, observed=y, total_size=round(len(y_train) / temperature))
    return model


def features(params: dict, images):
    """The inputs of the output layer: the network's convolutions and poolings, written in JAX.

    The convolutions are ``cr.nn.conv2d``'s, whose gradient is written out:
    with JAX's own, the deterministic baseline's compiled loop of steps ran
    8-23x slower.

    Parameters
    ----------
    params : dict
        ``conv1_w``, ``conv1_b``, ``conv2_w``, ``conv2_b`` (other entries
        are not read), e.g. the model's initial point or a fit's means.
    images : array
        ``(rows, 8, 8, 1)`` NHWC images.

    Returns
    -------
    jax.Array
        ``(rows, 64)``.

    Examples
    --------
    >>> from credo.nn.digits import build_digits_model, features, load_digits_split
    >>> X_train, X_test, y_train, y_test = load_digits_split()
    >>> model = build_digits_model(X_train, y_train)
    >>> features(model.initial_point(), X_test[:5]).shape  # doctest: +SKIP
    (5, 64)
    """
    def conv(h, name):
        h = _convolve(h, params[f"{name}_w"], (1, 1), "SAME")
        h = jax.nn.relu(h + params[f"{name}_b"])
        return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    h = conv(conv(images, "conv1"), "conv2")
    return h.reshape(h.shape[0], -1)


def _forward(params: dict, images):
    """The same network written in JAX, for the deterministic baseline."""
    return features(params, images) @ params["out_w"] + params["out_b"]


def fit_bayesian(model: Model, n: int, learning_rate: float, seed: int, progressbar: bool = False) -> Approximation:
    """The demo's mean-field fit of ``model``: ``n`` steps of Adam from a standard deviation of 1e-3.

    Mean-field ADVI with the model's point-estimated variables (the
    convolutions, by default) as points, Adam whose learning rate decays
    tenfold along a cosine, minibatches as the model draws them.

    Parameters
    ----------
    model : credo.Model
        From :func:`build_digits_model`.
    n : int
        Optimisation steps.
    learning_rate : float
        Adam's initial learning rate.
    seed : int
    progressbar : bool

    Returns
    -------
    credo.Approximation

    Examples
    --------
    >>> from credo.nn.digits import build_digits_model, fit_bayesian, load_digits_split
    >>> X_train, X_test, y_train, y_test = load_digits_split()
    >>> approx = fit_bayesian(build_digits_model(X_train, y_train), 300, 0.01, seed=0)  # doctest: +SKIP
    >>> approx.num_steps  # doctest: +SKIP
    300
    """
    compiled = model.compile()
    optimizer = as_optimizer(optax.adam(optax.cosine_decay_schedule(learning_rate, n, alpha=0.1)),
                             MeanField.default_optimizer)
    family = with_point_estimates(MeanField(), compiled.point_slices)
    approx = Approximation.start(model, family, optimizer, as_key(seed), chunk_size=min(n, 1000),
                                 std=np.full(compiled.dim, 1e-3, np.float32))
    return approx.refine(n, progressbar=progressbar)


def train_deterministic(initial: dict, X_train, y_train, n: int, learning_rate: float, seed: int) -> dict:
    """The network's weights trained on the mean cross-entropy with Adam, minibatches of 128 (one compiled scan)."""
    optimizer = optax.adam(optax.cosine_decay_schedule(learning_rate, n, alpha=0.1))
    X, y, key = jnp.asarray(X_train), jnp.asarray(y_train), jax.random.key(seed)

    def loss(params, rows):
        log_p = jax.nn.log_softmax(_forward(params, X[rows]))
        return -jnp.mean(jnp.take_along_axis(log_p, y[rows][:, None], axis=1))

    @jax.jit
    def train(params):
        def step(carry, index):
            params, state = carry
            rows = jax.random.randint(jax.random.fold_in(key, index), (BATCH,), 0, X.shape[0])
            updates, state = optimizer.update(jax.grad(loss)(params, rows), state, params)
            return (optax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), jnp.arange(n))
        return params

    return train({k: jnp.asarray(v) for k, v in initial.items()})


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, np.float64)
    logits = logits - logits.max(axis=-1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=-1, keepdims=True)


def _auroc(clean: np.ndarray, shifted: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.r_[np.zeros(len(clean)), np.ones(len(shifted))], np.r_[clean, shifted]))


def _scores(probability_draws: np.ndarray, y_test: np.ndarray, n_test: int) -> dict:
    """Accuracy, ECE, log predictive density on the test rows and OOD AUROCs from ``(S, 3 n, K)`` draws."""
    mean = probability_draws.mean(axis=0)
    entropy = metrics.predictive_entropy(probability_draws)
    test = slice(0, n_test)
    chosen = probability_draws[:, test][:, np.arange(n_test), y_test]
    return {
        "accuracy": float(np.mean(mean[test].argmax(-1) == y_test)),
        "ece": metrics.expected_calibration_error(y_test, mean[test]),
        "log_predictive_density": float(np.mean(np.log(np.maximum(chosen.mean(axis=0), 1e-300)))),
        "auroc_rotated": _auroc(entropy[test], entropy[n_test: 2 * n_test]),
        "auroc_noised": _auroc(entropy[test], entropy[2 * n_test:]),
        "entropy": entropy,
        "probabilities": mean,
    }


def run_digits_demo(
    n: int = 2000,
    draws: int = 200,
    learning_rate: float = 0.01,
    deterministic_learning_rate: float = 0.01,
    seed: int = 0,
    bayesian_features: bool = False,
    prior_sigma: float = PRIOR_SIGMA,
    temperature: float = 1.0,
    out: str | Path | None = None,
    progressbar: bool = True,
    echo: Callable[[str], Any] | None = None,
) -> dict:
    """Fit the Bayesian and the deterministic CNN to the digits and compare them (see the module doc).

    Parameters
    ----------
    n : int
        Optimisation steps of each network (minibatches of 128).
    draws : int
        Posterior draws averaged in the Bayesian predictions.
    learning_rate, deterministic_learning_rate : float
        Initial learning rates of Adam (decaying tenfold along a cosine) for
        the Bayesian fit and the deterministic network.
    seed : int
        Seeds the fits, the minibatches and the noise of the shifted digits
        (the split of the data is fixed).
    bayesian_features : bool
        Make the convolutions Bayesian too (by default they are point
        estimates inside the same fit).
    prior_sigma : float
        The scale of the Normal prior of every weight.
    temperature : float
        1 fits the posterior; below 1, a tempered one (see
        :func:`build_digits_model`).
    out : str or Path, optional
        Folder for ``reliability.png``, ``uncertain_digits.png``,
        ``entropy.png`` and ``loss.png``; no plots without it.
    progressbar : bool
    echo : callable, optional
        Called with each line of the report (e.g. ``print``).

    Returns
    -------
    dict
        ``bayesian`` and ``deterministic``: ``accuracy``, ``ece``,
        ``log_predictive_density``, ``auroc_rotated``, ``auroc_noised``;
        ``timings`` (seconds per phase), ``paths`` (written PNGs),
        ``targets`` (each comparison the demo is meant to win, True or False).

    Examples
    --------
    >>> from credo.nn.digits import run_digits_demo
    >>> result = run_digits_demo(n=300, draws=20, progressbar=False)  # doctest: +SKIP
    >>> sorted(result["bayesian"])  # doctest: +SKIP
    ['accuracy', 'auroc_noised', 'auroc_rotated', 'ece', 'log_predictive_density']
    """
    say = echo if echo is not None else (lambda line: None)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    X_train, X_test, y_train, y_test = load_digits_split()
    shifted = out_of_distribution(X_test, seed)
    evaluation = np.concatenate([X_test, shifted["rotated"], shifted["noised"]])
    model = build_digits_model(X_train, y_train, seed, bayesian_features, prior_sigma, temperature)
    timings["data"] = time.perf_counter() - start

    start = time.perf_counter()
    approx = fit_bayesian(model, n, learning_rate, seed, progressbar)
    timings["bayesian fit"] = time.perf_counter() - start

    start = time.perf_counter()
    values = approx.sample(draws, random_seed=seed + 1, return_inferencedata=False,
                           data={"x": evaluation, "y": np.zeros(len(evaluation), np.int32)})
    bayesian = _scores(_softmax(values["logits"]), y_test, len(y_test))
    timings["bayesian predictions"] = time.perf_counter() - start

    start = time.perf_counter()
    weights = train_deterministic(model.initial_point(), X_train, y_train, n, deterministic_learning_rate, seed)
    deterministic = _scores(_softmax(_forward(weights, jnp.asarray(evaluation)))[None], y_test, len(y_test))
    timings["deterministic fit"] = time.perf_counter() - start

    report = {"bayesian": bayesian, "deterministic": deterministic}
    for line in _report_lines(report):
        say(line)
    paths: dict[str, str] = {}
    if out is not None:
        start = time.perf_counter()
        paths = _write_plots(Path(out), report, approx.hist, X_test, y_test, len(y_test))
        timings["plots"] = time.perf_counter() - start
    say("Time per phase: " + ", ".join(f"{phase} {timings[phase]:.1f} s" for phase in DIGITS_PHASES
                                        if phase in timings) + f" (total {sum(timings.values()):.1f} s)")
    for path in paths.values():
        say(f"Wrote {path}")
    summary = {kind: {k: v for k, v in scores.items() if k not in ("entropy", "probabilities")}
               for kind, scores in report.items()}
    b, d = summary["bayesian"], summary["deterministic"]
    targets = {"accuracy at least the deterministic's": b["accuracy"] >= d["accuracy"],
               "ECE below the deterministic's": b["ece"] < d["ece"],
               "AUROC (rotated) above the deterministic's": b["auroc_rotated"] > d["auroc_rotated"],
               "AUROC (noised) above the deterministic's": b["auroc_noised"] > d["auroc_noised"]}
    return {**summary, "timings": timings, "paths": paths, "targets": targets, "n": n, "draws": draws,
            "seed": seed, "bayesian_features": bayesian_features, "temperature": temperature}


def _report_lines(report: dict) -> list[str]:
    lines = [f"{'':15s}{'accuracy':>10s}{'ECE':>8s}{'log p(y)':>10s}{'AUROC rotated':>15s}{'AUROC noised':>14s}"]
    for kind, scores in report.items():
        lines.append(f"{kind:15s}{scores['accuracy']:>10.3f}{scores['ece']:>8.3f}"
                     f"{scores['log_predictive_density']:>10.3f}{scores['auroc_rotated']:>15.3f}"
                     f"{scores['auroc_noised']:>14.3f}")
    return lines


def _write_plots(out: Path, report: dict, hist, X_test, y_test, n_test: int) -> dict[str, str]:
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = {}

    def save(figure, name):
        path = out / f"{name}.png"
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        paths[name] = str(path)

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, kind in zip(axes, ("bayesian", "deterministic")):
        plots.plot_reliability(y_test, report[kind]["probabilities"][:n_test], ax=ax)
        ax.set_title(f"{kind} CNN: {ax.get_title()}")
    save(figure, "reliability")

    bayesian = report["bayesian"]
    order = np.argsort(bayesian["entropy"][:n_test])[::-1][:12]
    figure, axes = plt.subplots(2, 6, figsize=(12, 4.6))
    for ax, index in zip(axes.ravel(), order):
        ax.imshow(X_test[index, ..., 0], cmap="gray_r", vmin=0, vmax=1)
        predicted = int(bayesian["probabilities"][index].argmax())
        ax.set_title(f"true {y_test[index]}, said {predicted}\nentropy {bayesian['entropy'][index]:.2f}", fontsize=9)
        ax.axis("off")
    figure.suptitle("The test digits the Bayesian CNN is least sure of (predictive entropy, nats)")
    save(figure, "uncertain_digits")

    figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, kind in zip(axes, ("bayesian", "deterministic")):
        entropy = report[kind]["entropy"]
        bins = np.linspace(0, np.log(10), 30)
        for label, part in (("clean", slice(0, n_test)), ("rotated", slice(n_test, 2 * n_test)),
                            ("noised", slice(2 * n_test, None))):
            ax.hist(entropy[part], bins=bins, alpha=0.5, label=label)
        ax.set_title(f"{kind} CNN: AUROC rotated {report[kind]['auroc_rotated']:.3f}, "
                     f"noised {report[kind]['auroc_noised']:.3f}", fontsize=10)
        ax.set_xlabel("predictive entropy (nats)")
        ax.legend()
    axes[0].set_ylabel("test images")
    save(figure, "entropy")
    save(plots.plot_loss(hist, smooth=min(100, len(hist))), "loss")
    return paths
