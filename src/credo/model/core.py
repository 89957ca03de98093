"""The model: a record of named variables, and the model context stack.

The context stack is credo's only global state: ``with cr.Model() as m:``
makes ``m`` the model that new variables join.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping

import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ..errors import DataError, ModelContextError, ModelError
from .arrays import float_dtype, to_device
from .compile import compile_model, initial_point, joint_logp
from .variables import Apply, DataNode, DeterministicNode, Node, PotentialNode, RandomVariable

__all__ = ["Model", "modelcontext", "Data", "Deterministic", "Potential", "set_data"]

_context = threading.local()


def _stack() -> list["Model"]:
    if not hasattr(_context, "stack"):
        _context.stack = []
    return _context.stack


class Model:
    """A probabilistic model, written as in PyMC.

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model() as model:
    ...     mu = cr.Normal("mu", 0, 10)
    ...     y = cr.Normal("y", mu, 1, observed=np.array([0.5, 1.5]))
    >>> [v.name for v in model.free_variables]
    ['mu']
    """

    def __init__(self, name: str = ""):
        self.name = name
        self.named_vars: dict[str, Node] = {}
        self.data_values: dict[str, Any] = {}  # every data argument: Data nodes and observed arrays
        self.data_vars: dict[str, DataNode] = {}  # the user's cr.Data nodes only
        self.free_variables: list[RandomVariable] = []
        self.observed_variables: list[RandomVariable] = []
        self.deterministics: list[DeterministicNode] = []
        self.potentials: list[PotentialNode] = []
        self.minibatches: list = []
        #: Coordinate labels of named dimensions, as PyMC's ``model.coords``: name -> tuple of labels.
        self.coords: dict[str, tuple] = {}
        #: The dimension names of each variable, as PyMC's ``model.named_vars_to_dims``: name -> tuple.
        self.named_vars_to_dims: dict[str, tuple] = {}
        self._version = 0
        self._compiled = None

    # context ------------------------------------------------------------------
    def __enter__(self) -> "Model":
        _stack().append(self)
        return self

    def __exit__(self, *exc) -> None:
        _stack().pop()

    @staticmethod
    def get_context(what: str = "this call", error: bool = True) -> "Model | None":
        """The innermost model of the ``with`` stack."""
        stack = _stack()
        if stack:
            return stack[-1]
        if error:
            raise ModelContextError(
                f"{what} was made outside a model context: define it inside `with cr.Model():`, "
                "or pass model=..."
            )
        return None

    # registration -------------------------------------------------------------
    def check_new_name(self, name: Any) -> None:
        if not isinstance(name, str) or not name:
            raise ModelError(f"variable names must be non-empty strings; got {name!r}.")
        if name in self.named_vars or name in self.data_values:
            raise ModelError(f"the name {name!r} is used twice in this model: every variable needs its own name.")

    def _changed(self) -> None:
        self._version += 1
        self._compiled = None

    def add_variable(self, node: Node) -> None:
        self.named_vars[node.name] = node
        if isinstance(node, RandomVariable):
            (self.observed_variables if node.is_observed else self.free_variables).append(node)
        elif isinstance(node, DeterministicNode):
            self.deterministics.append(node)
        elif isinstance(node, PotentialNode):
            self.potentials.append(node)
        elif isinstance(node, DataNode):
            self.data_vars[node.name] = node
        self._changed()

    def add_observed_data(self, name: str, value: np.ndarray, discrete: bool) -> DataNode:
        """Hold an observed array as a data argument named after its variable."""
        array = _to_device(value, discrete)
        self.data_values[name] = array
        return DataNode(name, array)

    def discard_observed_data(self, name: str) -> None:
        self.data_values.pop(name, None)

    def add_minibatch_group(self, group, nodes) -> None:
        """Record a group of minibatch data nodes (see :func:`credo.Minibatch`), registered as Data first."""
        for node in nodes:
            self.data_vars[node.name] = node
            self.named_vars[node.name] = node
        self.minibatches.append(group)
        self._changed()

    def __getitem__(self, name: str) -> Node:
        try:
            return self.named_vars[name]
        except KeyError:
            raise KeyError(f"no variable named {name!r}; the model has {sorted(self.named_vars)}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.named_vars

    def __repr__(self) -> str:
        lines = [f"<credo.Model {self.name!r}>" if self.name else "<credo.Model>"]
        for rv in self.free_variables + self.observed_variables:
            role = "observed" if rv.is_observed else "free"
            lines.append(f"  {rv.name} ~ {rv.distribution.name}  shape={rv.shape}  ({role})")
        lines.extend(f"  {d.name} = Deterministic  shape={d.shape}" for d in self.deterministics)
        return "\n".join(lines)

    # data ---------------------------------------------------------------------
    def set_data(self, new_data: Mapping[str, ArrayLike]) -> None:
        """Replace the values of ``cr.Data`` variables (also with another number of rows).

        Examples
        --------
        >>> import credo as cr, numpy as np
        >>> with cr.Model() as model:
        ...     x = cr.Data("x", np.zeros((10, 2)))
        >>> model.set_data({"x": np.ones((4, 2))})
        >>> model.data_values["x"].shape
        (4, 2)
        """
        self.data_values.update(self.validated_data(new_data))

    def validated_data(self, new_data: Mapping[str, ArrayLike], what: str = "set_data") -> dict:
        """New values of Data variables, checked as :meth:`set_data` checks them and converted as the
        model holds them; the model is not changed."""
        updates = {}
        for name, value in new_data.items():
            node = self.data_vars.get(name)
            if node is None:
                raise DataError(f"{what}: the model has no Data variable {name!r}; its Data variables are "
                                f"{sorted(self.data_vars)}.")
            old = self.data_values[name]
            array = np.asarray(value)
            if array.ndim != old.ndim:
                raise DataError(f"{what}: {name!r} had {old.ndim} dimensions {old.shape}; got {array.ndim} "
                                f"dimensions {array.shape}.")
            if array.shape[1:] != old.shape[1:]:
                raise DataError(
                    f"{what}: {name!r} must keep its trailing shape {old.shape[1:]} (only the number of rows "
                    f"may change); got shape {array.shape}."
                )
            if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
                raise DataError(f"{what}: {name!r} contains NaN or inf.")
            updates[name] = _to_device(array, jnp.issubdtype(old.dtype, jnp.integer))
        return updates

    # evaluation ---------------------------------------------------------------
    def compile(self):
        """The pure JAX functions of this model (cached until the model changes)."""
        if self._compiled is None:
            self._compiled = compile_model(self)
        return self._compiled

    def initial_point(self) -> dict[str, np.ndarray]:
        """Initial values of the free variables, in constrained space.

        A variable's ``initval`` if it has one, else its prior mean where that is
        finite and inside the support, else the transform of zero.
        """
        return initial_point(self)

    def logp(self, point: Mapping[str, ArrayLike], jacobian: bool = False) -> float:
        """The joint log density at constrained values.

        Parameters
        ----------
        point : dict
            A value for every free variable; observed variables given here
            replace their data.
        jacobian : bool
            Add the log-Jacobian of the transforms to the unconstrained space.

        Examples
        --------
        >>> import credo as cr
        >>> with cr.Model() as model:
        ...     x = cr.Normal("x", 0, 1)
        >>> round(float(model.logp({"x": 0.0})), 4)
        -0.9189
        """
        return joint_logp(self, point, jacobian)


def _to_device(value, discrete: bool):
    array = np.asarray(value)
    if discrete and np.issubdtype(array.dtype, np.floating) and np.all(array == np.round(array)):
        return to_device(array, np.int32)
    if np.issubdtype(array.dtype, np.floating) or array.dtype == bool:
        return to_device(array, float_dtype())
    return to_device(array)


def modelcontext(model: Model | None = None, what: str = "this call") -> Model:
    """``model`` if given, else the model of the current ``with`` block."""
    if model is not None:
        return model
    return Model.get_context(what=what)


def Data(name: str, value: ArrayLike, *, model: Model | None = None) -> DataNode:
    """A mutable input: its value can be replaced with ``cr.set_data``.

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model():
    ...     x = cr.Data("x", np.random.randn(100, 2))
    >>> x.shape
    (100, 2)
    """
    model = modelcontext(model, what=f"Data({name!r}, ...)")
    model.check_new_name(name)
    array = np.asarray(value)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise DataError(f"Data {name!r}: values must be numeric; got dtype {array.dtype}.")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise DataError(f"Data {name!r}: values contain NaN or inf.")
    device_value = _to_device(array, discrete=False)
    model.data_values[name] = device_value
    node = DataNode(name, device_value)
    model.add_variable(node)
    return node


def Deterministic(name: str, value: Node, *, model: Model | None = None) -> DeterministicNode:
    """A named quantity recorded in the posterior and the predictive.

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model():
    ...     w = cr.Normal("w", 0, 1, shape=(3,))
    ...     total = cr.Deterministic("total", w.sum())
    """
    model = modelcontext(model, what=f"Deterministic({name!r}, ...)")
    model.check_new_name(name)
    node = DeterministicNode(name, _as_node(value, name))
    model.add_variable(node)
    return node


def Potential(name: str, value: Node, *, model: Model | None = None) -> PotentialNode:
    """A term added to the model's log density (summed over its elements).

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model():
    ...     x = cr.Normal("x", 0, 1)
    ...     cr.Potential("keep_positive", cr.math.log(cr.math.sigmoid(10 * x)))  # doctest: +ELLIPSIS
    <PotentialNode ...>
    """
    model = modelcontext(model, what=f"Potential({name!r}, ...)")
    model.check_new_name(name)
    node = PotentialNode(name, _as_node(value, name))
    model.add_variable(node)
    return node


def _as_node(value: Any, name: str) -> Node:
    if isinstance(value, Node):
        return value
    array = jnp.asarray(value)
    return Apply(lambda: array, (), {})


def set_data(new_data: Mapping[str, ArrayLike], model: Model | None = None) -> None:
    """Replace Data values in the current model (see :meth:`Model.set_data`)."""
    modelcontext(model, what="set_data").set_data(new_data)
