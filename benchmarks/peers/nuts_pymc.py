"""Peer: NUTS in PyMC (its default sampler) on the tutorial network and on eight schools.

The models, settings and JSON fields are those of ``benchmarks/nuts_credo.py``
(see its docstring); one JSON line per model (``--models``). Run it with the
interpreter of PyMC's own virtual environment
(``/work/venvs/pymc/bin/python``, see ``peers/run_peers.py``).

Sampler: ``pm.sample(draws, tune, chains=4, target_accept=...,
random_seed=seed, progressbar=False)``, i.e. what a PyMC user gets by
default: PyMC's own NUTS (``nuts_sampler="pymc"``), ``init="jitter+adapt_diag"``,
float64, and ``cores=None``, which PyMC turns into ``min(4, cpu count)``
worker processes (2 on a 2-core box: the 4 chains run two at a time; 4 on a
machine with 4 or more cores). The ``cores`` actually used is in the output;
``--cores N`` overrides it (``--cores 1``: chains one after another in this
process). The default post-sampling convergence checks stay on, as for a user.

The BNN is ``construct_nn`` of ``pymc_tutorial.py`` (the tutorial's network,
``Bernoulli(p=sigmoid(...))``, initial values from
``np.random.default_rng(seed)``); eight schools as in credo.

Timing: ``wall_s`` is the whole ``pm.sample`` call (building the logp and
gradient graphs, compiling them with PyTensor, which caches compiled C code
on disk in ``~/.pytensor``: warm that cache with a short run first, as the
runner does; starting the worker processes; tuning and draws; conversion to
InferenceData; convergence checks). ``sampling_s`` is PyMC's own
``idata.posterior.attrs["sampling_time"]`` (tuning and draws, after the
step method is compiled); ``compile_s`` = ``wall_s - sampling_s``.
"""
import time

_T0 = time.perf_counter()

import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nuts_common import (  # noqa: E402
    FREE_VARS, SCHOOLS_SIGMA, SCHOOLS_Y, TARGET_ACCEPT, argument_parser, ess_summary, run_models,
)


def build(model_name: str, seed: int):
    import pymc as pm

    if model_name == "tutorial":
        from pymc_tutorial import construct_nn, load_data

        X_train, _, Y_train, _ = load_data()
        return construct_nn(X_train, Y_train, seed)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, sigma=5.0)
        tau = pm.HalfCauchy("tau", beta=5.0)
        theta_tilde = pm.Normal("theta_tilde", 0.0, sigma=1.0, shape=8)
        theta = pm.Deterministic("theta", mu + tau * theta_tilde)
        pm.Normal("obs", theta, sigma=SCHOOLS_SIGMA, observed=SCHOOLS_Y)
    return model


def default_cores() -> int:
    """What ``pm.sample(cores=None)`` uses: ``min(4, cpu count)``."""
    try:
        from pymc.sampling.mcmc import _cpu_count

        return min(4, _cpu_count())
    except ImportError:  # an older/newer layout
        return min(4, os.cpu_count() or 1)


def run_model(model_name: str, args) -> dict:
    import pymc as pm
    import pytensor

    target_accept = TARGET_ACCEPT[model_name] if args.target_accept is None else args.target_accept
    cores = default_cores() if args.cores is None else args.cores
    model = build(model_name, args.seed)
    t = time.perf_counter()
    with model:
        idata = pm.sample(draws=args.draws, tune=args.tune, chains=args.chains, target_accept=target_accept,
                          random_seed=args.seed, progressbar=not args.no_progress, cores=args.cores)
    wall_s = time.perf_counter() - t
    sampling_s = float(idata.posterior.attrs.get("sampling_time", float("nan")))
    if not np.isfinite(sampling_s):
        sampling_s = None
    names = FREE_VARS[model_name]
    posterior = {name: idata.posterior[name].values for name in names}
    stats = idata.sample_stats
    n_grad = int(stats["n_steps"].values.sum())
    summary = ess_summary(posterior)
    return {
        "framework": "pymc", "model": model_name,
        "version": f"pymc {pm.__version__}, pytensor {pytensor.__version__}",
        "chains": args.chains, "tune": args.tune, "draws": args.draws, "target_accept": target_accept,
        "wall_s": wall_s, "sampling_s": sampling_s,
        "compile_s": None if sampling_s is None else wall_s - sampling_s,
        **summary,
        "ess_per_s": summary["min_ess"] / wall_s,
        "ess_per_s_sampling": None if sampling_s is None else summary["min_ess"] / sampling_s,
        "divergences": int(stats["diverging"].values.sum()),
        "n_grad": n_grad, "grad_per_s": n_grad / wall_s,
        "grad_per_s_sampling": None if sampling_s is None else n_grad / sampling_s,
        "mean_steps": n_grad / (args.chains * args.draws),
        "step_size": float(np.median(stats["step_size"].values[:, -1])),
        "dtype": str(idata.posterior[names[0]].dtype),
        "cores": cores,
        "total_s": time.perf_counter() - _T0,
    }


def parse_args(argv=None):
    p = argument_parser(__doc__.split("\n")[0], "accepted for interface parity (there is no rerun)",
                        "disable PyMC's progress bar")
    p.add_argument("--cores", type=int, default=None,
                   help="pm.sample's cores (default: PyMC's own, min(4, cpu count))")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.getLogger("pymc").setLevel(logging.ERROR)
    return run_models(run_model, args)


if __name__ == "__main__":
    main(sys.argv[1:])
