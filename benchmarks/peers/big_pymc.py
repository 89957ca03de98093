"""The dense networks of ``big_common.py`` in PyMC: minibatch mean-field ADVI.

``pm.Minibatch(X, y, batch_size=128)``, Normal(0, 1) weights starting at the
same initial means as the other frameworks, the categorical likelihood with
``total_size``, ``pm.ADVI().fit(n, obj_optimizer=pm.adam(learning_rate=1e-3))``.
The first ``fit`` compiles the step function; ``refine`` runs it again, so
the steady rate is timed over ``refine`` calls and the compile time is the
first fit less one chunk at that rate.

Run in PyMC's own interpreter: ``python big_pymc.py NETWORK [--rounds R]``;
prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import big_common as common  # noqa: E402


def run(name: str, rounds: int) -> dict:
    import pymc as pm
    import pytensor.tensor as pt

    _, layers, steps = common.NETWORKS[name]
    if any(layer[0] != "dense" for layer in layers):
        raise SystemExit(f"{name}: only dense networks are written for PyMC here")
    X, y = common.make_data(name)
    initial = common.initial_means(name)
    activations = {"tanh": pt.tanh, "relu": lambda z: pt.maximum(z, 0), None: lambda z: z}
    with pm.Model():
        xb, yb = pm.Minibatch(X, y, batch_size=common.BATCH)
        h = xb
        for index, layer in enumerate(layers):
            w = pm.Normal(f"layer{index}_w", 0, 1, shape=initial[f"layer{index}_w"].shape,
                          initval=initial[f"layer{index}_w"])
            b = pm.Normal(f"layer{index}_b", 0, 1, shape=initial[f"layer{index}_b"].shape,
                          initval=initial[f"layer{index}_b"])
            h = activations[layer[2]](pt.dot(h, w) + b)
        pm.Categorical("y_obs", logit_p=h, observed=yb, total_size=common.ROWS)
        inference = pm.ADVI()
        start = time.perf_counter()
        inference.fit(steps, obj_optimizer=pm.adam(learning_rate=common.LEARNING_RATE), progressbar=False)
        first = time.perf_counter() - start
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            inference.refine(steps, progressbar=False)
            times.append(time.perf_counter() - start)
    rate = steps / statistics.median(times)
    return {"it_per_s": rate, "compile_s": first - steps / rate, "version": pm.__version__}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("network", choices=list(common.NETWORKS))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    result = run(args.network, args.rounds)
    result.update(framework="pymc", network=args.network, weights=common.num_weights(args.network),
                  peak_mb=common.peak_memory_mb())
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
