"""Prior and posterior predictive sampling, vectorised over draws in batches."""

from __future__ import annotations

import warnings
from typing import Sequence

import jax
import numpy as np

from ..errors import ArgumentError
from ..model.core import Model, modelcontext
from ..model.placement import DistributedRows, PlacedData, Placement, place_data, placement_for
from ..model.programs import data_signature
from .batching import batch_size
from .checks import check_bool, check_model_argument, check_names, check_seed, positive_int
from .likelihood import posterior_values
from .programs import Predictive, PriorPredictive
from .results import as_key, devices_attrs, observed_and_constant_data, to_inference_data

__all__ = ["sample_posterior_predictive", "sample_ppc", "sample_prior_predictive", "predictive_draws"]


def _observed_data(model: Model, names: Sequence[str], predictive: dict) -> dict:
    """Observed values that match the predictive's shape (stale ones are left out)."""
    out = {}
    for rv in model.observed_variables:
        if rv.name in names and not isinstance(model.data_values[rv.observed.name], DistributedRows):
            value = np.asarray(model.data_values[rv.observed.name])
            if value.shape == np.shape(predictive[rv.name])[2:]:
                out[rv.name] = value
    return out


def predictive_draws(compiled, free_values: dict, data: dict | PlacedData, names: tuple, key: jax.Array,
                     placement: Placement | None = None) -> dict:
    """One draw of ``names`` (observed variables, deterministics) per posterior draw, at ``data``.

    ``free_values`` holds ``(n, ...)`` constrained draws of every free
    variable; the result ``(n, ...)`` numpy arrays, from one compiled call
    (each draw with its own key from ``split(key, n)``) on ``placement``'s
    devices (``data`` placed there, or already placed).
    """
    placed = data if isinstance(data, PlacedData) else place_data(compiled.model, data, placement)
    num = next(iter(free_values.values())).shape[0]
    run = compiled.programs.get(Predictive(tuple(names), data_signature(placed.arrays)), compiled)
    return placed.cut(run(key, free_values, placed.arrays, batch_size(placed.arrays, num)))


def sample_posterior_predictive(
    trace,
    samples: int | None = None,
    var_names: Sequence[str] | None = None,
    random_seed=None,
    model: Model | None = None,
    progressbar: bool = False,
    return_inferencedata: bool = True,
    extend_inferencedata: bool = False,
    predictions: bool = False,
    devices=None,
):
    """Draw the observed variables given posterior draws, with the model's current data.

    Parameters
    ----------
    trace : arviz.InferenceData
        Posterior draws (from ``approx.sample()`` or ``cr.sample()``), or a
        dict of ``(chain, draw, ...)`` arrays of every free variable.
    samples : int, optional
        Use this many posterior draws, chosen at random without replacement
        (one chain); by default every draw of every chain.
    var_names : list of str, optional
        Observed variables and deterministics to draw; by default every
        observed variable.
    random_seed : int or key, optional
    model : credo.Model, optional
        Default: the model of the current ``with`` block.
    progressbar : bool
        Accepted for PyMC compatibility; the draws are one compiled call.
    return_inferencedata : bool
        False: a dict of ``(chain, draw, ...)`` arrays.
    extend_inferencedata : bool
        Add the groups to ``trace`` and return it.
    predictions : bool
        Out-of-sample draws (after ``cr.set_data`` with new inputs): write
        them to a ``predictions`` group, with the current ``cr.Data`` values
        as ``predictions_constant_data``, instead of ``posterior_predictive``,
        ``observed_data`` and ``constant_data``.
    devices : int, list of jax devices or jax.sharding.Mesh, optional
        Where to draw: the data's rows are sharded over these devices
        (default: every device JAX sees; one device is the plain path). The
        draws are those of one device: each row's draw depends on its key
        and row alone.

    Returns
    -------
    arviz.InferenceData
        posterior_predictive, observed_data and constant_data groups (observed
        data are included where they match the predictive's shape: a test set
        swapped into the inputs alone has no observed values); or predictions
        and predictions_constant_data. Dims and labels come from the model's
        ``coords`` and ``dims``.

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model():
    ...     x = cr.Data("x", np.linspace(0, 1, 20))
    ...     w = cr.Normal("w", 0, 1)
    ...     y = cr.Normal("y", w * x, 0.1, observed=np.linspace(0, 1, 20))
    ...     approx = cr.fit(2000, random_seed=0, progressbar=False)
    ...     idata = approx.sample(500, random_seed=1)
    ...     cr.set_data({"x": np.linspace(0, 2, 7)})
    ...     ppc = cr.sample_posterior_predictive(idata, samples=100, random_seed=2)
    ...     idata = cr.sample_posterior_predictive(idata, predictions=True, extend_inferencedata=True)
    >>> ppc.posterior_predictive["y"].shape, idata.predictions["y"].shape
    ((1, 100, 7), (1, 500, 7))
    """
    what = "sample_posterior_predictive"
    check_model_argument(model, what, ArgumentError)
    check_seed(random_seed, what, ArgumentError)
    for name, value in (("progressbar", progressbar), ("return_inferencedata", return_inferencedata),
                        ("extend_inferencedata", extend_inferencedata), ("predictions", predictions)):
        check_bool(value, name, what, ArgumentError)
    model = modelcontext(model, what=what)
    placement = placement_for(devices, f"{what}: devices")
    compiled = model.compile()
    known = list(compiled.observed_names) + list(compiled.deterministic_names)
    names = tuple(compiled.observed_names) if var_names is None else \
        check_names(var_names, known, "var_names", what, ArgumentError)
    if extend_inferencedata and not hasattr(trace, "groups"):
        raise ArgumentError(f"{what}: extend_inferencedata=True needs an InferenceData to extend; got "
                            f"{type(trace).__name__}.")
    values, (chains, draws) = posterior_values(trace, compiled, what)
    flat = {name: value.reshape((chains * draws,) + value.shape[2:]) for name, value in values.items()}
    key = as_key(random_seed)
    total = chains * draws
    if samples is not None:
        if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or not 0 < samples <= total:
            raise ArgumentError(f"{what}: samples must be between 1 and the {total} posterior draws; got "
                                f"{samples!r}.")
        # Which draws to use is decided on the host, with numpy seeded by the key: no program to compile.
        rng = np.random.default_rng(np.asarray(jax.random.key_data(key)))
        chosen = np.sort(rng.choice(total, int(samples), replace=False))
        flat = {name: value[chosen] for name, value in flat.items()}
        chains, draws = 1, int(samples)
    placed = model.placed_data(placement)
    out = predictive_draws(compiled, flat, placed, names, key)
    predictive = {name: np.asarray(v).reshape((chains, draws) + v.shape[1:]) for name, v in out.items()}
    if not return_inferencedata:
        return predictive
    observed, constant = observed_and_constant_data(model)
    if predictions:
        groups = {"predictions": predictive, "predictions_constant_data": constant}
    else:
        groups = {"posterior_predictive": predictive, "observed_data": _observed_data(model, names, predictive),
                  "constant_data": constant}
    result = to_inference_data(model, **groups)
    result["predictions" if predictions else "posterior_predictive"].attrs.update(devices_attrs(placed.describe()))
    if not extend_inferencedata:
        return result
    for group in result.groups():
        if group in trace.groups():
            setattr(trace, group, result[group])
        else:
            trace.add_groups({group: result[group]})
    return trace


def sample_ppc(*args, **kwargs):
    """Deprecated name of :func:`sample_posterior_predictive` (PyMC 3's ``sample_ppc``).

    Examples
    --------
    >>> import credo as cr, numpy as np, warnings
    >>> with cr.Model():
    ...     mu = cr.Normal("mu", 0, 1)
    ...     y = cr.Normal("y", mu, 1, observed=np.zeros(3))
    ...     idata = cr.fit(500, random_seed=0, progressbar=False).sample(20, random_seed=1)
    ...     with warnings.catch_warnings(record=True) as caught:
    ...         warnings.simplefilter("always")
    ...         ppc = cr.sample_ppc(idata, random_seed=2)
    >>> caught[0].category.__name__, ppc.posterior_predictive["y"].shape
    ('DeprecationWarning', (1, 20, 3))
    """
    warnings.warn("sample_ppc is deprecated: use cr.sample_posterior_predictive (same arguments).",
                  DeprecationWarning, stacklevel=2)
    return sample_posterior_predictive(*args, **kwargs)


def sample_prior_predictive(
    samples: int = 500,
    model: Model | None = None,
    var_names: Sequence[str] | None = None,
    random_seed=None,
    return_inferencedata: bool = True,
):
    """Draw every variable from the prior.

    Parameters
    ----------
    samples : int
        Number of draws.
    model : credo.Model, optional
        Default: the model of the current ``with`` block.
    var_names : list of str, optional
        Variables to keep (default: all).
    random_seed : int or key, optional
    return_inferencedata : bool
        False: a dict of ``(samples, ...)`` arrays.

    Returns
    -------
    arviz.InferenceData
        prior (free variables and deterministics), prior_predictive (observed
        variables), observed_data and constant_data groups, one chain each;
        dims and labels from the model's ``coords`` and ``dims``.

    Examples
    --------
    >>> import credo as cr, numpy as np
    >>> with cr.Model():
    ...     mu = cr.Normal("mu", 0, 1)
    ...     y = cr.Normal("y", mu, 1, observed=np.zeros(4))
    ...     prior = cr.sample_prior_predictive(samples=200, random_seed=0)
    >>> prior.prior_predictive["y"].shape
    (1, 200, 4)
    """
    what = "sample_prior_predictive"
    check_model_argument(model, what, ArgumentError)
    samples = positive_int(samples, "samples", what, ArgumentError)
    check_seed(random_seed, what, ArgumentError)
    check_bool(return_inferencedata, "return_inferencedata", what, ArgumentError)
    model = modelcontext(model, what=what)
    compiled = model.compile()
    if var_names is not None:
        var_names = check_names(var_names, list(compiled.free_names) + list(compiled.deterministic_names)
                                + list(compiled.observed_names), "var_names", what, ArgumentError)
    placed = model.placed_data(placement_for(None))
    keys = jax.random.split(as_key(random_seed), samples)
    draws = placed.cut(compiled.programs.get(PriorPredictive(data_signature(placed.arrays)), compiled)(keys,
                                                                                                       placed.arrays))
    if var_names is not None:
        draws = {name: value for name, value in draws.items() if name in set(var_names)}
    if not return_inferencedata:
        return draws
    draws = {name: value[None] for name, value in draws.items()}
    observed = set(compiled.observed_names)
    prior = {name: value for name, value in draws.items() if name not in observed}
    predictive = {name: value for name, value in draws.items() if name in observed}
    _, constant = observed_and_constant_data(model)
    return to_inference_data(model, prior=prior, prior_predictive=predictive,
                             observed_data=_observed_data(model, tuple(predictive), predictive),
                             constant_data=constant)
