"""``cr.nn``: Bayesian neural networks.

- layers that create their weight variables in the current model, each with
  a prior (a scale, a learned scale, or any credo distribution; see
  :mod:`credo.nn.priors`) and, with ``bayesian=False``, fitted as point
  estimates: :func:`dense`, :func:`mlp`, :func:`conv2d`, :func:`max_pool`,
  :func:`avg_pool`, :func:`flatten`, :func:`embedding`, :func:`layer_norm`;
- :func:`bayesian`: a Flax or Equinox module as a credo model term;
- :class:`BNNClassifier`, :class:`BNNRegressor`: scikit-learn estimators;
- :mod:`credo.nn.uci`: the UCI regression benchmark (``credo uci NAME``).
"""

from .conv import avg_pool, conv2d, flatten, max_pool
from .embedding import embedding, layer_norm
from .layers import dense, mlp
from .modules import bayesian

__all__ = ["dense", "mlp", "conv2d", "max_pool", "avg_pool", "flatten", "embedding", "layer_norm", "bayesian",
           "BNNClassifier", "BNNRegressor"]


def __getattr__(name):  # the estimators import scikit-learn: load them on first use
    if name in ("BNNClassifier", "BNNRegressor"):
        from . import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'credo.nn' has no attribute {name!r}")
