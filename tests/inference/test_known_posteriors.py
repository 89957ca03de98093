"""Each method on posteriors with known answers: within its written tolerance, or caught by the k-hat verdict.

The tolerances are the largest error of the marginal means (in units of the exact sd) and of the
sds (relative), over every coordinate, from measurements with seeds 0 and 1 (``benchmarks/vi_methods.py``
reports the same errors for every method and target). The Gaussian, banana and funnel have exact
moments; centred eight schools is compared with a long NUTS run (``targets.SCHOOLS_REFERENCE``).
"""

import warnings

import pytest
from targets import banana, eight_schools_centred, marginal_errors

import credo as cr
from credo.errors import ApproximationWarning

WITHIN = [
    # SVGD's 100 particles follow the banana's curve (measured 0.045 / 0.117 with seeds 0 and 1).
    pytest.param(banana, dict(method="svgd", n=2000), 0.1, 0.2, id="banana-svgd"),
    # Mean-field misses the curve and shrinks (measured 0.24-0.26 / 0.36-0.39).
    pytest.param(banana, dict(method="advi", n=10_000, obj_optimizer="adagrad_window_1e-2"), 0.35, 0.5,
                 id="banana-advi"),
    # RealNVP layers reach into the funnel of centred eight schools where the Gaussians collapse tau
    # (measured 0.14-0.24 / 0.26-0.39).
    pytest.param(eight_schools_centred, dict(method="nfvi", flow="realnvp*4", n=10_000, init="initial_point"),
                 0.35, 0.5, id="schools-nfvi"),
]

FLAGGED = [
    # Centred eight schools: the Gaussians collapse tau towards 0 (tau's mean 0.7-1.3 sd too small,
    # measured), and their k-hat says so (0.82-1.18 measured).
    pytest.param(dict(method="advi", n=10_000, obj_optimizer="adagrad_window_1e-2"), id="advi"),
    pytest.param(dict(method="fullrank_advi", n=10_000, init="initial_point"), id="fullrank_advi"),
    pytest.param(dict(method="pathfinder"), id="pathfinder"),
]


def _fit(build, options):
    options = dict(options)
    if options.get("obj_optimizer") == "adagrad_window_1e-2":
        options["obj_optimizer"] = cr.adagrad_window(1e-2)
    model, reference = build()[:2]
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore", ApproximationWarning)
        approx = cr.fit(random_seed=0, progressbar=False, **options)
    return approx, reference


@pytest.mark.slow
@pytest.mark.parametrize("build, options, mean_tolerance, sd_tolerance", WITHIN)
def test_within_the_methods_tolerance(build, options, mean_tolerance, sd_tolerance):
    approx, reference = _fit(build, options)
    mean_error, sd_error = marginal_errors((approx.mean, approx.std), reference)
    assert mean_error < mean_tolerance
    assert sd_error < sd_tolerance


@pytest.mark.slow
@pytest.mark.parametrize("options", FLAGGED)
def test_gaussian_approximations_of_centred_eight_schools_are_flagged(options):
    approx, reference = _fit(eight_schools_centred, options)
    mean_error, _ = marginal_errors((approx.mean, approx.std), reference)
    assert mean_error > 0.5  # far from the posterior ...
    assert approx.diagnose(draws=1000).khat > 0.7  # ... and the verdict says so
