"""Trials of BNNClassifier settings on scikit-learn's bundled sets (the classifier half of issue 16).

The protocol of ``benchmarks/classifiers.py`` (stratified 80/20 split with
``random_state=split``, inputs standardised from the training rows, one
hidden layer of 50 ReLU units), credo only, one setting changed per trial;
one JSON line per split on stdout (accuracy, test log-likelihood, ECE,
seconds). The table in BENCHMARKS.md ("Classifier trials") was made with it.

Usage::

    PYTHONPATH=src python benchmarks/classifier_trials.py --names iris wine --settings default prior3 --splits 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

import numpy as np  # noqa: E402
from classifiers import HIDDEN, LOADERS, scores  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from credo.nn import BNNClassifier  # noqa: E402

#: BNNClassifier parameters beside its defaults; "fanin" is filled in per data set from its inputs.
SETTINGS: dict[str, dict | str] = {
    "default": {},
    "prior3": {"prior_sigma": 3.0},
    "prior10": {"prior_sigma": 10.0},
    "iter5k": {"n_iter": 5000},
    "prior3_iter5k": {"prior_sigma": 3.0, "n_iter": 5000},
    "fanin": "fanin",
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", nargs="+", default=list(LOADERS), choices=list(LOADERS))
    parser.add_argument("--settings", nargs="+", default=["default"], choices=list(SETTINGS))
    parser.add_argument("--splits", type=int, default=3)
    args = parser.parse_args(argv)
    for name in args.names:
        X, y = LOADERS[name](return_X_y=True)
        for setting in args.settings:
            params = SETTINGS[setting]
            if params == "fanin":
                params = {"prior_sigma": (1 / np.sqrt(X.shape[1]), 1 / np.sqrt(HIDDEN))}
            for split in range(args.splits):
                X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y,
                                                                    random_state=split)
                mean, std = X_train.mean(axis=0), X_train.std(axis=0)
                std = np.where(std > 0, std, 1.0)
                X_train, X_test = (X_train - mean) / std, (X_test - mean) / std
                start = time.perf_counter()
                clf = BNNClassifier(hidden_layer_sizes=(HIDDEN,), random_state=split, **params).fit(X_train, y_train)
                row = dict(scores(y_test, clf.predict_proba(X_test)), seconds=time.perf_counter() - start,
                           name=name, setting=setting, split=split)
                print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
