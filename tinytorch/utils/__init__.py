"""Utilities: gradient checkpointing (tinytorch.utils.checkpoint(fn, *args))."""

from .checkpoint import Checkpoint, checkpoint
