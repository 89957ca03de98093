"""The named variables a node depends on, and the check that they belong to the model being defined."""

from __future__ import annotations

from typing import Any, Iterable

from ..errors import ModelError
from .variables import Apply, DataNode, DeterministicNode, Node, PotentialNode, RandomVariable

__all__ = ["named_parents", "check_same_model", "adopt_pending"]

_NAMED = (RandomVariable, DataNode, DeterministicNode, PotentialNode)


def _walk(value: Any, found: dict, seen: set) -> None:
    if not isinstance(value, Node):
        return
    if isinstance(value, _NAMED):
        found.setdefault(value.uid, value)
        return
    if isinstance(value, Apply):
        if value.uid in seen:
            return
        seen.add(value.uid)
        for node in value.inputs:
            _walk(node, found, seen)


def named_parents(node: Any) -> list[Node]:
    """The named variables (random variables, Data, deterministics, potentials) that ``node``'s value
    is computed from directly, through anonymous expressions, in order of first use.

    For a random variable: those of its parameters as written (``p``, not
    the logits credo evaluates ``p=sigmoid(z)`` with), and its observed
    ``cr.Data``.

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model():
    ...     a = cr.Normal("a", 0, 1)
    ...     b = cr.Normal("b", 2 * cr.math.exp(a), 1)
    >>> [n.name for n in named_parents(b)]
    ['a']
    """
    found: dict = {}
    seen: set = set()
    if isinstance(node, DataNode):
        return []
    if isinstance(node, RandomVariable):
        for value in (node.written_params or node.params).values():
            _walk(value, found, seen)
        if node.observed is not None and node.observed.name != node.name:
            _walk(node.observed, found, seen)
    elif isinstance(node, (DeterministicNode, PotentialNode)):
        _walk(node.expression, found, seen)
    else:
        _walk(node, found, seen)
    return list(found.values())


def adopt_pending(model, values: Iterable[Any]) -> None:
    """Register in ``model`` the nodes among ``values`` made outside any model that wait for the model
    that first uses them (``cr.Minibatch(X, batch_size=...)`` written before the model, as in PyMC).

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> x = cr.Minibatch(np.zeros((10, 2)), batch_size=5)
    >>> model = cr.Model()
    >>> adopt_pending(model, [2 * x])
    >>> x.name, x.name in model
    ('minibatch0_0', True)
    """
    found: dict = {}
    for value in values:
        _walk(value, found, set())
    for node in found.values():
        adopt = getattr(node, "adopt", None)
        if adopt is not None and node.name is None:
            adopt(model)


def _belongs(model, node: Node) -> bool:
    return model.named_vars.get(node.name) is node or model.data_vars.get(node.name) is node


def check_same_model(model, values: Iterable[tuple[str, Any]], label: str) -> None:
    """Raise a ModelError when a node among ``values`` (``(role, value)`` pairs, e.g. ``("parameter mu",
    node)``) is computed from a variable of another model.

    A variable of another model would otherwise be looked up by its name in
    this one, and silently follow this model's variable of that name.

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model("first"):
    ...     a = cr.Normal("a", 0, 1)
    >>> with cr.Model("second") as second:
    ...     check_same_model(second, [("parameter mu", 2 * a)], "Normal 'b'")
    Traceback (most recent call last):
    ...
    credo.errors.ModelError: Normal 'b': parameter mu uses 'a' of model 'first', not of the model being defined; ...
    """
    for role, value in values:
        found: dict = {}
        _walk(value, found, set())
        for node in found.values():
            if _belongs(model, node):
                continue
            other = getattr(node, "model_name", None)
            where = f"model {other!r}" if other else "another, unnamed model"
            if node.name in model.named_vars:
                here = f"this model's own {node.name!r} is a different variable"
            else:
                here = f"this model has no variable {node.name!r}"
            raise ModelError(
                f"{label}: {role} uses {node.name!r} of {where}, not of the model being defined; {here}. "
                "Build each model from its own variables (define them inside its `with` block)."
            )
