"""Every primitive op. Importing this package fills the OPS table."""

from . import compare, elementwise, inplace, linalg, nn, reduce, shape  # noqa: F401
