"""One image file -> an (H, W, 3) float64 RGB array in [0, 1]: the rule for training folders and predict.

Every Pillow mode is handled by what its numbers mean, not by Pillow's `convert("RGB")` alone,
which clips 16-bit and 32-bit values at 255 (a 16-bit PNG turns white):
- 8-bit modes (1, L, P, RGB, CMYK, YCbCr, LAB, HSV, ...): Pillow's own conversion to RGB, then /255;
- alpha (RGBA, LA, PA, a palette or a tRNS chunk with transparency): composited over white, since a
  transparent pixel has no colour of its own and dropping alpha would show whatever the file
  stored under it (often black);
- integer modes scaled by their type's full range: I;16* by 65535, I (int32) by 2**31 - 1;
- F (float): taken as [0, 1], the float image convention; values outside are refused, not guessed.
The resize is bicubic; 8-bit images are resized in uint8 as the course's own images were made.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from scratchnet.data.errors import DataError

BACKGROUND = (255, 255, 255)  # under transparent pixels: white, as a viewer shows them on a page
INTEGER_RANGE = {"I;16": 65535, "I;16B": 65535, "I;16L": 65535, "I;16N": 65535, "I": 2**31 - 1}
ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
# what Pillow raises on a file it identifies but cannot decode (truncated, corrupt chunks, ...)
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error)


def read_image(path: Path | str, size: tuple[int, int]) -> np.ndarray:
    """Decode the image at `path` to (H, W, 3) float64 RGB in [0, 1], resized to size = (H, W).

    Raises DataError naming the file if it is missing, not an image, or cannot be decoded.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"expected an image file, found {'a directory' if path.is_dir() else 'nothing'}",
                        path)
    try:
        with Image.open(path) as image:
            return image_to_array(image, size)
    except UnidentifiedImageError:
        raise DataError("not an image Pillow can read (expected e.g. JPEG, PNG, GIF, BMP, TIFF, WebP)",
                        path) from None
    except DataError as error:
        raise DataError(error.message, path) from None
    except (*DECODE_ERRORS, Image.DecompressionBombError) as error:
        raise DataError(f"cannot decode the image ({error})", path) from None


def image_to_array(image, size: tuple[int, int]) -> np.ndarray:
    """An open PIL image -> (H, W, 3) float64 RGB in [0, 1] at size = (H, W); see the module doc."""
    from PIL import Image, ImageOps

    height, width = size
    image = ImageOps.exif_transpose(image)  # phone photos store their rotation in EXIF
    if image.mode in INTEGER_RANGE or image.mode == "F":
        return _deep_to_array(image, (height, width))
    if image.mode == "La":  # premultiplied: Pillow converts it to nothing but LA
        image = image.convert("LA")
    if image.mode in ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (*BACKGROUND, 255)), rgba)
    rgb = image.convert("RGB")
    if rgb.size != (width, height):
        rgb = rgb.resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(rgb, dtype=np.float64) / 255.0  # (H, W, 3)


def _deep_to_array(image, size: tuple[int, int]) -> np.ndarray:
    """A one-channel 16-bit, 32-bit integer or float image -> (H, W, 3) grey in [0, 1]."""
    from PIL import Image

    values = np.asarray(image).astype(np.float64)  # (h, w)
    if image.mode == "F":
        if not np.isfinite(values).all():
            raise DataError("expected finite float pixel values, found NaN or infinity")
        if values.min() < 0.0 or values.max() > 1.0:
            raise DataError(f"expected float pixel values in [0, 1] (mode F), found "
                            f"[{values.min():g}, {values.max():g}]")
    else:
        if values.min() < 0:
            raise DataError(f"expected non-negative {image.mode} pixel values, found {values.min():g}")
        values = values / INTEGER_RANGE[image.mode]
    height, width = size
    if values.shape != (height, width):
        resized = Image.fromarray(values.astype(np.float32)).resize((width, height), Image.Resampling.BICUBIC)
        values = np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)  # bicubic overshoots at edges
    return np.repeat(values[:, :, None], 3, axis=2)  # grey as RGB, as Pillow's L -> RGB does
