"""The Pareto family with a fixed scale x_m: theta = -shape, T(x) = log(x / x_m), h(x) = 1 / x."""

from __future__ import annotations

import math
from typing import Self

import jax
import jax.numpy as jnp

from jaxdiv import _validation as val
from jaxdiv.expfam._family import Params, family, static_field
from jaxdiv.expfam._registry import register_kl
from jaxdiv.expfam._scale import ScaleFamily, scale_kl


@family
class Pareto(ScaleFamily):
    r"""Pareto(scale, shape) for a fixed (static) scale $x_m$; natural parameter $-\alpha$.

    Density $\alpha x_m^\alpha x^{-\alpha - 1}$ on $x \ge x_m$: with $x_m$ fixed the
    family is exponential in the shape $\alpha$, with $T(x) = \log(x / x_m)$,
    $h(x) = 1 / x$ and $A = -\log \alpha$ ($\log(X / x_m)$ is Exponential with rate
    $\alpha$). The member stores $\log \alpha$; `from_scale_log_shape` builds one
    from it. Registered closed form $\mathrm{KL} = e^{-d} - 1 + d$ with
    $d = \log(\alpha_1 / \alpha_2)$ (two members must share their scale).

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Pareto.from_scale_shape(1.0, 2.0)
      >>> q = expfam.Pareto.from_scale_shape(1.0, 1.0)
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # log 2 + 1/2 - 1
      0.193147
    """

    log_shape: jax.Array
    scale: float = static_field()
    theta_coef = 1.0
    normalizer_weight = 1.0
    scale_power = -1.0

    @classmethod
    def from_scale_shape(cls, scale: float, shape: jax.typing.ArrayLike) -> Pareto:
        """The member with scale (minimum) `scale` (a Python float > 0, static) and shape
        `shape` (> 0): scipy's `pareto(shape, scale=scale)`."""
        fn = f"{cls.__name__}.from_scale_shape"
        scale = val.finite_float("scale", scale, fn=f"expfam.{fn}", positive=True)
        return cls(cls._checked_scale(fn, "shape", shape), scale)

    @classmethod
    def from_scale_log_shape(cls, scale: float, log_shape: jax.typing.ArrayLike) -> Pareto:
        """The member with scale `scale` (static) and shape `exp(log_shape)` (finite)."""
        fn = f"{cls.__name__}.from_scale_log_shape"
        scale = val.finite_float("scale", scale, fn=f"expfam.{fn}", positive=True)
        return cls(cls._checked_log_scale(fn, "log_shape", log_shape), scale)

    @classmethod
    def from_mean_parameters(cls, mu: Params, *, scale: float) -> Self:
        """The member with `E[log(X / scale)] = mu[0]`, which is `1 / shape`."""
        return cls(-jnp.log(jnp.asarray(mu[0])), float(scale))

    @property
    def shape(self) -> jax.Array:
        return jnp.exp(self.log_shape)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.log(jnp.asarray(x, self.dtype)) - math.log(self.scale),)

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        x = jnp.asarray(x, self.dtype)
        return jnp.where(x >= self.scale, -jnp.log(x), -jnp.inf)

    def expected_log_base_measure(self) -> jax.Array:
        # E[log X] = log x_m + 1 / shape
        return -(math.log(self.scale) + jnp.exp(-self.log_shape))

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Reparameterised: `x_m exp(E / shape)` with `E ~ Exponential(1)`."""
        shape = tuple(shape) + self.batch_shape
        e = jax.random.exponential(key, shape, self.dtype)
        return self.scale * jnp.exp(e * jnp.broadcast_to(jnp.exp(-self.log_shape), shape))


register_kl(Pareto)(scale_kl)
