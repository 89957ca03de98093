"""``cr.nn``: Bayesian neural networks.

- :func:`dense`, :func:`mlp`: layers that create their weight and bias
  variables in the current model;
- :class:`BNNClassifier`, :class:`BNNRegressor`: scikit-learn estimators;
- :mod:`credo.nn.uci`: the UCI regression benchmark (``credo uci NAME``).
"""

from .layers import dense, mlp

__all__ = ["dense", "mlp", "BNNClassifier", "BNNRegressor"]


def __getattr__(name):  # the estimators import scikit-learn: load them on first use
    if name in ("BNNClassifier", "BNNRegressor"):
        from . import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'credo.nn' has no attribute {name!r}")
