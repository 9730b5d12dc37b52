r"""The inverse Gaussian family: theta = (-shape / (2 mean^2), -shape / 2), T(x) = (x, 1 / x).

Its entropy needs $E[\log X] = \log m - e^{z} E_1(z)$ with $z = 2 \lambda / m$
($E_1$ the exponential integral): `exp_e1` computes $e^{z} E_1(z)$ without
forming $e^{z}$, which overflows float32 for $z > 88$.
"""

from __future__ import annotations

import math
from typing import Self

import jax
import jax.numpy as jnp

from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv._numerics import expm1_minus_x
from jaxdiv.expfam._family import ExponentialFamily, Params, as_params, family
from jaxdiv.expfam._registry import register_kl

# Below _CF_FROM, exp(z) E1(z) from the power series of E1 (_SERIES_TERMS terms; the
# sum cancels to at most a factor 6 at z = 1); from it on, the continued fraction
# exp(z) E1(z) = 1 / (z + 1 - 1 / (z + 3 - 4 / (z + 5 - 9 / ...))) evaluated backward
# from depth _CF_DEPTH (relative error below 1e-12 at z = 1, less beyond). jax's own
# exp1 is not used: it compiles to a much larger program.
_CF_FROM = 1.0
_CF_DEPTH = 60
_SERIES_TERMS = 20
_EULER_GAMMA = 0.5772156649015329


def _e1_series(x: jax.Array) -> jax.Array:
    """`E1(x) = -gamma - log x - sum_k (-x)^k / (k k!)`, for `0 < x <= 1`."""
    total = jnp.zeros_like(x)
    for k in range(_SERIES_TERMS, 0, -1):  # Horner: sum_k c_k x^k
        total = x * ((-1) ** (k + 1) / (k * math.factorial(k)) + total)
    return -_EULER_GAMMA - jnp.log(x) + total


def _exp_e1_parts(z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """`f(z) = exp(z) E1(z)` and its derivative `f(z) - 1 / z`, for `z > 0`."""

    def direct(x: jax.Array) -> jax.Array:
        return jnp.exp(x) * _e1_series(x)

    def fraction(x: jax.Array) -> tuple[jax.Array, jax.Array]:
        t = x + (2 * _CF_DEPTH + 1)
        for n in range(_CF_DEPTH - 1, 0, -1):
            t = x + (2 * n + 1) - (n + 1) ** 2 / t
        t0 = x + 1 - 1 / t
        # f = 1 / t0 and 1 - z f = (t0 - z) / t0 = (1 - 1 / t1) / t0: f' = -(1 - z f) / z
        # without the cancellation of f - 1 / z for large z.
        return 1 / t0, -(1 - 1 / t) / (t0 * x)

    small = z < _CF_FROM
    f_small = num.guard(small, direct, z, safe=0.5)
    d_small = num.guard(small, lambda x: direct(x) - 1 / x, z, safe=0.5)
    f_large = num.guard(~small, lambda x: fraction(x)[0], z, safe=2.0)
    d_large = num.guard(~small, lambda x: fraction(x)[1], z, safe=2.0)
    return jnp.where(small, f_small, f_large), jnp.where(small, d_small, d_large)


@jax.custom_jvp
def exp_e1(z: jax.Array) -> jax.Array:
    """`exp(z) E1(z)` for `z > 0` (about `1 / z` for large `z`), overflow-free."""
    return _exp_e1_parts(z)[0]


@exp_e1.defjvp
def _exp_e1_jvp(
    primals: tuple[jax.Array], tangents: tuple[jax.Array]
) -> tuple[jax.Array, jax.Array]:
    (z,), (dz,) = primals, tangents
    f, d = _exp_e1_parts(z)
    return f, d * dz


@family
class InverseGaussian(ExponentialFamily):
    r"""InverseGaussian(mean, shape), the first passage time of a Brownian motion with drift.

    Density $\sqrt{\lambda / (2 \pi x^3)}\, e^{-\lambda (x - m)^2 / (2 m^2 x)}$ on $x > 0$:
    natural parameters $(-\lambda / (2 m^2), -\lambda / 2)$, $T(x) = (x, 1 / x)$,
    $h(x) = (2 \pi x^3)^{-1/2}$ and $A = -\lambda / m - \tfrac12 \log \lambda$. The member
    stores the mean $m$ (`loc`) and the shape $\lambda$ (`concentration`). Registered
    closed form

    $$
    \mathrm{KL} = \tfrac12 \Big(\frac{\lambda_2}{\lambda_1} - 1
        - \log \frac{\lambda_2}{\lambda_1}\Big)
        + \frac{\lambda_2 (m_1 - m_2)^2}{2 m_1 m_2^2}.
    $$

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.InverseGaussian.from_mean_shape(1.0, 2.0)
      >>> q = expfam.InverseGaussian.from_mean_shape(2.0, 2.0)
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # 2 (1 - 2)^2 / (2 * 1 * 4)
      0.25
    """

    loc: jax.Array
    concentration: jax.Array
    natural_event_ndims = (0, 0)
    boundary_members = False  # finite natural parameters at every member

    @classmethod
    def from_mean_shape(
        cls, mean: jax.typing.ArrayLike, shape: jax.typing.ArrayLike
    ) -> InverseGaussian:
        """The member with mean `mean` and shape `shape` (both > 0): scipy's
        `invgauss(mean / shape, scale=shape)`."""
        fn = f"{cls.__name__}.from_mean_shape"
        mean, shape = as_params(fn, mean=mean, shape=shape)
        ok = (mean > 0) & (shape > 0) & jnp.isfinite(mean) & jnp.isfinite(shape)
        val.check_domain(ok, f"jaxdiv.expfam.{fn}: mean and shape must be finite and > 0.")
        return cls(mean, shape)

    @classmethod
    def from_mean_parameters(cls, mu: Params) -> InverseGaussian:
        """From `E[X] = m` and `E[1 / X] = 1 / m + 1 / shape`."""
        m1, m2 = (jnp.asarray(m) for m in mu)
        return cls.from_mean_shape(m1, 1 / (m2 - 1 / m1))

    def natural_parameters(self) -> Params:
        lam = self.concentration
        return (-0.5 * lam / jnp.square(self.loc), -0.5 * lam)

    def with_natural_parameters(self, theta: Params) -> Self:
        t1, t2 = theta
        return type(self)(jnp.sqrt(t2 / t1), -2 * t2)

    def log_normalizer(self) -> jax.Array:
        lam = self.concentration
        return -lam / self.loc - 0.5 * jnp.log(lam)

    def log_normalizer_minus_inner(self, other: ExponentialFamily) -> jax.Array:
        """`lam (m_o - m)^2 / (2 m^2 m_o) - log(lam) / 2 + lam / (2 lam_o)`: the terms of
        size `lam / m` cancel exactly."""
        assert isinstance(other, InverseGaussian)
        m, lam, mo, lam_o = self.loc, self.concentration, other.loc, other.concentration
        return (
            0.5 * lam * jnp.square(mo - m) / (jnp.square(m) * mo)
            - 0.5 * jnp.log(lam)
            + 0.5 * lam / lam_o
        )

    def mean_parameters(self) -> Params:
        return (self.loc, 1 / self.loc + 1 / self.concentration)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        x = jnp.asarray(x, self.dtype)
        return (x, 1 / x)

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        x = jnp.asarray(x, self.dtype)
        return -0.5 * math.log(2 * math.pi) - 1.5 * jnp.log(x)

    def expected_log_base_measure(self) -> jax.Array:
        z = 2 * self.concentration / self.loc
        mean_log = jnp.log(self.loc) - exp_e1(z)
        return -0.5 * math.log(2 * math.pi) - 1.5 * mean_log

    def in_domain(self) -> jax.Array:
        m, lam = self.loc, self.concentration
        return (m > 0) & (lam > 0) & jnp.isfinite(m) & jnp.isfinite(lam)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Michael, Schucany and Haas (1976): a root of a chi-square equation, then a
        choice between it and `m^2 / x` (not reparameterised)."""
        shape = tuple(shape) + self.batch_shape
        kn, ku = jax.random.split(key)
        y = jnp.square(jax.random.normal(kn, shape, self.dtype))
        m = jnp.broadcast_to(self.loc, shape)
        r = 0.5 * m * y / jnp.broadcast_to(self.concentration, shape)
        # m (1 + r - sqrt(r^2 + 2 r)), written without the cancellation for large r
        x = m / (1 + r + jnp.sqrt(r * (r + 2)))
        u = jax.random.uniform(ku, shape, self.dtype)
        return jnp.where(u * (m + x) <= m, x, jnp.square(m) / x)


@register_kl(InverseGaussian)
def _inverse_gaussian_kl(p: InverseGaussian, q: InverseGaussian) -> jax.Array:
    m1, l1, m2, l2 = p.loc, p.concentration, q.loc, q.concentration
    return 0.5 * expm1_minus_x(jnp.log(l2) - jnp.log(l1)) + 0.5 * l2 * jnp.square(m1 - m2) / (
        m1 * jnp.square(m2)
    )
