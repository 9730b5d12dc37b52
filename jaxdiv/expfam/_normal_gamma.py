r"""The Normal-Gamma family, the conjugate prior of a Normal with unknown mean and precision.

$(\mu, \lambda)$ with $\lambda \sim \mathrm{Gamma}(a, b)$ (shape $a$, rate $b$) and
$\mu \mid \lambda \sim N(m, 1 / (\kappa \lambda))$. A point is the pair
$x = (\mu, \lambda)$ as an array `[..., 2]`. Sufficient statistics
$T = (\lambda \mu, \lambda \mu^2, \lambda, \log \lambda)$ with natural parameters
$\theta = (\kappa m, -\kappa / 2, -(b + \kappa m^2 / 2), a - 1/2)$, base measure
$(2\pi)^{-1/2}$ and $A = \log\Gamma(a) - a \log b - \tfrac12 \log \kappa$.

The member stores the usual parameters $(m, \kappa, b, a)$: $b$ is a difference
$-\theta_3 - \theta_1^2 / (4 \theta_2)$ of the natural parameters that float32 loses
when $\kappa m^2 \gg b$, while every divergence has a closed form in the usual
parameters.
"""

from __future__ import annotations

from typing import Self

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln

from jaxdiv import _validation as val
from jaxdiv._numerics import LOG_2PI, expm1_minus_x
from jaxdiv.expfam._family import ExponentialFamily, Params, as_params, family
from jaxdiv.expfam._registry import register_kl


@family
class NormalGamma(ExponentialFamily):
    r"""NormalGamma(loc $m$, kappa $\kappa$, shape $a$, rate $b$) over $(\mu, \lambda)$.

    $$
    p(\mu, \lambda) = N\big(\mu; m, (\kappa \lambda)^{-1}\big)\,
        \mathrm{Gamma}(\lambda; a, b),
    $$

    the conjugate prior of a Normal's mean $\mu$ and precision $\lambda$. Points are
    arrays `[..., 2]` holding $(\mu, \lambda)$. The KL is the Gamma KL plus the expected
    KL of the conditional Normals:

    $$
    \mathrm{KL}_\Gamma(a_p, b_p \,\|\, a_q, b_q)
    + \tfrac12\Big(\frac{\kappa_q}{\kappa_p} - 1 - \log\frac{\kappa_q}{\kappa_p}\Big)
    + \frac{\kappa_q a_p}{2 b_p} (m_p - m_q)^2 .
    $$

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.NormalGamma.from_loc_kappa_shape_rate(0.0, 1.0, 2.0, 1.0)
      >>> q = expfam.NormalGamma.from_loc_kappa_shape_rate(1.0, 1.0, 2.0, 1.0)
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # kappa E[lambda] (m_p - m_q)^2 / 2
      1.0
    """

    loc: jax.Array
    kappa: jax.Array
    rate: jax.Array
    shape: jax.Array
    natural_event_ndims = (0, 0, 0, 0)
    boundary_members = False  # finite natural parameters at every member

    @classmethod
    def from_loc_kappa_shape_rate(
        cls,
        loc: jax.typing.ArrayLike,
        kappa: jax.typing.ArrayLike,
        shape: jax.typing.ArrayLike,
        rate: jax.typing.ArrayLike,
    ) -> Self:
        """The member with mean `loc`, precision scale `kappa` (> 0) and the Gamma's
        `shape` and `rate` (> 0); all four broadcast to one batch shape.

        Examples:
          >>> from jaxdiv import expfam
          >>> d = expfam.NormalGamma.from_loc_kappa_shape_rate(0.0, 2.0, 3.0, [1.0, 2.0])
          >>> d.batch_shape
          (2,)
        """
        fn = f"{cls.__name__}.from_loc_kappa_shape_rate"
        m, k, a, b = as_params(fn, loc=loc, kappa=kappa, shape=shape, rate=rate)
        val.check_domain(jnp.isfinite(m), f"jaxdiv.expfam.{fn}: loc must be finite.")
        val.check_domain(
            (k > 0) & (a > 0) & (b > 0) & jnp.isfinite(k) & jnp.isfinite(a) & jnp.isfinite(b),
            f"jaxdiv.expfam.{fn}: kappa, shape and rate must be finite and > 0.",
        )
        return cls(m, k, b, a)

    @classmethod
    def _newton_start(cls, mu: Params) -> Self:
        # The mean and kappa that match E[lambda mu] and E[lambda mu^2] with shape 1.
        lam_mu, lam_mu2, lam = (jnp.asarray(t) for t in mu[:3])
        m = lam_mu / lam
        return cls(m, 1 / jnp.maximum(lam_mu2 - m * lam_mu, 1e-6 * lam_mu2), 1 / lam, lam / lam)

    def natural_parameters(self) -> Params:
        m, k = self.loc, self.kappa
        return (k * m, -0.5 * k, -(self.rate + 0.5 * k * jnp.square(m)), self.shape - 0.5)

    def with_natural_parameters(self, theta: Params) -> Self:
        t1, t2, t3, t4 = (jnp.asarray(t) for t in theta)
        k = -2 * t2
        m = t1 / k
        return type(self)(m, k, -t3 - 0.5 * t1 * m, t4 + 0.5)

    def log_normalizer(self) -> jax.Array:
        """`A = log Gamma(a) - a log b - log(kappa) / 2`."""
        a = self.shape
        return gammaln(a) - a * jnp.log(self.rate) - 0.5 * jnp.log(self.kappa)

    def mean_parameters(self) -> Params:
        m, a, b = self.loc, self.shape, self.rate
        lam = a / b
        return (m * lam, jnp.square(m) * lam + 1 / self.kappa, lam, digamma(a) - jnp.log(b))

    def log_normalizer_minus_inner(self, other: Self) -> jax.Array:
        """`A - <theta, mu_o>` in the usual parameters (the `m` terms as one square)."""
        a, b, k = self.shape, self.rate, self.kappa
        if other is self:  # -a log b + a + (a - 1/2) log b, without the cancellation
            return gammaln(a) - 0.5 * jnp.log(k * b) + 0.5 + a - (a - 0.5) * digamma(a)
        lam_o = other.shape / other.rate
        return (
            self.log_normalizer()
            + 0.5 * k * lam_o * jnp.square(self.loc - other.loc)
            + 0.5 * k / other.kappa
            + b * lam_o
            - (a - 0.5) * (digamma(other.shape) - jnp.log(other.rate))
        )

    def _split(self, x: jax.typing.ArrayLike) -> tuple[jax.Array, jax.Array]:
        x = jnp.asarray(x, self.dtype)
        if x.ndim < 1 or x.shape[-1] != 2:
            raise ValueError(
                f"jaxdiv.expfam.{type(self).__name__}: a point x must be an array [..., 2] of "
                f"(mu, lambda), got shape {x.shape}."
            )
        return x[..., 0], x[..., 1]

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        mu, lam = self._split(x)
        return (lam * mu, lam * jnp.square(mu), lam, jnp.log(lam))

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        return jnp.full(jnp.shape(x)[:-1], -0.5 * LOG_2PI, self.dtype)

    def expected_log_base_measure(self) -> jax.Array:
        return jnp.full(self.batch_shape, -0.5 * LOG_2PI, self.dtype)

    def log_prob(self, x: jax.typing.ArrayLike) -> jax.Array:
        """`log N(mu; m, 1 / (kappa lambda)) + log Gamma(lambda; a, b)` at `x = (mu, lambda)`."""
        mu, lam = self._split(x)
        mu, lam, m, k, a, b = jnp.broadcast_arrays(
            mu, lam, self.loc, self.kappa, self.shape, self.rate
        )
        normal = 0.5 * (jnp.log(k * lam) - LOG_2PI) - 0.5 * k * lam * jnp.square(mu - m)
        return normal + a * jnp.log(b) - gammaln(a) + (a - 1) * jnp.log(lam) - b * lam

    def in_domain(self) -> jax.Array:
        return (
            jnp.isfinite(self.loc)
            & (self.kappa > 0)
            & (self.shape > 0)
            & (self.rate > 0)
            & jnp.isfinite(self.kappa * self.shape * self.rate)
        )

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """`lambda ~ Gamma(a, b)`, then `mu = m + z / sqrt(kappa lambda)`; reparameterised
        (implicit gradients of the gamma draws). Returns `shape + batch_shape + (2,)`."""
        full = tuple(shape) + self.batch_shape
        k_gamma, k_normal = jax.random.split(key)
        a, b, m, k = (
            jnp.broadcast_to(t, full) for t in (self.shape, self.rate, self.loc, self.kappa)
        )
        lam = jax.random.gamma(k_gamma, a, full, self.dtype) / b
        z = jax.random.normal(k_normal, full, self.dtype)
        return jnp.stack([m + z * jax.lax.rsqrt(k * lam), lam], -1)


@register_kl(NormalGamma)
def _normal_gamma_kl(p: NormalGamma, q: NormalGamma) -> jax.Array:
    """The Gamma KL plus the expected KL of the conditional Normals (chain rule)."""
    ap, bp, aq, bq = p.shape, p.rate, q.shape, q.rate
    gamma_kl = (
        gammaln(aq)
        - gammaln(ap)
        + (ap - aq) * digamma(ap)
        + aq * (jnp.log(bp) - jnp.log(bq))
        + ap * (bq - bp) / bp
    )
    kappa_term = 0.5 * expm1_minus_x(jnp.log(q.kappa) - jnp.log(p.kappa))
    return gamma_kl + kappa_term + 0.5 * q.kappa * (ap / bp) * jnp.square(p.loc - q.loc)
