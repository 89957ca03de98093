"""Tests of credo.datasets: the two-moons split and the UCI folder reader."""

from pathlib import Path

import numpy as np
import pytest

from credo import datasets

# The repository sits beside shared/, which holds the UCI benchmark folders.
UCI_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "uci"

needs_uci = pytest.mark.skipif(
    not (UCI_DIR / "yacht" / "data.txt").is_file(),
    reason=f"UCI data not found at {UCI_DIR} (expected shared/ beside the repository)",
)


# --------------------------------------------------------------------------
# two moons
# --------------------------------------------------------------------------


def test_make_moons_split_shapes_and_scaling():
    X_train, X_test, y_train, y_test = datasets.make_moons_split(
        n_samples=200, noise=0.2, test_size=0.25, random_state=1
    )
    assert X_train.shape == (150, 2) and X_test.shape == (50, 2)
    assert y_train.shape == (150,) and y_test.shape == (50,)
    assert set(np.unique(np.concatenate([y_train, y_test]))) == {0, 1}
    # scaling is done on the whole data set, before the split
    X = np.concatenate([X_train, X_test])
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1.0)
    assert X_train.dtype == np.float64


def test_make_moons_split_is_reproducible():
    first = datasets.make_moons_split(n_samples=100, random_state=3)
    second = datasets.make_moons_split(n_samples=100, random_state=3)
    other = datasets.make_moons_split(n_samples=100, random_state=4)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


# --------------------------------------------------------------------------
# UCI folders
# --------------------------------------------------------------------------


def read_indices(name: str, file_name: str) -> np.ndarray:
    return np.loadtxt(UCI_DIR / name / file_name, dtype=int, ndmin=1)


@needs_uci
def test_uci_names_lists_the_folders():
    names = datasets.uci_names(UCI_DIR)
    assert "yacht" in names and names == sorted(names)
    assert "README.md" not in names


@needs_uci
def test_load_uci_yacht_split_matches_index_files():
    split = 3
    data = datasets.load_uci("yacht", split=split, data_dir=UCI_DIR)
    train = read_indices("yacht", f"index_train_{split}.txt")
    test = read_indices("yacht", f"index_test_{split}.txt")
    features = read_indices("yacht", "index_features.txt")
    target = read_indices("yacht", "index_target.txt")
    raw = np.loadtxt(UCI_DIR / "yacht" / "data.txt")

    assert data.X_train.shape == (train.size, features.size)
    assert data.X_test.shape == (test.size, features.size)
    assert data.y_train.shape == (train.size,) and data.y_test.shape == (test.size,)
    assert not set(train) & set(test)
    assert train.size + test.size == raw.shape[0]
    np.testing.assert_array_equal(data.X_test, raw[test][:, features])
    np.testing.assert_array_equal(data.y_train, raw[train, target[0]])
    assert (data.name, data.split) == ("yacht", split)
    assert data.n_splits == int((UCI_DIR / "yacht" / "n_splits.txt").read_text())
    assert data.n_hidden == int((UCI_DIR / "yacht" / "n_hidden.txt").read_text())
    assert data.n_epochs == int((UCI_DIR / "yacht" / "n_epochs.txt").read_text())


@needs_uci
def test_standardize_uses_training_statistics():
    data = datasets.load_uci("yacht", split=0, data_dir=UCI_DIR)
    standardized = data.standardize()
    np.testing.assert_allclose(standardized.X_train.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(standardized.X_train.std(axis=0), 1.0)
    assert standardized.y_train.mean() == pytest.approx(0.0, abs=1e-10)
    assert standardized.y_train.std() == pytest.approx(1.0)
    assert standardized.y_mean == pytest.approx(data.y_train.mean())
    assert standardized.y_std == pytest.approx(data.y_train.std())
    # the test rows are mapped with the training statistics and map back exactly
    np.testing.assert_allclose(
        standardized.y_test * standardized.y_std + standardized.y_mean, data.y_test
    )


def test_standardize_replaces_zero_std_by_one():
    constant = np.array([[1.0, 5.0], [3.0, 5.0]])
    data = datasets.UCISplit(
        X_train=constant, y_train=np.array([2.0, 2.0]), X_test=constant[:1],
        y_test=np.array([4.0]), name="toy", split=0, n_splits=1, n_hidden=1, n_epochs=1,
    )
    standardized = data.standardize()
    # column 0: mean 2, std 1; column 1: mean 5, std 0 -> 1; target: mean 2, std 0 -> 1
    np.testing.assert_allclose(standardized.X_train, [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(standardized.y_test, [2.0])
    assert standardized.y_std == 1.0


@needs_uci
def test_load_uci_arrays_are_read_only():
    data = datasets.load_uci("yacht", data_dir=UCI_DIR)
    with pytest.raises(ValueError):
        data.X_train[0, 0] = 0.0


@needs_uci
def test_load_uci_reads_environment_variable(monkeypatch):
    monkeypatch.setenv(datasets.UCI_DIR_VARIABLE, str(UCI_DIR))
    assert datasets.load_uci("yacht", split=1).split == 1


def test_load_uci_without_directory_says_what_to_pass(monkeypatch):
    monkeypatch.delenv(datasets.UCI_DIR_VARIABLE, raising=False)
    with pytest.raises(ValueError, match="data_dir.*CREDO_UCI_DIR"):
        datasets.load_uci("yacht")


def test_load_uci_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        datasets.load_uci("yacht", data_dir=tmp_path / "absent")


@needs_uci
def test_load_uci_unknown_name_lists_the_data_sets():
    with pytest.raises(ValueError, match=r"unknown UCI data set 'boston'.*'yacht'"):
        datasets.load_uci("boston", data_dir=UCI_DIR)


@needs_uci
def test_load_uci_split_out_of_range_names_n_splits():
    n_splits = int((UCI_DIR / "yacht" / "n_splits.txt").read_text())
    with pytest.raises(ValueError, match=f"n_splits={n_splits}"):
        datasets.load_uci("yacht", split=n_splits, data_dir=UCI_DIR)
    with pytest.raises(ValueError, match=f"n_splits={n_splits}"):
        datasets.load_uci("yacht", split=-1, data_dir=UCI_DIR)
    with pytest.raises(TypeError, match="split: expected an int"):
        datasets.load_uci("yacht", split=1.0, data_dir=UCI_DIR)


def test_load_uci_missing_file_is_named(tmp_path):
    folder = tmp_path / "toy"
    folder.mkdir()
    np.savetxt(folder / "data.txt", np.arange(6.0).reshape(3, 2))
    (folder / "n_splits.txt").write_text("1\n")
    with pytest.raises(FileNotFoundError, match="index_features.txt"):
        datasets.load_uci("toy", data_dir=tmp_path)


def write_toy_folder(root: Path) -> np.ndarray:
    """A 5-row data set with inputs in columns 0 and 2, target in column 1."""
    folder = root / "toy"
    folder.mkdir()
    data = np.arange(15.0).reshape(5, 3)
    np.savetxt(folder / "data.txt", data)
    np.savetxt(folder / "index_features.txt", [0, 2], fmt="%d")
    np.savetxt(folder / "index_target.txt", [1], fmt="%d")
    np.savetxt(folder / "index_train_0.txt", [4, 0, 2], fmt="%d")
    np.savetxt(folder / "index_test_0.txt", [1, 3], fmt="%d")
    for file_name, value in (("n_splits.txt", 1), ("n_hidden.txt", 7), ("n_epochs.txt", 9)):
        (folder / file_name).write_text(f"{value}\n")
    return data


def test_load_uci_on_a_toy_folder(tmp_path):
    write_toy_folder(tmp_path)
    (tmp_path / "notes").mkdir()  # a folder without data.txt is not a data set
    assert datasets.uci_names(tmp_path) == ["toy"]
    data = datasets.load_uci("toy", data_dir=tmp_path)
    # rows 4, 0, 2 -> inputs (12, 14), (0, 2), (6, 8); targets 13, 1, 7
    np.testing.assert_array_equal(data.X_train, [[12.0, 14.0], [0.0, 2.0], [6.0, 8.0]])
    np.testing.assert_array_equal(data.y_train, [13.0, 1.0, 7.0])
    np.testing.assert_array_equal(data.y_test, [4.0, 10.0])
    assert (data.n_splits, data.n_hidden, data.n_epochs) == (1, 7, 9)
    # training target mean 7, std sqrt((36 + 36 + 0) / 3) = sqrt(24)
    standardized = data.standardize()
    assert standardized.y_mean == pytest.approx(7.0)
    assert standardized.y_std == pytest.approx(np.sqrt(24.0))
    np.testing.assert_allclose(standardized.y_test, (np.array([4.0, 10.0]) - 7.0) / np.sqrt(24.0))
