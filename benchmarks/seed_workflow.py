"""The seed workflow (the classic Bayesian neural network tutorial), timed phase by
phase in credo and, in the same run, in its peers.

Each framework runs as a fresh process (``credo_tutorial.py`` and the scripts
in ``peers/``), repeats are interleaved so that changes in machine load spread
over all of them, and the table reports medians and ratios to credo:

- ``credo``: the default, with its persistent compilation cache warm (a warm-up
  run fills it first, as for PyMC's own on-disk cache);
- ``credo_cold``: the cache off, every function compiled in the run;
- ``credo_progressbar``: as ``credo`` with the progress bar on;
- ``jax_hand``: the same ADVI hand-written in JAX + optax (the floor);
- ``jax_hand_nolib``: that loop compiled with the XLA option credo gives
  small models (see ``credo._config.compiler_options``);
- ``numpyro``, ``pymc``: when installed (PyMC in its own environment, see
  ``peers/run_peers.py``).

Usage::

    python benchmarks/seed_workflow.py --repeats 5 [--n 50000] [--peers credo jax_hand pymc]
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import run_peers  # noqa: E402

ORDER = ["credo", "credo_cold", "credo_progressbar", "jax_hand", "jax_hand_nolib", "numpyro", "pymc"]


def machine() -> str:
    import os

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def ratios(results: dict) -> list[str]:
    medians = {name: r["median"] for name, r in results.items() if r.get("median")}
    credo = medians.get("credo")
    lines = []
    if not credo:
        return lines
    for name, other in medians.items():
        if name == "credo":
            continue
        parts = []
        for field, label in (("iters_per_s", "it/s"), ("fit_s", "fit"), ("total_s", "total")):
            a, b = credo.get(field), other.get(field)
            if a and b:
                ratio = a / b if field == "iters_per_s" else b / a
                parts.append(f"{label} {ratio:.2f}x")
        lines.append(f"- credo vs {name}: " + ", ".join(parts) + " (above 1: credo faster)")
    for name, what in (("jax_hand", "the hand-written loop's"),
                       ("jax_hand_nolib", "the hand-written loop's with credo's XLA option")):
        hand = medians.get(name)
        if hand and credo.get("iters_per_s") and hand.get("iters_per_s"):
            lines.append(f"- credo's fit time per step over {what}: "
                         f"{hand['iters_per_s'] / credo['iters_per_s']:.3f} (target at most 1.15)")
    bar = medians.get("credo_progressbar")
    if bar and bar.get("fit_s"):
        lines.append(f"- progress bar cost: fit {bar['fit_s']:.2f} s with it, {credo['fit_s']:.2f} s without "
                     f"({100 * (bar['fit_s'] / credo['fit_s'] - 1):+.1f}%)")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peers", nargs="+", default=ORDER, choices=ORDER)
    parser.add_argument("--json", dest="json_out", default=None)
    args = parser.parse_args(argv)
    results = run_peers.run_all(peers=args.peers, n=args.n, seed=args.seed, repeats=args.repeats)
    rows = [results[name]["median"] for name in args.peers if results.get(name, {}).get("median")]
    print(f"Machine: {machine()}; date: {date.today().isoformat()}; n = {args.n}; "
          f"medians of {args.repeats} interleaved runs.\n")
    print(run_peers.markdown_table(rows))
    print()
    print("\n".join(ratios(results)))
    for name, r in results.items():
        if r.get("skipped"):
            print(f"- {name} skipped: {r['skipped']}")
        if r.get("runs"):
            accs = [run["accuracy"] for run in r["runs"]]
            print(f"- {name} accuracy over repeats: median {statistics.median(accs):.3f}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
