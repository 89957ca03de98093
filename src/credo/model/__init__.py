"""The modeling layer: symbolic variables compiled to pure JAX functions."""

from .core import Data, Deterministic, Model, Potential, modelcontext, set_data
from .compile import CompiledModel

__all__ = ["Model", "Data", "Deterministic", "Potential", "modelcontext", "set_data", "CompiledModel"]
