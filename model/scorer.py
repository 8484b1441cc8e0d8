"""Scorers: images in, one score per image out, crops batched across images.

:class:`BaseScorer` does everything that does not depend on the inference library: decoding on a small thread
pool ahead of the network, packing crops from many images into fixed-size batches, averaging each image's crops
into its score and spread, and turning undecodable images into per-image errors. A backend only implements
``_forward(uint8 crops) -> raw scores``. :class:`TorchScorer` is the PyTorch backend (CPU, or CUDA with AMP).

The reported score is ``scale * raw + offset`` with the calibration stored in the profile; ``spread`` is the
standard deviation of the calibrated crop scores.

**Two scales.** ``crops`` crops of the global view (short side 384, the paper's protocol) give ``global_score``.
With ``detail_crops`` > 0, a photo clearly larger than that view (:func:`model.preprocess.wants_detail`) also gets
that many crops at its own resolution where it has content (:func:`model.preprocess.detail_boxes`), scored by the
network's detail output (:meth:`model.loda.LoDa.forward_all`); their mean is ``detail``, and the score the app
sorts by is ``(1 - detail_weight) * global_score + detail_weight * detail`` (``detail_weight`` 0.5: the two
views count alike; a photo without detail crops keeps its global score). Every crop also gives the network's
embedding; their mean over the global crops, as a unit vector, groups the frames of a burst.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .preprocess import ImageDecodeError, ImageSource, Prepared, crops_at, open_image, prepare_multiscale

if TYPE_CHECKING:
    from .loda import LoDa
    from .profiles import Profile

log = logging.getLogger(__name__)


class Region(NamedTuple):
    """A detail crop: an (x, y) top-left corner and side in the photo's pixels after EXIF orientation, and its
    calibrated detail score. A tuple ``(x, y, size, score)``, as the catalog and the burst ranking take it."""

    x: int
    y: int
    size: int
    score: float


@dataclass(frozen=True)
class ImageScore:
    """The result for one image: a score and its spread over crops, or the reason it has none. ``score`` combines
    ``global_score`` and ``detail`` (module docstring); ``embedding`` is a float16 little-endian unit vector."""

    source: str
    score: float | None = None
    spread: float | None = None
    error: str | None = None
    error_kind: str = "decode"  # with an error: "missing", "unreadable", "decode" (see error_kind()) or "model"
    global_score: float | None = None
    detail: float | None = None
    regions: tuple[Region, ...] = ()
    width: int | None = None
    height: int | None = None
    embedding: bytes | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None


class ScorerError(RuntimeError):
    """The model misbehaves on every batch (wrong output shape, no answer within the time limit): the run stops
    with this message, which says what happened and what to try."""


def error_kind(exc: BaseException) -> str:
    """What kind of failure ``exc`` is, for deciding when to try the photo again: ``missing`` (the file is gone),
    ``unreadable`` (permission denied) or ``decode`` (anything about the file's content). The decoder words its
    own errors (:class:`ImageDecodeError`, raised ``from None``); the OS error it replaced is its context."""
    for cause in (exc, exc.__cause__, exc.__context__):
        if isinstance(cause, FileNotFoundError):
            return "missing"
        if isinstance(cause, PermissionError):
            return "unreadable"
    return "decode"


def _describe(source: ImageSource, index: int) -> str:
    if isinstance(source, str | Path):
        return str(source)
    return f"<image {index}>"


class BaseScorer:
    """Backend-independent batching. Subclasses implement :meth:`_forward`."""

    backend = "base"

    def __init__(
        self,
        *,
        short_side: int = 384,
        crop_size: int = 224,
        crops: int = 15,
        batch_size: int = 32,
        calibration: tuple[float, float] = (1.0, 0.0),
        decode_workers: int = 2,
        detail_crops: int = 0,
        detail_weight: float = 0.5,
    ) -> None:
        if crops < 1:
            raise ValueError(f"crops must be at least 1, got {crops}")
        if batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {batch_size}")
        self.short_side = short_side
        self.crop_size = crop_size
        self.crops = crops
        self.batch_size = batch_size
        self.calibration = (float(calibration[0]), float(calibration[1]))
        self.decode_workers = max(1, decode_workers)
        self.detail_crops = max(0, int(detail_crops))
        self.detail_weight = float(detail_weight)

    # -- to implement ---------------------------------------------------------------------------------------
    def _forward(self, crops: np.ndarray) -> np.ndarray:
        """Raw network outputs, shape (n,), for uint8 crops of shape (n, 3, S, S)."""
        raise NotImplementedError

    def _forward_all(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Raw scores (n,), raw detail scores (n,) and embeddings (n, C) or None. A backend with one output
        scores detail crops with it."""
        out = self._forward(crops)
        return out, out, None

    def describe(self) -> str:
        return self.backend

    # -- public ---------------------------------------------------------------------------------------------
    def prepare(self, source: ImageSource) -> Prepared:
        return prepare_multiscale(
            source, short_side=self.short_side, size=self.crop_size, k=self.crops, detail=self.detail_crops
        )

    def score_regions(self, source: ImageSource, boxes: Sequence[tuple[int, int, int]]) -> list[float]:
        """Calibrated detail scores of ``source`` at (x, y, size) boxes in its pixels (after EXIF orientation):
        what a burst's frames are compared on, position for position. Raises ImageDecodeError."""
        if not boxes:
            return []
        crops = crops_at(open_image(source), boxes)
        a, b = self.calibration
        return [float(a * v + b) for v in self._checked_forward_all(crops)[1]]

    def score(self, sources: Sequence[ImageSource]) -> list[ImageScore]:
        """One :class:`ImageScore` per source, in input order."""
        results: list[ImageScore | None] = [None] * len(sources)
        for index, result in self.iter_scores(sources):
            results[index] = result
        return [r for r in results if r is not None]

    def score_one(self, source: ImageSource) -> ImageScore:
        return self.score([source])[0]

    def iter_scores(
        self, sources: Iterable[ImageSource], *, prefetch: int | None = None
    ) -> Iterator[tuple[int, ImageScore]]:
        """Yield ``(index, ImageScore)`` as images complete (input order, errors as soon as they are known).

        Decoding runs ahead on a thread pool, at most ``prefetch`` images ahead. Stopping the iteration
        (``break``, ``close()``) cancels the decoding not yet started.
        """
        window = prefetch or max(4, 2 * -(-self.batch_size // self.crops))
        pool = ThreadPoolExecutor(self.decode_workers, thread_name_prefix="loda-decode")
        pending: deque[tuple[int, ImageSource, Future[Prepared]]] = deque()
        queue: list[tuple[int, str, Prepared]] = []  # decoded images whose crops are not scored yet
        iterator = enumerate(sources)

        def submit_next() -> None:
            item = next(iterator, None)
            if item is not None:
                pending.append((item[0], item[1], pool.submit(self.prepare, item[1])))

        try:
            for _ in range(window):
                submit_next()
            while pending:
                i, src, fut = pending.popleft()
                submit_next()
                try:
                    prepared = fut.result()
                except ImageDecodeError as exc:
                    yield i, ImageScore(_describe(src, i), error=str(exc), error_kind=error_kind(exc))
                    continue
                except (ValueError, OSError, MemoryError) as exc:
                    reason = str(exc) or type(exc).__name__  # a bare MemoryError has no message
                    message = f"cannot prepare the image: {reason}"
                    yield i, ImageScore(_describe(src, i), error=message, error_kind=error_kind(exc))
                    continue
                queue.append((i, _describe(src, i), prepared))
                if sum(len(p.crops) for _, _, p in queue) >= self.batch_size:
                    yield from self._drain(queue, final=False)
            yield from self._drain(queue, final=True)
        finally:
            for _, _, fut in pending:
                fut.cancel()
            pool.shutdown(wait=False, cancel_futures=True)

    def _drain(self, queue: list[tuple[int, str, Prepared]], *, final: bool) -> Iterator[tuple[int, ImageScore]]:
        """Run full batches from the queue (and the remainder when ``final``); yield images that completed."""
        while queue:
            total = sum(len(p.crops) for _, _, p in queue)
            if total < self.batch_size and not final:
                return
            # Take whole images while they fit; split an image across batches only when it alone is too big.
            take, n = 0, 0
            while take < len(queue) and n + len(queue[take][2].crops) <= self.batch_size:
                n += len(queue[take][2].crops)
                take += 1
            if take == 0:
                take, n = 1, len(queue[0][2].crops)
            batch = queue[:take]
            del queue[:take]
            crops = np.concatenate([p.crops for _, _, p in batch]) if take > 1 else batch[0][2].crops
            parts = [
                self._checked_forward_all(crops[s : s + self.batch_size]) for s in range(0, len(crops), self.batch_size)
            ]
            raw = np.concatenate([p[0] for p in parts])
            raw_detail = np.concatenate([p[1] for p in parts])
            embeds = None if any(p[2] is None for p in parts) else np.concatenate([p[2] for p in parts])
            offset = 0
            for i, name, prepared in batch:
                end = offset + len(prepared.crops)
                emb = None if embeds is None else embeds[offset : offset + prepared.n_global]
                yield i, self._result(name, prepared, raw[offset:end], raw_detail[offset:end], emb)
                offset = end

    def _result(
        self, name: str, prepared: Prepared, raw: np.ndarray, raw_detail: np.ndarray, emb: np.ndarray | None
    ) -> ImageScore:
        """One photo's :class:`ImageScore` from its crops' raw outputs (global crops first, then detail crops)."""
        a, b = self.calibration
        k = prepared.n_global
        scores = a * raw[:k] + b
        details = a * raw_detail[k:] + b
        if not (np.isfinite(scores).all() and np.isfinite(details).all()):
            # one photo's NaN (an overflow, a damaged model) is its own error
            return ImageScore(name, error="the model gave no finite score for this photo", error_kind="model")
        global_score = float(scores.mean())
        detail = float(details.mean()) if len(details) else None
        combined = (
            global_score if detail is None else (1 - self.detail_weight) * global_score + self.detail_weight * detail
        )
        regions = tuple(Region(x, y, s, float(v)) for (x, y, s), v in zip(prepared.boxes, details, strict=True))
        return ImageScore(
            name,
            score=combined,
            spread=float(scores.std()),
            global_score=global_score,
            detail=detail,
            regions=regions,
            width=prepared.width or None,
            height=prepared.height or None,
            embedding=_unit_float16(emb),
        )

    def _checked_forward_all(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """:meth:`_forward_all`, the scores and detail scores checked (:meth:`_checked`)."""
        score, detail, embed = self._forward_all(crops)
        checked = (self._checked(score, len(crops)), self._checked(detail, len(crops)))
        if embed is not None:
            embed = np.asarray(embed, dtype=np.float32).reshape(len(crops), -1)
        return checked[0], checked[1], embed

    @staticmethod
    def _checked(output: Any, n: int) -> np.ndarray:
        """One output, checked: one number per crop (a model that answers with another shape is not a LoDa model,
        and the whole run stops with :class:`ScorerError`)."""
        out = np.asarray(output)
        if out.dtype.kind not in "fiu" or out.size != n:
            raise ScorerError(
                f"the model returned {out.dtype} output of shape {list(out.shape)} for {n} crops; a LoDa"
                " model returns one score per crop (is this the right model file?)"
            )
        return out.astype(np.float64).reshape(-1)


def _unit_float16(embeds: np.ndarray | None) -> bytes | None:
    """The mean of a photo's crop embeddings as a float16 little-endian unit vector (None without any)."""
    if embeds is None or not len(embeds):
        return None
    mean = embeds.astype(np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if not np.isfinite(norm) or norm == 0.0:
        return None
    return (mean / norm).astype("<f2").tobytes()


class TorchScorer(BaseScorer):
    """PyTorch backend: CPU, or CUDA with automatic mixed precision (fp16 autocast) by default."""

    backend = "torch"

    def __init__(
        self,
        model: LoDa,
        *,
        device: str = "auto",
        amp: bool | None = None,
        threads: int = 0,
        **kwargs: Any,
    ) -> None:
        import torch

        cfg = model.config
        kwargs.setdefault("short_side", cfg.short_side)
        kwargs.setdefault("crop_size", cfg.img_size)
        self.device = resolve_device(device)
        kwargs.setdefault("decode_workers", default_decode_workers(self.device.type))
        super().__init__(**kwargs)
        if threads > 0:
            torch.set_num_threads(threads)
        self.amp = (self.device.type == "cuda") if amp is None else (amp and self.device.type == "cuda")
        self.model = model.to(self.device).eval()

    def describe(self) -> str:
        return f"torch {self.device.type}{' AMP' if self.amp else ''}"

    def _forward(self, crops: np.ndarray) -> np.ndarray:
        import torch

        x = torch.from_numpy(crops).to(self.device, non_blocking=True).float().div_(255.0)
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
            out = self.model(x)
        return out.float().cpu().numpy()

    def _forward_all(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if not hasattr(self.model, "forward_all"):  # a baseline network (trainer.baselines): one output
            return super()._forward_all(crops)
        import torch

        x = torch.from_numpy(crops).to(self.device, non_blocking=True).float().div_(255.0)
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
            outs = self.model.forward_all(x)
        score, detail, embed = (t.float().cpu().numpy() for t in outs)
        return score, detail, embed


GPU_DECODE_WORKERS = 8


def default_decode_workers(device_type: str) -> int:
    """Photo-decoding threads in front of the network: 2 on the CPU (decoding competes with inference for the
    cores), up to :data:`GPU_DECODE_WORKERS` in front of a GPU, which two threads cannot keep busy: on an H100
    with 16 cores, 24-MP JPEGs went from 19 photos/s with 2 threads to 38-68 with 8 (docs/performance.md)."""
    import os

    if device_type == "cuda":
        return max(2, min(GPU_DECODE_WORKERS, os.cpu_count() or 2))
    return 2


def cuda_driver_present() -> bool:
    """Whether this machine has an NVIDIA driver at all, asked without importing torch (which costs seconds and
    about 500 MB, and holds the GIL while it loads). False means torch would see no CUDA GPU either; True only
    means torch has to be asked. Linux: the kernel driver's ``/proc`` entry, WSL's GPU device, or a ``libcuda``
    the loader knows; Windows: ``nvcuda.dll``; macOS has no CUDA."""
    import ctypes.util
    import os
    import sys

    if sys.platform == "darwin":
        return False
    if sys.platform.startswith("win"):
        return ctypes.util.find_library("nvcuda") is not None
    if os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/dxg"):
        return True
    return ctypes.util.find_library("cuda") is not None


def resolve_device(device: str):
    """``auto`` picks CUDA when available; asking for CUDA on a machine without it is a clear error."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but PyTorch sees no CUDA GPU on this machine")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}; use auto, cpu or cuda")
    return torch.device(device)


def torch_scorer_from_profile(
    profile: Profile,
    *,
    device: str = "auto",
    crops: int | None = None,
    batch_size: int = 32,
    threads: int = 0,
    detail_crops: int = 0,
    search_dirs: Iterable[Path] = (),
    vit_weights: Path | None = None,
    cnn_weights: Path | None = None,
    on_model: Callable[[LoDa], None] | None = None,
) -> TorchScorer:
    """Load a profile's network and wrap it in a :class:`TorchScorer` with the profile's calibration."""
    from .profiles import load_model

    model = load_model(profile, vit_weights=vit_weights, cnn_weights=cnn_weights, search_dirs=search_dirs)
    if on_model is not None:
        on_model(model)
    return TorchScorer(
        model,
        device=device,
        threads=threads,
        crops=crops or profile.config.test_crops,
        batch_size=batch_size,
        calibration=profile.calibration,
        detail_crops=detail_crops,
    )
