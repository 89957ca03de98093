"""credo's NUTS benchmark: ``cr.sample`` on the tutorial network and on eight schools.

Prints ONE JSON line per model (``--models``, default both, in that order).
The runner ``nuts_benchmark.py`` starts one process per model so that every
``wall_s`` includes that model's compilation in a fresh process.

Models (the same in ``peers/nuts_numpyro.py`` and ``peers/nuts_pymc.py``):

* ``tutorial``: the PyMC3 BNN tutorial network (``credo.demo.build_moons_model``):
  2-5-5-1 tanh, N(0, 1) weights, Bernoulli likelihood, on the 500 training
  rows of ``credo.datasets.make_moons_split()``; 40 parameters.
  ``target_accept`` 0.8.
* ``eight_schools``: non-centred eight schools, ``mu ~ N(0, 5)``,
  ``tau ~ HalfCauchy(5)``, ``theta_tilde ~ N(0, 1)`` (8),
  ``theta = mu + tau * theta_tilde``, ``y ~ N(theta, sigma)``; 10 parameters.
  ``target_accept`` 0.9 (fewer divergences; the same in every framework).

Sampling: 4 chains, 1000 tune, 1000 draws (``--chains``, ``--tune``,
``--draws``), ``cr.sample(..., progressbar=False)``: BlackJAX NUTS with window
adaptation, chains vmapped, float32, jitter+adapt_diag style starts.

JSON fields (shared with the peers):

``framework, model, version, chains, tune, draws, target_accept``;
``wall_s``: the whole ``cr.sample`` call in a fresh process (model compile,
tracing, XLA compile or load from credo's persistent cache, warm-up, draws,
conversion to InferenceData), with arviz already imported (PyMC imports it
with ``import pymc``, before its timed call; credo imports it lazily inside
its first ``cr.sample``, so the script imports it first and reports that
time as ``arviz_import_s``, credo-only); ``sampling_s``: a second identical ``cr.sample`` call in the
same process, with everything compiled (``null`` with ``--no-rerun``);
``compile_s`` = ``wall_s - sampling_s``; ``min_ess``: the smallest bulk ESS
(``arviz.ess(method="bulk")``, all chains together) over every scalar
component of the model's free parameters (deterministics such as ``p`` and
``theta`` left out); ``ess_per_s`` = ``min_ess / wall_s``;
``ess_per_s_sampling`` = ``min_ess / sampling_s``; ``min_ess_chains``: the
sum over chains of each chain's own min-over-parameters bulk ESS (informative
where chains sit in different modes, as in the BNN); ``max_rhat``;
``divergences`` (after tuning, all chains); ``n_grad``: leapfrog steps in the
kept draws, all chains; ``grad_per_s`` = ``n_grad / wall_s`` and
``grad_per_s_sampling`` = ``n_grad / sampling_s`` (sampler-speed figures
independent of mixing; the tuning steps are in the time but not in
``n_grad``, so they understate the rate); ``mean_steps``: leapfrog steps per draw; ``step_size``: the
median over chains of the adapted step size; ``total_s``: process start to
the JSON line.

Usage::

    PYTHONPATH=src python3 benchmarks/nuts_credo.py [--models tutorial eight_schools]
        [--draws 1000 --tune 1000 --chains 4 --seed 0] [--no-rerun]
"""
import time

_T0 = time.perf_counter()

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
from nuts_common import (  # noqa: E402
    FREE_VARS, SCHOOLS_SIGMA, SCHOOLS_Y, TARGET_ACCEPT, argument_parser, ess_summary, run_models,
)


def build(model_name: str, seed: int):
    import credo as cr

    if model_name == "tutorial":
        from credo.datasets import make_moons_split
        from credo.demo import build_moons_model

        X_train, _, y_train, _ = make_moons_split()
        return build_moons_model(X_train, y_train, seed)
    with cr.Model() as model:
        mu = cr.Normal("mu", 0.0, sigma=5.0)
        tau = cr.HalfCauchy("tau", beta=5.0)
        theta_tilde = cr.Normal("theta_tilde", 0.0, sigma=1.0, shape=8)
        theta = cr.Deterministic("theta", mu + tau * theta_tilde)
        cr.Normal("obs", theta, sigma=SCHOOLS_SIGMA, observed=SCHOOLS_Y)
    return model


def run_model(model_name: str, args) -> dict:
    import warnings

    import jax

    import credo as cr

    target_accept = TARGET_ACCEPT[model_name] if args.target_accept is None else args.target_accept
    kwargs = dict(draws=args.draws, tune=args.tune, chains=args.chains, target_accept=target_accept,
                  random_seed=args.seed, progressbar=False)
    model = build(model_name, args.seed)
    # PyMC imports arviz with `import pymc`, before its timed call; credo imports it lazily, inside
    # its first cr.sample. Import it here, outside wall_s, and report the time separately.
    t = time.perf_counter()
    import arviz  # noqa: F401

    arviz_import_s = time.perf_counter() - t
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the divergence warning: counted below
        t = time.perf_counter()
        with model:
            idata = cr.sample(**kwargs)
        wall_s = time.perf_counter() - t
        sampling_s = None
        if not args.no_rerun:
            t = time.perf_counter()
            with model:
                cr.sample(**kwargs)
            sampling_s = time.perf_counter() - t
    names = FREE_VARS[model_name]
    posterior = {name: idata.posterior[name].values for name in names}
    stats = idata.sample_stats
    n_grad = int(stats["n_steps"].values.sum())
    summary = ess_summary(posterior)
    return {
        "framework": "credo", "model": model_name,
        "version": f"credo {cr.__version__}, blackjax {_version('blackjax')}, jax {jax.__version__}",
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
        "arviz_import_s": arviz_import_s,
        "total_s": time.perf_counter() - _T0,
    }


def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001
        return "?"


def parse_args(argv=None):
    return argument_parser(__doc__.split("\n")[0], "skip the second, compiled call that gives sampling_s",
                           "accepted for interface parity (always off)").parse_args(argv)


def main(argv=None):
    return run_models(run_model, parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
