"""The half-normal family: theta = -1 / (2 sigma^2), T(x) = x^2, A = log sigma."""

from __future__ import annotations

import math
from typing import Self

import jax
import jax.numpy as jnp

from jaxdiv.expfam._family import Params, family
from jaxdiv.expfam._registry import register_kl
from jaxdiv.expfam._scale import ScaleFamily, scale_kl

_LOG_H = 0.5 * math.log(2 / math.pi)


@family
class HalfNormal(ScaleFamily):
    r"""HalfNormal(scale): $|Z| \sigma$ with $Z$ standard normal; $\theta = -1 / (2 \sigma^2)$.

    Density $\sqrt{2 / \pi}\, \sigma^{-1} e^{-x^2 / (2 \sigma^2)}$ on $x \ge 0$:
    $T(x) = x^2$, $h(x) = \sqrt{2 / \pi}$, $A = \log \sigma$. The member stores
    $\log \sigma$; `from_log_scale` builds one from it. Registered closed form
    $\mathrm{KL} = (e^{2 d} - 1 - 2 d) / 2$ with $d = \log(\sigma_1 / \sigma_2)$.

    Examples:
      >>> import math
      >>> from jaxdiv import expfam
      >>> p = expfam.HalfNormal.from_scale(1.0)
      >>> h = float(expfam.entropy(p))
      >>> round(h - 0.5 * math.log(math.pi * math.e / 2), 6)  # log(pi e / 2) / 2 + log sigma
      0.0
    """

    log_scale: jax.Array
    theta_coef = 0.5
    normalizer_weight = 0.5
    scale_power = 2.0

    @classmethod
    def from_scale(cls, scale: jax.typing.ArrayLike) -> HalfNormal:
        """The member with scale `scale` (> 0): scipy's `halfnorm(scale=scale)`."""
        return cls(cls._checked_scale(f"{cls.__name__}.from_scale", "scale", scale))

    @classmethod
    def from_log_scale(cls, log_scale: jax.typing.ArrayLike) -> HalfNormal:
        """The member with scale `exp(log_scale)` (finite)."""
        return cls(cls._checked_log_scale(f"{cls.__name__}.from_log_scale", "log_scale", log_scale))

    @classmethod
    def from_mean_parameters(cls, mu: Params) -> Self:
        return cls(0.5 * jnp.log(jnp.asarray(mu[0])))

    @property
    def scale(self) -> jax.Array:
        return jnp.exp(self.log_scale)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.square(jnp.asarray(x, self.dtype)),)

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        x = jnp.asarray(x, self.dtype)
        return jnp.where(x >= 0, _LOG_H, -jnp.inf).astype(self.dtype)

    def expected_log_base_measure(self) -> jax.Array:
        return jnp.full(self.batch_shape, _LOG_H, self.dtype)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Reparameterised: `sigma |N(0, 1)|`."""
        shape = tuple(shape) + self.batch_shape
        z = jax.random.normal(key, shape, self.dtype)
        return jnp.broadcast_to(self.scale, shape) * jnp.abs(z)


register_kl(HalfNormal)(scale_kl)
