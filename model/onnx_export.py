"""Export a whole LoDa network (both backbones, extractors, injectors, head) to one self-describing ONNX file.

The graph takes ``crops``: float32 (N, 3, S, S), RGB in [0, 1] (each branch's mean/std is inside the graph),
and returns ``score``: float32 (N,), the raw network output, ``detail``: float32 (N,), the raw detail score
(:meth:`model.loda.LoDa.forward_all`) and ``embedding``: float32 (N, C), the features that group a burst; N is a
dynamic axis. Files exported before these two outputs existed return ``score`` only, and are still read. The
model profile's metadata (the same JSON as in a safetensors profile: config, preprocessing, score range and
calibration) is stored under the ONNX ``metadata_props`` key ``loda``, plus an ``onnx`` section describing the
export, so the file alone is enough to score with :class:`model.onnx_scorer.OnnxScorer` (no torch needed there).

``int8=True`` applies ONNX Runtime's dynamic quantization to the weights of every MatMul / Gemm (the ViT's and
the adapter's linear layers; convolutions stay float), per output channel. It is an opt-in trade of a little
score drift for speed on CPUs; see ``docs/performance.md``. An INT8 export gets its own profile name
(``NAME-int8``), so its scores are catalogued apart from the float model's.

The graph is traced at the profile's crop size, with every spatial size fixed (:func:`static_shapes`): crops are
always that size, and TensorFlow-ported CNNs (the ``loda_lite`` EfficientNet) could not be exported otherwise.

Writing is atomic: the file appears complete, or not at all. Uses the TorchScript exporter (stable, and
needs no onnxscript); the exported graph is checked with ``onnx.checker`` and, by default, run once with ONNX
Runtime at a batch size other than the traced one and compared with torch.
"""

from __future__ import annotations

import copy
import glob
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .configs import LodaConfig
from .constants import DEFAULT_OPSET
from .onnx_scorer import DETAIL_NAME, EMBEDDING_NAME, INPUT_NAME, METADATA_KEY, OUTPUT_NAME, SUFFIX
from .profiles import FORMAT, Profile, ProfileError, build_metadata

if TYPE_CHECKING:
    from .loda import LoDa

log = logging.getLogger(__name__)

VERIFY_ATOL = 1e-4
_IGNORED_CONFIG_KEYS = {"pretrained", "description"}  # do not change the network the graph computes


class OnnxExportError(RuntimeError):
    """The network could not be exported, or the exported graph failed its checks."""


def onnx_metadata(
    model: LoDa, profile_metadata: Mapping[str, Any] | Profile | None, *, opset: int, int8: bool
) -> dict[str, Any]:
    """The profile metadata to embed: the profile's own, marked self-contained, with an ``onnx`` section."""
    if profile_metadata is None:
        meta = build_metadata(model.config, name=model.config.name, kind="full", created=None)
        source = None
    elif isinstance(profile_metadata, Profile):
        meta = copy.deepcopy(profile_metadata.metadata)
        source = profile_metadata.key
    else:
        meta = copy.deepcopy(dict(profile_metadata))
        source = None
    if meta.get("format") != FORMAT:
        raise OnnxExportError("profile metadata must come from a LoDa profile (model.profiles.build_metadata)")
    try:
        profile = Profile(meta)
    except ProfileError as exc:
        raise OnnxExportError(str(exc)) from None
    source = source or profile.key
    _check_same_network(profile.config, model.config)
    meta["kind"] = "full"  # the backbones are inside the graph
    meta["backbones"] = {**(meta.get("backbones") or {}), "included": True}
    if int8 and not str(meta.get("name", "")).endswith("-int8"):
        meta["name"] = f"{profile.name}-int8"
    meta["onnx"] = {
        "opset": opset,
        "int8": int8,
        "quantization": "dynamic; MatMul/Gemm weights int8, per channel" if int8 else None,
        "input": {
            "name": INPUT_NAME,
            "dtype": "float32",
            "shape": ["N", 3, profile.config.img_size, profile.config.img_size],
            "range": [0.0, 1.0],
            "layout": "NCHW RGB",
        },
        "output": {"name": OUTPUT_NAME, "dtype": "float32", "shape": ["N"], "calibrated": False},
        "source": source,
        "exported": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "torch": torch.__version__.split("+")[0],
    }
    return meta


def _check_same_network(meta_config: LodaConfig, model_config: LodaConfig) -> None:
    a, b = meta_config.to_dict(), model_config.to_dict()
    diff = sorted(k for k in set(a) | set(b) if k not in _IGNORED_CONFIG_KEYS and a.get(k) != b.get(k))
    if diff:
        raise OnnxExportError(
            f"the profile metadata describes another network than the model being exported (differs in: "
            f"{', '.join(diff)})"
        )


def _annotate(proto: Any, meta: Mapping[str, Any]) -> None:
    import json

    del proto.metadata_props[:]
    for key, value in (
        (METADATA_KEY, json.dumps(meta, sort_keys=True)),
        ("name", str(meta.get("name", ""))),
        ("score_range", json.dumps((meta.get("score") or {}).get("range"))),
    ):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "loda-desktop"
    proto.doc_string = (
        f"LoDa image-quality model '{meta.get('name')}'. Input '{INPUT_NAME}': float32 [N,3,S,S] RGB in [0,1];"
        f" output '{OUTPUT_NAME}': raw score [N]. Profile metadata (JSON) under metadata key '{METADATA_KEY}'."
    )


def _check(proto: Any) -> None:
    import onnx

    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise OnnxExportError(f"the exported graph fails onnx.checker: {str(exc).splitlines()[0]}") from None


class _FixedPadConv(nn.Module):
    """A timm ``Conv2dSame`` with its padding fixed for one input size (shares the original's parameters)."""

    def __init__(self, conv: nn.Conv2d, pad: list[int]) -> None:
        super().__init__()
        self.conv = conv
        self.pad = tuple(int(p) for p in pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.conv
        return F.conv2d(F.pad(x, self.pad), c.weight, c.bias, c.stride, 0, c.dilation, c.groups)


def _pool_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) averaging matrix of adaptive average pooling along one axis (PyTorch's bin edges)."""
    m = torch.zeros(n_out, n_in)
    for i in range(n_out):
        start, end = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        m[i, start:end] = 1.0 / (end - start)
    return m


class _FixedAdaptivePool(nn.Module):
    """``AdaptiveAvgPool2d`` for one input size, as two constant matrix products (exact, and sized statically)."""

    def __init__(self, in_size: list[int], out_size: tuple[int, int], like: torch.Tensor) -> None:
        super().__init__()
        kw = {"dtype": like.dtype, "device": like.device}
        self.register_buffer("rows", _pool_matrix(in_size[0], out_size[0]).to(**kw), persistent=False)
        self.register_buffer(
            "cols_t", _pool_matrix(in_size[1], out_size[1]).t().contiguous().to(**kw), persistent=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(torch.matmul(self.rows, x), self.cols_t)


def static_shapes(model: nn.Module, size: int) -> list[tuple[nn.Module, str, nn.Module]]:
    """Make ``model`` traceable with static shapes at ``size``×``size`` input, for the ONNX export.

    TensorFlow-ported CNNs (timm's ``tf_*`` EfficientNets: the ``loda_lite`` CNN branch) pad their strided
    convolutions "SAME" from the runtime input size, and the exporter loses every spatial size after such a
    padding, so it cannot export the extractors' ``AdaptiveAvgPool2d``. Each timm ``Conv2dSame`` gets the
    fixed padding its input has at this crop size, and each ``AdaptiveAvgPool2d`` becomes two constant matrix
    products. Both compute exactly what the originals compute on ``size``-px crops, which are the only input
    the exported graph takes. Returns what was swapped as (parent, attribute, original) for
    :func:`restore_modules`.
    """
    from timm.layers.conv2d_same import Conv2dSame
    from timm.layers.padding import pad_same_arg

    targets = {
        name: m for name, m in model.named_modules() if isinstance(m, (Conv2dSame, nn.AdaptiveAvgPool2d)) and name
    }
    if not targets:
        return []
    sizes: dict[str, list[int]] = {}

    def record(name: str):
        return lambda _module, args: sizes.__setitem__(name, [int(v) for v in args[0].shape[-2:]])

    hooks = [m.register_forward_pre_hook(record(name)) for name, m in targets.items()]
    try:
        like = next(model.parameters())
        with torch.inference_mode():
            model(torch.zeros(1, 3, size, size, dtype=like.dtype, device=like.device))
    finally:
        for hook in hooks:
            hook.remove()
    swapped = []
    for name, module in targets.items():
        if name not in sizes:  # not on the forward path
            continue
        if isinstance(module, nn.AdaptiveAvgPool2d):
            out = module.output_size if isinstance(module.output_size, tuple) else (module.output_size,) * 2
            out = tuple(sizes[name][i] if o is None else int(o) for i, o in enumerate(out))
            replacement: nn.Module = _FixedAdaptivePool(sizes[name], out, like)
        else:
            pad = pad_same_arg(sizes[name], list(module.weight.shape[-2:]), list(module.stride), list(module.dilation))
            replacement = _FixedPadConv(module, pad)
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, attr, replacement)
        swapped.append((parent, attr, module))
    return swapped


def restore_modules(swapped: list[tuple[nn.Module, str, nn.Module]]) -> None:
    for parent, attr, original in swapped:
        setattr(parent, attr, original)


class _AllOutputs(nn.Module):
    """The graph's three outputs (:meth:`LoDa.forward_all`) as one module for the exporter."""

    def __init__(self, model: LoDa) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.model.forward_all(x)


_OUTPUTS = [OUTPUT_NAME, DETAIL_NAME, EMBEDDING_NAME]


def _torch_export(model: LoDa, example: torch.Tensor, path: Path, opset: int) -> None:
    with warnings.catch_warnings():
        # the tracer's notes on Python scalars in timm / F.normalize, and the exporter's own deprecation notice
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message=".*feature will be removed.*")
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")  # ViT's CLS-token slice
        try:
            torch.onnx.export(
                _AllOutputs(model).eval(),  # a new module starts in training mode
                (example,),
                str(path),
                input_names=[INPUT_NAME],
                output_names=_OUTPUTS,
                dynamic_axes={name: {0: "batch"} for name in [INPUT_NAME, *_OUTPUTS]},
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise OnnxExportError(f"torch.onnx.export failed (opset {opset}): {first}") from exc


def _verify(model: LoDa, path: Path, size: int, *, atol: float) -> float:
    """Run the exported graph with ONNX Runtime (CPU) at batch 1 (the trace used 2); max |onnx - torch|."""
    import onnxruntime as ort

    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        refs = [t.float().cpu().numpy() for t in model.forward_all(x.to(next(model.parameters()).device))]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    outs = session.run(None, {INPUT_NAME: x.numpy()})
    diff = 0.0
    for name, out, ref in zip(_OUTPUTS, outs, refs, strict=True):
        if out.shape != ref.shape:
            raise OnnxExportError(f"the exported {name} has shape {out.shape} for a batch of 1, torch {ref.shape}")
        diff = max(diff, float(np.max(np.abs(out - ref))))
    if not diff <= atol:
        raise OnnxExportError(f"the exported graph disagrees with torch by {diff:.2e} (tolerance {atol:.0e})")
    return diff


def quantize_int8(src: Path, dst: Path) -> None:
    """Dynamic INT8 quantization of the MatMul / Gemm weights (convolutions stay float)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    root.addFilter(_quiet_quantizer)  # it logs every tensor on the root logger
    try:
        quantize_dynamic(
            str(src), str(dst), op_types_to_quantize=["MatMul", "Gemm"], weight_type=QuantType.QInt8, per_channel=True
        )
    finally:
        root.removeFilter(_quiet_quantizer)


def _quiet_quantizer(record: logging.LogRecord) -> bool:
    return "/onnxruntime/quantization/" not in record.pathname.replace("\\", "/")


def remove_stale_work_dirs(out: Path) -> list[Path]:
    """Remove the work folders (``.NAME.onnx.<pid>.XXXX.tmp``) that exports of ``out`` killed before their
    cleanup left behind: those whose process is gone. A folder of a running export (its pid alive) is kept.
    Returns what was removed."""
    removed = []
    for entry in out.parent.glob(f".{glob.escape(out.name)}.*.tmp"):
        parts = entry.name[len(out.name) + 2 :].split(".")
        pid = int(parts[0]) if parts and parts[0].isdigit() else None
        if not entry.is_dir() or (pid is not None and _alive(pid)):
            continue
        if pid is None and time.time() - entry.stat().st_mtime < 24 * 3600:  # a work folder of an older version
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
        log.info("removed %s, left by an interrupted ONNX export", entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def export_onnx(
    model: LoDa,
    profile_metadata: Mapping[str, Any] | Profile | None,
    out_path: Path | str,
    *,
    opset: int = DEFAULT_OPSET,
    int8: bool = False,
    verify: bool = True,
) -> Path:
    """Export ``model`` (in eval mode) with ``profile_metadata`` embedded; returns the written path.

    ``profile_metadata``: a :class:`~model.profiles.Profile`, its ``metadata`` dict, or None for a bare
    config's metadata. ``verify`` compares ONNX Runtime with torch once (float graph, before quantization).
    """
    import onnx

    out = Path(out_path)
    if out.suffix.lower() != SUFFIX:
        raise OnnxExportError(f"{out}: the output file name must end in {SUFFIX}")
    if out.is_dir():
        raise OnnxExportError(f"{out}: is a folder")
    meta = onnx_metadata(model, profile_metadata, opset=opset, int8=int8)
    size = model.config.img_size
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_work_dirs(out)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".tmp", dir=out.parent))
    was_training = model.training
    try:
        model.eval()
        device = next(model.parameters()).device
        example = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0)).to(device)
        graph = work / "float.onnx"
        swapped = static_shapes(model, size)
        try:
            _torch_export(model, example, graph, opset)
        finally:
            restore_modules(swapped)
        proto = onnx.load(str(graph))
        _annotate(proto, meta)
        _check(proto)
        onnx.save(proto, str(graph))
        del proto
        if verify:
            _verify(model, graph, size, atol=VERIFY_ATOL)
        if int8:
            quantized = work / "int8.onnx"
            try:
                quantize_int8(graph, quantized)
            except Exception as exc:
                raise OnnxExportError(f"INT8 quantization failed: {exc}") from exc
            proto = onnx.load(str(quantized))
            _annotate(proto, meta)
            _check(proto)
            onnx.save(proto, str(quantized))
            graph = quantized
        os.replace(graph, out)
    finally:
        model.train(was_training)
        shutil.rmtree(work, ignore_errors=True)
    return out


__all__ = [
    "DEFAULT_OPSET",
    "OnnxExportError",
    "export_onnx",
    "onnx_metadata",
    "quantize_int8",
    "remove_stale_work_dirs",
    "restore_modules",
    "static_shapes",
]
