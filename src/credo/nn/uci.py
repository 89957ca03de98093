"""The UCI regression benchmark: ``credo uci NAME --data-dir DIR``.

The protocol of Hernández-Lobato & Adams (2015) and Gal & Ghahramani (2016):
for each train/test split, a network with one hidden layer of 50 ReLU units
and a learned Gaussian noise, fitted on inputs and target standardised with
the training rows' statistics; reported in the target's original units, the
test RMSE of the predictive mean and the test log-likelihood, the mean over
test points of ``log (1/S) sum_s N(y | mu_s, sigma_s)``; over the splits the
mean and the standard error (std / sqrt(number of splits)).

Here the network is :class:`credo.nn.BNNRegressor` with its defaults
(mean-field ADVI): the defaults are the setting this benchmark measures, the
same for every data set.

Examples
--------
>>> from credo.nn.uci import run_uci
>>> results = run_uci("yacht", "/path/to/uci", splits=3)  # doctest: +SKIP
>>> results["rmse_mean"], results["ll_mean"]  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable, Sequence

import numpy as np

from ..datasets import load_uci
from .estimators import NOISE_MODELS, BNNRegressor

__all__ = ["PUBLISHED", "run_uci", "run_split", "summarize", "format_results", "main"]

#: Published results (Gal & Ghahramani 2016, Table 1; the VI and PBP columns as
#: reported by PBP; deep ensembles: Lakshminarayanan, Pritzel & Blundell 2017, Table 1, their NLL negated):
#: ``PUBLISHED[name][method] = (rmse, rmse_se, ll, ll_se)``.
PUBLISHED: dict[str, dict[str, tuple[float, float, float, float]]] = {
    "concrete": {"VI": (7.19, 0.12, -3.39, 0.02), "PBP": (5.67, 0.09, -3.16, 0.02),
                 "MC dropout": (5.23, 0.12, -3.04, 0.02), "Deep ensembles": (6.03, 0.58, -3.06, 0.18)},
    "energy": {"VI": (2.65, 0.08, -2.39, 0.03), "PBP": (1.80, 0.05, -2.04, 0.02),
               "MC dropout": (1.66, 0.04, -1.99, 0.02), "Deep ensembles": (2.09, 0.29, -1.38, 0.22)},
    "kin8nm": {"VI": (0.10, 0.00, 0.90, 0.01), "PBP": (0.10, 0.00, 0.90, 0.01),
               "MC dropout": (0.10, 0.00, 0.95, 0.01), "Deep ensembles": (0.09, 0.00, 1.20, 0.02)},
    "wine-quality-red": {"VI": (0.65, 0.01, -0.98, 0.01), "PBP": (0.64, 0.01, -0.97, 0.01),
                         "MC dropout": (0.62, 0.01, -0.93, 0.01), "Deep ensembles": (0.64, 0.04, -0.94, 0.12)},
    "yacht": {"VI": (6.89, 0.67, -3.43, 0.16), "PBP": (1.02, 0.05, -1.63, 0.02),
              "MC dropout": (1.11, 0.09, -1.55, 0.03), "Deep ensembles": (1.58, 0.48, -1.18, 0.21)},
}

#: The data sets of the benchmark, in the order of the published table.
NAMES = ("concrete", "energy", "kin8nm", "wine-quality-red", "yacht")


def run_split(name: str, split: int, data_dir=None, **params: Any) -> dict:
    """Fit and evaluate one split: ``{"split", "rmse", "ll", "seconds", "n_train", "n_test"}``.

    ``params`` go to :class:`credo.nn.BNNRegressor` (its defaults otherwise;
    the protocol's 50 ReLU units are its default architecture). ``ll`` is
    the mean over test rows of ``BNNRegressor.log_predictive_density``,
    ``log (1/S) sum_s N(y | mu_s(x), sigma_s(x))`` over the ``draws``
    posterior draws, each with its own mean and noise scale (one per row
    with ``noise="heteroscedastic"``; with ``n_members > 1`` the draws come
    from every member, so this is the ensemble's mixture density).
    """
    data = load_uci(name, split=split, data_dir=data_dir)
    params = dict(params)
    params.setdefault("hidden_layer_sizes", (int(data.n_hidden),))
    params.setdefault("activation", "relu")
    params.setdefault("random_state", split)
    start = time.perf_counter()
    model = BNNRegressor(**params).fit(data.X_train, data.y_train)
    prediction = model.predict(data.X_test)
    lpd = model.log_predictive_density(data.X_test, data.y_test, draws=model.draws)
    seconds = time.perf_counter() - start
    rmse = float(np.sqrt(np.mean((prediction - data.y_test) ** 2)))
    return {"split": int(split), "rmse": rmse, "ll": float(np.mean(lpd)), "seconds": float(seconds),
            "n_train": int(data.X_train.shape[0]), "n_test": int(data.X_test.shape[0])}


def summarize(rows: Sequence[dict]) -> dict:
    """Mean and standard error (std / sqrt(n)) of RMSE and LL over splits, and the mean seconds per split."""
    rmse = np.array([r["rmse"] for r in rows])
    ll = np.array([r["ll"] for r in rows])
    n = max(len(rows), 1)
    return {
        "n_splits": len(rows),
        "rmse_mean": float(rmse.mean()), "rmse_se": float(rmse.std() / np.sqrt(n)),
        "ll_mean": float(ll.mean()), "ll_se": float(ll.std() / np.sqrt(n)),
        "seconds_per_split": float(np.mean([r["seconds"] for r in rows])),
    }


def run_uci(
    name: str,
    data_dir=None,
    splits: int | Sequence[int] | None = None,
    n_iter: int | None = None,
    seed: int = 0,
    report: Callable[[dict], None] | None = None,
    **params: Any,
) -> dict:
    """Run the protocol on ``splits`` splits of one data set.

    Parameters
    ----------
    name : str
        A data set folder (``"yacht"``, ``"concrete"``, ...).
    data_dir : path, optional
        The UCI folder (default: ``$CREDO_UCI_DIR``).
    splits : int, sequence of int or None
        The first ``splits`` splits, these splits, or (None) all of them.
    n_iter : int, optional
        Optimisation steps (default: the estimator's).
    seed : int
        Split ``k`` is fitted with ``random_state = seed + k``.
    report : callable, optional
        Called with each split's row as soon as it is done.
    **params
        Other :class:`credo.nn.BNNRegressor` parameters.

    Returns
    -------
    dict
        ``name``, ``rows`` (one dict per split: split, rmse, ll, seconds,
        n_train, n_test), the :func:`summarize` entries and ``published``.
    """
    if splits is None or isinstance(splits, (int, np.integer)):
        n_splits = load_uci(name, split=0, data_dir=data_dir).n_splits
        count = n_splits if splits is None else min(int(splits), n_splits)
        if count < 1:
            raise ValueError(f"splits must be at least 1; got {splits}.")
        chosen = list(range(count))
    else:
        chosen = [int(s) for s in splits]
        n_splits = load_uci(name, split=0, data_dir=data_dir).n_splits
        outside = [s for s in chosen if not 0 <= s < n_splits]
        if outside:  # before fitting any split
            raise ValueError(f"splits {outside} are out of range: {name!r} has {n_splits} splits, 0..{n_splits - 1}.")
    if n_iter is not None:
        params["n_iter"] = int(n_iter)
    rows = []
    for split in chosen:
        row = run_split(name, split, data_dir, random_state=seed + split, **params)
        rows.append(row)
        if report is not None:
            report(row)
    return {"name": name, "rows": rows, **summarize(rows), "published": PUBLISHED.get(name, {})}


def format_results(results: dict) -> str:
    """The summary table of one :func:`run_uci` result beside the published numbers."""
    lines = [f"{results['name']}: {results['n_splits']} split(s), {results['seconds_per_split']:.1f} s per split",
             f"  {'':10s} {'RMSE':>16s} {'test LL':>16s}",
             f"  {'credo':10s} {_pm(results['rmse_mean'], results['rmse_se']):>16s} "
             f"{_pm(results['ll_mean'], results['ll_se']):>16s}"]
    for method, (rmse, rmse_se, ll, ll_se) in results.get("published", {}).items():
        lines.append(f"  {method:10s} {_pm(rmse, rmse_se):>16s} {_pm(ll, ll_se):>16s}")
    return "\n".join(lines)


def _pm(mean: float, se: float) -> str:
    return f"{mean:.2f} ± {se:.2f}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="credo uci",
        description="Run the UCI regression benchmark (one hidden layer of 50 ReLU units, BNNRegressor's "
                    "defaults: three mean-field ADVI members, a noise scale per input) and print test RMSE and "
                    "log-likelihood beside the published VI, PBP, MC-dropout and deep-ensemble results.",
    )
    parser.add_argument("name", help="data set folder: concrete, energy, kin8nm, wine-quality-red, yacht, or 'all'")
    parser.add_argument("--data-dir", default=None, help="folder of the UCI data sets (default: $CREDO_UCI_DIR)")
    parser.add_argument("--splits", type=int, default=None, help="run the first K splits (default: all)")
    parser.add_argument("--n-iter", type=int, default=None, help="optimisation steps per split (default: the "
                        "estimator's)")
    parser.add_argument("--draws", type=int, default=None, help="posterior draws for prediction (default 500)")
    parser.add_argument("--seed", type=int, default=0, help="split k uses random_state seed + k (default 0)")
    parser.add_argument("--noise", choices=list(NOISE_MODELS), default=None,
                        help="one learned noise scale, or one per input (default: the estimator's, heteroscedastic)")
    parser.add_argument("--members", type=int, default=None,
                        help="members of the ensemble of fits (default: the estimator's, 3)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``credo uci NAME --data-dir DIR [--splits K] [--n-iter N] [--seed S] [--noise NOISE] [--members K]``
    (``argv`` without 'uci')."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    params = {}
    if args.draws is not None:
        params["draws"] = args.draws
    if args.noise is not None:
        params["noise"] = args.noise
    if args.members is not None:
        params["n_members"] = args.members
    names = list(NAMES) if args.name == "all" else [args.name]
    try:
        for name in names:
            def report(row, name=name):
                print(f"{name} split {row['split']:2d}: RMSE {row['rmse']:.3f}  test LL {row['ll']:.3f}  "
                      f"({row['seconds']:.1f} s)", flush=True)

            results = run_uci(name, args.data_dir, splits=args.splits, n_iter=args.n_iter, seed=args.seed,
                              report=report, **params)
            print(format_results(results), flush=True)
    except (OSError, ValueError) as error:
        print(f"credo uci: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
