"""The classic PyMC3 Bayesian neural network tutorial, as one function.

:func:`run_moons_demo` is what ``credo demo moons`` runs: two-moons data, a
2-5-5-1 tanh network with N(0, 1) weights, mean-field ADVI, draws from the
approximation, a posterior predictive on the test half, the test accuracy,
and (optionally) the tutorial's plots. Tests and benchmarks call it directly.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import plots
from .data import Minibatch
from .datasets import make_moons_split
from .errors import OutputPathError
from .distributions import Bernoulli, Normal
from .inference.fit import fit
from .inference.predictive import sample_posterior_predictive
from .model import math
from .model.core import Data, Deterministic, Model, set_data

__all__ = ["N_HIDDEN", "GRID_RESOLUTION", "build_moons_model", "run_moons_demo", "check_writable_folder"]

#: Units in each of the two hidden layers, as in the tutorial.
N_HIDDEN = 5
#: Points along each axis of the decision-surface grid.
GRID_RESOLUTION = 100
#: Phases timed by :func:`run_moons_demo`, in order.
PHASES = ("build", "fit", "sample", "predictive", "plots")


def build_moons_model(X_train: np.ndarray, y_train: np.ndarray, seed: int = 42, n_hidden: int = N_HIDDEN,
                      batch_size: int | None = None):
    """The tutorial's network: 2 hidden layers of tanh units, N(0, 1) weights.

    Inputs and targets are ``cr.Data`` named ``"x"`` and ``"y"`` so that the
    test set can be swapped in with ``cr.set_data``. The output probability is
    the deterministic ``"p"``; the Bernoulli likelihood ``"out"`` is scaled
    with ``total_size`` as in the tutorial. Initial weights are standard
    normal draws from ``np.random.default_rng(seed)``. With ``batch_size``
    the inputs and targets are a ``cr.Minibatch`` of that size (same names).

    Returns
    -------
    credo.Model
    """
    rng = np.random.default_rng(seed)
    n_features = X_train.shape[1]
    init_1 = rng.standard_normal((n_features, n_hidden))
    init_2 = rng.standard_normal((n_hidden, n_hidden))
    init_out = rng.standard_normal(n_hidden)

    with Model() as neural_network:
        if batch_size is None:
            ann_input, ann_output = Data("x", X_train), Data("y", y_train)
        else:
            ann_input, ann_output = Minibatch(X_train, y_train, batch_size=batch_size, random_seed=seed,
                                                 names=("x", "y"))
        weights_in_1 = Normal("w_in_1", 0, sigma=1, shape=(n_features, n_hidden), initval=init_1)
        weights_1_2 = Normal("w_1_2", 0, sigma=1, shape=(n_hidden, n_hidden), initval=init_2)
        weights_2_out = Normal("w_2_out", 0, sigma=1, shape=(n_hidden,), initval=init_out)
        act_1 = math.tanh(math.dot(ann_input, weights_in_1))
        act_2 = math.tanh(math.dot(act_1, weights_1_2))
        act_out = Deterministic("p", math.sigmoid(math.dot(act_2, weights_2_out)))
        Bernoulli("out", act_out, observed=ann_output, total_size=y_train.shape[0])
    return neural_network


def run_moons_demo(
    n: int = 50_000,
    draws: int = 5_000,
    ppc_samples: int = 500,
    seed: int = 42,
    out: str | Path | None = None,
    progressbar: bool = True,
    n_samples: int = 1_000,
    noise: float = 0.2,
    grid_resolution: int = GRID_RESOLUTION,
    echo: Callable[[str], Any] | None = None,
) -> dict:
    """Run the tutorial end to end and report accuracy and timings.

    Parameters
    ----------
    n : int
        ADVI iterations (the tutorial's 50,000).
    draws : int
        Draws from the approximation (the tutorial's 5,000).
    ppc_samples : int
        Posterior draws used for the predictive on the test set (500).
    seed : int
        Seeds the initial weights, the fit, the draws and the predictive. The
        data are always ``make_moons(noise, random_state=0)`` split 50/50.
    out : str or Path, optional
        Folder for ``data.png``, ``loss.png``, ``predicted_labels.png`` and
        ``decision_surface.png`` (created if needed); no plots without it.
    progressbar : bool
        Show the fit's progress bar.
    n_samples, noise : int, float
        The make_moons data set (1,000 points, noise 0.2).
    grid_resolution : int
        Points per axis of the decision-surface grid (100).
    echo : callable, optional
        Called with each line of the report as it is ready (e.g. ``print``).

    Returns
    -------
    dict
        ``accuracy`` (fraction of test points classified correctly),
        ``timings`` (seconds per phase: build, fit, sample, predictive and,
        with ``out``, plots), ``paths`` (name -> written PNG), ``final_loss``
        (mean loss over the last 1,000 iterations), ``n``, ``draws``,
        ``ppc_samples``, ``seed``.

    Examples
    --------
    >>> from credo.demo import run_moons_demo
    >>> result = run_moons_demo(n=2000, draws=100, ppc_samples=50, progressbar=False)  # doctest: +SKIP
    >>> sorted(result["timings"])  # doctest: +SKIP
    ['build', 'fit', 'predictive', 'sample']
    """

    say = echo if echo is not None else (lambda line: None)
    timings: dict[str, float] = {}
    if out is not None:
        check_writable_folder(out)  # before the fit, not after it

    start = time.perf_counter()
    X_train, X_test, y_train, y_test = make_moons_split(n_samples=n_samples, noise=noise, test_size=0.5,
                                                        random_state=0)
    neural_network = build_moons_model(X_train, y_train, seed=seed)
    timings["build"] = time.perf_counter() - start

    start = time.perf_counter()
    with neural_network:
        approx = fit(n=n, method="advi", random_seed=seed, progressbar=progressbar)
    timings["fit"] = time.perf_counter() - start
    hist = np.asarray(approx.hist)
    final_loss = float(np.mean(hist[-1000:]))
    say(f"Finished [100%]: Average Loss = {final_loss:.5g}")

    start = time.perf_counter()
    trace = approx.sample(draws=draws, random_seed=seed + 1)
    timings["sample"] = time.perf_counter() - start

    start = time.perf_counter()
    with neural_network:
        set_data({"x": X_test, "y": y_test})
        ppc = sample_posterior_predictive(trace, samples=min(ppc_samples, draws), random_seed=seed + 2)
    probability = np.asarray(ppc.posterior_predictive["out"].mean(("chain", "draw")))
    pred = probability > 0.5
    accuracy = float(np.mean(pred == y_test))
    timings["predictive"] = time.perf_counter() - start
    say(f"Accuracy = {accuracy * 100:.1f}%")

    paths: dict[str, str] = {}
    if out is not None:
        start = time.perf_counter()
        paths = _write_plots(Path(out), neural_network, trace, hist, X_train, y_train, X_test, y_test, pred,
                             min(ppc_samples, draws), seed, grid_resolution)
        timings["plots"] = time.perf_counter() - start

    say("Time per phase: " + ", ".join(f"{phase} {timings[phase]:.2f} s" for phase in PHASES if phase in timings)
        + f" (total {sum(timings.values()):.2f} s)")
    for name, path in paths.items():
        say(f"Wrote {path}")
    return {
        "accuracy": accuracy,
        "timings": timings,
        "paths": paths,
        "final_loss": final_loss,
        "n": n,
        "draws": draws,
        "ppc_samples": ppc_samples,
        "seed": seed,
    }


def check_writable_folder(folder: str | Path) -> Path:
    """Create ``folder`` if needed and check that files can be written in it.

    Raises
    ------
    credo.errors.OutputPathError
        Naming the folder and the reason (a file of that name, no permission).

    Examples
    --------
    >>> import tempfile
    >>> check_writable_folder(tempfile.mkdtemp()).is_dir()
    True
    """
    path = Path(folder).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".credo-write-check-"):
            pass
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
        raise OutputPathError(f"cannot write plots to {str(path)!r}: {str(blocker)!r} is a file, not a "
                              "folder.") from None
    except OSError as error:
        raise OutputPathError(f"cannot write plots to {str(path)!r}: {error.strerror or error}.") from None
    return path


def _write_plots(out: Path, model, trace, hist, X_train, y_train, X_test, y_test, pred, ppc_samples: int,
                 seed: int, grid_resolution: int) -> dict[str, str]:
    """The tutorial's figures as PNGs in ``out``: data, loss, predicted labels, decision surface."""
    import matplotlib.pyplot as plt


    out.mkdir(parents=True, exist_ok=True)
    paths = {}

    def save(figure, name):
        path = out / f"{name}.png"
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        paths[name] = str(path)

    X_all = np.concatenate([X_train, X_test])
    y_all = np.concatenate([y_train, y_test])
    save(plots.plot_data(X_all, y_all, title="Toy binary classification data set"), "data")
    save(plots.plot_loss(hist, smooth=min(1000, len(hist))), "loss")
    save(plots.plot_predicted_labels(X_test, pred.astype(int), title="Predicted labels in testing set"),
         "predicted_labels")

    # The predictive probability over a grid: draws of the deterministic p give
    # the smooth mean of P(class 1) and its spread across posterior draws (the
    # uncertainty of the network's output; std_of="p").
    grid = plots.grid_2d(np.concatenate([X_train, X_test]), resolution=grid_resolution)
    with model:
        set_data({"x": grid.points})
        surface = sample_posterior_predictive(trace, samples=ppc_samples, var_names=["p"], random_seed=seed + 3)
    p_draws = np.asarray(surface.posterior_predictive["p"]).reshape(-1, grid.points.shape[0])
    mean = p_draws.mean(axis=0).reshape(grid.grid_x.shape)
    std = p_draws.std(axis=0).reshape(grid.grid_x.shape)
    save(plots.plot_decision_surface(grid.grid_x, grid.grid_y, mean, std, X=X_train, y=y_train, std_of="p"),
         "decision_surface")
    return paths
