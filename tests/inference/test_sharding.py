"""Data sharded over several (simulated) devices and processes; minibatches streamed from a memmap.

JAX reads ``XLA_FLAGS`` once, when it is imported, so every scenario runs in
a subprocess (``shard_worker.py``) with ``--xla_force_host_platform_device_count``
set, and reports what it measured as JSON; the assertions are here.

Tolerances: four devices add the per-row terms in another order than one
device (each device sums its rows, then XLA adds the four partial sums), so
float32 results differ by rounding, about 1e-7 relative per evaluation. An
ADVI fit feeds each step's rounding into the next; over 1500 steps the
losses differed by 3e-7 (relative) when these tests were written. The
tolerance 1e-4 is that times ~300, small enough that a wrong row (one row
dropped, duplicated or padded into the sum of 103) fails: one row changes
the loss by ~1% (more than 1e-2 relative). Predictive draws and pointwise
log-likelihoods have no sum over rows, so they are equal to the last bit.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

WORKER = os.path.join(os.path.dirname(__file__), "shard_worker.py")
#: Relative agreement of 4-device and 1-device fits (see the module doc).
REDUCTION_TOLERANCE = 1e-4
#: Seconds a scenario may run before the test fails (a compile or two under load).
SCENARIO_TIMEOUT = 600


def _environment(devices: int) -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["JAX_PLATFORMS"] = "cpu"
    src = os.path.join(os.path.dirname(__file__), "..", "..", "src")
    env["PYTHONPATH"] = os.pathsep.join([os.path.abspath(src), env.get("PYTHONPATH", "")])
    return env


def run_scenario(tmp_path, name: str, *args: str, devices: int = 4) -> dict:
    out = tmp_path / f"{name}.json"
    done = subprocess.run([sys.executable, WORKER, name, str(out), *args], env=_environment(devices),
                          capture_output=True, text=True, timeout=SCENARIO_TIMEOUT)
    assert done.returncode == 0, f"scenario {name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    return json.loads(out.read_text())


@pytest.mark.slow
def test_full_batch_on_four_devices_is_the_one_device_fit(tmp_path):
    got = run_scenario(tmp_path, "full_batch")
    assert got["devices"] == 4
    # 103 rows, not divisible by 4: padded to 104 under a mask, 26 rows a device
    for name in ("x", "y", "__credo_row_mask__"):
        assert got["placed"][name]["shape"][0] == 104
        assert got["placed"][name]["spec"] == "P('rows',)"
        assert got["placed"][name]["shard_rows"] == [26]
    assert got["real_rows"] == 103
    # the compiled chunk really receives the rows sharded, the parameters replicated
    for name in ("x", "y", "__credo_row_mask__"):
        assert got["compiled_data_specs"][name] == "P('rows',)"
    assert got["compiled_state_specs"] == ["P()"]
    # the fresh state is committed where the data are, so the calls after the first reuse its program
    assert got["compiles"] == {"chunk": 1, "map": 1}
    # padded rows add nothing: the log density (padded rows set to 1e6) is scipy's on the 103 rows
    value4, value1, by_hand = got["logdensity"]
    assert value4 == pytest.approx(by_hand, rel=1e-5)
    assert value4 == pytest.approx(value1, rel=1e-6)
    assert got["gradient_relative"] < 1e-5
    # ADVI, draws and MAP agree with one device up to the reduction order
    assert got["hist_relative"] < REDUCTION_TOLERANCE
    assert got["mean_w_difference"] < REDUCTION_TOLERANCE
    assert got["draws_mu_relative"] < REDUCTION_TOLERANCE
    assert got["map_relative"] < REDUCTION_TOLERANCE
    # row outputs are cut back to the real rows; predictive and log-likelihood are exact
    assert got["draws_mu_shape"] == [1, 50, 103] and got["map_mu_shape"] == [103]
    assert got["ppc_shape"] == [1, 50, 103] and got["ll_shape"] == [1, 50, 103]
    assert got["ppc_relative"] < 1e-6
    assert got["ll_relative"] < 1e-6
    # the devices are recorded
    assert got["approx_devices"]["devices"] == 4 and got["approx_devices"]["processes"] == 1
    assert got["idata_attrs"] == {"devices": 4, "processes": 1, "device_platform": "cpu"}


@pytest.mark.slow
def test_minibatches_on_four_devices_and_streamed_from_a_memmap(tmp_path):
    got = run_scenario(tmp_path, "minibatch")
    # batch 64 divides among 4 devices (batch rows sharded); 30 does not (batch replicated); 1003 rows padded
    assert got["minibatch64_relative"] < REDUCTION_TOLERANCE
    assert got["minibatch30_relative"] < REDUCTION_TOLERANCE
    # streamed from a memmap: the same rows at every step as the in-device slicing
    assert got["streamed_type"] == "StreamedRows"
    assert got["streamed_vs_device_1"] < 1e-3
    assert got["streamed_vs_device_4"] < 1e-3
    # a reader slowed at random: the prefetching thread's timing does not change the fit
    assert got["slow_reader_difference"] == 0.0
    assert got["estimator_relative"] < 1e-3


@pytest.mark.slow
def test_nuts_on_four_devices_agrees_with_one(tmp_path):
    got = run_scenario(tmp_path, "nuts")
    # float sums in another order change the chains' paths within the 300 tuning steps (by ~1e-2 at the first
    # draw, measured), so the posteriors are compared statistically: the posterior means agree within Monte Carlo error (4 standard errors of the difference)
    mean1, mean4 = np.array(got["mean1"]), np.array(got["mean4"])
    se = np.sqrt(np.array(got["mcse1"]) ** 2 + np.array(got["mcse4"]) ** 2)
    assert np.all(np.abs(mean4 - mean1) < 4 * se)
    assert got["mu_shape4"] == [2, 400, 101] and got["attrs4"] == 4 and got["attrs1"] == 1


@pytest.mark.slow
def test_memmap_larger_than_the_device_budget_trains_with_flat_memory(tmp_path):
    got = run_scenario(tmp_path, "memmap", "192", devices=1)
    assert got["streamed"] == "StreamedRows"
    assert got["file_bytes"] >= 4 * got["allowed_bytes"]
    # 3000 batches of 512 rows (203 MB, more than the file) stream through blocks of at most an eighth of the
    # budget. A copy of the file, or of every batch read, needs at least the file's bytes of the process's own
    # memory; streaming holds two blocks and their reading temporaries, plus what the allocator and XLA keep:
    # measured 67-113 MB on the 2-core machine (one run each: 67, 70, 89, 93, 97, 101, 113) and 111 MB in CI.
    assert got["anonymous_growth_bytes"] < got["file_bytes"], got
    assert got["last_loss"] < got["first_loss"]
    assert got["weight_error"] < 0.05


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_processes_each_with_half_the_rows_give_the_single_process_fit(tmp_path):
    port = str(_free_port())
    outs = [tmp_path / f"process{p}.json" for p in (0, 1)]
    processes = [subprocess.Popen([sys.executable, WORKER, "process", str(outs[p]), str(p), port, str(tmp_path)],
                                  env=_environment(1), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for p in (0, 1)]
    try:
        logs = [process.communicate(timeout=SCENARIO_TIMEOUT)[0] for process in processes]
    finally:
        for process in processes:
            process.kill()
    for process, log in zip(processes, logs):
        assert process.returncode == 0, log[-6000:]
    reference = run_scenario(tmp_path, "reference", devices=1)
    results = [json.loads(out.read_text()) for out in outs]
    for got in results:
        assert got["devices"]["devices"] == 2 and got["devices"]["processes"] == 2
        np.testing.assert_allclose(got["hist"], reference["hist"], rtol=REDUCTION_TOLERANCE)
        np.testing.assert_allclose(got["mean_w"], reference["mean_w"], rtol=REDUCTION_TOLERANCE, atol=1e-6)
        np.testing.assert_allclose(got["mu"], reference["mu"], rtol=REDUCTION_TOLERANCE, atol=1e-5)
        np.testing.assert_allclose(got["ppc"], reference["ppc"], rtol=REDUCTION_TOLERANCE, atol=1e-5)
        np.testing.assert_allclose(got["map_w"], reference["map_w"], rtol=REDUCTION_TOLERANCE, atol=1e-6)
        # minibatches drawn from rows on two processes: the rows the single process draws
        np.testing.assert_allclose(got["minibatch_hist"], reference["minibatch_hist"], rtol=REDUCTION_TOLERANCE)
    assert results[0] == results[1]  # every process has the same result
    # only process 0 writes (its fit and its checkpoint)
    assert (tmp_path / "fit-0.npz").exists() and not (tmp_path / "fit-1.npz").exists()
    assert (tmp_path / "checkpoint-0.npz").exists() and not (tmp_path / "checkpoint-1.npz").exists()
