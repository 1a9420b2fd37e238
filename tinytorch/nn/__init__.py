"""Neural-network building blocks (tinytorch.nn, as torch.nn)."""

from . import functional, init, utils  # noqa: F401
from .container import ModuleDict, ModuleList, Sequential
from .conv import AdaptiveAvgPool2d, AvgPool2d, Conv2d, Dropout2d, MaxPool2d
from .layers import (
    GELU,
    BatchNorm1d,
    BatchNorm2d,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)  # fmt: skip
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import Module, Parameter
from .transformer import (
    MLP,
    CausalSelfAttention,
    KVCache,
    MultiheadAttention,
    PositionalEmbedding,
    SinusoidalPositionalEncoding,
    TransformerBlock,
)  # fmt: skip
