"""The scoring engine: one code path for the window, ``loda score`` and the tests.

    folders ──scan──> catalog.add_photos ──needs_scoring──> Scorer.iter_scores ──> catalog.put_score/put_error
                                                                                   └──> on_result(PhotoResult)

A photo already scored by the same model profile and crop count (catalog key :attr:`Engine.model_key`) is not
scored again while its size and mtime are unchanged. Each result is committed as soon as it exists, so killing
the process loses at most the batch being computed. Plain data in, plain data out: no Qt, no widgets.

The engine builds its scorer lazily, in the thread that first scores; that thread owns it (the window's single
inference thread). A :class:`Catalog` connection is opened per call, in the calling thread.

Scoring only: which model a setting names, where its weights are and its ONNX export are :mod:`.model_store`'s.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import model_store
from .catalog import Catalog, ScoreRecord, path_key
from .export import ExportRow, rank_rows, rows_from_records, with_capture_times
from .model_store import (
    AUTO_ONNX_ENV,
    cached_onnx_export,
    model_search_dirs,
    onnx_export_path,
    resolve_model,
    untrained_notice,
    weights_digest,
)
from .scan import ScanError, find_companions, scan_many
from .settings import Settings
from .storage_errors import StorageProblem, storage_problem

if TYPE_CHECKING:
    from model.scorer import BaseScorer, ImageScore

    from .bursts import BurstSummary

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnx")


class EngineError(Exception):
    """A problem with the engine's settings or model that the user can fix; the message says how."""


@dataclass(frozen=True)
class PhotoResult:
    """One photo's outcome: a score, or the reason it has none. ``cached`` when it came from the catalog.

    ``score`` is the combined score (global view and detail crops) the grid sorts by; the other parts are those of
    ``model.scorer.ImageScore`` (``regions`` as ``(x, y, size, score)`` tuples). A cached result has no
    ``embedding`` (:meth:`Catalog.embeddings` reads them)."""

    path: Path
    score: float | None
    spread: float | None
    status: str  # "ok" | "error"
    error: str | None = None
    cached: bool = False
    global_score: float | None = None
    detail: float | None = None
    regions: tuple[tuple[int, int, int, float], ...] = ()
    width: int | None = None
    height: int | None = None
    embedding: bytes | None = field(default=None, repr=False)


@dataclass
class ScoreSummary:
    total: int = 0
    scored: int = 0
    cached: int = 0
    failed: int = 0
    seconds: float = 0.0  # the whole run, model loading included
    load_seconds: float = 0.0  # building the scorer in this run (first run: loading, or the ONNX export)
    cancelled: bool = False
    model_name: str = ""
    model_key: str = ""
    untrained: bool = False
    runs_on: str = ""  # the scorer's describe(), e.g. 'torch cuda AMP'; empty when nothing was scored
    unscored_reason: str = ""  # why nothing was scored (no model could be loaded); the photos are still listed
    save_problem: str = ""  # one line when the catalog could not be written (disk full...): what was saved
    scan_errors: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def photos_per_second(self) -> float:
        """Scoring speed: photos scored per second of the run, model loading excluded."""
        scoring = self.seconds - self.load_seconds
        return self.scored / scoring if scoring > 0 else 0.0

    def describe(self) -> str:
        if self.unscored_reason:
            n = self.total
            return f"{n:,} photo{'s' * (n != 1)}, not scored: the model could not be loaded."
        parts = [
            f"{self.total} photo{'s' * (self.total != 1)}: {self.scored} scored now, {self.cached} already in the"
            f" catalog, {self.failed} failed",
            f"{self.seconds:.1f} s"
            + (f" (model loading {self.load_seconds:.1f} s)" if self.load_seconds >= 0.1 else ""),
        ]
        if self.scored or not self.cached:
            parts.append(f"{self.photos_per_second:.2f} photos/s")
        else:  # nothing was scored: no speed to give ("0.00 photos/s" read as a stall)
            parts.append(f"all {self.cached:,} from the catalog" if self.cached == self.total else "none scored now")
        text = "; ".join(parts) + f". Model: {self.model_name}" + (f", on {self.runs_on}." if self.runs_on else ".")
        if self.cancelled:
            text = "Cancelled. " + text
        return text


def check_model(settings: Settings, photo: Path) -> float:
    """Load the model ``settings`` name exactly as the window and ``loda score`` do (resolved by name from the
    models folders, the scorer built by the same factory, ONNX export included) and score ``photo`` with it.

    Returns the score; raises :class:`EngineError` saying why when the model cannot be loaded or gives no finite
    score. Fine-tuning runs it on the profile it has just written, before the profile is offered for use.
    """
    import math

    try:
        engine = Engine(settings)
        result = engine.scorer.score_one(photo)
    except EngineError:
        raise
    except Exception as exc:  # any failure to load or run is the answer: this model cannot be used here
        raise EngineError(f"'{settings.model}' cannot be loaded: {exc}") from None
    if not result.ok:
        raise EngineError(f"'{settings.model}' could not score {photo}: {result.error}")
    if result.score is None or not math.isfinite(result.score):
        raise EngineError(f"'{settings.model}' gives no finite score for {photo} ({result.score})")
    return float(result.score)


class Engine:
    """Scores photos into the catalog with the model and settings given. Reusable across runs."""

    def __init__(
        self, settings: Settings | None = None, *, catalog_path: Path | None = None, export_in_child: bool = False
    ) -> None:
        self.settings = settings or Settings()
        self.catalog_path = catalog_path
        self.export_in_child = export_in_child  # the window: a first run's ONNX export never imports torch here
        self.profile = resolve_model(self.settings.model)
        if self.settings.backend not in BACKENDS:
            raise EngineError(f"unknown backend {self.settings.backend!r}; use {', '.join(BACKENDS)}")
        self._scorer: BaseScorer | None = None
        self._weights: str | None = None  # the weights' part of model_key, computed once
        self.unsaved: dict[str, PhotoResult] = {}  # the last run's results the catalog could not save, by path key

    # -- model ----------------------------------------------------------------------------------------------
    @property
    def model_key(self) -> str:
        """Catalog key of this engine's scores: the profile's identity, the SHA-256 of its weights (so a tampered
        copy that keeps the name and creation stamp neither reuses nor replaces the real model's scores), the
        crop count and the detail-crop count (left out when detail crops are off: the score is then the global
        view's, as catalogs made before detail crops hold it)."""
        if self._weights is None:
            digest = weights_digest(self.profile)
            self._weights = f"|sha256={digest[:16]}" if digest else ""
        detail = f"|detail={self.settings.detail_crops}" if self.settings.detail_crops else ""
        return f"{self.profile.key}{self._weights}|crops={self.settings.crops}{detail}"

    @property
    def notice(self) -> str | None:
        return untrained_notice(self.profile)

    @property
    def scorer_loaded(self) -> bool:
        """The network is in memory already (the window says "Loading the model…" only when it is not)."""
        return self._scorer is not None

    @property
    def prepares_onnx(self) -> bool:
        """Loading the scorer will first export the profile for ONNX Runtime (the first run of backend ``auto``
        on a CPU with this profile file: seconds to tens of seconds), so the window can say so. A guess made
        without importing torch: a device ``auto`` that turns out to be CUDA exports nothing."""
        s = self.settings
        if self._scorer is not None or s.backend != "auto" or s.device.startswith("cuda") or not self._exportable():
            return False
        try:
            if onnx_export_path(self.profile).is_file():
                return False
            return model_store.export_size_estimate(self.profile) <= model_store.AUTO_ONNX_MAX_BYTES
        except (OSError, ValueError):
            return False

    @property
    def scorer(self) -> BaseScorer:
        if self._scorer is None:
            self._scorer = self._create_scorer()
        return self._scorer

    def _create_scorer(self) -> BaseScorer:
        s = self.settings
        is_onnx_file = self.profile.path is not None and self.profile.path.suffix.lower() == ".onnx"
        if s.backend == "onnx" or (s.backend == "auto" and is_onnx_file):
            return self._create_onnx_scorer()
        if s.backend == "auto":
            scorer = self._auto_onnx_scorer()
            if scorer is not None:
                return scorer
        if is_onnx_file:
            raise EngineError(f"{self.profile.path} is an ONNX model: score it with --backend onnx")
        from model.scorer import resolve_device, torch_scorer_from_profile

        try:
            resolve_device(s.device)
        except ValueError as exc:
            raise EngineError(str(exc)) from None
        started = time.perf_counter()
        scorer = torch_scorer_from_profile(
            self.profile,
            device=s.device,
            crops=s.crops,
            detail_crops=s.detail_crops,
            batch_size=s.batch_size,
            threads=s.threads,
            search_dirs=model_search_dirs(),
        )
        log.info("model %s loaded in %.1f s on %s", self.profile.name, time.perf_counter() - started, scorer.describe())
        return scorer

    def _exportable(self) -> bool:
        """Backend ``auto`` may score this profile with ONNX Runtime, the device aside: it is a profile file, the
        user has not switched exports off (``LODA_AUTO_ONNX=0``) and onnxruntime is installed."""
        path = self.profile.path
        if path is None or path.suffix.lower() != ".safetensors" or os.environ.get(AUTO_ONNX_ENV, "1") == "0":
            return False
        import importlib.util

        return importlib.util.find_spec("onnxruntime") is not None

    def _auto_onnx_scorer(self) -> BaseScorer | None:
        """Backend ``auto`` on the CPU: ONNX Runtime on this profile's export, cached; None means use torch.

        On a CPU ONNX Runtime runs the default model 1.9x as fast as torch and gives the same scores (the export is
        checked against torch), so the catalog key stays the profile's. Only profile files are exported (a bare
        config has random weights that change every load), and only up to :data:`.model_store.AUTO_ONNX_MAX_BYTES` of
        weights; the export is made once per profile file and reused until that file changes. Any failure falls
        back to torch.
        """
        s = self.settings
        if not self._exportable():
            return None
        from model.scorer import cuda_driver_present, resolve_device

        # the device decided without importing torch when it can be: "cpu", or "auto" on a machine without an
        # NVIDIA driver (torch costs seconds and ~500 MB there, and holds the GIL while the window lists a folder)
        if s.device != "cpu" and (s.device != "auto" or cuda_driver_present()):
            try:
                if resolve_device(s.device).type != "cpu":
                    return None
            except ValueError as exc:
                raise EngineError(str(exc)) from None
        started = time.perf_counter()
        try:
            # the limit read from its module at each call, so that a test (or an embedder) can lower it there
            onnx_path = cached_onnx_export(
                self.profile, max_bytes=model_store.AUTO_ONNX_MAX_BYTES, in_child=self.export_in_child
            )
            if onnx_path is None:
                return None
            from model.onnx_scorer import OnnxScorer

            scorer = OnnxScorer(
                onnx_path,
                profile=self.profile,
                device="cpu",
                threads=s.threads,
                crops=s.crops,
                detail_crops=s.detail_crops,
                batch_size=s.batch_size,
            )
        except Exception as exc:  # any export or runtime problem: torch still scores correctly
            log.warning("ONNX Runtime not used for %s (%s); scoring with torch", self.profile.name, exc)
            return None
        log.info("model %s loaded in %.1f s on %s", self.profile.name, time.perf_counter() - started, scorer.describe())
        return scorer

    def _create_onnx_scorer(self) -> BaseScorer:
        """ONNX Runtime on an exported ``.onnx`` model; imports neither torch nor timm."""
        s = self.settings
        path = self.profile.path
        if path is None or path.suffix.lower() != ".onnx":
            what = "a config" if path is None else f"a torch profile ({path})"
            raise EngineError(
                f"the ONNX backend needs an exported .onnx model, and '{self.profile.name}' is {what}: export it"
                f" first with `loda export-onnx --model {s.model} --out FILE.onnx` and pass --model FILE.onnx"
            )
        from model.onnx_scorer import OnnxScorer

        started = time.perf_counter()
        try:
            scorer = OnnxScorer(
                path,
                profile=self.profile,
                device=s.device,
                threads=s.threads,
                crops=s.crops,
                detail_crops=s.detail_crops,
                batch_size=s.batch_size,
            )
        except ImportError as exc:
            raise EngineError(f"the ONNX backend needs the onnxruntime package ({exc})") from None
        except ValueError as exc:
            raise EngineError(str(exc)) from None
        log.info("model %s loaded in %.1f s on %s", self.profile.name, time.perf_counter() - started, scorer.describe())
        return scorer

    # -- scanning and scoring -------------------------------------------------------------------------------
    @staticmethod
    def scan(roots: Iterable[str | Path], on_error: Callable[[Path, str], None] | None = None) -> list[Path]:
        """Photos under ``roots`` (folders or files). Raises EngineError for a root that cannot be scanned."""
        try:
            return scan_many(roots, on_error=on_error)
        except ScanError as exc:
            raise EngineError(str(exc)) from None

    def score_paths(
        self,
        paths: Sequence[Path],
        *,
        on_result: Callable[[PhotoResult], None] | None = None,
        should_continue: Callable[[], bool] | None = None,
        rescore: bool = False,
        retry_errors: bool = False,
    ) -> ScoreSummary:
        """Score ``paths`` into the catalog; ``on_result`` gets every photo's outcome (cached ones first).

        ``should_continue()`` is called between photos; returning False stops the run (it may block, to pause).
        ``retry_errors``: photos that failed before are tried again (Retry Failed); without it, only those whose
        cause is gone (:meth:`Catalog.needs_scoring`). When the catalog can no longer be written (disk full,
        read-only, locked), scoring goes on without saving: the results still reach ``on_result`` and
        :meth:`export_rows`, and ``summary.save_problem`` says in one line what was saved.
        """
        started = time.perf_counter()
        summary = ScoreSummary(
            total=len(paths), model_name=self.profile.name, model_key=self.model_key, untrained=not self.profile.trained
        )
        self.unsaved = {}
        with Catalog(self.catalog_path) as catalog:
            saver = _Saver(catalog, self.model_key, self.unsaved)
            todo = self._known_results(catalog, saver, paths, summary, on_result, rescore, retry_errors)
            if todo:
                self._score_todo(todo, saver, summary, on_result, should_continue)
        if saver.problem is not None:
            summary.save_problem = saver.describe(summary)
        summary.seconds = time.perf_counter() - started
        return summary

    def _known_results(
        self,
        catalog: Catalog,
        saver: _Saver,
        paths: Sequence[Path],
        summary: ScoreSummary,
        on_result: Callable[[PhotoResult], None] | None,
        rescore: bool,
        retry_errors: bool,
    ) -> list[Path]:
        """Catalog ``paths``, report the photos that need no scoring (cached, or gone) and return the others."""
        key = self.model_key
        saver.call(catalog.add_photos, paths)
        records = {path_key(r.path): (r, s) for r, s in catalog.rows(paths, key)}
        needed = paths if rescore else catalog.needs_scoring(paths, key, retry_errors=retry_errors)
        todo_set = {path_key(p) for p in needed}
        todo: list[Path] = []
        for p in paths:
            k = path_key(p)
            record, score = records.get(k, (None, None))
            if record is None and saver.problem is not None and os.path.isfile(k):
                todo.append(Path(k))  # never cataloged: the catalog could not be written
            elif record is None or (k not in todo_set and score is None):  # gone before it could be scored
                outcome = PhotoResult(Path(k), None, None, "error", "the file disappeared during the scan")
                if record is not None:
                    saver.put(outcome, "missing")
                summary.failed += 1
                if on_result:
                    on_result(outcome)
            elif k in todo_set:
                todo.append(Path(k))
            else:
                assert score is not None
                summary.cached += score.status == "ok"
                summary.failed += score.status != "ok"
                if on_result:
                    on_result(_cached_result(Path(k), score))
        return todo

    def _score_todo(
        self,
        todo: list[Path],
        saver: _Saver,
        summary: ScoreSummary,
        on_result: Callable[[PhotoResult], None] | None,
        should_continue: Callable[[], bool] | None,
    ) -> None:
        load_started = time.perf_counter()
        scorer = self.scorer
        summary.load_seconds = time.perf_counter() - load_started
        summary.runs_on = scorer.describe()
        for index, result in scorer.iter_scores(todo):
            path = todo[index]
            if result.ok:
                summary.scored += 1
                outcome = _scored_result(path, result)
            else:
                summary.failed += 1
                outcome = PhotoResult(path, None, None, "error", result.error or "unknown error")
            saver.put(outcome, result.error_kind)
            if on_result:
                on_result(outcome)
            if should_continue is not None and not should_continue():
                summary.cancelled = True
                break

    # -- bursts ---------------------------------------------------------------------------------------------------
    def score_regions(self, path: Path, boxes: Sequence[tuple[int, int, int]]) -> list[float]:
        """Detail scores of ``path`` at ``boxes`` (``(x, y, size)`` in the photo's pixels after EXIF orientation),
        with this engine's scorer (loaded on first use); raises ``ImageDecodeError`` for a file that cannot be
        read. What :mod:`.bursts` compares frames with when they have too few detail regions in common."""
        return [float(v) for v in self.scorer.score_regions(path, boxes)]

    def assign_bursts(self, paths: Sequence[Path]) -> BurstSummary:
        """Group ``paths`` (scored by this engine) into bursts and rank them (:func:`.bursts.assign_bursts`, with
        the settings' gap and similarity); capture times the catalog lacks are read from EXIF first."""
        from .bursts import assign_bursts

        s = self.settings
        with Catalog(self.catalog_path) as catalog:
            with_capture_times(catalog, catalog.rows(paths, None))
            return assign_bursts(
                catalog,
                self.model_key,
                paths,
                rescore=self.score_regions,
                gap_s=s.burst_gap_s,
                similarity=s.burst_similarity,
            )

    def export_rows(self, paths: Sequence[Path]) -> list[ExportRow]:
        """Ranked export rows for ``paths`` with this engine's scores (photos never scored have no status); the
        results of the last run that the catalog could not save (:attr:`unsaved`) are included."""
        with Catalog(self.catalog_path) as catalog:
            records = with_capture_times(catalog, catalog.rows(paths, self.model_key))
            found = {path_key(r.path) for r, _ in records}
        pairs = find_companions(r.path for r, _ in records)  # one folder listing per folder
        rows = rows_from_records(records, self.model_key, pairs)
        rows = [_with_unsaved(row, self.unsaved.get(row.path)) for row in rows]
        rows += [
            _with_unsaved(
                ExportRow(
                    path=path_key(p), model=self.model_key, status="error", error="the file disappeared during the scan"
                ),
                self.unsaved.get(path_key(p)),
            )
            for p in paths
            if path_key(p) not in found
        ]
        return rank_rows(rows)


SCORE_PARTS = ("global_score", "detail", "regions", "width", "height")  # a score's parts records and results share


def _cached_result(path: Path, score: ScoreRecord) -> PhotoResult:
    parts = {name: getattr(score, name) for name in SCORE_PARTS}
    return PhotoResult(path, score.score, score.spread, score.status, score.error, cached=True, **parts)


def _scored_result(path: Path, result: ImageScore) -> PhotoResult:
    """A scorer's result as the engine reports and saves it (the parts of ``model.scorer.ImageScore``)."""
    parts = {name: getattr(result, name) for name in SCORE_PARTS}
    return PhotoResult(path, result.score, result.spread, "ok", embedding=result.embedding, **parts)


def _with_unsaved(row: ExportRow, result: PhotoResult | None) -> ExportRow:
    if result is None:
        return row
    return dataclasses.replace(
        row, score=result.score, spread=result.spread, status=result.status, error=result.error, detail=result.detail
    )


class _Saver:
    """Writes results into the catalog until a write fails for a reason the user can fix (disk full, read-only,
    locked: :func:`~.storage_errors.storage_problem`); from then on keeps them in ``unsaved`` instead. Scoring a
    photo costs far more than saving it, and the scores are still shown and exported: stopping would lose them."""

    def __init__(self, catalog: Catalog, key: str, unsaved: dict[str, PhotoResult]) -> None:
        self.catalog, self.key, self.unsaved = catalog, key, unsaved
        self.saved = 0
        self.problem: StorageProblem | None = None

    def call(self, write: Callable[..., object], *args: object) -> bool:
        """Run one catalog write; False (and the problem kept) when storage refused it."""
        if self.problem is not None:
            return False
        try:
            write(*args)
        except sqlite3.OperationalError as exc:
            problem = storage_problem(exc)
            if problem is None:
                raise
            log.error("catalog %s: %s; scoring goes on without saving", self.catalog.path, exc)
            self.problem = problem
            return False
        return True

    def put(self, result: PhotoResult, kind: str) -> None:
        if result.status == "ok":
            done = self.call(self._put_score, result)
        else:
            done = self.call(self.catalog.put_error, result.path, self.key, result.error or "unknown error", kind)
        if done:
            self.saved += 1
        else:
            self.unsaved[path_key(result.path)] = result

    def _put_score(self, r: PhotoResult) -> None:
        parts = {name: getattr(r, name) for name in SCORE_PARTS}
        self.catalog.put_score(r.path, self.key, r.score, r.spread, embedding=r.embedding, **parts)  # type: ignore[arg-type]

    def describe(self, summary: ScoreSummary) -> str:
        """One line: what happened, how many photos are in the catalog, what to do."""
        assert self.problem is not None
        saved = summary.cached + self.saved
        rest = summary.total - saved
        return (
            f"{self.problem.what} while saving scores: {saved:,} of {summary.total:,} photos saved; the other"
            f" {rest:,} {'was' if rest == 1 else 'were'} {'scored but ' if self.unsaved else ''}not saved."
            f" {self.problem.advice} and run again — nothing is lost. ({self.problem.detail})"
        )


__all__ = ["BACKENDS", "Engine", "EngineError", "PhotoResult", "ScoreSummary", "check_model"]
