"""The UCI regression benchmark on all five data sets, as a Markdown table for BENCHMARKS.md.

Runs :func:`credo.nn.uci.run_uci` (one hidden layer of 50 ReLU units, learned
noise, mean-field ADVI with :class:`credo.nn.BNNRegressor`'s defaults) on
every data set and prints test RMSE and test log-likelihood (mean ± standard
error over splits, in the target's original units) beside the published VI,
PBP, MC-dropout and deep-ensemble results (Lakshminarayanan et al. 2017), with
the time per split. ``--n-members k`` fits each split as an equal-weight
mixture of ``k`` variational fits run as one program (``BNNRegressor(n_members=k)``).

Usage::

    PYTHONPATH=src python benchmarks/uci.py                     # all 20 splits of each
    PYTHONPATH=src python benchmarks/uci.py --splits 3          # the first 3 splits
    PYTHONPATH=src python benchmarks/uci.py --names yacht energy --json results.json
    PYTHONPATH=src python benchmarks/uci.py --n-members 5 --splits 3

The data folder defaults to ``../shared/data/uci`` beside the repository
(``--data-dir`` or ``$CREDO_UCI_DIR`` to point elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from credo.nn.uci import NAMES, PUBLISHED, run_uci  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "uci"
METHODS = ("VI", "PBP", "MC dropout", "Deep ensembles")


def _pm(mean: float, se: float, digits: int = 2) -> str:
    return f"{mean:.{digits}f} ± {se:.{digits}f}"


def _wins(result: dict) -> str:
    """Where credo stands against the deep ensembles: RMSE at most theirs, LL at least theirs (or within one
    standard error of theirs, the larger of the two)."""
    published = result["published"]
    if not published:
        return ""
    rmse, _, ll, _ = published["Deep ensembles"]
    notes = []
    for label, ours, se, theirs, better in (("RMSE", result["rmse_mean"], result["rmse_se"], rmse, -1),
                                            ("LL", result["ll_mean"], result["ll_se"], ll, 1)):
        their_se = published["Deep ensembles"][1 if label == "RMSE" else 3]
        if better * (ours - theirs) >= 0:
            notes.append(f"{label} ≥ DE" if label == "LL" else f"{label} ≤ DE")
        elif abs(ours - theirs) <= max(se, their_se):
            notes.append(f"{label} within 1 se of DE")
        else:
            notes.append(f"{label} behind DE")
    return ", ".join(notes)


def markdown_table(results: list[dict]) -> str:
    """The Markdown table of several :func:`run_uci` results."""
    lines = [
        "| data set | splits | credo RMSE | VI | PBP | MC dropout | deep ens. | credo test LL | VI | PBP "
        "| MC dropout | deep ens. | s / split | |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        p = r["published"]
        digits = 3 if r["name"] == "kin8nm" else 2
        lines.append(
            f"| {r['name']} | {r['n_splits']} | **{_pm(r['rmse_mean'], r['rmse_se'], digits)}** | "
            + " | ".join(_pm(p[m][0], p[m][1]) for m in METHODS)
            + f" | **{_pm(r['ll_mean'], r['ll_se'], digits)}** | "
            + " | ".join(_pm(p[m][2], p[m][3]) for m in METHODS)
            + f" | {r['seconds_per_split']:.1f} | {_wins(r)} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("CREDO_UCI_DIR", str(DEFAULT_DATA)))
    parser.add_argument("--splits", type=int, default=None, help="the first K splits of each (default: all 20)")
    parser.add_argument("--names", nargs="*", default=list(NAMES), help=f"data sets (default: {' '.join(NAMES)})")
    parser.add_argument("--n-iter", type=int, default=None, help="optimisation steps (default: the estimator's)")
    parser.add_argument("--n-members", type=int, default=None, help="members of the ensemble (default: the "
                        "estimator's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write every split's numbers to this file")
    args = parser.parse_args(argv)

    params = {} if args.n_members is None else {"n_members": args.n_members}
    results = []
    start = time.perf_counter()
    for name in args.names:
        def report(row, name=name):
            print(f"  {name} split {row['split']:2d}: RMSE {row['rmse']:.3f}  LL {row['ll']:.3f}  "
                  f"({row['seconds']:.1f} s)", file=sys.stderr, flush=True)

        results.append(run_uci(name, args.data_dir, splits=args.splits, n_iter=args.n_iter, seed=args.seed,
                               report=report, **params))
    total = time.perf_counter() - start

    import jax

    from credo.nn import BNNRegressor

    defaults = BNNRegressor(**params).get_params()
    print(markdown_table(results))
    print()
    print(f"credo: BNNRegressor defaults {defaults}; {jax.devices()[0].platform}, {os.cpu_count()} CPUs "
          f"({platform.processor() or platform.machine()}), {total / 60:.1f} min in all. Published: Gal & "
          "Ghahramani (2016), Table 1 (VI and PBP as reported by PBP); deep ensembles: Lakshminarayanan et al. "
          "(2017), Table 1; 20 splits.")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "defaults": {k: str(v) for k, v in defaults.items()},
                                               "published": PUBLISHED}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
