"""credo's run of the seed workflow, timed phase by phase; prints one JSON line.

The same workflow and JSON fields as the peers in ``peers/`` (see
``peers/jax_hand.py`` for the definitions): build, fit (50,000 mean-field ADVI
steps, default optimiser), 5,000 draws, a 500-draw posterior predictive on the
test set, accuracy. ``iters_per_s`` is the steady state: the iterations after
the first compiled chunk over their time, timed between chunks by a callback.
``total_s`` runs from the top of this script, before imports, to the accuracy.
"""
import time

_T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    progressbar = not args.no_progress or os.environ.get("CREDO_BENCH_PROGRESS") == "1"

    import jax

    import credo as cr
    from credo.datasets import make_moons_split

    X_train, X_test, Y_train, Y_test = make_moons_split()
    t = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    with cr.Model() as nn:
        x = cr.Data("x", X_train)
        y = cr.Data("y", Y_train)
        w_in_1 = cr.Normal("w_in_1", 0, sigma=1, shape=(2, 5), initval=rng.standard_normal((2, 5)))
        w_1_2 = cr.Normal("w_1_2", 0, sigma=1, shape=(5, 5), initval=rng.standard_normal((5, 5)))
        w_2_out = cr.Normal("w_2_out", 0, sigma=1, shape=(5,), initval=rng.standard_normal(5))
        act_1 = cr.math.tanh(cr.math.dot(x, w_in_1))
        act_2 = cr.math.tanh(act_1 @ w_1_2)
        p = cr.Deterministic("p", cr.math.sigmoid(cr.math.dot(act_2, w_2_out)))
        cr.Bernoulli("out", p=p, observed=y, total_size=len(Y_train))
    build_s = time.perf_counter() - t

    stamps = []

    def clock(approx, losses, step):
        stamps.append((step, time.perf_counter()))

    t = fit_start = time.perf_counter()
    with nn:
        approx = cr.fit(n=args.n, method="advi", random_seed=args.seed, progressbar=progressbar,
                        callbacks=[clock])
    fit_s = time.perf_counter() - t
    (first_step, first_time), (last_step, last_time) = stamps[0], stamps[-1]
    iters_per_s = (last_step - first_step) / (last_time - first_time) if last_step > first_step else None

    t = time.perf_counter()
    idata = approx.sample(draws=5000, random_seed=1)
    sample_s = time.perf_counter() - t

    t = time.perf_counter()
    with nn:
        cr.set_data({"x": X_test, "y": Y_test})
        ppc = cr.sample_posterior_predictive(idata, samples=500, random_seed=2)
    predictive_s = time.perf_counter() - t
    pred = ppc.posterior_predictive["out"].mean(("chain", "draw")) > 0.5
    accuracy = float((pred.values == Y_test).mean())
    total_s = time.perf_counter() - _T0
    result = {
        "framework": "credo", "version": f"credo {cr.__version__}, jax {jax.__version__}", "n": args.n,
        "build_s": build_s, "fit_s": fit_s, "fit_compile_s": first_time - fit_start - (first_step / iters_per_s if iters_per_s else 0),
        "iters_per_s": iters_per_s, "sample_s": sample_s, "predictive_s": predictive_s, "accuracy": accuracy,
        "total_s": total_s, "final_loss": float(np.mean(approx.hist[-1000:])),
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
