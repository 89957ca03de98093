"""Where credo's small-model XLA option pays, by model size and by thread count.

credo compiles the programs of models whose size (parameters times data
rows, about the multiply-adds of one evaluation of the log density; see
``credo._config.compiler_options``) is at most ``SMALL_MODEL_SIZE`` without
XLA's threaded matrix-product library. This script measures the speed-up of
that option (the step time without it over the step time with it) for
one-hidden-layer tanh regressions of several widths and row counts, each
run in a fresh process pinned with ``taskset`` to the first T cores, for
each T asked for: the crossover (speed-up 1) is where the threshold
belongs for that many threads.

Usage::

    python benchmarks/small_model_option.py [--threads 1 2 8 16] [--rounds 5]
    python benchmarks/small_model_option.py --worker WIDTH ROWS on|off   # one measurement, one JSON line
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: (hidden width, rows): model sizes from about 3e4 to 1e8
CASES = [(5, 500), (20, 500), (50, 927), (50, 2000), (50, 7373), (100, 4000), (200, 8000), (400, 16000)]
INPUTS = 8
STEPS = 200


def worker(width: int, rows: int, option: bool, rounds: int) -> dict:
    import jax
    import numpy as np

    import credo as cr

    cr.config(small_model_xla=option, compilation_cache=False)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, INPUTS))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=rows)
    with cr.Model() as model:
        mean = cr.nn.mlp("net", cr.Data("x", X), hidden=(width,))
        cr.Normal("y", mean, 0.1, observed=y)
    approx = cr.fit(1, model=model, random_seed=0, chunk_size=STEPS, progressbar=False)
    times = []
    for _ in range(rounds + 1):
        start = time.perf_counter()
        approx = approx.refine(STEPS, progressbar=False)
        jax.block_until_ready(approx.state.params)
        times.append(time.perf_counter() - start)
    dim = model.compile().dim
    return {"width": width, "rows": rows, "option": option, "size": dim * rows,
            "us_per_step": 1e6 * statistics.median(times[1:]) / STEPS}


def measure(width: int, rows: int, option: bool, threads: int, rounds: int) -> dict:
    cores = ",".join(str(i) for i in range(threads))
    command = ["taskset", "-c", cores, sys.executable, str(Path(__file__).resolve()), "--worker", str(width),
               str(rows), "on" if option else "off", "--rounds", str(rounds)]
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(lines[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, os.cpu_count()])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--worker", nargs=3, metavar=("WIDTH", "ROWS", "OPTION"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        width, rows, option = args.worker
        print(json.dumps(worker(int(width), int(rows), option == "on", args.rounds)), flush=True)
        return
    print("| width | rows | size | threads | us/step with the option | without | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for width, rows in CASES:
        for threads in args.threads:
            on = measure(width, rows, True, threads, args.rounds)
            off = measure(width, rows, False, threads, args.rounds)
            print(f"| {width} | {rows} | {on['size']:.1e} | {threads} | {on['us_per_step']:.0f} | "
                  f"{off['us_per_step']:.0f} | {off['us_per_step'] / on['us_per_step']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
