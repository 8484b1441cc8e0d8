"""LoDa Desktop: photo culling with the LoDa image-quality model. The window lives in ``loda_desktop.ui``."""

__version__ = "0.1.0"
