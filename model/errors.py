"""Exceptions of the model package, importable without torch (the ONNX path must not import it)."""


class BackboneWeightsError(RuntimeError):
    """Pretrained backbone weights are missing or unusable; the message says how to supply them."""
