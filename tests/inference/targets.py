"""Posteriors with known answers, written as credo models, for the tests of the variational methods.

Each builder returns ``(model, reference)`` where ``reference`` maps a free
variable's name to ``(mean, sd)`` arrays of its exact marginal moments (or,
for eight schools, those of a long NUTS run). ``benchmarks/vi_methods.py``
uses the same builders.
"""

from __future__ import annotations

import numpy as np

import credo as cr

#: Eight schools (Rubin 1981).
SCHOOLS_Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SCHOOLS_SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])

#: Centred eight schools' marginal moments from credo's NUTS on the non-centred model (the same posterior):
#: 4 chains of 25,000 draws after 2,000 tuning steps, target_accept 0.95, seed 1 (2 divergences in 100,000
#: draws); the smallest bulk ESS is 60,000, so each mean is within 0.03 (2 Monte Carlo standard errors).
SCHOOLS_REFERENCE = {
    "mu": (np.array(4.39), np.array(3.31)),
    "tau": (np.array(3.59), np.array(3.23)),
    "theta": (np.array([6.22, 4.93, 3.92, 4.73, 3.62, 4.04, 6.29, 4.86]),
              np.array([5.59, 4.67, 5.30, 4.78, 4.67, 4.82, 5.08, 5.28])),
}


def correlated_gaussian(rho: float = 0.9, scales=(1.0, 3.0, 0.5, 2.0)):
    """A Gaussian with correlation ``rho`` between neighbours and unequal scales (``MvNormal`` prior only)."""
    scales = np.asarray(scales, float)
    dim = len(scales)
    correlation = np.array([[rho ** abs(i - j) for j in range(dim)] for i in range(dim)])
    covariance = correlation * np.outer(scales, scales)
    mean = np.linspace(-1.0, 2.0, dim)
    with cr.Model() as model:
        cr.MvNormal("x", mean, covariance)
    return model, {"x": (mean, scales)}, covariance


def banana(curvature: float = 1.0):
    """``x1 ~ N(0, 1)``, ``x2 | x1 ~ N(curvature * (x1**2 - 1), 1)``, written as a ``Potential`` on flat variables.

    Exact moments: both means 0, ``sd(x1) = 1``, ``sd(x2) = sqrt(1 + 2 curvature**2)``.
    """
    with cr.Model() as model:
        x = cr.Flat("x", shape=2)
        shifted = x[1] - curvature * (x[0] ** 2 - 1.0)
        cr.Potential("banana", -0.5 * x[0] ** 2 - 0.5 * shifted**2)
    return model, {"x": (np.zeros(2), np.array([1.0, np.sqrt(1.0 + 2.0 * curvature**2)]))}


def funnel(dim: int = 10):
    """Neal's funnel: ``v ~ N(0, 3)``, ``x_i ~ N(0, exp(v / 2))`` for ``dim - 1`` coordinates.

    Exact moments: ``v`` mean 0, sd 3; each ``x_i`` mean 0, sd ``exp(9 / 4)``.
    """
    with cr.Model() as model:
        v = cr.Normal("v", 0.0, sigma=3.0)
        cr.Normal("x", 0.0, sigma=cr.math.exp(v / 2.0), shape=dim - 1)
    return model, {"v": (np.array(0.0), np.array(3.0)),
                   "x": (np.zeros(dim - 1), np.full(dim - 1, np.exp(9.0 / 4.0)))}


def eight_schools_centred():
    """Centred eight schools; reference moments from a long NUTS run (:data:`SCHOOLS_REFERENCE`)."""
    with cr.Model() as model:
        mu = cr.Normal("mu", 0.0, sigma=5.0)
        tau = cr.HalfCauchy("tau", beta=5.0)
        theta = cr.Normal("theta", mu, sigma=tau, shape=8)
        cr.Normal("y", theta, sigma=SCHOOLS_SIGMA, observed=SCHOOLS_Y)
    return model, SCHOOLS_REFERENCE


def linear_regression(rows: int = 50, features: int = 5, seed: int = 0):
    """``w ~ N(0, 1)``, ``y ~ N(X w, 0.5)``: the posterior of ``w`` is Gaussian in closed form."""
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(rows, features))
    targets = inputs @ rng.normal(size=features) + 0.5 * rng.normal(size=rows)
    precision = np.eye(features) + inputs.T @ inputs / 0.25
    covariance = np.linalg.inv(precision)
    mean = covariance @ inputs.T @ targets / 0.25
    with cr.Model() as model:
        w = cr.Normal("w", 0.0, sigma=1.0, shape=features)
        cr.Normal("y", cr.math.dot(inputs, w), sigma=0.5, observed=targets)
    return model, {"w": (mean, np.sqrt(np.diag(covariance)))}


def marginal_errors(approx_moments: tuple[dict, dict], reference: dict) -> tuple[float, float]:
    """The largest error of the means and of the sds over every variable, each in units of the exact sd."""
    means, stds = approx_moments
    mean_error = max(float(np.max(np.abs(np.asarray(means[name]) - mean) / sd))
                     for name, (mean, sd) in reference.items())
    sd_error = max(float(np.max(np.abs(np.asarray(stds[name]) / sd - 1.0)))
                   for name, (mean, sd) in reference.items())
    return mean_error, sd_error
