"""Detail crops at the camera's resolution: where they go, how they are scored, and that every backend agrees."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from model import create_model
from model.preprocess import DETAIL_MIN_SCALE, detail_boxes, prepare_multiscale, wants_detail
from model.scorer import TorchScorer

from .conftest import make_photo


def _subject_photo(path, size=(1200, 800), at=(900, 200)):
    """A flat grey photo with one patch of fine texture (the "subject") at ``at``."""
    rng = np.random.default_rng(3)
    arr = np.full((size[1], size[0], 3), 120, np.uint8)
    x, y = at
    arr[y : y + 200, x : x + 200] = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


def test_small_photos_get_no_detail_crops_and_keep_their_global_score(tmp_path, tiny_model):
    small = make_photo(tmp_path / "small.jpg", size=(500, 400))
    assert not wants_detail((500, 400), 384, 224)
    assert wants_detail((int(384 * DETAIL_MIN_SCALE), 900), 384, 224)
    prepared = prepare_multiscale(small, short_side=384, size=224, k=3, detail=4)
    assert prepared.n_global == 3 and len(prepared.crops) == 3 and prepared.boxes == ()
    result = TorchScorer(tiny_model, device="cpu", crops=3, detail_crops=4).score_one(small)
    assert result.detail is None and result.regions == ()
    assert result.score == result.global_score
    assert (result.width, result.height) == (500, 400)


def test_detail_boxes_go_where_the_content_is_on_a_grid_shared_by_frames_of_one_size(tmp_path):
    img = Image.open(_subject_photo(tmp_path / "s.png")).convert("RGB")
    boxes = detail_boxes(img, 3, 224)
    assert len(boxes) == 3
    x, y, s = boxes[0]
    assert s == 224 and x <= 900 + 200 and x + s >= 900 and y <= 400  # the first box overlaps the texture
    for bx, by, bs in boxes:
        assert bx >= 0 and bx + bs <= 1200 and by >= 0 and by + bs <= 800
    # the grid is centred: 1200 = 5 tiles of 224 + 80 px, so every x is 40 + a multiple of 224
    assert all((bx - 40) % 224 == 0 and (by - (800 - 3 * 224) // 2) % 224 == 0 for bx, by, _ in boxes)
    # grain that is invisible at the guide's scale does not move the boxes (a spoiled frame of a burst)
    noisy = np.asarray(img).astype(np.int16) + np.random.default_rng(0).normal(0, 6, (800, 1200, 3)).astype(np.int16)
    assert detail_boxes(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)), 3, 224)[:1] == boxes[:1]


def test_combined_score_is_the_mean_of_global_and_detail_and_regions_match_score_regions(tmp_path, tiny_model):
    path = _subject_photo(tmp_path / "s.png")
    scorer = TorchScorer(tiny_model, device="cpu", crops=3, detail_crops=2, calibration=(2.0, 1.0))
    result = scorer.score_one(path)
    assert len(result.regions) == 2 and result.detail is not None
    assert result.detail == pytest.approx(np.mean([r.score for r in result.regions]))
    assert result.score == pytest.approx(0.5 * result.global_score + 0.5 * result.detail)
    again = scorer.score_regions(path, [(r.x, r.y, r.size) for r in result.regions])
    assert again == pytest.approx([r.score for r in result.regions], abs=1e-5)
    # without a detail head the detail crops are scored by the main head: raw outputs through the calibration
    crops = np.stack(
        [np.asarray(Image.open(path).convert("RGB"))[r.y : r.y + 224, r.x : r.x + 224] for r in result.regions]
    )
    with torch.no_grad():
        raw = tiny_model(torch.from_numpy(crops.transpose(0, 3, 1, 2).copy()).float() / 255).numpy()
    assert [r.score for r in result.regions] == pytest.approx(list(2.0 * raw + 1.0), abs=1e-4)
    emb = np.frombuffer(result.embedding, "<f2")
    assert emb.size > 8 and np.linalg.norm(emb.astype(np.float64)) == pytest.approx(1.0, abs=1e-2)


def test_a_region_outside_the_photo_is_a_clear_error(tmp_path, tiny_model):
    from model.preprocess import ImageDecodeError

    path = _subject_photo(tmp_path / "s.png")
    with pytest.raises(ImageDecodeError, match="outside the 1200x800 photo"):
        TorchScorer(tiny_model, device="cpu", crops=1).score_regions(path, [(1100, 0, 224)])


def test_the_detail_head_scores_detail_crops_and_leaves_the_global_score_alone(tmp_path):
    torch.manual_seed(0)
    plain = create_model("loda_tiny").eval()
    torch.manual_seed(0)
    headed = create_model("loda_tiny", detail_hidden=8).eval()
    headed.load_state_dict({**plain.state_dict(), **{k: v for k, v in headed.state_dict().items() if "detail" in k}})
    path = _subject_photo(tmp_path / "s.png")
    a = TorchScorer(plain, device="cpu", crops=3, detail_crops=2).score_one(path)
    b = TorchScorer(headed, device="cpu", crops=3, detail_crops=2).score_one(path)
    assert a.global_score == pytest.approx(b.global_score, abs=1e-6)
    assert [(r.x, r.y) for r in a.regions] == [(r.x, r.y) for r in b.regions]  # same positions
    assert a.detail != pytest.approx(b.detail, abs=1e-4)  # another head
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        score, detail, emb = headed.forward_all(x)
        assert torch.allclose(score, headed(x)) and detail.shape == (2,) and emb.shape[0] == 2


def test_onnx_export_gives_the_torch_detail_scores_and_embeddings(tmp_path):
    pytest.importorskip("onnxruntime")
    from model.onnx_export import export_onnx
    from model.onnx_scorer import OnnxScorer

    torch.manual_seed(1)
    model = create_model("loda_tiny", detail_hidden=8).eval()
    path = export_onnx(model, None, tmp_path / "m.onnx")
    photo = _subject_photo(tmp_path / "s.png")
    t = TorchScorer(model, device="cpu", crops=3, detail_crops=2).score_one(photo)
    o = OnnxScorer(path, crops=3, detail_crops=2).score_one(photo)
    assert o.global_score == pytest.approx(t.global_score, abs=1e-4)
    assert o.detail == pytest.approx(t.detail, abs=1e-4)
    assert [r.score for r in o.regions] == pytest.approx([r.score for r in t.regions], abs=1e-4)
    a, b = (np.frombuffer(r.embedding, "<f2").astype(np.float64) for r in (o, t))
    assert float(a @ b) > 0.999
