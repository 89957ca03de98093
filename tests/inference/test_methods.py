"""The method table of ``cr.fit`` and the labels saved files record."""

import warnings

import numpy as np
import pytest

import credo as cr
from credo.errors import ApproximationWarning
from credo.inference.advi import FullRank, LowRank, MeanField
from credo.inference.fit import METHODS
from credo.inference.flows import NormalizingFlow
from credo.inference.methods import method_from_label
from credo.inference.pathfinder import PathfinderNormals
from credo.inference.svgd import SteinParticles


@pytest.mark.parametrize("method", [
    MeanField(), FullRank(), LowRank(3), SteinParticles(n_particles=7, jitter=0.5),
    NormalizingFlow(flow="realnvp*2-planar*3", nn_width=8),
    PathfinderNormals(num_paths=2, history_size=4, maxiter=50, num_elbo_draws=10, jitter=1.5),
])
def test_every_label_stands_for_its_method(method):
    assert method_from_label(method.label) == method


@pytest.mark.parametrize("label, match", [
    ("svgd(n_particles=x)", "not a int"), ("svgd(rank=3)", "rank"), ("nope(a=1)", "unknown method"),
    ("meanfeld", "unknown"), ("svgd(n_particles=1)", "n_particles"),
])
def test_bad_labels_are_refused(label, match):
    with pytest.raises(ValueError, match=match):
        method_from_label(label)


def test_every_method_name_maps_to_a_spec_whose_options_fit_accepts():
    with cr.Model():
        cr.Normal("mu", 0, 1)
        for name, inference in METHODS.items():
            options = [field for field in inference.family_type.__dataclass_fields__]
            for other in ("n_particles", "flow", "num_paths", "rank"):
                if other in options:
                    continue
                with pytest.raises(TypeError, match=f"{other}.*accepts"):
                    cr.fit(n=10, method=name, progressbar=False, **{other: 2})


def test_several_starts_of_svgd_keep_the_lowest_discrepancy():
    with cr.Model():
        cr.Normal("mu", 0, 1, shape=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ApproximationWarning)
            svgd = cr.fit(n=200, method="svgd", n_particles=10, n_starts=2, random_seed=0, progressbar=False)
    assert svgd.start_losses.shape == (2,) and svgd.best_start == int(np.argmin(svgd.start_losses))
    assert svgd.params["particles"].shape == (10, 2)
