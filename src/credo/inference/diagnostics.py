"""Whether an approximation can be trusted: Pareto-smoothed importance sampling of ``p / q``.

Draw ``x_s ~ q`` from the approximation and weigh each by ``p(x_s) / q(x_s)``
(``p`` the model's unnormalised density on the flat unconstrained space,
Jacobians included). Pareto-smoothed importance sampling (PSIS: Vehtari,
Simpson, Gelman, Yao and Gabry 2024) fits a generalised Pareto distribution
to the largest ratios; its shape ``k-hat`` says how heavy the tail of the
ratios is, hence how far ``q`` is from ``p`` where it matters (Yao, Vehtari,
Simpson and Gelman 2018, "Yes, but did it work?"):

* ``k-hat < 0.5``: ``q`` is close to ``p``; its draws and the importance
  reweighted ones are reliable.
* ``0.5 <= k-hat <= 0.7``: usable; importance reweighting (``sample(...,
  importance="psis")``) improves the estimates.
* ``k-hat > 0.7``: ``q`` misses mass that ``p`` has (too narrow, the wrong
  correlations or tails); neither its draws nor reweighting can be trusted.

The smoothing and ``k-hat`` are ArviZ's :func:`arviz.psislw`. ``log p`` and
``log q`` of the draws come from one compiled program per model, method and
data shapes (:class:`~credo.inference.programs.ImportanceDraws`).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import warnings

import jax
import numpy as np

from .._config import model_size, settings
from ..errors import ApproximationWarning, FitError
from ..model.placement import is_main_process, streamed_names
from ..model.programs import data_signature
from .programs import ImportanceDraws

__all__ = ["Diagnosis", "diagnose", "psis", "importance_draws", "resample", "report_fit", "KHAT_GOOD", "KHAT_BAD",
           "VERDICT_BUDGET"]

#: Below this k-hat the approximation is close to the posterior.
KHAT_GOOD = 0.5
#: Above this k-hat its draws (and importance reweighting) cannot be trusted.
KHAT_BAD = 0.7
#: The closing verdict of a fit is left out when its draws times the model's size (parameters times data rows,
#: ``credo._config.model_size``) exceed this: about a second on two CPU cores. Measured: 256 draws of a
#: 6x10^4-weight network on 18,000 rows (2.8e11) took 30 s, of a 10^6-weight one about 7 minutes.
#: ``approx.diagnose()`` computes it at any size.
VERDICT_BUDGET = 10**10


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    """The importance-sampling verdict on an approximation.

    Attributes
    ----------
    khat : float
        Pareto k-hat of the importance ratios ``p / q`` (NaN where the
        approximation has no density, as particles do).
    ess : float
        Effective sample size of the Pareto-smoothed importance weights,
        ``1 / sum(w**2)`` for weights normalised to sum to one.
    num_draws : int
        Draws from the approximation the verdict is based on.
    reason : str or None
        Why there is no k-hat, where there is none.
    """

    khat: float
    ess: float
    num_draws: int
    reason: str | None = None

    @property
    def verdict(self) -> str:
        """``"good"`` (k-hat < 0.5), ``"ok"`` (up to 0.7), ``"bad"``, or ``"undefined"``."""
        if not np.isfinite(self.khat):
            return "undefined"
        if self.khat < KHAT_GOOD:
            return "good"
        return "ok" if self.khat <= KHAT_BAD else "bad"

    def summary(self) -> str:
        """One line: k-hat, its verdict and the importance ESS."""
        if self.verdict == "undefined":
            return f"Pareto k-hat: not defined ({self.reason})"
        return (f"Pareto k-hat {self.khat:.2f} ({self.verdict}), importance ESS {self.ess:.0f} of "
                f"{self.num_draws} draws")

    def __str__(self) -> str:
        return self.summary()


def psis(log_ratios: np.ndarray) -> tuple[np.ndarray, float]:
    """Pareto-smoothed, normalised log weights and k-hat of ``log_ratios`` (ArviZ's :func:`arviz.psislw`).

    Non-finite ratios (draws where ``p`` is zero or not finite) get weight zero.

    Examples
    --------
    >>> import numpy as np
    >>> log_weights, khat = psis(np.random.default_rng(0).normal(size=1000) * 0.1)
    >>> bool(khat < 0.5), round(float(np.exp(log_weights).sum()), 6)
    (True, 1.0)
    """
    import arviz as az

    ratios = np.asarray(log_ratios, np.float64)
    ratios = np.where(np.isnan(ratios), -np.inf, ratios)
    finite = np.isfinite(ratios)
    if finite.sum() < 2:
        raise FitError(f"psis: {finite.sum()} of {ratios.size} importance ratios are finite; the approximation puts "
                       "its mass where the model's density is zero or not finite.")
    # Shift by the largest ratio (PSIS is invariant to it) so that exp() stays in range.
    shifted = np.where(finite, ratios - ratios[finite].max(), -np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arviz's own k-hat warnings: credo words its own
        log_weights, khat = az.psislw(shifted)
    return np.asarray(log_weights), float(khat)


def importance_draws(approx, key: jax.Array, num: int, data=None) -> tuple[np.ndarray, np.ndarray]:
    """``num`` flat draws of ``approx`` and their log importance ratios ``log p - log q``."""
    if not approx.family.has_density:
        raise FitError(f"the {approx.family.name} approximation has no density (its draws are particles): "
                       "importance weights p/q are not defined for it.")
    compiled = approx.compiled
    data = approx.placed_data().arrays if data is None else data
    program = compiled.programs.get(ImportanceDraws(approx.family, data_signature(data)), compiled)
    flat, log_p, log_q = jax.device_get(program(key, approx.state, data, int(num)))
    return np.asarray(flat), np.asarray(log_p, np.float64) - np.asarray(log_q, np.float64)


def diagnose(approx, draws: int = 1000, key: jax.Array | None = None) -> Diagnosis:
    """The PSIS verdict on ``approx`` from ``draws`` draws (see the module doc)."""
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 2:
        raise FitError(f"diagnose: draws must be an integer of at least 2; got {draws!r}.")
    if not approx.family.has_density:
        return Diagnosis(float("nan"), float("nan"), int(draws),
                         f"{approx.family.name} approximates the posterior by particles, which have no density")
    if streamed_names(approx.model.data_values):
        return Diagnosis(float("nan"), float("nan"), int(draws),
                         "the data stream from the host: the log density of every row at every draw is not computed")
    key = jax.random.key(0) if key is None else key
    _, log_ratios = importance_draws(approx, key, int(draws))
    log_weights, khat = psis(log_ratios)
    ess = 1.0 / np.sum(np.exp(2 * log_weights))
    return Diagnosis(khat, float(ess), int(draws))


def resample(key: jax.Array, log_weights: np.ndarray, num: int) -> np.ndarray:
    """``num`` indices drawn with replacement with probabilities ``exp(log_weights)`` (normalised)."""
    seed = np.asarray(jax.random.key_data(key)).ravel()
    rng = np.random.default_rng(seed.astype(np.uint64))
    weights = np.exp(log_weights - np.max(log_weights))
    return rng.choice(len(weights), size=int(num), replace=True, p=weights / weights.sum())


def report_fit(approx, progressbar: bool):
    """The fit's closing verdict: ``approx`` with its :class:`Diagnosis` in ``approx.info.diagnosis``.

    Warns (:class:`~credo.errors.ApproximationWarning`) when k-hat > 0.7;
    otherwise writes the one-line summary to stderr when ``progressbar``.
    A model too large for the verdict to be cheap (:data:`VERDICT_BUDGET`)
    gets an undefined diagnosis that says so.
    ``cr.config(diagnose_draws=0)`` turns the diagnosis off (the fit is
    returned as it is).
    """
    num = settings().diagnose_draws
    if num == 0:
        return approx
    size = num * model_size(approx.compiled.dim, approx.model.data_values)
    if size > VERDICT_BUDGET:
        diagnosis = Diagnosis(float("nan"), float("nan"), num, f"left out at the end of the fit: {num} draws of this "
                              f"model cost about {size:.1e} multiply-adds; call approx.diagnose(draws=...) for it")
    else:
        diagnosis = diagnose(approx, num, jax.random.fold_in(approx.key, 0x5D1A))
    approx = dataclasses.replace(approx, info=dataclasses.replace(approx.info, diagnosis=diagnosis))
    logging.getLogger("credo").info(diagnosis.summary())
    if diagnosis.verdict == "bad":
        warnings.warn(
            f"{diagnosis.summary()}: the {approx.family.label} approximation misses posterior mass (k-hat > 0.7), "
            "so its draws, means and standard deviations are unreliable. Check with approx.diagnose(draws=...) "
            "and consider a richer approximation (fullrank_advi, nfvi), more iterations, or cr.sample.",
            ApproximationWarning, stacklevel=3)
    elif progressbar and is_main_process():
        print(diagnosis.summary(), file=sys.stderr)
    return approx
