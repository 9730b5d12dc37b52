r"""jaxdiv: differentiable divergences in JAX, correct at the boundaries.

The whole public surface of the discrete API is listed here. Conventions:
`D(p, q)` means $D(p \,\|\, q)$, target first; distributions lie along `axis`
(default -1); `where` masks entries; `base=None` gives nats and `base=2` bits.
"""

from jaxdiv import distill, expfam, fit, lm, mixture, numerical, samples
from jaxdiv._binary import (
    binary_cross_entropy,
    binary_cross_entropy_from_logits,
    binary_entropy,
    binary_focal_loss_from_logits,
    binary_kl_divergence,
    binary_kl_divergence_from_logits,
)
from jaxdiv._bregman import bregman_divergence
from jaxdiv._discrete import (
    alpha_divergence,
    bhattacharyya_distance,
    chi_square_divergence,
    cross_entropy,
    entropy,
    f_divergence,
    hellinger_distance,
    jeffreys_divergence,
    js_divergence,
    kl_divergence,
    mutual_information,
    perplexity,
    renyi_divergence,
    total_variation,
)
from jaxdiv._logits import (
    cross_entropy_from_integer_labels,
    cross_entropy_from_logits,
    cross_entropy_with_logits,
    entropy_from_logits,
    focal_loss_from_integer_labels,
    js_divergence_from_logits,
    kl_divergence_from_logits,
    kl_divergence_with_logits,
    renyi_divergence_from_logits,
)
from jaxdiv._validation import checked

__version__ = "0.1.0"

__all__ = [
    "alpha_divergence",
    "bhattacharyya_distance",
    "binary_cross_entropy",
    "binary_cross_entropy_from_logits",
    "binary_entropy",
    "binary_focal_loss_from_logits",
    "binary_kl_divergence",
    "binary_kl_divergence_from_logits",
    "bregman_divergence",
    "checked",
    "chi_square_divergence",
    "cross_entropy",
    "cross_entropy_from_integer_labels",
    "cross_entropy_from_logits",
    "cross_entropy_with_logits",
    "distill",
    "entropy",
    "entropy_from_logits",
    "expfam",
    "f_divergence",
    "fit",
    "focal_loss_from_integer_labels",
    "hellinger_distance",
    "jeffreys_divergence",
    "js_divergence",
    "js_divergence_from_logits",
    "kl_divergence",
    "kl_divergence_from_logits",
    "kl_divergence_with_logits",
    "lm",
    "mixture",
    "mutual_information",
    "numerical",
    "perplexity",
    "renyi_divergence",
    "renyi_divergence_from_logits",
    "samples",
    "total_variation",
]
