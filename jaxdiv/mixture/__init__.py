"""Gaussian mixtures, divergences between them, and the objectives that fit them.

* :class:`GaussianMixture`: a pytree with ``log_prob``, ``sample``, moments and
  an unconstrained parameterisation for optax;
* :func:`kl_divergence` (Monte Carlo, variational, Goldberger, product,
  Durrieu bounds, quadrature) and :func:`renyi_divergence`;
* the fitting objectives :func:`negative_log_likelihood` (forward KL),
  :func:`reverse_kl` and :func:`variational_renyi`.
"""

from jaxdiv.mixture._gaussian_mixture import GaussianMixture
from jaxdiv.mixture._kl import KL_METHODS, kl_divergence, renyi_divergence
from jaxdiv.mixture._objectives import negative_log_likelihood, reverse_kl, variational_renyi

__all__ = [
    "KL_METHODS",
    "GaussianMixture",
    "kl_divergence",
    "negative_log_likelihood",
    "renyi_divergence",
    "reverse_kl",
    "variational_renyi",
]
