"""NUTS: effective draws per second in credo, NumPyro and PyMC, in the same run.

Two models (defined identically in ``nuts_credo.py``, ``peers/nuts_numpyro.py``
and ``peers/nuts_pymc.py``; see ``nuts_credo.py`` for the models and the JSON
fields): the tutorial BNN (2-5-5-1 tanh on the moons training half, N(0, 1)
weights, Bernoulli; ``target_accept`` 0.8) and non-centred eight schools
(``target_accept`` 0.9). 4 chains, 1000 tuning steps, 1000 draws.

Each (framework, model) runs as a fresh process, so ``wall_s`` includes that
model's compilation; repeats are interleaved (every framework and model for
repeat 1, then repeat 2, ...) so that changes in machine load spread over all
of them. The table reports medians over the repeats of each figure and the
ratio of credo's effective draws per second to each peer's (above 1: credo
faster).

Frameworks (``--peers``):

- ``credo``: ``cr.sample``, with credo's persistent compilation cache warm
  (its default; an untimed warm-up run per model fills it first). It also
  times a second, compiled call in the same process: ``sampling_s``.
- ``credo_cold``: the cache off (``CREDO_COMPILATION_CACHE=0``): every
  function compiled in the run, as for NumPyro. Not in the default list
  (add it with ``--peers credo credo_cold numpyro pymc``).
- ``numpyro``: ``MCMC(NUTS(model), ..., num_chains=4,
  chain_method="vectorized")``; ``sampling_s`` not separable (see its script).
- ``pymc``: ``pm.sample`` with PyMC's defaults, in PyMC's own environment
  (``$CREDO_PYMC_PYTHON`` or ``/work/venvs/pymc/bin/python``, or
  ``--pymc-python``); an untimed warm-up fills PyTensor's on-disk cache.
  ``cores`` is PyMC's default, ``min(4, cpu_count // 2)`` (PyMC assumes
  half the logical CPUs are hyper-threads): 1 on a 2-CPU box (chains one
  after another), 4 on 8 or more CPUs (4 worker processes: the only framework
  here that runs chains on several cores). ``--pymc-cores`` overrides it.

Figures: ``ess/s`` = ``min_ess / wall_s`` (the smallest bulk ESS over every
scalar free parameter, all chains together, over the whole sampling call
including compilation) is the headline; ``ess/s (sampling)`` divides by the
compiled sampling time where it is separable. On the BNN the posterior is
multimodal (sign and permutation symmetries of the hidden units), so chains
settle in different modes, R-hat is far above 1 and the all-chains ESS is
small and noisy whatever the sampler: read it with ``min_ess_chains`` (the
sum of each chain's own ESS) and ``grad/s`` (leapfrog steps per second, a
mixing-free speed figure).

Usage::

    python3 benchmarks/nuts_benchmark.py [--repeats 3] [--models tutorial eight_schools]
        [--peers credo numpyro pymc] [--draws 1000 --tune 1000 --chains 4]
        [--json results.json]

Quick check (not a timing): ``--draws 50 --tune 50 --repeats 1``.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from peers import run_peers  # noqa: E402

MODELS = ("tutorial", "eight_schools")
_SRC = {"PYTHONPATH": str(HERE.parent / "src")}
#: name -> script, the module its interpreter must import, environment, whether
#: an on-disk compile cache is warmed first, and whether it can time a compiled rerun.
FRAMEWORKS = {
    "credo": {"script": str(HERE / "nuts_credo.py"), "module": "credo", "env": _SRC, "warm": True,
              "rerun": True},
    "credo_cold": {"script": str(HERE / "nuts_credo.py"), "module": "credo",
                   "env": {**_SRC, "CREDO_COMPILATION_CACHE": "0"}, "warm": False, "rerun": False},
    "numpyro": {"script": str(HERE / "peers" / "nuts_numpyro.py"), "module": "numpyro", "env": {},
                "warm": False, "rerun": False},
    "pymc": {"script": str(HERE / "peers" / "nuts_pymc.py"), "module": "pymc", "env": {}, "warm": True,
             "rerun": False},
}
DEFAULT_PEERS = ["credo", "numpyro", "pymc"]
#: credo's sampling steps per compiled chunk (credo.inference.nuts.SAMPLING_CHUNK_SIZE)
CHUNK = 100

COLUMNS = [
    ("framework", "framework"), ("wall_s", "wall s"), ("sampling_s", "sampling s"), ("min_ess", "min ESS"),
    ("ess_per_s", "ESS/s"), ("ess_per_s_sampling", "ESS/s (sampling)"), ("ratio", "credo ESS/s ÷ this"),
    ("min_ess_chains", "Σ per-chain min ESS"), ("max_rhat", "max R-hat"), ("divergences", "divergences"),
    ("grad_per_s", "grad/s"), ("mean_steps", "steps/draw"), ("step_size", "step size"),
]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def machine() -> str:
    try:
        from seed_workflow import machine as describe

        return describe()
    except Exception:  # noqa: BLE001
        import platform

        return platform.platform()


def run_all(peers, models, repeats: int, draws: int, tune: int, chains: int, seed: int,
            pymc_python: str | None = None, pymc_cores: int | None = None, rerun: bool = True,
            warmup: bool = True, timeout: float = 3600) -> dict:
    """``{model: {framework: {"runs": [...], "median": {...}, "errors": [...], "skipped": ...}}}``."""
    pythons = {name: (pymc_python or run_peers.default_python("pymc")) if name == "pymc" else sys.executable
               for name in peers}
    results = {model: {} for model in models}
    active = []
    for name in peers:
        spec = FRAMEWORKS[name]
        ok, info = run_peers.check_importable(pythons[name], spec["module"], env=spec["env"])
        for model in models:
            results[model][name] = {"runs": [], "median": {}, "errors": [], "skipped": None if ok else info}
        if ok:
            active.append(name)
        else:
            log(f"[nuts] skipping {name}: {info}")

    def args_for(name, model, n_draws, n_tune, timed):
        args = ["--models", model, "--draws", n_draws, "--tune", n_tune, "--chains", chains, "--seed", seed,
                "--no-progress"]
        if not (rerun and FRAMEWORKS[name]["rerun"] and timed):
            args.append("--no-rerun")
        if name == "pymc" and pymc_cores is not None:
            args += ["--cores", pymc_cores]
        return args

    if warmup:
        for name in active:
            if not FRAMEWORKS[name]["warm"]:
                continue
            for model in models:
                # credo compiles the warm-up for its exact length and sampling in chunks of CHUNK
                # draws: the same tune and one chunk compile what the timed run needs
                n_draws = (draws if draws % CHUNK else min(draws, CHUNK)) if name.startswith("credo") else 20
                n_tune = tune if name.startswith("credo") else 20
                log(f"[nuts] warm-up {name} {model} (draws {n_draws}, tune {n_tune}; not recorded)")
                try:
                    run_peers.run_peer(FRAMEWORKS[name]["script"], pythons[name],
                                       args_for(name, model, n_draws, n_tune, False), timeout=timeout,
                                       env=FRAMEWORKS[name]["env"])
                except run_peers.PeerError as e:
                    log(f"[nuts] warm-up of {name} {model} failed: {e}")
    for rep in range(repeats):
        for model in models:
            for name in active:
                log(f"[nuts] {name} {model} repeat {rep + 1}/{repeats}")
                try:
                    r = run_peers.run_peer(FRAMEWORKS[name]["script"], pythons[name],
                                           args_for(name, model, draws, tune, True), timeout=timeout,
                                           env=FRAMEWORKS[name]["env"])
                except run_peers.PeerError as e:
                    results[model][name]["errors"].append(str(e))
                    log(f"[nuts] {name} {model} failed: {e}")
                    continue
                r["framework"] = name
                results[model][name]["runs"].append(r)
                log(f"[nuts]   wall {r['wall_s']:.1f} s, min ESS {r['min_ess']:.0f}, "
                    f"ESS/s {r['ess_per_s']:.3g}, divergences {r['divergences']}")
    for model in models:
        for name in active:
            runs = results[model][name]["runs"]
            results[model][name]["median"] = run_peers.median_summary(runs)
    return results


def table(model_results: dict, order) -> str:
    rows = [dict(model_results[name]["median"]) for name in order if model_results.get(name, {}).get("median")]
    credo = next((r for r in rows if r["framework"] == "credo"), None)
    for r in rows:
        if credo and credo.get("ess_per_s") and r.get("ess_per_s"):
            r["ratio"] = credo["ess_per_s"] / r["ess_per_s"]
    columns = list(COLUMNS)
    if any("repeats" in r for r in rows):
        columns.append(("repeats", "repeats"))
    lines = ["| " + " | ".join(label for _, label in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(run_peers._fmt(r.get(key)) for key, _ in columns) + " |")
    return "\n".join(lines)


def notes(model_results: dict) -> list[str]:
    lines = []
    for name, res in model_results.items():
        if res.get("skipped"):
            lines.append(f"- {name} skipped: {res['skipped']}")
        for err in res.get("errors", []):
            lines.append(f"- {name} failed once: {err.splitlines()[-1] if err else '?'}")
        runs = res.get("runs") or []
        if runs:
            lines.append(f"- {name}: {runs[0].get('version')}, {runs[0].get('dtype')}"
                         + (f", cores={runs[0]['cores']}" if "cores" in runs[0] else "")
                         + "; ESS/s per repeat: " + ", ".join(f"{r['ess_per_s']:.3g}" for r in runs)
                         + "; divergences per repeat: " + ", ".join(str(r["divergences"]) for r in runs))
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--peers", nargs="+", choices=list(FRAMEWORKS), default=DEFAULT_PEERS)
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pymc-python", default=None,
                   help="interpreter with PyMC (default: $CREDO_PYMC_PYTHON or /work/venvs/pymc/bin/python)")
    p.add_argument("--pymc-cores", type=int, default=None, help="pm.sample's cores (default: PyMC's own)")
    p.add_argument("--no-rerun", action="store_true", help="skip credo's second, compiled call (sampling_s)")
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed cache warm-up runs")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    p.add_argument("--json", dest="json_out", default=None, help="write every run's results to this file")
    a = p.parse_args(argv)
    order = [name for name in FRAMEWORKS if name in a.peers]
    results = run_all(order, a.models, a.repeats, a.draws, a.tune, a.chains, a.seed, pymc_python=a.pymc_python,
                      pymc_cores=a.pymc_cores, rerun=not a.no_rerun, warmup=not a.no_warmup,
                      timeout=a.timeout)
    print(f"Machine: {machine()}; date: {date.today().isoformat()}; {a.chains} chains, {a.tune} tune, "
          f"{a.draws} draws; medians of {a.repeats} interleaved runs.")
    for model in a.models:
        ta = "0.8" if model == "tutorial" else "0.9"
        print(f"\n### NUTS, {model} (target_accept {ta})\n")
        print(table(results[model], order))
        print()
        print("\n".join(notes(results[model])))
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
