"""Warm-up divergences of NUTS started as ``cr.sample`` starts it, against starts at Pathfinder draws.

For each model and each seed, 4 chains start either at the initial point jittered by uniform(-1, 1)
(``cr.sample``'s default, PyMC's ``jitter+adapt_diag``) or at Pareto-smoothed importance-resampled
draws of a 4-path Pathfinder mixture (``cr.sample(init="pathfinder")``, the same function), then run
BlackJAX's window adaptation (as ``cr.sample`` does, ``target_accept`` 0.8 for the tutorial, 0.9 for
eight schools) with the divergence of every warm-up step kept; then 1,000 draws with the adapted
parameters. The table sums over seeds and chains.

    PYTHONPATH=src python3 benchmarks/pathfinder_init.py [--seeds 5] [--tune 1000]

Models: non-centred eight schools and the tutorial's 2-5-5-1 network (``nuts_credo.py``).
``init_s`` is the median time to make the starts (Pathfinder: its fit, compile included in the
first seed, and the resampling). ``pathfinder+mass`` also runs NUTS in the space scaled by
Pathfinder's sds (an initial inverse mass matrix ``diag(sd**2)``), to see whether the warm-up's
divergences come from the start or from the adaptation.

Measured 2026-11-30 (2 shared cores, load 6-8; tune 1,000): eight schools, 20 chains: 128 / 133 / 126
warm-up divergences (jitter / pathfinder / pathfinder+mass), 0 after tuning; tutorial, 12 chains:
1,182 / 1,225 warm-up, 24 / 9 after tuning. The warm-up divergences sit at the first steps of the
slow windows (steps 101, 151, 251, 451, 951 of a 1,000-step warm-up), where the dual averaging
restarts from 10x the step size: the start does not change them.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
from nuts_common import TARGET_ACCEPT  # noqa: E402
from nuts_credo import build  # noqa: E402


def warmup_program(compiled, num_warmup: int, target_accept: float):
    """``run(keys, positions, data) -> (warm-up divergences, draw divergences)`` per chain."""
    import blackjax
    import jax
    from blackjax.adaptation.base import get_filter_adapt_info_fn

    def run(keys, positions, data, scale):
        # NUTS on z = x / scale: the same as an initial inverse mass matrix diag(scale**2).
        logdensity = lambda z: compiled.logdensity_fn(z * scale, data)  # noqa: E731
        adaptation = blackjax.window_adaptation(
            blackjax.nuts, logdensity, is_mass_matrix_diagonal=True, target_acceptance_rate=target_accept,
            adaptation_info_fn=get_filter_adapt_info_fn(info_keys={"is_divergent"}))
        kernel = blackjax.nuts.build_kernel()

        def one(key, position):
            warm_key, draw_key = jax.random.split(key)
            (state, parameters), info = adaptation.run(warm_key, position, num_steps=num_warmup)

            def step(state, step_key):
                state, step_info = kernel(step_key, state, logdensity, parameters["step_size"],
                                          parameters["inverse_mass_matrix"])
                return state, step_info.is_divergent

            _, divergent = jax.lax.scan(step, state, jax.random.split(draw_key, 1000))
            return info.info.is_divergent.sum(), divergent.sum()

        return jax.vmap(one)(keys, positions)

    return jax.jit(run)


def starts(model, init: str, chains: int, key):
    """``(positions, scale)``: the chains' starts and the scale of the space NUTS runs in."""
    from credo.inference.pathfinder_fit import pathfinder_initial_positions
    from credo.inference.sampling import _initial_positions

    import jax.numpy as jnp
    import credo as cr

    compiled = model.compile()
    data = dict(model.data_values)
    unit = jnp.ones(compiled.dim)
    if init == "pathfinder":
        return pathfinder_initial_positions(model, chains, key), unit
    if init == "pathfinder+mass":
        with model:
            approx = cr.fit(method="pathfinder", random_seed=key, progressbar=False)
        scale = jnp.asarray(approx.std_unconstrained)
        return pathfinder_initial_positions(model, chains, key) / scale, scale
    return _initial_positions(compiled, compiled.position_from_point(None), data, chains, key, True), unit


def main(argv=None):
    import jax

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["eight_schools", "tutorial"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--inits", nargs="+", default=["jitter+adapt_diag", "pathfinder", "pathfinder+mass"])
    args = parser.parse_args(argv)
    print("| model | init | warm-up divergences | divergences in 1,000 draws | chains | init_s |")
    print("|---|---|---:|---:|---:|---:|")
    for name in args.models:
        model = build(name, 0)
        compiled = model.compile()
        program = warmup_program(compiled, args.tune, TARGET_ACCEPT[name])
        for init in args.inits:
            warm, draws, times = 0, 0, []
            for seed in range(args.seeds):
                key = jax.random.key(seed)
                began = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    positions, scale = jax.block_until_ready(starts(model, init, args.chains, key))
                times.append(time.perf_counter() - began)
                w, d = program(jax.random.split(jax.random.fold_in(key, 1), args.chains), positions,
                               dict(model.data_values), scale)
                warm += int(np.sum(w))
                draws += int(np.sum(d))
            print(f"| {name} | {init} | {warm} | {draws} | {args.seeds * args.chains} | {np.median(times):.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
