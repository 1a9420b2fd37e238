"""Training (tinytorch.train): fit() and Trainer, evaluate(), callbacks, checkpoints.

Typical use: history = fit(model, train_loader, nn.CrossEntropyLoss(), optimizer, epochs=5,
val_loader=test_loader, checkpoint="runs/mlp.npz"); later the same call with resume="runs/mlp.npz"
and a larger `epochs` continues the run where the checkpoint left it.
"""

from .callbacks import Callback, EarlyStopping, ProgressBar
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .trainer import METRICS, History, Trainer, accuracy, evaluate, fit

__all__ = [
    "METRICS",
    "Callback",
    "CheckpointError",
    "EarlyStopping",
    "History",
    "ProgressBar",
    "Trainer",
    "accuracy",
    "evaluate",
    "fit",
    "load_checkpoint",
    "save_checkpoint",
]
