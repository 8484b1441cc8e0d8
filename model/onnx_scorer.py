"""ONNX Runtime backend: scores photos from an exported ``.onnx`` LoDa model without torch or timm.

The file written by :func:`model.onnx_export.export_onnx` is self-describing: the model profile's metadata
(config, preprocessing, score range and calibration) sits as JSON under the ONNX ``metadata_props`` key
``loda``, so :func:`read_onnx_profile` turns the file alone into a :class:`~model.profiles.Profile`.

Nothing here imports torch or timm, directly or through another module: the packaged score-only build leaves
them out. ``onnxruntime`` itself is imported only when a scorer is built; reading the metadata needs no
library at all (a few lines of protobuf wire format, which also skip the weights instead of loading them).

Execution providers are chosen from what ``onnxruntime.get_available_providers()`` offers, best first:
TensorRT, then CUDA, then CPU. ``onnxruntime-gpu`` lists its GPU providers even on a machine without a GPU
and silently falls back to CPU, so the provider reported is the one the session actually runs on.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .profile_checks import loads_bounded
from .profiles import Profile, ProfileError, profile_from_metadata
from .scorer import BaseScorer, ScorerError, default_decode_workers

log = logging.getLogger(__name__)

METADATA_KEY = "loda"  # the ONNX metadata_props key holding the profile JSON
INPUT_NAME = "crops"  # float32 (N, 3, S, S), RGB in [0, 1]
OUTPUT_NAME = "score"  # float32 (N,), raw (uncalibrated) network output
DETAIL_NAME = "detail"  # float32 (N,), raw detail score (exports since session 15; older files lack it)
EMBEDDING_NAME = "embedding"  # float32 (N, C), the features that group bursts (idem)
SUFFIX = ".onnx"
TIMEOUT_ENV = "LODA_BATCH_TIMEOUT"
ARENA_ENV = "LODA_ORT_ARENA"  # "1" / "0": ONNX Runtime's CPU memory arena on / off (see OnnxScorer)
# Crops per ONNX Runtime run on a CPU, whatever the batch setting: on 2 cores, batches of 8 crops scored 24-MP photos
# end to end 1.15x as fast as 32 and peaked at 245 MB of RSS instead of 825 (docs/performance.md). A GPU keeps the
# setting's batch.
CPU_BATCH = 8
# Seconds one batch may take: the paper's ViT-B model runs a batch of 32 crops in about 9 s on two CPU cores
# (docs/performance.md: 0.245 photos/s at 15 crops), so 300 s only ever stops a graph that does not end.
DEFAULT_TIMEOUT = 300.0

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
GPU_PROVIDERS = (TENSORRT, CUDA)
_SHORT = {TENSORRT: "TensorRT", CUDA: "CUDA", CPU: "CPU"}


# --- metadata, read straight from the protobuf wire format -------------------------------------------------
#
# ModelProto's top level is a flat list of fields; the graph (field 7, all weights) is one length-delimited
# field that is skipped with a seek, and metadata_props (field 14) are StringStringEntryProto {1: key, 2: value}.
_GRAPH_FIELD = 7
_METADATA_FIELD = 14
_WIRE_VARINT, _WIRE_FIXED64, _WIRE_BYTES, _WIRE_FIXED32 = 0, 1, 2, 5


class _WireError(ValueError):
    pass


def _varint(f: BinaryIO, *, at_start: bool = False) -> int | None:
    result = shift = 0
    while True:
        b = f.read(1)
        if not b:
            if at_start and shift == 0:
                return None  # clean end of message
            raise _WireError("unexpected end of file")
        result |= (b[0] & 0x7F) << shift
        if not b[0] & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise _WireError("malformed varint")


def _fields(f: BinaryIO, size: int, wanted: set[int]):
    """Yield ``(field, bytes-or-None)`` for each top-level field; bytes only for length-delimited wanted ones."""
    while True:
        tag = _varint(f, at_start=True)
        if tag is None:
            return
        field, wire = tag >> 3, tag & 7
        if field == 0:
            raise _WireError("field number 0")
        if wire == _WIRE_VARINT:
            _varint(f)
            yield field, None
        elif wire in (_WIRE_FIXED64, _WIRE_FIXED32):
            width = 8 if wire == _WIRE_FIXED64 else 4
            if f.seek(width, os.SEEK_CUR) > size:
                raise _WireError("unexpected end of file")
            yield field, None
        elif wire == _WIRE_BYTES:
            length = _varint(f)
            assert length is not None
            start = f.tell()
            if start + length > size:
                raise _WireError(f"field {field} runs {start + length - size} bytes past the end of the file")
            if field in wanted:
                yield field, f.read(length)
            else:
                f.seek(length, os.SEEK_CUR)
                yield field, None
        else:
            raise _WireError(f"unexpected wire type {wire}")


def read_onnx_metadata(path: Path | str) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file as a dict, without loading its graph.

    Raises :class:`ProfileError` for a missing file, a file that is not ONNX, or a truncated one.
    """
    path = Path(path)
    if not path.exists():
        raise ProfileError(f"{path}: no such ONNX model")
    if path.is_dir():
        raise ProfileError(f"{path}: is a folder, not an ONNX model")
    props: dict[str, str] = {}
    seen_graph = False
    try:
        size = path.stat().st_size
        with open(path, "rb") as raw:
            f = io.BufferedReader(raw, buffer_size=1 << 16)
            for field, data in _fields(f, size, {_METADATA_FIELD}):
                seen_graph = seen_graph or field == _GRAPH_FIELD
                if field == _METADATA_FIELD and data is not None:
                    entry = {k: v for k, v in _fields(io.BytesIO(data), len(data), {1, 2}) if v is not None}
                    props[entry.get(1, b"").decode("utf-8")] = entry.get(2, b"").decode("utf-8")
    except (_WireError, UnicodeDecodeError) as exc:
        raise ProfileError(
            f"{path}: not a readable ONNX model (damaged, truncated or another file type): {exc}"
        ) from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read the file: {exc}") from None
    if not seen_graph:
        raise ProfileError(f"{path}: not an ONNX model (no graph found; damaged or another file type)")
    return props


def read_onnx_profile(path: Path | str) -> Profile:
    """The LoDa profile embedded in an exported ONNX file; ``profile.path`` is the ONNX file."""
    path = Path(path)
    props = read_onnx_metadata(path)
    if METADATA_KEY not in props:
        raise ProfileError(
            f"{path}: an ONNX model, but not one exported by LoDa Desktop (no '{METADATA_KEY}' metadata);"
            " export it with `loda export-onnx --model NAME --out FILE.onnx`"
        )
    meta = loads_bounded(props[METADATA_KEY], path, "the LoDa metadata in this ONNX file")
    return profile_from_metadata(meta, path)


# --- providers ---------------------------------------------------------------------------------------------


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def select_providers(device: str = "auto", available: list[str] | None = None) -> list[str]:
    """Execution providers to ask for, best first: TensorRT > CUDA > CPU (CPU always last, as the fallback).

    ``device``: ``auto`` (best available), ``cpu``, or ``cuda`` (a GPU provider is required; ValueError if
    this onnxruntime has none, e.g. the CPU-only ``onnxruntime`` package).
    """
    available = available_providers() if available is None else list(available)
    if device == "cpu":
        return [CPU]
    if device not in ("auto",) and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}; use auto, cpu or cuda")
    gpu = [p for p in GPU_PROVIDERS if p in available]
    if device.startswith("cuda") and not gpu:
        raise ValueError(
            "device 'cuda' was requested but this ONNX Runtime has no GPU execution provider"
            f" (available: {', '.join(available) or 'none'}); install onnxruntime-gpu, or use --device cpu"
        )
    return [*gpu, CPU]


def _provider_options(provider: str, batch_size: int, crop_size: int) -> dict[str, Any]:
    if provider == TENSORRT:
        # one optimisation profile covering every batch the scorer sends; built engines are cached on disk
        shape = f"{INPUT_NAME}:{{}}x3x{crop_size}x{crop_size}"
        return {
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": os.path.join(tempfile.gettempdir(), "loda_tensorrt_cache"),
            "trt_profile_min_shapes": shape.format(1),
            "trt_profile_opt_shapes": shape.format(batch_size),
            "trt_profile_max_shapes": shape.format(batch_size),
        }
    return {}


# --- threads on a CPU --------------------------------------------------------------------------------------


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the system has one, e.g. in a container)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def cpu_threads(cores: int | None = None) -> tuple[int, int]:
    """``(inference threads, decoding threads)`` for scoring on ``cores`` CPU cores (default: :func:`usable_cores`),
    chosen together so that they add up to the cores and share them as the two stages share the work: a 24-MP
    JPEG took 52 ms to decode and crop and 80 ms of network at 5 crops (one thread each, docs/performance.md), so
    40 % of the cores (at least one) decode and the rest run the network: 2 cores 1 + 1, 4 cores 2 + 2, 8 cores
    5 + 3. Threads beyond the cores only wait for each other: on 2 cores, 2 inference threads next to 1 or 2
    decoding threads were 0.76x as fast end to end as 1 + 1 (``loda bench --threads 1 2 --decode-workers 1 2``).
    Only 2 cores were measured."""
    cores = usable_cores() if cores is None else max(1, cores)
    decode = max(1, round(0.4 * cores))
    return max(1, cores - decode), decode


# --- the scorer --------------------------------------------------------------------------------------------


class OnnxScorer(BaseScorer):
    """ONNX Runtime backend for an exported LoDa ``.onnx`` file; same API and scores as the torch scorer.

    Preprocessing and calibration come from the metadata inside the file (``profile`` may be passed when it
    was read already). ``threads`` > 0 sets ONNX Runtime's intra-op thread count; 0 on a CPU takes
    :func:`cpu_threads`' split of the cores between inference and decoding (decoding threads only when
    ``decode_workers`` is not given). On a CPU a batch is at most :data:`CPU_BATCH` crops; the CPU memory arena
    stays on (``$LODA_ORT_ARENA=0`` turns it off: 100 MB less at batch 32, and 0.8x the speed).

    The file is untrusted: each batch must finish within ``timeout`` seconds (default ``$LODA_BATCH_TIMEOUT`` or
    :data:`DEFAULT_TIMEOUT`), else it is stopped (``RunOptions.terminate``) and the run ends with a
    :class:`~model.scorer.ScorerError`; outputs are checked for shape and finiteness (:class:`BaseScorer`); at
    load, two different inputs must give different outputs (:meth:`_probe`).
    """

    backend = "onnx"

    def __init__(
        self,
        model_path: Path | str,
        *,
        profile: Profile | None = None,
        device: str = "auto",
        threads: int = 0,
        providers: list[str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        self.model_path = Path(model_path)
        self.profile = profile or read_onnx_profile(self.model_path)
        cfg = self.profile.config
        kwargs.setdefault("short_side", cfg.short_side)
        kwargs.setdefault("crop_size", cfg.img_size)
        kwargs.setdefault("calibration", self.profile.calibration)
        if kwargs.get("crops") is None:
            kwargs["crops"] = cfg.test_crops
        decode_workers_given = "decode_workers" in kwargs
        super().__init__(**kwargs)

        import onnxruntime as ort

        available = list(ort.get_available_providers())
        requested = list(providers) if providers else select_providers(device, available)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        cpu_only = requested == [CPU]
        if threads <= 0 and cpu_only:
            threads, workers = cpu_threads()
            if not decode_workers_given:
                self.decode_workers = workers
        if cpu_only:
            self.batch_size = min(self.batch_size, CPU_BATCH)
        if threads > 0:
            options.intra_op_num_threads = threads
        arena = os.environ.get(ARENA_ENV, "").strip()
        if arena in ("0", "1"):
            options.enable_cpu_mem_arena = arena == "1"
        self.threads = threads
        self._error = ""
        self.session = self._open_session(ort, options, requested)
        if self.session is None and requested != [CPU]:
            # a GPU provider that is listed but cannot start (no GPU, driver or cuDNN missing): say so, use the CPU
            if device.startswith("cuda"):
                raise ValueError(
                    "device 'cuda' was requested but ONNX Runtime could not start a GPU execution provider"
                    f" ({self._error}); check the CUDA/cuDNN installation, or use --device cpu"
                )
            log.warning("ONNX Runtime could not start %s (%s); using the CPU", ", ".join(requested[:-1]), self._error)
            requested = [CPU]
            self.session = self._open_session(ort, options, requested)
        if self.session is None:
            raise ProfileError(f"{self.model_path}: ONNX Runtime cannot load this model (damaged?): {self._error}")
        active = self.session.get_providers()
        self.provider = next((p for p in active if p in _SHORT), active[0] if active else CPU)
        if device.startswith("cuda") and self.provider not in GPU_PROVIDERS:
            raise ValueError(
                "device 'cuda' was requested but ONNX Runtime found no usable GPU (it fell back to the CPU);"
                " check the CUDA/cuDNN installation, or use --device cpu"
            )
        if self.provider in GPU_PROVIDERS and not decode_workers_given:
            self.decode_workers = default_decode_workers("cuda")  # two threads cannot keep a GPU busy
        inputs = self.session.get_inputs()
        self.input_name = inputs[0].name if inputs else INPUT_NAME
        self.timeout = float(timeout if timeout is not None else os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
        self._probe()
        self.int8 = bool(self.profile.metadata.get("onnx", {}).get("int8"))
        log.info(
            "ONNX Runtime %s: running %s on %s (requested %s; available %s; threads %s)",
            ort.__version__,
            self.model_path.name,
            _SHORT.get(self.provider, self.provider),
            ">".join(_SHORT.get(p, p) for p in requested),
            ", ".join(available),
            threads or "default",
        )

    def _open_session(self, ort: Any, options: Any, providers: list[str]) -> Any:
        try:
            return ort.InferenceSession(
                str(self.model_path),
                sess_options=options,
                providers=[(p, _provider_options(p, self.batch_size, self.crop_size)) for p in providers],
            )
        except Exception as exc:  # onnxruntime's own exception types do not derive from RuntimeError
            self._error = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            return None

    def describe(self) -> str:
        return f"onnxruntime {_SHORT.get(self.provider, self.provider)}{' INT8' if self.int8 else ''}"

    def _forward(self, crops: np.ndarray) -> np.ndarray:
        return self._forward_all(crops)[0]

    def _forward_all(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        x = crops.astype(np.float32) / np.float32(255.0)  # exactly what TorchScorer feeds the network
        outs = self._run_all(x)
        if len(outs) >= 3:
            return np.asarray(outs[0]), np.asarray(outs[1]), np.asarray(outs[2])
        score = np.asarray(outs[0])  # an export from before the detail and embedding outputs
        return score, score, None

    def _run(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._run_all(x)[0])

    def _run_all(self, x: np.ndarray) -> list[Any]:
        """One ``session.run`` in a worker thread, stopped with ``RunOptions.terminate`` after :attr:`timeout`
        seconds: a graph that never ends (an endless ``Loop``) becomes a :class:`ScorerError`, not a hung app."""
        import onnxruntime as ort

        options = ort.RunOptions()
        options.log_severity_level = 4  # the terminate below is ours: no error line from ONNX Runtime for it
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["out"] = self.session.run(None, {self.input_name: x}, options)
            except Exception as exc:  # onnxruntime's own exception types
                outcome["error"] = exc

        worker = threading.Thread(target=run, name="loda-onnx-run", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            options.terminate = True
            worker.join(10)
            raise ScorerError(
                f"{self.model_path.name}: the model gave no answer within {self.timeout:g} s for a batch of"
                f" {len(x)} crops and was stopped. A LoDa model answers in seconds: this file may be damaged or"
                f" hostile. (A slow machine can allow more time with {TIMEOUT_ENV}=SECONDS.)"
            )
        if "error" in outcome:
            first = (str(outcome["error"]).strip().splitlines() or ["?"])[0][:300]
            raise ScorerError(f"{self.model_path.name}: ONNX Runtime failed on a batch: {first}")
        return list(outcome["out"])

    def _probe(self) -> None:
        """Run two different inputs once at load: the output must be one finite number per crop, and differ.
        A graph that returns the same bits for a random and a grey crop ignores its input (a constant-output
        file): refused. Costs one batch of two crops."""
        size = self.crop_size
        rng = np.random.default_rng(0)
        x = np.stack([rng.random((3, size, size), dtype=np.float32), np.full((3, size, size), 0.5, np.float32)])
        out = self._run(x)
        if out.dtype.kind != "f" or out.size != 2:
            raise ProfileError(
                f"{self.model_path}: the model returns {out.dtype} output of shape {list(out.shape)} for 2 crops;"
                " a LoDa model returns one score per crop"
            )
        if not np.isfinite(out).all():
            raise ProfileError(f"{self.model_path}: the model gives no finite score for a test input ({out.tolist()})")
        if out.reshape(-1)[0] == out.reshape(-1)[1]:
            raise ProfileError(
                f"{self.model_path}: the model gives the same score for two different inputs: it ignores the photo"
                " (a constant-output graph, not a LoDa model)"
            )


__all__ = [
    "DEFAULT_TIMEOUT",
    "DETAIL_NAME",
    "EMBEDDING_NAME",
    "INPUT_NAME",
    "METADATA_KEY",
    "OUTPUT_NAME",
    "OnnxScorer",
    "read_onnx_metadata",
    "read_onnx_profile",
    "select_providers",
]
