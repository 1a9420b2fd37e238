"""Model compression (tinytorch.compress): magnitude and structured pruning with masks that stay
applied through training, sparsity reports, low-rank factorization of Linear layers by truncated
SVD, and a knowledge-distillation loss.

    prune_magnitude(model, 0.8, optimizer=opt)   # 80% of the weights become 0 and stay 0
    sparsity_report(model)                       # rows: layer, parameters, zeros, sparsity
"""

from .distill import distillation_loss
from .lowrank import low_rank, low_rank_model, relative_error, svd_tail_error
from .prune import is_pruned, prune_magnitude, prune_structured, remove
from .report import sparse_nbytes, sparsity_report

__all__ = [
    "distillation_loss",
    "is_pruned",
    "low_rank",
    "low_rank_model",
    "prune_magnitude",
    "prune_structured",
    "relative_error",
    "remove",
    "sparse_nbytes",
    "sparsity_report",
    "svd_tail_error",
]
