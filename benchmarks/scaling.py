"""Scale-out: ADVI of a Bayesian MLP on 1 and N devices, full-batch and minibatch, rows 10^4 to 10^7;
minibatches streamed from a memmap on disk against slicing in the device.

Each configuration runs in a fresh process with
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` (JAX reads it once), fits
a regression MLP (32 inputs, one hidden layer of 64 tanh units: 2,177
weights) to synthetic rows, and reports

- ``it/s``: ADVI steps per second after compiling (a timed ``refine`` of
  about ``--seconds`` seconds);
- ``compile s``: the first call (compile and first steps);
- ``peak MB``: the process's peak resident memory (``ru_maxrss``), which
  includes the data set held on the host, JAX itself and, for a memmap, the
  file's pages mapped in the page cache (they count as resident, but the
  kernel can drop them); ``anonymous MB after``: the memory the process
  allocated itself (``RssAnon``), after the timed fit.

The streaming table writes ``rows x 32`` float32 rows to a memmap in a temp
folder and fits with ``cr.Minibatch(..., stream=True)`` (rows read by a
background thread, see :mod:`credo.inference.streaming`) and with
``stream=False`` (the memmap loaded once, batches sliced in the device).

Simulated CPU devices share the machine's cores: on a 2-core machine, 4
"devices" compute no faster than 1; the table shows the overhead of
sharding and that it runs, not speedup. On real accelerators
(``benchmarks/gpu.sh``) every device adds its own compute and memory.

Usage::

    python benchmarks/scaling.py [--rows 1e4 1e5 1e6 1e7] [--devices 1 4] [--full-max 1e6] [--seconds 3]
                                 [--stream-rows 1e6] [--json out.json]
    python benchmarks/scaling.py --platform default --devices 1 8   # 1 and 8 real devices (GPUs)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date

FEATURES = 32
HIDDEN = 64
BATCH = 512


def synthetic(rows: int, seed: int = 0):
    """``rows`` synthetic regression rows (float32), made a block at a time."""
    import numpy as np

    rng = np.random.default_rng(seed)
    weights = rng.normal(size=FEATURES).astype(np.float32) / np.sqrt(FEATURES)
    x = np.empty((rows, FEATURES), np.float32)
    for start in range(0, rows, 1 << 20):
        x[start: start + (1 << 20)] = rng.standard_normal((min(1 << 20, rows - start), FEATURES), np.float32)
    y = np.tanh(x @ weights) + np.float32(0.1) * rng.standard_normal(rows, np.float32)
    return x, y.astype(np.float32)


def build(x, y, batch: int | None, stream=None):
    import credo as cr

    with cr.Model() as model:
        if batch is None:
            xd, yd, total = cr.Data("x", x), y, None
        else:
            xd, yd = cr.Minibatch(x, y, batch_size=batch, random_seed=0, stream=stream)
            total = len(y)
        mean = cr.nn.mlp("net", xd, hidden=(HIDDEN,), activation="tanh", prior_sigma=1.0)
        cr.Normal("y", mean, 0.1, observed=yd, total_size=total)
    return model


def timed_fit(model, devices, seconds: float) -> dict:
    """Compile (a 10-step fit), then steps per second over about ``seconds``."""
    import credo as cr

    with model:
        began = time.perf_counter()
        approx = cr.fit(10, random_seed=0, progressbar=False, devices=devices)
        compile_s = time.perf_counter() - began
        steps, elapsed = 10, 0.0
        while elapsed < seconds:  # grow the timed run until it lasts `seconds`
            began = time.perf_counter()
            approx = approx.refine(steps, progressbar=False)
            elapsed = time.perf_counter() - began
            if elapsed < seconds:
                steps = int(min(steps * 4, max(steps * 1.2, steps * seconds / max(elapsed, 1e-3) * 1.1)))
    return {"compile_s": compile_s, "it_per_s": steps / elapsed, "steps": steps, "loss": float(approx.hist[-1])}


def child_scaling(args) -> dict:
    import jax

    x, y = synthetic(args.rows)
    devices = min(args.use_devices, jax.device_count())
    result = timed_fit(build(x, y, None if args.mode == "full" else BATCH), devices, args.seconds)
    result["platform"] = jax.devices()[0].platform
    result["devices"] = devices
    return result


def child_stream(args) -> dict:
    import numpy as np

    folder = tempfile.mkdtemp()
    rows = args.rows
    x = np.lib.format.open_memmap(os.path.join(folder, "x.npy"), "w+", np.float32, (rows, FEATURES))
    y = np.lib.format.open_memmap(os.path.join(folder, "y.npy"), "w+", np.float32, (rows,))
    for start in range(0, rows, 1 << 18):
        bx, by = synthetic(min(1 << 18, rows - start), seed=start)
        x[start: start + len(bx)], y[start: start + len(by)] = bx, by
    x.flush(), y.flush()
    del x, y
    x = np.load(os.path.join(folder, "x.npy"), mmap_mode="r")
    y = np.load(os.path.join(folder, "y.npy"), mmap_mode="r")
    result = timed_fit(build(x, y, BATCH, stream=args.mode == "stream"), 1, args.seconds)
    for name in ("x.npy", "y.npy"):
        os.remove(os.path.join(folder, name))
    return result


def child(args) -> None:
    import warnings

    import credo as cr

    warnings.simplefilter("ignore")
    cr.config(diagnose_draws=0)  # the k-hat verdict evaluates every row at 256 draws: not what is timed here
    result = child_stream(args) if args.mode in ("stream", "device") else child_scaling(args)
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["anon_mb"] = anonymous_mb()
    print("RESULT " + json.dumps(result), flush=True)


def anonymous_mb() -> float:
    """The process's anonymous resident memory now (what it allocated, not the file pages it maps), in MB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def run_child(mode: str, rows: int, devices: int, seconds: float, platform_name: str) -> dict:
    env = dict(os.environ)
    if platform_name == "cpu":  # simulated devices
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={devices}").strip()
        env["JAX_PLATFORMS"] = "cpu"
    command = [sys.executable, __file__, "--child", mode, "--rows", str(rows), "--seconds", str(seconds),
               "--use-devices", str(devices)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr or done.stdout)[-400:].strip().splitlines()[-1:]}
    return json.loads(lines[-1][len("RESULT "):])


def _rows(text: str) -> int:
    return int(float(text))


def _cell(result: dict, key: str, fmt: str) -> str:
    return "error" if "error" in result else format(result[key], fmt)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="*", type=_rows, default=[10**4, 10**5, 10**6, 10**7])
    parser.add_argument("--devices", nargs="*", type=int, default=[1, 4])
    parser.add_argument("--full-max", type=_rows, default=10**6, help="largest row count fitted full-batch")
    parser.add_argument("--stream-rows", nargs="*", type=_rows, default=[10**6])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--platform", choices=["cpu", "default"], default="cpu",
                        help="cpu: simulated CPU devices (default); default: the devices JAX finds (GPUs)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--use-devices", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.mode = args.child
        args.rows = args.rows[0]
        child(args)
        return 0
    print(f"# {date.today()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"batch {BATCH}, MLP {FEATURES}-{HIDDEN}-1 (tanh), about {args.seconds:g} s timed per cell\n")
    results = {"scaling": [], "stream": []}
    print("| rows | mode | devices | it/s | compile s | peak MB |\n|---:|---|---:|---:|---:|---:|")
    for rows in args.rows:
        for mode in ("full", "minibatch"):
            if mode == "full" and rows > args.full_max:
                continue
            for devices in sorted(set(args.devices)):
                result = dict(run_child(mode, rows, devices, args.seconds, args.platform), rows=rows, mode=mode, devices=devices)
                results["scaling"].append(result)
                print(f"| {rows:.0e} | {mode} | {devices} | {_cell(result, 'it_per_s', ',.3g')} | "
                      f"{_cell(result, 'compile_s', '.1f')} | {_cell(result, 'peak_mb', ',.0f')} |", flush=True)
    print("\n| rows (memmap) | batches | batches/s | peak MB | anonymous MB after |\n|---:|---|---:|---:|---:|")
    for rows in args.stream_rows:
        for mode, label in (("device", "loaded, sliced in the device"), ("stream", "streamed from the memmap")):
            result = dict(run_child(mode, rows, 1, args.seconds, args.platform), rows=rows, mode=mode)
            results["stream"].append(result)
            print(f"| {rows:.0e} | {label} | {_cell(result, 'it_per_s', ',.0f')} | "
                  f"{_cell(result, 'peak_mb', ',.0f')} | {_cell(result, 'anon_mb', ',.0f')} |", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
