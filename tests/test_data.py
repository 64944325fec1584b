"""The data layer: real files load to the documented shapes, and every bad input says what is wrong."""

import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from scratchnet.data import (
    GENERATORS,
    DataError,
    Dataset,
    load_cat,
    load_dataset,
    load_football,
    make_flower,
    save_dataset,
)

# --- the real files -------------------------------------------------------------------------


def test_cat_shapes_range_labels_and_classes(data_root):
    ds = load_cat(data_root / "cat")
    assert ds.name == "cat"
    assert ds.X_train.shape == (12288, 209) and ds.X_test.shape == (12288, 50)
    assert ds.Y_train.shape == (1, 209) and ds.Y_test.shape == (1, 50)
    assert ds.X_train.dtype == np.float64 and ds.Y_train.dtype == np.int64
    assert ds.X_train.min() == 0.0 and ds.X_train.max() == 1.0
    assert 0.0 <= ds.X_test.min() and ds.X_test.max() <= 1.0
    assert np.bincount(ds.Y_train[0]).tolist() == [137, 72]  # non-cat, cat
    assert np.bincount(ds.Y_test[0]).tolist() == [17, 33]
    assert ds.classes == ("non-cat", "cat")
    assert (ds.n_features, ds.m_train) == (12288, 209)


def test_cat_flattens_like_the_course(data_root):
    with h5py.File(data_root / "cat" / "train_catvnoncat.h5", "r") as f:
        x = f["train_set_x"][()]
    expected = x.reshape(x.shape[0], -1).T / 255.0
    np.testing.assert_array_equal(load_cat(data_root / "cat").X_train, expected)


def test_football_shapes_and_labels(data_root):
    ds = load_football(data_root / "football" / "data.mat")
    assert ds.X_train.shape == (2, 211) and ds.Y_train.shape == (1, 211)
    assert ds.X_test.shape == (2, 200) and ds.Y_test.shape == (1, 200)
    assert ds.Y_train.dtype == np.int64
    assert np.bincount(ds.Y_train[0]).tolist() == [105, 106]
    assert np.bincount(ds.Y_test[0]).tolist() == [113, 87]
    mat = scipy.io.loadmat(data_root / "football" / "data.mat")
    np.testing.assert_array_equal(ds.X_train, mat["X"].T)


# --- the planar sets ------------------------------------------------------------------------


def _course_flower():
    """The course's load_planar_dataset as published, on the global seed."""
    np.random.seed(1)
    m = 400
    N = int(m / 2)
    D = 2
    X = np.zeros((m, D))
    Y = np.zeros((m, 1), dtype="uint8")
    a = 4
    for j in range(2):
        ix = range(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + np.random.randn(N) * 0.2
        r = a * np.sin(4 * t) + np.random.randn(N) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    return X.T, Y.T


def test_flower_matches_the_course_bitwise():
    X, Y = _course_flower()
    ds = make_flower()
    assert ds.X_train.tobytes() == np.ascontiguousarray(X).tobytes()
    assert ds.X_train.shape == X.shape == (2, 400)
    np.testing.assert_array_equal(ds.Y_train, Y.astype(np.int64))
    assert np.bincount(ds.Y_train[0]).tolist() == [200, 200]
    assert ds.X_test is None and ds.Y_test is None


def test_flower_does_not_touch_global_random_state():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    make_flower(seed=7)
    assert np.array_equal(np.random.get_state()[1], before)


def test_flower_seed_changes_the_points():
    assert make_flower(seed=1).digest() != make_flower(seed=2).digest()


def test_flower_rejects_odd_m():
    with pytest.raises(ValueError, match="even m"):
        make_flower(m=401)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generators_follow_the_convention_and_are_reproducible(name):
    ds = GENERATORS[name]()
    assert ds.name == name
    sizes = {"planar": 400, "circles": 300, "moons": 300}  # circles, moons: course 2's study sets
    assert ds.n_features == 2 and ds.m_train == sizes.get(name, 200)
    assert ds.X_train.dtype == np.float64 and ds.Y_train.dtype == np.int64
    assert ds.Y_train.shape == (1, ds.m_train)
    assert set(np.unique(ds.Y_train)) == set(range(len(ds.classes)))
    assert GENERATORS[name]().digest() == ds.digest()


def test_extra_sets_match_sklearn_with_the_course_arguments():
    from sklearn.datasets import make_blobs, make_circles

    X, y = make_blobs(n_samples=200, random_state=5, n_features=2, centers=6)
    ds = GENERATORS["blobs"]()
    np.testing.assert_array_equal(ds.X_train, X.T)
    np.testing.assert_array_equal(ds.Y_train[0], y)
    assert len(ds.classes) == 6
    X, y = make_circles(n_samples=200, factor=0.5, noise=0.3, random_state=3)
    np.testing.assert_array_equal(GENERATORS["noisy_circles"](seed=3).X_train, X.T)


def test_importing_the_package_stays_light():
    code = "import sys, scratchnet.data; print([m for m in ('h5py', 'scipy', 'sklearn') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- cat loader errors ----------------------------------------------------------------------


def _write_cat_split(path: Path, split: str, x, y, classes=(b"non-cat", b"cat"), x_key=None):
    with h5py.File(path, "w") as f:
        f.create_dataset(x_key or f"{split}_set_x", data=x)
        f.create_dataset(f"{split}_set_y", data=y)
        f.create_dataset("list_classes", data=np.array(classes))


@pytest.fixture
def cat_dir(tmp_path, data_root):
    """A copy of the real cat folder; tests then spoil the train file."""
    root = tmp_path / "cat"
    shutil.copytree(data_root / "cat", root)
    return root


def _images(n=4, size=64):
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_cat_missing_file_says_dvc_pull(tmp_path):
    with pytest.raises(DataError, match=r"train_catvnoncat\.h5.*found nothing.*dvc pull"):
        load_cat(tmp_path)


def test_cat_truncated_file(cat_dir, data_root):
    head = (data_root / "cat" / "train_catvnoncat.h5").read_bytes()[:1000]
    (cat_dir / "train_catvnoncat.h5").write_bytes(head)
    with pytest.raises(DataError, match=r"train_catvnoncat\.h5: expected a readable HDF5.*trunc"):
        load_cat(cat_dir)


def test_cat_not_hdf5(cat_dir):
    (cat_dir / "test_catvnoncat.h5").write_text("not an HDF5 file\n")
    with pytest.raises(DataError, match=r"test_catvnoncat\.h5: expected a readable HDF5"):
        load_cat(cat_dir)


def test_cat_missing_key_names_it_and_the_keys_found(cat_dir):
    _write_cat_split(cat_dir / "train_catvnoncat.h5", "train", _images(), [0, 1, 0, 1],
                     x_key="images")
    with pytest.raises(DataError, match=r"missing key 'train_set_x'; found keys \['images', "):
        load_cat(cat_dir)


def test_cat_wrong_image_shape(cat_dir):
    _write_cat_split(cat_dir / "train_catvnoncat.h5", "train", _images(size=32), [0, 1, 0, 1])
    with pytest.raises(DataError, match=r"expected images of shape \(N, 64, 64, 3\), "
                                        r"found \(4, 32, 32, 3\)"):
        load_cat(cat_dir)


def test_cat_wrong_image_dtype(cat_dir):
    _write_cat_split(cat_dir / "train_catvnoncat.h5", "train", _images().astype(np.float32),
                     [0, 1, 0, 1])
    with pytest.raises(DataError, match="expected dtype uint8, found float32"):
        load_cat(cat_dir)


def test_cat_label_outside_0_1_is_named(cat_dir):
    _write_cat_split(cat_dir / "train_catvnoncat.h5", "train", _images(), [0, 1, 2, 1])
    with pytest.raises(DataError, match=r"train_set_y: expected labels in \{0, 1\}, found 2"):
        load_cat(cat_dir)


def test_cat_label_count_mismatch(cat_dir):
    _write_cat_split(cat_dir / "train_catvnoncat.h5", "train", _images(), [0, 1, 0])
    with pytest.raises(DataError, match=r"expected shape \(4,\), one label per image, found \(3,\)"):
        load_cat(cat_dir)


def test_cat_small_valid_file_loads(cat_dir):
    _write_cat_split(cat_dir / "train_catvnoncat.h5", "train", _images(), [0, 1, 0, 1])
    ds = load_cat(cat_dir)
    assert ds.X_train.shape == (12288, 4) and ds.Y_train.tolist() == [[0, 1, 0, 1]]


# --- football loader errors -----------------------------------------------------------------


def test_football_missing_file_says_dvc_pull(tmp_path):
    with pytest.raises(DataError, match=r"data\.mat.*dvc pull"):
        load_football(tmp_path / "data.mat")


@pytest.mark.parametrize("content", [b"", b"not a mat file\n"])
def test_football_corrupt_file(tmp_path, content):
    path = tmp_path / "data.mat"
    path.write_bytes(content)
    with pytest.raises(DataError, match=r"data\.mat: expected a readable MATLAB"):
        load_football(path)


def test_football_truncated_file(tmp_path, data_root):
    path = tmp_path / "data.mat"
    path.write_bytes((data_root / "football" / "data.mat").read_bytes()[:3000])
    with pytest.raises(DataError, match=r"data\.mat: expected a readable MATLAB"):
        load_football(path)


def test_football_missing_key(tmp_path):
    path = tmp_path / "data.mat"
    scipy.io.savemat(path, {"X": np.zeros((3, 2)), "y": np.zeros((3, 1)), "Xval": np.zeros((2, 2))})
    with pytest.raises(DataError, match=r"missing key 'yval'; found keys \['X', 'Xval', 'y'\]"):
        load_football(path)


def test_football_bad_label(tmp_path):
    path = tmp_path / "data.mat"
    scipy.io.savemat(path, {"X": np.zeros((3, 2)), "y": np.array([[0], [3], [1]]),
                            "Xval": np.zeros((2, 2)), "yval": np.zeros((2, 1))})
    with pytest.raises(DataError, match=r"y: expected labels in \{0, 1\}, found 3"):
        load_football(path)


def test_football_nan_feature_names_the_file(tmp_path):
    path = tmp_path / "data.mat"
    scipy.io.savemat(path, {"X": np.array([[0.0, np.nan], [1, 1]]), "y": np.zeros((2, 1)),
                            "Xval": np.zeros((2, 2)), "yval": np.zeros((2, 1))})
    with pytest.raises(DataError, match=r"data\.mat: dataset 'football': expected finite"):
        load_football(path)


# --- Dataset validation ---------------------------------------------------------------------


def _arrays(n=3, m=5, m_test=4):
    rng = np.random.default_rng(0)
    return {
        "X_train": rng.normal(size=(n, m)),
        "Y_train": rng.integers(0, 2, (1, m)),
        "X_test": rng.normal(size=(n, m_test)),
        "Y_test": rng.integers(0, 2, (1, m_test)),
    }


def _make(**changes):
    fields = {"name": "toy", "classes": ("a", "b"), **_arrays()}
    fields.update(changes)
    return Dataset(**fields)


def test_valid_dataset_properties():
    ds = _make()
    assert (ds.n_features, ds.m_train) == (3, 5)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"X_train": np.array([[0.0, np.nan, 1, 2, 3]] * 3)},
         r"'toy': expected finite values in X_train, found nan"),
        ({"X_test": np.array([[np.inf] * 4] * 3)}, r"finite values in X_test, found inf"),
        ({"Y_train": np.zeros((1, 4), dtype=np.int64)},
         r"expected Y_train with one label per X_train column \(5\), found 4 labels"),
        ({"X_test": np.zeros((2, 4))}, r"expected X_test with 3 features like X_train, found 2"),
        ({"X_train": np.zeros((3, 0)), "Y_train": np.zeros((1, 0), dtype=np.int64)},
         r"expected X_train non-empty, found shape \(3, 0\)"),
        ({"X_train": np.zeros(5)}, r"expected X_train 2-D .*found shape \(5,\)"),
        ({"Y_train": np.zeros((2, 5), dtype=np.int64)}, r"expected Y_train of shape \(1, m\)"),
        ({"X_train": np.zeros((3, 5), dtype=np.float32)},
         r"expected X_train of dtype float64, found float32"),
        ({"Y_test": np.array([[0, 1, 2, 0]])}, r"Y_test labels in 0\.\.1 .*found 2"),
        ({"Y_test": None}, r"X_test and Y_test both given or both None"),
        ({"classes": ()}, r"at least one class name"),
    ],
)
def test_dataset_validation(changes, message):
    with pytest.raises(DataError, match=message):
        _make(**changes)


def test_dataset_arrays_are_read_only():
    ds = _make()
    with pytest.raises(ValueError, match="read-only"):
        ds.X_train[0, 0] = 1.0


# --- digest and HDF5 round trip -------------------------------------------------------------


def test_digest_is_stable_across_processes_and_tracks_the_data():
    ds = make_flower()
    code = "from scratchnet.data import make_flower; print(make_flower().digest())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == ds.digest()
    X = ds.X_train.copy()
    X[0, 0] += 1e-12
    assert Dataset("planar", X, ds.Y_train, None, None, ds.classes).digest() != ds.digest()
    Y = ds.Y_train.copy()
    Y[0, 0] = 1 - Y[0, 0]
    assert Dataset("planar", ds.X_train, Y, None, None, ds.classes).digest() != ds.digest()
    # same values, different layout: the digest is over C-order bytes, so it must not change
    F = np.asfortranarray(ds.X_train.copy())
    assert Dataset("planar", F, ds.Y_train, None, None, ds.classes).digest() == ds.digest()


@pytest.mark.parametrize("ds", [make_flower(m=20), _make()], ids=["no-test-split", "with-test"])
def test_save_load_round_trip(tmp_path, ds):
    path = tmp_path / "sub" / "set.h5"
    save_dataset(ds, path)
    back = load_dataset(path)
    assert back.name == ds.name and back.classes == ds.classes
    assert back.digest() == ds.digest()
    assert (back.X_test is None) == (ds.X_test is None)
    assert [p.name for p in path.parent.iterdir()] == ["set.h5"]  # no temp file left


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "set.h5"
    save_dataset(make_flower(m=20, seed=1), path)
    save_dataset(make_flower(m=20, seed=2), path)
    assert load_dataset(path).digest() == make_flower(m=20, seed=2).digest()


def test_load_dataset_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"set\.h5: expected a data file, found nothing"):
        load_dataset(tmp_path / "set.h5")


def test_load_dataset_corrupt_file(tmp_path):
    path = tmp_path / "set.h5"
    save_dataset(make_flower(m=20), path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataError, match=r"set\.h5: expected a readable HDF5"):
        load_dataset(path)


def test_load_dataset_missing_key(tmp_path):
    path = tmp_path / "set.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("X_train", data=np.zeros((2, 3)))
    with pytest.raises(DataError, match=r"missing key 'Y_train'; found keys \['X_train'\]"):
        load_dataset(path)


def test_load_dataset_invalid_content_names_the_file(tmp_path):
    path = tmp_path / "set.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("X_train", data=np.zeros((2, 3)))
        f.create_dataset("Y_train", data=np.zeros((1, 2), dtype=np.int64))
        f.attrs["name"] = "bad"
        f.attrs["classes"] = ["a", "b"]
    with pytest.raises(DataError, match=r"set\.h5: dataset 'bad': expected Y_train with one label"):
        load_dataset(path)
