"""The networks of ``big_common.py`` in JAX: the hand-written floor and NumPyro SVI.

``floor``: mean-field ADVI written directly in JAX + optax, as one would by
hand: the variational parameters a pytree (a mean and a ``rho`` per weight
array, std = softplus(rho)), one reparameterised draw per step inside the
loss, Normal(0, 1) log prior, the categorical log likelihood of a minibatch
of 128 rows (drawn with replacement, scaled by rows / 128), the Gaussian
entropy in closed form, ``optax.adam(1e-3)``, ``lax.scan`` over a chunk of
steps compiled ahead of time. No guard against non-finite steps.

``floor_vjp`` (convolutional networks): the floor with the convolutions'
gradient written out in their own layout (:func:`same_conv`), as credo's
``cr.nn.conv2d`` does; JAX's own runs slowly inside a loop on the CPU.

``numpyro``: the same model with ``numpyro.sample`` per weight array and
``numpyro.plate(subsample_size=128)``, ``AutoNormal``, the same optax Adam,
fitted with its own ``svi.run(progress_bar=False)``.

Run as a worker: ``python big_jax.py floor|floor_vjp|numpyro NETWORK [--rounds R]``;
prints one JSON line (``framework, network, weights, compile_s, it_per_s,
peak_mb``).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import big_common as common  # noqa: E402


def same_conv(x, w):
    """A stride-1 'SAME' convolution (NHWC, HWIO) with its gradient written out in that layout.

    JAX's own gradient of ``lax.conv_general_dilated`` uses layouts that XLA
    on the CPU runs slowly inside a loop (see credo's ``cr.nn.conv2d``): the
    ``floor_vjp`` peer is the floor with this convolution, written here.
    """
    import jax
    import jax.numpy as jnp

    numbers = ("NHWC", "HWIO", "NHWC")
    pads = tuple(jax.lax.padtype_to_pads(x.shape[1:3], w.shape[:2], (1, 1), "SAME"))

    @jax.custom_vjp
    def conv(x, w):
        return jax.lax.conv_general_dilated(x, w, (1, 1), pads, dimension_numbers=numbers)

    def backward(residuals, cotangent):
        x, w = residuals
        kh, kw = w.shape[:2]
        flipped = jnp.transpose(jnp.flip(w, (0, 1)), (0, 1, 3, 2))
        back = [(kh - 1 - pads[0][0], pads[0][0]), (kw - 1 - pads[1][0], pads[1][0])]
        dx = jax.lax.conv_general_dilated(cotangent, flipped, (1, 1), back, dimension_numbers=numbers)
        kernel_pads = [(pads[0][0], kh - 1 - pads[0][0]), (pads[1][0], kw - 1 - pads[1][0])]
        dw = jax.lax.conv_general_dilated(jnp.transpose(x, (3, 1, 2, 0)), jnp.transpose(cotangent, (1, 2, 0, 3)),
                                          (1, 1), kernel_pads, dimension_numbers=numbers)
        return dx, jnp.transpose(dw, (1, 2, 0, 3))

    conv.defvjp(lambda x, w: (conv(x, w), (x, w)), backward)
    return conv(x, w)


def forward(name: str, weights: dict, x, conv_gradient: str = "jax"):
    """The network's logits for inputs ``x`` (rows first), with JAX.

    ``conv_gradient="written"`` uses :func:`same_conv` for the convolutions.
    """
    import jax
    import jax.numpy as jnp

    activations = {"tanh": jnp.tanh, "relu": jax.nn.relu, None: lambda z: z}
    for index, layer in enumerate(common.NETWORKS[name][1]):
        kind = layer[0]
        if kind == "dense":
            x = activations[layer[2]](x @ weights[f"layer{index}_w"] + weights[f"layer{index}_b"])
        elif kind == "conv":
            if conv_gradient == "written":
                x = same_conv(x, weights[f"layer{index}_w"])
            else:
                x = jax.lax.conv_general_dilated(x, weights[f"layer{index}_w"], (1, 1), "SAME",
                                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
            x = activations[layer[3]](x + weights[f"layer{index}_b"])
        elif kind == "maxpool":
            size = layer[1]
            x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, size, size, 1), (1, size, size, 1), "VALID")
        elif kind == "flatten":
            x = x.reshape(x.shape[0], -1)
    return x


def floor_chunk(name: str, steps: int, conv_gradient: str = "jax"):
    """``(run, params0, opt_state0)``: ``run(params, opt_state, start, X, y) -> (params, opt_state, losses)``."""
    import jax
    import jax.numpy as jnp
    import optax

    shapes = dict(common.weight_shapes(name))
    dim = common.num_weights(name)
    optimizer = optax.adam(common.LEARNING_RATE)
    key = jax.random.key(0)
    constant = 0.5 * dim * (1.0 + math.log(2 * math.pi))

    def log_density(weights, xb, yb):
        prior = sum(jnp.sum(-0.5 * w * w) for w in weights.values()) - 0.5 * dim * math.log(2 * math.pi)
        logits = forward(name, weights, xb, conv_gradient)
        likelihood = jnp.sum(jnp.take_along_axis(jax.nn.log_softmax(logits), yb[:, None], axis=1))
        return prior + (common.ROWS / common.BATCH) * likelihood

    def loss(params, noise_key, xb, yb):
        keys = dict(zip(shapes, jax.random.split(noise_key, len(shapes))))
        std = {k: jax.nn.softplus(params["rho"][k]) for k in shapes}
        weights = {k: params["mean"][k] + std[k] * jax.random.normal(keys[k], shapes[k]) for k in shapes}
        entropy = sum(jnp.sum(jnp.log(s)) for s in std.values()) + constant
        return -(log_density(weights, xb, yb) + entropy)

    def run(params, opt_state, start, X, y):
        def step(carry, index):
            params, opt_state = carry
            batch_key, noise_key = jax.random.split(jax.random.fold_in(key, index))
            rows = jax.random.randint(batch_key, (common.BATCH,), 0, X.shape[0])
            value, grads = jax.value_and_grad(loss)(params, noise_key, X[rows], y[rows])
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), value

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), start + jnp.arange(steps))
        return params, opt_state, losses

    means = {k: jnp.asarray(v) for k, v in common.initial_means(name).items()}
    params0 = {"mean": means, "rho": {k: jnp.zeros_like(v) for k, v in means.items()}}
    return run, params0, optimizer.init(params0)


class Floor:
    """The floor, compiled, with its state: ``chunk()`` runs one chunk of steps and returns its seconds."""

    def __init__(self, name: str, X, y, conv_gradient: str = "jax"):
        import jax
        import jax.numpy as jnp

        self.steps = common.NETWORKS[name][2]
        run, self.params, self.opt_state = floor_chunk(name, self.steps, conv_gradient)
        self.X, self.y = jnp.asarray(X), jnp.asarray(y)
        start = time.perf_counter()
        self.run = jax.jit(run).lower(self.params, self.opt_state, jnp.int32(0), self.X, self.y).compile()
        self.compile_s = time.perf_counter() - start
        self.done = 0

    def chunk(self) -> float:
        import jax
        import jax.numpy as jnp

        start = time.perf_counter()
        self.params, self.opt_state, losses = self.run(self.params, self.opt_state, jnp.int32(self.done), self.X,
                                                       self.y)
        jax.block_until_ready(losses)
        self.done += self.steps
        return time.perf_counter() - start


def run_floor(name: str, rounds: int, conv_gradient: str = "jax") -> dict:
    X, y = common.make_data(name)
    floor = Floor(name, X, y, conv_gradient)
    floor.chunk()  # warm-up
    times = [floor.chunk() for _ in range(rounds)]
    return {"compile_s": floor.compile_s, "it_per_s": floor.steps / statistics.median(times)}


def run_numpyro(name: str, rounds: int) -> dict:
    import jax
    import numpyro
    import numpyro.distributions as dist
    import optax
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoNormal
    from numpyro.infer.initialization import init_to_value

    X, y = common.make_data(name)
    shapes = common.weight_shapes(name)

    def model(X, y):
        weights = {var: numpyro.sample(var, dist.Normal(0.0, 1.0).expand(shape).to_event(len(shape)))
                   for var, shape in shapes}
        with numpyro.plate("data", X.shape[0], subsample_size=common.BATCH) as rows:
            numpyro.sample("y", dist.Categorical(logits=forward(name, weights, X[rows])), obs=y[rows])

    guide = AutoNormal(model, init_loc_fn=init_to_value(values=common.initial_means(name)))
    svi = SVI(model, guide, numpyro.optim.optax_to_numpyro(optax.adam(common.LEARNING_RATE)), Trace_ELBO())
    steps = common.NETWORKS[name][2]
    X, y = jax.numpy.asarray(X), jax.numpy.asarray(y)
    compiling = CompileClock()
    start = time.perf_counter()
    with compiling:
        state = svi.init(jax.random.key(0), X, y)
        jax.block_until_ready(state)
    init_s = time.perf_counter() - start

    # every svi.run traces and compiles its loop again: JAX reports how long that takes, the rest is steps
    rates, compiles = [], []
    for round_index in range(rounds + 1):
        compiling.seconds = 0.0
        start = time.perf_counter()
        with compiling:
            result = svi.run(jax.random.key(round_index), steps, X, y, progress_bar=False, init_state=state)
            jax.block_until_ready(result.losses)
        elapsed = time.perf_counter() - start
        state = result.state
        if round_index:  # the first run is the warm-up
            rates.append(steps / (elapsed - compiling.seconds))
            compiles.append(compiling.seconds)
    return {"compile_s": init_s + statistics.median(compiles), "it_per_s": statistics.median(rates),
            "version": numpyro.__version__}


class CompileClock:
    """Within ``with clock:``, adds up the seconds JAX reports spending on tracing, lowering and compiling."""

    EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
              "/jax/core/compile/backend_compile_duration")

    def __init__(self):
        import jax

        self.seconds, self.active = 0.0, False
        jax.monitoring.register_event_duration_secs_listener(self._record)

    def _record(self, event, duration, **kwargs):
        if self.active and event in self.EVENTS:
            self.seconds += duration

    def __enter__(self):
        self.active = True
        return self

    def __exit__(self, *exc):
        self.active = False


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("framework", choices=["floor", "floor_vjp", "numpyro"])
    parser.add_argument("network", choices=list(common.NETWORKS))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    if args.framework == "numpyro":
        result = run_numpyro(args.network, args.rounds)
    else:
        result = run_floor(args.network, args.rounds, "written" if args.framework == "floor_vjp" else "jax")
    result.update(framework=args.framework, network=args.network, weights=common.num_weights(args.network),
                  peak_mb=common.peak_memory_mb())
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
