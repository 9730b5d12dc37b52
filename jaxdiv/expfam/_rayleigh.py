"""The Rayleigh family: theta = -1 / (2 sigma^2), T(x) = x^2, h(x) = x, A = 2 log sigma."""

from __future__ import annotations

import math
from typing import Self

import jax
import jax.numpy as jnp

from jaxdiv.expfam._family import Params, family
from jaxdiv.expfam._registry import register_kl
from jaxdiv.expfam._scale import ScaleFamily, scale_kl

_EULER_GAMMA = 0.5772156649015329


@family
class Rayleigh(ScaleFamily):
    r"""Rayleigh(scale) with natural parameter $\theta = -1 / (2 \sigma^2)$ (the scale $\sigma$).

    Density $x \sigma^{-2} e^{-x^2 / (2 \sigma^2)}$ on $x \ge 0$: $T(x) = x^2$,
    $h(x) = x$, $A = 2 \log \sigma$. The member stores $\log \sigma$ (as the Gaussians store their
    log standard deviation); `from_log_scale` builds one from it, and the
    registered closed form $\mathrm{KL} = e^{2 d} - 1 - 2 d$ with
    $d = \log(\sigma_1 / \sigma_2)$ has no cancellation near $d = 0$.

    Examples:
      >>> from jaxdiv import expfam
      >>> p, q = expfam.Rayleigh.from_scale(1.0), expfam.Rayleigh.from_scale(2.0)
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # 2 log 2 + 1/4 - 1
      0.636294
      >>> round(float(p.mean_parameters()[0]), 6)  # E[X^2] = 2 sigma^2
      2.0
    """

    log_scale: jax.Array
    theta_coef = 0.5
    normalizer_weight = 1.0
    scale_power = 2.0

    @classmethod
    def from_scale(cls, scale: jax.typing.ArrayLike) -> Rayleigh:
        """The member with scale `scale` (> 0): scipy's `rayleigh(scale=scale)`."""
        return cls(cls._checked_scale(f"{cls.__name__}.from_scale", "scale", scale))

    @classmethod
    def from_log_scale(cls, log_scale: jax.typing.ArrayLike) -> Rayleigh:
        """The member with scale `exp(log_scale)` (finite)."""
        return cls(cls._checked_log_scale(f"{cls.__name__}.from_log_scale", "log_scale", log_scale))

    @classmethod
    def from_mean_parameters(cls, mu: Params) -> Self:
        return cls(jnp.log(0.5 * jnp.asarray(mu[0])) / 2)

    @property
    def scale(self) -> jax.Array:
        return jnp.exp(self.log_scale)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.square(jnp.asarray(x, self.dtype)),)

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        return jnp.log(jnp.asarray(x, self.dtype))

    def expected_log_base_measure(self) -> jax.Array:
        # E[log X] = log sigma + (log 2 - gamma) / 2
        return self.log_scale + 0.5 * (math.log(2.0) - _EULER_GAMMA)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Reparameterised: `sigma sqrt(2 E)` with `E ~ Exponential(1)`."""
        shape = tuple(shape) + self.batch_shape
        e = jax.random.exponential(key, shape, self.dtype)
        return jnp.broadcast_to(self.scale, shape) * jnp.sqrt(2 * e)


register_kl(Rayleigh)(scale_kl)
