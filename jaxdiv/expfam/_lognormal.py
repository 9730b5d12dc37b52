"""The LogNormal family: log X ~ Normal(mean, std); T(x) = (log x, (log x)^2)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdiv._numerics import LOG_2PI
from jaxdiv.expfam._family import Params, family
from jaxdiv.expfam._normal import Normal, gaussian_kl
from jaxdiv.expfam._registry import register_kl


@family
class LogNormal(Normal):
    """LogNormal whose logarithm is Normal(mean, std); same natural parameters as Normal.

    `from_mean_std(mean, std)` takes the mean and standard deviation of
    `log x` (scipy's `lognorm(s=std, scale=exp(mean))`), and
    `from_mean_log_std(mean, log_std)` the logarithm of that standard deviation.

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.LogNormal.from_mean_std(0.0, 1.0)
      >>> round(float(expfam.entropy(p)), 6)  # (1 + log 2 pi) / 2 + mean
      1.418939
    """

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        logx = jnp.log(jnp.asarray(x, self.dtype))
        return (logx, jnp.square(logx))

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        return -0.5 * LOG_2PI - jnp.log(jnp.asarray(x, self.dtype))

    def expected_log_base_measure(self) -> jax.Array:
        return -0.5 * LOG_2PI - self.loc

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Reparameterised: `exp(loc + std * N(0, 1))`."""
        return jnp.exp(super().sample(key, shape))


@register_kl(LogNormal)
def _lognormal_kl(p: LogNormal, q: LogNormal) -> jax.Array:
    return gaussian_kl(p.loc, p.log_std, q.loc, q.log_std)
