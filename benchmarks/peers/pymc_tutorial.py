"""Peer: the PyMC3 Bayesian neural network tutorial on today's PyMC 5 API.

Run it with the interpreter of a virtual environment that has PyMC, e.g.
``/work/venvs/pymc/bin/python benchmarks/peers/pymc_tutorial.py --no-progress``
(PyMC is deliberately not installed into the project's Python).

Workflow: make_moons(noise=0.2, random_state=0, n_samples=1000), scale,
train_test_split(test_size=0.5, random_state=0); 2-5-5-1 tanh network with
Normal(0, 1) weights whose initial values come from
``np.random.default_rng(seed).standard_normal``; Bernoulli likelihood on the
sigmoid output with total_size = number of training rows; inputs/outputs are
``pm.Data`` containers and the likelihood has ``shape=ann_input.shape[0]`` so
the test set can be swapped in with ``pm.set_data``.
``pm.fit(n, method="advi")`` with PyMC's default optimiser
(adagrad_window, learning_rate 1e-3, n_win 10, epsilon 0.1);
``approx.sample(5000)``; ``pm.sample_posterior_predictive`` on the first 500
of those (iid) draws; accuracy = mean((ppc mean > 0.5) == y_test).

Timing of ``pm.fit`` (``fit_s``) is the whole call: building the ADVI objective,
compiling the PyTensor step function, and n iterations.  A callback passed to
``pm.fit`` (called by PyMC after every iteration) records the time of the first
and the last iteration: ``fit_compile_s`` = start of ``pm.fit`` -> end of
iteration 1 (objective graph + compile + one step), and ``iters_per_s`` =
(n - 1) / (time of iteration n - time of iteration 1), i.e. the steady-state
rate of PyMC's own Python loop (including its per-step loss bookkeeping).
PyTensor caches compiled C code in ~/.pytensor, so the very first run on a
machine compiles much more than later ones; warm the cache with one short run
before timing.

Prints ONE JSON line on stdout at the end.
"""
import time

_T0 = time.perf_counter()  # process start (before heavy imports)

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from moons import load_data  # noqa: E402

N_HIDDEN = 5
N_DRAWS = 5000
N_PPC = 500


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=50_000, help="ADVI iterations")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="disable PyMC progress bars")
    return p.parse_args(argv)


def construct_nn(X_train, Y_train, seed):
    import pymc as pm

    rng = np.random.default_rng(seed)
    init_1 = rng.standard_normal((X_train.shape[1], N_HIDDEN))
    init_2 = rng.standard_normal((N_HIDDEN, N_HIDDEN))
    init_out = rng.standard_normal(N_HIDDEN)

    with pm.Model() as neural_network:
        ann_input = pm.Data("ann_input", X_train)
        ann_output = pm.Data("ann_output", Y_train)

        weights_in_1 = pm.Normal("w_in_1", 0, sigma=1, shape=(X_train.shape[1], N_HIDDEN),
                                 initval=init_1)
        weights_1_2 = pm.Normal("w_1_2", 0, sigma=1, shape=(N_HIDDEN, N_HIDDEN), initval=init_2)
        weights_2_out = pm.Normal("w_2_out", 0, sigma=1, shape=(N_HIDDEN,), initval=init_out)

        act_1 = pm.math.tanh(pm.math.dot(ann_input, weights_in_1))
        act_2 = pm.math.tanh(pm.math.dot(act_1, weights_1_2))
        act_out = pm.math.sigmoid(pm.math.dot(act_2, weights_2_out))

        pm.Bernoulli("out", act_out, observed=ann_output,
                     total_size=Y_train.shape[0],  # IMPORTANT for minibatches
                     shape=ann_input.shape[0])
    return neural_network


def main(argv=None):
    args = parse_args(argv)
    progress = not args.no_progress

    import pymc as pm
    import pytensor

    warnings.filterwarnings("ignore")
    logging.getLogger("pymc").setLevel(logging.ERROR)

    X_train, X_test, Y_train, Y_test = load_data()

    # ---------------------------------------------------------------- build
    t = time.perf_counter()
    neural_network = construct_nn(X_train, Y_train, args.seed)
    build_s = time.perf_counter() - t

    # ------------------------------------------------------------------ fit
    marks = {}

    def timing_cb(approx, losses, i):
        now = time.perf_counter()
        if "first" not in marks:
            marks["first"] = now
            marks["first_i"] = i
        marks["last"] = now
        marks["last_i"] = i

    t = time.perf_counter()
    with neural_network:
        approx = pm.fit(n=args.n, method="advi", random_seed=args.seed,
                        progressbar=progress, callbacks=[timing_cb])
    fit_s = time.perf_counter() - t
    fit_compile_s = marks["first"] - t
    if marks["last_i"] > marks["first_i"]:
        iters_per_s = (marks["last_i"] - marks["first_i"]) / (marks["last"] - marks["first"])
    else:  # n == 1
        iters_per_s = 1.0 / fit_s

    # --------------------------------------------------------------- sample
    t = time.perf_counter()
    trace = approx.sample(draws=N_DRAWS, random_seed=args.seed)
    sample_s = time.perf_counter() - t

    # ------------------------------------------------- posterior predictive
    t = time.perf_counter()
    with neural_network:
        pm.set_data(new_data={"ann_input": X_test, "ann_output": Y_test})
        ppc = pm.sample_posterior_predictive(
            trace.posterior.isel(draw=slice(0, N_PPC)),  # 500 of the iid draws
            progressbar=progress, random_seed=args.seed + 1,
        )
    out = ppc.posterior_predictive["out"].values  # (chain, draw, n_test)
    predictive_s = time.perf_counter() - t

    pred = out.reshape(-1, out.shape[-1]).mean(axis=0) > 0.5
    accuracy = float((pred == Y_test).mean())
    total_s = time.perf_counter() - _T0

    hist = np.asarray(approx.hist)
    result = {
        "framework": "pymc",
        "version": f"pymc {pm.__version__}, pytensor {pytensor.__version__}",
        "n": int(args.n),
        "build_s": build_s,
        "fit_s": fit_s,
        "fit_compile_s": fit_compile_s,
        "iters_per_s": iters_per_s,
        "sample_s": sample_s,
        "predictive_s": predictive_s,
        "accuracy": accuracy,
        "total_s": total_s,
        "final_loss": float(np.mean(hist[-min(1000, len(hist)):])),
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
