r"""A numerical route for any pair of distributions.

Closed forms where they exist, adaptive quadrature in one dimension, and Monte
Carlo estimates with their standard errors everywhere else, for any objects with
`log_prob` (and `sample` for Monte Carlo): jaxdiv's families and mixtures, and
distrax, TensorFlow Probability and NumPyro distributions.
Every quantity is an expectation under `p`, such as

$$
\mathrm{KL}(p \,\|\, q) = \int p(x) \log \frac{p(x)}{q(x)} \, dx .
$$
"""

from jaxdiv.numerical._adapters import Density
from jaxdiv.numerical._divergences import (
    Estimate,
    cross_entropy,
    entropy,
    f_divergence,
    kl_divergence,
    renyi_divergence,
)

__all__ = [
    "Density",
    "Estimate",
    "cross_entropy",
    "entropy",
    "f_divergence",
    "kl_divergence",
    "renyi_divergence",
]
