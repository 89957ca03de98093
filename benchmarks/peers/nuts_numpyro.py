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

import sys  # noqa: E402

import numpy as np  # noqa: E402
from moons import load_data  # noqa: E402

from nuts_common import (  # noqa: E402
    FREE_VARS, SCHOOLS_SIGMA, SCHOOLS_Y, TARGET_ACCEPT, argument_parser, ess_summary, run_models,
)
N_HIDDEN = 5


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
    return argument_parser(__doc__.split("\n")[0], "accepted for interface parity (there is no rerun here)",
                           "accepted for interface parity (always off)").parse_args(argv)


def main(argv=None):
    return run_models(run_model, parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
