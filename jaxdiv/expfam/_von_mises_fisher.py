r"""The von Mises-Fisher family on the sphere $S^{d-1}$: theta = kappa mu, T(x) = x.

The density with respect to the surface measure of the unit sphere in $\mathbb{R}^d$ is
$C_d(\kappa) \exp(\kappa \mu' x)$; the log-normalizer in $\theta = \kappa \mu$ is

$$
A(\theta) = \tfrac{d}{2} \log(2 \pi) + \log\big(I_v(\kappa) / \kappa^v\big),
\qquad v = d/2 - 1, \quad \kappa = \lVert \theta \rVert,
$$

a smooth function of $\kappa^2$ (`jaxdiv.expfam._bessel`), equal at $\kappa = 0$ to the
log of the sphere's area (the uniform distribution). Its gradient, the mean parameter,
is $E[x] = \frac{I_{d/2}(\kappa)}{I_{d/2-1}(\kappa)} \mu$.
"""

from __future__ import annotations

import math
from typing import Any, Self

import jax
import jax.numpy as jnp

from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv.expfam._bessel import iv_ratio_over_x, log_iv_over_power
from jaxdiv.expfam._family import ExponentialFamily, Params, UnitBaseMeasure, as_params, family


def _sqnorm(x: jax.Array) -> jax.Array:
    return jnp.sum(jnp.square(x), -1)


@family
class VonMisesFisher(UnitBaseMeasure, ExponentialFamily):
    r"""VonMisesFisher(mean direction $\mu$, concentration $\kappa$) on the sphere $S^{d-1}$.

    $$
    p(x) = \frac{\kappa^{d/2 - 1}}{(2\pi)^{d/2} I_{d/2-1}(\kappa)} \exp(\kappa \mu' x),
    \qquad \lVert x \rVert = \lVert \mu \rVert = 1,
    $$

    for $d \ge 2$, with natural parameter $\theta = \kappa \mu$ `[..., d]` (the stored field `eta`),
    $T(x) = x$ and the surface measure of the sphere as base measure, as in
    `scipy.stats.vonmises_fisher`. $\kappa = 0$ is the uniform distribution.
    In $d = 2$ it is [`VonMises`][jaxdiv.expfam.VonMises] with $x = (\cos t, \sin t)$.
    The log-normalizer needs $\log I_{d/2-1}(\kappa)$, computed in log space for
    $\kappa$ from 0 to beyond $10^4$ (a power series and the uniform asymptotic
    expansion), with a custom derivative
    $\frac{d}{d\kappa} \log I_v(\kappa) = I_{v+1}(\kappa) / I_v(\kappa) + v / \kappa$.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import expfam
      >>> mu = jnp.array([0.0, 0.0, 1.0])
      >>> p = expfam.VonMisesFisher.from_mean_direction_concentration(mu, 0.0)  # uniform
      >>> round(float(expfam.entropy(p)), 6)  # log(4 pi), the area of S^2
      2.531024
      >>> q = expfam.VonMisesFisher.from_mean_direction_concentration(mu, 10.0)
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # A(q) - A(p) = log(sinh(10) / 10)
      7.004268
    """

    eta: jax.Array
    natural_event_ndims = (1,)
    boundary_members = False  # finite natural parameters at every member
    data_event_ndim = 1

    @classmethod
    def from_mean_direction_concentration(
        cls, mean_direction: jax.typing.ArrayLike, concentration: jax.typing.ArrayLike
    ) -> Self:
        """The member with unit mean direction `[..., d]` and concentration `[...]` (>= 0).

        `mean_direction` is normalised to unit length; its norm must be within 1% of 1.

        Examples:
          >>> from jaxdiv import expfam
          >>> d = expfam.VonMisesFisher.from_mean_direction_concentration([0.6, 0.8], 2.0)
          >>> [round(float(t), 4) for t in d.eta]
          [1.2, 1.6]
        """
        fn = f"{cls.__name__}.from_mean_direction_concentration"
        (mean,) = as_params(fn, mean_direction=mean_direction)
        (kappa,) = as_params(fn, concentration=concentration)
        if mean.ndim < 1 or mean.shape[-1] < 2:
            raise ValueError(
                f"jaxdiv.expfam.{fn}: mean_direction has shape {mean.shape}; it needs an event "
                "axis [..., d] with d >= 2 (the sphere S^(d-1) in R^d)."
            )
        try:
            batch = jnp.broadcast_shapes(mean.shape[:-1], kappa.shape)
        except ValueError:
            raise ValueError(
                f"jaxdiv.expfam.{fn}: mean_direction has batch shape {mean.shape[:-1]} (shape "
                f"{mean.shape}) and concentration has shape {kappa.shape}, which do not "
                "broadcast (concentration has one value per distribution, no event axis)."
            ) from None
        norm = jnp.sqrt(_sqnorm(mean))
        val.check_domain(
            jnp.abs(norm - 1) <= 0.01,
            f"jaxdiv.expfam.{fn}: mean_direction must have unit norm (within 1%).",
        )
        val.check_domain(
            (kappa >= 0) & jnp.isfinite(kappa),
            f"jaxdiv.expfam.{fn}: concentration must be finite and >= 0.",
        )
        eta = mean / norm[..., None] * kappa[..., None]
        return cls(jnp.broadcast_to(eta, batch + mean.shape[-1:]))

    @classmethod
    def _newton_start(cls, mu: Params) -> Self:
        # Banerjee et al. (2005): kappa ~ R (d - R^2) / (1 - R^2) along the mean resultant.
        m = jnp.asarray(mu[0])
        r2 = jnp.minimum(_sqnorm(m), 0.99)
        return cls(m * ((m.shape[-1] - r2) / (1 - r2))[..., None])

    @property
    def dim(self) -> int:
        return self.eta.shape[-1]

    @property
    def order(self) -> float:
        """The Bessel order `v = d / 2 - 1`."""
        return self.dim / 2 - 1

    @property
    def concentration(self) -> jax.Array:
        return num.safe_sqrt(_sqnorm(self.eta))

    @property
    def mean_direction(self) -> jax.Array:
        """`theta / |theta|`; the first axis `(1, 0, ..., 0)` where the concentration is 0."""
        kappa = self.concentration[..., None]
        first = jnp.zeros(self.dim, self.dtype).at[0].set(1)
        safe = jnp.where(kappa > 0, kappa, 1)
        return jnp.where(kappa > 0, self.eta / safe, jnp.broadcast_to(first, self.eta.shape))

    def log_normalizer(self) -> jax.Array:
        """`A = (d / 2) log(2 pi) + log(I_v(kappa) / kappa^v)`, `v = d / 2 - 1`."""
        const = 0.5 * self.dim * math.log(2 * math.pi)
        return const + log_iv_over_power(self.order, _sqnorm(self.eta))

    def mean_parameters(self) -> Params:
        """`E[x] = I_{d/2}(kappa) / (kappa I_{d/2-1}(kappa)) theta`."""
        return (iv_ratio_over_x(self.order, _sqnorm(self.eta))[..., None] * self.eta,)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.asarray(x, self.dtype),)

    def log_prob(self, x: jax.typing.ArrayLike) -> jax.Array:
        """`log p(x)` at unit vectors `x` `[..., d]` (with respect to the surface measure)."""
        shape = jnp.shape(x)
        if len(shape) < 1 or shape[-1] != self.dim:
            raise ValueError(
                f"jaxdiv.expfam.{type(self).__name__}.log_prob: x has shape {tuple(shape)}; its "
                f"last axis must be the dimension d = {self.dim} of this distribution."
            )
        return super().log_prob(x)

    def in_domain(self) -> jax.Array:
        return jnp.all(jnp.isfinite(self.eta), -1)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Wood's (1994) rejection sampler (not reparameterised), `shape + batch + (d,)`.

        The component `w = mu' x` is drawn by rejection from a Beta proposal, the rest
        uniformly on the orthogonal sphere, and `e_1` is reflected onto `mu`.
        """
        d, dtype = self.dim, self.dtype
        full = tuple(shape) + self.batch_shape
        kappa = jnp.broadcast_to(self.concentration, full)
        m = d - 1.0
        b = m / (2 * kappa + jnp.sqrt(4 * jnp.square(kappa) + m * m))
        x0 = (1 - b) / (1 + b)
        c = kappa * x0 + m * jnp.log(4 * b / jnp.square(1 + b))  # log(1 - x0^2)
        k_loop, k_dir = jax.random.split(key)

        def body(state: Any) -> Any:  # (key, done, w, rounds)
            key, done, out, rounds = state
            key, k_beta, k_unif = jax.random.split(key, 3)
            z = jax.random.beta(k_beta, m / 2, m / 2, full, dtype)
            w = (1 - (1 + b) * z) / (1 - (1 - b) * z)
            u = jax.random.uniform(k_unif, full, dtype)
            ok = kappa * w + m * jnp.log1p(-x0 * w) - c >= jnp.log(u)
            return key, done | ok, jnp.where(ok & ~done, w, out), rounds + 1

        # Each round accepts with probability above one half; the cap only guards against a
        # loop that never ends (a NaN concentration).
        _, _, w, _ = jax.lax.while_loop(
            lambda s: ~jnp.all(s[1]) & (s[3] < 1000),
            body,
            (k_loop, jnp.zeros(full, bool), jnp.ones(full, dtype), 0),
        )
        w = jnp.clip(w, -1, 1)
        v = jax.random.normal(k_dir, (*full, d - 1), dtype)
        v = v / jnp.sqrt(jnp.maximum(_sqnorm(v), jnp.finfo(dtype).tiny))[..., None]
        y = jnp.concatenate([w[..., None], jnp.sqrt(1 - jnp.square(w))[..., None] * v], -1)
        # The reflection that swaps e_1 and mu: y - 2 u (u'y) / (u'u), u = e_1 - mu.
        mu = jnp.broadcast_to(self.mean_direction, (*full, d))
        u = jnp.broadcast_to(jnp.zeros(d, dtype).at[0].set(1), mu.shape) - mu
        uu = _sqnorm(u)
        reflect = uu > 1e-12
        scale = jnp.where(reflect, 2 * jnp.sum(u * y, -1) / jnp.where(reflect, uu, 1), 0)
        return y - scale[..., None] * u
