"""Peer: the PyMC3 Bayesian neural network tutorial in NumPyro (SVI + AutoNormal).

Workflow: make_moons(noise=0.2, random_state=0, n_samples=1000), scale,
train_test_split(test_size=0.5, random_state=0); 2-5-5-1 tanh network with
Normal(0, 1) weights; Bernoulli(sigmoid(.)) likelihood scaled by
total_size / n_rows (total_size = training rows, so 1 here);
mean-field ADVI = ``SVI(model, AutoNormal(model), optim, Trace_ELBO())`` run
with ``svi.run(key, n, ..., progress_bar=False)`` (one ``lax.scan``);
``Predictive(guide, params, num_samples=5000)`` for the guide draws and
``Predictive(model, first 500 draws)`` on the test set; accuracy =
mean((ppc mean > 0.5) == y_test).

Matching PyMC's ``pm.fit(method="advi")``:

* AutoNormal's loc starts at the tutorial's initial values
  (``np.random.default_rng(seed).standard_normal``, via ``init_to_value``),
  its scale at softplus(0) = log 2 (AutoNormal parameterises the scale through
  softplus, so this is PyMC's rho = 0 start); one particle per step.
* Optimiser (``--optimizer``):
  - ``window`` (default): PyMC's ``adagrad_window`` (lr 1e-3, n_win 10,
    epsilon 0.1) written as an optax ``GradientTransformation`` and wrapped
    with ``numpyro.optim.optax_to_numpyro``: the same update rule as PyMC and
    the jax_hand peer, so accuracy/loss are comparable.
  - ``adagrad``: ``numpyro.optim.Adagrad(step_size=--lr)`` (JAX's
    example_libraries adagrad: accumulates *all* squared gradients and adds
    momentum 0.9). With --lr 1e-3 it barely moves in 50k steps; it is here
    only for reference.

Timing: ``fit_s`` is the wall time of the one cold ``svi.run(n)`` call (guide
setup/``svi.init`` with its eager ops, tracing, XLA compile of the scan, and
n steps).  ``svi.run`` builds a fresh scan closure each call, so JAX
recompiles it every time and its compile cannot be separated from inside the
call; compile and steady state are therefore measured by a probe run *after*
the prediction step (so outside ``total_s``): the same ``lax.scan`` of
``svi.update`` that ``svi.run(progress_bar=False)`` executes, over n steps
from the fitted state, compiled ahead of time with
``jax.jit(...).lower(state).compile()``.  ``fit_compile_s`` = that compile
time (in an already warm process, so it excludes the one-time eager-op
compiles of ``svi.init`` that ``fit_s`` contains), ``iters_per_s`` = n / the
execution time of the compiled scan.  ``--no-probe`` skips it (both null).

Prints ONE JSON line on stdout at the end.
"""
import time

_T0 = time.perf_counter()  # process start (before heavy imports)

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
from moons import load_data  # noqa: E402

N_HIDDEN = 5
N_DRAWS = 5000
N_PPC = 500


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=50_000, help="SVI steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true",
                   help="accepted for interface parity (svi.run always uses progress_bar=False)")
    p.add_argument("--optimizer", choices=("window", "adagrad"), default="window")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--no-probe", action="store_true",
                   help="skip the compile / steady-state probe")
    return p.parse_args(argv)


def adagrad_window(learning_rate=1e-3, n_win=10, epsilon=0.1):
    """PyMC's ``pymc.variational.updates.adagrad_window`` as an optax transform."""
    import jax
    import jax.numpy as jnp
    import optax

    def init_fn(params):
        accu = jax.tree_util.tree_map(lambda p: jnp.zeros((n_win,) + jnp.shape(p), p.dtype), params)
        return (accu, jnp.zeros((), jnp.int32))

    def update_fn(grads, state, params=None):
        accu, i = state
        accu = jax.tree_util.tree_map(lambda a, g: a.at[i].set(g * g), accu, grads)
        updates = jax.tree_util.tree_map(
            lambda a, g: -learning_rate * g / jnp.sqrt(a.sum(axis=0) + epsilon), accu, grads)
        return updates, (accu, jnp.where(i + 1 < n_win, i + 1, 0))

    return optax.GradientTransformation(init_fn, update_fn)


def main(argv=None):
    args = parse_args(argv)

    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    import optax
    from numpyro.infer import SVI, Predictive, Trace_ELBO
    from numpyro.infer.autoguide import AutoNormal
    from numpyro.infer.initialization import init_to_value

    X_train, X_test, Y_train, Y_test = load_data()
    f32 = jnp.float32

    # ---------------------------------------------------------------- build
    t = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    init = {
        "w_in_1": rng.standard_normal((X_train.shape[1], N_HIDDEN)),
        "w_1_2": rng.standard_normal((N_HIDDEN, N_HIDDEN)),
        "w_2_out": rng.standard_normal(N_HIDDEN),
    }
    total_size = Y_train.shape[0]

    def model(X, y=None):
        w1 = numpyro.sample("w_in_1", dist.Normal(0.0, 1.0).expand([X.shape[1], N_HIDDEN]).to_event(2))
        w2 = numpyro.sample("w_1_2", dist.Normal(0.0, 1.0).expand([N_HIDDEN, N_HIDDEN]).to_event(2))
        w3 = numpyro.sample("w_2_out", dist.Normal(0.0, 1.0).expand([N_HIDDEN]).to_event(1))
        act_1 = jnp.tanh(X @ w1)
        act_2 = jnp.tanh(act_1 @ w2)
        logits = act_2 @ w3  # Bernoulli(sigmoid(logits)), computed stably
        with numpyro.plate("data", X.shape[0]), \
                numpyro.handlers.scale(scale=total_size / X.shape[0]):
            numpyro.sample("out", dist.Bernoulli(logits=logits), obs=y)

    guide = AutoNormal(model,
                       init_loc_fn=init_to_value(values={k: jnp.asarray(v, f32) for k, v in init.items()}),
                       init_scale=math.log(2.0))  # softplus(0): PyMC's rho = 0
    if args.optimizer == "window":
        optim = numpyro.optim.optax_to_numpyro(adagrad_window(args.lr, 10, 0.1))
        optim_desc = f"adagrad_window(lr={args.lr}, n_win=10, eps=0.1) via optax_to_numpyro"
    else:
        optim = numpyro.optim.Adagrad(step_size=args.lr)
        optim_desc = f"numpyro.optim.Adagrad(step_size={args.lr})"
    svi = SVI(model, guide, optim, Trace_ELBO())
    Xtr = jnp.asarray(X_train, f32)
    ytr = jnp.asarray(Y_train, f32)
    Xte = jnp.asarray(X_test, f32)
    key = jax.random.PRNGKey(args.seed)
    k_fit, k_sample, k_ppc = jax.random.split(key, 3)
    build_s = time.perf_counter() - t

    # ------------------------------------------------------------------ fit
    t = time.perf_counter()
    res = svi.run(k_fit, args.n, Xtr, ytr, progress_bar=False)
    jax.block_until_ready(res.params)
    fit_s = time.perf_counter() - t
    losses = np.asarray(res.losses)

    # --------------------------------------------------------------- sample
    t = time.perf_counter()
    draws = Predictive(guide, params=res.params, num_samples=N_DRAWS)(k_sample, Xtr)
    draws = {k: v for k, v in draws.items() if k in init}
    jax.block_until_ready(draws)
    sample_s = time.perf_counter() - t

    # ------------------------------------------------- posterior predictive
    t = time.perf_counter()
    subset = {k: v[:N_PPC] for k, v in draws.items()}  # 500 of the iid draws
    ppc = Predictive(model, posterior_samples=subset, return_sites=["out"])(k_ppc, Xte)
    out = np.asarray(ppc["out"])
    predictive_s = time.perf_counter() - t

    pred = out.mean(axis=0) > 0.5
    accuracy = float((pred == Y_test).mean())
    total_s = time.perf_counter() - _T0

    # ---------------------------------------- compile / steady-state probe
    fit_compile_s = iters_per_s = None
    if not args.no_probe:
        # exactly the scan svi.run(progress_bar=False) executes, but compiled
        # ahead of time once so that execution can be timed on its own
        def scan_n(state):
            def body_fn(svi_state, _):
                return svi.update(svi_state, Xtr, ytr)
            return jax.lax.scan(body_fn, state, None, length=args.n)

        t = time.perf_counter()
        compiled = jax.jit(scan_n).lower(res.state).compile()
        fit_compile_s = time.perf_counter() - t
        t = time.perf_counter()
        jax.block_until_ready(compiled(res.state))
        iters_per_s = args.n / (time.perf_counter() - t)

    result = {
        "framework": "numpyro",
        "version": f"numpyro {numpyro.__version__}, jax {jax.__version__}, optax {optax.__version__}",
        "n": int(args.n),
        "build_s": build_s,
        "fit_s": fit_s,
        "fit_compile_s": fit_compile_s,
        "iters_per_s": iters_per_s,
        "sample_s": sample_s,
        "predictive_s": predictive_s,
        "accuracy": accuracy,
        "total_s": total_s,
        "final_loss": float(np.mean(losses[-min(1000, len(losses)):])),
        "optimizer": optim_desc,
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
