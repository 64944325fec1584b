"""SIGNS through the real files: shapes, class counts, the duplicates the check finds, the measured
gap its threshold sits in, and the loader's errors."""

import json
import shutil

import h5py
import numpy as np
import pytest
from PIL import Image

from scratchnet.data import DataError, check_signs, find_duplicates, load_signs, read_image_folder
from scratchnet.data.duplicates import NEAR_THRESHOLD, pixel_digest, thumbnails
from scratchnet.data.imageset import concat
from scratchnet.data.signs import CLASSES, read_signs

# the 12 training images that are the same photo as a test image (all of them show 0 fingers)
TEST_COPIES = (
    "train_signs/0_IMG_5969 (1).jpg", "train_signs/0_IMG_5975.jpg", "train_signs/0_IMG_5976 (1).jpg",
    "train_signs/0_IMG_5980.jpg", "train_signs/0_IMG_6237 (1).jpg", "train_signs/0_IMG_6252.jpg",
    "train_signs/0_IMG_6253.jpg", "train_signs/0_IMG_6278 (1).jpg", "train_signs/0_IMG_6280 (1).jpg",
    "val_signs/0_IMG_6240 (1).jpg", "val_signs/0_IMG_6250.jpg", "val_signs/0_IMG_6276.jpg",
)


@pytest.fixture(scope="module")
def signs_root(data_root):
    return data_root / "signs"


@pytest.fixture(scope="module")
def sets(signs_root):
    return read_signs(signs_root)


@pytest.fixture(scope="module")
def report(signs_root):
    return check_signs(signs_root)


def test_default_set_drops_the_test_copies(signs_root):
    ds = load_signs(signs_root)
    assert ds.name == "signs" and ds.classes == CLASSES and ds.image_shape == (64, 64, 3)
    assert ds.X_train.shape == (12288, 1068) and ds.X_test.shape == (12288, 120)
    assert ds.X_train.dtype == np.float64 and 0.0 <= ds.X_train.min() and ds.X_train.max() <= 1.0
    assert np.bincount(ds.Y_train[0]).tolist() == [168, 180, 180, 180, 180, 180]
    assert np.bincount(ds.Y_test[0]).tolist() == [20] * 6
    assert ds.excluded == TEST_COPIES


def test_all_1080_without_exclusion_in_folder_then_name_order(signs_root, sets):
    ds = load_signs(signs_root, exclude_test_copies=False)
    assert ds.X_train.shape == (12288, 1080) and ds.excluded == ()
    assert np.bincount(ds.Y_train[0]).tolist() == [180] * 6
    assert {k: len(v) for k, v in sets.items()} == {"train_signs": 864, "val_signs": 216, "test": 120}
    names = sets["train_signs"].names + sets["val_signs"].names
    assert names[:2] == ("train_signs/0_IMG_5864.jpg", "train_signs/0_IMG_5892.jpg")
    assert names[864] == "val_signs/0_IMG_5865.jpg" and list(names[:864]) == sorted(names[:864])
    first = np.asarray(Image.open(signs_root / "64x64_SIGNS" / names[0])) / 255.0
    np.testing.assert_array_equal(ds.images("train")[0], first)
    with h5py.File(signs_root / "test_signs.h5", "r") as f:
        x, y = f["test_set_x"][()], f["test_set_y"][()]
    np.testing.assert_array_equal(ds.images("test"), x / 255.0)
    np.testing.assert_array_equal(ds.Y_test[0], y)


def test_exact_duplicates_in_and_across_splits(report):
    assert len(report.exact) == 44 and all(len(g.names) == 2 for g in report.exact)
    assert report.exact_counts() == {"test": 1, "train_signs": 26, "train_signs+val_signs": 15, "val_signs": 2}
    names = {g.names for g in report.exact}
    assert ("test_signs.h5[1]", "test_signs.h5[66]") in names  # the course's own test set repeats one photo
    assert ("train_signs/0_IMG_5957 (1).jpg", "train_signs/0_IMG_5957.jpg") in names
    assert ("train_signs/0_IMG_5958 (1).jpg", "val_signs/0_IMG_5958.jpg") in names
    assert report.label_conflicts() == []


def test_near_copies_of_test_images_and_the_gap(report):
    assert len(report.near) == 12 and report.train_copies == TEST_COPIES
    assert len({p.test for p in report.near}) == 12
    largest, closest_other = report.gap
    assert largest == pytest.approx(3.91e-5, abs=1e-7)
    assert closest_other == pytest.approx(1.437e-3, abs=1e-6)  # the next frame of a burst, not the photo
    other = report.closest_others[0]
    assert (other.test, other.train) == ("test_signs.h5[5]", "train_signs/0_IMG_6243.jpg")
    assert report.near[0].test == "test_signs.h5[81]" and report.near[0].train == "val_signs/0_IMG_6250.jpg"
    assert largest * 5 < NEAR_THRESHOLD < closest_other / 4
    as_json = json.loads(json.dumps(report.to_dict()))
    assert (as_json["exact_groups"], as_json["near_pairs"], len(as_json["train_copies"])) == (44, 12, 12)
    assert "12 pairs, 12 training images" in report.summary()


def test_threshold_separates_the_same_photo_from_different_photos(signs_root, sets):
    # the same 120 photos twice, from the h5 and from the JPEG export's test folder
    export = read_image_folder(signs_root / "64x64_SIGNS" / "test_signs", labels="name", classes=CLASSES)
    twins = find_duplicates({"export": export, "test": sets["test"]}, test="test")
    assert {p.test for p in twins.near} == set(sets["test"].names)  # every h5 image has its JPEG twin
    assert twins.label_conflicts() == []  # ... with the same label
    assert twins.gap[0] == pytest.approx(5.35e-5, abs=1e-7)  # the largest compression difference
    # the closest two different photos anywhere in training: consecutive frames, 16x further
    train = concat([sets["train_signs"], sets["val_signs"]])
    D = 1.0 - thumbnails(train.images) @ thumbnails(train.images).T
    digests = np.array([pixel_digest(image) for image in train.images])
    D[digests[:, None] == digests[None, :]] = np.inf  # exact copies (and the diagonal) aside
    i, j = np.unravel_index(D.argmin(), D.shape)
    assert D[i, j] == pytest.approx(8.65e-4, abs=1e-6)
    assert {train.names[i], train.names[j]} == {"train_signs/2_IMG_4714.jpg", "val_signs/2_IMG_4713.jpg"}
    assert twins.gap[0] < NEAR_THRESHOLD < D[i, j]


# --- errors -----------------------------------------------------------------------------------


@pytest.fixture
def signs_copy(tmp_path, signs_root):
    root = tmp_path / "signs"
    shutil.copytree(signs_root, root)
    return root


def test_missing_parts_say_dvc_pull(tmp_path, signs_copy):
    with pytest.raises(DataError, match=r"test_signs\.h5: expected a data file, found nothing.*dvc pull"):
        load_signs(tmp_path)
    shutil.rmtree(signs_copy / "64x64_SIGNS" / "val_signs")
    with pytest.raises(DataError, match=r"val_signs: expected the SIGNS JPEG folder, found nothing.*dvc pull"):
        load_signs(signs_copy)


def _spoil_test_file(root, **replace):
    with h5py.File(root / "test_signs.h5", "r+") as f:
        for key, value in replace.items():
            del f[key]
            f[key] = value


def test_bad_test_file_names_what_is_wrong(signs_copy):
    _spoil_test_file(signs_copy, test_set_y=np.r_[np.zeros(119, dtype=np.int64), 6])
    with pytest.raises(DataError, match=r"test_signs\.h5: test_set_y: expected labels in 0\.\.5, found 6"):
        load_signs(signs_copy)
    _spoil_test_file(signs_copy, test_set_y=np.zeros(120, dtype=np.int64), list_classes=np.arange(5))
    with pytest.raises(DataError, match=r"list_classes: expected \['0', .*'5'\], found \['0', .*'4'\]"):
        load_signs(signs_copy)
    _spoil_test_file(signs_copy, test_set_x=np.zeros((120, 64, 64, 3), dtype=np.float32))
    with pytest.raises(DataError, match=r"test_set_x: expected dtype uint8, found float32"):
        load_signs(signs_copy)


def test_a_bad_training_file_is_named(signs_copy):
    folder = signs_copy / "64x64_SIGNS" / "val_signs"
    (folder / "3_IMG_9999 (1).jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    (folder / "9_IMG_0000.jpg").write_bytes((folder / "0_IMG_5958.jpg").read_bytes())
    with pytest.raises(DataError, match=r"val_signs: 2 problem\(s\) in the image folder: '3_IMG_9999 \(1\)\.jpg': "
                                        r".*; '9_IMG_0000\.jpg': class '9' is not one of"):
        load_signs(signs_copy)


def test_distances_in_blocks_give_the_same_report(signs_root, report, monkeypatch):
    from scratchnet.data import duplicates

    monkeypatch.setattr(duplicates, "TEST_ROWS", 7)  # 120 test images in 18 blocks
    blocked = check_signs(signs_root)
    assert blocked.near == report.near and blocked.closest_others == report.closest_others
    assert blocked.train_copies == report.train_copies
