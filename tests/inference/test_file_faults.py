"""Saved files under faults: kill -9 during a save, flipped bytes, zip bombs, NaN parameters, bad metadata."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import credo as cr
from credo.inference import io
from credo.inference.io import ApproximationFileError, write_arrays

from subprocess_lines import Lines

SRC = os.path.dirname(os.path.dirname(cr.__file__))


def make_model(size=3):
    with cr.Model() as model:
        w = cr.Normal("w", 0, 1, shape=size)
        sigma = cr.HalfNormal("sigma", 1)
        cr.Normal("y", w[0], sigma, observed=np.array([0.3, 1.2, 0.8, 1.9]))
    return model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    model = make_model()
    with model:
        approx = cr.fit(50, random_seed=0, progressbar=False)
    path = tmp_path_factory.mktemp("faults") / "fit.npz"
    approx.save(path)
    return model, approx, path


def _arrays(path) -> dict:
    with np.load(path) as npz:
        return dict(npz)


def _metadata(arrays) -> dict:
    return json.loads(arrays["__metadata__"].tobytes())


def _with_metadata(arrays, **changes) -> dict:
    metadata = dict(_metadata(arrays), **changes)
    return dict(arrays, __metadata__=np.frombuffer(json.dumps(metadata).encode(), np.uint8))


KILL_SCRIPT = """
import sys, numpy as np
from credo.inference.io import write_arrays
path = sys.argv[1]
with np.load(path) as npz:
    arrays = dict(npz)
print("ready", flush=True)
step = 0
while True:  # rewrite the file over and over: each version has its own step count
    step += 1
    arrays["step"] = np.asarray(step, np.int32)
    write_arrays(path, arrays)
"""


@pytest.mark.slow
def test_kill_9_during_saves_never_leaves_an_unreadable_file(tmp_path):
    model = make_model(size=200_000)  # a 16 MB file: a save takes long enough to be killed in the middle
    with model:
        approx = cr.fit(2, random_seed=0, progressbar=False)
    path = tmp_path / "big.npz"
    approx.save(path)
    env = dict(os.environ, PYTHONPATH=SRC, JAX_PLATFORMS="cpu")
    rng = np.random.default_rng(0)
    steps = []
    for attempt in range(5):
        process = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(path)], stdout=subprocess.PIPE, env=env)
        assert Lines(process, timeout=120).next("ready").strip() == b"ready"
        time.sleep(rng.uniform(0.05, 0.6))
        process.send_signal(signal.SIGKILL)
        process.wait()
        with model:
            loaded = cr.load_approximation(path)  # the last complete save, never a torn one
        steps.append(loaded.num_steps)
        np.testing.assert_array_equal(loaded.mean_unconstrained, approx.mean_unconstrained)
    assert len(set(steps)) > 1  # the kills landed while saves were going on
    # The killed saves left their temporary files; the next save removes them.
    approx.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npz"]


def test_a_save_removes_the_temporary_files_of_killed_saves_only(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = io._host()
    names = {"dead": f".fit.npz.{host}.{dead.pid}.x1.tmp", "alive": f".fit.npz.{host}.{os.getppid()}.x2.tmp",
             "other host": f".fit.npz.{host}-other.{dead.pid}.x3.tmp", "other file": f".fit2.npz.{host}.{dead.pid}.x4.tmp"}
    for name in names.values():
        (tmp_path / name).write_bytes(b"partial")
    write_arrays(tmp_path / "fit.npz", {"a": np.arange(3)})
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(["fit.npz", names["alive"], names["other host"], names["other file"]])


def test_a_flipped_byte_is_refused_or_harmless(saved):
    model, approx, path = saved
    raw = path.read_bytes()
    rng = np.random.default_rng(1)
    positions = np.unique(np.concatenate([rng.integers(0, len(raw), 150), np.arange(len(raw) - 600, len(raw), 7)]))
    outcomes = {"refused": 0, "same": 0}
    for position in positions:
        flipped = bytearray(raw)
        flipped[position] ^= 0x5A
        target = path.with_name("flipped.npz")
        target.write_bytes(bytes(flipped))
        try:
            loaded = cr.load_approximation(target, model)
        except ApproximationFileError:
            outcomes["refused"] += 1
            continue
        # A byte the format does not use (a timestamp, padding) may change: the values must not.
        np.testing.assert_array_equal(loaded.mean_unconstrained, approx.mean_unconstrained)
        np.testing.assert_array_equal(loaded.hist, approx.hist)
        outcomes["same"] += 1
    assert outcomes["refused"] > len(positions) // 2


def _bomb(path, name: str, header_shape: tuple, payload_bytes: int, arrays: dict) -> None:
    """An .npz whose member ``name`` is a deflated array of ``payload_bytes`` zeros declaring ``header_shape``."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for key, value in arrays.items():
            if key != name:
                with archive.open(key + ".npy", "w") as handle:
                    np.lib.format.write_array(handle, np.asarray(value))
        info = zipfile.ZipInfo(name + ".npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as handle:
            np.lib.format.write_array_header_1_0(
                handle, {"descr": "<f4", "fortran_order": False, "shape": header_shape})
            block = bytes(1 << 20)
            for _ in range(payload_bytes >> 20):
                handle.write(block)


@pytest.mark.parametrize("payload_mb, header_shape", [(256, (64 << 20,)), (0, (1 << 33,))])
def test_a_zip_bomb_is_refused_before_it_is_unpacked(saved, tmp_path, payload_mb, header_shape):
    model, _, path = saved
    bomb = tmp_path / "bomb.npz"
    _bomb(bomb, "params.mean", header_shape, payload_mb << 20, _arrays(path))
    assert bomb.stat().st_size < 2 << 20
    tracemalloc.start()
    try:
        with pytest.raises(ApproximationFileError, match="'params.mean' declares .* refused without reading it"):
            cr.load_approximation(bomb, model)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20  # neither unpacked nor allocated


def test_non_finite_parameters_and_bad_metadata_are_refused(saved, tmp_path):
    model, _, path = saved
    arrays = _arrays(path)
    cases = {
        "nan.npz": (dict(arrays, **{"params.mean": np.full_like(arrays["params.mean"], np.nan)}),
                    "'mean' holds NaN or inf"),
        "chunk0.npz": (_with_metadata(arrays, chunk_size=0), "'chunk_size' is 0; it must be a positive integer"),
        "chunk_float.npz": (_with_metadata(arrays, chunk_size=1.5), "'chunk_size' is 1.5"),
        "num_mc.npz": (_with_metadata(arrays, num_mc=-1), "'num_mc' is -1"),
        "stop.npz": (_with_metadata(arrays, stop_reason=["x"]), "'stop_reason'"),
        "variables.npz": (_with_metadata(arrays, variables=[1, 2]), "do not describe the variables"),
        "step.npz": (dict(arrays, step=np.asarray(-4, np.int32)), "step count is -4"),
    }
    for name, (tampered, message) in cases.items():
        write_arrays(tmp_path / name, tampered)
        with pytest.raises(ApproximationFileError, match=message):
            cr.load_approximation(tmp_path / name, model)


def test_a_failed_save_leaves_the_previous_file(saved, tmp_path, monkeypatch):
    model, approx, path = saved
    target = tmp_path / "keep.npz"
    approx.save(target)
    before = target.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(OSError, match="No space"):
        approx.save(target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.npz"]  # no temporary file left behind
