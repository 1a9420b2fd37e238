"""Knowledge distillation (Hinton, Vinyals and Dean, 2015): a student learns from a teacher's
softened class probabilities as well as from the labels."""

from __future__ import annotations

from ..nn import functional as F
from ..tensor import Tensor


def distillation_loss(
    student_logits: Tensor, teacher_logits: Tensor, targets: Tensor, T: float = 4.0, alpha: float = 0.9
) -> Tensor:
    """alpha T^2 KL(softmax(t / T) || softmax(s / T)) + (1 - alpha) cross_entropy(s, targets).

    The KL term is summed over classes and averaged over the batch (PyTorch's "batchmean").
    A temperature T > 1 softens both distributions, so the teacher's small probabilities (which
    wrong classes look alike) carry signal; the soft term's gradient shrinks as 1/T^2, and the
    T^2 factor keeps it the same size whatever T is. No gradient flows into the teacher.
    Written with differentiable primitives, so autograd gives the backward."""
    if not T > 0:
        raise ValueError(f"the temperature T must be > 0, got {T}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha weighs the soft term against the hard one and must lie in [0, 1], got {alpha}")
    if student_logits.shape != teacher_logits.shape or student_logits.ndim != 2:
        raise ValueError(f"student and teacher logits must both be (N, C), got {student_logits.shape} and {teacher_logits.shape}")
    log_p_teacher = (teacher_logits.detach() / T).log_softmax(dim=1)  # (N, C), log-probabilities stay finite
    log_p_student = (student_logits / T).log_softmax(dim=1)  # (N, C)
    kl = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(dim=1).mean()
    hard = F.cross_entropy(student_logits, targets)
    return alpha * T * T * kl + (1 - alpha) * hard
