"""The inverse-gamma family: theta = (-shape - 1, -scale), T(x) = (log x, 1 / x)."""

from __future__ import annotations

from typing import Self

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln

from jaxdiv import _validation as val
from jaxdiv.expfam._family import ExponentialFamily, Params, UnitBaseMeasure, as_params, family


@family
class InverseGamma(UnitBaseMeasure, ExponentialFamily):
    r"""InverseGamma(shape, scale): $1 / X$ with $X \sim$ Gamma(shape, rate = scale).

    Density $\beta^\alpha x^{-\alpha - 1} e^{-\beta / x} / \Gamma(\alpha)$ on $x > 0$:
    natural parameters $(-\alpha - 1, -\beta)$, $T(x) = (\log x, 1 / x)$, $h = 1$ and
    $A = \log \Gamma(\alpha) - \alpha \log \beta$. The member stores $\alpha$ and
    $\beta$ themselves, so that a small shape keeps its relative precision.

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.InverseGamma.from_shape_scale(3.0, 2.0)
      >>> [round(float(m), 6) for m in p.mean_parameters()]  # E[log X], E[1 / X] = 3 / 2
      [-0.229637, 1.5]
    """

    concentration: jax.Array
    scale: jax.Array
    natural_event_ndims = (0, 0)
    boundary_members = False  # finite natural parameters at every member

    @classmethod
    def from_shape_scale(
        cls, shape: jax.typing.ArrayLike, scale: jax.typing.ArrayLike
    ) -> InverseGamma:
        """The member with shape `shape` and scale `scale` (both > 0): scipy's
        `invgamma(shape, scale=scale)`."""
        fn = f"{cls.__name__}.from_shape_scale"
        shape, scale = as_params(fn, shape=shape, scale=scale)
        ok = (shape > 0) & (scale > 0) & jnp.isfinite(shape) & jnp.isfinite(scale)
        val.check_domain(ok, f"jaxdiv.expfam.{fn}: shape and scale must be finite and > 0.")
        return cls(shape, scale)

    @classmethod
    def _newton_start(cls, mu: Params) -> Self:
        inv_mean = jnp.asarray(mu[1])
        return cls(jnp.ones_like(inv_mean), 1 / inv_mean)  # shape 1 with the same E[1 / X]

    def natural_parameters(self) -> Params:
        return (-self.concentration - 1, -self.scale)

    def with_natural_parameters(self, theta: Params) -> Self:
        return type(self)(-theta[0] - 1, -theta[1])

    def log_normalizer(self) -> jax.Array:
        a = self.concentration
        return gammaln(a) - a * jnp.log(self.scale)

    def mean_parameters(self) -> Params:
        a, b = self.concentration, self.scale
        return (jnp.log(b) - digamma(a), a / b)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        x = jnp.asarray(x, self.dtype)
        return (jnp.log(x), 1 / x)

    def in_domain(self) -> jax.Array:
        return (self.concentration > 0) & (self.scale > 0)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Reparameterised: `scale / G` with `G ~ Gamma(shape)` (implicit gradients)."""
        shape = tuple(shape) + self.batch_shape
        g = jax.random.gamma(key, jnp.broadcast_to(self.concentration, shape), shape, self.dtype)
        return jnp.broadcast_to(self.scale, shape) / g
