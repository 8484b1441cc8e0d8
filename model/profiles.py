"""Model profiles: one safetensors file of tensors plus JSON metadata. Loading never unpickles.

Two kinds:

- ``adapter``: the trainable tensors (extractors, injectors with s_i, head) and the CNN's BatchNorm buffers; the
  frozen backbones come from their pretrained weights (see :mod:`model.backbones`).
- ``full``: self-contained, the backbones' tensors are inside too.

The metadata (stored as JSON under the safetensors header key ``loda``) holds: ``format`` and
``format_version``, ``name``, ``kind``, ``config`` (the full :class:`~model.configs.LodaConfig`), ``backbones``
(timm identifiers and whether their weights are inside), ``trained_on``, ``metrics``, ``score`` (direction,
range and the linear calibration from raw network output to the reported score), ``preprocessing``,
``created`` and ``parent`` (the base profile of a fine-tune).

Reading metadata and tensors needs numpy only (the ONNX path has no torch); building a network needs torch.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .configs import ConfigError, LodaConfig, get_config, list_configs
from .profile_checks import ProfileError, check_metadata, check_tensor_plan, loads_bounded, read_header

if TYPE_CHECKING:
    import torch

    from .loda import LoDa

FORMAT = "loda-profile"
FORMAT_VERSION = 1
KINDS = ("adapter", "full")
SUFFIX = ".safetensors"


@dataclass
class Profile:
    """A profile's metadata, and the file it came from (None for a bare config with an untrained adapter)."""

    metadata: dict[str, Any]
    path: Path | None = None
    config: LodaConfig = field(init=False)

    def __post_init__(self) -> None:
        where = self.path or (self.metadata.get("name") if isinstance(self.metadata, dict) else None) or "profile"
        check_metadata(self.metadata, where)  # a file is untrusted input: types and bounds first
        try:
            self.config = LodaConfig.from_dict(self.metadata["config"])
        except (KeyError, TypeError, ConfigError) as exc:
            raise ProfileError(f"{where}: the metadata has no usable 'config' ({exc})") from None

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or self.config.name)

    @property
    def kind(self) -> str:
        return str(self.metadata.get("kind", "adapter"))

    @property
    def trained(self) -> bool:
        return bool(self.metadata.get("trained_on"))

    @property
    def calibration(self) -> tuple[float, float]:
        cal = (self.metadata.get("score") or {}).get("calibration") or {}  # checked by check_metadata
        return float(cal.get("scale", 1.0)), float(cal.get("offset", 0.0))

    @property
    def key(self) -> str:
        """Identifies the scores this profile produces (catalog key): name plus creation stamp."""
        return f"{self.name}@{self.metadata.get('created') or 'untrained'}"


def config_profile(config: LodaConfig | str) -> Profile:
    """The profile of a bare config: untrained adapter, backbones pretrained as the config says."""
    cfg = get_config(config) if isinstance(config, str) else config
    return Profile(build_metadata(cfg, name=cfg.name, kind="adapter", created=None))


def build_metadata(
    config: LodaConfig,
    *,
    name: str,
    kind: str = "adapter",
    trained_on: Any = None,
    metrics: Mapping[str, Any] | None = None,
    calibration: tuple[float, float] = (1.0, 0.0),
    score_range: tuple[float, float] | None = None,
    parent: str | None = None,
    notes: str = "",
    created: str | None = "now",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    if kind not in KINDS:
        raise ProfileError(f"unknown profile kind {kind!r}; expected one of {KINDS}")
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "kind": kind,
        "config": config.to_dict(),
        "backbones": {"vit": config.vit, "cnn": config.cnn, "included": kind == "full"},
        "trained_on": trained_on,
        "metrics": dict(metrics or {}),
        "score": {
            "direction": "higher_better",
            "range": list(score_range) if score_range else None,
            "calibration": {"scale": float(calibration[0]), "offset": float(calibration[1])},
        },
        "preprocessing": {
            "short_side": config.short_side,
            "crop": config.img_size,
            "test_crops": config.test_crops,
            "input": "RGB in [0, 1], NCHW; per-branch mean/std applied inside the network",
            "vit_mean": list(config.vit_mean),
            "vit_std": list(config.vit_std),
            "cnn_mean": list(config.cnn_mean),
            "cnn_std": list(config.cnn_std),
        },
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z") if created == "now" else created,
        "parent": parent,
        "notes": notes,
    }
    if extra:
        meta.update(extra)
    return meta


def save_profile(path: Path | str, tensors: Mapping[str, Any], metadata: Mapping[str, Any]) -> Path:
    """Write tensors (torch or numpy) and metadata atomically: a crash never leaves half a profile behind."""
    from safetensors.numpy import save_file

    path = Path(path)
    meta = dict(metadata)
    if meta.get("format") != FORMAT:
        raise ProfileError("metadata must come from build_metadata() (format field missing)")
    Profile(meta)  # validates the config
    arrays = {k: _to_numpy(v) for k, v in tensors.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(arrays, tmp, metadata={"format": FORMAT, "loda": json.dumps(meta, sort_keys=True)})
        os.chmod(tmp, 0o644)  # the temp file is 0600; a profile is an ordinary, shareable file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _to_numpy(value: Any) -> np.ndarray:
    # np.array(order="C") keeps a 0-d tensor 0-d (BatchNorm's num_batches_tracked); ascontiguousarray makes it 1-d
    if isinstance(value, np.ndarray):
        return value if value.flags.c_contiguous else np.array(value, order="C")
    import torch

    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        if t.dtype == torch.bfloat16:
            t = t.float()
        return t.numpy()
    return np.array(value, order="C")


def _open(path: Path):
    from safetensors import safe_open

    if not path.exists():
        raise ProfileError(f"{path}: no such model profile")
    if path.is_dir():
        raise ProfileError(f"{path}: is a folder, not a model profile")
    try:
        return safe_open(str(path), framework="numpy")
    except Exception as exc:  # safetensors raises its own SafetensorError / OSError types
        raise ProfileError(
            f"{path}: not a readable model profile (damaged, truncated or another file type): {exc}"
        ) from None


def read_profile(path: Path | str) -> Profile:
    """The profile's metadata, validated (:mod:`model.profile_checks`: the header and every tensor's declared
    dtype and byte range too); tensors are not read."""
    path = Path(path)
    _check_file(path)
    _, header = read_header(path)
    if header.get("format") != FORMAT or "loda" not in header:
        raise ProfileError(f"{path}: a safetensors file, but not a LoDa model profile")
    return profile_from_metadata(loads_bounded(header["loda"], path), path)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise ProfileError(f"{path}: no such model profile")
    if path.is_dir():
        raise ProfileError(f"{path}: is a folder, not a model profile")
    if not path.is_file():
        raise ProfileError(f"{path}: not a regular file, not a model profile")


def profile_from_metadata(meta: Any, path: Path) -> Profile:
    """A :class:`Profile` from metadata read out of ``path`` (safetensors or ONNX), its format and version checked."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ProfileError(f"{path}: the metadata is not a LoDa model profile")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        raise ProfileError(
            f"{path}: profile format version {version!r} is newer than this app understands"
            f" ({FORMAT_VERSION}); update LoDa Desktop"
        )
    return Profile(meta, path)


def read_tensors(
    path: Path | str,
    expected: Mapping[str, tuple[tuple[int, ...], str]] | None = None,
    *,
    network: str = "",
    require_all: bool = False,
) -> dict[str, np.ndarray]:
    """The tensors of a profile file. The header is checked first (:func:`~model.profile_checks.read_header`);
    with ``expected`` (name -> (shape, dtype) of the network ``network``), a tensor the network does not have, or
    of another shape or dtype, or (``require_all``) a missing one, is refused before anything is read. Tensors
    with NaN or infinite values are refused."""
    path = Path(path)
    _check_file(path)
    entries, _ = read_header(path)
    if expected is not None:
        check_tensor_plan(entries, expected, path, network or "this", require_all=require_all)
    with _open(path) as f:
        try:
            tensors = {k: f.get_tensor(k) for k in entries}
        except Exception as exc:
            raise ProfileError(f"{path}: the tensors are damaged or truncated ({exc})") from None
    for name, array in tensors.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ProfileError(f"{path}: tensor {name!r} holds NaN or infinite values; the profile is damaged")
    return tensors


def find_profiles(dirs: Iterable[Path]) -> list[Profile]:
    """Every readable profile in ``dirs`` (not recursive); unreadable files are skipped (:func:`find_broken`
    lists them)."""
    return [p for p in _scan(dirs) if isinstance(p, Profile)]


def find_broken(dirs: Iterable[Path]) -> list[tuple[Path, str]]:
    """The ``.safetensors`` files in ``dirs`` that are not usable profiles, with the reason: listed as broken by
    ``loda models``, ``loda profiles list`` and Settings, and deletable, never fatal to anything else."""
    return [p for p in _scan(dirs) if not isinstance(p, Profile)]


def _scan(dirs: Iterable[Path]) -> list[Profile | tuple[Path, str]]:
    found: list[Profile | tuple[Path, str]] = []
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            continue
        for p in sorted(d.glob(f"*{SUFFIX}")):
            if p.name.startswith("."):  # a temporary file of an atomic write
                continue
            try:
                found.append(read_profile(p))
            except ProfileError as exc:
                found.append((p, str(exc).removeprefix(f"{p}: ")))
    return found


def tensor_digest(path: Path | str) -> str:
    """SHA-256 of a profile file's tensor bytes, the JSON header left out: the same for a renamed or re-annotated
    copy (a rename rewrites the metadata, not the tensors), different for other weights. Cached per file state."""
    return _cached_digest(Path(path), tensors_only=True)


def file_digest(path: Path | str) -> str:
    """SHA-256 of a whole file (an ``.onnx`` model, whose weights are inside its graph). Cached per file state."""
    return _cached_digest(Path(path), tensors_only=False)


def _cached_digest(path: Path, *, tensors_only: bool) -> str:
    stat = path.stat()
    ident = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, tensors_only)
    digest = _DIGESTS.get(ident)
    if digest is None:
        import hashlib

        h = hashlib.sha256()
        with path.open("rb") as f:
            if tensors_only:  # a safetensors file: 8 bytes of header length, the JSON header, then the tensors
                header_len = int.from_bytes(f.read(8), "little")
                f.seek(8 + header_len)
            while chunk := f.read(1 << 20):
                h.update(chunk)
        digest = _DIGESTS[ident] = h.hexdigest()
    return digest


_DIGESTS: dict[tuple[str, int, int, bool], str] = {}


def find_parent(profile: Profile, dirs: Iterable[Path] = ()) -> Profile | None:
    """The profile ``profile`` was fine-tuned from, among the profiles in ``dirs`` and the file recorded when it
    was trained: by the tensor digest recorded in the child (survives renames and moves), else by key
    (``name@created``), else by creation stamp and config (a parent renamed before digests were recorded)."""
    parent_key = profile.metadata.get("parent")
    if not parent_key:
        return None
    candidates = [p for p in find_profiles(dirs) if p.path != profile.path]
    trained_on = profile.metadata.get("trained_on")
    base_path = trained_on.get("base_path") if isinstance(trained_on, dict) else None
    base_path = base_path if isinstance(base_path, str) and base_path.endswith(SUFFIX) else None  # a profile only
    if base_path and Path(base_path).is_file() and all(p.path != Path(base_path) for p in candidates):
        with contextlib.suppress(ProfileError):
            candidates.append(read_profile(base_path))
    digest = profile.metadata.get("parent_digest")
    if digest:  # hash the namesakes first: the parent is usually still where and what it was
        candidates.sort(key=lambda p: p.key != parent_key)
        for p in candidates:
            if p.path is not None and tensor_digest(p.path) == digest:
                return p
        return None  # the exact weights are gone: a namesake with other tensors is not this child's parent
    for p in candidates:
        if p.key == parent_key:
            return p
    created = parent_key.split("@", 1)[1] if "@" in parent_key else None
    if created and created != "untrained":
        for p in candidates:
            if p.metadata.get("created") == created and p.config.name == profile.config.name:
                return p
    return None


def backbone_parent(profile: Profile, dirs: Iterable[Path] = ()) -> Profile | None:
    """The full profile whose backbones an adapter ``profile`` was trained on, when its parent is one.

    Fine-tunes written before children of full parents were saved full (see :func:`child_kind`) hold only the
    adapter; their frozen backbones are the parent's, which may exist nowhere else (the default model's ViT is
    made by this project). Raises :class:`ProfileError` naming the parent when the child needs it and it is gone.
    """
    if profile.kind == "full" or profile.path is None or not profile.metadata.get("parent"):
        return None
    dirs = list(dirs)
    parent = find_parent(profile, dirs)
    if parent is not None:
        return parent if parent.kind == "full" and parent.config.name == profile.config.name else None
    if profile.config.vit_hub:  # backbones a hub can supply: the ordinary pretrained path still works
        return None
    from .backbones import backbone_weight_files

    if None not in backbone_weight_files(profile.config, dirs):  # the project's own backbone files are here
        return None
    trained_on = profile.metadata.get("trained_on")
    base_name = trained_on.get("base_name") if isinstance(trained_on, dict) else None
    parent_name, _, created = str(profile.metadata["parent"]).partition("@")
    name = base_name or parent_name
    raise ProfileError(
        f"'{profile.name}' was fine-tuned from '{name}' (the version made {created or 'earlier'}) and needs that"
        f" profile's backbones, but it is not in {', '.join(str(d) for d in dirs) or 'the models folders'}."
        f" Put {name}.safetensors back into the models folder, or choose another model (Settings ▸ Model)."
    )


def child_kind(base: Profile, dirs: Iterable[Path] = ()) -> str:
    """The kind of profile a fine-tune of ``base`` is saved as.

    ``full`` when the base carries its backbones (a full profile such as the bundled default, or an old adapter
    child of one): the child then loads on its own, survives an app update that replaces the bundled default, and
    can be copied to another machine. It costs the parent's size again (25 MB for the default model). An adapter
    base's backbones come from pretrained weight files, so its child stays an adapter (36 MB instead of 430 MB
    for ViT-B/R-50)."""
    if base.kind == "full" or not base.config.pretrained:
        return "full"
    return "full" if backbone_parent(base, dirs) is not None else "adapter"


def resolve_profile(spec: str | Path, dirs: Iterable[Path] = ()) -> Profile:
    """``spec`` is a profile file, a profile name found in ``dirs``, or a config name (untrained adapter)."""
    dirs = list(dirs)
    candidate = Path(spec)
    if candidate.suffix == SUFFIX or candidate.exists():
        return read_profile(candidate)
    for d in dirs:
        p = Path(d) / f"{spec}{SUFFIX}"
        if p.is_file():
            return read_profile(p)
    for profile in find_profiles(dirs):
        if profile.name == spec:
            return profile
    if str(spec) in list_configs():
        return config_profile(str(spec))
    known = sorted({p.name for p in find_profiles(dirs)} | set(list_configs()))
    raise ProfileError(f"unknown model {str(spec)!r}; known: {', '.join(known)}")


# --- torch side ---------------------------------------------------------------------------------------------


def save_model(
    model: LoDa,
    path: Path | str,
    *,
    name: str,
    kind: str | None = None,
    **metadata: Any,
) -> Path:
    """Save a network as a profile; ``metadata`` goes to :func:`build_metadata`.

    ``kind`` defaults to ``adapter`` when the config's backbones are pretrained (they can be rebuilt from their
    weights) and to ``full`` otherwise: random backbones exist nowhere else, so they must travel in the file.
    """
    if kind is None:
        kind = "adapter" if model.config.pretrained else "full"
    if kind == "adapter" and not model.config.pretrained:
        raise ProfileError(f"'{model.config.name}' has random (not pretrained) backbones: save it as a full profile")
    tensors = model.state_dict() if kind == "full" else model.adapter_state_dict()
    meta = build_metadata(model.config, name=name, kind=kind, **metadata)
    return save_profile(path, tensors, meta)


def load_model(
    profile: Profile | Path | str,
    *,
    vit_weights: Path | None = None,
    cnn_weights: Path | None = None,
    search_dirs: Iterable[Path] = (),
    device: torch.device | str = "cpu",
) -> LoDa:
    """Build the network a profile describes and load its tensors, checking every name and shape."""
    import torch

    from .loda import LoDa

    if not isinstance(profile, Profile):
        profile = read_profile(profile)
    search_dirs = list(search_dirs)
    parent = backbone_parent(profile, search_dirs)
    full = profile.kind == "full" or parent is not None
    check_before_building(profile, full)
    # A bare config (no file) has random adapter weights: seed them so every process builds the same network,
    # and the window, `loda score` and the tests agree on its (meaningless) scores.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = LoDa(
            profile.config,
            pretrained=False if full else None,
            vit_weights=vit_weights,
            cnn_weights=cnn_weights,
            search_dirs=search_dirs,
        )
    model.config = profile.config  # a full profile's backbones came from the file, not from "pretrained=False"
    if parent is not None:
        load_tensors(model, parent)  # the backbones (and a starting adapter) the child was trained on
    if profile.path is not None:
        load_tensors(model, profile)
    return model.to(device).eval()


def load_tensors(model: LoDa, profile: Profile) -> None:
    """Load a profile file's tensors into a built network of its kind, checking every name, shape and dtype
    before reading (:func:`read_tensors`): a full profile holds the whole state, an adapter profile the trained
    tensors and the CNN's BatchNorm statistics."""
    import torch

    full = profile.kind == "full"
    expected = tensor_plan(model.state_dict() if full else model.adapter_state_dict())
    tensors = read_tensors(
        profile.path,  # type: ignore[arg-type]
        expected,
        network=profile.config.name,
        require_all=True,
    )
    state = {k: torch.from_numpy(np.array(v)) for k, v in tensors.items()}
    model.load_state_dict(state, strict=full)


_SAFETENSORS_DTYPES = {"float32": "F32", "int64": "I64"}


def tensor_plan(state: Mapping[str, Any]) -> dict[str, tuple[tuple[int, ...], str]]:
    """name -> (shape, safetensors dtype) of a state dict (torch tensors, possibly on the meta device)."""
    return {
        k: (tuple(v.shape), _SAFETENSORS_DTYPES.get(str(v.dtype).removeprefix("torch."), str(v.dtype)))
        for k, v in state.items()
    }


def check_before_building(profile: Profile, full: bool) -> None:
    """Refuse a profile before any real memory is spent on its network: its backbone names must be models timm
    knows (no hub paths, no files), and its file's tensors must be the network's, compared with the network built
    on the meta device (shapes only, nothing allocated)."""
    import torch

    from .backbones import pretrained_normalisation
    from .loda import LoDa

    for role, name in (("ViT", profile.config.vit), ("CNN", profile.config.cnn)):
        try:
            pretrained_normalisation(name)
        except ValueError as exc:
            raise ProfileError(f"{profile.path or profile.name}: unknown {role} backbone: {exc}") from None
    if profile.path is None:
        return
    with torch.device("meta"):
        shape_only = LoDa(profile.config, pretrained=False)
    expected = tensor_plan(
        shape_only.state_dict() if full and profile.kind == "full" else shape_only.adapter_state_dict()
    )
    entries, _ = read_header(profile.path)
    check_tensor_plan(entries, expected, profile.path, profile.config.name, require_all=True)
