"""Variational methods past Gaussians, credo against its peers: wall time and marginal errors.

Every (framework, method, target) runs in a fresh process (``vi_credo.py`` for credo,
``peers/vi_peers.py`` in the peers' environment), one after the other. For the posteriors with
known answers (``tests/inference/targets.py``: a correlated 4-d Gaussian, the banana, Neal's
10-d funnel, centred eight schools with a long NUTS run as reference) the table gives the
largest error of the marginal means and of the sds over all coordinates, both in units of the
exact sd; for the tutorial network, the accuracy on the 500 test points. ``khat`` is the Pareto
k-hat credo's fit ended with.

    python3 benchmarks/vi_methods.py [--targets gaussian banana funnel schools tutorial]
        [--peers-python /work/venv-peers/bin/python] [--no-peers] [--json results.jsonl]

The peers' environment: ``python3 -m venv /work/venv-peers && /work/venv-peers/bin/pip install pymc
pymc-extras numpyro blackjax scikit-learn`` (none of them is a credo dependency).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "inference"))

CREDO_METHODS = ("advi", "fullrank_advi", "pathfinder", "pathfinder1", "svgd", "nfvi_iaf", "nfvi_realnvp")
PEERS = ("pymc_svgd", "pymc_extras_pathfinder", "blackjax_pathfinder", "numpyro_iaf")
TARGETS = ("gaussian", "banana", "funnel", "schools", "tutorial")


def references() -> dict:
    import targets

    return {"gaussian": targets.correlated_gaussian()[1], "banana": targets.banana()[1],
            "funnel": targets.funnel()[1], "schools": targets.eight_schools_centred()[1]}


def errors(moments: dict, reference: dict) -> tuple[float, float]:
    mean_error = sd_error = 0.0
    for name, (mean, sd) in reference.items():
        found = moments[name]
        mean_error = max(mean_error, float(np.max(np.abs(np.asarray(found["mean"]) - mean) / sd)))
        sd_error = max(sd_error, float(np.max(np.abs(np.asarray(found["sd"]) / sd - 1.0))))
    return mean_error, sd_error


def run(command: list[str], env: dict) -> list[dict]:
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return [{"error": (done.stderr or done.stdout)[-300:]}]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--methods", nargs="+", choices=CREDO_METHODS, default=list(CREDO_METHODS))
    parser.add_argument("--peers", nargs="+", choices=PEERS, default=list(PEERS))
    parser.add_argument("--peers-python", default=os.environ.get("CREDO_PEERS_PYTHON", "/work/venv-peers/bin/python"))
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--json", help="also write every result as JSON lines to this file")
    args = parser.parse_args(argv)
    env = dict(os.environ, CREDO_COMPILATION_CACHE="0", PYTHONPATH=str(ROOT / "src"))
    reference = references()
    rows = []
    for target in args.targets:
        jobs = [([sys.executable, str(HERE / "vi_credo.py"), "--target", target, "--methods", method], env)
                for method in args.methods]
        if not args.no_peers and Path(args.peers_python).exists():
            peer_env = {k: v for k, v in env.items() if k != "PYTHONPATH"}
            jobs += [([args.peers_python, str(HERE / "peers" / "vi_peers.py"), "--framework", peer, "--target",
                       target], peer_env) for peer in args.peers]
        for command, job_env in jobs:
            for result in run(command, job_env):
                result.setdefault("target", target)
                rows.append(result)
                print(json.dumps(result), file=sys.stderr, flush=True)
    if args.json:
        Path(args.json).write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(table(rows, reference))


def table(rows: list[dict], reference: dict) -> str:
    lines = ["| target | framework | method | wall s | mean error | sd error | k-hat | accuracy |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        name = row.get("method") or row.get("framework", "?")
        framework = row.get("framework", "?")
        if row.get("error"):
            lines.append(f"| {row['target']} | {framework} | {name} | failed: {row['error'][:80]} | | | | |")
            continue
        mean_error = sd_error = accuracy = ""
        if "moments" in row and row["target"] in reference:
            mean_error, sd_error = (f"{value:.3f}" for value in errors(row["moments"], reference[row["target"]]))
        if "accuracy" in row:
            accuracy = f"{row['accuracy']:.3f}"
        khat = "" if row.get("khat") is None else f"{row['khat']:.2f}"
        lines.append(f"| {row['target']} | {framework} | {name} | {row['wall_s']:.1f} | {mean_error} | {sd_error} "
                     f"| {khat} | {accuracy} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
