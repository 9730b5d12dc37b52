"""The Exponential family: theta = -rate, T(x) = x, A = -log(-theta)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdiv import _validation as val
from jaxdiv.expfam._family import ExponentialFamily, Params, UnitBaseMeasure, as_params, family


@family
class Exponential(UnitBaseMeasure, ExponentialFamily):
    r"""Exponential(rate) with natural parameter $\theta = -\lambda$ (the rate $\lambda$).

    Examples:
      >>> from jaxdiv import expfam
      >>> p, q = expfam.Exponential.from_rate(1.0), expfam.Exponential.from_rate(2.0)
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # log(1/2) + 2 - 1
      0.306853
    """

    neg_rate: jax.Array
    natural_event_ndims = (0,)
    boundary_members = False  # finite natural parameters at every member

    @classmethod
    def from_rate(cls, rate: jax.typing.ArrayLike) -> Exponential:
        fn = f"{cls.__name__}.from_rate"
        (rate,) = as_params(fn, rate=rate)
        val.check_domain(rate > 0, f"jaxdiv.expfam.{fn}: rate must be > 0.")
        return cls(-rate)

    @classmethod
    def from_mean_parameters(cls, mu: Params) -> Exponential:
        return cls.from_rate(1 / mu[0])

    @property
    def rate(self) -> jax.Array:
        return -self.neg_rate

    def log_normalizer(self) -> jax.Array:
        return -jnp.log(self.rate)

    def mean_parameters(self) -> Params:
        return (1 / self.rate,)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.asarray(x, self.dtype),)

    def in_domain(self) -> jax.Array:
        return self.neg_rate < 0

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Reparameterised: `E / rate` with `E ~ Exponential(1)`."""
        shape = tuple(shape) + self.batch_shape
        return jax.random.exponential(key, shape, self.dtype) / jnp.broadcast_to(self.rate, shape)
