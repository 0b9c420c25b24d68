"""How every CogIP image is decoded: one rule for evaluation, training, the judge and the dataset build.

An image arrives as bytes (a dataset row's ``image.bytes``, a release file read with
:func:`cogip_tasks.files.read_user_bytes`); a row's ``path`` is never opened. :func:`decode_image` then

- refuses an image of more than :data:`MAX_IMAGE_PIXELS` pixels from its header, before decoding a pixel (a
  decompression bomb is one line, not a traceback or an exhausted memory);
- turns it upright by its EXIF orientation tag (a phone photo is seen as its viewer shows it);
- brings it to 8-bit RGB: 16-bit grey scaled by 255/65535 (not clipped, which turns it white), a transparent
  one laid on white, palette, CMYK and 1-bit images converted; 32-bit integer or float images (no agreed scale)
  are refused;
- decodes strictly: a truncated file is refused, not padded with grey (whatever ``LOAD_TRUNCATED_IMAGES`` a
  library set process-wide).

Any refusal is an :class:`ImageError` whose message starts with ``where`` (``"<file>: image"``, ``"row id 'X':
column 'image'"``).
"""

from __future__ import annotations

import contextlib
import io
import threading
from typing import Any

from .errors import CogIPError

#: Pixels (width x height) an image may have; a CogIP image is about 1 megapixel, a 8000x6000 photo 48.
MAX_IMAGE_PIXELS = 64_000_000
_EIGHT_BIT = {"RGB", "L", "P", "1", "CMYK", "YCbCr", "RGBA", "LA", "PA", "RGBX", "RGBa", "La"}
_SIXTEEN_BIT = {"I;16", "I;16B", "I;16L", "I;16N"}


class ImageError(CogIPError, ValueError):
    """An image CogIP will not use (unreadable, too large, a mode without an agreed scale); names its source."""


_strict = threading.Lock()
_strict_holders = 0
_truncated_setting = False


@contextlib.contextmanager
def strict_decoding():
    """Decode with PIL's ``LOAD_TRUNCATED_IMAGES`` off: a truncated image is refused, not padded with grey.

    Importing ``lmms_eval.api.task`` turns the flag on for the whole process, so the checks before a run would
    otherwise pass an image whose bytes were cut short. Safe to nest and to enter from several threads at once:
    the flag is off while any holder is inside, and the first holder's setting comes back after the last leaves.
    """
    global _strict_holders, _truncated_setting
    from PIL import ImageFile

    with _strict:
        if _strict_holders == 0:
            _truncated_setting = ImageFile.LOAD_TRUNCATED_IMAGES
        _strict_holders += 1
        ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        with _strict:
            _strict_holders -= 1
            if _strict_holders == 0:
                ImageFile.LOAD_TRUNCATED_IMAGES = _truncated_setting


def _scaled_16_bit(image):
    """A 16-bit grey image as 8-bit ``L``, each value v -> round(v * 255 / 65535)."""
    import numpy as np
    from PIL import Image

    values = np.asarray(image.convert("I"), dtype=np.int64)
    return Image.fromarray(((values * 255 + 32767) // 65535).clip(0, 255).astype(np.uint8), mode="L")


def _to_rgb(image, where: str):
    from PIL import Image

    mode = image.mode
    if mode in _SIXTEEN_BIT or (mode == "I" and image.format == "PNG"):  # older Pillow: 16-bit PNG grey as "I"
        return _scaled_16_bit(image).convert("RGB")
    if mode not in _EIGHT_BIT:
        raise ImageError(f"{where} has mode {mode!r}, which has no agreed 8-bit scale; convert it to RGB first")
    if mode == "P" and "transparency" in image.info or mode in {"RGBA", "LA", "PA", "RGBa", "La"}:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image if mode == "RGB" else image.convert("RGB")


def _too_many_pixels(where: str, size: str) -> str:
    return f"{where} has {size} pixels, over the limit of {MAX_IMAGE_PIXELS:,} (a decompression bomb?)"


def decode_image(data: bytes, where: str, *, draft: tuple[int, int] | None = None):
    """``data`` as an upright 8-bit RGB ``PIL.Image`` (see the module's rule), or :class:`ImageError`.

    ``draft``: a JPEG is decoded at a reduced scale no smaller than this (a quick check that it decodes).
    """
    from PIL import Image, ImageOps

    if not isinstance(data, (bytes, bytearray, memoryview)) or not data:
        raise ImageError(f"{where} holds no image bytes")
    try:
        with strict_decoding():
            image = Image.open(io.BytesIO(bytes(data)))  # PIL's own bomb check (2x its limit) may refuse first
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:  # ours, below PIL's, and whatever a library set PIL's to
                raise ImageError(_too_many_pixels(where, f"{width}x{height} = {width * height:,}"))
            if draft is not None:
                image.draft("RGB", draft)
            image.load()
            image = ImageOps.exif_transpose(image)
            return _to_rgb(image, where)
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError(_too_many_pixels(where, f"more than {2 * (Image.MAX_IMAGE_PIXELS or 0):,}")) from None
    except Exception as err:  # PIL raises many types for broken files (OSError, SyntaxError, ValueError, ...)
        reason = " ".join(str(err).split()) or type(err).__name__
        raise ImageError(f"{where} does not decode ({type(err).__name__}: {reason[:200]})") from None


def row_image_bytes(image: Any, where: str) -> bytes:
    """The bytes of a dataset row's ``image`` value (``{"bytes", "path"}`` or raw bytes). A ``path`` is never
    read: a row with no bytes is refused, whatever path it names (a row must not load a file from this disk)."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
    elif isinstance(image, dict):
        data = image.get("bytes") or b""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ImageError(f"{where}: 'bytes' holds a {type(data).__name__}, not bytes")
        if not data and image.get("path"):
            raise ImageError(
                f"{where} holds no image bytes, only a path ({str(image['path'])[:120]!r}); "
                "CogIP never reads an image path from a row"
            )
    else:
        raise ImageError(f"{where} holds no image bytes (a {type(image).__name__})")
    if not data:
        raise ImageError(f"{where} holds no image bytes")
    return bytes(data)
