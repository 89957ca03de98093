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

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

MODELS = ("tutorial", "eight_schools")
TARGET_ACCEPT = {"tutorial": 0.8, "eight_schools": 0.9}
FREE_VARS = {"tutorial": ["w_in_1", "w_1_2", "w_2_out"], "eight_schools": ["mu", "tau", "theta_tilde"]}
SCHOOLS_Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SCHOOLS_SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def ess_summary(posterior: dict) -> dict:
    """min bulk ESS (all chains), sum over chains of per-chain min ESS, max R-hat.

    ``posterior``: name -> array (chain, draw, *shape).
    """
    import arviz as az

    ds = az.convert_to_dataset({k: np.asarray(v, dtype=np.float64) for k, v in posterior.items()})
    ess = az.ess(ds, method="bulk")
    min_ess = min(float(np.min(ess[v].values)) for v in ess.data_vars)
    rhat = az.rhat(ds)
    max_rhat = max(float(np.max(rhat[v].values)) for v in rhat.data_vars)
    per_chain = 0.0
    for c in range(ds.sizes["chain"]):
        one = az.ess(ds.isel(chain=[c]), method="bulk")
        per_chain += min(float(np.min(one[v].values)) for v in one.data_vars)
    return {"min_ess": min_ess, "min_ess_chains": per_chain, "max_rhat": max_rhat}


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
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--target-accept", type=float, default=None,
                   help="override the per-model default (tutorial 0.8, eight_schools 0.9)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-rerun", action="store_true",
                   help="skip the second, compiled call that gives sampling_s")
    p.add_argument("--no-progress", action="store_true", help="accepted for interface parity (always off)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    results = []
    for name in args.models:
        result = run_model(name, args)
        print(json.dumps(result), flush=True)
        results.append(result)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
