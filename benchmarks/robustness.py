"""Figures for "never lose a fit": memory of long fits, Ctrl-C latency, checkpoint cost.

Each measurement runs in a fresh process and prints one JSON line; the
script prints a Markdown table for ``../BENCHMARKS.md``.

- ``memory``: peak resident memory (``ru_maxrss``) of a mean-field fit of a
  tiny model (3 parameters, 50 rows) for ``--short`` and ``--long`` steps; the
  loss history (4 bytes a step) is the only thing that grows with the steps.
- ``latency``: SIGINT sent to a fit whose 1,000-step chunk takes several
  seconds (200,000 rows); seconds until ``cr.fit`` has returned.
- ``checkpoint``: the same fit with and without ``checkpoint_every=1000``
  steps: seconds per save and the file's size.

Usage: ``python benchmarks/robustness.py [--long 2000000] [--short 20000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")

MODEL = """
import json, resource, sys, time, numpy as np, credo as cr
rng = np.random.default_rng(0)
def make_model(rows):
    with cr.Model() as model:
        x = cr.Data("x", rng.normal(size=rows))
        w = cr.Normal("w", 0, 1, shape=2)
        sigma = cr.HalfNormal("sigma", 1)
        cr.Normal("y", w[0] + w[1] * x, sigma, observed=0.5 + 2 * rng.normal(size=rows))
    return model
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

MEMORY = """
import arviz  # imported up front: credo imports it in the background, which would blur the comparison
n = int(sys.argv[1])
with make_model(50):
    began = time.perf_counter()
    approx = cr.fit(n, random_seed=0, progressbar=False)
print(json.dumps({"n": n, "peak_mb": peak_mb(), "seconds": time.perf_counter() - began,
                  "hist_mb": approx.hist.nbytes / 2**20}))
"""

LATENCY = """
def mark(approx, losses, step):
    print("callback", step, flush=True)
with make_model(200_000):
    approx = cr.fit(10**7, random_seed=0, progressbar=False, callbacks=[mark])
print(json.dumps({"steps": approx.num_steps}), flush=True)
"""

CHECKPOINT = """
import os, tempfile
n, every = int(sys.argv[1]), int(sys.argv[2])
path = os.path.join(tempfile.mkdtemp(), "run.npz")
with make_model(50):
    cr.fit(2000, random_seed=0, progressbar=False)  # compile
    began = time.perf_counter()
    cr.fit(n, random_seed=0, progressbar=False)
    plain = time.perf_counter() - began
    began = time.perf_counter()
    cr.fit(n, random_seed=0, progressbar=False, checkpoint=path, checkpoint_every=every)
    checkpointed = time.perf_counter() - began
saves = n // every
print(json.dumps({"n": n, "every": every, "plain_s": plain, "checkpointed_s": checkpointed,
                  "per_save_ms": 1000 * (checkpointed - plain) / saves, "file_bytes": os.path.getsize(path)}))
"""


def run(script: str, *args) -> dict:
    env = dict(os.environ, PYTHONPATH=SRC)
    out = subprocess.run([sys.executable, "-c", MODEL + script, *map(str, args)], capture_output=True, text=True,
                         env=env, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def latency(repeats: int) -> list[float]:
    figures = []
    for _ in range(repeats):
        process = subprocess.Popen([sys.executable, "-c", MODEL + LATENCY], stdout=subprocess.PIPE, text=True,
                                   env=dict(os.environ, PYTHONPATH=SRC))
        while not process.stdout.readline().startswith("callback 1000"):
            pass
        began = time.perf_counter()
        process.send_signal(signal.SIGINT)
        while not process.stdout.readline().startswith("{"):
            pass
        figures.append(time.perf_counter() - began)
        process.wait()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", type=int, default=2_000_000)
    parser.add_argument("--short", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    short, long = run(MEMORY, args.short), run(MEMORY, args.long)
    print(json.dumps({"memory": [short, long]}), flush=True)
    waits = latency(args.repeats)
    print(json.dumps({"latency_s": waits}), flush=True)
    checkpoint = run(CHECKPOINT, 100_000, 1000)
    print(json.dumps({"checkpoint": checkpoint}), flush=True)
    print("\n| figure | value |\n|---|---|")
    print(f"| peak RSS, {args.short:,} steps | {short['peak_mb']:.0f} MB |")
    print(f"| peak RSS, {args.long:,} steps | {long['peak_mb']:.0f} MB "
          f"({100 * (long['peak_mb'] / short['peak_mb'] - 1):+.1f}%; loss history {long['hist_mb']:.1f} MB) |")
    print(f"| Ctrl-C to return, 1,000-step chunk > 1 s | {', '.join(f'{w:.2f}' for w in waits)} s |")
    print(f"| checkpoint save (3 parameters, every 1,000 steps) | {checkpoint['per_save_ms']:.1f} ms, "
          f"{checkpoint['file_bytes']:,} bytes |")


if __name__ == "__main__":
    main()
