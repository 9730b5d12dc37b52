"""The Gamma family: theta = (shape - 1, -rate), T(x) = (log x, x)."""

from __future__ import annotations

from typing import Self

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln

from jaxdiv import _validation as val
from jaxdiv.expfam._chi_square import ChiSquare
from jaxdiv.expfam._exponential import Exponential
from jaxdiv.expfam._family import ExponentialFamily, Params, UnitBaseMeasure, as_params, family
from jaxdiv.expfam._registry import register_lift


@family
class Gamma(UnitBaseMeasure, ExponentialFamily):
    r"""Gamma(shape, rate) with natural parameters $(k - 1, -\lambda)$ (shape $k$, rate $\lambda$).

    $A = \log \Gamma(\theta_1 + 1) - (\theta_1 + 1) \log(-\theta_2)$.

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Gamma.from_shape_rate(1.0, 1.0)  # Exponential(1)
      >>> round(float(expfam.entropy(p)), 6)
      1.0
    """

    shape_m1: jax.Array
    neg_rate: jax.Array
    natural_event_ndims = (0, 0)
    boundary_members = False  # finite natural parameters at every member

    @classmethod
    def from_shape_rate(cls, shape: jax.typing.ArrayLike, rate: jax.typing.ArrayLike) -> Gamma:
        fn = f"{cls.__name__}.from_shape_rate"
        shape, rate = as_params(fn, shape=shape, rate=rate)
        val.check_domain(
            (shape > 0) & (rate > 0), f"jaxdiv.expfam.{fn}: shape and rate must be > 0."
        )
        return cls(shape - 1, -rate)

    @classmethod
    def _newton_start(cls, mu: Params) -> Self:
        mean = jnp.asarray(mu[1])
        return cls(jnp.zeros_like(mean), -1 / mean)  # the Exponential with the same mean

    @property
    def concentration(self) -> jax.Array:
        return self.shape_m1 + 1

    @property
    def rate(self) -> jax.Array:
        return -self.neg_rate

    def log_normalizer(self) -> jax.Array:
        a = self.concentration
        return gammaln(a) - a * jnp.log(self.rate)

    def mean_parameters(self) -> Params:
        a, b = self.concentration, self.rate
        return (digamma(a) - jnp.log(b), a / b)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        x = jnp.asarray(x, self.dtype)
        return (jnp.log(x), x)

    def in_domain(self) -> jax.Array:
        return (self.shape_m1 > -1) & (self.neg_rate < 0)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Reparameterised (implicit gradients of `jax.random.gamma`)."""
        shape = tuple(shape) + self.batch_shape
        draw = jax.random.gamma(key, jnp.broadcast_to(self.concentration, shape), shape, self.dtype)
        return draw / jnp.broadcast_to(self.rate, shape)


@register_lift(Exponential)
def _exponential_as_gamma(d: Exponential) -> Gamma:
    """Exponential(rate) is Gamma(1, rate)."""
    return Gamma(jnp.zeros_like(d.neg_rate), d.neg_rate)


@register_lift(ChiSquare)
def _chi_square_as_gamma(d: ChiSquare) -> Gamma:
    """ChiSquare(df) is Gamma(df / 2, 1 / 2)."""
    df = jnp.asarray(d.df)
    return Gamma(df / 2 - 1, jnp.full_like(df, -0.5))
