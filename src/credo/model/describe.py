"""A model as text and as an HTML table: ``model.str_repr()``, ``model._repr_html_()``."""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from .graph import named_parents
from .variables import DataNode, DeterministicNode, Node, RandomVariable

__all__ = ["str_repr", "model_html", "describe_variable", "variable_kind"]


def _value_text(value: Any) -> str:
    if isinstance(value, Node):
        if value.name is not None:
            return value.name
        return f"f({', '.join(parent.name for parent in named_parents(value))})"
    array = np.asarray(value)
    if array.size == 1:
        number = array.item()
        return f"{number:g}" if isinstance(number, float) else str(number)
    return f"<constant {array.shape}>"


def variable_kind(node: Node) -> str:
    if isinstance(node, RandomVariable):
        return "observed" if node.is_observed else "free"
    if isinstance(node, DataNode):
        return "data"
    if isinstance(node, DeterministicNode):
        return "deterministic"
    return "potential"


def describe_variable(node: Node) -> str:
    """``Normal(mu=mu, sigma=1)``, ``Deterministic(f(w, x))``, ``Data``: what a variable is, in one phrase.

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model():
    ...     mu = cr.Normal("mu", 0, 10)
    ...     twice = cr.Deterministic("twice", 2 * mu)
    >>> describe_variable(mu), describe_variable(twice)
    ('Normal(mu=0, sigma=10)', 'Deterministic(f(mu))')
    """
    if isinstance(node, RandomVariable):
        written = node.written_params or node.params
        params = ", ".join(f"{key}={_value_text(value)}" for key, value in written.items())
        return f"{node.distribution.name}({params})"
    if isinstance(node, DataNode):
        group = getattr(node, "group", None)  # a minibatch's rows are drawn in groups
        if group is not None:
            return f"Minibatch(batch_size={group.batch_size})"
        return "Data" if node.mutable else "ConstantData"
    kind = "Deterministic" if isinstance(node, DeterministicNode) else "Potential"
    return f"{kind}({_value_text(node.expression)})"


def _shape_text(model, node: Node) -> str:
    dims = model.named_vars_to_dims.get(node.name)
    if dims:
        parts = [f"{d}: {length}" if d is not None else str(length) for d, length in zip(dims, node.shape)]
        return f"dims ({', '.join(parts)})"
    return f"shape {node.shape}" if node.shape else ""


def _rows(model) -> list[tuple[str, str, str, str]]:
    return [(name, describe_variable(node), _shape_text(model, node), variable_kind(node))
            for name, node in model.named_vars.items()]


def str_repr(model) -> str:
    """One line per variable: ``name ~ Distribution(parameters)  shape/dims  observed`` (see
    :meth:`credo.Model.str_repr`)."""
    rows = _rows(model)
    if not rows:
        return ""
    name_width = max(len(row[0]) for row in rows)
    what_width = max(len(row[1]) for row in rows)
    shape_width = max(len(row[2]) for row in rows)
    lines = []
    for name, what, shape, kind in rows:
        role = "observed" if kind == "observed" else ""
        lines.append(f"{name:>{name_width}} ~ {what:<{what_width}}  {shape:<{shape_width}}  {role}".rstrip())
    return "\n".join(lines)


def model_html(model) -> str:
    """The model as an HTML table (the notebook display of a model)."""
    cells = "".join(
        f"<tr><td><b>{html.escape(name)}</b></td><td>{html.escape(what)}</td><td>{html.escape(shape)}</td>"
        f"<td>{html.escape(kind)}</td></tr>"
        for name, what, shape, kind in _rows(model)
    )
    title = html.escape(f"credo.Model {model.name!r}" if model.name else "credo.Model")
    return (f"<table><caption>{title}</caption><tr><th>variable</th><th>distribution</th><th>shape</th>"
            f"<th>role</th></tr>{cells}</table>")
