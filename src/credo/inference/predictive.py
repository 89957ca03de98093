"""Prior and posterior predictive sampling, vectorised over draws in batches."""

from __future__ import annotations

from typing import Sequence

import jax
import numpy as np

from ..errors import ModelError
from ..model.core import Model, modelcontext
from ..model.programs import data_signature
from .batching import batch_size
from .programs import Predictive, PriorPredictive
from .results import as_key, to_inference_data

__all__ = ["sample_posterior_predictive", "sample_prior_predictive", "predictive_draws"]


def _posterior_draws(trace, free_names: list[str]) -> tuple[dict, tuple[int, int]]:
    """Free-variable draws as arrays (chain, draw, ...) from InferenceData, a Dataset or a dict."""
    posterior = getattr(trace, "posterior", trace)
    missing = [name for name in free_names if name not in posterior]
    if missing:
        raise ModelError(
            f"the trace has no draws of the free variables {missing}; "
            "pass the InferenceData returned by approx.sample() or cr.sample() for this model."
        )
    values = {name: np.asarray(posterior[name]) for name in free_names}
    if not hasattr(posterior, "dims"):  # a plain dict of (draw, ...) arrays: one chain
        values = {name: value[None] for name, value in values.items()}
    first = values[free_names[0]]
    return values, first.shape[:2]


def _observed_data(model: Model, names: Sequence[str], predictive: dict) -> dict:
    """Observed values that match the predictive's shape (stale ones are left out)."""
    out = {}
    for rv in model.observed_variables:
        if rv.name in names:
            value = np.asarray(model.data_values[rv.observed.name])
            if value.shape == np.shape(predictive[rv.name])[2:]:
                out[rv.name] = value
    return out


def predictive_draws(compiled, free_values: dict, data: dict, names: tuple, key: jax.Array) -> dict:
    """One draw of ``names`` (observed variables, deterministics) per posterior draw, at ``data``.

    ``free_values`` holds ``(n, ...)`` constrained draws of every free
    variable; the result ``(n, ...)`` arrays, from one compiled call (each
    draw with its own key from ``split(key, n)``).
    """
    num = next(iter(free_values.values())).shape[0]
    run = compiled.programs.get(Predictive(tuple(names), data_signature(data)), compiled)
    return run(key, free_values, data, batch_size(data, num))


def sample_posterior_predictive(
    trace,
    samples: int | None = None,
    var_names: Sequence[str] | None = None,
    random_seed=None,
    model: Model | None = None,
    progressbar: bool = False,
):
    """Draw the observed variables given posterior draws, with the model's current data.

    Parameters
    ----------
    trace : arviz.InferenceData
        Posterior draws (from ``approx.sample()`` or ``cr.sample()``).
    samples : int, optional
        Use this many posterior draws, chosen at random without replacement
        (one chain); by default every draw of every chain.
    var_names : list of str, optional
        Observed variables and deterministics to draw; by default every
        observed variable.
    random_seed : int, optional

    Returns
    -------
    arviz.InferenceData
        With posterior_predictive and observed_data groups (observed data are
        included where they match the predictive's shape: a test set swapped
        into the inputs alone has no observed values).

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
    >>> ppc.posterior_predictive["y"].shape
    (1, 100, 7)
    """
    del progressbar  # predictive draws run as one compiled call
    model = modelcontext(model, what="sample_posterior_predictive")
    compiled = model.compile()
    names = tuple(var_names) if var_names is not None else tuple(compiled.observed_names)
    known = set(compiled.observed_names) | set(compiled.deterministic_names)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ModelError(f"var_names {unknown} are not observed variables or deterministics; choose from {sorted(known)}.")
    values, (chains, draws) = _posterior_draws(trace, compiled.free_names)
    flat = {name: value.reshape((chains * draws,) + value.shape[2:]) for name, value in values.items()}
    key = as_key(random_seed)
    total = chains * draws
    if samples is not None:
        if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or not 0 < samples <= total:
            raise ValueError(f"samples must be between 1 and the {total} posterior draws; got {samples!r}.")
        # Which draws to use is decided on the host, with numpy seeded by the key: no program to compile.
        rng = np.random.default_rng(np.asarray(jax.random.key_data(key)))
        chosen = np.sort(rng.choice(total, int(samples), replace=False))
        flat = {name: value[chosen] for name, value in flat.items()}
        chains, draws = 1, int(samples)
    out = predictive_draws(compiled, flat, dict(model.data_values), names, key)
    predictive = {name: np.asarray(v).reshape((chains, draws) + v.shape[1:]) for name, v in out.items()}
    return to_inference_data(posterior_predictive=predictive,
                             observed_data=_observed_data(model, names, predictive) or None)


def sample_prior_predictive(
    samples: int = 500,
    model: Model | None = None,
    var_names: Sequence[str] | None = None,
    random_seed=None,
):
    """Draw every variable from the prior.

    Returns
    -------
    arviz.InferenceData
        prior (free variables and deterministics), prior_predictive (observed
        variables) and observed_data groups, each with one chain.

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
    model = modelcontext(model, what="sample_prior_predictive")
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples <= 0:
        raise ValueError(f"samples must be a positive integer; got {samples!r}.")
    compiled = model.compile()
    data = dict(model.data_values)
    keys = jax.random.split(as_key(random_seed), int(samples))
    draws = compiled.programs.get(PriorPredictive(data_signature(data)), compiled)(keys, data)
    draws = {name: np.asarray(value)[None] for name, value in draws.items()}
    if var_names is not None:
        draws = {name: value for name, value in draws.items() if name in set(var_names)}
    observed = set(compiled.observed_names)
    prior = {name: value for name, value in draws.items() if name not in observed}
    predictive = {name: value for name, value in draws.items() if name in observed}
    return to_inference_data(prior=prior or None, prior_predictive=predictive or None,
                             observed_data=_observed_data(model, tuple(predictive), predictive) or None)
