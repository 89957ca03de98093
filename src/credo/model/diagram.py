"""The model as a graph: ``cr.model_to_graphviz(model)``."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..errors import ModelError
from .core import modelcontext
from .describe import describe_variable, variable_kind
from .graph import named_parents
from .variables import Node

__all__ = ["model_to_graphviz"]

_NODE_STYLE = {
    "free": {"shape": "ellipse"},
    "observed": {"shape": "ellipse", "style": "filled", "fillcolor": "gray"},
    "deterministic": {"shape": "box"},
    "data": {"shape": "box", "style": "rounded, filled", "fillcolor": "gray"},
    "potential": {"shape": "octagon"},
}


def _selected(model, var_names: Sequence[str] | None) -> list[str]:
    if var_names is None:
        return list(model.named_vars)
    unknown = [name for name in var_names if name not in model.named_vars]
    if unknown:
        raise ModelError(f"model_to_graphviz: {unknown} are not variables of the model; it has "
                         f"{sorted(model.named_vars)}.")
    keep, stack = set(), list(var_names)
    while stack:  # the variables asked for and everything they depend on
        name = stack.pop()
        if name not in keep:
            keep.add(name)
            stack.extend(parent.name for parent in named_parents(model.named_vars[name]))
    return [name for name in model.named_vars if name in keep]


def _plate_label(model, node: Node, include_dim_lengths: bool) -> str:
    dims = model.named_vars_to_dims.get(node.name)
    if dims:
        parts = [d if d is not None else str(n) for d, n in zip(dims, node.shape)]
        if include_dim_lengths:
            parts = [f"{d} ({n})" if d is not None else str(n) for d, n in zip(dims, node.shape)]
        return " x ".join(parts)
    return " x ".join(str(n) for n in node.shape)


def model_to_graphviz(model=None, *, var_names: Sequence[str] | None = None, save: str | Path | None = None,
                      figsize: tuple[float, float] | None = None, dpi: int = 300,
                      include_dim_lengths: bool = True):
    """The model as a ``graphviz.Digraph``: one node per variable, an edge from each variable to those
    computed from it, variables of equal shape (or dims) grouped in a plate.

    Free variables are ellipses, observed ones grey ellipses, deterministics
    boxes, data grey rounded boxes, potentials octagons, as PyMC draws them.

    Parameters
    ----------
    model : Model, optional
        The model (default: the one of the ``with`` block).
    var_names : sequence of str, optional
        Draw only these variables and the variables they depend on.
    save : str or Path, optional
        Write the rendered graph to this file (its suffix is the format, e.g.
        ``.png``, ``.svg``); needs Graphviz's ``dot`` program.
    figsize : (float, float), optional
        Size in inches.
    dpi : int
        Resolution of a rendered image.
    include_dim_lengths : bool
        Show each dimension's length in the plate labels.

    Returns
    -------
    graphviz.Digraph
        Display it in a notebook, or read its ``.source`` (DOT text).

    Examples
    --------
    >>> import credo as cr
    >>> with cr.Model() as model:
    ...     mu = cr.Normal("mu", 0, 10)
    ...     y = cr.Normal("y", mu, 1, observed=[0.5, 1.5])
    >>> graph = cr.model_to_graphviz(model)
    >>> "mu -> y" in graph.source
    True
    """
    try:
        import graphviz
    except ImportError:  # pragma: no cover - the graphviz extra
        raise ImportError("model_to_graphviz needs the graphviz package: pip install 'credo[graphviz]'.") from None
    model = modelcontext(model, what="model_to_graphviz")
    names = _selected(model, var_names)
    graph_attr = {"dpi": str(int(dpi))}
    if figsize is not None:
        graph_attr["size"] = f"{figsize[0]},{figsize[1]}"
    graph = graphviz.Digraph(model.name or "model", graph_attr=graph_attr)
    plates: dict[str, list[str]] = {}
    for name in names:
        node = model.named_vars[name]
        plates.setdefault(_plate_label(model, node, include_dim_lengths) if node.shape else "", []).append(name)
    for label, members in plates.items():
        target = graph if not label else graphviz.Digraph(f"cluster_{label}")
        if label:
            target.attr(label=label, labeljust="r", labelloc="b", style="rounded")
        for name in members:
            node = model.named_vars[name]
            kind = variable_kind(node)
            what = describe_variable(node).split("(")[0]
            target.node(name, f"{name}\n~\n{what}", **_NODE_STYLE[kind])
        if label:
            graph.subgraph(target)
    for name in names:
        for parent in named_parents(model.named_vars[name]):
            if parent.name in names:
                graph.edge(parent.name, name)
    if save is not None:
        path = Path(save)
        graph.render(outfile=str(path), format=path.suffix.lstrip(".") or "png", cleanup=True)
    return graph
