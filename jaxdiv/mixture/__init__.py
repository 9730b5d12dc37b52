"""Gaussian mixtures, divergences between them, and the objectives that fit them.

* [`GaussianMixture`][jaxdiv.mixture.GaussianMixture]: a pytree with `log_prob`, `sample`, moments
  and an unconstrained parameterisation for optax;
* [`kl_divergence`][jaxdiv.mixture.kl_divergence] (Monte Carlo, variational, Goldberger, product,
  Durrieu bounds, quadrature) and [`renyi_divergence`][jaxdiv.mixture.renyi_divergence];
* the fitting objectives [`negative_log_likelihood`][jaxdiv.mixture.negative_log_likelihood]
  (forward KL), [`reverse_kl`][jaxdiv.mixture.reverse_kl] and
  [`variational_renyi`][jaxdiv.mixture.variational_renyi];
* [`from_distribution`][jaxdiv.mixture.from_distribution]: a `MixtureSameFamily` of Gaussians
  from distrax, TensorFlow Probability or NumPyro, which every function here also accepts.
"""

from jaxdiv.mixture._foreign import from_distribution
from jaxdiv.mixture._gaussian_mixture import GaussianMixture
from jaxdiv.mixture._kl import KL_METHODS, kl_divergence, renyi_divergence
from jaxdiv.mixture._objectives import negative_log_likelihood, reverse_kl, variational_renyi

__all__ = [
    "KL_METHODS",
    "GaussianMixture",
    "from_distribution",
    "kl_divergence",
    "negative_log_likelihood",
    "renyi_divergence",
    "reverse_kl",
    "variational_renyi",
]
