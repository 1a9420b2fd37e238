"""Optimizers and learning-rate schedules (tinytorch.optim, as torch.optim)."""

from . import lr_scheduler  # noqa: F401
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import Adagrad, RMSprop
from .sgd import SGD
