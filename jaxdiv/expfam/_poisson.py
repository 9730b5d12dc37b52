"""The Poisson family: theta = log(rate), T(x) = x, A = exp(theta), h(x) = 1 / x!."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv.expfam._family import ExponentialFamily, Params, as_params, family, log_factorial

# E[log X!] is summed exactly over 0.._SUM_TERMS-1 below _SERIES_FROM, where the
# neglected tail is below 1e-100; above, the entropy's asymptotic series is used
# (its next term is below 1e-11 there).
_SUM_TERMS = 600
_SERIES_FROM = 200.0


@family
class Poisson(ExponentialFamily):
    r"""Poisson(rate) with natural parameter $\theta = \log \lambda$ (the rate $\lambda$).

    `rate = 0` (natural parameter `-inf`, all the mass at 0) is a member.

    Examples:
      >>> from jaxdiv import expfam
      >>> p, q = expfam.Poisson.from_rate(2.0), expfam.Poisson.from_rate(1.0)
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # 2 log 2 - 2 + 1
      0.386294
    """

    log_rate: jax.Array
    natural_event_ndims = (0,)

    @classmethod
    def from_rate(cls, rate: jax.typing.ArrayLike) -> Poisson:
        fn = f"{cls.__name__}.from_rate"
        (rate,) = as_params(fn, rate=rate)
        val.check_domain(rate >= 0, f"jaxdiv.expfam.{fn}: rate must be >= 0.")
        return cls(num.safe_log(rate))

    @classmethod
    def from_mean_parameters(cls, mu: Params) -> Poisson:
        return cls.from_rate(mu[0])

    @property
    def rate(self) -> jax.Array:
        return jnp.exp(self.log_rate)

    def log_normalizer(self) -> jax.Array:
        return self.rate

    def mean_parameters(self) -> Params:
        return (self.rate,)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.asarray(x, self.dtype),)

    def in_domain(self) -> jax.Array:
        return self.log_rate < jnp.inf

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        return -log_factorial(jnp.asarray(x, self.dtype))

    def expected_log_base_measure(self) -> jax.Array:
        """`-E[log X!]`: an exact sum for rates below 200, the asymptotic series above."""
        lam = self.rate
        small = jnp.minimum(lam, _SERIES_FROM)[..., None]
        k = jnp.broadcast_to(jnp.arange(_SUM_TERMS, dtype=self.dtype), (*lam.shape, _SUM_TERMS))
        log_fact = log_factorial(k)
        log_pmf = num.mul_log(k, num.safe_log(small)) - small - log_fact
        exact = -jnp.sum(jnp.exp(log_pmf) * log_fact, axis=-1)
        # H = 1/2 log(2 pi e lam) - 1/(12 lam) - 1/(24 lam^2) - 19/(360 lam^3) + O(lam^-4),
        # and H = lam - lam log lam + E[log X!], so -E[log X!] = lam - lam log lam - H.
        big = jnp.maximum(lam, _SERIES_FROM)
        entropy = (
            0.5 * jnp.log(2 * jnp.pi * jnp.e * big)
            - 1 / (12 * big)
            - 1 / (24 * big**2)
            - 19 / (360 * big**3)
        )
        series = big - big * jnp.log(big) - entropy
        return jnp.where(lam < _SERIES_FROM, exact, series)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        shape = tuple(shape) + self.batch_shape
        return jax.random.poisson(key, jnp.broadcast_to(self.rate, shape), shape).astype(self.dtype)
