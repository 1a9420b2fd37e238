"""Datasets with torchvision's names, read from the official files under a root folder
($TINYTORCH_DATA, else ~/.cache/tinytorch/datasets), plus small synthetic point sets."""

from ._files import DatasetError, default_root
from .cifar import CIFAR10
from .mnist import MNIST, FashionMNIST, read_idx
from .synthetic import linearly_separable, moons, spirals, xor

__all__ = [
    "CIFAR10",
    "MNIST",
    "DatasetError",
    "FashionMNIST",
    "default_root",
    "linearly_separable",
    "moons",
    "read_idx",
    "spirals",
    "xor",
]
