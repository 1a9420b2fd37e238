"""Datasets, DataLoader and batch transforms, with torch.utils.data's and torchvision's names."""

from . import transforms
from .dataset import ArrayDataset, Dataset, Subset, TensorDataset, default_collate, random_split
from .loader import DataLoader

__all__ = ["ArrayDataset", "DataLoader", "Dataset", "Subset", "TensorDataset", "default_collate", "random_split", "transforms"]
