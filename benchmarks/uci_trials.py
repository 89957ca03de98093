"""Trials toward the deep-ensemble column of the UCI benchmark (issue 16), every one kept.

Each trial is a named setting of :class:`credo.nn.BNNRegressor` (the same for
every data set), run on the first few splits of the chosen data sets with
:func:`credo.nn.uci.run_split`; every split's row is appended to a JSON-lines
file as soon as it is done, and ``--table`` prints the table of all rows in
that file (mean ± standard error over the splits run, seconds per split).

Usage::

    PYTHONPATH=src python benchmarks/uci_trials.py --trials default members5 --names kin8nm wine-quality-red \\
        --splits 3 --out uci_trials.jsonl
    PYTHONPATH=src python benchmarks/uci_trials.py --table --out uci_trials.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import numpy as np  # noqa: E402

from credo.nn.uci import PUBLISHED, run_split  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "uci"

#: The trials: BNNRegressor parameters beside its defaults. "fanin" is a prior standard deviation of
#: 1/sqrt(fan-in) per layer (inputs, then the 50 hidden units), filled in per data set from its inputs.
TRIALS: dict[str, dict] = {
    "default": {},
    "members3": {"n_members": 3},
    "members5": {"n_members": 5},
    "members5_iter40k": {"n_members": 5, "n_iter": 40_000},
    "iter40k": {"n_iter": 40_000},
    "members5_fanin": {"n_members": 5, "prior_sigma": "fanin"},
    "fanin": {"prior_sigma": "fanin"},
    "members5_lr3e-3": {"n_members": 5, "learning_rate": 3e-3},
    # heteroscedastic noise fitted from the start (noise_warmup=0), then with the warm-up
    "hetero": {"noise": "heteroscedastic", "noise_warmup": 0.0},
    "members5_hetero": {"n_members": 5, "noise": "heteroscedastic", "noise_warmup": 0.0},
    "hetero_lr3e-3": {"noise": "heteroscedastic", "noise_warmup": 0.0, "learning_rate": 3e-3},
    "hetero_warmup": {"noise": "heteroscedastic", "noise_warmup": 0.5},
    "hetero_warmup_lr3e-3": {"noise": "heteroscedastic", "noise_warmup": 0.5, "learning_rate": 3e-3},
    "hetero_warmup_lr3e-3_iter40k": {"noise": "heteroscedastic", "noise_warmup": 0.5, "learning_rate": 3e-3,
                                     "n_iter": 40_000},
    "members3_hetero_warmup_lr3e-3": {"n_members": 3, "noise": "heteroscedastic", "noise_warmup": 0.5,
                                      "learning_rate": 3e-3},
    "members5_hetero_warmup_lr3e-3": {"n_members": 5, "noise": "heteroscedastic", "noise_warmup": 0.5,
                                      "learning_rate": 3e-3},
}


def params_for(trial: str, n_features: int) -> dict:
    params = dict(TRIALS[trial])
    if params.get("prior_sigma") == "fanin":
        params["prior_sigma"] = (1.0 / np.sqrt(n_features), 1.0 / np.sqrt(50.0))
    return params


def run(args) -> None:
    from credo.datasets import load_uci

    out = Path(args.out)
    for trial in args.trials:
        for name in args.names:
            n_features = load_uci(name, split=0, data_dir=args.data_dir).X_train.shape[1]
            for split in (args.split_ids if args.split_ids else range(args.splits)):
                if args.stop_at and time.strftime("%H:%M", time.gmtime()) >= args.stop_at:
                    print(f"{args.stop_at} UTC passed: no further splits started", flush=True)
                    return
                row = run_split(name, split, args.data_dir, random_state=split, **params_for(trial, n_features))
                row.update(trial=trial, name=name, time=time.strftime("%Y-%m-%d %H:%M:%S"))
                with out.open("a") as handle:
                    handle.write(json.dumps(row) + "\n")
                print(f"{trial:18s} {name:18s} split {split}: RMSE {row['rmse']:.4f} LL {row['ll']:.4f} "
                      f"({row['seconds']:.1f} s)", flush=True)


def table(path: str) -> str:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    groups: dict[tuple, list] = {}
    for row in rows:
        groups.setdefault((row["name"], row["trial"]), []).append(row)
    lines = ["| data set | trial | splits | RMSE | test LL | s / split | deep ensemble RMSE | deep ensemble LL |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for (name, trial), group in sorted(groups.items()):
        rmse = np.array([r["rmse"] for r in group])
        ll = np.array([r["ll"] for r in group])
        n = len(group)
        de = PUBLISHED[name]["Deep ensembles"]
        lines.append(f"| {name} | {trial} | {','.join(str(r['split']) for r in group)} | "
                     f"{rmse.mean():.4f} ± {rmse.std() / np.sqrt(n):.4f} | {ll.mean():.3f} ± {ll.std() / np.sqrt(n):.3f} "
                     f"| {np.nanmean([r['seconds'] for r in group]):.1f} | {de[0]:.2f} ± {de[1]:.2f} | "
                     f"{de[2]:.2f} ± {de[3]:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("CREDO_UCI_DIR", str(DEFAULT_DATA)))
    parser.add_argument("--trials", nargs="*", default=["default", "members5"], choices=list(TRIALS))
    parser.add_argument("--names", nargs="*", default=["kin8nm", "wine-quality-red"])
    parser.add_argument("--splits", type=int, default=3, help="the first K splits of each")
    parser.add_argument("--split-ids", nargs="*", type=int, default=None, help="these splits instead")
    parser.add_argument("--out", default="uci_trials.jsonl")
    parser.add_argument("--stop-at", default=None, help="HH:MM (UTC, same day): start no split after it")
    parser.add_argument("--table", action="store_true", help="print the table of the rows in --out and stop")
    args = parser.parse_args(argv)
    if args.table:
        print(table(args.out))
        return 0
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
