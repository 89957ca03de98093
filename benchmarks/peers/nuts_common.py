"""What the NUTS benchmark scripts share: the models' settings, the eight-schools
data, the effective-sample-size summary, the command line and the JSON loop.

Imported by ``nuts_credo.py`` and by ``nuts_pymc.py`` / ``nuts_numpyro.py``,
which run in different interpreters: numpy and arviz only.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

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


def argument_parser(description: str, rerun_help: str, progress_help: str) -> argparse.ArgumentParser:
    """The options every NUTS script takes (a script may add its own)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--target-accept", type=float, default=None,
                   help="override the per-model default (tutorial 0.8, eight_schools 0.9)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-rerun", action="store_true", help=rerun_help)
    p.add_argument("--no-progress", action="store_true", help=progress_help)
    return p


def run_models(run_model, args) -> list[dict]:
    """``run_model(name, args)`` for each of ``args.models``, printing one JSON line each."""
    results = []
    for name in args.models:
        result = run_model(name, args)
        print(json.dumps(result), flush=True)
        results.append(result)
    return results
