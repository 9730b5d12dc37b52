"""The Weibull family with a fixed shape k: theta = -scale^-k, T(x) = x^k, A = k log scale."""

from __future__ import annotations

import math
from typing import Self

import jax
import jax.numpy as jnp

from jaxdiv import _validation as val
from jaxdiv.expfam._family import Params, family, static_field
from jaxdiv.expfam._registry import register_kl
from jaxdiv.expfam._scale import ScaleFamily, scale_kl

_EULER_GAMMA = 0.5772156649015329


@family
class Weibull(ScaleFamily):
    r"""Weibull(shape, scale) for a fixed (static) shape $k$; natural parameter $-\lambda^{-k}$.

    Density $(k / \lambda) (x / \lambda)^{k - 1} e^{-(x / \lambda)^k}$ on $x \ge 0$:
    with $k$ fixed the family is exponential in the scale $\lambda$, with
    $T(x) = x^k$, $h(x) = k x^{k - 1}$ and $A = k \log \lambda$. The member
    stores $\log \lambda$; `from_shape_log_scale` builds one from it.
    Registered closed form $\mathrm{KL} = e^{k d} - 1 - k d$ with
    $d = \log(\lambda_1 / \lambda_2)$ (two members must share their shape).

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Weibull.from_shape_scale(1.0, 1.0)  # Exponential(1)
      >>> q = expfam.Weibull.from_shape_scale(1.0, 0.5)  # Exponential(2)
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # log(1/2) + 2 - 1
      0.306853
    """

    log_scale: jax.Array
    shape: float = static_field()
    theta_coef = 1.0
    normalizer_weight = 1.0

    @classmethod
    def from_shape_scale(cls, shape: float, scale: jax.typing.ArrayLike) -> Weibull:
        """The member with shape `shape` (a Python float > 0, static) and scale `scale` (> 0):
        scipy's `weibull_min(shape, scale=scale)`."""
        fn = f"{cls.__name__}.from_shape_scale"
        shape = val.finite_float("shape", shape, fn=f"expfam.{fn}", positive=True)
        return cls(cls._checked_scale(fn, "scale", scale), shape)

    @classmethod
    def from_shape_log_scale(cls, shape: float, log_scale: jax.typing.ArrayLike) -> Weibull:
        """The member with shape `shape` (static) and scale `exp(log_scale)` (finite)."""
        fn = f"{cls.__name__}.from_shape_log_scale"
        shape = val.finite_float("shape", shape, fn=f"expfam.{fn}", positive=True)
        return cls(cls._checked_log_scale(fn, "log_scale", log_scale), shape)

    @classmethod
    def from_mean_parameters(cls, mu: Params, *, shape: float) -> Self:
        """The member with `E[X^k] = mu[0]`, which is `scale^k`."""
        return cls(jnp.log(jnp.asarray(mu[0])) / shape, float(shape))

    def power(self) -> float:
        return self.shape

    @property
    def scale(self) -> jax.Array:
        return jnp.exp(self.log_scale)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.power(jnp.asarray(x, self.dtype), self.shape),)

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        x = jnp.asarray(x, self.dtype)
        return math.log(self.shape) + (self.shape - 1) * jnp.log(x)

    def expected_log_base_measure(self) -> jax.Array:
        # E[log X] = log scale - gamma / k
        k = self.shape
        return math.log(k) + (k - 1) * (self.log_scale - _EULER_GAMMA / k)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Reparameterised: `scale E^(1/k)` with `E ~ Exponential(1)`."""
        shape = tuple(shape) + self.batch_shape
        e = jax.random.exponential(key, shape, self.dtype)
        return jnp.broadcast_to(self.scale, shape) * jnp.power(e, 1 / self.shape)


register_kl(Weibull)(scale_kl)
