"""A shoot folder with good photos and every kind of bad file the app must explain."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def photo(path: Path, size=(900, 600), seed=0, **save_kw) -> Path:
    rng = np.random.default_rng(seed)
    w, h = size
    small = rng.integers(0, 256, size=(max(2, h // 50), max(2, w // 50), 3), dtype=np.uint8)
    Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC).save(path, **save_kw)
    return path


def png_bomb(path: Path, side: int = 40000) -> Path:
    """A valid PNG header that claims side × side pixels (far past Pillow's decompression-bomb limit)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )
    return path


def make_shoot(root: Path) -> dict[str, Path]:
    """Good photos (JPEG, PNG, TIFF, WebP, BMP, GIF) and bad files; returns name → path."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "day2").mkdir()
    files = {
        "good_jpg": photo(root / "a.jpg", seed=1, quality=92),
        "good_png": photo(root / "b.png", size=(640, 480), seed=2),
        "good_tif": photo(root / "day2" / "c.tif", size=(500, 700), seed=3),
        "good_webp": photo(root / "day2" / "d.webp", seed=4),
        "good_bmp": photo(root / "e.bmp", size=(400, 300), seed=5),
        "good_gif": photo(root / "f.gif", size=(400, 300), seed=6),
    }
    empty = root / "empty.jpg"
    empty.write_bytes(b"")
    files["empty"] = empty
    trunc = photo(root / "truncated.jpg", seed=7)
    trunc.write_bytes(trunc.read_bytes()[:2000])
    files["truncated"] = trunc
    text = root / "notes.png"
    text.write_text("this is not a picture\n")
    files["non_image"] = text
    files["bomb"] = png_bomb(root / "bomb.png")
    heic = root / "phone.heic"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64)
    files["unsupported"] = heic
    files["unreadable"] = photo(root / "locked.jpg", seed=8)
    (root / "loop").symlink_to(root, target_is_directory=True)  # a symlink loop must not hang the scan
    (root / "readme.txt").write_text("not a photo extension: ignored")
    return files
