"""Images: Dataset.images inverts the course's flattening, every Pillow mode decodes to its true
values, and a folder of images loads in a fixed order or names every file that is wrong."""

import h5py
import numpy as np
import pytest
from PIL import Image

from scratchnet.data import (
    DataError,
    Dataset,
    load_cat,
    load_dataset,
    load_images,
    make_flower,
    read_image,
    read_image_folder,
    save_dataset,
)

CAT_DIGEST = "2edf827c74befdd21953b17076eda695c879ac454d5e23cb0ad1a86eac0e57b8"  # main before image_shape


def _rgb(seed: int, size=(8, 8)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def _save(path, array, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


# --- Dataset.image_shape and images() -------------------------------------------------------


def test_cat_images_invert_the_course_flattening_and_the_digest_is_unchanged(data_root):
    ds = load_cat(data_root / "cat")
    assert ds.image_shape == (64, 64, 3)
    assert ds.digest() == CAT_DIGEST
    for split in ("train", "test"):
        with h5py.File(data_root / "cat" / f"{split}_catvnoncat.h5", "r") as f:
            x = f[f"{split}_set_x"][()]  # (m, 64, 64, 3) uint8
        images = ds.images(split)
        assert images.shape == x.shape
        np.testing.assert_array_equal(images, x / 255.0)
        np.testing.assert_array_equal(np.rint(images * 255).astype(np.uint8), x)
        assert not images.flags.writeable and np.shares_memory(images, ds.X_train if split == "train" else ds.X_test)


def test_image_shape_is_checked_and_images_needs_it():
    ds = make_flower(m=20)
    with pytest.raises(DataError, match=r"'planar': expected an image_shape to give images, found none"):
        ds.images("train")
    with pytest.raises(DataError, match=r"H\*W\*C equals the 2 features, found \(1, 1, 3\) \(3\)"):
        Dataset("planar", ds.X_train, ds.Y_train, None, None, ds.classes, image_shape=(1, 1, 3))
    with pytest.raises(DataError, match=r"three positive integers \(H, W, C\), found \(2, 1\)"):
        Dataset("planar", ds.X_train, ds.Y_train, None, None, ds.classes, image_shape=(2, 1))
    shaped = Dataset("planar", ds.X_train, ds.Y_train, None, None, ds.classes, image_shape=[1, 2, 1])
    assert shaped.image_shape == (1, 2, 1) and shaped.digest() == ds.digest()
    np.testing.assert_array_equal(shaped.images("train")[:, 0, :, 0], ds.X_train.T)
    with pytest.raises(DataError, match=r"expected a test split, found none"):
        shaped.images("test")
    with pytest.raises(ValueError, match=r"split 'train' or 'test', found 'val'"):
        shaped.images("val")


def test_hdf5_round_trip_keeps_image_shape_and_excluded(tmp_path, data_root):
    ds = load_cat(data_root / "cat")
    ds = Dataset(ds.name, ds.X_train, ds.Y_train, ds.X_test, ds.Y_test, ds.classes, ds.image_shape,
                 excluded=("a b.jpg", "c.jpg"))
    save_dataset(ds, tmp_path / "cat.h5")
    back = load_dataset(tmp_path / "cat.h5")
    assert back.image_shape == (64, 64, 3) and back.excluded == ("a b.jpg", "c.jpg")
    assert back.digest() == CAT_DIGEST
    save_dataset(make_flower(m=20), tmp_path / "flower.h5")
    flower = load_dataset(tmp_path / "flower.h5")
    assert flower.image_shape is None and flower.excluded == ()


# --- one image file, every mode ---------------------------------------------------------------


def test_8bit_images_decode_as_predict_does(tmp_path):
    from scratchnet.cli.predict import load_image

    for path in (_save(tmp_path / "a.jpg", _rgb(0, (64, 64))), _save(tmp_path / "b.png", _rgb(1, (30, 50)))):
        np.testing.assert_array_equal(read_image(path, (64, 64)), load_image(path))
    assert read_image(tmp_path / "b.png", (20, 10)).shape == (20, 10, 3)  # (H, W): not Pillow's (W, H)


def test_16bit_png_is_scaled_by_65535_not_clipped(tmp_path):
    values = np.array([[0, 255, 256, 32768], [40000, 65535, 1000, 12345]], dtype=np.uint16)
    path = _save(tmp_path / "deep.png", values)
    assert Image.open(path).mode == "I;16"
    assert np.asarray(Image.open(path).convert("RGB")).max() == 255  # Pillow alone clips 256.. to white
    image = read_image(path, (2, 4))
    assert image.shape == (2, 4, 3)
    np.testing.assert_array_equal(image[..., 0], values / 65535.0)
    np.testing.assert_array_equal(image[..., 0], image[..., 2])
    resized = read_image(path, (4, 8))
    assert 0.0 <= resized.min() and resized.max() <= 1.0
    assert abs(resized.mean() - values.mean() / 65535) < 0.05


def test_32bit_integer_and_float_tiffs(tmp_path):
    ints = np.array([[0, 2**20], [2**30, 2**31 - 1]], dtype=np.int32)
    np.testing.assert_array_equal(read_image(_save(tmp_path / "i.tif", ints), (2, 2))[..., 1], ints / (2**31 - 1))
    floats = np.array([[0.0, 0.25], [0.5, 1.0]], dtype=np.float32)
    np.testing.assert_array_equal(read_image(_save(tmp_path / "f.tif", floats), (2, 2))[..., 0], floats)
    with pytest.raises(DataError, match=r"hdr\.tif: expected float pixel values in \[0, 1\] \(mode F\), "
                                        r"found \[0, 300\]"):
        read_image(_save(tmp_path / "hdr.tif", floats * 300), (2, 2))
    with pytest.raises(DataError, match=r"neg\.tif: expected non-negative I pixel values, found -5"):
        read_image(_save(tmp_path / "neg.tif", -5 * np.ones((2, 2), np.int32)), (2, 2))


def test_palette_transparency_and_alpha_are_composited_over_white(tmp_path):
    palette = Image.new("P", (2, 1))
    palette.putpalette([0, 0, 0, 200, 30, 10] + [0] * 762)  # index 0 black, 1 red
    palette.putpixel((0, 0), 0)
    palette.putpixel((1, 0), 1)
    palette.save(tmp_path / "p.png", transparency=0)  # index 0 transparent
    assert np.asarray(Image.open(tmp_path / "p.png").convert("RGB"))[0, 0].tolist() == [0, 0, 0]  # alpha dropped
    np.testing.assert_array_equal(read_image(tmp_path / "p.png", (1, 2)) * 255, [[[255, 255, 255], [200, 30, 10]]])
    rgba = np.array([[[100, 0, 200, 0], [100, 0, 200, 255], [0, 0, 0, 128]]], dtype=np.uint8)
    out = read_image(_save(tmp_path / "a.png", rgba), (1, 3)) * 255
    np.testing.assert_array_equal(out[0, :2], [[255, 255, 255], [100, 0, 200]])
    np.testing.assert_allclose(out[0, 2], [127, 127, 127], atol=1)  # half black over white
    la = Image.fromarray(np.array([[[50, 0], [50, 255]]], dtype=np.uint8), mode="LA")
    la.save(tmp_path / "la.png")
    np.testing.assert_array_equal(read_image(tmp_path / "la.png", (1, 2))[0, :, 0] * 255, [255, 50])


def test_one_bit_and_cmyk(tmp_path):
    bits = Image.fromarray(np.array([[0, 255]], dtype=np.uint8)).convert("1")
    bits.save(tmp_path / "b.png")
    np.testing.assert_array_equal(read_image(tmp_path / "b.png", (1, 2))[0, :, 0], [0.0, 1.0])
    Image.new("CMYK", (2, 2), (0, 255, 255, 0)).save(tmp_path / "c.jpg")  # pure red in CMYK
    red = read_image(tmp_path / "c.jpg", (2, 2))[0, 0] * 255
    assert red[0] > 240 and red[1] < 15 and red[2] < 15


def test_bad_files_name_the_file(tmp_path):
    (tmp_path / "text.jpg").write_text("not an image\n")
    with pytest.raises(DataError, match=r"text\.jpg: not an image Pillow can read"):
        read_image(tmp_path / "text.jpg", (8, 8))
    with pytest.raises(DataError, match=r"gone\.png: expected an image file, found nothing"):
        read_image(tmp_path / "gone.png", (8, 8))


# --- a folder of images -----------------------------------------------------------------------


def test_names_with_spaces_load_in_sorted_order_with_first_character_labels(tmp_path):
    names = ["1_b.jpg", "0_IMG_5957.jpg", "0_IMG_5957 (1).jpg", "2_a (2).png"]
    for i, name in enumerate(names):
        _save(tmp_path / name, _rgb(i))
    (tmp_path / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden: skipped
    images = read_image_folder(tmp_path, size=8, labels="name")
    assert images.names == ("0_IMG_5957 (1).jpg", "0_IMG_5957.jpg", "1_b.jpg", "2_a (2).png")
    assert images.classes == ("0", "1", "2") and images.labels.tolist() == [0, 0, 1, 2]
    np.testing.assert_array_equal(images.images[3], _rgb(3) / 255.0)  # PNG: lossless
    ds = load_images(tmp_path, size=8, labels="name")
    assert ds.name == tmp_path.name and ds.X_train.shape == (192, 4) and ds.image_shape == (8, 8, 3)
    np.testing.assert_array_equal(ds.images("train"), images.images)


def test_sub_folders_name_the_classes_and_a_pattern_can_too(tmp_path):
    for cls, i in (("dog", 0), ("cat", 1), ("cat", 2)):
        _save(tmp_path / "by_folder" / cls / f"{i}.png", _rgb(i))
        _save(tmp_path / "by_name" / f"{cls}_{i}.png", _rgb(i))
    by_folder = read_image_folder(tmp_path / "by_folder", size=8)
    assert by_folder.names == ("cat/1.png", "cat/2.png", "dog/0.png") and by_folder.classes == ("cat", "dog")
    assert by_folder.labels.tolist() == [0, 0, 1]
    by_name = read_image_folder(tmp_path / "by_name", size=8, labels="name", name_pattern=r"^([a-z]+)_",
                                classes=["dog", "cat"])
    assert by_name.labels.tolist() == [1, 1, 0] and by_name.classes == ("dog", "cat")


def test_16bit_and_palette_images_load_in_a_folder(tmp_path):
    _save(tmp_path / "0_deep.png", np.full((4, 4), 32768, dtype=np.uint16))
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([10, 20, 30] + [0] * 765)
    palette.save(tmp_path / "1_pal.png", transparency=0)
    images = read_image_folder(tmp_path, size=4, labels="name")
    np.testing.assert_array_equal(images.images[0], np.full((4, 4, 3), 32768 / 65535))
    np.testing.assert_array_equal(images.images[1], np.ones((4, 4, 3)))  # all transparent: white


def test_every_bad_file_is_named_in_one_error(tmp_path):
    _save(tmp_path / "0_good.jpg", _rgb(0, (64, 64)))
    (tmp_path / "1_notes (copy).jpg").write_text("a text file named .jpg\n")
    full = _save(tmp_path / "full.jpg", _rgb(1, (64, 64)), quality=95).read_bytes()
    (tmp_path / "2_cut.jpg").write_bytes(full[: len(full) // 2])
    (tmp_path / "full.jpg").unlink()
    (tmp_path / "7_other.png").write_bytes((tmp_path / "0_good.jpg").read_bytes())
    (tmp_path / "sub").mkdir()
    with pytest.raises(DataError) as error:
        read_image_folder(tmp_path, size=64, labels="name", classes=["0", "1", "2"])
    message = str(error.value)
    assert message.startswith(f"{tmp_path}: 4 problem(s) in the image folder: ")
    assert "'1_notes (copy).jpg': not an image Pillow can read" in message
    assert "'2_cut.jpg': cannot decode the image (image file is truncated" in message
    assert "'7_other.png': class '7' is not one of ['0', '1', '2']" in message
    assert "'sub/': a folder where image files were expected" in message
    assert "0_good" not in message and "\n" not in message


def test_layout_problems(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: expected image files in it \(one sub-folder per class\), "
                                        r"found none"):
        read_image_folder(tmp_path / "empty")
    with pytest.raises(DataError, match=r"nowhere: expected a folder of images, found nothing"):
        read_image_folder(tmp_path / "nowhere")
    (tmp_path / "classes" / "cat").mkdir(parents=True)
    _save(tmp_path / "classes" / "loose.png", _rgb(0))
    _save(tmp_path / "classes" / "dog" / "a.png", _rgb(1))
    with pytest.raises(DataError, match=r"2 problem\(s\).*'cat/': a class folder with no image files; "
                                        r"'loose.png': a file outside any class folder"):
        read_image_folder(tmp_path / "classes")
    _save(tmp_path / "names" / "x.png", _rgb(0))
    with pytest.raises(DataError, match=r"'x.png': no class in the name \(name_pattern '\^\(\\\\d\)_'\)"):
        read_image_folder(tmp_path / "names", labels="name", name_pattern=r"^(\d)_")
    with pytest.raises(DataError, match=r"expected labels to be one of \['folder', 'name'\], found 'file'"):
        read_image_folder(tmp_path / "names", labels="file")
    with pytest.raises(DataError, match=r"expected an image size as one positive integer or \(height, width\), "
                                        r"found \(64, 0\)"):
        read_image_folder(tmp_path / "names", size=(64, 0))


def test_a_test_folder_drops_training_copies_of_its_images(tmp_path):
    photo = _rgb(5, (64, 64))
    _save(tmp_path / "train" / "0_a.png", photo)
    _save(tmp_path / "train" / "0_b.jpg", photo, quality=90)  # the same photo, lossy: a near-copy
    _save(tmp_path / "train" / "1_c.png", _rgb(6, (64, 64)))
    _save(tmp_path / "train" / "1_d.png", _rgb(7, (64, 64)))
    _save(tmp_path / "test" / "0_t.png", photo)
    _save(tmp_path / "test" / "1_u.png", _rgb(8, (64, 64)))
    rules = {"test_path": tmp_path / "test", "labels": "name"}
    ds = load_images(tmp_path / "train", **rules)
    assert ds.excluded == ("0_a.png", "0_b.jpg") and ds.m_train == 2 and ds.Y_train.tolist() == [[1, 1]]
    assert ds.X_test.shape == (12288, 2) and ds.classes == ("0", "1")
    assert load_images(tmp_path / "train", exclude_test_copies=False, **rules).m_train == 4
