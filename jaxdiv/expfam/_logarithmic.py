"""The logarithmic (log-series) family: theta = log p, T(x) = x - 1, h(x) = 1 / x."""

from __future__ import annotations

from typing import Self

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv.expfam._count_integrals import laplace_integral
from jaxdiv.expfam._family import ExponentialFamily, Params, as_params, family

# -log(1 - p) / p - 1 below p = 1/2 from the series of atanh in z = p / (2 - p) <= 1/3:
# 2 sum_k z^(2k) / (2k + 1), k = 1.._SERIES_TERMS, truncated below 1e-18 relative.
_SERIES_TERMS = 18
_SERIES_BELOW = 0.5


def _excess(p: jax.Array) -> jax.Array:
    """`h(p) = -log(1 - p) / p - 1 >= 0`, accurate for `p` in [0, 1) (0 at `p = 0`).

    Below 1/2 with the atanh series `(p + 2 sum_k z^(2k) / (2k + 1)) / (2 - p)`,
    `z = p / (2 - p)` (no cancellation near 0); above, directly.
    """
    small = p < _SERIES_BELOW
    ps = jnp.where(small, p, 0.0)
    z2 = (ps / (2 - ps)) ** 2
    series = jnp.zeros_like(ps)
    for k in range(_SERIES_TERMS, 0, -1):  # Horner: z^2 (1/3 + z^2 (1/5 + ...))
        series = z2 * (1.0 / (2 * k + 1) + series)
    near = (ps + 2 * series) / (2 - ps)
    pb = jnp.where(small, 0.75, p)
    far = -jnp.log1p(-pb) / pb - 1
    return jnp.where(small, near, far)


@family
class Logarithmic(ExponentialFamily):
    r"""The logarithmic (log-series) distribution on {1, 2, 3, ...}, scipy's `logser(p)`.

    $$
    P(x) = \frac{-1}{\log(1 - p)} \, \frac{p^x}{x}, \qquad 0 \le p < 1.
    $$

    Natural parameter $\theta = \log p$, with the statistic $T(x) = x - 1$ (the
    count beyond the first, so that every term stays finite at $p = 0$), base
    measure $h(x) = 1 / x$ and

    $$
    A(\theta) = \log \frac{-\log(1 - p)}{p}, \qquad \nabla A(\theta) = E[X] - 1
      = \frac{p}{(1 - p)(-\log(1 - p))} - 1.
    $$

    `p = 0` (natural parameter `-inf`, all the mass at 1) is a member, as the
    limit. The entropy needs `E[log X]`, computed by a quadrature of the Laplace
    transform of `X` (accurate to about 1e-12 in float64).

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Logarithmic.from_probs(0.5)
      >>> round(float(p.mean_parameters()[0]) + 1, 6)  # E[x] = p / ((1 - p)(-log(1 - p)))
      1.442695
      >>> one = expfam.Logarithmic.from_probs(0.0)  # all the mass at 1
      >>> round(float(expfam.kl_divergence(one, p)), 6)  # -log P_p(1) = log(2 log 2)
      0.326634
    """

    log_probs: jax.Array
    natural_event_ndims = (0,)

    @classmethod
    def from_probs(cls, probs: jax.typing.ArrayLike) -> Logarithmic:
        """The member with parameter `probs` in [0, 1)."""
        fn = f"{cls.__name__}.from_probs"
        (p,) = as_params(fn, probs=probs)
        val.check_domain((p >= 0) & (p < 1), f"jaxdiv.expfam.{fn}: probs must lie in [0, 1).")
        return cls(num.safe_log(p))

    @classmethod
    def _newton_start(cls, mu: Params) -> Self:
        beyond = jnp.asarray(mu[0])  # E[X] - 1; p = m / (1 + m) is within a factor of 2
        return cls(num.safe_log(beyond) - jnp.log1p(beyond))

    @property
    def probs(self) -> jax.Array:
        return jnp.exp(self.log_probs)

    def _one_minus_p(self) -> jax.Array:
        return -jnp.expm1(self.log_probs)

    def log_normalizer(self) -> jax.Array:
        return jnp.log1p(_excess(self.probs))

    def mean_parameters(self) -> Params:
        """`E[X] - 1 = (p - (1 - p) h) / ((1 - p)(1 + h))` with `h = -log(1 - p) / p - 1`."""
        p, q = self.probs, self._one_minus_p()
        h = _excess(p)
        return ((p - q * h) / (q * (1 + h)),)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.asarray(x, self.dtype) - 1,)

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        return -jnp.log(jnp.asarray(x, self.dtype))

    def expected_log_base_measure(self) -> jax.Array:
        r"""`-E[log X]`, by Frullani's integral over the Laplace transform of `Y = X - 1`.

        $E[\log X] = \int_0^\infty e^{-t} (1 - E[e^{-t Y}]) \, dt / t$ with
        $E[e^{-t Y}] = e^{A(\theta - t) - A(\theta)}$.
        """
        a = self.log_normalizer()[..., None]
        theta = self.log_probs[..., None]

        def survival(t: jax.Array) -> jax.Array:
            shifted = jnp.log1p(_excess(jnp.exp(theta - t)))
            return -jnp.expm1(shifted - a)

        return -laplace_integral(
            lambda t: np.exp(-t),
            survival,
            dtype=self.dtype,
            decay=1.0,
            batch_ndim=len(self.batch_shape),
        )

    def in_domain(self) -> jax.Array:
        return self.log_probs < 0

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Kemp's mixture: `X - 1` is geometric given `q = 1 - (1 - p)^U`, `U` uniform."""
        shape = tuple(shape) + self.batch_shape
        k_u, k_v = jax.random.split(key)
        tiny = jnp.finfo(self.dtype).tiny
        u = jax.random.uniform(k_u, shape, self.dtype, minval=tiny)
        v = jax.random.uniform(k_v, shape, self.dtype, minval=tiny)
        log_q = jnp.log(-jnp.expm1(u * jnp.log(jnp.broadcast_to(self._one_minus_p(), shape))))
        return 1 + jnp.floor(jnp.log(v) / log_q)
