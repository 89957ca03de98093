"""Data sets: the two-moons classification problem and the UCI regression folders.

UCI folder format
-----------------
A UCI data directory holds one folder per data set, each with:

- ``data.txt``: whitespace-separated rows;
- ``index_features.txt``, ``index_target.txt``: 0-based column indices of the
  inputs and of the target;
- ``index_train_K.txt``, ``index_test_K.txt``: 0-based row indices of split K;
- ``n_splits.txt``, ``n_hidden.txt``, ``n_epochs.txt``: the benchmark
  protocol's number of splits, hidden units and training epochs.

The directory is passed as ``data_dir`` or read from the environment variable
``CREDO_UCI_DIR``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = [
    "StandardizedSplit",
    "UCISplit",
    "load_uci",
    "make_moons_split",
    "uci_names",
]

UCI_DIR_VARIABLE = "CREDO_UCI_DIR"


def make_moons_split(
    n_samples: int = 1000,
    noise: float = 0.2,
    test_size: float = 0.5,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two interleaving half-moons, standardised and split into train and test.

    The inputs are scaled to zero mean and unit variance over the whole data
    set, then split. Arrays stay float64 numpy; cast them where needed.

    Parameters
    ----------
    n_samples : int, default 1000
        Total number of points.
    noise : float, default 0.2
        Standard deviation of the Gaussian noise added to the points.
    test_size : float, default 0.5
        Fraction of the points held out for testing.
    random_state : int, default 0
        Seed of both the data and the split.

    Returns
    -------
    X_train, X_test, y_train, y_test : numpy.ndarray
        Inputs ``(n, 2)`` and 0/1 labels ``(n,)``.

    Examples
    --------
    >>> X_train, X_test, y_train, y_test = make_moons_split(n_samples=100)
    >>> X_train.shape, y_test.shape
    ((50, 2), (50,))
    """
    from sklearn.datasets import make_moons
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import scale

    X, y = make_moons(n_samples=n_samples, noise=noise, random_state=random_state)
    X = scale(X)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=random_state
    )
    return X_train, X_test, y_train, y_test


class StandardizedSplit(NamedTuple):
    """A UCI split standardised with its training rows' statistics.

    Attributes
    ----------
    X_train, y_train, X_test, y_test : numpy.ndarray
        Standardised inputs and targets.
    y_mean, y_std : numpy.ndarray
        The training target's mean and standard deviation: predictions map
        back to original units as ``prediction * y_std + y_mean`` (and
        predictive standard deviations as ``std * y_std``).
    X_mean, X_std : numpy.ndarray
        The training inputs' per-column mean and standard deviation.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    y_mean: np.ndarray
    y_std: np.ndarray
    X_mean: np.ndarray
    X_std: np.ndarray


@dataclass(frozen=True, eq=False)
class UCISplit:
    """One train/test split of a UCI regression data set, in original units.

    Attributes
    ----------
    X_train, y_train, X_test, y_test : numpy.ndarray
        Inputs ``(n, D)`` and targets ``(n,)`` (read-only arrays).
    name : str
        The data set's folder name.
    split : int
        Which split, in ``0..n_splits - 1``.
    n_splits, n_hidden, n_epochs : int
        The benchmark protocol's number of splits, hidden units and epochs.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str
    split: int
    n_splits: int
    n_hidden: int
    n_epochs: int

    def standardize(self) -> StandardizedSplit:
        """Standardise inputs and target with the training rows' mean and std.

        A standard deviation of 0 (a constant column) is replaced by 1.

        Returns
        -------
        StandardizedSplit

        Examples
        --------
        >>> data = load_uci("yacht", split=0, data_dir="/path/to/uci")  # doctest: +SKIP
        >>> standardized = data.standardize()  # doctest: +SKIP
        >>> # a prediction z on the standardised scale is z * y_std + y_mean in original units
        >>> float(abs(standardized.y_train.mean())) < 1e-12  # doctest: +SKIP
        True
        """
        X_mean, X_std = _mean_and_std(self.X_train)
        y_mean, y_std = _mean_and_std(self.y_train)
        return StandardizedSplit(
            X_train=(self.X_train - X_mean) / X_std,
            y_train=(self.y_train - y_mean) / y_std,
            X_test=(self.X_test - X_mean) / X_std,
            y_test=(self.y_test - y_mean) / y_std,
            y_mean=y_mean,
            y_std=y_std,
            X_mean=X_mean,
            X_std=X_std,
        )


def _mean_and_std(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations, with a zero std replaced by 1."""
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    return mean, np.where(std == 0, 1.0, std)


# --------------------------------------------------------------------------
# UCI folders
# --------------------------------------------------------------------------


def _resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """The UCI data directory: ``data_dir``, else ``$CREDO_UCI_DIR``."""
    if data_dir is None:
        data_dir = os.environ.get(UCI_DIR_VARIABLE)
        if not data_dir:
            raise ValueError(
                "no UCI data directory given: pass data_dir=<folder holding one "
                f"sub-folder per data set> or set the environment variable {UCI_DIR_VARIABLE}."
            )
    path = Path(data_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"UCI data directory {str(path)!r} is a file, not a folder: give the folder that "
                                 "holds one sub-folder per data set (each with its data.txt).")
    if not path.is_dir():
        raise FileNotFoundError(f"UCI data directory {str(path)!r} does not exist.")
    return path


def uci_names(data_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the UCI data sets found in a data directory.

    Parameters
    ----------
    data_dir : str or path-like, optional
        Folder holding one sub-folder per data set; by default the
        environment variable ``CREDO_UCI_DIR``.

    Returns
    -------
    list of str
        Sorted names of the sub-folders that hold a ``data.txt``.

    Examples
    --------
    >>> uci_names("/path/to/uci")  # doctest: +SKIP
    ['concrete', 'energy', 'kin8nm', 'wine-quality-red', 'yacht']
    """
    root = _resolve_data_dir(data_dir)
    return sorted(entry.name for entry in root.iterdir() if (entry / "data.txt").is_file())


def _read_file(folder: Path, file_name: str) -> Path:
    path = folder / file_name
    if not path.is_file():
        raise FileNotFoundError(
            f"UCI data set {folder.name!r}: expected the file {file_name!r} in {str(folder)!r}."
        )
    return path


def _read_integer(folder: Path, file_name: str) -> int:
    text = _read_file(folder, file_name).read_text().strip()
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"UCI data set {folder.name!r}: {file_name} must hold one integer; it holds "
                         f"{text[:40]!r}.") from None


def _read_indices(folder: Path, file_name: str, limit: int) -> np.ndarray:
    """Row (or column) indices from a file, each in ``0..limit-1``."""
    try:
        indices = np.loadtxt(_read_file(folder, file_name), dtype=float, ndmin=1)
    except ValueError as error:
        raise ValueError(f"UCI data set {folder.name!r}: {file_name} must hold integer indices ({error}).") from None
    if indices.size and (np.any(indices != np.round(indices)) or indices.min() < 0 or indices.max() >= limit):
        bad = indices[(indices != np.round(indices)) | (indices < 0) | (indices >= limit)][0]
        raise ValueError(f"UCI data set {folder.name!r}: {file_name} holds the index {bad:g}, outside "
                         f"0..{limit - 1} (data.txt has {limit} {'rows' if 'index_t' in file_name else 'columns'}).")
    return indices.astype(int)


def _check_split(split: int, n_splits: int, name: str) -> None:
    if isinstance(split, bool) or not isinstance(split, (int, np.integer)):
        raise TypeError(f"split: expected an int, got {type(split).__name__}.")
    if not 0 <= split < n_splits:
        raise ValueError(
            f"split: {name!r} has n_splits={n_splits} splits, so split must be in "
            f"0..{n_splits - 1}; got {split}."
        )


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def load_uci(name: str, split: int = 0, data_dir: str | os.PathLike | None = None) -> UCISplit:
    """Load one train/test split of a UCI regression data set.

    Parameters
    ----------
    name : str
        The data set's folder name, e.g. ``"yacht"`` (see :func:`uci_names`).
    split : int, default 0
        Which split, in ``0..n_splits - 1``.
    data_dir : str or path-like, optional
        Folder holding one sub-folder per data set; by default the
        environment variable ``CREDO_UCI_DIR``.

    Returns
    -------
    UCISplit
        Inputs and targets in original units; call ``.standardize()`` for the
        protocol's standardised version.

    Examples
    --------
    >>> data = load_uci("yacht", split=3, data_dir="/path/to/uci")  # doctest: +SKIP
    >>> data.X_train.shape, data.n_splits  # doctest: +SKIP
    ((277, 6), 20)
    """
    root = _resolve_data_dir(data_dir)
    names = uci_names(root)
    if name not in names:
        raise ValueError(
            f"unknown UCI data set {name!r} in {str(root)!r}; data sets found: {names}."
        )
    folder = root / name
    n_splits = _read_integer(folder, "n_splits.txt")
    _check_split(split, n_splits, name)
    data = np.loadtxt(_read_file(folder, "data.txt"), ndmin=2)
    rows, columns = data.shape
    features = _read_indices(folder, "index_features.txt", columns)
    target = _read_indices(folder, "index_target.txt", columns)
    train = _read_indices(folder, f"index_train_{split}.txt", rows)
    test = _read_indices(folder, f"index_test_{split}.txt", rows)
    X = data[:, features]
    y = data[:, target[0]] if target.size == 1 else data[:, target]
    return UCISplit(
        X_train=_read_only(X[train]),
        y_train=_read_only(y[train]),
        X_test=_read_only(X[test]),
        y_test=_read_only(y[test]),
        name=name,
        split=int(split),
        n_splits=n_splits,
        n_hidden=_read_integer(folder, "n_hidden.txt"),
        n_epochs=_read_integer(folder, "n_epochs.txt"),
    )
