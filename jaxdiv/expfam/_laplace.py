"""The Laplace family with a fixed location: theta = -1 / b, T(x) = |x - loc|, A = log b."""

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
class Laplace(ScaleFamily):
    r"""Laplace(loc, scale) for a fixed (static) location; natural parameter $-1 / b$.

    Density $e^{-|x - m| / b} / (2 b)$: with the location $m$ fixed the family is
    exponential in the scale $b$, with $T(x) = |x - m|$, $h(x) = 1/2$ and
    $A = \log b$. The member stores $\log b$; `from_loc_log_scale` builds one
    from it. Registered closed form $\mathrm{KL} = e^{d} - 1 - d$ with
    $d = \log(b_1 / b_2)$ (two members must share their location).

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Laplace.from_loc_scale(0.0, 1.0)
      >>> q = expfam.Laplace.from_loc_scale(0.0, 2.0)
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # log 2 + 1/2 - 1
      0.193147
      >>> p.loc  # static: part of the tree structure
      0.0
    """

    log_scale: jax.Array
    loc: float = static_field()
    theta_coef = 1.0
    normalizer_weight = 1.0
    scale_power = 1.0

    @classmethod
    def from_loc_scale(cls, loc: float, scale: jax.typing.ArrayLike) -> Laplace:
        """The member with location `loc` (a Python float, static) and scale `scale` (> 0):
        scipy's `laplace(loc, scale)`."""
        fn = f"{cls.__name__}.from_loc_scale"
        loc = val.finite_float("loc", loc, fn=f"expfam.{fn}")
        return cls(cls._checked_scale(fn, "scale", scale), loc)

    @classmethod
    def from_loc_log_scale(cls, loc: float, log_scale: jax.typing.ArrayLike) -> Laplace:
        """The member with location `loc` (static) and scale `exp(log_scale)` (finite)."""
        fn = f"{cls.__name__}.from_loc_log_scale"
        loc = val.finite_float("loc", loc, fn=f"expfam.{fn}")
        return cls(cls._checked_log_scale(fn, "log_scale", log_scale), loc)

    @classmethod
    def from_mean_parameters(cls, mu: Params, *, loc: float) -> Self:
        """The member with `E|X - loc| = mu[0]`, which is its scale."""
        return cls(jnp.log(jnp.asarray(mu[0])), float(loc))

    @property
    def scale(self) -> jax.Array:
        return jnp.exp(self.log_scale)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.abs(jnp.asarray(x, self.dtype) - self.loc),)

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        return jnp.full(jnp.shape(x), -math.log(2.0), self.dtype)

    def expected_log_base_measure(self) -> jax.Array:
        return jnp.full(self.batch_shape, -math.log(2.0), self.dtype)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Reparameterised: `loc + b L` with `L` standard Laplace."""
        shape = tuple(shape) + self.batch_shape
        draw = jax.random.laplace(key, shape, self.dtype)
        return self.loc + jnp.broadcast_to(self.scale, shape) * draw


register_kl(Laplace)(scale_kl)
