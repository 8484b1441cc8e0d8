import numpy as np
import pytest

from model.scorer import ImageScore, TorchScorer

from .conftest import make_photo


@pytest.fixture
def photos(tmp_path):
    return [make_photo(tmp_path / f"p{i}.jpg", size=(500 + 40 * i, 380), seed=i) for i in range(5)]


def test_one_score_per_image_in_order_with_errors(tmp_path, tiny_model, photos):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    sources = [photos[0], bad, photos[1], tmp_path / "gone.png", photos[2]]
    results = TorchScorer(tiny_model, device="cpu", crops=5, batch_size=7).score(sources)
    assert [r.source for r in results] == [str(s) for s in sources]
    assert [r.ok for r in results] == [True, False, True, False, True]
    assert "not an image" in results[1].error and "no longer exists" in results[3].error
    for r in (results[0], results[2], results[4]):
        assert np.isfinite(r.score) and r.spread >= 0


def test_batching_across_images_does_not_change_scores(tiny_model, photos):
    one = TorchScorer(tiny_model, device="cpu", crops=4, batch_size=1).score(photos)
    big = TorchScorer(tiny_model, device="cpu", crops=4, batch_size=64).score(photos)
    odd = TorchScorer(tiny_model, device="cpu", crops=4, batch_size=3).score(photos)
    for a, b, c in zip(one, big, odd, strict=True):
        assert a.score == pytest.approx(b.score, abs=1e-5) == pytest.approx(c.score, abs=1e-5)
        assert a.spread == pytest.approx(b.spread, abs=1e-5)


def test_score_is_the_mean_of_calibrated_crop_outputs(tiny_model, photos):
    import torch

    scorer = TorchScorer(tiny_model, device="cpu", crops=3, calibration=(10.0, 5.0))
    crops = scorer.prepare(photos[0]).crops
    with torch.no_grad():
        raw = tiny_model(torch.from_numpy(crops).float() / 255).numpy().astype(np.float64)
    result = scorer.score_one(photos[0])
    assert result.score == pytest.approx(10 * raw.mean() + 5, abs=1e-4)
    assert result.spread == pytest.approx(10 * raw.std(), abs=1e-4)


def test_arrays_and_stopping_early(tiny_model):
    rng = np.random.default_rng(0)
    arrays = [rng.random((300, 400, 3)).astype(np.float32) for _ in range(6)]
    scorer = TorchScorer(tiny_model, device="cpu", crops=2, batch_size=4)
    it = scorer.iter_scores(arrays)
    first = [next(it) for _ in range(2)]
    it.close()  # cancelling must not hang or raise
    assert [i for i, _ in first] == [0, 1] and first[0][1].source == "<image 0>"


def test_bad_settings_are_refused(tiny_model):
    with pytest.raises(ValueError):
        TorchScorer(tiny_model, device="cpu", crops=0)
    with pytest.raises(ValueError, match="CUDA"):
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
        TorchScorer(tiny_model, device="cuda")


def test_image_score_ok_flag():
    assert ImageScore("a", 1.0, 0.0).ok and not ImageScore("a", error="x").ok


def test_a_gpu_gets_more_decoding_threads_than_the_cpu(monkeypatch):
    from model import scorer as scorer_mod

    assert scorer_mod.default_decode_workers("cpu") == 2
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert scorer_mod.default_decode_workers("cuda") == scorer_mod.GPU_DECODE_WORKERS
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    assert scorer_mod.default_decode_workers("cuda") == 4
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert scorer_mod.default_decode_workers("cuda") == 2


def test_the_torch_scorer_takes_its_decoding_threads_from_the_device(tiny_model):
    assert TorchScorer(tiny_model, device="cpu").decode_workers == 2
    assert TorchScorer(tiny_model, device="cpu", decode_workers=5).decode_workers == 5


def test_a_failure_without_a_message_still_has_a_reason(tiny_model, photos, monkeypatch):
    scorer = TorchScorer(tiny_model, device="cpu", crops=2)

    def out_of_memory(source):
        raise MemoryError  # numpy and Pillow raise it bare

    monkeypatch.setattr(scorer, "prepare", out_of_memory)
    (result,) = scorer.score(photos[:1])
    assert result.error == "cannot prepare the image: MemoryError"
