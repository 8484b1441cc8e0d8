"""The 25 distortions of the synthetic dataset (:mod:`trainer.synthetic`), each at 5 levels of increasing strength.

Distortions come from ``corrupt-tta`` (ImageNet-C corruptions) where it has them with levels that grow
monotonically; the rest (JPEG 2000, WebP, under-exposure, colour cast, (de)saturation, colour quantisation,
resampling, pixelation, impulse and mild sensor noise, low light (dark and noisy), camera shake, median smear,
haze, chromatic aberration, vignetting) are written here with Pillow / numpy / scipy: ImageNet-C's own motion
blur, zoom blur, fog and pixelate change randomly or non-monotonically between levels, and its impulse noise
cannot be seeded. Each level is deterministic given the seed.

:func:`distort` applies one; :data:`DISTORTIONS` names them all, with their family and where they come from.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

__all__ = ["DISTORTIONS", "LEVELS", "Distortion", "SyntheticError", "distort", "require", "stable_seed"]

LEVELS = 5

Array = np.ndarray
DistortFn = Callable[[Array, int, np.random.Generator], Array]


class SyntheticError(Exception):
    """Bad input to the builder (no photos, unreadable folder, missing optional package)."""


def require(module: str, package: str):
    """Import ``module``, or raise :class:`SyntheticError` saying how to install ``package``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise SyntheticError(f"the synthetic dataset builder needs '{package}': pip install '{package}'") from None


def _u8(x: Array) -> Array:
    return np.clip(np.asarray(x, dtype=np.float64) + 0.5, 0, 255).astype(np.uint8)


# --- distortions -------------------------------------------------------------------------------------------


def _corrupt_tta(name: str) -> DistortFn:
    def apply(img: Array, level: int, rng: np.random.Generator) -> Array:
        ct = require("corrupt_tta", "corrupt-tta")
        state = np.random.get_state()
        np.random.seed(int(rng.integers(0, 2**31 - 1)))  # corrupt-tta draws from numpy's global generator
        try:
            return _u8(getattr(ct, name)(img, level))
        finally:
            np.random.set_state(state)

    apply.__name__ = name
    return apply


def _encode(img: Array, fmt: str, **params) -> Array:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format=fmt, **params)
    buf.seek(0)
    with Image.open(buf) as out:
        return np.asarray(out.convert("RGB"))


def jpeg2000(img: Array, level: int, rng: np.random.Generator) -> Array:
    ratio = [24, 48, 96, 192, 384][level - 1]
    return _encode(img, "JPEG2000", quality_mode="rates", quality_layers=[ratio], irreversible=True)


def webp(img: Array, level: int, rng: np.random.Generator) -> Array:
    return _encode(img, "WEBP", quality=[40, 20, 10, 4, 0][level - 1], method=4)


def underexposure(img: Array, level: int, rng: np.random.Generator) -> Array:
    gain = [0.7, 0.52, 0.38, 0.27, 0.18][level - 1]
    linear = (img / 255.0) ** 2.2 * gain
    return _u8(255.0 * linear ** (1 / 2.2))


def colour_cast(img: Array, level: int, rng: np.random.Generator) -> Array:
    a = [0.06, 0.12, 0.2, 0.3, 0.42][level - 1]
    warm = rng.random() < 0.5
    gains = np.array([1 + a, 1.0, 1 - a]) if warm else np.array([1 - a, 1.0, 1 + a])
    return _u8(img * gains)


def _gray(img: Array) -> Array:
    return (img @ np.array([0.299, 0.587, 0.114]))[..., None]


def desaturate(img: Array, level: int, rng: np.random.Generator) -> Array:
    t = [0.35, 0.55, 0.72, 0.86, 1.0][level - 1]
    return _u8(img * (1 - t) + _gray(img) * t)


def oversaturate(img: Array, level: int, rng: np.random.Generator) -> Array:
    k = [1.5, 2.0, 2.7, 3.6, 5.0][level - 1]
    g = _gray(img)
    return _u8(g + (img - g) * k)


def quantization(img: Array, level: int, rng: np.random.Generator) -> Array:
    colours = [48, 24, 12, 6, 3][level - 1]
    q = Image.fromarray(img).quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    return np.asarray(q.convert("RGB"))


def resample(img: Array, level: int, rng: np.random.Generator) -> Array:
    scale = [0.5, 0.33, 0.24, 0.17, 0.12][level - 1]
    h, w = img.shape[:2]
    small = Image.fromarray(img).resize((max(8, round(w * scale)), max(8, round(h * scale))), Image.Resampling.BILINEAR)
    return np.asarray(small.resize((w, h), Image.Resampling.BICUBIC))


def chromatic_aberration(img: Array, level: int, rng: np.random.Generator) -> Array:
    shift = [1, 2, 4, 6, 9][level - 1]
    out = img.copy()
    out[:, :, 0] = np.roll(img[:, :, 0], shift, axis=1)
    out[:, :, 2] = np.roll(img[:, :, 2], -shift, axis=1)
    out[:, :, 0] = np.roll(out[:, :, 0], shift // 2, axis=0)
    return out


def vignetting(img: Array, level: int, rng: np.random.Generator) -> Array:
    strength = [0.35, 0.55, 0.75, 0.9, 1.0][level - 1]
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2)) / np.sqrt(2)
    falloff = 1 - strength * np.clip(r, 0, 1) ** 2
    return _u8(img * falloff[..., None])


def motion_blur(img: Array, level: int, rng: np.random.Generator) -> Array:
    """Camera shake: a centred line kernel (the same direction at every level, so only the length grows)."""
    from scipy.ndimage import convolve

    length = [5, 9, 13, 19, 27][level - 1]
    angle = rng.uniform(0, np.pi)
    kernel = np.zeros((length, length))
    c = (length - 1) / 2
    for t in np.linspace(-c, c, 4 * length):
        kernel[round(c + t * np.sin(angle)), round(c + t * np.cos(angle))] = 1
    kernel /= kernel.sum()
    out = np.stack([convolve(img[:, :, ch].astype(np.float64), kernel, mode="reflect") for ch in range(3)], -1)
    return _u8(out)


def impulse_noise(img: Array, level: int, rng: np.random.Generator) -> Array:
    """Salt-and-pepper noise (ImageNet-C's amounts; written here because its version cannot be seeded)."""
    amount = [0.03, 0.06, 0.09, 0.17, 0.27][level - 1]
    out = img.copy()
    hit = rng.random(img.shape) < amount
    out[hit] = np.where(rng.random(int(hit.sum())) < 0.5, 0, 255)
    return out


def sensor_noise(img: Array, level: int, rng: np.random.Generator) -> Array:
    """Mild Gaussian noise as a camera shows at high ISO: luminance grain plus half as much colour noise.

    Its levels (σ 3–17 of 255 at the model's input size) lie below ImageNet-C's mildest Gaussian noise (σ 20): a
    full-resolution photo with visible noise is this mild after the downscale to the model's input, and without
    them the model never saw such noise.
    """
    sigma = [3.0, 5.0, 8.0, 12.0, 17.0][level - 1]
    luma = rng.normal(0.0, sigma, img.shape[:2])[..., None]
    chroma = rng.normal(0.0, sigma / 2, img.shape)
    return _u8(img + luma + chroma)


def low_light(img: Array, level: int, rng: np.random.Generator) -> Array:
    """A dark, noisy frame: :func:`underexposure` and then :func:`sensor_noise` at the same level.

    Noise on a dark photo lifts its blacks (the noise is clipped at 0) and reads as texture; a model that saw noise
    only on well-exposed photos and darkness only without noise scored a dark photo *higher* once noise was added.
    The six full-reference metrics all rank this below the same underexposure without the noise.
    """
    return sensor_noise(underexposure(img, level, rng), level, rng)


def median_smear(img: Array, level: int, rng: np.random.Generator) -> Array:
    """Over-aggressive denoising: detail smeared away by a median filter."""
    from PIL import ImageFilter

    size = [3, 5, 7, 9, 13][level - 1]
    return np.asarray(Image.fromarray(img).filter(ImageFilter.MedianFilter(size)))


def haze(img: Array, level: int, rng: np.random.Generator) -> Array:
    """A flat bright veil (lens flare, haze): contrast and saturation drop, black level rises."""
    a = [0.15, 0.3, 0.45, 0.6, 0.75][level - 1]
    return _u8(img * (1 - a) + 220.0 * a)


def pixelate(img: Array, level: int, rng: np.random.Generator) -> Array:
    block = [2, 3, 4, 6, 9][level - 1]
    h, w = img.shape[:2]
    small = Image.fromarray(img).resize((max(1, w // block), max(1, h // block)), Image.Resampling.BOX)
    return np.asarray(small.resize((w, h), Image.Resampling.NEAREST))


@dataclass(frozen=True)
class Distortion:
    name: str
    family: str
    apply: DistortFn
    source: str  # "corrupt-tta" or "here"


def _registry() -> dict[str, Distortion]:
    from_lib = {  # ImageNet-C corruptions whose 5 levels grow monotonically on photos of any size
        "gaussian_noise": "noise",
        "shot_noise": "noise",
        "speckle_noise": "noise",
        "gaussian_blur": "blur",
        "defocus_blur": "blur",
        "jpeg_compression": "compression",
        "contrast": "contrast",
        "brightness": "exposure",
    }
    here: dict[str, tuple[str, DistortFn]] = {
        "jpeg2000": ("compression", jpeg2000),
        "webp": ("compression", webp),
        "underexposure": ("exposure", underexposure),
        "colour_cast": ("colour", colour_cast),
        "desaturate": ("colour", desaturate),
        "oversaturate": ("colour", oversaturate),
        "quantization": ("colour", quantization),
        "resample": ("resampling", resample),
        "pixelate": ("resampling", pixelate),
        "motion_blur": ("blur", motion_blur),
        "median_smear": ("blur", median_smear),
        "haze": ("contrast", haze),
        "impulse_noise": ("noise", impulse_noise),
        "sensor_noise": ("noise", sensor_noise),
        "low_light": ("noise", low_light),
        "chromatic_aberration": ("lens", chromatic_aberration),
        "vignetting": ("lens", vignetting),
    }
    reg = {n: Distortion(n, fam, _corrupt_tta(n), "corrupt-tta") for n, fam in from_lib.items()}
    reg.update({n: Distortion(n, fam, fn, "here") for n, (fam, fn) in here.items()})
    return reg


DISTORTIONS: dict[str, Distortion] = _registry()


def stable_seed(*parts: object) -> int:
    """A seed from ``parts`` that is the same in every process and on every machine (unlike ``hash``)."""
    return zlib.crc32("|".join(map(str, parts)).encode())


def distort(img: Array, name: str, level: int, seed: int = 0) -> Array:
    """``img`` (H×W×3 uint8) with distortion ``name`` at ``level`` (1 = mild … 5 = strong); deterministic."""
    if name not in DISTORTIONS:
        raise SyntheticError(f"unknown distortion {name!r}; known: {', '.join(sorted(DISTORTIONS))}")
    if not 1 <= level <= LEVELS:
        raise SyntheticError(f"level must be 1..{LEVELS}, got {level}")
    out = DISTORTIONS[name].apply(
        np.ascontiguousarray(img), level, np.random.default_rng(stable_seed(seed, name, level))
    )
    if out.shape != img.shape:
        raise AssertionError(f"{name} changed the image shape {img.shape} -> {out.shape}")
    return out
