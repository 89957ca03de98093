"""The UCI regression benchmark on all five data sets, as a Markdown table for BENCHMARKS.md.

Runs :func:`credo.nn.uci.run_uci` (one hidden layer of 50 ReLU units, learned
noise, mean-field ADVI with :class:`credo.nn.BNNRegressor`'s defaults) on
every data set and prints test RMSE and test log-likelihood (mean ± standard
error over splits, in the target's original units) beside the published VI,
PBP and MC-dropout results, with the time per split.

Usage::

    PYTHONPATH=src python benchmarks/uci.py                     # all 20 splits of each
    PYTHONPATH=src python benchmarks/uci.py --splits 3          # the first 3 splits
    PYTHONPATH=src python benchmarks/uci.py --names yacht energy --json results.json

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


def _pm(mean: float, se: float, digits: int = 2) -> str:
    return f"{mean:.{digits}f} ± {se:.{digits}f}"


def _wins(result: dict) -> str:
    """Where credo stands against the targets: RMSE <= VI's, LL >= PBP's, and against MC dropout."""
    published = result["published"]
    notes = []
    if published:
        notes.append("RMSE ≤ VI" if result["rmse_mean"] <= published["VI"][0] else "RMSE > VI")
        notes.append("LL ≥ PBP" if result["ll_mean"] >= published["PBP"][2] else "LL < PBP")
        dropout = published["MC dropout"]
        if result["rmse_mean"] <= dropout[0] and result["ll_mean"] >= dropout[2]:
            notes.append("beats MC dropout on both")
    return ", ".join(notes)


def markdown_table(results: list[dict]) -> str:
    """The Markdown table of several :func:`run_uci` results."""
    lines = [
        "| data set | splits | credo RMSE | VI | PBP | MC dropout | credo test LL | VI | PBP | MC dropout "
        "| s / split | |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        p = r["published"]
        digits = 3 if r["name"] == "kin8nm" else 2
        lines.append(
            f"| {r['name']} | {r['n_splits']} | **{_pm(r['rmse_mean'], r['rmse_se'], digits)}** | "
            + " | ".join(_pm(p[m][0], p[m][1]) for m in ("VI", "PBP", "MC dropout"))
            + f" | **{_pm(r['ll_mean'], r['ll_se'], digits)}** | "
            + " | ".join(_pm(p[m][2], p[m][3]) for m in ("VI", "PBP", "MC dropout"))
            + f" | {r['seconds_per_split']:.1f} | {_wins(r)} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("CREDO_UCI_DIR", str(DEFAULT_DATA)))
    parser.add_argument("--splits", type=int, default=None, help="the first K splits of each (default: all 20)")
    parser.add_argument("--names", nargs="*", default=list(NAMES), help=f"data sets (default: {' '.join(NAMES)})")
    parser.add_argument("--n-iter", type=int, default=None, help="optimisation steps (default: the estimator's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write every split's numbers to this file")
    args = parser.parse_args(argv)

    results = []
    start = time.perf_counter()
    for name in args.names:
        def report(row, name=name):
            print(f"  {name} split {row['split']:2d}: RMSE {row['rmse']:.3f}  LL {row['ll']:.3f}  "
                  f"({row['seconds']:.1f} s)", file=sys.stderr, flush=True)

        results.append(run_uci(name, args.data_dir, splits=args.splits, n_iter=args.n_iter, seed=args.seed,
                               report=report))
    total = time.perf_counter() - start

    import jax

    from credo.nn import BNNRegressor

    defaults = BNNRegressor().get_params()
    print(markdown_table(results))
    print()
    print(f"credo: BNNRegressor defaults {defaults}; {jax.devices()[0].platform}, {os.cpu_count()} CPUs "
          f"({platform.processor() or platform.machine()}), {total / 60:.1f} min in all. Published: Gal & "
          "Ghahramani (2016), Table 1 (VI and PBP as reported by PBP), 20 splits.")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "defaults": {k: str(v) for k, v in defaults.items()},
                                               "published": PUBLISHED}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
