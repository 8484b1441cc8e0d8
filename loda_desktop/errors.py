"""The one list of errors a user can act on: bad model or settings, missing weights, a damaged catalog, too few
ratings... Their message is written for the photographer and shown as is (one line in ``loda``, a notice in the
window); anything else is a bug and keeps its traceback in the log.

Importing this module imports no torch (the ONNX-only scoring path uses it too).
"""

from __future__ import annotations

from model.configs import ConfigError
from model.errors import BackboneWeightsError
from model.profiles import ProfileError
from model.scorer import ScorerError
from trainer.errors import USER_ERRORS as TRAINER_ERRORS

from .catalog import CatalogError
from .engine import EngineError

__all__ = ["USER_ERRORS", "CommandError"]


class CommandError(Exception):
    """Bad input to a ``loda`` command that no library call catches first (a file name, a flag combination)."""


USER_ERRORS: tuple[type[Exception], ...] = (
    CommandError,
    EngineError,
    ProfileError,
    ScorerError,
    ConfigError,
    BackboneWeightsError,
    CatalogError,
    *TRAINER_ERRORS,
)
