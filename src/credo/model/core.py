"""The model: a record of named variables, and the model context stack.

The context stack is credo's only global state: ``with cr.Model() as m:``
makes ``m`` the model that new variables join.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ..errors import (
    DataError, DataTypeError, ModelContextError, ModelError, ObservedError, ParameterTypeError,
)
from . import coords as _coords
from .arrays import float_dtype, to_device
from .compile import compile_model, initial_point, joint_logp, point_logps
from .describe import model_html, str_repr
from .graph import adopt_pending, check_same_model
from .placement import RESERVED_PREFIX, DistributedRows, PlacedData, Placement, place_data, streamed_names
from .sources import StreamedRows
from .variables import Apply, DataNode, DeterministicNode, Node, PotentialNode, RandomVariable

__all__ = [
    "Model", "modelcontext", "Data", "MutableData", "ConstantData", "Deterministic", "Potential", "set_data",
    "as_data_array",
]

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

    With coordinates, variables take their shapes from named dimensions:

    >>> with cr.Model(coords={"city": ["Paris", "Oslo", "Rome"]}) as model:
    ...     a = cr.Normal("a", 0, 1, dims="city")
    >>> a.shape, model.named_vars_to_dims["a"]
    ((3,), ('city',))

    Parameters
    ----------
    name : str
        A name, shown in messages and in :meth:`str_repr`.
    coords : dict, optional
        Dimension name -> labels (a sequence of distinct labels), as
        :meth:`add_coords` takes them.
    coords_mutable : dict, optional
        The same; PyMC 5.x's spelling for coordinates whose length may change
        (in credo every dimension's length may change with ``set_data``,
        unless it sets the shape of a free variable).
    """

    def __init__(self, name: str = "", coords: Mapping[str, Any] | None = None, *,
                 coords_mutable: Mapping[str, Any] | None = None):
        if not isinstance(name, str):
            raise ModelError(f"Model: name must be a string; got {type(name).__name__}.")
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
        self.labelled_dims: set[str] = set()  # dimensions whose labels the user gave
        self._version = 0
        self._compiled = None
        self._data_version = 0  # changes with every change of the data values
        self._placed: tuple | None = None  # ((placement, data version), PlacedData) of the last placement
        self.add_coords(coords or {})
        self.add_coords(coords_mutable or {})

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
        if name.startswith(RESERVED_PREFIX):
            raise ModelError(f"the name {name!r} starts with {RESERVED_PREFIX!r}, which credo keeps for its own data "
                             "entries: choose another name.")
        if name in self.named_vars or name in self.data_values:
            raise ModelError(f"the name {name!r} is used twice in this model: every variable needs its own name.")

    def _changed(self) -> None:
        self._version += 1
        self._data_version += 1
        self._compiled = None

    def add_variable(self, node: Node) -> None:
        node.model_name = self.name
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
        what = f"observed values of {name!r}"
        if isinstance(value, DistributedRows):
            array = value.with_local(np.asarray(_to_device(value.local, discrete, what, ObservedError)))
        else:
            array = _to_device(value, discrete, what, ObservedError)
        self.data_values[name] = array
        return DataNode(name, array)

    def discard_observed_data(self, name: str) -> None:
        self.data_values.pop(name, None)

    def add_minibatch_group(self, group, nodes) -> None:
        """Record a group of minibatch data nodes (see :func:`credo.Minibatch`), registered as Data first."""
        for node in nodes:
            node.model_name = self.name
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
        header = f"<credo.Model {self.name!r}>" if self.name else "<credo.Model>"
        body = self.str_repr()
        return header + ("\n" + body if body else "")

    def __str__(self) -> str:
        return self.str_repr()

    def str_repr(self) -> str:
        """The model as text: one line per variable with its distribution, parameters, shape and dims.

        Examples
        --------
        >>> import credo as cr
        >>> with cr.Model() as model:
        ...     mu = cr.Normal("mu", 0, 10)
        ...     y = cr.Normal("y", mu, 1, observed=[0.5, 1.5])
        >>> print(model.str_repr())
        mu ~ Normal(mu=0, sigma=10)
         y ~ Normal(mu=mu, sigma=1)  shape (2,)  observed
        """
        return str_repr(self)

    def _repr_html_(self) -> str:
        return model_html(self)

    # coordinates --------------------------------------------------------------
    @property
    def dim_lengths(self) -> dict[str, int]:
        """The length of every dimension: name -> number of labels."""
        return {name: len(labels) for name, labels in self.coords.items()}

    def add_coord(self, name: str, values: Any = None, mutable: bool | None = None, *,
                  length: int | None = None) -> None:
        """Add a named dimension, with its labels (or only its length: labels ``0..length-1``).

        Parameters
        ----------
        name : str
        values : sequence, optional
            Distinct, hashable labels.
        mutable : bool, optional
            Accepted for PyMC 5.x's signature; every dimension may change
            length with ``set_data`` unless it sets a free variable's shape.
        length : int, optional
            The length, when no labels are given.

        Examples
        --------
        >>> import credo as cr
        >>> model = cr.Model()
        >>> model.add_coord("city", ["Paris", "Oslo"])
        >>> model.coords
        {'city': ('Paris', 'Oslo')}
        """
        _coords.add_coord(self, name, values, length)

    def add_coords(self, coords: Mapping[str, Any], *, lengths: Mapping[str, int] | None = None) -> None:
        """Add several named dimensions: ``{name: labels}`` (and ``lengths={name: n}`` for unlabelled ones).

        Examples
        --------
        >>> import credo as cr
        >>> model = cr.Model()
        >>> model.add_coords({"city": ["Paris", "Oslo"], "year": [2020, 2021, 2022]})
        >>> model.dim_lengths
        {'city': 2, 'year': 3}
        """
        if not isinstance(coords, Mapping) or (lengths is not None and not isinstance(lengths, Mapping)):
            raise DataTypeError(f"coords must be a dict of dimension name -> labels; got {type(coords).__name__}.")
        for name, values in coords.items():
            self.add_coord(name, values, length=(lengths or {}).get(name))
        for name, length in (lengths or {}).items():
            if name not in coords:
                self.add_coord(name, length=length)

    # data ---------------------------------------------------------------------
    def set_data(self, new_data: Mapping[str, ArrayLike] | str, values: ArrayLike | None = None,
                 coords: Mapping[str, Any] | None = None) -> None:
        """Replace the values of ``cr.Data`` variables (also with another number of rows).

        Parameters
        ----------
        new_data : dict or str
            Data variable name -> new values (numeric, with the same trailing
            shape; the number of rows may change); or, as PyMC's
            ``model.set_data(name, values)``, one name with ``values``.
        values : array_like, optional
            The new values when ``new_data`` is a name.
        coords : dict, optional
            New labels of the dimensions whose length changes (required for a
            dimension whose labels were given; ``0..n-1`` otherwise).

        Examples
        --------
        >>> import credo as cr, numpy as np
        >>> with cr.Model() as model:
        ...     x = cr.Data("x", np.zeros((10, 2)))
        >>> model.set_data({"x": np.ones((4, 2))})
        >>> model.data_values["x"].shape
        (4, 2)
        """
        if isinstance(new_data, str):
            if values is None:
                raise DataTypeError(f"set_data({new_data!r}, values): give the new values of {new_data!r}.")
            new_data = {new_data: values}
        elif values is not None:
            raise DataTypeError("set_data: give either a dict of new data, or a name and its values.")
        updates = self.validated_data(new_data)
        if coords is not None and not isinstance(coords, Mapping):
            raise DataTypeError(f"set_data: coords must be a dict of dimension name -> labels; got "
                                f"{type(coords).__name__}.")
        new_coords = _coords.resized_coords(self, updates, coords, "set_data")
        self.data_values.update(updates)
        self._data_version += 1
        self.coords.update(new_coords)
        self.labelled_dims.update(coords or {})

    def validated_data(self, new_data: Mapping[str, ArrayLike], what: str = "set_data") -> dict:
        """New values of Data variables, checked as :meth:`set_data` checks them and converted as the
        model holds them; the model is not changed."""
        if not isinstance(new_data, Mapping):
            raise DataTypeError(f"{what}: give the new data as a dict of Data variable name -> values, e.g. "
                                f"{{'x': X_new}}; got {type(new_data).__name__}.")
        updates = {}
        for name, value in new_data.items():
            node = self.data_vars.get(name)
            if node is None:
                raise DataError(f"{what}: the model has no Data variable {name!r}; its Data variables are "
                                f"{sorted(self.data_vars)}.")
            if not getattr(node, "mutable", True):
                raise DataError(f"{what}: {name!r} is ConstantData: its values cannot change. Define it with "
                                "cr.Data or cr.MutableData to replace them.")
            old = self.data_values[name]
            if isinstance(value, DistributedRows):
                updates[name] = _distributed_array(value, f"{what}: {name!r}", old, DataError)
                continue
            array = _numeric_array(value, f"{what}: {name!r}")
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
            updates[name] = _to_device(array, jnp.issubdtype(old.dtype, jnp.integer), f"{what}: {name!r}", DataError)
        return updates

    def placed_data(self, placement: Placement | None, stand_in: bool = False) -> PlacedData:
        """The model's data as programs on ``placement`` receive them: rows sharded over its devices (see
        :mod:`credo.model.placement`); as they are for one device. Kept until the data change, so the
        programs of one fit, its draws and its predictions share one placed copy. ``stand_in``: the first
        rows of arrays streamed from the host stand in for them (else they are an error)."""
        key = (placement, stand_in and bool(streamed_names(self.data_values)), self._data_version)
        if self._placed is None or self._placed[0] != key:
            self._placed = None  # let the old copy go before the new one is made
            self._placed = (key, place_data(self, self.data_values, placement, stand_in))
        return self._placed[1]

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

    def point_logps(self, point: Mapping[str, ArrayLike] | None = None) -> dict[str, float]:
        """The log density of each term at constrained values: every free variable's prior, every
        likelihood (scaled by ``total_size``), every potential.

        Parameters
        ----------
        point : dict, optional
            A value for every free variable (default: :meth:`initial_point`).

        Examples
        --------
        >>> import credo as cr
        >>> with cr.Model() as model:
        ...     x = cr.Normal("x", 0, 1)
        ...     y = cr.Normal("y", x, 1, observed=[0.0])
        >>> {name: round(value, 4) for name, value in model.point_logps({"x": 0.0}).items()}
        {'x': -0.9189, 'y': -0.9189}
        """
        return point_logps(self, self.initial_point() if point is None else point)


def _numeric_array(value: Any, what: str) -> np.ndarray:
    """``value`` as a numeric numpy array, or a DataTypeError naming ``what``."""
    if isinstance(value, Node):
        raise DataTypeError(f"{what}: values must be a numeric array, not a model variable {value!r}.")
    try:
        array = np.asarray(value)
    except ValueError:  # ragged nested lists
        raise DataTypeError(f"{what}: values must be a numeric array; got a ragged {type(value).__name__}.") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise DataTypeError(f"{what}: values must be numeric; got {type(value).__name__} of dtype {array.dtype}.")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise DataTypeError(f"{what}: values must be real numbers; got dtype {array.dtype}.")
    return array


def as_data_array(value: Any, what: str, error_cls: type = DataError) -> jax.Array:
    """``value`` as a data array of a model, checked: numeric, finite, and exactly representable
    (floats in the default float dtype, integers in the default integer dtype).

    Examples
    --------
    >>> as_data_array([1.5, 2.0], "x").dtype
    dtype('float32')
    """
    if isinstance(value, DistributedRows):
        return _distributed_array(value, what, None, error_cls)
    if isinstance(value, StreamedRows):  # its first rows are checked; the others as they are read
        as_data_array(value.sample(), f"{what} (its first rows)", error_cls)
        return value
    array = _numeric_array(value, what)
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise error_cls(f"{what}: values contain NaN or inf.")
    return _to_device(array, False, what, error_cls)


def _distributed_array(value: DistributedRows, what: str, old, error_cls: type) -> DistributedRows:
    """This process's rows checked and converted as :func:`as_data_array` does (``old``: the values they replace)."""
    local = as_data_array(value.local, f"{what} (this process's rows)", error_cls)
    if old is not None and (local.ndim != len(old.shape) or tuple(local.shape[1:]) != tuple(old.shape[1:])):
        raise DataError(f"{what}: must keep its trailing shape {tuple(old.shape[1:])} (only the number of rows may "
                        f"change); got rows of shape {tuple(local.shape[1:])}.")
    return value.with_local(np.asarray(local))


def _to_device(value, discrete: bool, what: str = "data", error_cls: type = DataError):
    """``value`` as the model holds it: floats in the default float dtype, integers (and integral floats of
    a discrete variable) in the default integer dtype. Values that dtype cannot hold exactly are refused."""
    array = np.asarray(value)
    integer = jax.dtypes.canonicalize_dtype(np.int64)  # int32, or int64 under x64
    if discrete and np.issubdtype(array.dtype, np.floating) and np.all(array == np.round(array)):
        _check_integer_range(array, integer, what, error_cls)
        return to_device(array, integer)
    if np.issubdtype(array.dtype, np.floating) or array.dtype == bool:
        floating = float_dtype()
        if array.size and np.issubdtype(array.dtype, np.floating) and np.abs(array).max() > np.finfo(floating).max:
            raise error_cls(f"{what}: values up to {np.abs(array).max():g} overflow {floating}; rescale them, or "
                            "enable x64 (jax.config.update('jax_enable_x64', True)) before building the model.")
        return to_device(array, floating)
    if np.issubdtype(array.dtype, np.integer):
        _check_integer_range(array, integer, what, error_cls)
        return to_device(array, integer)
    return to_device(array)


def _check_integer_range(array: np.ndarray, integer, what: str, error_cls: type) -> None:
    if not array.size:
        return
    limits = np.iinfo(integer)
    low, high = array.min(), array.max()
    if low < limits.min or high > limits.max:
        bad = high if high > limits.max else low
        raise error_cls(f"{what}: the value {bad:.0f} does not fit in {np.dtype(integer).name} (credo would have "
                        f"to wrap it); enable x64 (jax.config.update('jax_enable_x64', True)) before building the "
                        "model to keep such integers exact, or pass them as floats.")


def modelcontext(model: Model | None = None, what: str = "this call") -> Model:
    """``model`` if given, else the model of the current ``with`` block."""
    if model is not None:
        return model
    return Model.get_context(what=what)


def Data(name: str, value: ArrayLike, *, dims: Any = None, coords: Mapping[str, Any] | None = None,
         mutable: bool = True, model: Model | None = None) -> DataNode:
    """A data variable: an input whose value can be replaced with ``cr.set_data``.

    Parameters
    ----------
    name : str
    value : array_like
        Numeric values (floats are held in the default float dtype).
    dims : str or tuple of str, optional
        A dimension name per axis (``None`` for an unnamed one). Dimensions
        the model does not know yet are added with this array's lengths.
    coords : dict, optional
        Labels of dimensions to add to the model first (see :meth:`Model.add_coords`).
    mutable : bool
        ``False`` makes it :func:`ConstantData`: ``set_data`` refuses to change it.
    model : Model, optional
        The model (default: the one of the ``with`` block).

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model() as model:
    ...     x = cr.Data("x", np.random.randn(100, 2), dims=("obs", "feature"))
    >>> x.shape, model.dim_lengths
    ((100, 2), {'obs': 100, 'feature': 2})
    """
    model = modelcontext(model, what=f"Data({name!r}, ...)")
    model.check_new_name(name)
    if not isinstance(mutable, bool):
        raise DataTypeError(f"Data {name!r}: mutable must be True or False; got {mutable!r}.")
    label = f"Data {name!r}"
    dims = _coords.normalize_dims(dims, label)
    device_value = as_data_array(value, label)
    if coords is not None:
        model.add_coords(coords)
    _coords.register_dims(model, name, dims, tuple(device_value.shape), label, new_dims=True)
    model.data_values[name] = device_value
    node = DataNode(name, device_value)
    node.mutable = mutable
    model.add_variable(node)
    return node


def MutableData(name: str, value: ArrayLike, *, dims: Any = None, coords: Mapping[str, Any] | None = None,
                model: Model | None = None) -> DataNode:
    """Data that ``cr.set_data`` may replace (PyMC 5.x's name; the same as :func:`Data`).

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model() as model:
    ...     x = cr.MutableData("x", np.zeros(3))
    ...     cr.set_data({"x": np.ones(5)})
    >>> model.data_values["x"].shape
    (5,)
    """
    return Data(name, value, dims=dims, coords=coords, mutable=True, model=model)


def ConstantData(name: str, value: ArrayLike, *, dims: Any = None, coords: Mapping[str, Any] | None = None,
                 model: Model | None = None) -> DataNode:
    """Data whose values never change: ``cr.set_data`` refuses them (PyMC 5.x's ``ConstantData``).

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model() as model:
    ...     group = cr.ConstantData("group", np.array([0, 1, 1]))
    >>> group.mutable
    False
    """
    return Data(name, value, dims=dims, coords=coords, mutable=False, model=model)


def Deterministic(name: str, value: Node, *, dims: Any = None, model: Model | None = None) -> DeterministicNode:
    """A named quantity recorded in the posterior and the predictive.

    Parameters
    ----------
    name : str
    value : node or array_like
        An expression of the model's variables (or a numeric constant).
    dims : str or tuple of str, optional
        A known dimension name per axis of ``value``.
    model : Model, optional

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model():
    ...     w = cr.Normal("w", 0, 1, shape=(3,))
    ...     total = cr.Deterministic("total", w.sum())
    >>> total.shape
    ()
    """
    return _named_expression(DeterministicNode, "Deterministic", name, value, dims, model)


def Potential(name: str, value: Node, *, dims: Any = None, model: Model | None = None) -> PotentialNode:
    """A term added to the model's log density (summed over its elements).

    Parameters
    ----------
    name : str
    value : node or array_like
        An expression of the model's variables (or a numeric constant).
    dims : str or tuple of str, optional
        A known dimension name per axis of ``value``.
    model : Model, optional

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model():
    ...     x = cr.Normal("x", 0, 1)
    ...     cr.Potential("keep_positive", cr.math.log(cr.math.sigmoid(10 * x)))  # doctest: +ELLIPSIS
    <PotentialNode ...>
    """
    return _named_expression(PotentialNode, "Potential", name, value, dims, model)


def _named_expression(node_type: type, kind: str, name: str, value: Any, dims: Any, model: Model | None):
    """Record a ``Deterministic`` or ``Potential``: an expression of the model's variables under a name."""
    model = modelcontext(model, what=f"{kind}({name!r}, ...)")
    model.check_new_name(name)
    label = f"{kind} {name!r}"
    expression = _as_node(value, label)
    adopt_pending(model, [expression])
    check_same_model(model, [("its value", expression)], label)
    dims = _coords.normalize_dims(dims, label)
    _coords.register_dims(model, name, dims, tuple(expression.shape), label)
    node = node_type(name, expression)
    model.add_variable(node)
    return node


def _as_node(value: Any, label: str) -> Node:
    """``value`` as a node: a node itself, or a numeric constant; anything else is a ParameterTypeError."""
    if isinstance(value, Node):
        return value
    if callable(value):
        raise ParameterTypeError(f"{label}: got the function {getattr(value, '__name__', value)!r}; give the "
                                 "expression it computes (call it on the model's variables).")
    if value is None or isinstance(value, (str, bytes)):
        raise ParameterTypeError(f"{label}: the value must be an expression of the model's variables or a number; "
                                 f"got {value!r}.")
    array = _numeric_array(value, label)
    constant = to_device(array, float_dtype() if not np.issubdtype(array.dtype, np.integer) else None)
    return Apply(lambda: constant, (), {})


def set_data(new_data: Mapping[str, ArrayLike], model: Model | None = None,
             coords: Mapping[str, Any] | None = None) -> None:
    """Replace Data values in the current model (see :meth:`Model.set_data`).

    Parameters
    ----------
    new_data : dict
        Data variable name -> new values.
    model : Model, optional
        The model (default: the one of the ``with`` block).
    coords : dict, optional
        New labels of the dimensions whose length changes.

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model(coords={"obs": range(3)}) as model:
    ...     x = cr.Data("x", np.zeros(3), dims="obs")
    ...     cr.set_data({"x": np.ones(2)}, coords={"obs": ["a", "b"]})
    >>> model.coords["obs"]
    ('a', 'b')
    """
    modelcontext(model, what="set_data").set_data(new_data, coords=coords)
