"""The modeling layer: symbolic variables compiled to pure JAX functions."""

from .core import ConstantData, Data, Deterministic, Model, MutableData, Potential, modelcontext, set_data
from .compile import CompiledModel
from .diagram import model_to_graphviz

__all__ = [
    "Model", "Data", "MutableData", "ConstantData", "Deterministic", "Potential", "modelcontext", "set_data",
    "CompiledModel", "model_to_graphviz",
]
