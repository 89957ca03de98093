"""Peer "floor": hand-written JAX + optax mean-field ADVI for the PyMC3 BNN tutorial.

Same workflow as the classic PyMC3 Bayesian neural network tutorial
(make_moons -> 2-5-5-1 tanh net -> mean-field ADVI -> 5,000 draws ->
500-draw posterior predictive on the test set), written directly in JAX
with no probabilistic-programming layer, so it is the speed floor the
frameworks can be compared against.

What exactly is computed (mirrors ``pm.fit(method="advi")``):

* flat parameter vector ``z`` of the 40 weights (w_in_1 (2,5), w_1_2 (5,5),
  w_2_out (5,)), variational parameters ``mu`` (init: the tutorial's initial
  values from ``np.random.default_rng(seed).standard_normal``) and ``rho``
  (init 0) with ``std = softplus(rho)``, exactly as PyMC's MeanField group;
* one reparameterised draw per step, ``z = mu + std * eps``, key
  ``jax.random.fold_in(key, step)``;
* loss = -(logp(z) + sum(log std) + d/2 * (1 + log 2 pi)) (negative ELBO with
  the analytic Gaussian entropy; gradient identical to PyMC's Monte Carlo
  ``logq`` term since ``eps`` does not depend on the parameters);
  logp = Normal(0, 1) priors + Bernoulli(sigmoid(net(X))) likelihood scaled by
  total_size / n_rows (= 1 here, full batch);
* PyMC's ``adagrad_window`` (lr 1e-3, n_win 10, epsilon 0.1) written by hand
  as an optax ``GradientTransformation``: ring buffer of the last ``n_win``
  squared gradients, update = -lr * g / sqrt(sum_window + eps);
* float32 throughout.

Timing: the fit is ``--chunks`` (default 10) calls of one jitted ``lax.scan``
chunk of ceil(n / chunks) steps (steps past n are masked to no-ops).  The
chunk function is compiled ahead of time (``jit(...).lower(...).compile()``);
that time is ``fit_compile_s``.  ``iters_per_s`` = iterations in chunks
2..K / wall time of chunks 2..K (each chunk blocked until ready), i.e. the
first executed chunk is excluded as warm-up.  ``fit_s`` = compile + all
chunks.

With ``CREDO_BENCH_NO_LIBRARY_DOTS=1`` every function is compiled with the
XLA option credo uses for small models (matrix products in XLA's own code
rather than a threaded library; see ``credo._config.compiler_options``), so
the floor can be compared with and without it.

Prints ONE JSON line on stdout at the end.
"""
import time

_T0 = time.perf_counter()  # process start (before heavy imports)

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
from functools import partial  # noqa: E402
import sys  # noqa: E402

import os  # noqa: E402

import numpy as np  # noqa: E402
from moons import load_data  # noqa: E402

# The option credo gives small models (credo._config.compiler_options), when asked for.
JIT_OPTIONS = ({"compiler_options": {"xla_cpu_experimental_ynn_fusion_type": ""}}
               if os.environ.get("CREDO_BENCH_NO_LIBRARY_DOTS") == "1" else {})

N_HIDDEN = 5
N_DRAWS = 5000
N_PPC = 500
SHAPES = (("w_in_1", (2, N_HIDDEN)), ("w_1_2", (N_HIDDEN, N_HIDDEN)), ("w_2_out", (N_HIDDEN,)))


def initial_values(seed):
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape) for name, shape in SHAPES}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=50_000, help="ADVI iterations")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true",
                   help="accepted for interface parity (this peer has no progress bar)")
    p.add_argument("--chunks", type=int, default=10, help="number of lax.scan chunks")
    return p.parse_args(argv)


def adagrad_window(learning_rate=1e-3, n_win=10, epsilon=0.1):
    """PyMC's ``pymc.variational.updates.adagrad_window`` as an optax transform."""
    import jax.numpy as jnp
    import optax

    def init_fn(params):
        accu = jnp.zeros((n_win,) + params.shape, params.dtype)
        return (accu, jnp.zeros((), jnp.int32))

    def update_fn(grads, state, params=None):
        accu, i = state
        accu = accu.at[i].set(grads * grads)
        i = jnp.where(i + 1 < n_win, i + 1, 0)
        updates = -learning_rate * grads / jnp.sqrt(accu.sum(axis=0) + epsilon)
        return updates, (accu, i)

    return optax.GradientTransformation(init_fn, update_fn)


def main(argv=None):
    args = parse_args(argv)

    import jax
    import jax.numpy as jnp
    import optax

    jax.config.update("jax_enable_x64", False)
    f32 = jnp.float32

    X_train, X_test, Y_train, Y_test = load_data()

    # ---------------------------------------------------------------- build
    t = time.perf_counter()
    init = initial_values(args.seed)
    sizes = [int(np.prod(s)) for _, s in SHAPES]
    D = sum(sizes)  # 40
    total_size = Y_train.shape[0]

    def unflatten(z):
        out, off = [], 0
        for (_, shape), size in zip(SHAPES, sizes):
            out.append(z[..., off:off + size].reshape(z.shape[:-1] + shape))
            off += size
        return out

    def logits(z, X):
        w1, w2, w3 = unflatten(z)
        a1 = jnp.tanh(X @ w1)
        a2 = jnp.tanh(a1 @ w2)
        return a2 @ w3

    def logp(z, X, y):
        prior = jnp.sum(-0.5 * z * z) - 0.5 * D * math.log(2 * math.pi)
        a = logits(z, X)
        lik = jnp.sum(y * jax.nn.log_sigmoid(a) + (1.0 - y) * jax.nn.log_sigmoid(-a))
        return prior + (total_size / X.shape[0]) * lik

    entropy_const = 0.5 * D * (1.0 + math.log(2 * math.pi))

    def neg_elbo(params, eps, X, y):
        mu, rho = params[:D], params[D:]
        std = jax.nn.softplus(rho)
        z = mu + std * eps
        return -(logp(z, X, y) + jnp.sum(jnp.log(std)) + entropy_const)

    opt = adagrad_window(learning_rate=1e-3, n_win=10, epsilon=0.1)
    mu0 = np.concatenate([init[name].ravel() for name, _ in SHAPES])
    params0 = jnp.asarray(np.concatenate([mu0, np.zeros(D)]), f32)
    opt_state0 = opt.init(params0)
    Xtr = jnp.asarray(X_train, f32)
    ytr = jnp.asarray(Y_train, f32)
    key = jax.random.PRNGKey(args.seed)
    n = int(args.n)
    n_chunks = max(1, min(int(args.chunks), n))
    chunk_len = -(-n // n_chunks)
    grad_fn = jax.value_and_grad(neg_elbo)

    def run_chunk(params, opt_state, start, X, y):
        def step(carry, i):
            params, opt_state = carry
            k = jax.random.fold_in(key, i)
            eps = jax.random.normal(k, (D,), f32)
            loss, g = grad_fn(params, eps, X, y)
            upd, new_state = opt.update(g, opt_state, params)
            new_params = optax.apply_updates(params, upd)
            live = i < n  # mask the padding steps of the last chunk
            params = jnp.where(live, new_params, params)
            opt_state = jax.tree_util.tree_map(lambda a, b: jnp.where(live, a, b),
                                               new_state, opt_state)
            return (params, opt_state), loss

        steps = start + jnp.arange(chunk_len, dtype=jnp.int32)
        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), steps)
        return params, opt_state, losses

    build_s = time.perf_counter() - t

    # ------------------------------------------------------------------ fit
    t_fit = time.perf_counter()
    compiled = jax.jit(run_chunk, **JIT_OPTIONS).lower(params0, opt_state0, jnp.int32(0), Xtr, ytr).compile()
    fit_compile_s = time.perf_counter() - t_fit
    params, opt_state = params0, opt_state0
    chunk_times, chunk_iters, losses = [], [], []
    for c in range(n_chunks):
        start = c * chunk_len
        if start >= n:
            break
        tc = time.perf_counter()
        params, opt_state, l = compiled(params, opt_state, jnp.int32(start), Xtr, ytr)
        params.block_until_ready()
        chunk_times.append(time.perf_counter() - tc)
        chunk_iters.append(min(chunk_len, n - start))
        losses.append(l)
    fit_s = time.perf_counter() - t_fit
    if len(chunk_times) > 1:
        iters_per_s = sum(chunk_iters[1:]) / sum(chunk_times[1:])
    else:  # single chunk: nothing to exclude
        iters_per_s = chunk_iters[0] / chunk_times[0]
    losses = np.concatenate([np.asarray(x) for x in losses])[:n]

    # --------------------------------------------------------------- sample
    t = time.perf_counter()

    @partial(jax.jit, **JIT_OPTIONS)
    def sample(params, k):
        mu, std = params[:D], jax.nn.softplus(params[D:])
        return mu + std * jax.random.normal(k, (N_DRAWS, D), f32)

    k_sample, k_ppc = jax.random.split(jax.random.fold_in(key, 2**30))
    draws = sample(params, k_sample).block_until_ready()
    sample_s = time.perf_counter() - t

    # ------------------------------------------------- posterior predictive
    t = time.perf_counter()
    Xte = jnp.asarray(X_test, f32)  # "swap the data for the test set"

    @partial(jax.jit, **JIT_OPTIONS)
    def predictive(z, X, k):
        p = jax.nn.sigmoid(jax.vmap(lambda zz: logits(zz, X))(z))
        return jax.random.bernoulli(k, p).astype(jnp.int8)

    ppc = np.asarray(predictive(draws[:N_PPC], Xte, k_ppc))  # first 500 of the iid draws
    predictive_s = time.perf_counter() - t

    pred = ppc.mean(axis=0) > 0.5
    accuracy = float((pred == Y_test).mean())
    total_s = time.perf_counter() - _T0

    result = {
        "framework": "jax_hand",
        "version": f"jax {jax.__version__}, optax {optax.__version__}",
        "n": n,
        "build_s": build_s,
        "fit_s": fit_s,
        "fit_compile_s": fit_compile_s,
        "iters_per_s": iters_per_s,
        "sample_s": sample_s,
        "predictive_s": predictive_s,
        "accuracy": accuracy,
        "total_s": total_s,
        "final_loss": float(np.mean(losses[-min(1000, n):])),
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
