"""The paper's evaluation protocol: random 80/20 train/test splits, repeated under different seeds.

Three modes, chosen from the samples (see :func:`train_test_split`):

- explicit: every sample carries ``split`` ("train"/"test", e.g. from a CSV column): those are honoured.
- grouped: samples carry ``group`` (the reference image of a synthetic dataset, or a CSV ``group``
  column): whole groups go to one side, so no content is seen in training and scored in testing. The
  fraction is then measured in groups (80 % of the reference images, hence about, not exactly, 80 % of the
  images). A sample without a group forms a group of its own.
- plain: each sample is a unit.

Splits are deterministic under a seed (``numpy.random.default_rng(seed)``) and differ between seeds.
This module imports neither torch nor Qt.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from trainer.datasets import Sample

__all__ = ["repeat_seeds", "train_test_split"]


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
