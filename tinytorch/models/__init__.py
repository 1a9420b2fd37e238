"""Models written top to bottom in one file each."""

from .gpt import GPT, GPTConfig
