"""Peer: full-rank ADVI in PyMC on the tutorial network (``pm.fit(method="fullrank_advi")``).

Run it with PyMC's interpreter (``/work/venvs/pymc/bin/python``). The network,
data and initial values are those of ``pymc_tutorial.py`` (``construct_nn``,
``load_data``); the fit is ``pm.FullRankADVI(random_seed=seed).fit(n,
callbacks=[timing])``, which is exactly what ``pm.fit(n,
method="fullrank_advi", random_seed=seed, callbacks=[timing])`` runs (the
inference object is kept so that a NaN stop can still be reported), with
PyMC's defaults otherwise
(``FullRankADVI`` started at the model's initial point, PyMC's default
optimiser ``adagrad_window``, one Monte Carlo draw per step, float64). Then
5,000 draws from the approximation and a 500-draw posterior predictive on the
test half give the test accuracy.

Timing, as in ``pymc_tutorial.py``: ``fit_s`` is the whole ``pm.fit`` call; a
callback (PyMC calls it after every iteration) records the time of the first
and the last iteration: ``fit_compile_s`` = start of ``pm.fit`` to the end of
iteration 1 (objective graph, PyTensor compile, one step), ``iters_per_s`` =
(last - first iteration) / (their time difference), the steady-state rate of
PyMC's own Python loop. PyTensor caches compiled C code in ``~/.pytensor``:
warm it with one short run before timing (the runner does).

Prints ONE JSON line: ``framework, variant ("fullrank"), version, n, init,
optimizer, fit_s, fit_compile_s, iters_per_s, accuracy, final_loss (mean
loss of the last 1,000 steps), nan_stop (PyMC stopped on a NaN loss),
steps_done, total_s``.
"""
import time

_T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

N_DRAWS = 5000
N_PPC = 500


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=20_000, help="full-rank ADVI iterations")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="disable PyMC progress bars")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    progress = not args.no_progress

    import pymc as pm
    import pytensor
    from pymc_tutorial import construct_nn, load_data

    warnings.filterwarnings("ignore")
    logging.getLogger("pymc").setLevel(logging.ERROR)

    X_train, X_test, Y_train, Y_test = load_data()
    neural_network = construct_nn(X_train, Y_train, args.seed)

    marks = {}

    def timing_cb(approx, losses, i):
        now = time.perf_counter()
        if "first" not in marks:
            marks["first"], marks["first_i"] = now, i
        marks["last"], marks["last_i"] = now, i

    nan_stop = False
    t = time.perf_counter()
    with neural_network:
        inference = pm.FullRankADVI(random_seed=args.seed)
        try:
            approx = inference.fit(n=args.n, progressbar=progress, callbacks=[timing_cb])
        except FloatingPointError:  # PyMC raises when the loss becomes NaN
            nan_stop = True
            approx = inference.approx
    fit_s = time.perf_counter() - t
    fit_compile_s = marks["first"] - t if marks else None
    if marks and marks["last_i"] > marks["first_i"]:
        iters_per_s = (marks["last_i"] - marks["first_i"]) / (marks["last"] - marks["first"])
    else:
        iters_per_s = None

    accuracy = None
    try:
        trace = approx.sample(draws=N_DRAWS, random_seed=args.seed)
        with neural_network:
            pm.set_data(new_data={"ann_input": X_test, "ann_output": Y_test})
            ppc = pm.sample_posterior_predictive(trace.posterior.isel(draw=slice(0, N_PPC)),
                                                 progressbar=progress, random_seed=args.seed + 1)
        out = ppc.posterior_predictive["out"].values
        pred = out.reshape(-1, out.shape[-1]).mean(axis=0) > 0.5
        accuracy = float((pred == Y_test).mean())
    except Exception as e:  # noqa: BLE001  (a NaN approximation cannot be sampled)
        print(f"fullrank_pymc: sampling the approximation failed: {e!r}", file=sys.stderr)

    hist = np.asarray(approx.hist) if len(getattr(approx, "hist", [])) else np.asarray(inference.hist)
    result = {
        "framework": "pymc", "variant": "fullrank",
        "version": f"pymc {pm.__version__}, pytensor {pytensor.__version__}",
        "n": int(args.n), "init": "initial_point", "optimizer": "adagrad_window (PyMC default)",
        "fit_s": fit_s, "fit_compile_s": fit_compile_s, "iters_per_s": iters_per_s, "accuracy": accuracy,
        "final_loss": float(np.mean(hist[-min(1000, len(hist)):])) if len(hist) else None,
        "nan_stop": nan_stop, "steps_done": int(len(hist)),
        "total_s": time.perf_counter() - _T0,
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
