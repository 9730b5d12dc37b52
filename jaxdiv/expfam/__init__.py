"""Exponential families as pytrees of natural parameters, and divergences from A(theta).

Each family is an immutable pytree holding its natural parameters theta (any
batch shape), with its log-normalizer A(theta). The KL divergence between two
members is the Bregman divergence of A, which JAX differentiates, so every
family, including one defined by a user from A, T and log h alone, gets KL,
entropy, cross-entropy, Renyi, Bhattacharyya, Hellinger and Jeffreys
divergences. All divergences are in nats.
"""

from jaxdiv.expfam._bernoulli import Bernoulli
from jaxdiv.expfam._beta import Beta
from jaxdiv.expfam._beta_prime import BetaPrime
from jaxdiv.expfam._binomial import Binomial
from jaxdiv.expfam._categorical import Categorical
from jaxdiv.expfam._chi import Chi
from jaxdiv.expfam._chi_square import ChiSquare
from jaxdiv.expfam._continuous_bernoulli import ContinuousBernoulli
from jaxdiv.expfam._dirichlet import Dirichlet
from jaxdiv.expfam._divergences import (
    bhattacharyya_distance,
    bregman_kl,
    convex_conjugate,
    cross_entropy,
    entropy,
    hellinger_distance,
    jeffreys_divergence,
    kl_divergence,
    kl_divergence_dual,
    renyi_divergence,
)
from jaxdiv.expfam._exponential import Exponential
from jaxdiv.expfam._family import ExponentialFamily, family, static_field
from jaxdiv.expfam._foreign import from_distribution
from jaxdiv.expfam._gamma import Gamma
from jaxdiv.expfam._generalized_dirichlet import GeneralizedDirichlet
from jaxdiv.expfam._geometric import Geometric
from jaxdiv.expfam._half_normal import HalfNormal
from jaxdiv.expfam._inverse_gamma import InverseGamma
from jaxdiv.expfam._inverse_gaussian import InverseGaussian
from jaxdiv.expfam._laplace import Laplace
from jaxdiv.expfam._logarithmic import Logarithmic
from jaxdiv.expfam._lognormal import LogNormal
from jaxdiv.expfam._moment_match import moment_match
from jaxdiv.expfam._multinomial import Multinomial
from jaxdiv.expfam._mvn import MultivariateNormal
from jaxdiv.expfam._mvn_diag import MultivariateNormalDiag
from jaxdiv.expfam._mvn_isotropic import MultivariateNormalIsotropic
from jaxdiv.expfam._mvn_known_cov import MultivariateNormalKnownCovariance
from jaxdiv.expfam._negative_binomial import NegativeBinomial
from jaxdiv.expfam._normal import Normal
from jaxdiv.expfam._normal_gamma import NormalGamma
from jaxdiv.expfam._normal_inverse_wishart import NormalInverseWishart
from jaxdiv.expfam._normal_known_variance import NormalKnownVariance
from jaxdiv.expfam._pareto import Pareto
from jaxdiv.expfam._poisson import Poisson
from jaxdiv.expfam._rayleigh import Rayleigh
from jaxdiv.expfam._registry import register_kl
from jaxdiv.expfam._von_mises import VonMises
from jaxdiv.expfam._von_mises_fisher import VonMisesFisher
from jaxdiv.expfam._weibull import Weibull
from jaxdiv.expfam._wishart import Wishart

__all__ = [
    "Bernoulli",
    "Beta",
    "BetaPrime",
    "Binomial",
    "Categorical",
    "Chi",
    "ChiSquare",
    "ContinuousBernoulli",
    "Dirichlet",
    "Exponential",
    "ExponentialFamily",
    "Gamma",
    "GeneralizedDirichlet",
    "Geometric",
    "HalfNormal",
    "InverseGamma",
    "InverseGaussian",
    "Laplace",
    "LogNormal",
    "Logarithmic",
    "Multinomial",
    "MultivariateNormal",
    "MultivariateNormalDiag",
    "MultivariateNormalIsotropic",
    "MultivariateNormalKnownCovariance",
    "NegativeBinomial",
    "Normal",
    "NormalGamma",
    "NormalInverseWishart",
    "NormalKnownVariance",
    "Pareto",
    "Poisson",
    "Rayleigh",
    "VonMises",
    "VonMisesFisher",
    "Weibull",
    "Wishart",
    "bhattacharyya_distance",
    "bregman_kl",
    "convex_conjugate",
    "cross_entropy",
    "entropy",
    "family",
    "from_distribution",
    "hellinger_distance",
    "jeffreys_divergence",
    "kl_divergence",
    "kl_divergence_dual",
    "moment_match",
    "register_kl",
    "renyi_divergence",
    "static_field",
]
