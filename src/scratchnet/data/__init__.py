"""The data layer: loaders and generators that all return a validated Dataset.

Convention: examples are COLUMNS. For m examples with n features,
`X` is (n_features, m) float64 and `Y` is (1, m) int64 class indices into `Dataset.classes`.
Sets without a test split (the planar ones) have `X_test = Y_test = None`.

- `load_cat(root)`: the course's cat / non-cat images, (12288, 209) train and (12288, 50) test.
- `load_football(path)`: the regularisation study's data.mat, (2, 211) train and (2, 200) test.
- `load_signs(root)`: SIGNS, (12288, 1068) train (the export's 1080 minus 12 copies of test
  images) and the course's (12288, 120) test; `check_signs(root)` reports every duplicate.
- `load_images(path, ...)`: any folder of images, class from the sub-folder or the file name.
- `read_image(path, size)`: one image file of any Pillow mode -> (H, W, 3) RGB in [0, 1].
- `make_flower(...)` and `GENERATORS[name](...)` (generators.py): the planar flower and the other 2-D sets.
- `save_dataset(ds, path)` / `load_dataset(path)`: a Dataset to and from HDF5.
- `load_data(cfg.data, root)`: the Dataset a `data` config names (registry.py), `data_path` its file.

Every failure on input data raises `DataError` naming the file, what was expected and what was
found. Importing this package pulls in NumPy only; h5py, scipy and sklearn load on first use.
"""

from scratchnet.data.cat import load_cat
from scratchnet.data.dataset import Dataset, load_dataset, save_dataset
from scratchnet.data.duplicates import DuplicateReport, find_duplicates
from scratchnet.data.errors import DataError
from scratchnet.data.football import load_football
from scratchnet.data.generators import GENERATORS, make_flower
from scratchnet.data.images import load_images, read_image_folder
from scratchnet.data.imageset import ImageSet
from scratchnet.data.pixels import read_image
from scratchnet.data.registry import data_path, load_data
from scratchnet.data.signs import check_signs, load_signs

__all__ = [
    "GENERATORS",
    "DataError",
    "Dataset",
    "DuplicateReport",
    "ImageSet",
    "check_signs",
    "find_duplicates",
    "data_path",
    "load_cat",
    "load_data",
    "load_dataset",
    "load_football",
    "load_images",
    "load_signs",
    "make_flower",
    "read_image",
    "read_image_folder",
    "save_dataset",
]
