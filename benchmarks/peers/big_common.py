"""The networks and data of ``big_networks.py``, in numpy alone (every peer's interpreter imports this).

Each network is a classifier of 10 classes with Normal(0, 1) priors on every
weight and bias, trained by mean-field ADVI on minibatches of 128 rows drawn
with replacement (the likelihood scaled by rows / 128), with Adam at 1e-3.
The data are synthetic: standard normal inputs, classes from a random linear
teacher (the data do not matter for the speed, only their shapes).

A network is a list of layers:

- ``("dense", units, activation)``: ``x @ w + b``, ``w`` of shape ``(fan_in, units)``;
- ``("conv", features, kernel, activation)``: a 2-D convolution, NHWC inputs,
  HWIO kernel, stride 1, "SAME" padding, plus a bias per feature;
- ``("maxpool", size)``: non-overlapping max pooling (window = stride = size);
- ``("flatten",)``.

The last layer is ``("dense", 10, None)``: the logits.
"""
from __future__ import annotations

import numpy as np

ROWS = 18_000
BATCH = 128
CLASSES = 10
LEARNING_RATE = 1e-3

#: name -> (input shape of one row, layers, steps per timed chunk)
NETWORKS = {
    "dense-1e3": ((20,), [("dense", 32, "tanh"), ("dense", CLASSES, None)], 2000),
    "dense-1e4": ((64,), [("dense", 100, "tanh"), ("dense", 32, "tanh"), ("dense", CLASSES, None)], 1000),
    "dense-6e4": ((100,), [("dense", 200, "tanh"), ("dense", 200, "tanh"), ("dense", CLASSES, None)], 200),
    "dense-1e6": ((784,), [("dense", 700, "tanh"), ("dense", 700, "tanh"), ("dense", CLASSES, None)], 10),
    "conv-1e3": ((8, 8, 1), [("conv", 6, 3, "relu"), ("maxpool", 2), ("flatten",), ("dense", CLASSES, None)], 500),
    "conv-1e4": ((8, 8, 1), [("conv", 16, 3, "relu"), ("conv", 32, 3, "relu"), ("maxpool", 2), ("flatten",),
                             ("dense", CLASSES, None)], 100),
    "conv-6e4": ((28, 28, 1), [("conv", 16, 5, "relu"), ("maxpool", 2), ("conv", 32, 5, "relu"), ("maxpool", 2),
                               ("flatten",), ("dense", 32, "relu"), ("dense", CLASSES, None)], 20),
    "conv-1e6": ((28, 28, 1), [("conv", 32, 3, "relu"), ("maxpool", 2), ("conv", 64, 3, "relu"), ("maxpool", 2),
                               ("flatten",), ("dense", 300, "relu"), ("dense", CLASSES, None)], 5),
}


def weight_shapes(name: str) -> list[tuple[str, tuple]]:
    """``[(variable name, shape), ...]`` of a network's weights and biases, in layer order.

    Names follow credo's layers: ``layer{i}_w`` and ``layer{i}_b``.
    """
    shape, layers, _ = NETWORKS[name]
    shape = tuple(shape)
    out = []
    for index, layer in enumerate(layers):
        kind = layer[0]
        if kind == "dense":
            fan_in = shape[-1]
            out += [(f"layer{index}_w", (fan_in, layer[1])), (f"layer{index}_b", (layer[1],))]
            shape = shape[:-1] + (layer[1],)
        elif kind == "conv":
            features, kernel = layer[1], layer[2]
            out += [(f"layer{index}_w", (kernel, kernel, shape[-1], features)), (f"layer{index}_b", (features,))]
            shape = shape[:-1] + (features,)
        elif kind == "maxpool":
            shape = (shape[0] // layer[1], shape[1] // layer[1], shape[2])
        elif kind == "flatten":
            shape = (int(np.prod(shape)),)
    return out


def num_weights(name: str) -> int:
    return int(sum(np.prod(shape) for _, shape in weight_shapes(name)))


def initial_means(name: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Initial means of the Gaussian: weights N(0, 1/fan_in), biases 0 (float32)."""
    rng = np.random.default_rng(seed)
    out = {}
    for var, shape in weight_shapes(name):
        if var.endswith("_b"):
            out[var] = np.zeros(shape, np.float32)
        else:
            fan_in = int(np.prod(shape[:-1]))
            out[var] = rng.normal(0.0, 1.0 / np.sqrt(fan_in), size=shape).astype(np.float32)
    return out


def make_data(name: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``ROWS`` synthetic rows of the network's input shape (float32) and class labels (int32)."""
    shape = NETWORKS[name][0]
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(ROWS,) + tuple(shape)).astype(np.float32)
    teacher = rng.normal(size=(int(np.prod(shape)), CLASSES))
    y = np.argmax(X.reshape(ROWS, -1) @ teacher, axis=1).astype(np.int32)
    return X, y


def peak_memory_mb() -> float:
    """The process's peak resident memory so far, in MB."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 ** 2 if sys.platform == "darwin" else peak / 1024
