"""Draw the WoodyToys picture and save it as a JPEG of about ``--bytes`` bytes.

Run at image build time (the file is a real, viewable JPEG, not a renamed blob). The size
is reached by scaling the picture: a wooden toy train under a sky, with film grain so that
the file stays big enough to make the lab's bandwidth limit visible.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ASPECT = 4 / 3
QUALITY = 92


def draw_picture(width: int, height: int) -> Image.Image:
    sky = Image.linear_gradient("L").resize((width, height))
    picture = Image.merge("RGB", (
        sky.point(lambda v: 120 + v // 3),
        sky.point(lambda v: 170 + v // 4),
        sky.point(lambda v: 235 - v // 8),
    ))
    d = ImageDraw.Draw(picture)
    u = width / 100  # one unit = 1 % of the width
    ground = int(height * 0.72)
    d.rectangle((0, ground, width, height), fill=(120, 160, 80))
    d.ellipse((80 * u, 6 * u, 92 * u, 18 * u), fill=(250, 215, 90))
    wood = [(181, 120, 70), (160, 100, 55), (200, 140, 85), (140, 85, 45)]
    x = 10 * u
    for i, length in enumerate((22, 17, 17, 17)):
        top = ground - (18 if i == 0 else 12) * u
        d.rectangle((x, top, x + length * u, ground - 3 * u), fill=wood[i],
                    outline=(90, 55, 30), width=max(1, int(u / 2)))
        if i == 0:
            d.rectangle((x + 3 * u, top - 8 * u, x + 7 * u, top), fill=(90, 55, 30))
            d.rectangle((x + 12 * u, top + 2 * u, x + 19 * u, top + 7 * u),
                        fill=(230, 240, 250))
        for wheel in (x + 4 * u, x + length * u - 4 * u):
            d.ellipse((wheel - 3 * u, ground - 6 * u, wheel + 3 * u, ground),
                      fill=(60, 40, 25))
        x += (length + 2) * u
    font = ImageFont.load_default(size=max(12, int(7 * u)))
    d.text((6 * u, 6 * u), "WoodyToys", fill=(90, 55, 30), font=font)
    grain = Image.merge("RGB", [Image.effect_noise((width, height), 64) for _ in range(3)])
    return Image.blend(picture, grain, 0.18)


def encode(width: int) -> bytes:
    height = max(1, round(width / ASPECT))
    out = io.BytesIO()
    draw_picture(width, height).save(out, "JPEG", quality=QUALITY)
    return out.getvalue()


def make_jpeg(target_bytes: int) -> bytes:
    """A JPEG of at least ``target_bytes`` and at most ~10 % more."""
    width = 400
    data = encode(width)
    for _ in range(12):
        if target_bytes <= len(data) <= target_bytes * 1.1:
            return data
        scale = math.sqrt(target_bytes * 1.04 / len(data))
        width = max(16, round(width * scale))
        data = encode(width)
    if len(data) < target_bytes:
        data = encode(round(width * 1.1))
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bytes", type=int, default=5_000_000, help="target size")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    data = make_jpeg(args.bytes)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    with Image.open(io.BytesIO(data)) as img:
        print(f"{args.output}: {len(data)} bytes, {img.width}x{img.height} JPEG")
    return 0


if __name__ == "__main__":
    sys.exit(main())
