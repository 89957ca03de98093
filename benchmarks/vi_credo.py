"""credo's side of ``vi_methods.py``: every variational method on one target, one JSON line per method.

    PYTHONPATH=src python3 benchmarks/vi_credo.py --target banana [--methods advi svgd ...]

Targets are the builders of ``tests/inference/targets.py`` (``gaussian``: ``correlated_gaussian()``,
4-d, correlation 0.9 between neighbours, sds 1, 3, 0.5, 2; ``banana``; ``funnel``, 10-d; ``schools``,
centred eight schools) and ``tutorial`` (the 2-5-5-1 network on the moons data, scored by test
accuracy). Methods and settings:

* ``advi``: mean-field, 10,000 steps, windowed adagrad at 1e-2 (tutorial: 30,000 at credo's default 1e-3);
* ``fullrank_advi``: 10,000 steps, Adam 1e-3, from the initial point (tutorial: 10,000);
* ``pathfinder``: 4 paths, history 6, 25 ELBO draws (credo's defaults), and ``pathfinder1``, one path;
* ``svgd``: 100 particles, 2,000 steps, Adam 1e-2 (tutorial: 20 particles, 1,000 steps);
* ``nfvi_iaf``: ``flow="iaf*2"``, 10,000 steps, Adam 1e-3, from the initial point;
* ``nfvi_realnvp``: ``flow="realnvp*4"``, the same.

``wall_s`` is the ``cr.fit`` call in this process (programs compiled in it: credo's persistent
compilation cache is off, ``CREDO_COMPILATION_CACHE=0``, set by the runner), ``khat`` the fit's own
Pareto k-hat (256 draws); ``moments`` come from ``approx.mean`` / ``approx.std`` (exact for the
Gaussians' unbounded variables, 4,000 draws otherwise).
"""
import time

_T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "inference"))

METHODS = ("advi", "fullrank_advi", "pathfinder", "pathfinder1", "svgd", "nfvi_iaf", "nfvi_realnvp")
TARGETS = ("gaussian", "banana", "funnel", "schools", "tutorial")


def settings(method: str, tutorial: bool) -> dict:
    import credo as cr

    table = {
        "advi": dict(n=30_000) if tutorial else dict(n=10_000, obj_optimizer=cr.adagrad_window(1e-2)),
        "fullrank_advi": dict(method="fullrank_advi", n=10_000, init="initial_point"),
        "pathfinder": dict(method="pathfinder", num_paths=4),
        "pathfinder1": dict(method="pathfinder", num_paths=1),
        "svgd": dict(method="svgd", n=1000, n_particles=20) if tutorial else dict(method="svgd", n=2000),
        "nfvi_iaf": dict(method="nfvi", flow="iaf*2", n=10_000, init="initial_point"),
        "nfvi_realnvp": dict(method="nfvi", flow="realnvp*4", n=10_000, init="initial_point"),
    }
    return table[method]


def build(target: str):
    import targets

    if target == "tutorial":
        from credo.datasets import make_moons_split
        from credo.demo import build_moons_model

        X_train, X_test, y_train, y_test = make_moons_split()
        return build_moons_model(X_train, y_train, seed=0), (X_test, y_test)
    builders = {"gaussian": targets.correlated_gaussian, "banana": targets.banana, "funnel": targets.funnel,
                "schools": targets.eight_schools_centred}
    return builders[target]()[0], None


def run(target: str, method: str, seed: int) -> dict:
    import credo as cr

    model, test = build(target)
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        began = time.perf_counter()
        approx = cr.fit(random_seed=seed, progressbar=False, **settings(method, test is not None))
        wall = time.perf_counter() - began
    result = {"framework": "credo", "method": method, "target": target, "version": cr.__version__, "wall_s": wall,
              "khat": None if approx.diagnosis is None else approx.diagnosis.khat}
    if test is None:
        result["moments"] = {name: {"mean": np.atleast_1d(approx.mean[name]).tolist(),
                                    "sd": np.atleast_1d(approx.std[name]).tolist()} for name in approx.mean}
    else:
        X_test, y_test = test
        draws = approx.sample(2000, random_seed=1, return_inferencedata=False,
                              data={"x": X_test, "y": np.zeros_like(y_test)})
        result["accuracy"] = float(((draws["p"].mean(0) > 0.5) == y_test).mean())
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", choices=TARGETS, required=True)
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for method in args.methods:
        print(json.dumps(run(args.target, method, args.seed)), flush=True)


if __name__ == "__main__":
    main()
