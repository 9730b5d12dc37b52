"""Knowledge-distillation losses over language-model vocabularies."""

from jaxdiv.distill._losses import distillation_loss, fused_linear_distillation_loss

__all__ = ["distillation_loss", "fused_linear_distillation_loss"]
