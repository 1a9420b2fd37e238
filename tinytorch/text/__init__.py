"""Text: tokenizers (characters, byte-level BPE) and the tiny-Shakespeare corpus with random-window batches."""

from .corpus import TinyShakespeare
from .tokenizers import SPLIT_PATTERN, BPETokenizer, CharTokenizer

__all__ = ["SPLIT_PATTERN", "BPETokenizer", "CharTokenizer", "TinyShakespeare"]
