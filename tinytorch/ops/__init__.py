"""Every primitive op. Importing this package fills the OPS table."""

from . import compare, conv, elementwise, inplace, linalg, nn, norm, reduce, shape  # noqa: F401
