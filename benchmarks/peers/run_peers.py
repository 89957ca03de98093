"""Run the peer implementations of the seed workflow and collect their figures.

Each peer (``jax_hand.py``, ``numpyro_tutorial.py``, ``pymc_tutorial.py`` in
this folder) is a standalone script that prints one JSON line; this module
runs them as subprocesses, each with its own Python interpreter (PyMC lives in
a separate virtual environment), repeats them, and reports medians.

Command line::

    python3 benchmarks/peers/run_peers.py --n 50000 --repeats 3 --markdown \\
        --pymc-python /work/venvs/pymc/bin/python

As a module (e.g. from ``benchmarks/seed_workflow.py``)::

    # from benchmarks/ (script dir on sys.path): `from peers import run_peers`;
    # from the repo root: `from benchmarks.peers import run_peers`
    res = run_peers.run_all(n=50_000, repeats=3, pythons={"pymc": "/work/venvs/pymc/bin/python"})
    rows = [credo_row] + [r["median"] for r in res.values() if r["median"]]
    print(run_peers.markdown_table(rows))

``run_peer(script, python, args)`` runs one script once and returns its dict.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

DEFAULT_PYMC_PYTHON = "/work/venvs/pymc/bin/python"

# name -> script, the module that must be importable in its interpreter, and
# whether the framework keeps an on-disk compile cache that a warm-up fills
_CREDO = {"script": str(HERE.parent / "credo_tutorial.py"), "module": "credo", "disk_cache": True}
_SRC = {"PYTHONPATH": str(HERE.parents[1] / "src")}
PEERS = {
    # credo itself: with its persistent compilation cache warm (the default), cold
    # (cache off: every function compiled in the run), and with the progress bar on.
    "credo": {**_CREDO, "env": _SRC},
    "credo_cold": {**_CREDO, "disk_cache": False, "env": {**_SRC, "CREDO_COMPILATION_CACHE": "0"}},
    "credo_progressbar": {**_CREDO, "env": {**_SRC, "CREDO_BENCH_PROGRESS": "1"}},
    "jax_hand": {"script": "jax_hand.py", "module": "jax", "disk_cache": False},
    # the same loop compiled with the XLA option credo gives small models
    "jax_hand_nolib": {"script": "jax_hand.py", "module": "jax", "disk_cache": False,
                       "env": {"CREDO_BENCH_NO_LIBRARY_DOTS": "1"}},
    "numpyro": {"script": "numpyro_tutorial.py", "module": "numpyro", "disk_cache": False},
    "pymc": {"script": "pymc_tutorial.py", "module": "pymc", "disk_cache": True},
}

FIELDS = ("framework", "version", "n", "build_s", "fit_s", "fit_compile_s", "iters_per_s",
          "sample_s", "predictive_s", "accuracy", "total_s")


class PeerError(RuntimeError):
    """A peer script failed or printed no JSON result."""


def default_python(name: str) -> str:
    """Interpreter used for peer ``name`` when none is given."""
    if name == "pymc":
        env = os.environ.get("CREDO_PYMC_PYTHON")
        if env:
            return env
        if Path(DEFAULT_PYMC_PYTHON).exists():
            return DEFAULT_PYMC_PYTHON
    return sys.executable


def check_importable(python: str, module: str, timeout: float = 300, env: dict | None = None) -> tuple[bool, str]:
    """Whether ``module`` imports in ``python``; returns (ok, version-or-reason)."""
    if not Path(python).exists() and not _which(python):
        return False, f"interpreter {python} not found"
    code = f"import {module}; print(getattr({module}, '__version__', '?'))"
    try:
        p = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, **(env or {})})
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"could not run {python}: {e}"
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["?"])[-1]
        return False, f"`import {module}` fails in {python}: {last}"
    return True, p.stdout.strip()


def _which(cmd: str):
    import shutil

    return shutil.which(cmd)


def _resolve_script(script) -> Path:
    path = Path(script)
    if not path.is_absolute() and not path.exists():
        path = HERE / path
        if not path.exists() and path.suffix != ".py":
            name = PEERS.get(str(script), {}).get("script")
            if name:
                path = HERE / name
    return path


def parse_result(stdout: str) -> dict | None:
    """The last stdout line that is a JSON object with a "framework" key."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and "framework" in obj:
            return obj
    return None


def run_peer(script, python: str | None = None, args=(), timeout: float = 3600,
             env: dict | None = None) -> dict:
    """Run one peer script once and return its JSON result as a dict.

    ``script``: a path, a file name in this folder, or a peer name ("pymc").
    ``python``: the interpreter (default: ``sys.executable``).
    ``args``: extra command-line arguments, e.g. ``["--n", "50000", "--no-progress"]``.
    Raises :class:`PeerError` if the script fails or prints no result.
    """
    path = _resolve_script(script)
    python = python or sys.executable
    cmd = [python, str(path), *[str(a) for a in args]]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired as e:
        raise PeerError(f"{path.name} timed out after {timeout} s") from e
    result = parse_result(p.stdout)
    if p.returncode != 0 or result is None:
        tail = "\n".join((p.stderr or p.stdout).strip().splitlines()[-15:])
        raise PeerError(f"{' '.join(cmd)} exited {p.returncode} without a result:\n{tail}")
    result.setdefault("python", python)
    return result


def median_summary(runs: list[dict]) -> dict:
    """Per-field medians of numeric fields; other fields from the first run."""
    if not runs:
        return {}
    out = dict(runs[0])
    for key in runs[0]:
        vals = [r.get(key) for r in runs]
        nums = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if nums and len(nums) == len([v for v in vals if v is not None]):
            out[key] = nums[0] if len(set(nums)) == 1 else statistics.median(nums)
    out["repeats"] = len(runs)
    return out


def run_all(peers=None, n: int = 50_000, seed: int = 0, repeats: int = 1,
            pythons: dict | None = None, pymc_python: str | None = None,
            warmup: bool = True, extra_args=(), timeout: float = 3600, log=None) -> dict:
    """Run each peer ``repeats`` times; return ``{name: {...}}``.

    Each value has ``runs`` (list of result dicts), ``median`` (see
    :func:`median_summary`, empty if none succeeded), ``skipped`` (reason or
    None), ``errors`` (messages of failed runs) and ``python``.
    ``warmup``: first run peers with an on-disk compile cache (PyMC/PyTensor)
    once with ``--n 100``, untimed, so that a cold cache doesn't skew repeat 1.
    Runs are interleaved (all peers for repeat 1, then repeat 2, ...) so a
    change in machine load spreads over all of them.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    names = list(peers) if peers else list(PEERS)
    pythons = dict(pythons or {})
    if pymc_python:
        pythons["pymc"] = pymc_python
    results = {}
    active = []
    for name in names:
        if name not in PEERS:
            raise ValueError(f"unknown peer {name!r}; known: {sorted(PEERS)}")
        python = pythons.get(name) or default_python(name)
        ok, info = check_importable(python, PEERS[name]["module"], env=PEERS[name].get("env"))
        results[name] = {"runs": [], "median": {}, "skipped": None, "errors": [], "python": python}
        if not ok:
            results[name]["skipped"] = info
            log(f"[run_peers] skipping {name}: {info}")
            continue
        active.append(name)
    base = ["--n", str(n), "--seed", str(seed), "--no-progress", *[str(a) for a in extra_args]]
    if warmup:
        for name in active:
            if PEERS[name]["disk_cache"]:
                log(f"[run_peers] warm-up {name} (--n 100, not recorded)")
                try:
                    run_peer(PEERS[name]["script"], results[name]["python"],
                             ["--n", "100", "--seed", str(seed), "--no-progress"], timeout=timeout,
                             env=PEERS[name].get("env"))
                except PeerError as e:
                    log(f"[run_peers] warm-up of {name} failed: {e}")
    for rep in range(repeats):
        for name in active:
            log(f"[run_peers] {name} repeat {rep + 1}/{repeats} (n={n})")
            try:
                r = run_peer(PEERS[name]["script"], results[name]["python"], base, timeout=timeout,
                             env=PEERS[name].get("env"))
                r["framework"] = name
            except PeerError as e:
                results[name]["errors"].append(str(e))
                log(f"[run_peers] {name} failed: {e}")
                continue
            results[name]["runs"].append(r)
    for name in active:
        results[name]["median"] = median_summary(results[name]["runs"])
    return results


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 100:
            return f"{v:.1f}"
        return f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"
    return str(v).replace("|", "\\|")


def markdown_table(rows, fields=FIELDS) -> str:
    """Markdown table of result dicts (e.g. credo's row plus the peers' medians)."""
    if isinstance(rows, dict):  # output of run_all
        rows = [r["median"] for r in rows.values() if r.get("median")]
    fields = list(fields)
    if any("repeats" in r for r in rows):
        fields.append("repeats")
    lines = ["| " + " | ".join(fields) + " |", "|" + "|".join("---" for _ in fields) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(f)) for f in fields) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description="Run the peer benchmarks of the seed workflow.")
    p.add_argument("--peers", nargs="+", choices=sorted(PEERS), default=None,
                   help="which peers (default: all)")
    p.add_argument("--n", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--pymc-python", default=None,
                   help=f"interpreter with PyMC (default: $CREDO_PYMC_PYTHON or {DEFAULT_PYMC_PYTHON})")
    p.add_argument("--python", default=None,
                   help="interpreter for jax_hand and numpyro (default: this one)")
    p.add_argument("--no-warmup", action="store_true", help="skip the PyMC cache warm-up run")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per peer run")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("--json", dest="json_out", default=None, help="write all results to this file")
    a = p.parse_args(argv)
    pythons = {}
    if a.python:
        pythons.update(jax_hand=a.python, numpyro=a.python)
    res = run_all(peers=a.peers, n=a.n, seed=a.seed, repeats=a.repeats, pythons=pythons,
                  pymc_python=a.pymc_python, warmup=not a.no_warmup, timeout=a.timeout)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(res, indent=2))
    for name, r in res.items():
        if r["median"]:
            print(json.dumps(r["median"]))
    if a.markdown:
        print()
        print(markdown_table(res))
    for name, r in res.items():
        if r["skipped"]:
            print(f"skipped {name}: {r['skipped']}")
        elif not r["runs"]:
            print(f"{name}: all runs failed")
    return 0 if any(r["runs"] for r in res.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
