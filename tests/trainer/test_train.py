"""The training library on the tiny config with small crops: outputs, determinism, resume, accumulation, DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from model.profiles import load_model, read_profile, read_tensors
from model.scorer import torch_scorer_from_profile
from trainer.datasets import Sample
from trainer.train import TrainConfig, TrainError, fit_calibration, run_protocol, train_one

FAST = {
    "model": "loda_tiny",
    "device": "cpu",  # bit-exact repeats and resumes are the CPU's promise (docs/training.md)
    "img_size": 32,
    "short_side": 40,
    "epochs": 2,
    "batch": 8,
    "train_crops": 1,
    "test_crops": 2,
    "calib_images": 8,
    "progress": False,
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


def make_set(root: Path, n_contents: int = 6, levels: int = 4) -> list[Sample]:
    """Blurred copies of textured random images, grouped by content; score = sharpness."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    samples = []
    for i in range(n_contents):
        small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
        base = Image.fromarray(small).resize((56, 40), Image.Resampling.NEAREST)
        for level in range(levels):
            path = root / f"c{i}_{level}.png"
            base.filter(ImageFilter.GaussianBlur(level)).save(path)
            samples.append(Sample(path, 1 - level / (levels - 1), group=f"c{i}"))
    return samples


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> list[Sample]:
    return make_set(tmp_path_factory.mktemp("set"))


def split(samples):
    from trainer.splits import train_test_split

    return train_test_split(samples, 0.8, seed=0)


def weights(profile_path) -> dict[str, np.ndarray]:
    return read_tensors(profile_path)


def test_protocol_writes_metrics_profiles_state_and_medians(dataset, tmp_path):
    cfg = TrainConfig(**FAST, repeats=2, eval_init=True)
    result = run_protocol(dataset, cfg, tmp_path / "out", dataset="csv")
    assert [r.repeat for r in result.results] == [1, 2] and [r.seed for r in result.results] == [0, 1]
    for k in (1, 2):
        rep = tmp_path / "out" / f"repeat_{k}"
        history = json.loads((rep / "metrics.json").read_text())
        assert [h["epoch"] for h in history] == [0, 1, 2]
        assert all(np.isfinite(history[-1][m]) for m in ("srcc", "plcc", "krcc", "rmse"))
        header = (rep / "metrics.csv").read_text().splitlines()[0].split(",")
        assert {"epoch", "step", "train_loss", "lr", "srcc", "plcc", "krcc", "rmse", "profile"} <= set(header)
        assert sorted(p.name for p in rep.glob("epoch_*.safetensors")) == ["epoch_1.safetensors", "epoch_2.safetensors"]
        assert (rep / "state.json").is_file() and (rep / "result.json").is_file()
        assert [p.name for p in rep.glob("state_e*.safetensors")] == ["state_e2.safetensors"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["median"]["n"] == 2 and summary["repeats_done"] == 2
    finals = [r.metrics["srcc"] for r in result.results]
    assert summary["median"]["srcc"] == pytest.approx(float(np.median(finals)))
    assert "SRCC" in result.table() and "test split" in result.table()

    # the last epoch's profile is an app profile: full (random backbones travel inside), with its metadata
    profile = read_profile(tmp_path / "out" / "repeat_1" / "epoch_2.safetensors")
    assert profile.kind == "full" and profile.trained
    assert profile.metadata["metrics"]["srcc"] == pytest.approx(result.results[0].metrics["srcc"])
    assert profile.metadata["trained_on"]["epoch"] == 2 and profile.metadata["trained_on"]["n_train"] == 20
    assert profile.calibration == pytest.approx(result.results[0].calibration)
    assert profile.config.img_size == 32 and profile.config.test_crops == 2
    scorer = torch_scorer_from_profile(profile, device="cpu")
    scores = [r.score for r in scorer.score([s.path for s in dataset[:4]])]
    assert all(np.isfinite(scores))


def test_same_seed_gives_identical_numbers_and_weights(dataset, tmp_path):
    train_idx, test_idx = split(dataset)
    cfg = TrainConfig(**FAST)
    a = train_one(dataset, train_idx, test_idx, cfg, tmp_path / "a")
    b = train_one(dataset, train_idx, test_idx, cfg, tmp_path / "b")
    assert a.history == [dict(h, seconds=h2["seconds"]) for h, h2 in zip(b.history, a.history, strict=True)]
    wa, wb = weights(a.profile), weights(b.profile)
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    c = train_one(dataset, train_idx, test_idx, cfg, tmp_path / "c", seed=5)
    assert any(not np.array_equal(wa[k], weights(c.profile)[k]) for k in wa)


def test_resume_after_an_interruption_ends_where_an_uninterrupted_run_does(dataset, tmp_path):
    train_idx, test_idx = split(dataset)
    cfg = TrainConfig(**FAST)
    whole = train_one(dataset, train_idx, test_idx, cfg, tmp_path / "whole")

    class Killed(Exception):
        pass

    def kill_after_first(record):
        if record["epoch"] == 1:
            raise Killed

    with pytest.raises(Killed):
        train_one(dataset, train_idx, test_idx, cfg, tmp_path / "cut", on_epoch_end=kill_after_first)
    state = json.loads((tmp_path / "cut" / "state.json").read_text())
    assert state["epoch"] == 1 and not (tmp_path / "cut" / "result.json").exists()
    assert "exp_avg" in " ".join(read_tensors(tmp_path / "cut" / state["tensors"]))
    with pytest.raises(TrainError, match="--resume"):
        train_one(dataset, train_idx, test_idx, cfg, tmp_path / "cut")
    resumed = train_one(dataset, train_idx, test_idx, cfg, tmp_path / "cut", resume=True)
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in whole.history]
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in resumed.history] == strip
    w1, w2 = weights(whole.profile), weights(resumed.profile)
    assert all(np.array_equal(w1[k], w2[k]) for k in w1)
    # a finished repeat is read back, not trained again
    again = train_one(dataset, train_idx, test_idx, cfg, tmp_path / "cut", resume=True)
    assert again.metrics == resumed.metrics
    # resuming with settings that change the result is refused
    other = TrainConfig(**{**FAST, "lr": 1e-3})
    (tmp_path / "cut" / "result.json").unlink()
    with pytest.raises(TrainError, match="lr"):
        train_one(dataset, train_idx, test_idx, other, tmp_path / "cut", resume=True)


def test_micro_batches_give_the_same_update_as_the_whole_batch(dataset, tmp_path):
    train_idx, test_idx = split(dataset)
    base = {**FAST, "epochs": 1, "bn": "frozen", "dropout": 0.0, "profiles": "last"}
    whole = train_one(dataset, train_idx, test_idx, TrainConfig(**base), tmp_path / "whole")
    parts = train_one(dataset, train_idx, test_idx, TrainConfig(**base, micro_batch=3), tmp_path / "parts")
    w1, w2 = weights(whole.profile), weights(parts.profile)
    # The head's bias has no gradient under a PLCC loss (it is shift-invariant): only rounding noise, which Adam
    # normalises into full-size steps of either sign. Everything else must agree.
    assert all(np.allclose(w1[k], w2[k], atol=1e-5) for k in w1 if k != "head.bias")
    assert whole.history[-1]["train_loss"] == pytest.approx(parts.history[-1]["train_loss"], abs=1e-5)
    # the within-group ordering term is a whole-batch loss too: it splits exactly, and it changes the training
    ranked = {**base, "rank_weight": 1.0}
    whole_r = train_one(dataset, train_idx, test_idx, TrainConfig(**ranked), tmp_path / "whole_r")
    parts_r = train_one(dataset, train_idx, test_idx, TrainConfig(**ranked, micro_batch=3), tmp_path / "parts_r")
    r1, r2 = weights(whole_r.profile), weights(parts_r.profile)
    assert all(np.allclose(r1[k], r2[k], atol=1e-5) for k in r1 if k != "head.bias")
    assert whole_r.history[-1]["train_loss"] > whole.history[-1]["train_loss"]  # PLCC plus the (positive) term
    assert any(not np.allclose(r1[k], w1[k], atol=1e-4) for k in r1 if k != "head.bias")
    # so is the faint-copy pair term: the copies ride along in each micro-batch, outside the PLCC term
    paired = {**base, "pair_weight": 1.0}
    whole_p = train_one(dataset, train_idx, test_idx, TrainConfig(**paired), tmp_path / "whole_p")
    parts_p = train_one(dataset, train_idx, test_idx, TrainConfig(**paired, micro_batch=3), tmp_path / "parts_p")
    p1, p2 = weights(whole_p.profile), weights(parts_p.profile)
    assert all(np.allclose(p1[k], p2[k], atol=1e-5) for k in p1 if k != "head.bias")
    assert any(not np.allclose(p1[k], w1[k], atol=1e-4) for k in p1 if k != "head.bias")
    # with dropout and adapting BatchNorm, accumulation still runs and stays deterministic
    cfg = TrainConfig(**{**FAST, "epochs": 1}, micro_batch=2)
    a = train_one(dataset, train_idx, test_idx, cfg, tmp_path / "a")
    b = train_one(dataset, train_idx, test_idx, cfg, tmp_path / "b")
    assert a.metrics == b.metrics


def test_only_trainable_parameters_change_and_batchnorm_follows_the_setting(dataset, tmp_path):
    from trainer.networks import build_model
    from trainer.runtime import derive_seed

    train_idx, test_idx = split(dataset)
    for bn in ("adapt", "frozen"):
        cfg = TrainConfig(**{**FAST, "epochs": 1, "profiles": "last", "bn": bn})
        torch.manual_seed(derive_seed(cfg.seed, 1))  # train_one builds its network under this seed
        initial = build_model(cfg).state_dict()
        result = train_one(dataset, train_idx, test_idx, cfg, tmp_path / bn)
        net = load_model(result.profile)
        trained = net.state_dict()
        trainable = {n for n, p in net.named_parameters() if p.requires_grad}
        moved = {n for n, _ in net.named_parameters() if not torch.equal(trained[n], initial[n])}
        assert moved and moved <= trainable
        bn_moved = not torch.equal(trained["cnn.bn1.running_mean"], initial["cnn.bn1.running_mean"])
        assert bn_moved == (bn == "adapt")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_mixed_precision_on_cuda_moves_the_weights_from_the_first_steps(dataset, tmp_path):
    # float16 with a GradScaler skipped every step of such a short run on an H100: no weight moved
    from trainer.networks import build_model
    from trainer.runtime import derive_seed

    train_idx, test_idx = split(dataset)
    cfg = TrainConfig(**{**FAST, "device": "cuda", "amp": True, "epochs": 1, "profiles": "last"})
    torch.manual_seed(derive_seed(cfg.seed, 1))
    initial = build_model(cfg).state_dict()
    result = train_one(dataset, train_idx, test_idx, cfg, tmp_path / "amp")
    net = load_model(result.profile)
    trained = net.state_dict()
    moved = {n for n, p in net.named_parameters() if p.requires_grad and not torch.equal(trained[n], initial[n])}
    assert moved and np.isfinite(result.history[-1]["train_loss"])


@pytest.mark.parametrize("amp", [False, True])
def test_bfloat16_on_a_cpu_only_when_asked_and_evaluation_stays_float32(amp, dataset, tmp_path, monkeypatch):
    from trainer import train as train_module

    seen: dict[str, set] = {"train": set(), "eval": set()}
    build = train_module.build_model

    def spy(cfg):
        net = build(cfg)
        for m in net.modules():
            if isinstance(m, torch.nn.Linear):
                # frozen parts run in eval mode while training too: grad mode tells training from evaluation
                m.register_forward_hook(lambda _m, _i, y: seen["train" if y.requires_grad else "eval"].add(y.dtype))
        return net

    monkeypatch.setattr(train_module, "build_model", spy)
    train_idx, test_idx = split(dataset)
    cfg = TrainConfig(**{**FAST, "amp": amp, "epochs": 1, "profiles": "last"})
    result = train_one(dataset, train_idx, test_idx, cfg, tmp_path / "amp")
    assert seen["train"] == ({torch.bfloat16} if amp else {torch.float32})
    assert seen["eval"] == {torch.float32}
    assert np.isfinite(result.history[-1]["train_loss"]) and np.isfinite(result.history[-1]["srcc"])


def test_a_baseline_method_trains_and_saves_its_weights(dataset, tmp_path):
    from trainer.baselines import load_baseline

    train_idx, test_idx = split(dataset)
    cfg = TrainConfig(**{**FAST, "epochs": 1, "method": "lora", "method_dim": 2})
    result = train_one(dataset, train_idx, test_idx, cfg, tmp_path / "lora")
    model, meta = load_baseline(result.profile)
    assert result.trainable == sum(p.numel() for p in model.trainable_parameters())
    assert meta["method"] == "lora" and meta["metrics"]["srcc"] == pytest.approx(result.metrics["srcc"])


def test_cross_dataset_scores_every_image_of_the_other_set_after_the_last_epoch(dataset, tmp_path):
    other = make_set(tmp_path / "other", n_contents=3, levels=3)
    cfg = TrainConfig(**FAST, repeats=1)
    result = run_protocol(dataset, cfg, tmp_path / "out", dataset="csv", cross={"other": other})
    history = result.results[0].history
    assert "other_srcc" in history[-1] and "other_srcc" not in history[0]
    assert set(result.median) >= {"srcc", "other_srcc", "other_plcc", "other_krcc", "other_rmse"}
    assert "other" in result.table()


def test_bad_settings_and_data_are_train_errors(dataset, tmp_path):
    with pytest.raises(TrainError, match="too few"):
        run_protocol(dataset[:5], TrainConfig(**FAST), tmp_path / "few")
    with pytest.raises(TrainError, match="unknown model config"):
        TrainConfig(model="loda_huge").validate()
    with pytest.raises(TrainError, match="at least 2"):
        TrainConfig(**{**FAST, "batch": 1}).validate()
    with pytest.raises(TrainError, match="rank weight must not be negative"):
        TrainConfig(**{**FAST, "rank_weight": -1.0}).validate()
    with pytest.raises(TrainError, match="pair weight must not be negative"):
        TrainConfig(**{**FAST, "pair_weight": -0.5}).validate()
    with pytest.raises(TrainError, match="unknown method"):
        TrainConfig(method="prompt").validate()
    with pytest.raises(TrainError, match="no such file"):
        TrainConfig(vit_weights=str(tmp_path / "missing.safetensors")).validate()
    run_protocol(dataset, TrainConfig(**{**FAST, "epochs": 1}, repeats=1), tmp_path / "done")
    with pytest.raises(TrainError, match="already holds a run"):
        run_protocol(dataset, TrainConfig(**{**FAST, "epochs": 1}, repeats=1), tmp_path / "done")


def test_a_sample_weight_draws_the_image_that_many_times_per_epoch(dataset, tmp_path):
    from dataclasses import replace

    from trainer.data import epoch_plan

    train_idx, test_idx = split(dataset)
    cfg = TrainConfig(**{**FAST, "epochs": 1})
    plain = train_one(dataset, train_idx, test_idx, cfg, tmp_path / "plain")
    heavy = [replace(s, weight=4) if s.score == 1.0 else s for s in dataset]  # the sharp originals, 4 times
    draws = len(train_idx) + 3 * sum(heavy[i].weight > 1 for i in train_idx)
    weighted = train_one(heavy, train_idx, test_idx, cfg, tmp_path / "weighted")
    steps = [len(epoch_plan(n, batch=8, micro_batch=None, seed=0, epoch=1).steps) for n in (len(train_idx), draws)]
    assert [plain.history[-1]["step"], weighted.history[-1]["step"]] == steps
    assert weighted.history[-1]["step"] > plain.history[-1]["step"]
    assert weighted.n_train == plain.n_train == len(train_idx)  # images, not draws
    assert weighted.metrics["srcc"] != plain.metrics["srcc"] or weighted.metrics["plcc"] != plain.metrics["plcc"]


def test_init_starts_from_an_earlier_profile(dataset, tmp_path):
    import csv

    from trainer.networks import build_model, init_from
    from trainer.outputs import PREDICTIONS_NAME

    def held_out(run):
        with open(Path(run.profile).parent / PREDICTIONS_NAME, newline="") as f:
            return np.array([float(r["prediction"]) for r in csv.DictReader(f)])

    train_idx, test_idx = split(dataset)
    base = {**FAST, "bn": "frozen"}  # nothing but the optimiser moves the network
    first = train_one(dataset, train_idx, test_idx, TrainConfig(**base), tmp_path / "first")
    still = {**base, "epochs": 1, "lr": 1e-12}  # one epoch that cannot move it: its predictions are the start's
    warm = train_one(dataset, train_idx, test_idx, TrainConfig(**still, init=first.profile), tmp_path / "w", seed=5)
    cold = train_one(dataset, train_idx, test_idx, TrainConfig(**still), tmp_path / "cold", seed=5)
    assert np.allclose(held_out(warm), held_out(first), atol=2e-6)
    assert not np.allclose(held_out(cold), held_out(first), atol=1e-3)
    net = build_model(TrainConfig(**FAST, seed=9))
    init_from(net, TrainConfig(**FAST, init=first.profile))
    saved = weights(first.profile)
    assert all(np.array_equal(v.numpy(), saved[k]) for k, v in net.state_dict().items())  # full profile: all of it

    with pytest.raises(TrainError, match="built unlike"):
        train_one(dataset, train_idx, test_idx, TrainConfig(**{**FAST, "r": 8}, init=first.profile), tmp_path / "r8")
    with pytest.raises(TrainError, match="does not apply to --method cnn_head"):
        TrainConfig(**FAST, method="cnn_head", init=first.profile).validate()
    with pytest.raises(TrainError, match="--init: no such file"):
        TrainConfig(**FAST, init=str(tmp_path / "gone.safetensors")).validate()
    not_a_profile = tmp_path / "notes.safetensors"
    not_a_profile.write_text("hello")
    with pytest.raises(TrainError, match="--init: "):
        train_one(dataset, train_idx, test_idx, TrainConfig(**FAST, init=str(not_a_profile)), tmp_path / "bad")


def test_resume_state_of_a_pretrained_config_holds_the_adapter_not_the_backbones():
    from trainer.networks import build_model
    from trainer.state import state_tensors

    net = build_model(TrainConfig(**FAST))
    assert set(state_tensors(net)) == set(net.state_dict())  # random backbones: everything
    net.config = net.config.replace(pretrained=True)  # as if the backbones came from pretrained weights
    kept = set(state_tensors(net))
    assert {n for n, p in net.named_parameters() if p.requires_grad} <= kept
    assert "cnn.bn1.running_var" in kept and "vit.blocks.0.attn.qkv.weight" not in kept
    with pytest.raises(TrainError, match="divide"):
        build_model(TrainConfig(**{**FAST, "n_interactions": 3}))


def test_calibration_maps_raw_outputs_onto_the_training_labels():
    scale, offset = fit_calibration([1.0, 2.0, 3.0], [0.1, 0.3, 0.5])
    assert scale == pytest.approx(0.2) and offset == pytest.approx(-0.1)
    assert fit_calibration([2.0, 2.0], [0.2, 0.6]) == (0.0, pytest.approx(0.4))


def test_two_processes_with_torchrun_match_one_process(dataset, tmp_path):
    """DDP on the CPU (gloo): each process takes half of every batch; the update is the whole batch's. With the pair
    term on, the same run trains and the term moves the weights."""
    table = tmp_path / "ratings.csv"
    table.write_text("path,score,group\n" + "".join(f"{s.path},{s.score},{s.group}\n" for s in dataset))
    args = [
        "train", "--dataset", "csv", "--csv", str(table), "--model", "loda_tiny", "--img-size", "32",
        "--short-side", "40", "--epochs", "1", "--repeats", "1", "--batch", "8", "--micro-batch", "2",
        "--train-crops", "1", "--test-crops", "2", "--calib-images", "8", "--bn", "frozen", "--dropout", "0",
        "--device", "cpu", "--no-progress", "--profiles", "last",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]

    def torchrun(out: str, *extra: str) -> dict[str, np.ndarray]:
        cmd = [*launcher, "-m", "trainer.cli", *args, *extra, "--out", str(tmp_path / out)]
        run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        return read_tensors(tmp_path / out / "repeat_1" / "epoch_1.safetensors")

    ddp = torchrun("ddp")
    # the pair term under DDP: each process adds faint copies of its own first quarter and averages its own term
    ddp_pair = torchrun("ddp_pair", "--pair-weight", "0.5")
    from trainer.cli import main

    assert main([*args, "--out", str(tmp_path / "single")]) == 0
    single = read_tensors(tmp_path / "single" / "repeat_1" / "epoch_1.safetensors")
    assert all(np.allclose(ddp[k], single[k], atol=1e-5) for k in single if k != "head.bias")  # see above
    assert all(np.isfinite(v).all() for v in ddp_pair.values())
    assert not all(np.allclose(ddp_pair[k], single[k], atol=1e-5) for k in single if k != "head.bias")


@pytest.mark.parametrize(
    ("method", "overrides"), [("cnn_head", {}), ("loda", {"injector": "add", "pool": 1})], ids=["cnn_head", "add"]
)
def test_table_vi_ablations_train_and_keep_their_held_out_predictions(method, overrides, dataset, tmp_path):
    import csv

    train_idx, test_idx = split(dataset)
    cfg = TrainConfig(**{**FAST, "epochs": 1, "method": method, **overrides})
    result = train_one(dataset, train_idx, test_idx, cfg, tmp_path / method)
    assert np.isfinite(result.metrics["srcc"])
    with open(tmp_path / method / "test_predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [Path(r["path"]) for r in rows] == [dataset[i].path for i in test_idx]
    assert [float(r["target"]) for r in rows] == pytest.approx([dataset[i].score for i in test_idx], abs=1e-6)
    assert all(np.isfinite(float(r["prediction"])) for r in rows)


def test_faint_copies_are_faint_noise_or_blur_reproducible_from_the_seed():
    from trainer.step import FAINT_NOISE, faint_copies

    rng = np.random.default_rng(3)
    smooth = np.kron(rng.integers(40, 200, size=(12, 3, 4, 4)), np.ones((1, 1, 8, 8)))
    x = torch.from_numpy(smooth.astype(np.uint8))  # 12 crops of 32 × 32, flat 8 × 8 blocks
    a, b = faint_copies(x, seed=5), faint_copies(x, seed=5)
    assert a.dtype == torch.uint8 and a.shape == x.shape and torch.equal(a, b)
    assert not torch.equal(a, faint_copies(x, seed=6))
    assert torch.equal(a[5:], faint_copies(x[5:], seed=5, first=5))  # a crop's copy depends on its place only
    diff = a.float() - x.float()
    # inside the flat blocks noise shows as spread, blur as nothing; along the block edges blur smooths
    inner = diff[:, :, 2:6, 2:6]
    noisy = inner.std(dim=(1, 2, 3)) > 1.0
    assert 0 < int(noisy.sum()) < len(x)  # both kinds are drawn
    grey = diff[noisy].mean(dim=1)  # the grey grain is shared by the channels
    assert all(FAINT_NOISE[0] * 0.8 < float(g.std()) < FAINT_NOISE[1] * 1.3 for g in grey)
    edges = (x.float()[:, :, :, 1:] - x.float()[:, :, :, :-1]).abs().sum(dim=(1, 2, 3))
    blurred_edges = (a.float()[:, :, :, 1:] - a.float()[:, :, :, :-1]).abs().sum(dim=(1, 2, 3))
    assert torch.all(blurred_edges[~noisy] < edges[~noisy])
    # a dark crop's noise is clipped at 0, so it lifts the blacks
    dark = faint_copies(torch.zeros((6, 3, 16, 16), dtype=torch.uint8), seed=0)
    assert dark.float().mean() > 0


def test_eval_every_zero_trains_and_writes_profiles_without_scoring_the_test_split(dataset, tmp_path):
    train_idx, test_idx = split(dataset)
    result = train_one(dataset, train_idx, test_idx, TrainConfig(**{**FAST, "eval_every": 0}), tmp_path / "blind")
    assert result.metrics == {} and all("srcc" not in h for h in result.history)
    assert [h["profile"] for h in result.history] == ["epoch_1.safetensors", "epoch_2.safetensors"]
    assert not list((tmp_path / "blind").glob("test_predictions*"))
    assert load_model(result.profile) is not None
    summary = run_protocol(dataset, TrainConfig(**{**FAST, "eval_every": 0, "repeats": 1}), tmp_path / "protocol")
    assert "srcc" not in summary.median and "nan" in summary.table().lower()
    with pytest.raises(TrainError, match="eval-every must not be negative"):
        TrainConfig(**{**FAST, "eval_every": -1}).validate()
