"""``cr.math``: JAX operations lifted to credo nodes.

Each function accepts nodes, arrays or numbers; with no node among its
arguments it simply computes. Any other JAX function lifts with
:func:`apply`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp

from .variables import apply

__all__ = [
    "apply", "dot", "matmul", "tanh", "sigmoid", "invlogit", "logit", "exp", "log", "log1p", "expm1", "sqrt",
    "square", "sum", "mean", "prod", "relu", "softplus", "softmax", "log_softmax", "logsumexp", "stack",
    "concatenate", "where", "clip", "abs", "maximum", "minimum", "sin", "cos", "erf", "reshape", "transpose",
    "log_sigmoid", "gelu", "elu", "std", "var", "max", "min", "outer", "cumsum",
]


def _lift(fn, name: str, doc: str):
    def lifted(*args, **kwargs):
        return apply(fn, *args, **kwargs)

    lifted.__name__ = lifted.__qualname__ = name
    lifted.__doc__ = f"{doc}\n\nAccepts credo nodes, arrays or numbers; returns a node when any argument is one."
    return lifted


dot = _lift(jnp.dot, "dot", "Dot product (matrix product for 2-D arguments).")
matmul = _lift(jnp.matmul, "matmul", "Matrix product, as the ``@`` operator.")
tanh = _lift(jnp.tanh, "tanh", "Hyperbolic tangent.")
sigmoid = _lift(jax.nn.sigmoid, "sigmoid", "Logistic sigmoid, ``1 / (1 + exp(-x))``.")
invlogit = sigmoid
logit = _lift(jsp.logit, "logit", "Log-odds, the inverse of the sigmoid.")
log_sigmoid = _lift(jax.nn.log_sigmoid, "log_sigmoid", "Logarithm of the sigmoid, computed stably.")
exp = _lift(jnp.exp, "exp", "Exponential.")
log = _lift(jnp.log, "log", "Natural logarithm.")
log1p = _lift(jnp.log1p, "log1p", "``log(1 + x)``, accurate for small x.")
expm1 = _lift(jnp.expm1, "expm1", "``exp(x) - 1``, accurate for small x.")
sqrt = _lift(jnp.sqrt, "sqrt", "Square root.")
square = _lift(jnp.square, "square", "Elementwise square.")
sum = _lift(jnp.sum, "sum", "Sum over ``axis`` (all axes by default).")  # noqa: A001
mean = _lift(jnp.mean, "mean", "Mean over ``axis`` (all axes by default).")
prod = _lift(jnp.prod, "prod", "Product over ``axis``.")
std = _lift(jnp.std, "std", "Standard deviation over ``axis``.")
var = _lift(jnp.var, "var", "Variance over ``axis``.")
max = _lift(jnp.max, "max", "Maximum over ``axis``.")  # noqa: A001
min = _lift(jnp.min, "min", "Minimum over ``axis``.")  # noqa: A001
cumsum = _lift(jnp.cumsum, "cumsum", "Cumulative sum over ``axis``.")
relu = _lift(jax.nn.relu, "relu", "Rectified linear unit, ``max(x, 0)``.")
gelu = _lift(jax.nn.gelu, "gelu", "Gaussian error linear unit.")
elu = _lift(jax.nn.elu, "elu", "Exponential linear unit.")
softplus = _lift(jax.nn.softplus, "softplus", "``log(1 + exp(x))``, computed stably.")
softmax = _lift(jax.nn.softmax, "softmax", "Softmax over ``axis`` (the last by default).")
log_softmax = _lift(jax.nn.log_softmax, "log_softmax", "Logarithm of the softmax, computed stably.")
logsumexp = _lift(jsp.logsumexp, "logsumexp", "``log(sum(exp(x)))`` over ``axis``, computed stably.")
stack = _lift(jnp.stack, "stack", "Stack a sequence of arrays along a new ``axis``.")
concatenate = _lift(jnp.concatenate, "concatenate", "Join a sequence of arrays along an existing ``axis``.")
where = _lift(jnp.where, "where", "``where(condition, x, y)``: elementwise choice.")
clip = _lift(jnp.clip, "clip", "Clip values to ``[min, max]``.")
abs = _lift(jnp.abs, "abs", "Absolute value.")  # noqa: A001
maximum = _lift(jnp.maximum, "maximum", "Elementwise maximum.")
minimum = _lift(jnp.minimum, "minimum", "Elementwise minimum.")
sin = _lift(jnp.sin, "sin", "Sine.")
cos = _lift(jnp.cos, "cos", "Cosine.")
erf = _lift(jsp.erf, "erf", "Error function.")
reshape = _lift(jnp.reshape, "reshape", "Reshape to a new shape.")
transpose = _lift(jnp.transpose, "transpose", "Permute the axes.")
outer = _lift(jnp.outer, "outer", "Outer product of two vectors.")
