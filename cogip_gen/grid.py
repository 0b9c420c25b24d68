"""Side-by-side comparison images: base | aligned, with the prompt as caption."""

from __future__ import annotations

import textwrap

FONT_SIZE = 14
MIN_TILE = 256  # small images are enlarged (nearest neighbour) so the caption stays readable


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


def comparison_grid(images: list, labels: list[str], caption: str, footer: str = ""):
    """Tiles side by side, each labelled, with ``caption`` wrapped above them and ``footer`` below."""
    from PIL import Image, ImageDraw

    tile_h = max(MIN_TILE, max(im.height for im in images))
    tiles = [
        im.convert("RGB").resize((round(im.width * tile_h / im.height), tile_h), Image.NEAREST)
        if im.height != tile_h
        else im.convert("RGB")
        for im in images
    ]
    pad, line_h = 8, FONT_SIZE + 4
    width = sum(t.width for t in tiles) + pad * (len(tiles) + 1)
    chars = max(20, int(width / (FONT_SIZE * 0.55)))
    lines = textwrap.wrap(caption, chars)[:8] or [""]
    top = pad + line_h * len(lines) + pad + line_h
    height = top + tile_h + pad + (line_h + pad if footer else 0)
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    font = _font(FONT_SIZE)
    for i, line in enumerate(lines):
        draw.text((pad, pad + i * line_h), line, fill="black", font=font)
    x = pad
    for tile, label in zip(tiles, labels):
        draw.text((x, top - line_h), label, fill=(40, 40, 160), font=font)
        canvas.paste(tile, (x, top))
        x += tile.width + pad
    if footer:
        draw.text((pad, top + tile_h + pad), footer, fill=(90, 90, 90), font=font)
    return canvas
