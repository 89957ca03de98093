"""Peers of ``vi_methods.py``: PyMC's SVGD, pymc-extras' Pathfinder, BlackJAX's Pathfinder, NumPyro's
AutoIAFNormal, on the posteriors of ``tests/inference/targets.py`` and the tutorial network.

Runs in the peers' own environment (numpy, pymc, pymc-extras, numpyro, blackjax; never credo):

    /work/venv-peers/bin/python benchmarks/peers/vi_peers.py --framework pymc_svgd --target banana

Prints ONE JSON line: ``framework, target, version, wall_s`` (the fit and the draws, compile included,
in this fresh process), ``moments`` (``{name: {"mean": [...], "sd": [...]}}`` from 2,000 draws) or,
for the tutorial, ``accuracy`` on the 500 test points. Settings (each as credo's in ``vi_credo.py``):

* ``pymc_svgd``: ``pm.fit(2000, method=pm.SVGD(n_particles=100))`` with ``pm.adam(learning_rate=1e-2)``
  (tutorial: 20 particles, 1,000 steps).
* ``pymc_extras_pathfinder``: ``pmx.fit(method="pathfinder", num_paths=4)`` (its defaults otherwise).
* ``blackjax_pathfinder``: ``blackjax.vi.pathfinder.approximate`` (one path, ``maxiter=1000``, ``maxcor=6``,
  25 ELBO draws) on NumPyro's unconstrained log density of the same model.
* ``numpyro_iaf``: ``SVI(model, AutoIAFNormal(num_flows=2), Adam(1e-3), Trace_ELBO())``, 10,000 steps.
"""
import time

_T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from moons import load_data  # noqa: E402
from nuts_common import SCHOOLS_SIGMA, SCHOOLS_Y  # noqa: E402

TARGETS = ("gaussian", "banana", "funnel", "schools", "tutorial")
FRAMEWORKS = ("pymc_svgd", "pymc_extras_pathfinder", "blackjax_pathfinder", "numpyro_iaf")
N_DRAWS = 2000


def gaussian_parameters(rho=0.9, scales=(1.0, 3.0, 0.5, 2.0)):
    scales = np.asarray(scales)
    dim = len(scales)
    correlation = np.array([[rho ** abs(i - j) for j in range(dim)] for i in range(dim)])
    return np.linspace(-1.0, 2.0, dim), correlation * np.outer(scales, scales)


# --- PyMC ------------------------------------------------------------------------------------

def pymc_model(target):
    import pymc as pm
    import pytensor.tensor as pt

    X_train, X_test, y_train, y_test = load_data()
    with pm.Model() as model:
        if target == "gaussian":
            mean, covariance = gaussian_parameters()
            pm.MvNormal("x", mean, cov=covariance)
        elif target == "banana":
            x = pm.Flat("x", shape=2)
            pm.Potential("banana", -0.5 * x[0] ** 2 - 0.5 * (x[1] - (x[0] ** 2 - 1.0)) ** 2)
        elif target == "funnel":
            v = pm.Normal("v", 0.0, 3.0)
            pm.Normal("x", 0.0, pt.exp(v / 2.0), shape=9)
        elif target == "schools":
            mu = pm.Normal("mu", 0.0, 5.0)
            tau = pm.HalfCauchy("tau", 5.0)
            theta = pm.Normal("theta", mu, tau, shape=8)
            pm.Normal("y", theta, SCHOOLS_SIGMA, observed=SCHOOLS_Y)
        else:
            inputs = pm.Data("x_in", X_train)
            targets = pm.Data("y_out", y_train)
            rng = np.random.default_rng(0)
            w1 = pm.Normal("w_in_1", 0, 1, shape=(2, 5), initval=rng.standard_normal((2, 5)))
            w2 = pm.Normal("w_1_2", 0, 1, shape=(5, 5), initval=rng.standard_normal((5, 5)))
            w3 = pm.Normal("w_2_out", 0, 1, shape=(5,), initval=rng.standard_normal(5))
            p = pm.math.sigmoid(pt.dot(pt.tanh(pt.dot(pt.tanh(pt.dot(inputs, w1)), w2)), w3))
            pm.Deterministic("p", p)
            pm.Bernoulli("out", p, observed=targets, shape=inputs.shape[0])
    return model, (X_test, y_test)


def pymc_summary(idata, model, target, test):
    import pymc as pm

    if target == "tutorial":
        X_test, y_test = test
        with model:
            pm.set_data({"x_in": X_test, "y_out": np.zeros_like(y_test)})
            p = pm.sample_posterior_predictive(idata, var_names=["p"], progressbar=False,
                                               return_inferencedata=True).posterior_predictive["p"]
        return {"accuracy": float(((p.mean(("chain", "draw")).values > 0.5) == y_test).mean())}
    del model
    moments = {}
    for name in idata.posterior.data_vars:
        values = idata.posterior[name].values.reshape((-1,) + idata.posterior[name].shape[2:])
        moments[name] = {"mean": np.atleast_1d(values.mean(0)).tolist(), "sd": np.atleast_1d(values.std(0)).tolist()}
    return {"moments": moments}


def run_pymc_svgd(target, seed):
    import pymc as pm

    model, test = pymc_model(target)
    particles, steps = (20, 1000) if target == "tutorial" else (100, 2000)
    with model:
        approx = pm.fit(steps, method=pm.SVGD(n_particles=particles, random_seed=seed),
                        obj_optimizer=pm.adam(learning_rate=1e-2), progressbar=False, random_seed=seed)
        idata = approx.sample(N_DRAWS, random_seed=seed)
    return pymc_summary(idata, model, target, test), pm.__version__


def run_pymc_extras_pathfinder(target, seed):
    import pymc_extras as pmx

    model, test = pymc_model(target)
    with model:
        idata = pmx.fit(method="pathfinder", num_paths=4, num_draws=N_DRAWS, random_seed=seed, progressbar=False)
    return pymc_summary(idata, model, target, test), pmx.__version__


# --- NumPyro and BlackJAX --------------------------------------------------------------------

def numpyro_model(target):
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    X_train, X_test, y_train, y_test = load_data()

    def model(inputs=X_train, targets=y_train):
        if target == "gaussian":
            mean, covariance = gaussian_parameters()
            numpyro.sample("x", dist.MultivariateNormal(mean, covariance))
        elif target == "banana":
            x = numpyro.sample("x", dist.ImproperUniform(dist.constraints.real_vector, (), (2,)))
            numpyro.factor("banana", -0.5 * x[0] ** 2 - 0.5 * (x[1] - (x[0] ** 2 - 1.0)) ** 2)
        elif target == "funnel":
            v = numpyro.sample("v", dist.Normal(0.0, 3.0))
            numpyro.sample("x", dist.Normal(0.0, jnp.exp(v / 2.0)).expand([9]).to_event(1))
        elif target == "schools":
            mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
            tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
            theta = numpyro.sample("theta", dist.Normal(mu, tau).expand([8]).to_event(1))
            numpyro.sample("y", dist.Normal(theta, SCHOOLS_SIGMA).to_event(1), obs=SCHOOLS_Y)
        else:
            w1 = numpyro.sample("w_in_1", dist.Normal(0.0, 1.0).expand([2, 5]).to_event(2))
            w2 = numpyro.sample("w_1_2", dist.Normal(0.0, 1.0).expand([5, 5]).to_event(2))
            w3 = numpyro.sample("w_2_out", dist.Normal(0.0, 1.0).expand([5]).to_event(1))
            p = numpyro.deterministic("p", jax_sigmoid(jnp.tanh(jnp.tanh(inputs @ w1) @ w2) @ w3))
            numpyro.sample("out", dist.Bernoulli(probs=p).to_event(1), obs=targets)

    return model, (X_test, y_test)


def jax_sigmoid(x):
    import jax

    return jax.nn.sigmoid(x)


def numpyro_summary(draws, model, target, test):
    """Moments of constrained draws, or the tutorial's test accuracy from the weights' draws."""
    import jax
    from numpyro.infer import Predictive

    if target == "tutorial":
        X_test, y_test = test
        weights = {k: v for k, v in draws.items() if k.startswith("w_")}
        p = Predictive(model, posterior_samples=weights, return_sites=["p"])(
            jax.random.key(1), X_test, np.zeros_like(y_test))["p"]
        return {"accuracy": float(((np.asarray(p).mean(0) > 0.5) == y_test).mean())}
    return {"moments": {name: {"mean": np.atleast_1d(np.asarray(v).mean(0)).tolist(),
                               "sd": np.atleast_1d(np.asarray(v).std(0)).tolist()}
                        for name, v in draws.items()}}


def run_numpyro_iaf(target, seed):
    import jax
    import numpyro
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoIAFNormal

    model, test = numpyro_model(target)
    guide = AutoIAFNormal(model, num_flows=2)
    svi = SVI(model, guide, numpyro.optim.Adam(1e-3), Trace_ELBO())
    result = svi.run(jax.random.key(seed), 10_000, progress_bar=False)
    draws = guide.sample_posterior(jax.random.key(seed + 1), result.params, sample_shape=(N_DRAWS,))
    draws = {k: v for k, v in draws.items() if k != "p"}
    return numpyro_summary(jax.device_get(draws), model, target, test), numpyro.__version__


def run_blackjax_pathfinder(target, seed):
    import blackjax
    import jax
    from jax.flatten_util import ravel_pytree
    from numpyro.infer.util import initialize_model

    model, test = numpyro_model(target)
    init, potential_fn, postprocess_fn, _ = initialize_model(jax.random.key(seed), model, dynamic_args=False)
    flat, unravel = ravel_pytree(init.z)
    logdensity = jax.jit(lambda x: -potential_fn(unravel(x)))

    @jax.jit
    def run(key, x0):
        state, _ = blackjax.vi.pathfinder.approximate(key, logdensity, x0, num_samples=25, maxiter=1000, maxcor=6)
        samples, _ = blackjax.vi.pathfinder.sample(jax.random.fold_in(key, 1), state, N_DRAWS)
        return jax.vmap(lambda z: postprocess_fn(unravel(z)))(samples)

    draws = jax.device_get(run(jax.random.key(seed), flat))
    draws = {k: v for k, v in draws.items() if k != "p"}
    return numpyro_summary(draws, model, target, test), blackjax.__version__


RUNNERS = {"pymc_svgd": run_pymc_svgd, "pymc_extras_pathfinder": run_pymc_extras_pathfinder,
           "blackjax_pathfinder": run_blackjax_pathfinder, "numpyro_iaf": run_numpyro_iaf}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--framework", choices=FRAMEWORKS, required=True)
    parser.add_argument("--target", choices=TARGETS, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    try:
        summary, version = RUNNERS[args.framework](args.target, args.seed)
        error = None
    except Exception as failure:  # noqa: BLE001 - a peer that fails is reported, not fatal
        summary, version, error = {}, None, f"{type(failure).__name__}: {failure}"[:300]
    wall = time.perf_counter() - began
    print(json.dumps({"framework": args.framework, "target": args.target, "version": version, "wall_s": wall,
                      "error": error, "total_s": time.perf_counter() - _T0, **summary}), flush=True)


if __name__ == "__main__":
    main()
