"""The univariate Normal family: theta = (mu / sigma^2, -1 / (2 sigma^2)), T(x) = (x, x^2)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxdiv import _validation as val
from jaxdiv.expfam._divergences import register_kl
from jaxdiv.expfam._family import ExponentialFamily, as_params, family

LOG_2PI = math.log(2 * math.pi)


def gaussian_log_normalizer(eta1: jax.Array, eta2: jax.Array) -> jax.Array:
    """``A = -eta1^2 / (4 eta2) - log(-2 eta2) / 2`` (Normal, LogNormal, diagonal MVN)."""
    return -jnp.square(eta1) / (4 * eta2) - 0.5 * jnp.log(-2 * eta2)


def gaussian_kl(m1, v1, m2, v2) -> jax.Array:
    """KL(N(m1, v1) || N(m2, v2)) elementwise, from means and variances."""
    ratio = v1 / v2
    return 0.5 * (ratio + jnp.square(m1 - m2) / v2 - 1 - jnp.log(ratio))


class GaussianCoordinates:
    """Shared by the families with natural parameters ``(mean / var, -1 / (2 var))``
    per coordinate (Normal, LogNormal, MultivariateNormalDiag)."""

    @classmethod
    def from_mean_parameters(cls, mu):
        m1, m2 = mu
        return cls.from_mean_std(m1, jnp.sqrt(m2 - jnp.square(m1)))

    @property
    def loc(self) -> jax.Array:
        """The mean (of ``log x`` for the LogNormal)."""
        return -self.eta1 / (2 * self.eta2)

    @property
    def var(self) -> jax.Array:
        return -0.5 / self.eta2

    def mean_parameters(self):
        m = self.loc
        return (m, jnp.square(m) + self.var)

    def sufficient_statistics(self, x):
        x = jnp.asarray(x, self.dtype)
        return (x, jnp.square(x))

    def sample(self, key, shape=()):
        """Reparameterised: ``loc + std * N(0, 1)``."""
        z = jax.random.normal(key, tuple(shape) + self.eta1.shape, self.dtype)
        loc, var = (jnp.broadcast_to(t, z.shape) for t in (self.loc, self.var))
        return loc + jnp.sqrt(var) * z


@family
class Normal(GaussianCoordinates, ExponentialFamily):
    """Normal(mean, std) with natural parameters ``(mean / var, -1 / (2 var))``.

    Examples:
      >>> from jaxdiv import expfam
      >>> d = expfam.Normal.from_mean_std(1.0, 2.0)
      >>> [round(float(m), 4) for m in d.mean_parameters()]
      [1.0, 5.0]
    """

    eta1: jax.Array
    eta2: jax.Array
    natural_event_ndims = (0, 0)

    @classmethod
    def from_mean_std(cls, mean: jax.typing.ArrayLike, std: jax.typing.ArrayLike) -> Normal:
        fn = f"{cls.__name__}.from_mean_std"
        mean, std = as_params(fn, mean=mean, std=std)
        val.check_domain(std > 0, f"jaxdiv.expfam.{fn}: std must be > 0.")
        var = jnp.square(std)
        return cls(mean / var, -0.5 / var)

    def log_normalizer(self) -> jax.Array:
        return gaussian_log_normalizer(self.eta1, self.eta2)

    def log_base_measure(self, x):
        return jnp.full(jnp.shape(x), -0.5 * LOG_2PI, self.dtype)

    def expected_log_base_measure(self):
        return jnp.full(self.batch_shape, -0.5 * LOG_2PI, self.dtype)

    def in_domain(self):
        return self.eta2 < 0


@register_kl(Normal)
def _normal_kl(p: Normal, q: Normal) -> jax.Array:
    return gaussian_kl(p.loc, p.var, q.loc, q.var)
