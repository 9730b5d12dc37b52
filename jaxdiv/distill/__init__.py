"""Knowledge-distillation losses over language-model vocabularies.

The losses live in [`jaxdiv.lm`][jaxdiv.lm] with the other language-model losses; this module
re-exports the two that it first held, so code written against it keeps working.
"""

from jaxdiv.lm import distillation_loss, fused_linear_distillation_loss

__all__ = ["distillation_loss", "fused_linear_distillation_loss"]
