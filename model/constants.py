"""Constants that torch-free code (the command line's parsers) shares with the torch-using model code."""

from __future__ import annotations

__all__ = ["DEFAULT_OPSET"]

DEFAULT_OPSET = 17  # the ONNX opset :func:`model.onnx_export.export_onnx` writes unless told otherwise
