"""Errors credo raises for mistakes in user input.

Each is a subclass of ``ValueError`` or ``TypeError`` so that code written
against the built-in exceptions keeps working, and each message names the
variable involved, what was expected and what was found.
"""

from __future__ import annotations


class CredoError(Exception):
    """Base class of every error credo raises on purpose."""


class CredoWarning(UserWarning):
    """Base class of the warnings credo gives about a model that works but is likely not what was meant
    (observed data with no rows, minibatches whose rows do not pair)."""


class ModelError(CredoError, ValueError):
    """A model is defined inconsistently: a name used twice, a bad shape."""


class ModelContextError(CredoError, TypeError):
    """A variable or model-level call was made outside a ``with cr.Model():``."""


class ParameterError(CredoError, ValueError):
    """A constant distribution parameter lies outside its domain."""


class ParameterTypeError(CredoError, TypeError):
    """A distribution parameter is not a number, a numeric array or a credo variable, or a variable's
    option has the wrong type (``shape="12"``, ``total_size=True``, ``dims=3``)."""


class ObservedError(CredoError, ValueError):
    """Observed data contain NaN or inf, lie outside the support, or do not fit."""


class DataError(CredoError, ValueError):
    """``set_data`` received an unknown name or values of the wrong shape."""


class DataTypeError(DataError, TypeError):
    """Data of the wrong type: ``set_data`` given a list instead of a dict, strings instead of numbers."""


class CoordsError(CredoError, ValueError):
    """Coordinates and dimensions disagree: a dims name the model does not know, labels of the wrong length."""


class OutputPathError(CredoError, OSError):
    """A file or folder credo was asked to write cannot be written."""


class InitvalError(CredoError, ValueError):
    """An initial value has the wrong shape or lies outside the support."""


class ConfigError(CredoError, ValueError):
    """``cr.config`` was given a setting it cannot take."""


class FitError(CredoError, ValueError):
    """A fit was asked for something it cannot do (n <= 0, unknown method, ...)."""


class CheckpointError(FitError):
    """A checkpoint file belongs to another fit (other data, settings or seed), or cannot be used."""


class ArgumentError(CredoError, ValueError):
    """An inference function (predictive, log-likelihood, ...) was given an argument it cannot take."""


class SamplingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped ``cr.sample`` during tuning, before any draw was kept (nothing to return)."""


class NonFiniteLossError(CredoError, FloatingPointError):
    """The loss turned NaN or inf during a fit.

    Attributes
    ----------
    iteration : int
        The iteration (0-based, counted over the whole fit) whose loss or
        gradient was not finite.
    variables : list of str
        The free variables whose gradients were not finite at that iteration.
    approximation : object
        The approximation from the last finite step: nothing learned is lost.
    """

    def __init__(self, message: str, iteration: int, variables: list[str], approximation=None):
        super().__init__(message)
        self.iteration = iteration
        self.variables = variables
        self.approximation = approximation


class ApproximationWarning(UserWarning):
    """An approximation's importance-sampling diagnostic (Pareto k-hat above 0.7) says its draws are unreliable."""


def check_keywords(what: str, given, accepted) -> None:
    """Raise ``TypeError`` naming the keyword arguments of ``given`` that ``what`` does not take.

    Examples
    --------
    >>> check_keywords("fit", {"rank": 3}, ["obj_n_mc"])
    Traceback (most recent call last):
    ...
    TypeError: fit() got an unexpected keyword argument 'rank'; it accepts obj_n_mc.
    """
    unknown = [name for name in given if name not in accepted]
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        plural = "s" if len(unknown) > 1 else ""
        choices = ", ".join(sorted(accepted)) or "none"
        raise TypeError(f"{what}() got an unexpected keyword argument{plural} {names}; it accepts {choices}.")
