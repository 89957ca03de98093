"""ADVI variants on the tutorial network: minibatch mean-field ADVI, and full-rank ADVI against PyMC's.

(a) Minibatch: credo's mean-field ADVI with ``cr.Minibatch(X, Y,
    batch_size=50)`` in place of ``cr.Data`` (likelihood scaled by
    ``total_size`` = 500 training rows), 50,000 steps (``--n-minibatch``),
    default optimiser (windowed adagrad, lr 1e-3); then 5,000 draws from the
    approximation and a 500-draw posterior predictive on the test half give
    the test accuracy. Target (issue 4): at least 25,000 it/s.
(b) Full-rank: ``cr.fit(n, method="fullrank_advi")`` (credo's defaults: MAP
    start with the Laplace curvature, Adam lr 1e-3) against PyMC's
    ``pm.fit(n, method="fullrank_advi")`` (``peers/fullrank_pymc.py``: initial
    point start, adagrad_window), same n (20,000, ``--n-fullrank``), full
    batch; the same accuracy check.

The network, data and initial values are the tutorial's (as in
``credo_tutorial.py`` and ``peers/pymc_tutorial.py``): 2-5-5-1 tanh, N(0, 1)
weights, Bernoulli, initial weights from ``np.random.default_rng(seed)``.

``iters_per_s`` is the steady state in both frameworks: credo's is timed by a
callback between compiled chunks (1,000 steps each): the steps after the
first chunk over their time, as in ``credo_tutorial.py``; PyMC's by a
callback after every iteration (iteration 1 to the last). ``fit_s`` is the
whole fit call (for credo's full-rank fit it includes the L-BFGS MAP start),
``fit_compile_s`` the time to the end of the first chunk (credo; less the
steps in it at the steady-state rate; for the full-rank fit it includes the
MAP start) or iteration (PyMC).

Each measurement runs as a fresh process (this script with ``--worker
minibatch`` or ``--worker fullrank`` for credo, ``peers/fullrank_pymc.py`` in
PyMC's environment), repeated (default 3) and interleaved; credo's on-disk
compile cache and PyTensor's are warmed first by an untimed short run. The
table reports medians and ratios.

JSON fields of one worker line: ``framework, variant ("minibatch" or
"fullrank"), version, n, batch_size (minibatch), init, optimizer, fit_s,
fit_compile_s, iters_per_s, accuracy, final_loss`` (mean loss of the last
1,000 steps), ``steps_done, total_s``.

Usage::

    python3 benchmarks/advi_variants.py [--repeats 3] [--n-minibatch 50000] [--n-fullrank 20000]
        [--variants minibatch fullrank] [--json out.json]
    PYTHONPATH=src python3 benchmarks/advi_variants.py --worker minibatch --n 50000   # one credo run

Quick check (not a timing): ``--n-minibatch 3000 --n-fullrank 3000 --repeats 1``
(n must exceed one chunk, 1,000 steps, for a steady-state rate).
"""
import time

_T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # for `peers` and `seed_workflow`
N_DRAWS = 5000
N_PPC = 500
BATCH_SIZE = 50
VARIANTS = ("minibatch", "fullrank")


# --------------------------------------------------------------------------- worker (credo, one process)


def build_model(X_train, Y_train, seed: int, minibatch: bool):
    from credo.demo import build_moons_model

    return build_moons_model(X_train, Y_train, seed, batch_size=BATCH_SIZE if minibatch else None)


def worker(args) -> dict:
    import jax

    import credo as cr
    from credo.datasets import make_moons_split

    X_train, X_test, Y_train, Y_test = make_moons_split()
    minibatch = args.worker == "minibatch"
    model = build_model(X_train, Y_train, args.seed, minibatch)
    fit_kwargs = {}
    if minibatch:
        method, init, optimizer = "advi", "initial_point (default)", "adagrad_window(1e-3) (default)"
    else:
        method = "fullrank_advi"
        init = "map (default)" if args.init is None else args.init
        if args.init is not None:
            fit_kwargs["init"] = args.init
        optimizer = "adam(1e-3) (default)"
        if args.optimizer == "adagrad_window":
            fit_kwargs["obj_optimizer"] = cr.adagrad_window(1e-3)
            optimizer = "adagrad_window(1e-3)"

    stamps = []

    def clock(approx, losses, step):
        stamps.append((step, time.perf_counter()))

    t = fit_start = time.perf_counter()
    with model:
        approx = cr.fit(n=args.n, method=method, random_seed=args.seed, progressbar=not args.no_progress,
                        callbacks=[clock], **fit_kwargs)
    fit_s = time.perf_counter() - t
    iters_per_s = fit_compile_s = None
    if len(stamps) >= 2 and stamps[-1][0] > stamps[0][0]:
        (first_step, first_time), (last_step, last_time) = stamps[0], stamps[-1]
        iters_per_s = (last_step - first_step) / (last_time - first_time)
        fit_compile_s = first_time - fit_start - first_step / iters_per_s

    idata = approx.sample(draws=N_DRAWS, random_seed=args.seed + 1)
    with model:
        cr.set_data({"x": X_test, "y": Y_test})
        ppc = cr.sample_posterior_predictive(idata, samples=N_PPC, random_seed=args.seed + 2)
    pred = ppc.posterior_predictive["out"].mean(("chain", "draw")).values > 0.5
    accuracy = float((pred == Y_test).mean())
    hist = np.asarray(approx.hist)
    return {
        "framework": "credo", "variant": args.worker,
        "version": f"credo {cr.__version__}, jax {jax.__version__}", "n": args.n,
        "batch_size": BATCH_SIZE if minibatch else None, "init": init, "optimizer": optimizer,
        "fit_s": fit_s, "fit_compile_s": fit_compile_s, "iters_per_s": iters_per_s, "accuracy": accuracy,
        "final_loss": float(np.mean(hist[-min(1000, len(hist)):])) if len(hist) else None,
        "steps_done": int(len(hist)), "total_s": time.perf_counter() - _T0,
    }


# --------------------------------------------------------------------------- runner


def run_all(variants, repeats: int, n_minibatch: int, n_fullrank: int, seed: int, pymc_python=None,
            fullrank_init=None, fullrank_optimizer="default", warmup: bool = True, timeout: float = 3600):
    from peers import run_peers

    src_env = {"PYTHONPATH": str(HERE.parent / "src")}
    me = str(Path(__file__).resolve())
    jobs = []  # (key, script, python, args, env, warm-up args)
    if "minibatch" in variants:
        jobs.append(("credo minibatch", me, sys.executable, ["--worker", "minibatch", "--n", n_minibatch],
                     src_env, ["--worker", "minibatch", "--n", 2000], "credo"))
    if "fullrank" in variants:
        extra = (["--init", fullrank_init] if fullrank_init else []) + ["--optimizer", fullrank_optimizer]
        jobs.append(("credo fullrank", me, sys.executable, ["--worker", "fullrank", "--n", n_fullrank, *extra],
                     src_env, ["--worker", "fullrank", "--n", 2000, *extra], "credo"))
        jobs.append(("pymc fullrank", str(HERE / "peers" / "fullrank_pymc.py"),
                     pymc_python or run_peers.default_python("pymc"), ["--n", n_fullrank], {},
                     ["--n", 200], "pymc"))
    results, active = {}, []
    for key, script, python, args, env, warm_args, module in jobs:
        results[key] = {"runs": [], "median": {}, "errors": [], "skipped": None}
        ok, info = run_peers.check_importable(python, module, env=env)
        if not ok:
            results[key]["skipped"] = info
            print(f"[advi] skipping {key}: {info}", file=sys.stderr, flush=True)
            continue
        active.append((key, script, python, args, env, warm_args))
    common = ["--seed", seed, "--no-progress"]
    if warmup:
        for key, script, python, args, env, warm_args in active:
            print(f"[advi] warm-up {key} (not recorded)", file=sys.stderr, flush=True)
            try:
                run_peers.run_peer(script, python, [*warm_args, *common], timeout=timeout, env=env)
            except run_peers.PeerError as e:
                print(f"[advi] warm-up of {key} failed: {e}", file=sys.stderr, flush=True)
    for rep in range(repeats):
        for key, script, python, args, env, _ in active:
            print(f"[advi] {key} repeat {rep + 1}/{repeats}", file=sys.stderr, flush=True)
            try:
                r = run_peers.run_peer(script, python, [*args, *common], timeout=timeout, env=env)
            except run_peers.PeerError as e:
                results[key]["errors"].append(str(e))
                print(f"[advi] {key} failed: {e}", file=sys.stderr, flush=True)
                continue
            results[key]["runs"].append(r)
            print(f"[advi]   {r.get('iters_per_s') or 0:,.0f} it/s, fit {r['fit_s']:.2f} s, "
                  f"accuracy {r.get('accuracy')}", file=sys.stderr, flush=True)
    for key in results:
        results[key]["median"] = run_peers.median_summary(results[key]["runs"])
    return results


COLUMNS = [("run", "run"), ("n", "n"), ("iters_per_s", "it/s (steady)"), ("ratio", "credo it/s ÷ this"),
           ("fit_s", "fit s"), ("fit_compile_s", "fit compile s"), ("accuracy", "test accuracy"),
           ("final_loss", "final loss"), ("init", "init"), ("optimizer", "optimizer"), ("repeats", "repeats")]


def table(results: dict) -> str:
    from peers import run_peers

    rows = []
    for key, res in results.items():
        if res.get("median"):
            rows.append({**res["median"], "run": key})
    credo_fullrank = results.get("credo fullrank", {}).get("median", {}).get("iters_per_s")
    for r in rows:
        if r["run"] == "pymc fullrank" and credo_fullrank and r.get("iters_per_s"):
            r["ratio"] = credo_fullrank / r["iters_per_s"]
    lines = ["| " + " | ".join(label for _, label in COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(run_peers._fmt(r.get(k)) for k, _ in COLUMNS) + " |")
    return "\n".join(lines)


def summary_lines(results: dict) -> list[str]:
    lines = []
    mb = results.get("credo minibatch", {}).get("median", {})
    if mb.get("iters_per_s"):
        verdict = "meets" if mb["iters_per_s"] >= 25_000 else "misses"
        lines.append(f"- minibatch ADVI (batch {BATCH_SIZE}): {mb['iters_per_s']:,.0f} it/s, {verdict} the "
                     f"25,000 it/s target; test accuracy {mb.get('accuracy')}")
    cf = results.get("credo fullrank", {}).get("median", {})
    pf = results.get("pymc fullrank", {}).get("median", {})
    if cf.get("iters_per_s") and pf.get("iters_per_s"):
        lines.append(f"- full-rank ADVI: credo {cf['iters_per_s']:,.0f} it/s vs PyMC {pf['iters_per_s']:,.0f} it/s "
                     f"({cf['iters_per_s'] / pf['iters_per_s']:.1f}x); whole fit {cf['fit_s']:.2f} s vs "
                     f"{pf['fit_s']:.2f} s; accuracy {cf.get('accuracy')} vs {pf.get('accuracy')}")
    for key, res in results.items():
        if res.get("skipped"):
            lines.append(f"- {key} skipped: {res['skipped']}")
        for err in res.get("errors", []):
            lines.append(f"- {key} failed once: {err.splitlines()[-1] if err else '?'}")
        runs = res.get("runs") or []
        if runs:
            per = ", ".join(f"{r['iters_per_s']:,.0f}" if r.get("iters_per_s") else "–" for r in runs)
            lines.append(f"- {key}: {runs[0].get('version')}; it/s per repeat: {per}"
                         + ("; PyMC stopped on a NaN loss in some runs" if any(r.get("nan_stop") for r in runs)
                            else ""))
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--worker", choices=VARIANTS, default=None,
                   help="run one credo measurement in this process and print its JSON line")
    p.add_argument("--n", type=int, default=None, help="(worker) steps; default 50,000 minibatch, 20,000 full-rank")
    p.add_argument("--init", choices=("map", "initial_point"), default=None,
                   help="full-rank start (default: credo's, map)")
    p.add_argument("--optimizer", choices=("default", "adagrad_window"), default="default",
                   help="full-rank optimiser: credo's default (Adam 1e-3) or PyMC's adagrad_window(1e-3)")
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--n-minibatch", type=int, default=50_000)
    p.add_argument("--n-fullrank", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pymc-python", default=None,
                   help="interpreter with PyMC (default: $CREDO_PYMC_PYTHON or /work/venvs/pymc/bin/python)")
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed cache warm-up runs")
    p.add_argument("--no-progress", action="store_true", help="(worker) no progress bar")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    p.add_argument("--json", dest="json_out", default=None, help="write every run's results to this file")
    a = p.parse_args(argv)
    if a.worker:
        if a.n is None:
            a.n = 50_000 if a.worker == "minibatch" else 20_000
        print(json.dumps(worker(a)), flush=True)
        return 0
    results = run_all(a.variants, a.repeats, a.n_minibatch, a.n_fullrank, a.seed, pymc_python=a.pymc_python,
                      fullrank_init=a.init, fullrank_optimizer=a.optimizer, warmup=not a.no_warmup,
                      timeout=a.timeout)
    try:
        from seed_workflow import machine

        where = machine()
    except Exception:  # noqa: BLE001
        import platform

        where = platform.platform()
    print(f"Machine: {where}; date: {date.today().isoformat()}; medians of {a.repeats} interleaved runs; "
          f"minibatch n = {a.n_minibatch}, full-rank n = {a.n_fullrank}.\n")
    print(table(results))
    print()
    print("\n".join(summary_lines(results)))
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
