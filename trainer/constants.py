"""Names the torch-free parts of the trainer share with the torch-using ones, kept in one place.

The command line (:mod:`trainer.cli`) and the run settings (:class:`trainer.train_config.TrainConfig`) must not
import torch, while :mod:`trainer.baselines`, which builds the networks these names stand for, does: both read the
names from here.
"""

from __future__ import annotations

__all__ = ["BASELINES", "METHODS"]

# the fine-tuning baselines of Table V and a CNN-only control of this project's (``cnn_head``; the paper has no
# such row: Table VI's rows are the full fine-tune, "ViT + Extractor" = ``--injector add``, and LoDa)
BASELINES = ("linear", "full", "adapter", "lora", "vpt", "cnn_head")
# what ``--method`` accepts: the real LoDa, then the baselines
METHODS = ("loda", *BASELINES)
