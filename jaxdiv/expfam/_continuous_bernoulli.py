r"""The continuous Bernoulli family on [0, 1]: theta = logit(lambda), T(x) = x.

$A(\theta) = \log \int_0^1 e^{\theta x} dx = \log((e^\theta - 1) / \theta)$, written as
$A = \theta / 2 + s(\theta / 2)$ with the even function $s(u) = \log(\sinh u / u)$. At
$\theta = 0$ ($\lambda = 1/2$, the uniform density) the quotient is $0 / 0$, a removable
singularity: near it $s$ and $s'(u) = \coth u - 1/u$ are taken from their power series
(in $u^2$, with the Bernoulli numbers), which keep full relative precision and exact
derivatives of every order through 0; away from it from
$s(u) = |u| + \log(1 - e^{-2|u|}) - \log(2|u|)$, which does not overflow.

References:
  G. Loaiza-Ganem and J. P. Cunningham, The continuous Bernoulli: fixing a pervasive
  error in variational autoencoders, NeurIPS 2019.
"""

from __future__ import annotations

from fractions import Fraction
from math import factorial
from typing import Self

import jax
import jax.numpy as jnp

from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv.expfam._family import ExponentialFamily, Params, UnitBaseMeasure, as_params, family

# Bernoulli numbers B_2, B_4, ..., B_18.
_BERNOULLI = [
    Fraction(1, 6),
    Fraction(-1, 30),
    Fraction(1, 42),
    Fraction(-1, 30),
    Fraction(5, 66),
    Fraction(-691, 2730),
    Fraction(7, 6),
    Fraction(-3617, 510),
    Fraction(43867, 798),
]
# log(sinh u / u) = sum_n c_n u^(2n), c_n = 2^(2n) B_2n / (2n (2n)!); the terms fall by
# (u / pi)^2, so nine of them give float64 precision for |u| < _SERIES_BELOW.
_LOG_SINHC = [
    float(Fraction(2 ** (2 * n)) * b / (2 * n * factorial(2 * n)))
    for n, b in enumerate(_BERNOULLI, start=1)
]
_SERIES_BELOW = 0.5


def _even_series(coefs: list[float], u2: jax.Array) -> jax.Array:
    """`sum_n coefs[n-1] u^(2n)` from `u2 = u^2`, by Horner's rule."""
    total = jnp.zeros_like(u2)
    for c in reversed(coefs):
        total = u2 * (c + total)
    return total


def log_sinhc(u: jax.Array) -> jax.Array:
    """`log(sinh(u) / u)`, 0 at `u = 0`, with exact derivatives there."""
    small = jnp.abs(u) < _SERIES_BELOW

    def series(v: jax.Array) -> jax.Array:
        return _even_series(_LOG_SINHC, jnp.square(v))

    def direct(v: jax.Array) -> jax.Array:
        a = jnp.abs(v)
        return a + jnp.log(-jnp.expm1(-2 * a)) - jnp.log(2 * a)

    near = num.guard(small, series, u)
    far = num.guard(~small, direct, u)
    return jnp.where(small, near, far)


def coth_minus_inverse(u: jax.Array) -> jax.Array:
    """`coth(u) - 1 / u`, the derivative of `log_sinhc`, 0 at `u = 0`."""
    small = jnp.abs(u) < _SERIES_BELOW
    derivative = [2 * n * c for n, c in enumerate(_LOG_SINHC, start=1)]

    def series(v: jax.Array) -> jax.Array:  # sum_n 2n c_n v^(2n - 1)
        v2 = jnp.square(v)
        total = jnp.zeros_like(v2)
        for c in reversed(derivative[1:]):
            total = v2 * (c + total)
        return v * (derivative[0] + total)

    def direct(v: jax.Array) -> jax.Array:
        return 1 / jnp.tanh(v) - 1 / v

    near = num.guard(small, series, u)
    far = num.guard(~small, direct, u)
    return jnp.where(small, near, far)


@family
class ContinuousBernoulli(UnitBaseMeasure, ExponentialFamily):
    r"""ContinuousBernoulli($\lambda$): density $C(\lambda) \lambda^x (1 - \lambda)^{1 - x}$.

    Natural parameter $\theta = \operatorname{logit} \lambda$, $T(x) = x$, $h = 1$ and
    $A(\theta) = \log((e^\theta - 1) / \theta)$, finite and smooth through the removable
    singularity at $\theta = 0$ (see the module notes); values and derivatives there
    are exact in float32 as in float64. $\lambda = 0$ and $1$ (point masses) are not
    members.

    Examples:
      >>> from jaxdiv import expfam
      >>> uniform = expfam.ContinuousBernoulli.from_probs(0.5)
      >>> float(expfam.entropy(uniform)), float(uniform.mean_parameters()[0])
      (0.0, 0.5)
      >>> p = expfam.ContinuousBernoulli.from_probs(0.8)
      >>> round(float(expfam.kl_divergence(p, uniform)), 6)  # float64 quadrature: 0.0764145
      0.076414
    """

    logits: jax.Array
    natural_event_ndims = (0,)
    boundary_members = False  # finite natural parameters at every member

    @classmethod
    def from_probs(cls, probs: jax.typing.ArrayLike) -> ContinuousBernoulli:
        """The member with parameter `probs` in (0, 1) (the `lambda` of the density, not
        its mean): TensorFlow Probability's `ContinuousBernoulli(probs=...)`."""
        fn = f"{cls.__name__}.from_probs"
        (p,) = as_params(fn, probs=probs)
        val.check_domain((p > 0) & (p < 1), f"jaxdiv.expfam.{fn}: probs must lie in (0, 1).")
        return cls(jnp.log(p) - jnp.log1p(-p))

    @classmethod
    def from_logits(cls, logits: jax.typing.ArrayLike) -> ContinuousBernoulli:
        """The member with natural parameter `logits` (finite)."""
        fn = f"{cls.__name__}.from_logits"
        (logits,) = as_params(fn, logits=logits)
        val.check_domain(jnp.isfinite(logits), f"jaxdiv.expfam.{fn}: logits must be finite.")
        return cls(logits)

    @classmethod
    def _newton_start(cls, mu: Params) -> Self:
        return cls(jnp.zeros_like(jnp.asarray(mu[0])))  # the uniform density

    @property
    def probs(self) -> jax.Array:
        return jax.nn.sigmoid(self.logits)

    def log_normalizer(self) -> jax.Array:
        return 0.5 * self.logits + log_sinhc(0.5 * self.logits)

    def mean_parameters(self) -> Params:
        return (0.5 + 0.5 * coth_minus_inverse(0.5 * self.logits),)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.asarray(x, self.dtype),)

    def in_domain(self) -> jax.Array:
        return jnp.isfinite(self.logits)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Reparameterised inverse CDF `x = log(1 + u (e^theta - 1)) / theta`.

        Near `theta = 0` (below 0.1 in float32, 1e-3 in float64) from its Taylor series in
        `theta` to fourth order, whose value and derivative are exact through 0 (there
        `x = u` and `dx / dtheta = u (1 - u) / 2`); elsewhere written with `expm1` of a
        non-positive argument (for `theta > 0` through `1 - X`, the member at `-theta`).
        """
        shape = tuple(shape) + self.batch_shape
        u = jax.random.uniform(key, shape, self.dtype)
        theta = jnp.broadcast_to(self.logits, shape)
        near = jnp.abs(theta) < (0.1 if jnp.finfo(self.dtype).bits <= 32 else 1e-3)

        def series(t: jax.Array, v: jax.Array) -> jax.Array:
            w, c = v * (1 - v), 2 * v - 1
            poly = 1 / 2 + t * (
                -c / 6
                + t * ((6 * v * v - 6 * v + 1) / 24 - t * c * (12 * v * v - 12 * v + 1) / 120)
            )
            return v + w * t * poly

        def closed(t: jax.Array, v: jax.Array) -> jax.Array:
            neg = t < 0
            m = -jnp.abs(t)  # the mirrored member's natural parameter, < 0
            vm = jnp.where(neg, v, 1 - v)
            y = jnp.log1p(vm * jnp.expm1(m)) / m
            return jnp.where(neg, y, 1 - y)

        small = num.guard(near, series, theta, u, safe=0.0)
        large = num.guard(~near, closed, theta, u, safe=-1.0)
        return jnp.where(near, small, large)
