"""Template models: the compiled programs that estimators of one structure share.

A scikit-learn estimator is cloned for every fold of a cross-validation and
every point of a grid search. Each clone would build its own credo model,
and a model's compiled programs live with it, so every clone would trace and
compile the same programs again. Instead an estimator asks :func:`template`
for the model of its structure (the network, the likelihood, the padded row
count): a model built once on placeholder data of zeros, never given real
data and never changed, whose programs (the fit's init and chunk, the
draws, the predictive) every estimator of that structure calls with its own
data as arguments. Estimators thus share compiled programs, pure functions,
and nothing else: no data, no state. At most :data:`TEMPLATE_LIMIT`
templates are kept, the least recently used dropped first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Hashable

import jax
import numpy as np

from ..model.core import Model

__all__ = ["template", "device_data", "TEMPLATE_LIMIT", "clear_templates"]

#: Template models kept per process.
TEMPLATE_LIMIT = 16

_templates: OrderedDict = OrderedDict()
_lock = threading.Lock()


def template(key: Hashable, build: Callable[[], Model]) -> Model:
    """The template model of ``key``, made by ``build()`` the first time (see the module doc)."""
    with _lock:
        model = _templates.get(key)
        if model is not None:
            _templates.move_to_end(key)
            return model
    model = build()
    with _lock:
        model = _templates.setdefault(key, model)
        while len(_templates) > TEMPLATE_LIMIT:
            _templates.popitem(last=False)
    return model


def clear_templates() -> None:
    """Drop every template model and its compiled programs."""
    with _lock:
        _templates.clear()


def device_data(arrays: dict, dtypes: dict) -> dict:
    """Numpy arrays on the device as ``dtypes`` says, converted by numpy (no compiled conversion per shape)."""
    return {name: jax.device_put(np.asarray(value, dtype=dtypes[name])) for name, value in arrays.items()}
