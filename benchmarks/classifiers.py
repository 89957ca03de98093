"""BNNClassifier on scikit-learn's bundled data sets against a deep ensemble and MLPClassifier.

Data sets: digits, breast cancer, wine, iris (``sklearn.datasets``). Each
split is a stratified 80/20 train/test split (``train_test_split`` with
``random_state=split``); inputs are standardised with the training rows' mean
and standard deviation. Three classifiers of the same network (one hidden
layer of 50 ReLU units):

- credo: :class:`credo.nn.BNNClassifier` with its defaults (``--n-members k``
  for an equal-weight mixture of ``k`` fits);
- a deep ensemble: five networks trained with optax (Adam at 1e-3, full batch,
  the mean cross-entropy plus an L2 penalty of 1e-4 per weight, 3,000 steps),
  each from its own initial weights, all vmapped in one jitted loop; their
  probabilities averaged;
- ``sklearn.neural_network.MLPClassifier(hidden_layer_sizes=(50,), max_iter=2000)``.

Reported on the test rows: accuracy, test log-likelihood (the mean log of the
predicted probability of the true class) and the expected calibration error
(10 equal-width confidence bins), mean ± standard error over splits, and the
seconds per split (compilation included).

Usage::

    PYTHONPATH=src python benchmarks/classifiers.py --splits 3 [--prior-sigmas 1 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from sklearn import datasets  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

from credo.metrics import expected_calibration_error  # noqa: E402
from credo.nn import BNNClassifier  # noqa: E402

LOADERS = {"digits": datasets.load_digits, "breast cancer": datasets.load_breast_cancer,
           "wine": datasets.load_wine, "iris": datasets.load_iris}
HIDDEN = 50


def deep_ensemble_proba(X_train, y_train, X_test, n_classes, seed, members=5, steps=3000, lr=1e-3, l2=1e-4):
    """Test probabilities of ``members`` networks trained with optax, averaged."""
    d = X_train.shape[1]

    def init(key):
        k1, k2 = jax.random.split(key)
        return {"w1": jax.random.normal(k1, (d, HIDDEN)) * np.sqrt(2.0 / d), "b1": jnp.zeros(HIDDEN),
                "w2": jax.random.normal(k2, (HIDDEN, n_classes)) * np.sqrt(1.0 / HIDDEN), "b2": jnp.zeros(n_classes)}

    def logits(params, X):
        return jax.nn.relu(X @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]

    def loss(params, X, y):
        penalty = sum(jnp.sum(params[name] ** 2) for name in ("w1", "w2"))
        return optax.softmax_cross_entropy_with_integer_labels(logits(params, X), y).mean() + l2 * penalty

    optimizer = optax.adam(lr)

    def train(key, X, y):
        params = init(key)

        def step(carry, _):
            params, state = carry
            grads = jax.grad(loss)(params, X, y)
            updates, state = optimizer.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), None, length=steps)
        return params

    keys = jax.random.split(jax.random.key(seed), members)
    params = jax.jit(jax.vmap(train, in_axes=(0, None, None)))(keys, jnp.asarray(X_train, jnp.float32),
                                                               jnp.asarray(y_train))
    probabilities = jax.vmap(lambda p: jax.nn.softmax(logits(p, jnp.asarray(X_test, jnp.float32))))(params)
    return np.asarray(probabilities.mean(axis=0), np.float64)


def scores(y, probabilities) -> dict:
    probabilities = np.clip(probabilities, 1e-12, 1.0)
    probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
    return {"accuracy": float(np.mean(probabilities.argmax(axis=1) == y)),
            "ll": float(np.mean(np.log(probabilities[np.arange(len(y)), y]))),
            "ece": float(expected_calibration_error(y, probabilities, n_bins=10))}


def run_split(name: str, split: int, n_members: int, prior_sigmas=(None,)) -> dict:
    X, y = LOADERS[name](return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=split)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
    n_classes = int(y.max()) + 1
    rows = {}
    for prior_sigma in prior_sigmas:
        start = time.perf_counter()
        options = {} if prior_sigma is None else {"prior_sigma": prior_sigma}
        credo = BNNClassifier(hidden_layer_sizes=(HIDDEN,), n_members=n_members, random_state=split,
                              **options).fit(X_train, y_train)
        label = "credo" if prior_sigma is None else f"credo (prior_sigma={prior_sigma:g})"
        rows[label] = dict(scores(y_test, credo.predict_proba(X_test)), seconds=time.perf_counter() - start)
    start = time.perf_counter()
    probabilities = deep_ensemble_proba(X_train, y_train, X_test, n_classes, seed=split)
    rows["deep ensemble (5, optax)"] = dict(scores(y_test, probabilities), seconds=time.perf_counter() - start)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=(HIDDEN,), max_iter=2000, random_state=split).fit(X_train, y_train)
    rows["MLPClassifier"] = dict(scores(y_test, mlp.predict_proba(X_test)), seconds=time.perf_counter() - start)
    return rows


def _pm(values, digits=3) -> str:
    values = np.asarray(values)
    return f"{values.mean():.{digits}f} ± {values.std() / np.sqrt(len(values)):.{digits}f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--names", nargs="*", default=list(LOADERS), choices=list(LOADERS))
    parser.add_argument("--n-members", type=int, default=1)
    parser.add_argument("--prior-sigmas", type=float, nargs="+", default=[None],
                        help="fit credo once per prior scale (default: the classifier's default)")
    args = parser.parse_args(argv)
    lines = ["| data set | classifier | accuracy | test LL | ECE | s / split |", "| --- | --- | --- | --- | --- | --- |"]
    for name in args.names:
        runs = [run_split(name, split, args.n_members, args.prior_sigmas) for split in range(args.splits)]
        for method in runs[0]:
            values = {key: [run[method][key] for run in runs] for key in runs[0][method]}
            label = method if not method.startswith("credo") or args.n_members == 1 else \
                f"{method} ({args.n_members} members)"
            lines.append(f"| {name} | {label} | {_pm(values['accuracy'])} | {_pm(values['ll'])} | "
                         f"{_pm(values['ece'])} | {np.mean(values['seconds']):.1f} |")
            print(lines[-1], file=sys.stderr, flush=True)
    print("\n".join(lines))
    print(f"\n{args.splits} stratified 80/20 splits each; {jax.devices()[0].platform}, {os.cpu_count()} CPUs "
          f"({platform.processor() or platform.machine()}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
