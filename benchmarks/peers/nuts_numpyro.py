"""Peer: NUTS in NumPyro on the tutorial network and on eight schools.

The models, settings and JSON fields are those of ``benchmarks/nuts_credo.py``
(see its docstring); one JSON line per model (``--models``).

Sampler: ``MCMC(NUTS(model, target_accept_prob=...), num_warmup=tune,
num_samples=draws, num_chains=4, chain_method="vectorized",
progress_bar=False)``, ``mcmc.run(PRNGKey(seed), ...,
extra_fields=("diverging", "num_steps"))``: NumPyro's defaults otherwise
(window adaptation of the step size and a diagonal mass matrix, max tree
depth 10, ``init_to_uniform`` starts, float32).

The BNN is written as in ``numpyro_tutorial.py``: ``Bernoulli(logits=...)``
(the same density as ``Bernoulli(p=sigmoid(...))``), weights named as in
credo. Data: the tutorial's ``make_moons`` split (the same arrays as
``credo.datasets.make_moons_split``).

Timing: ``wall_s`` is the ``mcmc.run`` call plus fetching the draws (trace,
XLA compile, warm-up and draws; NumPyro keeps no on-disk compile cache).
``sampling_s``, ``compile_s`` and ``grad_per_s_sampling`` are ``null``:
they are not separable from outside, because with
``chain_method="vectorized"`` every ``mcmc.run`` traces the vmapped chain
function afresh and compiles it again (on eight schools with 100 + 100 steps
a second ``run`` on the same ``MCMC`` object took 3.0 s after the first's
6.3 s, where credo's compiled sampling takes 0.04 s), so a rerun does not
give the compiled sampling time. ``--no-rerun`` is accepted for interface
parity and does nothing.
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
N_HIDDEN = 5


def load_data():
    from sklearn.datasets import make_moons
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import scale

    X, Y = make_moons(noise=0.2, random_state=0, n_samples=1000)
    X = scale(X)
    return train_test_split(X.astype(float), Y.astype(float), test_size=0.5, random_state=0)


def ess_summary(posterior: dict) -> dict:
    """min bulk ESS (all chains), sum over chains of per-chain min ESS, max R-hat."""
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


def make_model(model_name: str):
    """(model function, its arguments)."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    if model_name == "tutorial":
        X_train, _, Y_train, _ = load_data()
        total_size = Y_train.shape[0]

        def bnn(X, y=None):
            w1 = numpyro.sample("w_in_1", dist.Normal(0.0, 1.0).expand([X.shape[1], N_HIDDEN]).to_event(2))
            w2 = numpyro.sample("w_1_2", dist.Normal(0.0, 1.0).expand([N_HIDDEN, N_HIDDEN]).to_event(2))
            w3 = numpyro.sample("w_2_out", dist.Normal(0.0, 1.0).expand([N_HIDDEN]).to_event(1))
            logits = jnp.tanh(jnp.tanh(X @ w1) @ w2) @ w3
            with numpyro.plate("data", X.shape[0]), numpyro.handlers.scale(scale=total_size / X.shape[0]):
                numpyro.sample("out", dist.Bernoulli(logits=logits), obs=y)

        return bnn, (jnp.asarray(X_train, jnp.float32), jnp.asarray(Y_train, jnp.float32))

    def eight_schools(sigma, y=None):
        mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
        tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
        with numpyro.plate("J", sigma.shape[0]):
            theta_tilde = numpyro.sample("theta_tilde", dist.Normal(0.0, 1.0))
            theta = numpyro.deterministic("theta", mu + tau * theta_tilde)
            numpyro.sample("obs", dist.Normal(theta, sigma), obs=y)

    return eight_schools, (jnp.asarray(SCHOOLS_SIGMA, jnp.float32), jnp.asarray(SCHOOLS_Y, jnp.float32))


def run_model(model_name: str, args) -> dict:
    import jax
    import numpyro
    from numpyro.infer import MCMC, NUTS

    target_accept = TARGET_ACCEPT[model_name] if args.target_accept is None else args.target_accept
    model, model_args = make_model(model_name)
    key = jax.random.PRNGKey(args.seed)
    extra = ("diverging", "num_steps")

    mcmc = MCMC(NUTS(model, target_accept_prob=target_accept), num_warmup=args.tune, num_samples=args.draws,
                num_chains=args.chains, chain_method="vectorized", progress_bar=False)
    t = time.perf_counter()
    mcmc.run(key, *model_args, extra_fields=extra)
    samples = mcmc.get_samples(group_by_chain=True)
    jax.block_until_ready(samples)
    wall_s = time.perf_counter() - t
    fields = mcmc.get_extra_fields(group_by_chain=True)
    step_size = np.asarray(mcmc.last_state.adapt_state.step_size)
    posterior = {name: np.asarray(samples[name]) for name in FREE_VARS[model_name]}
    divergences = int(np.asarray(fields["diverging"]).sum())
    n_grad = int(np.asarray(fields["num_steps"]).sum())

    sampling_s = None  # not separable: see the module docstring

    summary = ess_summary(posterior)
    return {
        "framework": "numpyro", "model": model_name,
        "version": f"numpyro {numpyro.__version__}, jax {jax.__version__}",
        "chains": args.chains, "tune": args.tune, "draws": args.draws, "target_accept": target_accept,
        "wall_s": wall_s, "sampling_s": sampling_s,
        "compile_s": None if sampling_s is None else wall_s - sampling_s,
        **summary,
        "ess_per_s": summary["min_ess"] / wall_s,
        "ess_per_s_sampling": None if sampling_s is None else summary["min_ess"] / sampling_s,
        "divergences": divergences,
        "n_grad": n_grad, "grad_per_s": n_grad / wall_s,
        "grad_per_s_sampling": None if sampling_s is None else n_grad / sampling_s,
        "mean_steps": n_grad / (args.chains * args.draws),
        "step_size": float(np.median(step_size)),
        "dtype": str(posterior[FREE_VARS[model_name][0]].dtype),
        "total_s": time.perf_counter() - _T0,
    }


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
                   help="accepted for interface parity (there is no rerun here)")
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
