"""The trainer's user-facing exceptions, importable without torch, for the command line to catch."""

from .data import TrainError
from .datasets import DatasetError
from .finetune import FinetuneError
from .synthetic import SyntheticError

USER_ERRORS: tuple[type[Exception], ...] = (DatasetError, SyntheticError, TrainError, FinetuneError)
