"""The paper's evaluation protocol: random 80/20 train/test splits, repeated under different seeds.

Three modes, chosen from the samples (see :func:`train_test_split`):

- explicit: every sample carries ``split`` ("train"/"test", e.g. from a CSV column): those are honoured.
- grouped: samples carry ``group`` (the reference image of a synthetic dataset, or a CSV ``group``
  column): whole groups go to one side, so no content is seen in training and scored in testing. The
  fraction is then measured in groups (80 % of the reference images, hence about, not exactly, 80 % of the
  images). A sample without a group forms a group of its own.
- plain: each sample is a unit.

A split file (:func:`read_split_file`, ``--splits``) replaces all three with fixed lists per repeat: this project's
JSON, or the authors' own pickle with their meta-info CSV (:func:`read_authors_split`, ``--split-meta``).

Splits are deterministic under a seed (``numpy.random.default_rng(seed)``) and differ between seeds.
This module imports neither torch nor Qt.
"""

from __future__ import annotations

import csv
import io
import json
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from trainer.datasets import Sample

__all__ = ["read_authors_split", "read_split_file", "repeat_seeds", "train_test_split"]

MAX_SPLIT_BYTES = 64 * 2**20  # a split file lists image names or row numbers: far below this


def train_test_split(
    samples: Sequence[Sample],
    train_fraction: float = 0.8,
    seed: int = 0,
    grouped: bool | None = None,
) -> tuple[list[int], list[int]]:
    """Split ``samples`` into (train indices, test indices), both sorted ascending.

    - When every sample has an explicit ``split``, that assignment is returned as is (``train_fraction``,
      ``seed`` and ``grouped`` are then unused). A mix of assigned and unassigned samples is a ValueError.
    - ``grouped=None`` (default) splits by group when any sample has a ``group``; ``grouped=True`` forces
      it (samples without a group become singleton groups); ``grouped=False`` ignores groups.
    - ``round(train_fraction * units)`` units (samples or groups) go to training, clamped so that both
      sides get at least one unit.

    Raises ValueError for fewer than 2 samples or units, or ``train_fraction`` outside (0, 1).
    """
    n = len(samples)
    if n < 2:
        raise ValueError(f"need at least 2 samples to split, got {n}")
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")

    assigned = [s.split for s in samples]
    if any(a is not None for a in assigned):
        return _explicit(assigned)

    if grouped is None:
        grouped = any(s.group is not None for s in samples)
    if grouped:
        # Group keys in first-appearance order, so the result does not depend on how group names sort.
        units: dict[object, list[int]] = {}
        for i, s in enumerate(samples):
            key = ("group", s.group) if s.group is not None else ("sample", i)
            units.setdefault(key, []).append(i)
        members = list(units.values())
    else:
        members = [[i] for i in range(n)]

    n_units = len(members)
    if n_units < 2:
        raise ValueError(f"need at least 2 groups to split by group, got {n_units}")
    n_train = min(max(round(train_fraction * n_units), 1), n_units - 1)
    order = np.random.default_rng(seed).permutation(n_units)
    train = sorted(i for u in order[:n_train] for i in members[u])
    test = sorted(i for u in order[n_train:] for i in members[u])
    return train, test


def _explicit(assigned: list[str | None]) -> tuple[list[int], list[int]]:
    missing = [i for i, a in enumerate(assigned) if a is None]
    if missing:
        raise ValueError(
            f"{len(missing)} of {len(assigned)} samples have no split while the others do "
            f"(first unassigned: sample {missing[0]}); assign 'train' or 'test' to all of them or to none"
        )
    unknown = sorted({a for a in assigned if a not in ("train", "test")})  # type: ignore[misc]
    if unknown:
        raise ValueError(f"split values must be 'train' or 'test', got {unknown}")
    train = [i for i, a in enumerate(assigned) if a == "train"]
    test = [i for i, a in enumerate(assigned) if a == "test"]
    if not train or not test:
        side = "train" if not train else "test"
        raise ValueError(f"the explicit split has no '{side}' samples")
    return train, test


def repeat_seeds(n_repeats: int, base_seed: int = 0) -> list[int]:
    """Seeds for ``n_repeats`` repeated splits: ``base_seed, base_seed + 1, ...`` (the paper uses 10)."""
    if n_repeats < 1:
        raise ValueError(f"n_repeats must be at least 1, got {n_repeats}")
    return [base_seed + i for i in range(n_repeats)]


class _PlainUnpickler(pickle.Unpickler):
    """Loads plain dicts, lists, tuples, numbers and strings only: every class or function a pickle names is
    refused, so no code in the file can run (the only way a pickle runs code is through such a name)."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refused: the file names {module}.{name}; a split file holds plain data only")


def read_authors_split(path: Path | str, meta: Path | str) -> list[dict[str, list[str]]]:
    """The authors' split file as repeats of image names, for :func:`read_split_file`.

    Their preprocessing scripts write, per dataset, ``{repeat: {"train": [row, ...], "val": [...], "test": [row,
    ...]}}`` (a pickle, e.g. ``live_82_seed3407.pkl``) whose rows number the data rows of their meta-info CSV
    (e.g. ``meta_info_LIVEIQADataset.csv``). The image of a row is its ``dist_name`` column where there is one
    (datasets with reference images), else its first column. Their ``val`` lists are empty and ignored.
    """
    path, meta = Path(path), Path(meta)
    try:
        if path.stat().st_size > MAX_SPLIT_BYTES:
            raise ValueError(f"larger than {MAX_SPLIT_BYTES // 2**20} MB")
        data = _PlainUnpickler(io.BytesIO(path.read_bytes())).load()
        with meta.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, ValueError, pickle.UnpicklingError, EOFError, csv.Error) as exc:
        raise ValueError(f"cannot read the authors' split {path} with {meta}: {exc}") from None
    if not rows or not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: expected {{repeat: {{'train': [rows], 'test': [rows]}}}} and a meta-info CSV")
    column = rows[0].index("dist_name") if "dist_name" in rows[0] else 0
    names = [row[column] for row in rows[1:] if len(row) > column]
    repeats = []
    for key in sorted(data, key=str):
        entry = data[key]
        sides = {}
        for side in ("train", "test"):
            indices = entry.get(side) if isinstance(entry, dict) else None
            if not isinstance(indices, list) or not all(isinstance(i, int) and 0 <= i < len(names) for i in indices):
                raise ValueError(f"{path}: repeat {key}: {side!r} must list rows of {meta} (0 to {len(names) - 1})")
            sides[side] = [names[i] for i in indices]
        repeats.append(sides)
    return repeats


def read_split_file(
    path: Path | str, samples: Sequence[Sample], meta: Path | str | None = None
) -> list[tuple[list[int], list[int]]]:
    """Fixed (train, test) index lists per repeat from a split file, so a run can use the authors' splits.

    The format (``docs/training.md`` §10) is JSON: ``{"repeats": [{"train": [NAME, ...], "test": [NAME, ...]},
    ...]}`` (a bare list of the repeat objects also works). A NAME is an image's path relative to the dataset
    folder (``jp2k/img12.bmp``) or any tail of it down to the file name, matched without regard to case; it must
    name exactly one sample. Images a repeat lists on neither side are left out of that repeat, as a published
    split may leave images out. With ``meta``, ``path`` is the authors' own split pickle and ``meta`` their
    meta-info CSV (:func:`read_authors_split`). Raises ValueError naming the repeat and the name for anything else.
    """
    path = Path(path)
    if meta is not None:
        data: Any = read_authors_split(path, meta)
    else:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the split file {path}: {exc}") from None
    repeats = data.get("repeats") if isinstance(data, dict) else data
    if not isinstance(repeats, list) or not repeats:
        raise ValueError(f'{path}: expected {{"repeats": [{{"train": [...], "test": [...]}}, ...]}}')
    index: dict[str, int | None] = {}  # a name tail → its sample, None when several samples share it
    for i, s in enumerate(samples):
        parts = [p.lower() for p in Path(s.path).parts]
        for k in range(1, min(len(parts), 4) + 1):
            key = "/".join(parts[-k:])
            index[key] = None if key in index and index[key] != i else i
    out = []
    for r, entry in enumerate(repeats, start=1):
        sides = []
        for side in ("train", "test"):
            names = entry.get(side) if isinstance(entry, dict) else None
            if not isinstance(names, list) or not names:
                raise ValueError(f"{path}: repeat {r} needs a non-empty {side!r} list of image names")
            sides.append(sorted(_lookup(index, str(n), path, r) for n in names))
        if set(sides[0]) & set(sides[1]):
            raise ValueError(f"{path}: repeat {r} lists {len(set(sides[0]) & set(sides[1]))} image(s) on both sides")
        out.append((sides[0], sides[1]))
    return out


def _lookup(index: dict[str, int | None], name: str, path: Path, repeat: int) -> int:
    key = name.replace("\\", "/").strip("/").lower()
    if key not in index:
        raise ValueError(f"{path}: repeat {repeat} names {name!r}, which is not an image of this dataset")
    found = index[key]
    if found is None:
        raise ValueError(f"{path}: repeat {repeat}: {name!r} matches several images; give more of its path")
    return found
