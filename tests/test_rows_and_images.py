"""The one row validator and the one image rule, tested by class: many generated inputs per class, not a list.

Images: a decompression bomb of any format is refused from its header, fast; 16-bit grey is scaled, not
clipped to white; every EXIF orientation comes out upright; transparency lies on white; modes without an agreed
8-bit scale are refused; fuzzed bytes either decode to RGB or give one ImageError, never another exception.
Rows: ids non-empty and unique (a folder with two copies of its data is refused), image bytes only. Manifests:
every malformed count is one CogIPDataError.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import struct
import time
import zlib

import datasets
import numpy as np
import pytest
from PIL import Image

from cogip_tasks.dataset import MANIFEST, CogIPDataError, load_cogip, validate_rows
from cogip_tasks.images import MAX_IMAGE_PIXELS, ImageError, decode_image
from cogip_tasks.synthetic import build_sample_dataset, jpeg_bytes, procedural_image


def _encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` grey pixels, with a few bytes of data (a bomb's shape)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _gif_claiming(width: int, height: int) -> bytes:
    data = bytearray(_encoded(Image.new("L", (4, 4)), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)  # logical screen
    at = data.index(b"\x2c")  # image descriptor
    data[at + 5 : at + 9] = struct.pack("<HH", width, height)
    return bytes(data)


def _bmp_claiming(width: int, height: int) -> bytes:
    data = bytearray(_encoded(Image.new("RGB", (4, 4)), "BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def _jpeg_claiming(width: int, height: int) -> bytes:
    data = bytearray(jpeg_bytes(procedural_image(0, size=16)))
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


BOMBS = {"png": _png_claiming, "gif": _gif_claiming, "bmp": _bmp_claiming, "jpeg": _jpeg_claiming}


@pytest.mark.parametrize("fmt", sorted(BOMBS))
def test_a_decompression_bomb_of_any_format_is_one_line_from_its_header(fmt):
    rng = random.Random(fmt)
    limit_side = int(MAX_IMAGE_PIXELS**0.5)
    sides = [(limit_side + 1, limit_side + 1), (65_000, 65_000), (65_535, 2_000), (20_000, 20_000)]
    sides += [(rng.randint(limit_side + 1, 65_535), rng.randint(limit_side + 1, 65_535)) for _ in range(8)]
    for width, height in sides:
        start = time.monotonic()
        with pytest.raises(ImageError) as err:
            decode_image(BOMBS[fmt](width, height), "bomb.img")
        assert time.monotonic() - start < 1, (fmt, width, height)
        message = str(err.value)
        assert message.startswith("bomb.img ") and "\n" not in message
        assert "over the limit" in message or "does not decode" in message, message


def test_16_bit_grey_is_scaled_to_8_bit_not_clipped_to_white():
    rng = np.random.default_rng(0)
    for _ in range(20):
        values = rng.integers(0, 65536, size=(7, 9), dtype=np.uint16)
        source = Image.frombytes("I;16B", (9, 7), values.astype(">u2").tobytes())
        for fmt in ("PNG", "TIFF"):
            decoded = decode_image(_encoded(source, fmt), "grey16")
            expected = np.rint(values / 257.0).astype(np.uint8)
            got = np.asarray(decoded)
            assert decoded.mode == "RGB" and (got[..., 0] == got[..., 2]).all()
            assert np.abs(got[..., 0].astype(int) - expected).max() <= 1, fmt


def _orientations() -> dict[int, Image.Transpose | None]:
    t = Image.Transpose
    return {
        1: None,
        2: t.FLIP_LEFT_RIGHT,
        3: t.ROTATE_180,
        4: t.FLIP_TOP_BOTTOM,
        5: t.TRANSPOSE,
        6: t.ROTATE_270,
        7: t.TRANSVERSE,
        8: t.ROTATE_90,
    }


def test_every_exif_orientation_comes_out_upright():
    stored = Image.new("RGB", (6, 4), "black")
    stored.putpixel((0, 0), (255, 0, 0))  # one marked corner: each orientation puts it somewhere else
    for tag, transpose in _orientations().items():
        exif = Image.Exif()
        exif[0x0112] = tag
        for fmt in ("PNG", "TIFF", "WEBP"):
            data = _encoded(stored, fmt, exif=exif, **({"lossless": True} if fmt == "WEBP" else {}))
            decoded = decode_image(data, "photo")
            expected = stored if transpose is None else stored.transpose(transpose)
            assert decoded.size == expected.size and decoded.tobytes() == expected.tobytes(), (tag, fmt)


def test_transparency_lies_on_white_in_every_mode_that_has_it():
    clear = Image.new("RGBA", (5, 5), (0, 0, 0, 0))
    palette = Image.new("P", (5, 5), 0)
    palette.putpalette([0, 0, 0] * 256)
    palette.info["transparency"] = 0
    for image, fmt in [(clear, "PNG"), (clear.convert("LA"), "PNG"), (palette, "PNG"), (palette, "GIF")]:
        decoded = decode_image(_encoded(image, fmt, **image.info), f"{image.mode}.{fmt}")
        assert set(decoded.get_flattened_data()) == {(255, 255, 255)}, (image.mode, fmt)
    half = Image.new("RGBA", (2, 2), (0, 0, 0, 128))
    assert decode_image(_encoded(half, "PNG"), "half").getpixel((0, 0)) == (127, 127, 127)


@pytest.mark.parametrize("mode", ["F", "I"])
def test_modes_without_an_agreed_8_bit_scale_are_refused(mode):
    for value in (0.5, 70_000, -3):
        data = _encoded(Image.new(mode, (3, 3), value if mode == "F" else int(value)), "TIFF")
        with pytest.raises(ImageError, match=rf"^deep.tif has mode '{mode}', which has no agreed 8-bit scale"):
            decode_image(data, "deep.tif")


def test_fuzzed_bytes_decode_to_rgb_or_give_one_image_error():
    rng = random.Random(7)
    seeds = [
        jpeg_bytes(procedural_image(1, size=24)),
        _encoded(procedural_image(2, size=24), "PNG"),
        _encoded(procedural_image(3, size=24), "GIF"),
        _encoded(procedural_image(4, size=24), "WEBP"),
        _encoded(procedural_image(5, size=24), "TIFF"),
    ]
    outcomes = {"decoded": 0, "refused": 0}
    for n in range(400):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            if not data:
                break
            kind = rng.random()
            at = rng.randrange(len(data))
            if kind < 0.5:
                data[at] = rng.randrange(256)
            elif kind < 0.8:
                del data[at:]
            else:
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        try:
            decoded = decode_image(bytes(data), f"fuzz{n}")
        except ImageError as err:
            assert str(err).startswith(f"fuzz{n} ") and "\n" not in str(err)
            outcomes["refused"] += 1
        else:
            assert decoded.mode == "RGB" and decoded.width * decoded.height <= MAX_IMAGE_PIXELS
            outcomes["decoded"] += 1
    assert outcomes["refused"] > 50 and outcomes["decoded"] > 0  # the fuzz reached both outcomes


# ---- rows: identity and image bytes ---------------------------------------------------------------------------


def _rows(ids: list, images: list | None = None) -> datasets.Dataset:
    img = {"bytes": jpeg_bytes(procedural_image(1)), "path": None}
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "image": datasets.Image(decode=False),
            "dimension": datasets.Value("string"),
            "prompt": datasets.Value("string"),
            "score": datasets.Value("float64"),
        }
    )
    images = images or [img] * len(ids)
    return datasets.Dataset.from_list(
        [
            {"id": i, "image": im, "dimension": "Aesthetics", "prompt": "rate", "score": 5.0}
            for i, im in zip(ids, images)
        ],
        features=features,
    )


def test_ids_must_be_present_and_unique_wherever_the_bad_one_sits():
    rng = random.Random(3)
    for _ in range(25):
        ids = [f"Aesthetics/{i:06d}" for i in range(rng.randint(2, 30))]
        at = rng.randrange(len(ids))
        bad = rng.choice([None, "", " ", "\t", f" {ids[at]}", f"{ids[at]}\n", "dup"])
        if bad == "dup":
            other = rng.choice([i for i in range(len(ids)) if i != at])
            ids[at] = ids[other]
            message = f"column 'id': {ids[at]!r} appears twice .* two copies"
        else:
            ids[at] = bad
            message = rf"column 'id', row {at}: .* is not an id"
        with pytest.raises(CogIPDataError, match=rf"^split x: {message}"):
            validate_rows(_rows(ids), where="split x")


def test_a_row_with_only_a_path_is_refused_before_anything_reads_it(tmp_path):
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(jpeg_bytes(procedural_image(2)))
    good = {"bytes": jpeg_bytes(procedural_image(1)), "path": None}
    for hole in (
        {"bytes": None, "path": str(secret)},
        {"bytes": b"", "path": str(secret)},
    ):
        for at in (0, 3, 6):
            images = [good] * 7
            images[at] = hole
            ds = _rows([f"A/{i}" for i in range(7)], images)
            with pytest.raises(CogIPDataError, match=rf"^x: row id 'A/{at}': column 'image' holds no image bytes"):
                validate_rows(ds, where="x")


def test_a_folder_holding_two_copies_of_its_data_is_refused(tmp_path):
    folder = build_sample_dataset(tmp_path / "bench", n_train=1, n_test=2, seed=0)
    (folder / MANIFEST).unlink(missing_ok=True)  # the row count check would catch it first; ids must too
    shard = next((folder / "data").glob("test-*.parquet"))
    shutil.copy(shard, shard.with_name("test-00000-of-00001 (copy).parquet"))  # a file manager's copy: same glob
    ds = load_cogip(str(folder), split="test")
    with pytest.raises(CogIPDataError, match="appears twice .* two copies of the data files"):
        validate_rows(ds, where=f"{folder} (test split)")


# ---- manifests ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "count",
    ["1e400", "-1e400", "1" + "0" * 30, "-1", "2.5", "true", '"8"', "null", "[8]", "9007199254740992", "NaN"],
)
def test_every_malformed_row_count_in_a_manifest_is_one_line(tmp_path, count):
    folder = build_sample_dataset(tmp_path / "bench", n_train=1, n_test=2, seed=0)
    manifest = json.loads((folder / MANIFEST).read_text()) if (folder / MANIFEST).exists() else {}
    manifest["rows"] = {"default": {"train": 4}}
    text = json.dumps(manifest).replace('"default": {"train": 4}', f'"default": {{"train": 4, "test": {count}}}')
    (folder / MANIFEST).write_text(text)
    with pytest.raises(CogIPDataError, match=rf"{MANIFEST}: field 'rows.default.test': .* expected a whole number"):
        load_cogip(str(folder), split="test")
