"""Is the digits demo's underconfidence the approximation's or the posterior's? (issue 13): one JSON line per seed.

For each seed, fit the demo's Bayesian CNN (``credo.nn.digits.fit_bayesian``:
mean-field ADVI, convolutions point-estimated, output layer Bayesian with
Normal(0, 4^2) priors), then hold its convolutions at their fitted values and
sample the exact posterior of the output layer (650 weights) given those
features with NUTS (2 chains of 500 draws after 500 tuning steps, the same
prior and likelihood on all 1,198 training rows). Both predictives average
the class probabilities over their draws on the 599 test digits; each line
gives accuracy, mean top-class probability (confidence) and ECE of both,
and NUTS's largest R-hat.

If NUTS's predictive is as underconfident as the mean-field one, a richer
approximation of this posterior cannot meet the calibration target.

Usage::

    PYTHONPATH=src python benchmarks/digits_posterior.py 0,1,2
"""
import json
import sys
import time
import warnings

import arviz as az
import jax.numpy as jnp
import numpy as np

import credo as cr
from credo import metrics
from credo.nn import digits


def scores(probabilities: np.ndarray, y: np.ndarray) -> dict:
    mean = probabilities.mean(axis=0)
    return {"accuracy": round(float(np.mean(mean.argmax(-1) == y)), 4),
            "confidence": round(float(mean.max(-1).mean()), 4),
            "ece": round(metrics.expected_calibration_error(y, mean), 4)}


def main(seeds: list[int]) -> None:
    warnings.simplefilter("ignore")
    X_train, X_test, y_train, y_test = digits.load_digits_split()
    for seed in seeds:
        model = digits.build_digits_model(X_train, y_train, seed)
        approx = digits.fit_bayesian(model, 2000, 0.01, seed)
        draws = approx.sample(200, random_seed=seed + 1, return_inferencedata=False,
                              data={"x": X_test, "y": np.zeros(len(y_test), np.int32)})
        mean_field = scores(digits._softmax(draws["logits"]), y_test)

        fitted = {name: jnp.asarray(value) for name, value in approx.mean.items()}
        train, test = (np.asarray(digits.features(fitted, jnp.asarray(X))) for X in (X_train, X_test))
        with cr.Model():
            F = cr.Data("F", train)
            w = cr.Normal("out_w", 0, digits.PRIOR_SIGMA, shape=(train.shape[1], 10))
            b = cr.Normal("out_b", 0, digits.PRIOR_SIGMA, shape=(10,))
            cr.Categorical("obs", logit_p=F @ w + b, observed=y_train)
            start = time.perf_counter()
            trace = cr.sample(500, tune=500, chains=2, random_seed=seed, progressbar=False)
            seconds = time.perf_counter() - start
        w_draws = np.asarray(trace.posterior["out_w"]).reshape(-1, train.shape[1], 10)
        b_draws = np.asarray(trace.posterior["out_b"]).reshape(-1, 10)
        logits = np.einsum("nf,sfk->snk", test, w_draws) + b_draws[:, None]
        nuts = scores(digits._softmax(logits), y_test)
        rhat = float(np.nanmax(az.rhat(trace).to_array().values))
        print(json.dumps({"seed": seed, "mean_field": mean_field, "nuts": nuts, "nuts_max_rhat": round(rhat, 3),
                          "nuts_seconds": round(seconds, 1)}), flush=True)


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1].split(",")])
