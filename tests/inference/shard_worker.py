"""Runs of credo on several (simulated) devices and processes, for tests/inference/test_sharding.py.

Each scenario runs in its own process, started by the tests with
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` in its environment
(JAX reads the flag once, when it is imported), and writes what it measured
to a JSON file: the tests compare. Usage::

    python shard_worker.py SCENARIO OUT.json [ARGS...]
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time
import warnings

import numpy as np

warnings.simplefilter("ignore")


def regression_data(n: int, seed: int = 0, features: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5][:features]) + 0.5 * rng.normal(size=n)).astype(np.float32)
    return x, y


def regression_model(x, y):
    import credo as cr

    with cr.Model() as model:
        data = cr.Data("x", x)
        w = cr.Normal("w", 0, 1, shape=x.shape[1])
        s = cr.HalfNormal("s", 1)
        mu = cr.Deterministic("mu", data @ w)
        cr.Normal("y", mu, s, observed=y)
    return model


def minibatch_model(x, y, batch_size: int, stream=None):
    import credo as cr

    with cr.Model() as model:
        xb, yb = cr.Minibatch(x, y, batch_size=batch_size, random_seed=3, stream=stream)
        w = cr.Normal("w", 0, 1, shape=x.shape[1])
        s = cr.HalfNormal("s", 1)
        cr.Normal("y", xb @ w, s, observed=yb, total_size=len(y))
    return model


def spec_str(sharding) -> str:
    return str(getattr(sharding, "spec", sharding))


def relative(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / (np.abs(b) + 1.0)))


# -- one host, four devices -------------------------------------------------------------------------------------
def scenario_full_batch(out: dict) -> None:
    """ADVI, draws, predictive, log-likelihood and MAP on 103 rows: 1 device against 4."""
    import credo as cr
    import jax
    from scipy import stats

    from credo.inference.programs import LBFGS, ADVIChunk
    from credo.model.placement import ROW_MASK

    x, y = regression_data(103)
    out["devices"] = jax.device_count()
    results = {}
    for devices in (1, 4):
        model = regression_model(x, y)
        with model:
            approx = cr.fit(1500, random_seed=0, progressbar=False, devices=devices)
            idata = approx.sample(50, random_seed=1)
            point = cr.find_MAP(devices=devices)
        results[devices] = (model, approx, idata, point)
    (m1, a1, i1, p1), (m4, a4, i4, p4) = results[1], results[4]
    out["hist_relative"] = relative(a4.hist, a1.hist)
    out["mean_w_difference"] = float(np.max(np.abs(a4.mean["w"] - a1.mean["w"])))
    out["draws_mu_relative"] = relative(i4.posterior["mu"], i1.posterior["mu"])
    out["draws_mu_shape"] = list(i4.posterior["mu"].shape)
    out["map_relative"] = relative(p4["w"], p1["w"])
    out["map_mu_shape"] = list(np.shape(p4["mu"]))
    out["approx_devices"] = a4.devices
    out["idata_attrs"] = {key: i4.posterior.attrs[key] for key in ("devices", "processes", "device_platform")}
    # the same posterior draws through the 1- and 4-device predictive and log-likelihood programs
    for devices, model in ((1, m1), (4, m4)):
        with model:
            ppc = cr.sample_posterior_predictive(i1, random_seed=2, devices=devices)
            ll = cr.compute_log_likelihood(i1, devices=devices, extend_inferencedata=False)
        results[devices] = results[devices] + (ppc.posterior_predictive["y"].values, ll["y"].values)
    out["ppc_relative"] = relative(results[4][4], results[1][4])
    out["ppc_shape"] = list(results[4][4].shape)
    out["ll_relative"] = relative(results[4][5], results[1][5])
    out["ll_shape"] = list(results[4][5].shape)
    # where the rows are: the placed data, and the compiled chunk's own input shardings
    placed = m4.placed_data(a4.placement)
    out["placed"] = {name: {"shape": list(value.shape), "spec": spec_str(value.sharding),
                            "shard_rows": sorted({shard.data.shape[0] if shard.data.ndim else 0
                                                  for shard in value.addressable_shards})}
                     for name, value in placed.arrays.items()}
    out["real_rows"] = int(np.asarray(placed.arrays[ROW_MASK]).sum())
    compiled = m4.compile()
    chunk = next(spec for spec in compiled.programs.specs() if isinstance(spec, ADVIChunk))
    program = compiled.programs.get(chunk, compiled)
    search = next(spec for spec in compiled.programs.specs() if isinstance(spec, LBFGS))
    out["compiles"] = {"chunk": program._cache_size(),
                       "map": compiled.programs.get(search, compiled).advance._cache_size()}
    lowered = program.lower(a4.state, np.bool_(True), a4.key, placed.arrays, np.int32(1)).compile()
    state_shardings, _, _, data_shardings, _ = lowered.input_shardings[0]
    out["compiled_data_specs"] = {name: spec_str(sharding) for name, sharding in data_shardings.items()}
    out["compiled_state_specs"] = sorted({spec_str(s) for s in jax.tree_util.tree_leaves(state_shardings)})
    # padded rows add nothing: give them absurd values, the log density and its gradient do not move
    position = np.asarray(a1.mean_unconstrained)
    arrays = dict(placed.arrays)
    absurd = np.asarray(arrays["y"]).copy()
    absurd[103:] = 1e6
    arrays["y"] = jax.device_put(absurd, arrays["y"].sharding)
    value4, grad4 = jax.jit(jax.value_and_grad(compiled.logdensity_fn))(position, arrays)
    value1, grad1 = jax.jit(jax.value_and_grad(m1.compile().logdensity_fn))(position, m1.data_values)
    w, log_s = position[:3], position[3]
    by_hand = (stats.norm.logpdf(w).sum() + stats.halfnorm.logpdf(np.exp(log_s)) + log_s
               + stats.norm.logpdf(y, x @ w, np.exp(log_s)).sum())
    out["logdensity"] = [float(value4), float(value1), float(by_hand)]
    out["gradient_relative"] = relative(grad4, grad1)


def scenario_minibatch(out: dict) -> None:
    """Minibatch ADVI in the device and streamed from a memmap, 1 device against 4; the estimators."""
    import tempfile

    import credo as cr
    from credo.model.sources import StreamedRows
    from credo.nn import BNNRegressor

    x, y = regression_data(1003)
    hists = {}
    for batch in (64, 30):
        for devices in (1, 4):
            with minibatch_model(x, y, batch):
                hists[batch, devices] = cr.fit(1000, random_seed=0, progressbar=False, devices=devices).hist
        out[f"minibatch{batch}_relative"] = relative(hists[batch, 4], hists[batch, 1])
    folder = tempfile.mkdtemp()
    np.save(os.path.join(folder, "x.npy"), x)
    np.save(os.path.join(folder, "y.npy"), y)
    xm = np.load(os.path.join(folder, "x.npy"), mmap_mode="r")
    ym = np.load(os.path.join(folder, "y.npy"), mmap_mode="r")
    streamed = {}
    for devices in (1, 4):
        model = minibatch_model(xm, ym, 64, stream=True)
        out["streamed_type"] = type(model.data_values["minibatch0_0"]).__name__
        with model:
            streamed[devices] = cr.fit(1000, random_seed=0, progressbar=False, devices=devices).hist
    out["streamed_vs_device_1"] = float(np.max(np.abs(streamed[1] - hists[64, 1])))
    out["streamed_vs_device_4"] = float(np.max(np.abs(streamed[4] - hists[64, 4])))
    # a reader slowed at random: the batches arrive late, the fit is the same
    read, rng = StreamedRows.read, np.random.default_rng(0)

    def slow_read(self, index):
        time.sleep(rng.uniform(0, 0.02))
        return read(self, index)

    StreamedRows.read = slow_read
    try:
        with minibatch_model(xm, ym, 64, stream=True):
            slow = cr.fit(1000, random_seed=0, progressbar=False, devices=4).hist
    finally:
        StreamedRows.read = read
    out["slow_reader_difference"] = float(np.max(np.abs(slow - streamed[4])))
    predictions = {}
    for devices in (1, 4):
        estimator = BNNRegressor(hidden_layer_sizes=(8,), n_iter=300, draws=50, random_state=0, devices=devices)
        predictions[devices] = estimator.fit(x[:201], y[:201]).predict(x[:37])
    out["estimator_relative"] = relative(predictions[4], predictions[1])


def scenario_nuts(out: dict) -> None:
    """NUTS on 4 devices against 1: the same posterior (statistically: float sums reorder the chains)."""
    import arviz as az
    import credo as cr

    x, y = regression_data(101)
    for devices in (1, 4):
        with regression_model(x, y):
            idata = cr.sample(400, tune=300, chains=2, random_seed=0, progressbar=False, devices=devices)
        posterior = idata.posterior["w"]
        out[f"mean{devices}"] = posterior.mean(("chain", "draw")).values.tolist()
        out[f"mcse{devices}"] = az.mcse(idata, var_names=["w"])["w"].values.tolist()
        out[f"first{devices}"] = posterior.values[0, :5].tolist()
        out[f"mu_shape{devices}"] = list(idata.posterior["mu"].shape)
        out[f"attrs{devices}"] = int(idata.posterior.attrs["devices"])


def scenario_memmap(out: dict, size_mb: str = "192", steps: str = "3000") -> None:
    """A memmap four times larger than the device memory the test allows trains, and memory stays flat."""
    import tempfile

    import credo as cr

    features, rows_per_block = 32, 1 << 15
    rows = int(size_mb) * (1 << 20) // (4 * (features + 1))
    folder = tempfile.mkdtemp()
    x = np.lib.format.open_memmap(os.path.join(folder, "x.npy"), "w+", np.float32, (rows, features))
    y = np.lib.format.open_memmap(os.path.join(folder, "y.npy"), "w+", np.float32, (rows,))
    weights = np.random.default_rng(1).normal(size=features).astype(np.float32)
    for start in range(0, rows, rows_per_block):  # written a block at a time: never whole in memory
        block = np.random.default_rng(start).normal(size=(min(rows_per_block, rows - start), features))
        x[start: start + len(block)] = block
        y[start: start + len(block)] = block @ weights
    x.flush(), y.flush()
    del x, y
    x = np.load(os.path.join(folder, "x.npy"), mmap_mode="r")
    y = np.load(os.path.join(folder, "y.npy"), mmap_mode="r")
    allowed = (x.nbytes + y.nbytes) // 4
    cr.config(minibatch_device_bytes=allowed)
    out["file_bytes"], out["allowed_bytes"] = int(x.nbytes + y.nbytes), int(allowed)
    with cr.Model() as model:
        xb, yb = cr.Minibatch(x, y, batch_size=512, random_seed=0)
        w = cr.Normal("w", 0, 1, shape=features)
        cr.Normal("y", xb @ w, 0.1, observed=yb, total_size=rows)
        out["streamed"] = type(model.data_values[xb.name]).__name__
        approx = cr.fit(200, random_seed=0, progressbar=False, obj_optimizer=cr.adagrad_window(0.05))  # compiles
        base = anonymous_memory()
        peak = [base]
        running = True

        def watch():
            while running:
                peak[0] = max(peak[0], anonymous_memory())
                time.sleep(0.01)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        began = time.perf_counter()
        approx = approx.refine(int(steps), progressbar=False)
        seconds = time.perf_counter() - began
        running = False
        watcher.join()
    out["anonymous_growth_bytes"] = int(peak[0] - base)
    out["batches_per_second"] = int(steps) / seconds
    out["first_loss"], out["last_loss"] = float(np.mean(approx.hist[:100])), float(np.mean(approx.hist[-100:]))
    out["weight_error"] = float(np.max(np.abs(approx.mean["w"] - weights)))


def anonymous_memory() -> int:
    """This process's anonymous resident memory (what it allocated itself, not the files it maps), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


# -- two processes ------------------------------------------------------------------------------------------------
def scenario_process(out: dict, process: str, port: str, folder: str) -> None:
    """One of two processes on 127.0.0.1 (gloo), each holding its rows of the data (51 and 50 of 101)."""
    import jax
    from jax._src.lib import _jax

    process = int(process)
    # gloo and the coordinator listen on the loopback only
    _jax.make_gloo_tcp_collectives = functools.partial(_jax.make_gloo_tcp_collectives, hostname="127.0.0.1")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=2, process_id=process,
                               coordinator_bind_address=f"127.0.0.1:{port}", initialization_timeout=60)
    import credo as cr

    cr.config(diagnose_draws=0)
    x, y = regression_data(101)
    mine = slice(0, 51) if process == 0 else slice(51, 101)
    with cr.Model():
        data = cr.Data("x", cr.distributed.rows(x[mine]))
        w = cr.Normal("w", 0, 1, shape=3)
        s = cr.HalfNormal("s", 1)
        mu = cr.Deterministic("mu", data @ w)
        cr.Normal("y", mu, s, observed=cr.distributed.rows(y[mine]))
        approx = cr.fit(1500, random_seed=0, progressbar=False,
                        checkpoint=os.path.join(folder, f"checkpoint-{process}.npz"), checkpoint_every=500)
        approx.save(os.path.join(folder, f"fit-{process}.npz"))
        idata = approx.sample(50, random_seed=1)
        ppc = cr.sample_posterior_predictive(idata, random_seed=2)
        point = cr.find_MAP()
    with cr.Model():  # minibatches of the rows spread over the processes
        xb, yb = cr.Minibatch(cr.distributed.rows(x[mine]), cr.distributed.rows(y[mine]), batch_size=16,
                              random_seed=3)
        w = cr.Normal("w", 0, 1, shape=3)
        cr.Normal("y", xb @ w, cr.HalfNormal("s", 1), observed=yb, total_size=101)
        out["minibatch_hist"] = cr.fit(500, random_seed=0, progressbar=False).hist.tolist()
    report(out, approx, idata, ppc, point)
    out["devices"] = approx.devices


def scenario_reference(out: dict) -> None:
    """The single-process run of :func:`scenario_process` on all 101 rows, one device."""
    import credo as cr

    x, y = regression_data(101)
    with regression_model(x, y):
        approx = cr.fit(1500, random_seed=0, progressbar=False)
        idata = approx.sample(50, random_seed=1)
        ppc = cr.sample_posterior_predictive(idata, random_seed=2)
        point = cr.find_MAP()
    with minibatch_model(x, y, 16):
        out["minibatch_hist"] = cr.fit(500, random_seed=0, progressbar=False).hist.tolist()
    report(out, approx, idata, ppc, point)


def report(out: dict, approx, idata, ppc, point) -> None:
    out["hist"] = approx.hist.tolist()
    out["mean_w"] = approx.mean["w"].tolist()
    out["mu"] = idata.posterior["mu"].values.tolist()
    out["ppc"] = ppc.posterior_predictive["y"].values.tolist()
    out["map_w"] = np.asarray(point["w"]).tolist()


SCENARIOS = {"full_batch": scenario_full_batch, "minibatch": scenario_minibatch, "nuts": scenario_nuts,
             "memmap": scenario_memmap, "process": scenario_process, "reference": scenario_reference}

if __name__ == "__main__":
    name, path, *args = sys.argv[1:]
    if name != "process":  # (the processes import credo after jax.distributed.initialize)
        import credo

        credo.config(diagnose_draws=0)  # the k-hat verdict is not what these scenarios check: one compile less
    result: dict = {}
    SCENARIOS[name](result, *args)
    with open(path, "w") as handle:
        json.dump(result, handle)
