"""The detail head's training: damage at 100 %, the split, the head, and the profile it writes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from trainer.detail import (
    DAMAGE,
    damage,
    disk_kernel,
    held_out_stems,
    line_kernel,
    pair_accuracy,
    sensor_noise,
    train_detail,
    train_head,
)


def _texture(h=160, w=160, seed=0):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 4, w // 4, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.NEAREST))


def _sharpness(img):
    g = img.astype(np.float64).mean(-1)
    return float(np.abs(np.diff(g, axis=1)).mean())


def test_kernels_are_normalised_and_shaped():
    d = disk_kernel(2.5)
    assert d.sum() == pytest.approx(1.0) and d.shape == (9, 9) and d[4, 4] == d.max() and d[0, 0] == 0
    assert np.count_nonzero(d.sum(1)) == 5  # pixels within 2.5 px of the centre: offsets -2..2
    k = line_kernel(5.0, 0.0)
    assert k.sum() == pytest.approx(1.0)
    rows = np.flatnonzero(k.sum(1) > 1e-9)
    cols = np.flatnonzero(k.sum(0) > 1e-9)
    assert len(rows) == 1 and 5 <= len(cols) <= 7  # a horizontal path of about 5 px


def test_every_damage_changes_the_crop_and_blur_softens_it():
    img = _texture()
    rng = np.random.default_rng(0)
    for kind in DAMAGE:
        out, _ = damage(img, kind, rng)
        assert out.shape == img.shape and out.dtype == np.uint8 and not np.array_equal(out, img), kind
        if kind in ("gaussian_blur", "defocus", "shake"):
            assert _sharpness(out) < _sharpness(img), kind
    with pytest.raises(ValueError, match="unknown damage"):
        damage(img, "fog", rng)


def test_sensor_noise_grows_with_brightness():
    rng = np.random.default_rng(0)
    dark = np.full((200, 200, 3), 20, np.uint8)
    bright = np.full((200, 200, 3), 220, np.uint8)
    assert sensor_noise(bright, 8.0, rng).std() > 1.5 * sensor_noise(dark, 8.0, rng).std()


def test_held_out_stems_is_the_split_every_trained_part_used():
    stems = [f"photo_{i:03d}" for i in range(147)]
    held = held_out_stems(stems)
    order = np.random.default_rng(0).permutation(147)
    assert held == {sorted(stems)[i] for i in order[118:]}
    assert held_out_stems(list(reversed(stems))) == held  # the order the files are listed in does not matter


def test_the_head_learns_to_rank_copies_of_one_crop():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(60), 4)
    quality = np.tile([1.0, 0.7, 0.4, 0.1], 60)
    content = np.repeat(rng.normal(0, 1, (60, 6)), 4, axis=0)  # what the crop shows: the same within a group
    feats = np.concatenate([content, quality[:, None] * 2 + rng.normal(0, 0.05, (240, 1))], axis=1)
    val = groups >= 50
    result = train_head(feats, quality, groups, hidden=8, steps=300, val=val)
    assert result.val_pair_accuracy > 0.95
    shuffled = train_head(feats, rng.permutation(quality), groups, hidden=8, steps=300, val=val)
    assert shuffled.val_pair_accuracy < 0.8  # labels that mean nothing cannot be learnt: the check can fail
    assert pair_accuracy(-quality, quality, groups) == 0.0


def test_train_detail_writes_a_profile_whose_detail_head_scores_and_keeps_the_rest(tmp_path):
    from model import create_model
    from model.profiles import load_model, read_profile, save_model
    from model.scorer import TorchScorer

    torch.manual_seed(0)
    base_model = create_model("loda_tiny").eval()
    base = save_model(base_model, tmp_path / "base.safetensors", name="tiny-base", kind="full")
    pool = tmp_path / "pool"
    pool.mkdir()
    for i in range(10):  # 10 photos: 8 train, 2 held out; all large enough for detail crops
        Image.fromarray(_texture(600, 800, seed=i)).save(pool / f"p{i}.png")
    out = tmp_path / "with-head.safetensors"
    report = train_detail(pool, base, out, hidden=8, steps=50, chosen=2, random=0, progress=lambda _: None)
    assert report["photos"] == 8 and report["crops"] == 8 * 2 * 2 * (1 + len(DAMAGE))  # each place native and enlarged
    profile = read_profile(out)
    assert profile.config.detail_hidden == 8 and profile.metadata["detail_head"]["photos"] == 8
    model = load_model(profile)
    assert model.detail_head is not None
    photo = pool / "p0.png"
    a = TorchScorer(base_model, device="cpu", crops=3, detail_crops=2).score_one(photo)
    b = TorchScorer(model, device="cpu", crops=3, detail_crops=2).score_one(photo)
    assert a.global_score == pytest.approx(b.global_score, abs=1e-5)  # the frozen network is untouched
    assert b.detail != pytest.approx(a.detail, abs=1e-6)
