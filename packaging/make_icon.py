"""Draw the app icon, ``assets/icons/loda-desktop.svg`` and ``.png`` (256 px), from one description: a lens ring
around a rating star on the window's dark grey. Run it again after changing the shapes; PyInstaller converts the
PNG to ``.ico`` (Windows) and ``.icns`` (macOS) itself."""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).resolve().parent.parent / "assets" / "icons"
SIZE = 256
BACKGROUND, RING, STAR = "#2b2b2b", "#3d6fb4", "#f2c14e"
CORNER, RING_RADIUS, RING_WIDTH, STAR_OUTER, STAR_INNER = 48, 92, 22, 62, 26


def star_points(cx: float, cy: float) -> list[tuple[float, float]]:
    points = []
    for i in range(10):
        radius = STAR_OUTER if i % 2 == 0 else STAR_INNER
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((round(cx + radius * math.cos(angle), 2), round(cy + radius * math.sin(angle), 2)))
    return points


def svg() -> str:
    c = SIZE / 2
    star = " ".join(f"{x},{y}" for x, y in star_points(c, c + 4))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" viewBox="0 0 {SIZE} {SIZE}">\n'
        f'  <rect width="{SIZE}" height="{SIZE}" rx="{CORNER}" fill="{BACKGROUND}"/>\n'
        f'  <circle cx="{c}" cy="{c}" r="{RING_RADIUS}" fill="none" stroke="{RING}" stroke-width="{RING_WIDTH}"/>\n'
        f'  <polygon points="{star}" fill="{STAR}"/>\n'
        "</svg>\n"
    )


def png() -> Image.Image:
    scale = 4  # drawn large and scaled down: smooth edges without an SVG renderer
    big = Image.new("RGBA", (SIZE * scale, SIZE * scale), (0, 0, 0, 0))
    draw = ImageDraw.Draw(big)
    s, c = SIZE * scale, SIZE * scale / 2
    draw.rounded_rectangle((0, 0, s - 1, s - 1), radius=CORNER * scale, fill=BACKGROUND)
    r, w = RING_RADIUS * scale, RING_WIDTH * scale
    draw.ellipse((c - r - w / 2, c - r - w / 2, c + r + w / 2, c + r + w / 2), outline=RING, width=w)
    draw.polygon([(x * scale, y * scale) for x, y in star_points(SIZE / 2, SIZE / 2 + 4)], fill=STAR)
    return big.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    (ICONS / "loda-desktop.svg").write_text(svg(), encoding="utf-8")
    png().save(ICONS / "loda-desktop.png", optimize=True)


if __name__ == "__main__":
    main()
