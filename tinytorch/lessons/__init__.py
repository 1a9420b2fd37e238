"""The course machinery behind `tinytorch lessons / lesson / check / release`: the catalogue of the
20 lessons, where their sources live, and (in the submodules) the notebook format, the learner's
workspace, the checks, milestones and the environment doctor. See modules/README.md.

A lesson is modules/NN_name/ in a checkout of the repository: lesson.py (a Jupytext percent-format
notebook, the source of truth), README.md and test_lesson.py. A lesson "is available" when its
lesson.py exists; the other catalogue entries are listed as not available yet.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# (number, name, what the learner builds). The names are the folder names: modules/01_tensor, ...
CATALOGUE: tuple[tuple[int, str, str], ...] = (
    (1, "tensor", "Tensors: data, shape, dtype, broadcasting, and what they cost in memory"),
    (2, "activations", "Activations: ReLU, sigmoid, tanh, GELU, softmax"),
    (3, "layers", "Layers: Linear, Module, parameters"),
    (4, "losses", "Losses: mean squared error and cross-entropy"),
    (5, "autograd", "Autograd: forward and backward side by side, and the engine that runs them"),
    (6, "optimizers", "Optimizers: SGD, momentum, Adam, and their memory"),
    (7, "training", "Training: the loop, gradient flow, an exploding run"),
    (8, "dataloader", "Data loading: datasets, batches, transforms"),
    (9, "convolutions", "Convolutions: im2col and pooling"),
    (10, "tokenization", "Tokenization: characters and byte-pair encoding"),
    (11, "embeddings", "Embeddings and positional encodings"),
    (12, "attention", "Attention: scaled dot product, causal masks, memory growing as T^2"),
    (13, "transformers", "Transformers: the block and a small GPT"),
    (14, "profiling", "Profiling: where time, FLOPs and memory go"),
    (15, "quantization", "Quantization: int8 weights and activations"),
    (16, "compression", "Compression: pruning, low rank, distillation"),
    (17, "memoization", "Memoization: the KV cache"),
    (18, "acceleration", "Acceleration: vectorisation and the roofline"),
    (19, "benchmarking", "Benchmarking: fair comparisons against PyTorch"),
    (20, "capstone", "Capstone: train, inspect and tune a model end to end"),
)


class LessonError(RuntimeError):
    """A lesson that does not exist, is not written yet, or cannot be found; the message says what to do."""


@dataclass(frozen=True)
class Lesson:
    number: int
    name: str
    title: str
    root: Path | None  # the modules/ folder, None when no course sources were found

    @property
    def slug(self) -> str:
        """'01_tensor': the folder name, and the workspace notebook's stem."""
        return f"{self.number:02d}_{self.name}"

    @property
    def dir(self) -> Path | None:
        return None if self.root is None else self.root / self.slug

    @property
    def source(self) -> Path | None:
        """modules/NN_name/lesson.py, the reference notebook."""
        return None if self.dir is None else self.dir / "lesson.py"

    @property
    def tests(self) -> Path | None:
        return None if self.dir is None else self.dir / "test_lesson.py"

    @property
    def available(self) -> bool:
        return self.source is not None and self.source.is_file()


def modules_root() -> Path | None:
    """The course's modules/ folder: $TINYTORCH_MODULES, else modules/ beside the tinytorch package
    (a checkout of the repository, installed with `pip install -e .`), else None."""
    env = os.environ.get("TINYTORCH_MODULES")
    if env:
        return Path(env).expanduser().resolve()
    beside = Path(__file__).resolve().parent.parent.parent / "modules"
    return beside if beside.is_dir() else None


def lessons(root: Path | None = None) -> list[Lesson]:
    """All 20 lessons of the catalogue, available or not."""
    root = modules_root() if root is None else root
    return [Lesson(n, name, title, root) for n, name, title in CATALOGUE]


def get(key: str | int, root: Path | None = None, available: bool = True) -> Lesson:
    """A lesson by number (5, '05'), name ('autograd') or folder name ('05_autograd')."""
    text = str(key).strip().lower()
    for lesson in lessons(root):
        if text in (str(lesson.number), f"{lesson.number:02d}", lesson.name, lesson.slug):
            break
    else:
        names = ", ".join(f"{n} {name}" for n, name, _ in CATALOGUE)
        raise LessonError(f"no lesson {key!r}; the lessons are {names}")
    if available and not lesson.available:
        if lesson.root is None:
            raise LessonError(
                "the lessons' sources (modules/) were not found: install tinytorch from a checkout of its "
                "repository (pip install -e .) or set TINYTORCH_MODULES to the modules/ folder"
            )
        raise LessonError(f"lesson {lesson.number:02d} ({lesson.name}) is not available yet: {lesson.source} does not exist")
    return lesson
