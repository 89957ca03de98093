"""Trials of ``credo demo digits`` settings toward its calibration target (issue 13): one JSON line per run.

Usage::

    PYTHONPATH=src python benchmarks/digits_trials.py base,n4000,prior10 0,1
"""
import sys, json, warnings
warnings.simplefilter("ignore")
from credo.nn.digits import run_digits_demo
configs = {"base": {}, "n4000": {"n": 4000}, "n8000": {"n": 8000}, "prior10": {"prior_sigma": 10.0},
           "prior1": {"prior_sigma": 1.0}, "features": {"bayesian_features": True},
           "t0.5": {"temperature": 0.5}, "t0.25": {"temperature": 0.25}}
for name in sys.argv[1].split(","):
    for seed in [int(s) for s in sys.argv[2].split(",")]:
        r = run_digits_demo(seed=seed, out=None, progressbar=False, echo=lambda *_: None, **configs[name])
        b, d = r["bayesian"], r["deterministic"]
        print(json.dumps({"config": name, "seed": seed, "acc": b["accuracy"], "ece": round(b["ece"], 4), "lpd": round(b["log_predictive_density"], 4),
                          "auroc_r": round(b["auroc_rotated"], 3), "auroc_n": round(b["auroc_noised"], 3), "det_ece": round(d["ece"], 4),
                          "det_acc": d["accuracy"], "det_auroc_r": round(d["auroc_rotated"], 3),
                          "det_auroc_n": round(d["auroc_noised"], 3)}), flush=True)
