"""The von Mises family on the circle: theta = kappa (cos mu, sin mu), T(x) = (cos x, sin x)."""

from __future__ import annotations

import math
from typing import Any, Self

import jax
import jax.numpy as jnp
from jax.scipy.special import i0e

from jaxdiv import _numerics
from jaxdiv import _validation as val
from jaxdiv.expfam._family import ExponentialFamily, Params, UnitBaseMeasure, as_params, family


@family
class VonMises(UnitBaseMeasure, ExponentialFamily):
    r"""VonMises(mean, concentration) on $[-\pi, \pi)$.

    $A = \log(2 \pi I_0(\kappa))$ with $\kappa = \lVert\theta\rVert$; computed with the
    exponentially scaled `i0e` so that large concentrations do not overflow.

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.VonMises.from_mean_concentration(0.0, 2.0)
      >>> q = expfam.VonMises.from_mean_concentration(0.0, 2.0)
      >>> float(expfam.kl_divergence(p, q))
      0.0
    """

    eta_cos: jax.Array
    eta_sin: jax.Array
    natural_event_ndims = (0, 0)
    boundary_members = False  # finite natural parameters at every member

    @classmethod
    def from_mean_concentration(
        cls, mean: jax.typing.ArrayLike, concentration: jax.typing.ArrayLike
    ) -> VonMises:
        fn = f"{cls.__name__}.from_mean_concentration"
        mean, kappa = as_params(fn, mean=mean, concentration=concentration)
        val.check_domain(kappa >= 0, f"jaxdiv.expfam.{fn}: concentration must be >= 0.")
        return cls(kappa * jnp.cos(mean), kappa * jnp.sin(mean))

    @classmethod
    def _newton_start(cls, mu: Params) -> Self:
        # Along the mean resultant, with kappa about 2 R (exact as R -> 0).
        return cls(2 * jnp.asarray(mu[0]), 2 * jnp.asarray(mu[1]))

    @property
    def concentration(self) -> jax.Array:
        return _numerics.safe_sqrt(jnp.square(self.eta_cos) + jnp.square(self.eta_sin))

    @property
    def loc(self) -> jax.Array:
        return jnp.arctan2(self.eta_sin, self.eta_cos)

    def log_normalizer(self) -> jax.Array:
        kappa = self.concentration
        return math.log(2 * math.pi) + jnp.log(i0e(kappa)) + kappa

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        x = jnp.asarray(x, self.dtype)
        return (jnp.cos(x), jnp.sin(x))

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Best and Fisher's (1979) rejection sampler (not reparameterised)."""
        shape = tuple(shape) + self.batch_shape
        kappa = jnp.broadcast_to(jnp.maximum(self.concentration, 1e-6), shape)
        tau = 1 + jnp.sqrt(1 + 4 * jnp.square(kappa))
        rho = (tau - jnp.sqrt(2 * tau)) / (2 * kappa)
        # rho cancels to 0 for small kappa (in float32 sqrt(1 + 4e-12) is 1, so r was inf
        # and no draw was ever accepted); r -> 1 / kappa there, as in TensorFlow Probability.
        cutoff = 0.02 if jnp.finfo(self.dtype).bits <= 32 else 1.2e-4
        r = jnp.where(kappa > cutoff, (1 + jnp.square(rho)) / (2 * rho), 1 / kappa)

        def draw(key: jax.Array) -> tuple[jax.Array, jax.Array]:
            k1, k2, k3 = jax.random.split(key, 3)
            u1, u2, u3 = (jax.random.uniform(k, shape, self.dtype) for k in (k1, k2, k3))
            z = jnp.cos(jnp.pi * u1)
            f = (1 + r * z) / (r + z)
            c = kappa * (r - f)
            ok = (c * (2 - c) - u2 > 0) | (jnp.log(c / u2) + 1 - c >= 0)
            angle = jnp.sign(u3 - 0.5) * jnp.arccos(jnp.clip(f, -1, 1))
            return ok, angle

        def body(state: Any) -> Any:  # (key, done, angle, rounds)
            key, done, out, rounds = state
            key, sub = jax.random.split(key)
            ok, angle = draw(sub)
            take = ok & ~done
            return key, done | ok, jnp.where(take, angle, out), rounds + 1

        # Each round accepts with probability above 0.65; the cap only guards against a
        # loop that never ends (a NaN concentration).
        _, _, angle, _ = jax.lax.while_loop(
            lambda s: ~jnp.all(s[1]) & (s[3] < 1000),
            body,
            (key, jnp.zeros(shape, bool), jnp.zeros(shape, self.dtype), 0),
        )
        return jnp.mod(angle + jnp.broadcast_to(self.loc, shape) + jnp.pi, 2 * jnp.pi) - jnp.pi
