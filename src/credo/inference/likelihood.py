"""The pointwise log-likelihood of posterior draws, for LOO, WAIC and model comparison.

``cr.compute_log_likelihood`` and the ``idata_kwargs={"log_likelihood": True}``
of ``cr.sample`` and ``approx.sample``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..errors import ArgumentError
from ..model.compile import check_data
from ..model.core import Model, modelcontext
from ..model.placement import Placement, placement_for
from ..model.programs import data_signature
from .batching import batch_size
from .checks import check_bool, check_model_argument, check_names
from .programs import LogLikelihood
from .results import to_inference_data

__all__ = ["compute_log_likelihood", "log_likelihood_values", "posterior_values", "IDATA_KWARGS"]

#: Keys ``idata_kwargs`` accepts in ``cr.sample`` and ``approx.sample``.
IDATA_KWARGS = ("log_likelihood", "coords", "dims")


def check_idata_kwargs(idata_kwargs, what: str) -> dict:
    """``idata_kwargs`` as a dict with known keys (``log_likelihood``, ``coords``, ``dims``)."""
    if idata_kwargs is None:
        return {}
    if not isinstance(idata_kwargs, Mapping):
        raise ArgumentError(f"{what}: idata_kwargs must be a dict such as {{'log_likelihood': True}}; got "
                            f"{type(idata_kwargs).__name__}.")
    unknown = [key for key in idata_kwargs if key not in IDATA_KWARGS]
    if unknown:
        raise TypeError(f"{what}() got unknown idata_kwargs {unknown}; it accepts {', '.join(IDATA_KWARGS)}.")
    kwargs = dict(idata_kwargs)
    if "log_likelihood" in kwargs:
        kwargs["log_likelihood"] = check_bool(kwargs["log_likelihood"], "idata_kwargs['log_likelihood']", what,
                                              ArgumentError)
    for key in ("coords", "dims"):
        if key in kwargs and not isinstance(kwargs[key], Mapping):
            raise ArgumentError(f"{what}: idata_kwargs[{key!r}] must be a dict; got {type(kwargs[key]).__name__}.")
    return kwargs


def posterior_values(trace, compiled, what: str) -> tuple[dict, tuple[int, int]]:
    """Constrained draws of every free variable from ``trace`` (InferenceData, a Dataset, or a dict of
    ``(chain, draw, ...)`` or ``(draw, ...)`` arrays), checked against the model: ``({name: (chain, draw, ...)},
    (chains, draws))``."""
    if trace is None:
        raise ArgumentError(f"{what}: got None for the posterior draws; pass the InferenceData returned by "
                            "cr.sample() or approx.sample().")
    posterior = getattr(trace, "posterior", trace)
    if not (hasattr(posterior, "data_vars") or isinstance(posterior, Mapping)):
        raise ArgumentError(f"{what}: the posterior draws must be an InferenceData with a posterior group, or a "
                            f"dict of (chain, draw, ...) arrays; got {type(trace).__name__}.")
    free = compiled.free
    missing = [info.name for info in free if info.name not in posterior]
    if missing:
        raise ArgumentError(f"{what}: the trace has no draws of the free variables {missing}; pass the InferenceData "
                            "returned by approx.sample() or cr.sample() for this model.")
    values = {info.name: np.asarray(posterior[info.name]) for info in free}
    given = {name: value.shape for name, value in values.items()}
    if not hasattr(posterior, "data_vars") and all(values[info.name].ndim == 1 + len(info.shape) for info in free):
        values = {name: value[None] for name, value in values.items()}  # a dict of (draw, ...) arrays: one chain
    lead = None
    for info in free:
        value = values[info.name]
        if value.ndim != 2 + len(info.shape) or tuple(value.shape[2:]) != tuple(info.shape) or \
                (lead is not None and value.shape[:2] != lead):
            expected = ("chains", "draws") + tuple(info.shape)
            raise ArgumentError(f"{what}: the draws of {info.name!r} have shape {given[info.name]}; this model needs "
                                f"{expected} (chain and draw first, the same for every variable).")
        if not np.issubdtype(value.dtype, np.number):
            raise ArgumentError(f"{what}: the draws of {info.name!r} have dtype {value.dtype}, not numbers.")
        lead = value.shape[:2]
    if lead[0] * lead[1] == 0:
        raise ArgumentError(f"{what}: the trace holds no draws (shape {lead}).")
    return values, lead


def log_likelihood_values(model: Model, values: Mapping[str, np.ndarray], names: Sequence[str],
                          placement: Placement | None = None) -> dict:
    """``{name: (chain, draw, ...)}``: the log-likelihood of each observation of ``names`` at each draw
    of ``values`` (constrained ``(chain, draw, ...)`` arrays of every free variable), one compiled call on
    ``placement``'s devices (the rows of the data sharded over them)."""
    compiled = model.compile()
    placed = model.placed_data(placement)
    data = placed.arrays
    chains, draws = next(iter(values.values())).shape[:2]
    flat = {name: value.reshape((chains * draws,) + value.shape[2:]) for name, value in values.items()}
    run = compiled.programs.get(LogLikelihood(tuple(names), data_signature(data)), compiled)
    out = placed.cut(run(flat, data, batch_size(data, chains * draws)))
    return {name: np.asarray(value).reshape((chains, draws) + value.shape[1:]) for name, value in out.items()}


def compute_log_likelihood(
    idata,
    var_names: Sequence[str] | None = None,
    model: Model | None = None,
    extend_inferencedata: bool = True,
    progressbar: bool = False,
    devices=None,
):
    """The pointwise log-likelihood of each posterior draw, as ``pm.compute_log_likelihood``.

    One value per draw and per observation (elementwise; an event of a
    multivariate likelihood is one observation), at the model's current data,
    not scaled by ``total_size``: what ``az.loo``, ``az.waic`` and
    ``az.compare`` need. Computed by one compiled program, vectorised over the
    draws in batches.

    Parameters
    ----------
    idata : arviz.InferenceData
        With a posterior group holding every free variable (from
        ``cr.sample`` or ``approx.sample``).
    var_names : list of str, optional
        Observed variables to compute it for (default: every one).
    model : credo.Model, optional
        Default: the model of the current ``with`` block.
    extend_inferencedata : bool
        Add a ``log_likelihood`` group to ``idata`` and return it (the
        default); else return the group alone (an ``xarray.Dataset``).
    progressbar : bool
        Accepted for PyMC compatibility; the computation is one compiled call.
    devices : int, list of jax devices or jax.sharding.Mesh, optional
        Where to compute: the data's rows are sharded over these devices
        (default: every device JAX sees; one device is the plain path).

    Returns
    -------
    arviz.InferenceData or xarray.Dataset
        Each variable shaped ``(chain, draw, *observed batch shape)`` with the
        observed variable's dims.

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model():
    ...     mu = cr.Normal("mu", 0, 1)
    ...     y = cr.Normal("y", mu, 1, observed=np.array([0.5, 1.0, -0.2]))
    ...     approx = cr.fit(1000, random_seed=0, progressbar=False)
    ...     idata = cr.compute_log_likelihood(approx.sample(100, random_seed=1))
    >>> idata.log_likelihood["y"].shape
    (1, 100, 3)
    """
    what = "compute_log_likelihood"
    check_model_argument(model, what, ArgumentError)
    extend_inferencedata = check_bool(extend_inferencedata, "extend_inferencedata", what, ArgumentError)
    check_bool(progressbar, "progressbar", what, ArgumentError)
    model = modelcontext(model, what=what)
    compiled = model.compile()
    names = compiled.observed_names if var_names is None else \
        check_names(var_names, compiled.observed_names, "var_names", what, ArgumentError)
    if not names:
        raise ArgumentError(f"{what}: the model has no observed variables: there is no likelihood.")
    if extend_inferencedata and not hasattr(idata, "posterior"):
        raise ArgumentError(f"{what}: extend_inferencedata=True needs an InferenceData; got {type(idata).__name__} "
                            "(pass extend_inferencedata=False for the log_likelihood group alone).")
    check_data(model)
    placement = placement_for(devices, f"{what}: devices")
    values, _ = posterior_values(idata, compiled, what)
    group = to_inference_data(model, log_likelihood=log_likelihood_values(model, values, names, placement)
                              ).log_likelihood
    if not extend_inferencedata:
        return group
    if "log_likelihood" in idata.groups():
        idata.log_likelihood = group
    else:
        idata.add_groups(log_likelihood=group)
    return idata
