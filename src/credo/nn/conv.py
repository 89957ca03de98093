"""Convolutional layers on NHWC images: ``conv2d``, ``max_pool``, ``avg_pool``, ``flatten``.

Images are ``(rows, height, width, channels)`` (NHWC), kernels ``(kernel
height, kernel width, in channels, out channels)`` (HWIO), as in
``jax.lax.conv_general_dilated`` and Flax:

>>> import credo as cr, numpy as np
>>> images = np.zeros((32, 8, 8, 1))
>>> with cr.Model() as model:
...     x = cr.Data("x", images)
...     h = cr.nn.conv2d("conv", x, 8, kernel_size=3)
...     h = cr.nn.max_pool(h, 2)
...     logits = cr.nn.dense("out", cr.nn.flatten(h), 10, activation=None)
>>> h.shape, logits.shape, model["conv_w"].shape
((32, 4, 4, 8), (32, 10), (3, 3, 1, 8))
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..model import math as cm
from ..model.variables import Node
from .layers import activation_fn
from .priors import PriorSpec, layer_rng, layer_variable, resolve_prior

__all__ = ["conv2d", "max_pool", "avg_pool", "flatten"]

_DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def _pair(value: Any, what: str, argument: str) -> tuple[int, int]:
    """An int or a pair of ints as a pair of positive ints."""
    pair = (value, value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
    try:
        pair = tuple(pair)
    except TypeError:
        pair = ()
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
                                 for v in pair):
        raise ValueError(f"{what}: {argument} must be a positive integer or a pair of them; got {value!r}.")
    return int(pair[0]), int(pair[1])


def _image_shape(inputs: Any, what: str) -> tuple:
    shape = tuple(inputs.shape if isinstance(inputs, Node) else np.shape(inputs))
    if len(shape) != 4:
        raise ValueError(f"{what}: inputs must be images (rows, height, width, channels) (NHWC); got shape {shape}.")
    return shape


def _padding(padding: Any, what: str):
    if isinstance(padding, str) and padding.upper() in ("SAME", "VALID"):
        return padding.upper()
    try:
        pairs = tuple((int(low), int(high)) for low, high in padding)
        if len(pairs) == 2:
            return pairs
    except (TypeError, ValueError):
        pass
    raise ValueError(f"{what}: padding must be 'SAME', 'VALID' or ((top, bottom), (left, right)); got {padding!r}.")


def conv2d(
    name: str,
    inputs: Any,
    features: int,
    kernel_size: int | Sequence[int] = 3,
    strides: int | Sequence[int] = 1,
    padding: str | Sequence = "SAME",
    activation: str | Callable | None = "relu",
    prior_sigma: Any = None,
    bias: bool = True,
    random_seed: int | np.random.Generator | None = None,
    *,
    prior: PriorSpec = None,
    bayesian: bool = True,
) -> Node:
    """A 2-D convolution of NHWC images with a prior on its kernel and bias.

    Creates ``{name}_w`` of shape ``(kh, kw, channels, features)`` and (with
    ``bias``) ``{name}_b`` of shape ``(features,)``, and returns
    ``activation(conv(inputs, w) + b)``.

    Parameters
    ----------
    name : str
        Prefix of the variable names.
    inputs : node or array
        ``(rows, height, width, channels)``.
    features : int
        Output channels.
    kernel_size, strides : int or pair of int
    padding : {"SAME", "VALID"} or ((top, bottom), (left, right))
    activation : str, callable or None
        As in :func:`credo.nn.dense` (default ``"relu"``).
    prior_sigma, prior, bayesian, bias, random_seed :
        As in :func:`credo.nn.dense`; initial kernels are ``N(0, 1/fan_in)``
        with ``fan_in = kh * kw * channels``.

    Returns
    -------
    Node
        ``(rows, height', width', features)``.

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model():
    ...     h = cr.nn.conv2d("c", cr.Data("x", np.zeros((4, 6, 6, 3))), 5, kernel_size=(3, 2), padding="VALID")
    >>> h.shape
    (4, 4, 5, 5)
    """
    what = f"conv2d {name!r}"
    if isinstance(features, bool) or not isinstance(features, (int, np.integer)) or features < 1:
        raise ValueError(f"{what}: features must be a positive integer; got {features!r}.")
    features = int(features)
    kernel = _pair(kernel_size, what, "kernel_size")
    stride = _pair(strides, what, "strides")
    pad = _padding(padding, what)
    channels = _image_shape(inputs, what)[-1]
    act = activation_fn(activation)
    prior = resolve_prior(prior, prior_sigma, what)
    fan_in = kernel[0] * kernel[1] * channels
    shape = kernel + (channels, features)
    rng = layer_rng(random_seed, name)
    w = layer_variable(f"{name}_w", shape, prior, rng.normal(0.0, 1.0 / np.sqrt(fan_in), size=shape), bayesian, what)
    out = cm.apply(_convolve, inputs, w, stride=stride, padding=pad)
    if bias:
        out = out + layer_variable(f"{name}_b", (features,), prior, np.zeros(features), bayesian, what)
    return act(out) if act is not None else out


def _convolve(images, kernel, stride, padding):
    images = images.astype(kernel.dtype)
    if isinstance(padding, str):
        padding = jax.lax.padtype_to_pads(images.shape[1:3], kernel.shape[:2], stride, padding)
    return _conv(images, kernel, tuple(stride), tuple(tuple(int(p) for p in pair) for pair in padding))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv(images, kernel, stride: tuple, pads: tuple):
    """A stride-``stride`` convolution of NHWC images with an HWIO kernel and explicit ``pads``.

    Its gradient is written out as two convolutions in the same NHWC / HWIO
    layout as the forward one. JAX's own gradient of a convolution uses
    other layouts (the kernel's gradient treats the channels as the batch),
    which XLA on the CPU rewrites into this layout in a program's body but
    not inside a loop: in a compiled chunk of ADVI steps the gradient of a
    convolutional network ran 8-23 times slower (benchmarks/big_networks.py).
    """
    return jax.lax.conv_general_dilated(images, kernel, stride, pads, dimension_numbers=_DIMENSIONS)


def _conv_forward(images, kernel, stride, pads):
    return _conv(images, kernel, stride, pads), (images, kernel)


def _conv_backward(stride, pads, residuals, cotangent):
    images, kernel = residuals
    size, window, out = images.shape[1:3], kernel.shape[:2], cotangent.shape[1:3]
    # the images' gradient: the cotangent, dilated by the stride, convolved with the flipped kernel
    pads_images = [(window[d] - 1 - pads[d][0], size[d] - 1 - (out[d] - 1) * stride[d] + pads[d][0]) for d in range(2)]
    flipped = jnp.transpose(jnp.flip(kernel, (0, 1)), (0, 1, 3, 2))
    d_images = jax.lax.conv_general_dilated(cotangent, flipped, (1, 1), pads_images, lhs_dilation=stride,
                                            dimension_numbers=_DIMENSIONS)
    # the kernel's gradient: the images with their channels as the batch, convolved with the cotangent
    pads_kernel = [(pads[d][0], window[d] + (out[d] - 1) * stride[d] - size[d] - pads[d][0]) for d in range(2)]
    d_kernel = jax.lax.conv_general_dilated(jnp.transpose(images, (3, 1, 2, 0)), jnp.transpose(cotangent, (1, 2, 0, 3)),
                                            (1, 1), pads_kernel, rhs_dilation=stride, dimension_numbers=_DIMENSIONS)
    return d_images, jnp.transpose(d_kernel, (1, 2, 0, 3))


_conv.defvjp(_conv_forward, _conv_backward)


def _pool(kind: str, inputs: Any, size, strides, padding) -> Node:
    what = f"{kind}_pool"
    window = _pair(size, what, "size")
    stride = window if strides is None else _pair(strides, what, "strides")
    pad = _padding(padding, what)
    _image_shape(inputs, what)
    return cm.apply(_reduce_window, inputs, kind=kind, window=window, stride=stride, padding=pad)


def _reduce_window(images, kind, window, stride, padding):
    dims, strides = (1,) + window + (1,), (1,) + stride + (1,)
    if kind == "max":
        return jax.lax.reduce_window(images, -jnp.inf, jax.lax.max, dims, strides, padding)
    total = jax.lax.reduce_window(images, 0.0, jax.lax.add, dims, strides, padding)
    if padding == "VALID":
        return total / (window[0] * window[1])
    ones = jnp.ones(images.shape[1:3] + (1,), images.dtype)[None]
    count = jax.lax.reduce_window(ones, 0.0, jax.lax.add, dims, strides, padding)
    return total / count  # the mean over the window's cells inside the image


def max_pool(inputs: Any, size: int | Sequence[int] = 2, strides: int | Sequence[int] | None = None,
             padding: str | Sequence = "VALID") -> Node:
    """The maximum over ``size`` windows of NHWC images (strides default to the window: no overlap).

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model():
    ...     cr.nn.max_pool(cr.Data("x", np.zeros((2, 7, 7, 3))), 2).shape
    (2, 3, 3, 3)
    """
    return _pool("max", inputs, size, strides, padding)


def avg_pool(inputs: Any, size: int | Sequence[int] = 2, strides: int | Sequence[int] | None = None,
             padding: str | Sequence = "VALID") -> Node:
    """The mean over ``size`` windows of NHWC images (with ``"SAME"`` padding, over the cells inside the image).

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model():
    ...     cr.nn.avg_pool(cr.Data("x", np.zeros((2, 8, 8, 3))), 4).shape
    (2, 2, 2, 3)
    """
    return _pool("avg", inputs, size, strides, padding)


def flatten(inputs: Any) -> Node:
    """``(rows, ...)`` to ``(rows, features)``: every axis after the first joined.

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model():
    ...     cr.nn.flatten(cr.Data("x", np.zeros((5, 4, 4, 2)))).shape
    (5, 32)
    """
    shape = tuple(inputs.shape if isinstance(inputs, Node) else np.shape(inputs))
    if len(shape) < 2:
        raise ValueError(f"flatten: inputs need rows and at least one more axis; got shape {shape}.")
    return cm.apply(_flatten_rows, inputs)


def _flatten_rows(values):
    return jnp.reshape(values, values.shape[:1] + (-1,))
