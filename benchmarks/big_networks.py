"""Big networks: credo's mean-field ADVI against the hand-written floor, NumPyro and PyMC, by network size.

The networks (``peers/big_common.py``): dense and convolutional classifiers
of about 10^3, 10^4, 6x10^4 and 10^6 weights on 18,000 synthetic rows,
Normal(0, 1) priors, minibatches of 128 rows, Adam at 1e-3, mean-field ADVI
with one draw per step. Every framework fits the same network to the same
data with the same objective:

- ``credo``: ``cr.nn`` layers, ``cr.Minibatch``, ``cr.fit(method="advi",
  obj_optimizer=optax.adam(1e-3))``, timed through ``approx.refine`` (the
  public path: driver, checks and all); its compilation cache off, so its
  compile time is a cold one like everyone else's; its closing k-hat verdict
  off (``cr.config(diagnose_draws=0)``: a full-data evaluation the others
  do not make);
- ``floor``: the same ADVI hand-written in JAX + optax (``peers/big_jax.py``);
- ``floor_vjp`` (convolutional networks): the floor with the convolutions'
  gradient written out as credo's ``cr.nn.conv2d`` writes it (JAX's own
  runs 8-23x slower inside a loop on the CPU);
- ``numpyro``: ``SVI`` + ``AutoNormal`` + the same optax Adam, its own
  ``svi.run`` (``peers/big_jax.py``);
- ``pymc``: ``pm.Minibatch`` + ``pm.fit(method="advi")`` with
  ``pm.adam(1e-3)`` in its own interpreter (``peers/big_pymc.py``), dense
  networks only, skipped where it is not installed or takes over 10 minutes.

Each (network, framework) runs in a fresh process and reports its steady
iterations per second (median over timed chunks after a warm-up chunk), its
compile seconds (the first call less one chunk at the steady rate) and the
process's peak resident memory. A ``pair`` process runs credo and the floor
(``floor_vjp`` for convolutional networks) in the same process, their chunks
interleaved: credo's ``step / floor`` is the median over rounds of its
chunk time over the floor's, the figure the targets are set in (at most 1.1
at 6x10^4 and 10^6 weights); the other rows' ``step / floor`` is the faster
floor's rate over theirs, from separate processes.

Usage::

    python benchmarks/big_networks.py [--networks dense-6e4 dense-1e6 ...] [--frameworks credo floor numpyro pymc]
                                      [--rounds 5] [--repeats 1] [--json out.json]
    python benchmarks/big_networks.py --worker credo|pair NETWORK   # one process's measurement
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))
import big_common as common  # noqa: E402

FRAMEWORKS = ["credo", "floor", "floor_vjp", "numpyro", "pymc"]
PYMC_TIMEOUT = 600
#: Any other process is stopped after this long (its row then says so).
TIMEOUT = 1200


def credo_model(name: str, X, y):
    """The network as a credo model: ``cr.nn`` layers named ``layer{i}``, a categorical likelihood."""
    import credo as cr

    _, layers, _ = common.NETWORKS[name]
    with cr.Model() as model:
        x, labels = cr.Minibatch(X, y, batch_size=common.BATCH, names=("X", "y"))
        out = x
        for index, layer in enumerate(layers):
            kind, label = layer[0], f"layer{index}"
            if kind == "dense":
                out = cr.nn.dense(label, out, layer[1], activation=layer[2])
            elif kind == "conv":
                out = cr.nn.conv2d(label, out, layer[1], layer[2], activation=layer[3])
            elif kind == "maxpool":
                out = cr.nn.max_pool(out, layer[1])
            elif kind == "flatten":
                out = cr.nn.flatten(out)
        cr.Categorical("y_obs", logit_p=out, observed=labels, total_size=common.ROWS)
    return model


class Credo:
    """credo's fit of a network: ``chunk()`` refines by one chunk of steps and returns its seconds."""

    def __init__(self, name: str, X, y):
        import credo as cr
        import optax

        # No closing k-hat verdict: it evaluates the full-data log density at 256 draws, about
        # 256 x 18,000 rows x the network's multiply-adds (30 s at 6x10^4 weights, 7 minutes and 8 GB at
        # 10^6 on two cores), which the other frameworks do not do; the table times the fit.
        cr.config(compilation_cache=False, diagnose_draws=0)
        self.steps = common.NETWORKS[name][2]
        self.model = credo_model(name, X, y)
        # one step of a chunk program of ``steps`` steps: the time is the compile (and one step)
        start = time.perf_counter()
        self.approx = cr.fit(1, model=self.model, obj_optimizer=optax.adam(common.LEARNING_RATE),
                             random_seed=0, chunk_size=self.steps, progressbar=False)
        self.compile_s = time.perf_counter() - start

    def chunk(self) -> float:
        import jax

        start = time.perf_counter()
        self.approx = self.approx.refine(self.steps, progressbar=False)
        jax.block_until_ready(self.approx.state.params)
        return time.perf_counter() - start


def worker(kind: str, name: str, rounds: int) -> dict:
    X, y = common.make_data(name)
    credo = Credo(name, X, y)
    credo.chunk()  # warm-up
    result = {}
    if kind == "pair":
        from big_jax import Floor

        conv = any(layer[0] == "conv" for layer in common.NETWORKS[name][1])
        floor = Floor(name, X, y, "written" if conv else "jax")
        floor.chunk()
        pairs = [(credo.chunk(), floor.chunk()) for _ in range(rounds)]
        result["step_over_floor"] = statistics.median(a / b for a, b in pairs)
        result["floor_it_per_s"] = floor.steps / statistics.median(b for _, b in pairs)
        times = [a for a, _ in pairs]
    else:
        times = [credo.chunk() for _ in range(rounds)]
    rate = credo.steps / statistics.median(times)
    import credo as cr
    import jax

    result.update(it_per_s=rate, compile_s=credo.compile_s,
                  version=f"credo {cr.__version__}, jax {jax.__version__}")
    return result


def run_process(framework: str, name: str, rounds: int, python: str | None = None,
                timeout: float | None = None) -> dict:
    """One measurement in a fresh process; ``{"error": ...}`` where it failed."""
    if framework in ("credo", "pair"):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", framework, name, "--rounds", str(rounds)]
    elif framework in ("floor", "floor_vjp", "numpyro"):
        cmd = [sys.executable, str(HERE / "peers" / "big_jax.py"), framework, name, "--rounds", str(rounds)]
    else:
        cmd = [python or pymc_python(), str(HERE / "peers" / "big_pymc.py"), name, "--rounds", str(rounds)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    except OSError as error:
        return {"error": str(error)}
    for line in reversed(done.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    return {"error": " / ".join(tail)[-300:]}


def pymc_python() -> str:
    for candidate in (os.environ.get("CREDO_PYMC_PYTHON"), "/work/venv-peers/bin/python",
                      "/work/venvs/pymc/bin/python", "/work/venv-pymc/bin/python"):
        if candidate and Path(candidate).exists():
            return candidate
    return sys.executable


def median_of(runs: list[dict]) -> dict:
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[0]
    out = dict(good[0])
    for field in ("it_per_s", "compile_s", "peak_mb", "step_over_floor", "floor_it_per_s"):
        values = [r[field] for r in good if r.get(field) is not None]
        if values:
            out[field] = statistics.median(values)
    return out


def _cell(value, digits=1) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def table(results: dict) -> str:
    lines = ["| network | weights | framework | it/s | step / floor | compile s | peak MB |",
             "|---|---|---|---|---|---|---|"]
    for name, by_framework in results.items():
        floor = max((by_framework.get(f, {}).get("it_per_s") or 0) for f in ("floor", "floor_vjp")) or None
        for framework, r in by_framework.items():
            if framework == "pair":
                continue
            if "error" in r:
                lines.append(f"| {name} | {common.num_weights(name):,} | {framework} | {r['error']} | | | |")
                continue
            ratio = None
            if framework == "credo" and "pair" in by_framework:
                ratio = by_framework["pair"].get("step_over_floor")
            elif floor and r.get("it_per_s"):
                ratio = floor / r["it_per_s"]
            lines.append(f"| {name} | {common.num_weights(name):,} | {framework} | {_cell(r.get('it_per_s'))} | "
                         f"{_cell(ratio, 2)} | {_cell(r.get('compile_s'))} | {_cell(r.get('peak_mb'), 0)} |")
    return "\n".join(lines)


def machine() -> str:
    import platform

    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {date.today()}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--networks", nargs="+", default=list(common.NETWORKS))
    parser.add_argument("--frameworks", nargs="+", default=FRAMEWORKS, choices=FRAMEWORKS)
    parser.add_argument("--rounds", type=int, default=5, help="timed chunks per process")
    parser.add_argument("--repeats", type=int, default=1, help="processes per (network, framework), interleaved")
    parser.add_argument("--json", help="write every measurement here")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "NETWORK"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, name = args.worker
        result = worker(kind, name, args.rounds)
        result.update(framework=kind, network=name, weights=common.num_weights(name), peak_mb=common.peak_memory_mb())
        print(json.dumps(result), flush=True)
        return
    runs: dict = {name: {} for name in args.networks}
    frameworks = list(args.frameworks) + (["pair"] if "credo" in args.frameworks else [])
    for _ in range(args.repeats):
        for name in args.networks:
            for framework in frameworks:
                if (framework == "pymc" and not name.startswith("dense")) or \
                        (framework == "floor_vjp" and not name.startswith("conv")):
                    continue
                result = run_process(framework, name, args.rounds, timeout=PYMC_TIMEOUT if framework == "pymc"
                                     else TIMEOUT)
                runs[name].setdefault(framework, []).append(result)
                print(json.dumps(result), file=sys.stderr, flush=True)
    results = {name: {fw: median_of(r) for fw, r in by.items()} for name, by in runs.items()}
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "runs": runs}, indent=1))
    print(f"{machine()}\n")
    print(table(results))


if __name__ == "__main__":
    main()
