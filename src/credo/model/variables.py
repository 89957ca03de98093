"""Symbolic nodes of a credo model.

Defining a node computes nothing but its shape and dtype (``jax.eval_shape``).
Values flow through the graph only when a compiled function evaluates it
(see :mod:`credo.model.compile`).
"""

from __future__ import annotations

import itertools
import operator
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ModelError

__all__ = [
    "Node",
    "Apply",
    "DataNode",
    "RandomVariable",
    "DeterministicNode",
    "PotentialNode",
    "apply",
    "evaluate",
]


_UIDS = itertools.count()


def _is_node(x: Any) -> bool:
    return isinstance(x, Node)


class Node:
    """Base class of every symbolic value: supports Python's operators.

    ``shape`` and ``dtype`` are known when the node is defined; values are
    computed only inside compiled functions.
    """

    # Make numpy arrays defer to the node: ``np.ones(3) + node`` calls
    # ``node.__radd__`` instead of broadcasting over an object array.
    __array_ufunc__ = None
    __array_priority__ = 1000

    name: str | None = None
    shape: tuple[int, ...] = ()
    dtype: Any = jnp.float32
    #: The name of the model a named node was registered in (for messages about mixing models).
    model_name: str | None = None

    @property
    def uid(self) -> int:
        """A number no other node of this process has (given on first use): the key of evaluation memos."""
        uid = self.__dict__.get("_uid")
        if uid is None:
            uid = self.__dict__["_uid"] = next(_UIDS)
        return uid

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=int))

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError(f"len() of a scalar node {self!r}")
        return self.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __bool__(self):
        raise TypeError(
            f"{self!r} is symbolic: its truth value is unknown until the model is "
            "evaluated. Use cr.math.where(condition, a, b) instead of if/else."
        )

    __hash__ = object.__hash__

    # arithmetic -------------------------------------------------------------
    def __add__(self, other):
        return apply(operator.add, self, other)

    def __radd__(self, other):
        return apply(operator.add, other, self)

    def __sub__(self, other):
        return apply(operator.sub, self, other)

    def __rsub__(self, other):
        return apply(operator.sub, other, self)

    def __mul__(self, other):
        return apply(operator.mul, self, other)

    def __rmul__(self, other):
        return apply(operator.mul, other, self)

    def __truediv__(self, other):
        return apply(operator.truediv, self, other)

    def __rtruediv__(self, other):
        return apply(operator.truediv, other, self)

    def __floordiv__(self, other):
        return apply(operator.floordiv, self, other)

    def __mod__(self, other):
        return apply(operator.mod, self, other)

    def __pow__(self, other):
        return apply(operator.pow, self, other)

    def __rpow__(self, other):
        return apply(operator.pow, other, self)

    def __matmul__(self, other):
        return apply(jnp.matmul, self, other)

    def __rmatmul__(self, other):
        return apply(jnp.matmul, other, self)

    def __neg__(self):
        return apply(operator.neg, self)

    def __pos__(self):
        return self

    def __abs__(self):
        return apply(jnp.abs, self)

    # comparisons ------------------------------------------------------------
    def __lt__(self, other):
        return apply(operator.lt, self, other)

    def __le__(self, other):
        return apply(operator.le, self, other)

    def __gt__(self, other):
        return apply(operator.gt, self, other)

    def __ge__(self, other):
        return apply(operator.ge, self, other)

    def __eq__(self, other):  # type: ignore[override]
        return apply(jnp.equal, self, other)

    def __ne__(self, other):  # type: ignore[override]
        return apply(jnp.not_equal, self, other)

    # indexing and array methods ---------------------------------------------
    def __getitem__(self, index):
        return apply(operator.getitem, self, index)

    @property
    def T(self) -> "Node":
        return apply(jnp.transpose, self)

    def sum(self, axis=None, keepdims=False) -> "Node":
        return apply(jnp.sum, self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False) -> "Node":
        return apply(jnp.mean, self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape) -> "Node":
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return apply(jnp.reshape, self, shape)

    def dot(self, other) -> "Node":
        return apply(jnp.dot, self, other)

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<{type(self).__name__}{label} shape={self.shape} dtype={jnp.dtype(self.dtype).name}>"


class Apply(Node):
    """An anonymous node: ``fn`` applied to arguments that may hold nodes."""

    def __init__(self, fn: Callable, args: tuple, kwargs: dict):
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        leaves, self._treedef = jax.tree_util.tree_flatten((args, kwargs), is_leaf=_is_node)
        self._leaves = leaves
        self.inputs = [leaf for leaf in leaves if _is_node(leaf)]
        node_positions = [i for i, leaf in enumerate(leaves) if _is_node(leaf)]
        self._node_positions = node_positions
        structs = [jax.ShapeDtypeStruct(n.shape, n.dtype) for n in self.inputs]
        try:
            out = jax.eval_shape(self._call, *structs)
        except Exception as error:  # the operation itself rejects the shapes
            described = ", ".join(repr(n) for n in self.inputs)
            raise _shape_error(fn, described, error) from None
        if not isinstance(out, jax.ShapeDtypeStruct):
            raise TypeError(
                f"{_fn_name(fn)} returned {type(out).__name__}; a credo node holds one array. "
                "Wrap functions that return several arrays in one call per output."
            )
        self.shape = tuple(out.shape)
        self.dtype = out.dtype

    def _call(self, *values):
        leaves = list(self._leaves)
        for position, value in zip(self._node_positions, values):
            leaves[position] = value
        args, kwargs = jax.tree_util.tree_unflatten(self._treedef, leaves)
        return self.fn(*args, **kwargs)


def _fn_name(fn: Callable) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def _shape_error(fn: Callable, described: str, error: Exception) -> Exception:
    return ModelError(f"{_fn_name(fn)} cannot combine {described}: {error}")


class DataNode(Node):
    """A named input (``cr.Data``); its value lives in the model.

    ``mutable`` is False for ``cr.ConstantData``, whose values ``set_data`` refuses to change.
    """

    mutable: bool = True

    def __init__(self, name: str, value: jax.Array):
        self.name = name
        self.shape = tuple(value.shape)
        self.dtype = value.dtype


class RandomVariable(Node):
    """A free or observed random variable.

    Attributes
    ----------
    name : str
    distribution : credo.distributions.DistributionSpec
        How to build the numpyro distribution from the parameters.
    params : dict
        Parameter name to a constant array or a node.
    param_batch_shape : tuple or None
        The batch shape of the distribution its parameters alone gave when it
        was defined (before broadcasting with ``shape`` or observed data).
    batch_shape : tuple
        The batch shape the distribution is expanded to (``shape`` minus the
        event dimensions).
    observed : DataNode or None
        The observed values, held as data of the model (``None`` when free).
    total_size : int, tuple or None
        The size of the full data set, for minibatch scaling.
    initval : array or None
        The user's initial value, in constrained space.
    written_params : dict or None
        The parameters as written, where they differ from ``params``.
    point_estimate : bool
        Whether variational fits estimate it by a point (MAP inside the
        ELBO) rather than a distribution: ``cr.nn`` layers with
        ``bayesian=False`` set it. Samplers ignore it.
    """

    param_batch_shape: tuple | None = None
    #: The parameters as the user wrote them, where credo evaluates an equivalent form
    #: (``Bernoulli(p=sigmoid(z))`` as ``logit_p=z``); None when ``params`` are as written.
    written_params: dict | None = None
    point_estimate: bool = False

    def __init__(self, name, distribution, params, shape, dtype, batch_shape, observed, total_size, initval):
        self.name = name
        self.distribution = distribution
        self.params = params
        self.shape = tuple(shape)
        self.dtype = dtype
        self.batch_shape = tuple(batch_shape)
        self.observed = observed
        self.total_size = total_size
        self.initval = initval

    @property
    def is_observed(self) -> bool:
        return self.observed is not None

    @property
    def inputs(self) -> list[Node]:
        return [p for p in self.params.values() if _is_node(p)]


class DeterministicNode(Node):
    """A named node whose value is recorded in the posterior (``cr.Deterministic``)."""

    def __init__(self, name: str, expression: Node):
        self.name = name
        self.expression = expression
        self.shape = expression.shape
        self.dtype = expression.dtype


class PotentialNode(Node):
    """A named term added to the model's log density (``cr.Potential``)."""

    def __init__(self, name: str, expression: Node):
        self.name = name
        self.expression = expression
        self.shape = expression.shape
        self.dtype = expression.dtype


def apply(fn: Callable, *args, **kwargs):
    """Apply any JAX function to nodes, building a new node.

    Arguments (and keyword arguments) may be nodes, arrays, numbers, or
    Python containers holding them. When no argument is a node the function
    is simply called.

    Examples
    --------
    >>> import credo as cr, jax
    >>> with cr.Model():
    ...     w = cr.Normal("w", 0, 1, shape=(3,))
    ...     z = cr.math.apply(jax.nn.gelu, w)
    >>> z.shape
    (3,)
    """
    leaves = jax.tree_util.tree_leaves((args, kwargs), is_leaf=_is_node)
    if not any(_is_node(leaf) for leaf in leaves):
        return fn(*args, **kwargs)
    return Apply(fn, args, kwargs)


def evaluate(node: Any, values: dict[str, jax.Array], cache: dict[int, jax.Array]) -> Any:
    """The value of ``node`` given the values of the named leaves.

    ``values`` maps the names of random variables and data to arrays;
    ``cache`` memoises anonymous and deterministic nodes by their ``uid`` within
    one evaluation so that shared sub-expressions are traced once.
    """
    if not _is_node(node):
        return node
    key = node.uid
    if key in cache:
        return cache[key]
    if isinstance(node, (RandomVariable, DataNode)):
        result = values[node.name]
    elif isinstance(node, (DeterministicNode, PotentialNode)):
        result = evaluate(node.expression, values, cache)
    elif isinstance(node, Apply):
        inputs = [evaluate(n, values, cache) for n in node.inputs]
        result = node._call(*inputs)
    else:  # pragma: no cover - every node type is handled above
        raise TypeError(f"cannot evaluate {node!r}")
    cache[key] = result
    return result
