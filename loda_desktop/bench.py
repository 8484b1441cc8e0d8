"""``loda bench``: how fast the app scores photos end to end, where the time goes, and on what machine.

For each configuration (backend ``torch``, ``onnx`` or ``onnx-int8``; device; crops per photo; inference and
decoding threads; ONNX Runtime's CPU arena) a child Python, so that each has its own clean peak RSS, runs:

1. **end to end** through the real :class:`~loda_desktop.engine.Engine` path: the scorer is built as ``loda
   score`` builds it (backend ``onnx`` is backend ``auto`` on the CPU: the profile's export, shipped or cached),
   one photo is scored first (its time from the child's start is *first score*), then every photo is scored
   again into a fresh catalog (``rescore``): photos/s, peak RSS;
2. **network only**: the same photos, their crops prepared beforehand, through the same scorer and batching with
   decoding replaced by a lookup: photos/s of the network alone; *e2e/net* is the ratio of the two;
3. **stages**, one photo at a time in one thread, by the functions the scorer calls: read the bytes, decode
   (:func:`model.preprocess.open_image`, as the scorer's ``prepare`` decodes), the rest of ``prepare`` (resize,
   crops), the network (per photo, from 2) and the catalog writes (timed inside run 1).

Configurations run interleaved: round after round, each round running every configuration once in a rotated
order, so that a machine whose load changes slows them all alike; medians over rounds are reported, and each
configuration's speed relative to the first one is taken within a round. The machine (CPU, cores, load average
before and after, library versions) is part of the report. Photos are generated (camera-sized JPEGs made from
the demo photos) unless a folder is given.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BACKENDS = ("torch", "onnx", "onnx-int8")
STAGES = ("read", "decode", "preprocess", "network", "catalog")
ARENA_ENV = "LODA_ORT_ARENA"  # model.onnx_scorer reads it
DEMO_DIR = Path(__file__).resolve().parent.parent / "assets" / "demo"  # as loda_desktop.selftest
LIBRARIES = ("numpy", "Pillow", "onnxruntime", "torch", "timm", "simplejpeg")


class BenchError(RuntimeError):
    """A configuration could not be measured, or a result missed a threshold; the message says which and why."""


@dataclass(frozen=True)
class BenchConfig:
    backend: str = "onnx"
    device: str = "cpu"
    crops: int = 5
    threads: int = 0  # inference threads; 0: the scorer's default
    decode_workers: int = 0  # decoding threads; 0: the scorer's default
    arena: str = "default"  # ONNX Runtime's CPU memory arena: default, on, off
    detail_crops: int | None = None  # None: the settings' default
    batch: int = 32  # crops per inference batch

    def label(self) -> str:
        parts = [self.backend, self.device, f"{self.crops} crops"]
        if self.detail_crops is not None:
            parts.append(f"detail {self.detail_crops}")
        if self.threads:
            parts.append(f"{self.threads} inference thread{'s' * (self.threads != 1)}")
        if self.decode_workers:
            parts.append(f"{self.decode_workers} decode thread{'s' * (self.decode_workers != 1)}")
        if self.arena != "default":
            parts.append(f"arena {self.arena}")
        if self.batch != 32:
            parts.append(f"batch {self.batch}")
        return ", ".join(parts)


# -- photos -----------------------------------------------------------------------------------------------------
def make_photo(i: int, out: Path, size: tuple[int, int]) -> Path:
    """Photo ``i``: demo photo ``i`` mod 5 resized (bilinear) to ``size``, plus uniform grain of at most 6 levels
    (seeded by ``i``), JPEG quality 92 (``benchmarks/make_photos.py`` writes the same bytes)."""
    import numpy as np
    from PIL import Image

    demo = sorted(DEMO_DIR.glob("*.jpg"))
    w, h = size
    img = Image.open(demo[i % len(demo)]).convert("RGB").resize((w, h), Image.Resampling.BILINEAR)
    rng = np.random.default_rng(i)
    arr = np.asarray(img, dtype=np.int16) + rng.integers(-6, 7, size=(h, w, 1), dtype=np.int16)
    path = out / f"p{i:04d}.jpg"
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path, quality=92)
    return path


def make_photos(out: Path, count: int, size: tuple[int, int]) -> list[Path]:
    """``count`` photos of ``size`` in ``out``; those already there (same name and size) are kept."""
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = out / f"p{i:04d}.jpg"
        try:
            with Image.open(path) as im:
                ok = im.size == size
        except OSError:
            ok = False
        paths.append(path if ok else make_photo(i, out, size))
    return paths


# -- the machine ------------------------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # Windows
        return None


def machine() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        with contextlib.suppress(PackageNotFoundError):
            versions[name] = version(name)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "system": f"{platform.system()} {platform.release()}",
        "versions": versions,
    }


def peak_rss_mb() -> float | None:
    """This process's peak resident memory so far (MB): ``VmHWM`` on Linux (``ru_maxrss`` there keeps the peak
    of the parent the process was forked from: a child of a parent that loaded torch reported its 900 MB),
    ``resource`` on other Unixes, psutil (if installed) elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux
    except ImportError:
        pass
    try:
        import psutil

        info = psutil.Process().memory_info()
        return getattr(info, "peak_wset", info.rss) / 2**20
    except ImportError:
        return None


# -- one configuration, in a child process ------------------------------------------------------------------------
def _settings(config: BenchConfig, model: str):
    from .settings import Settings

    backend = "auto" if config.backend == "onnx" and config.device == "cpu" else config.backend
    if config.backend == "onnx-int8" or (config.backend == "onnx" and config.device != "cpu"):
        backend = "onnx"  # model is the .onnx file
    values: dict[str, Any] = {
        "model": model,
        "backend": backend,
        "device": config.device,
        "crops": config.crops,
        "batch_size": config.batch,
        "threads": config.threads,
    }
    if config.detail_crops is not None:
        values["detail_crops"] = config.detail_crops
    known = {f.name for f in dataclasses.fields(Settings)}
    return Settings(**{k: v for k, v in values.items() if k in known})


def _timed_puts(catalog_cls: Any, into: list[float]) -> Callable[[], None]:
    """Time every ``put_*`` the engine makes on the catalog; returns the function that undoes it."""
    originals = {n: getattr(catalog_cls, n) for n in ("put_score", "put_error") if hasattr(catalog_cls, n)}

    def timed(method):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                into.append(time.perf_counter() - started)

        return wrapper

    for name, method in originals.items():
        setattr(catalog_cls, name, timed(method))
    return lambda: [setattr(catalog_cls, n, m) for n, m in originals.items()]


def run_config(
    config: BenchConfig, model: str, photos: Sequence[Path], workdir: Path, *, started: float
) -> dict[str, Any]:
    """Measure one configuration in this process (see the module docstring); ``started`` is when the process
    began (``time.time()``), for the time to the first score."""
    from .catalog import Catalog
    from .engine import Engine

    previous = os.environ.pop(ARENA_ENV, None)
    if config.arena != "default":
        os.environ[ARENA_ENV] = "1" if config.arena == "on" else "0"
    try:  # the scorer is built (and reads the arena switch) on the first score
        engine = Engine(_settings(config, model), catalog_path=workdir / f"bench-{os.getpid()}.sqlite")
        first = engine.score_paths(list(photos[:1]), rescore=True)
        first_score_s = time.time() - started
    finally:
        os.environ.pop(ARENA_ENV, None)
        if previous is not None:
            os.environ[ARENA_ENV] = previous
    if first.scored != 1:
        raise BenchError(f"{config.label()}: the first photo was not scored ({photos[0]})")
    scorer = engine.scorer
    expected = "torch" if config.backend == "torch" else "onnx"
    if scorer.backend != expected:
        raise BenchError(f"{config.label()}: the engine scored with {scorer.describe()}, not {config.backend}")
    if config.decode_workers:
        scorer.decode_workers = config.decode_workers
    puts: list[float] = []
    undo = _timed_puts(Catalog, puts)
    try:
        summary = engine.score_paths(list(photos), rescore=True)
    finally:
        undo()
    if summary.scored != len(photos):
        raise BenchError(f"{config.label()}: {summary.failed} of {len(photos)} photos failed to score")
    e2e_s = summary.seconds - summary.load_seconds
    peak = peak_rss_mb()
    stages, net_s, crops = _stages(scorer, photos)
    stages["catalog"] = 1000 * sum(puts) / len(photos)
    return {
        "config": dataclasses.asdict(config),
        "label": config.label(),
        "runs_on": scorer.describe(),
        "photos": len(photos),
        "crops_per_photo": crops,
        "decode_workers": scorer.decode_workers,
        "threads": getattr(scorer, "threads", config.threads),
        "batch": scorer.batch_size,
        "load_s": first.load_seconds,
        "first_score_s": first_score_s,
        "e2e_photos_per_s": len(photos) / e2e_s,
        "net_photos_per_s": len(photos) / net_s,
        "e2e_over_net": net_s / e2e_s,
        "stages_ms": stages,
        "peak_rss_mb": peak,
        "torch_imported": "torch" in sys.modules,
    }


def _stages(scorer: Any, photos: Sequence[Path]) -> tuple[dict[str, float], float, float]:
    """Per-photo milliseconds of read, decode and the rest of ``prepare``, one photo at a time; then the network
    alone on the prepared crops, through the scorer's own batching. Returns (stages, network seconds, crops per
    photo)."""
    from model.preprocess import open_image

    short = None if getattr(scorer, "detail_crops", 0) else scorer.short_side  # as the scorer's prepare decodes
    times = {"read": 0.0, "decode": 0.0, "prepare": 0.0}
    prepared: dict[str, Any] = {}
    for path in photos:
        t0 = time.perf_counter()
        data = path.read_bytes()
        t1 = time.perf_counter()
        open_image(data, short_side=short)
        t2 = time.perf_counter()
        prepared[str(path)] = scorer.prepare(data)
        t3 = time.perf_counter()
        times["read"] += t1 - t0
        times["decode"] += t2 - t1
        times["prepare"] += t3 - t2
    scorer.prepare = prepared.__getitem__  # this instance only: decoding becomes a lookup
    try:
        t0 = time.perf_counter()
        results = [r for _, r in scorer.iter_scores([str(p) for p in photos])]
        net_s = time.perf_counter() - t0
    finally:
        del scorer.prepare
    if not all(r.ok for r in results):
        raise BenchError("a prepared photo failed in the network-only run")
    n = len(photos)
    crops = statistics.mean(len(getattr(p, "crops", p)) for p in prepared.values())
    stages = {
        "read": 1000 * times["read"] / n,
        "decode": 1000 * times["decode"] / n,
        "preprocess": 1000 * max(0.0, times["prepare"] - times["decode"]) / n,
        "network": 1000 * net_s / n,
    }
    return stages, net_s, crops


def child_main(argv: Sequence[str]) -> int:
    """``python -m loda_desktop.bench SPEC.json OUT.json``: :func:`run_config` with the spec's arguments."""
    started = float(os.environ.get("LODA_BENCH_STARTED") or time.time())
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    result = run_config(
        BenchConfig(**spec["config"]),
        spec["model"],
        [Path(p) for p in spec["photos"]],
        Path(spec["workdir"]),
        started=started,
    )
    Path(argv[1]).write_text(json.dumps(result), encoding="utf-8")
    return 0


def run_child(spec: dict[str, Any], workdir: Path, *, timeout: float = 1800) -> dict[str, Any]:
    """One configuration in a fresh Python (its own peak RSS; nothing loaded by the configurations before it)."""
    from .model_store import AUTO_ONNX_ENV

    spec_file, out_file = workdir / f"spec-{os.getpid()}.json", workdir / f"result-{os.getpid()}.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    out_file.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in (AUTO_ONNX_ENV, ARENA_ENV)}
    env["LODA_BENCH_STARTED"] = repr(time.time())
    command = [sys.executable, "-m", "loda_desktop.bench", str(spec_file), str(out_file)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0 or not out_file.is_file():
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise BenchError(f"{BenchConfig(**spec['config']).label()}: {last}")
    return json.loads(out_file.read_text(encoding="utf-8"))


# -- the whole benchmark ------------------------------------------------------------------------------------------
def prepare_model(spec: str, backends: Sequence[str], workdir: Path) -> dict[str, str]:
    """The model file each backend scores: the profile file (torch, and onnx on the CPU through backend auto,
    whose export is made here if neither shipped nor cached) or an export in ``workdir``. A bare config (random
    weights) is saved as a profile first (seed 0), so that every backend scores the same network."""
    from . import model_store

    profile = model_store.resolve_model(spec)
    if profile.path is None:
        import torch

        from model import create_model
        from model.profiles import save_model

        torch.manual_seed(0)
        path = workdir / f"{profile.name}-bench.safetensors"
        save_model(create_model(profile.config.name, pretrained=False), path, name=f"{profile.name}-bench")
        profile = model_store.resolve_model(str(path))
    assert profile.path is not None
    files: dict[str, str] = {}
    if profile.path.suffix.lower() == ".onnx":  # the score-only app: its export is all there is
        if set(backends) - {"onnx"}:
            raise BenchError(f"{profile.path} is an ONNX model: only the onnx backend can score it")
        return {"onnx": str(profile.path)}
    for backend in backends:
        if backend == "torch":
            files[backend] = str(profile.path)
        elif backend == "onnx":
            files[backend] = str(model_store.cached_onnx_export(profile))
            files["onnx-profile"] = str(profile.path)
        else:
            out = workdir / f"{profile.path.stem}-int8.onnx"
            if not out.is_file():
                model_store.export_here(profile.path, out, int8=True)
            files[backend] = str(out)
    return files


def _model_for(config: BenchConfig, files: dict[str, str]) -> str:
    if config.backend == "onnx" and config.device == "cpu" and "onnx-profile" in files:
        return files["onnx-profile"]  # backend auto: the engine finds the export itself
    return files[config.backend]


def run_bench(
    configs: Sequence[BenchConfig],
    photos: Sequence[Path],
    *,
    model: str = "default",
    repeat: int = 3,
    workdir: Path | None = None,
    in_process: bool = False,
    on_run: Callable[[int, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Every configuration ``repeat`` times, interleaved; returns the report (:func:`summarise`'s, plus the raw
    runs and the machine)."""
    if not configs or not photos or repeat < 1:
        raise BenchError("nothing to measure: give at least one configuration, one photo and one repeat")
    with tempfile.TemporaryDirectory(prefix="loda-bench-") as tmp:
        work = Path(workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        files = prepare_model(model, sorted({c.backend for c in configs}), work)
        load_before = load_average()
        runs: list[dict[str, Any]] = []
        for round_ in range(repeat):
            shift = round_ % len(configs)
            for index in [*range(shift, len(configs)), *range(shift)]:
                config = configs[index]
                spec = {
                    "config": dataclasses.asdict(config),
                    "model": _model_for(config, files),
                    "photos": [str(p) for p in photos],
                    "workdir": str(work),
                }
                if in_process:
                    result = run_config(config, spec["model"], photos, work, started=time.time())
                else:
                    result = run_child(spec, work)
                result.update(round=round_, index=index)
                runs.append(result)
                if on_run:
                    on_run(len(runs), result)
        report = summarise(configs, runs, repeat)
    report["machine"] = {**machine(), "load_before": load_before, "load_after": load_average()}
    report["photos"] = _describe_photos(photos)
    report.update(model=model, repeat=repeat, in_process=in_process, runs=runs)
    return report


def _describe_photos(photos: Sequence[Path]) -> dict[str, Any]:
    from PIL import Image

    with Image.open(photos[0]) as im:
        size = im.size
    mb = sum(p.stat().st_size for p in photos) / len(photos) / 1e6
    return {"count": len(photos), "first_size": list(size), "mean_mb": round(mb, 2), "folder": str(photos[0].parent)}


def summarise(configs: Sequence[BenchConfig], runs: Sequence[dict[str, Any]], repeat: int) -> dict[str, Any]:
    """Medians over rounds per configuration, and each configuration's speed relative to the first one, taken
    within each round (the ratio a noisy machine leaves intact)."""
    by_round: dict[tuple[int, int], dict[str, Any]] = {(r["round"], r["index"]): r for r in runs}
    rows = []
    for index, config in enumerate(configs):
        mine = [r for r in runs if r["index"] == index]
        ratios = [
            by_round[(r["round"], index)]["e2e_photos_per_s"] / by_round[(r["round"], 0)]["e2e_photos_per_s"]
            for r in mine
            if (r["round"], 0) in by_round
        ]

        def med(key: str, rows_: list[dict[str, Any]] = mine) -> float:
            return statistics.median(r[key] for r in rows_)

        rss = [r["peak_rss_mb"] for r in mine if r["peak_rss_mb"] is not None]
        rows.append(
            {
                "label": config.label(),
                "config": dataclasses.asdict(config),
                "runs_on": mine[0]["runs_on"],
                "crops_per_photo": mine[0]["crops_per_photo"],
                "threads": mine[0]["threads"],
                "decode_workers": mine[0]["decode_workers"],
                "batch": mine[0].get("batch"),
                "e2e_photos_per_s": med("e2e_photos_per_s"),
                "e2e_range": [min(r["e2e_photos_per_s"] for r in mine), max(r["e2e_photos_per_s"] for r in mine)],
                "vs_first": statistics.median(ratios) if ratios else None,
                "net_photos_per_s": med("net_photos_per_s"),
                "e2e_over_net": med("e2e_over_net"),
                "stages_ms": {s: statistics.median(r["stages_ms"][s] for r in mine) for s in STAGES},
                "load_s": med("load_s"),
                "first_score_s": med("first_score_s"),
                "peak_rss_mb": max(rss) if rss else None,
                "torch_imported": any(r["torch_imported"] for r in mine),
                "rounds": len(mine),
            }
        )
    return {"rows": rows}


def check(report: dict[str, Any], *, min_photos_per_s: float = 0.0, min_ratio: float = 0.0) -> list[str]:
    """The rows that miss a threshold, one line each (empty: all passed)."""
    misses = []
    for row in report["rows"]:
        if row["e2e_photos_per_s"] < min_photos_per_s:
            misses.append(f"{row['label']}: {row['e2e_photos_per_s']:.2f} photos/s < {min_photos_per_s:g}")
        if row["e2e_over_net"] < min_ratio:
            misses.append(f"{row['label']}: end to end {row['e2e_over_net']:.2f}x network only < {min_ratio:g}x")
    return misses


def format_report(report: dict[str, Any]) -> str:
    """The report as Markdown: the machine, then one table row per configuration."""
    m, p = report["machine"], report["photos"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), {m['system']}; load average"
        f" {m['load_before']} before, {m['load_after']} after; {versions}.",
        f"Photos: {p['count']} x {p['first_size'][0]}x{p['first_size'][1]} ({p['mean_mb']} MB each) in"
        f" {p['folder']}; model {report['model']}; {report['repeat']} rounds, interleaved"
        f"{'; in one process' if report['in_process'] else ', one process per run'}. Medians over rounds.",
        "",
        "| configuration | runs on | crops | threads net+decode | batch | e2e photos/s | vs first | net-only photos/s"
        " | e2e/net | read ms | decode ms | preprocess ms | network ms | catalog ms | first score s | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["rows"]:
        s = r["stages_ms"]
        rss = f"{r['peak_rss_mb']:.0f}" if r["peak_rss_mb"] is not None else "?"
        vs = f"{r['vs_first']:.2f}x" if r["vs_first"] is not None else ""
        lines.append(
            f"| {r['label']} | {r['runs_on']} | {r['crops_per_photo']:g} | {r['threads'] or 'default'} +"
            f" {r['decode_workers']} | {r['batch']} | {r['e2e_photos_per_s']:.2f}"
            f" | {vs} | {r['net_photos_per_s']:.2f} | {r['e2e_over_net']:.2f} | {s['read']:.1f} | {s['decode']:.1f}"
            f" | {s['preprocess']:.1f} | {s['network']:.1f} | {s['catalog']:.1f} | {r['first_score_s']:.2f} | {rss} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
