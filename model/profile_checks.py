"""A profile file is untrusted input: anyone can hand a photographer a ``.safetensors`` or ``.onnx`` file. These
checks run before any of it is used, each failure one :class:`ProfileError` line naming the field.

- JSON: at most :data:`MAX_METADATA_BYTES`, nested at most :data:`MAX_JSON_DEPTH` deep (checked by a scan of the
  text before parsing, so a 10,000-deep document is refused without Python's recursion limit ever being near).
- Metadata (:func:`check_metadata`): the fields the app reads have the right types; numbers are finite and
  bounded (the score calibration: ``|x| <= 1e6``, scale not 0); the config is checked by
  :class:`~model.configs.LodaConfig` itself (bounded sizes, plain timm names, no extra timm arguments).
- Tensors (:func:`read_header`): the safetensors header is parsed here, before safetensors reads anything: every
  tensor's dtype is one the project writes (float32; int64 for BatchNorm's step counters), its byte range lies
  inside the file and matches its shape. With the network's expected names, shapes and dtypes
  (:func:`check_tensor_plan`), an undeclared or oversized tensor is refused before a byte of it is read.

Needs numpy only (the ONNX scoring path has no torch).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "ALLOWED_DTYPES",
    "MAX_HEADER_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_METADATA_BYTES",
    "ProfileError",
    "TensorEntry",
    "check_metadata",
    "check_tensor_plan",
    "loads_bounded",
    "read_header",
]

MAX_JSON_DEPTH = 32  # the project writes 4 levels; 32 leaves room without ever nearing Python's recursion limit
MAX_METADATA_BYTES = 1 << 20  # 1 MiB of JSON metadata (the default model's is 2 KB)
MAX_HEADER_BYTES = 16 << 20  # a safetensors header: names, shapes and offsets of a few thousand tensors
MAX_CALIBRATION = 1e6
ALLOWED_DTYPES = {"F32": 4, "I64": 8}  # float32 everywhere; int64 only for BatchNorm's num_batches_tracked
INT_SUFFIX = "num_batches_tracked"

TensorEntry = tuple[str, tuple[int, ...], int, int]  # dtype, shape, begin, end (offsets in the data section)


class ProfileError(Exception):
    """A profile that cannot be used: missing, damaged, truncated, forged, of another format or for another network.

    (Defined here, where the checks are; :mod:`model.profiles` exports it.)"""


def _json_depth_ok(text: str, limit: int) -> bool:
    """Whether ``text`` nests objects and arrays at most ``limit`` deep (brackets inside strings do not count)."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def loads_bounded(text: str | bytes, where: object, what: str = "the profile metadata") -> Any:
    """``json.loads`` with a size and a nesting limit; a :class:`ProfileError` for anything it refuses."""
    if len(text) > MAX_METADATA_BYTES:
        raise ProfileError(f"{where}: {what} is {len(text):,} bytes, more than {MAX_METADATA_BYTES:,} allowed")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProfileError(f"{where}: {what} is not UTF-8 text ({exc})") from None
    if not _json_depth_ok(text, MAX_JSON_DEPTH):
        raise ProfileError(f"{where}: {what} is nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: cannot happen after the depth check
        raise ProfileError(f"{where}: {what} is damaged ({exc})") from None


# -- metadata ---------------------------------------------------------------------------------------------------


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_text(meta: Mapping[str, Any], key: str, where: object, limit: int, *, optional: bool = True) -> None:
    value = meta.get(key)
    if value is None and optional:
        return
    if not isinstance(value, str) or len(value) > limit:
        raise ProfileError(f"{where}: '{key}' must be text of at most {limit} characters, got {_short(value)}")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_score(score: object, where: object) -> None:
    if score is None:
        return
    if not isinstance(score, dict):
        raise ProfileError(f"{where}: 'score' must be an object, got {_short(score)}")
    calibration = score.get("calibration", {})
    if not isinstance(calibration, dict):
        raise ProfileError(f"{where}: the score calibration must be an object, got {_short(calibration)}")
    for key in ("scale", "offset"):
        value = calibration.get(key, 1.0 if key == "scale" else 0.0)
        if not _finite(value) or abs(value) > MAX_CALIBRATION:
            raise ProfileError(
                f"{where}: the score calibration's {key} must be a finite number within ±{MAX_CALIBRATION:g},"
                f" got {_short(value)}"
            )
    if calibration.get("scale", 1.0) == 0:
        raise ProfileError(f"{where}: the score calibration's scale is 0 (every photo would get the same score)")
    span = score.get("range")
    if span is not None and not (isinstance(span, list) and len(span) == 2 and all(map(_finite, span))):
        raise ProfileError(f"{where}: the score range must be two finite numbers or null, got {_short(span)}")


def check_metadata(meta: object, where: object) -> None:
    """Refuse metadata whose fields the app reads have the wrong type or an unbounded value (module docstring).
    The config is checked when :class:`~model.profiles.Profile` builds it; unknown extra fields are kept."""
    if not isinstance(meta, dict):
        raise ProfileError(f"{where}: the metadata is not a LoDa model profile")
    _check_text(meta, "name", where, 100)
    _check_text(meta, "created", where, 64)
    _check_text(meta, "parent", where, 300)
    _check_text(meta, "notes", where, 10_000)
    _check_text(meta, "parent_digest", where, 64)
    kind = meta.get("kind", "adapter")
    if kind not in ("adapter", "full"):
        raise ProfileError(f"{where}: 'kind' must be adapter or full, got {_short(kind)}")
    _check_score(meta.get("score"), where)
    for key in ("metrics", "backbones", "preprocessing", "onnx"):
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            raise ProfileError(f"{where}: '{key}' must be an object, got {_short(meta[key])}")
    for key, value in (meta.get("metrics") or {}).items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ProfileError(f"{where}: the metric {_short(key)} is {value}, not a finite number")
    trained_on = meta.get("trained_on")
    if trained_on is not None and not isinstance(trained_on, str | dict | bool):
        raise ProfileError(f"{where}: 'trained_on' must be text or an object, got {_short(trained_on)}")


# -- tensors ----------------------------------------------------------------------------------------------------


def _entry(name: str, info: object, data_size: int, where: object) -> TensorEntry:
    if not isinstance(info, dict):
        raise ProfileError(f"{where}: tensor {_short(name)}: not a tensor description")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in ALLOWED_DTYPES or (dtype == "I64" and not name.endswith(INT_SUFFIX)):
        raise ProfileError(
            f"{where}: tensor {_short(name)} is {_short(dtype)}; a LoDa profile holds float32 tensors"
            f" (int64 only for BatchNorm's {INT_SUFFIX})"
        )
    if not isinstance(shape, list) or len(shape) > 8 or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ProfileError(f"{where}: tensor {_short(name)} has an invalid shape {_short(shape)}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
        raise ProfileError(f"{where}: tensor {_short(name)} has invalid data offsets {_short(offsets)}")
    begin, end = offsets
    claimed = math.prod(shape) * ALLOWED_DTYPES[dtype]
    if not 0 <= begin <= end or end - begin != claimed or end > data_size:
        raise ProfileError(
            f"{where}: tensor {_short(name)} claims {claimed:,} bytes (shape {shape}) at {begin:,}..{end:,},"
            f" but the file holds {data_size:,} bytes of tensors: damaged, truncated or forged"
        )
    return dtype, tuple(shape), begin, end


def read_header(path: Path | str) -> tuple[dict[str, TensorEntry], dict[str, str]]:
    """The tensors a safetensors file declares (dtype, shape, byte range) and its string metadata, checked
    (module docstring) without reading any tensor data."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            length = int.from_bytes(head, "little") if len(head) == 8 else -1
            if not 2 <= length <= min(MAX_HEADER_BYTES, size - 8):
                raise ProfileError(
                    f"{path}: not a readable model profile (a header of {length:,} bytes in a file of {size:,};"
                    " damaged, truncated or another file type)"
                )
            raw = f.read(length)
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    header = loads_bounded(raw, path, "the safetensors header")
    if not isinstance(header, dict):
        raise ProfileError(f"{path}: not a readable model profile (the header is not an object)")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ProfileError(f"{path}: the safetensors metadata must map names to text")
    data_size = size - 8 - length
    entries = {str(name): _entry(str(name), info, data_size, path) for name, info in header.items()}
    return entries, metadata


def check_tensor_plan(
    entries: Mapping[str, TensorEntry],
    expected: Mapping[str, tuple[tuple[int, ...], str]],
    where: object,
    network: str,
    *,
    require_all: bool,
) -> None:
    """Refuse, before reading any tensor, a file whose tensors are not the network's: a name it does not have
    (the biggest one named, with its size), another shape or dtype, or (``require_all``) a missing one.
    ``expected``: name -> (shape, dtype) of the network ``network``."""
    missing = sorted(set(expected) - set(entries)) if require_all else []
    unexpected = sorted(set(entries) - set(expected), key=lambda k: entries[k][2] - entries[k][3])
    wrong = sorted(
        k for k, e in entries.items() if k in expected and (e[1], e[0]) != (tuple(expected[k][0]), expected[k][1])
    )
    if not (missing or unexpected or wrong):
        return
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing (e.g. {_short(missing[0])})")
    if unexpected:
        big = unexpected[0]
        size = (entries[big][3] - entries[big][2]) / 2**20
        parts.append(f"{len(unexpected)} unexpected (e.g. {_short(big)}, {size:,.1f} MiB, not read)")
    if wrong:
        dtype, shape, _, _ = entries[wrong[0]]
        want_shape, want_dtype = expected[wrong[0]]
        parts.append(
            f"{len(wrong)} of another shape or type (e.g. {_short(wrong[0])}: {dtype} {list(shape)},"
            f" the network has {want_dtype} {list(want_shape)})"
        )
    raise ProfileError(f"{where}: the tensors do not match the '{network}' network: " + "; ".join(parts))
