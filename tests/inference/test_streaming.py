"""On one device: cr.Minibatch streamed from row sources, the choice between streaming and loading, devices=.

The runs on several devices and processes are in test_sharding.py (in subprocesses).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

import credo as cr
from credo.errors import ConfigError, DataError, FitError
from credo.model.placement import placement_for
from credo.model.programs import data_signature
from credo.model.sources import StreamedRows

N = 300


class Rows:
    """Rows of an array behind ``len`` and integer indexing only (as a database cursor or a custom reader)."""

    def __init__(self, values):
        self.values = values
        self.reads = 0

    def __len__(self):
        return len(self.values)

    def __getitem__(self, index):
        self.reads += 1
        return self.values[int(index)]


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 2)).astype(np.float32)
    y = (x @ np.array([1.0, -1.0]) + 0.3 * rng.normal(size=N)).astype(np.float32)
    return x, y


def fit_hist(x, y, stream, steps=500):
    with cr.Model() as model:
        xb, yb = cr.Minibatch(x, y, batch_size=32, random_seed=1, stream=stream)
        w = cr.Normal("w", 0, 1, shape=2)
        cr.Normal("y", xb @ w, 0.3, observed=yb, total_size=N)
        approx = cr.fit(steps, random_seed=0, progressbar=False, obj_optimizer=cr.adagrad_window(0.1))
    return model, approx


def test_a_streamed_row_source_fits_exactly_as_the_rows_sliced_in_the_device():
    x, y = data()
    source_x, source_y = Rows(x), Rows(y)
    streamed_model, streamed = fit_hist(source_x, source_y, stream=True)
    assert isinstance(streamed_model.data_values[streamed_model.minibatches[0].names[0]], StreamedRows)
    assert source_x.reads > 200 and source_y.reads > 200  # the rows were read from the source, batch by batch
    _, in_device = fit_hist(x, y, stream=False)
    # the same rows at every step (drawn from each step's key), so the same losses
    np.testing.assert_allclose(streamed.hist, in_device.hist, rtol=1e-6)
    assert abs(streamed.mean["w"][0] - 1.0) < 0.2 and abs(streamed.mean["w"][1] + 1.0) < 0.2


def test_sources_stream_by_size_and_in_memory_arrays_load(tmp_path):
    x, y = data()
    np.save(tmp_path / "x.npy", x)
    memmap = np.load(tmp_path / "x.npy", mmap_mode="r")
    before = cr.config().minibatch_device_bytes
    try:
        with cr.Model() as model:
            small = cr.Minibatch(memmap, batch_size=10)  # 2.4 kB: loaded onto the device
            in_memory = cr.Minibatch(x, batch_size=10)
        assert isinstance(model.data_values[small.name], jax.Array)
        assert isinstance(model.data_values[in_memory.name], jax.Array)
        cr.config(minibatch_device_bytes=1000)
        with cr.Model() as model:
            large = cr.Minibatch(memmap, batch_size=10)
            still_in_memory = cr.Minibatch(x, batch_size=10)  # in memory already: never streamed unasked
        assert isinstance(model.data_values[large.name], StreamedRows)
        assert isinstance(model.data_values[still_in_memory.name], jax.Array)
    finally:
        cr.config(minibatch_device_bytes=before)
    with pytest.raises(ConfigError, match="minibatch_device_bytes"):
        cr.config(minibatch_device_bytes=-1)


def test_programs_that_need_every_streamed_row_say_what_to_do():
    x, y = data()
    model, approx = fit_hist(Rows(x), Rows(y), stream=True, steps=20)
    with model, pytest.raises(DataError, match="set_data"):
        cr.sample(draws=10, tune=10, chains=1, progressbar=False)
    with model, pytest.raises(FitError, match="init='map'"):
        cr.fit(10, init="map", progressbar=False)
    draws = approx.sample(20, random_seed=0)  # the weights are drawn; nothing needs the rows
    assert draws.posterior["w"].shape == (1, 20, 2)
    with pytest.raises(DataError, match="Minibatch: stream"):
        cr.Minibatch(x, batch_size=10, stream="yes")
    with pytest.raises(DataError, match="cannot stream"):
        cr.Minibatch(cr.distributed.rows(x), batch_size=10, stream=True)


def test_one_device_is_the_plain_path():
    assert placement_for(1) is None
    if jax.device_count() == 1:
        assert placement_for(None) is None
    x, y = data()
    with cr.Model() as model:
        cr.Normal("y", cr.Normal("w", 0, 1, shape=2) @ cr.Data("x", x).T[:, 0], 1, observed=y[:2])
    placed = model.placed_data(placement_for(1))
    # the arrays the programs receive carry no sharding in their spec: the programs of before
    assert all(len(entry) == 3 for entry in data_signature(placed.arrays))
    assert placed.describe()["devices"] == 1


@pytest.mark.parametrize("devices, message", [(0, "asked for 0 devices"), ("gpu", "give None"),
                                              (jax.devices()[:1] * 2, "listed twice")])
def test_bad_devices_are_named(devices, message):
    x, y = data()
    with cr.Model():
        cr.Normal("y", cr.Normal("w", 0, 1), 1, observed=y)
        with pytest.raises(DataError, match=message):
            cr.fit(10, devices=devices, progressbar=False)


def test_an_hdf5_dataset_streams_as_the_array_it_holds(tmp_path):
    h5py = pytest.importorskip("h5py")
    x, y = data()
    with h5py.File(tmp_path / "rows.h5", "w") as handle:
        handle["x"], handle["y"] = x, y
    with h5py.File(tmp_path / "rows.h5", "r") as handle:
        _, streamed = fit_hist(handle["x"], handle["y"], stream=True, steps=100)
    _, in_device = fit_hist(x, y, stream=False, steps=100)
    np.testing.assert_allclose(streamed.hist, in_device.hist, rtol=1e-6)
