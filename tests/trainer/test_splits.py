"""The 80/20 split protocol: plain, grouped, explicit; determinism under a seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.datasets import Sample
from trainer.splits import repeat_seeds, train_test_split


def make(n: int, groups: list[str | None] | None = None, splits: list[str | None] | None = None) -> list[Sample]:
    return [
        Sample(
            path=Path(f"img{i}.jpg"),
            score=i / max(n - 1, 1),
            group=groups[i] if groups else None,
            split=splits[i] if splits else None,
        )
        for i in range(n)
    ]


def test_plain_split_is_80_20_disjoint_and_complete():
    train, test = train_test_split(make(100))
    assert (len(train), len(test)) == (80, 20)
    assert sorted(train + test) == list(range(100))
    assert train == sorted(train) and test == sorted(test)


def test_fraction_is_rounded_and_both_sides_are_never_empty():
    assert tuple(map(len, train_test_split(make(7)))) == (6, 1)  # round(5.6)
    assert tuple(map(len, train_test_split(make(2)))) == (1, 1)
    assert tuple(map(len, train_test_split(make(10), train_fraction=0.99))) == (9, 1)
    assert tuple(map(len, train_test_split(make(10), train_fraction=0.01))) == (1, 9)


def test_deterministic_under_a_seed_and_different_between_seeds():
    samples = make(50)
    assert train_test_split(samples, seed=3) == train_test_split(samples, seed=3)
    splits = {tuple(train_test_split(samples, seed=s)[1]) for s in repeat_seeds(10)}
    assert len(splits) == 10


def test_grouped_split_keeps_each_group_on_one_side():
    groups = [f"ref{i // 5}" for i in range(50)]  # 10 references, 5 distorted images each
    samples = make(50, groups=groups)
    for seed in range(5):
        train, test = train_test_split(samples, seed=seed)  # grouped automatically
        train_groups = {groups[i] for i in train}
        test_groups = {groups[i] for i in test}
        assert not train_groups & test_groups
        assert (len(train_groups), len(test_groups)) == (8, 2)  # the fraction is measured in groups
        assert sorted(train + test) == list(range(50))


def test_grouped_fraction_is_in_groups_not_images():
    groups = ["big"] * 10 + [f"small{i}" for i in range(4)]  # 5 groups, 14 images
    train, test = train_test_split(make(14, groups=groups), seed=0)
    assert len({groups[i] for i in train}) == 4
    assert len({groups[i] for i in test}) == 1


def test_grouped_false_ignores_groups_and_grouped_true_makes_singletons():
    groups = [f"ref{i // 5}" for i in range(50)]
    samples = make(50, groups=groups)
    train, test = train_test_split(samples, seed=1, grouped=False)
    assert (len(train), len(test)) == (40, 10)
    assert {groups[i] for i in train} & {groups[i] for i in test}  # with 10 groups, overlap is certain
    plain = make(20)
    assert train_test_split(plain, seed=4, grouped=True) == train_test_split(plain, seed=4, grouped=False)


def test_samples_without_a_group_are_their_own_group():
    groups = ["a", "a", "a", None, None]  # units: {a}, {3}, {4}
    train, test = train_test_split(make(5, groups=groups), seed=0)
    assert len(train) + len(test) == 5
    assert {0, 1, 2} <= set(train) or {0, 1, 2} <= set(test)


def test_explicit_splits_are_honoured():
    splits = ["train", "test", "train", "train", "test"]
    assert train_test_split(make(5, splits=splits), seed=123) == ([0, 2, 3], [1, 4])


def test_explicit_split_errors():
    with pytest.raises(ValueError, match=r"1 of 3 samples have no split"):
        train_test_split(make(3, splits=["train", "test", None]))
    with pytest.raises(ValueError, match=r"no 'test' samples"):
        train_test_split(make(3, splits=["train"] * 3))
    with pytest.raises(ValueError, match=r"'train' or 'test'"):
        train_test_split(make(2, splits=["train", "val"]))


def test_too_few_samples_or_groups_and_bad_fraction():
    with pytest.raises(ValueError, match=r"at least 2 samples"):
        train_test_split(make(1))
    with pytest.raises(ValueError, match=r"at least 2 samples"):
        train_test_split([])
    with pytest.raises(ValueError, match=r"at least 2 groups"):
        train_test_split(make(4, groups=["g"] * 4))
    with pytest.raises(ValueError, match=r"train_fraction"):
        train_test_split(make(4), train_fraction=1.0)


def test_repeat_seeds():
    assert repeat_seeds(10) == list(range(10))
    assert repeat_seeds(3, base_seed=100) == [100, 101, 102]
    with pytest.raises(ValueError):
        repeat_seeds(0)
