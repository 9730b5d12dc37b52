"""Language-model losses over large vocabularies: the fused cross-entropy with integer labels,
distillation between teacher and student, per-token statistics and the KL estimators of RL
fine-tuning."""

from jaxdiv.lm._cross_entropy import CrossEntropyStats, fused_linear_cross_entropy
from jaxdiv.lm._distillation import distillation_loss, fused_linear_distillation_loss
from jaxdiv.lm._estimators import kl_estimate
from jaxdiv.lm._topk import topk_distillation_loss

__all__ = [
    "CrossEntropyStats",
    "distillation_loss",
    "fused_linear_cross_entropy",
    "fused_linear_distillation_loss",
    "kl_estimate",
    "topk_distillation_loss",
]
