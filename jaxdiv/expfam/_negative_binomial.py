"""The Negative Binomial family with a fixed count r: theta = log(1 - p), T(x) = x."""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln

from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv.expfam._count_integrals import laplace_integral
from jaxdiv.expfam._family import (
    ExponentialFamily,
    Params,
    as_params,
    family,
    log_factorial,
    static_field,
)


def _log_rising(r: float, x: jax.Array) -> jax.Array:
    """`log(Gamma(x + r) / (Gamma(r) x!))`, the log-base measure, exactly 0 at `x = 0`."""
    return gammaln(x + r) - gammaln(jnp.asarray(r, x.dtype)) - log_factorial(x)


@family
class NegativeBinomial(ExponentialFamily):
    r"""NegativeBinomial(r, p): the number of failures before the `r`-th success.

    Trials succeed with probability `p`; the count `r > 0` is fixed (static) and
    need not be an integer. As scipy's `nbinom(r, p)`:

    $$
    P(x) = \frac{\Gamma(x + r)}{\Gamma(r) \, x!} \, p^r (1 - p)^x, \qquad x = 0, 1, 2, \ldots
    $$

    Natural parameter $\theta = \log(1 - p) < 0$, $A = -r \log(1 - e^\theta) = -r \log p$.
    `p = 1` (natural parameter `-inf`, all the mass at 0) is a member; `p = 0`
    is not (no mass anywhere). `r = 1` is the [`Geometric`][jaxdiv.expfam.Geometric].
    TensorFlow Probability's `NegativeBinomial(total_count=r, probs=...)` counts
    the other outcome: its `probs` is this `1 - p`.

    The entropy needs `E[log Gamma(X + r) - log X!]`, computed by a quadrature of
    the Laplace transform of `X` (accurate to about 1e-12 in float64 at any `p`).

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.NegativeBinomial.from_count_probs(3, 0.25)
      >>> round(float(p.mean_parameters()[0]), 6)  # E[x] = r (1 - p) / p
      9.0
      >>> one = expfam.NegativeBinomial.from_count_probs(3, 1.0)  # all the mass at 0
      >>> round(float(expfam.kl_divergence(one, p)), 6)  # -log P_p(0) = -3 log(1/4)
      4.158883
    """

    log_failure: jax.Array
    total_count: float = static_field()
    natural_event_ndims = (0,)

    @classmethod
    def from_count_probs(cls, total_count: float, probs: jax.typing.ArrayLike) -> NegativeBinomial:
        """The member with `total_count` successes and success probability `probs`, in (0, 1]."""
        fn = f"{cls.__name__}.from_count_probs"
        if (
            not isinstance(total_count, numbers.Real)
            or isinstance(total_count, bool)
            or not math.isfinite(total_count)
            or total_count <= 0
        ):
            raise ValueError(
                f"jaxdiv.expfam.{fn}: total_count must be a finite Python number > 0 (the "
                f"number of successes), got {total_count!r}."
            )
        (p,) = as_params(fn, probs=probs)
        val.check_domain((p > 0) & (p <= 1), f"jaxdiv.expfam.{fn}: probs must lie in (0, 1].")
        return cls(num.safe_log1m(p), total_count)

    @classmethod
    def from_mean_parameters(cls, mu: Params, *, total_count: float) -> NegativeBinomial:
        mean = jnp.asarray(mu[0])
        return cls.from_count_probs(total_count, total_count / (total_count + mean))

    @property
    def probs(self) -> jax.Array:
        return -jnp.expm1(self.log_failure)

    @property
    def odds(self) -> jax.Array:
        """`(1 - p) / p`, the expected failures per success (0 at `p = 1`)."""
        return jnp.exp(self.log_failure - jnp.log(self.probs))

    def log_normalizer(self) -> jax.Array:
        return -self.total_count * jnp.log(self.probs)

    def mean_parameters(self) -> Params:
        return (self.total_count * self.odds,)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.asarray(x, self.dtype),)

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        return _log_rising(self.total_count, jnp.asarray(x, self.dtype))

    def expected_log_base_measure(self) -> jax.Array:
        r"""`E[log Gamma(X + r) - log Gamma(r) - log X!]`, by Malmsten's integral.

        $\int_0^\infty \frac{e^{-t} - e^{-r t}}{1 - e^{-t}} (1 - E[e^{-t X}]) \, dt / t$ with
        $1 - E[e^{-t X}] = 1 - (1 + (1 - e^{-t}) \text{odds})^{-r}$.
        """
        r = float(self.total_count)
        if r == 1.0:  # the Geometric: h = 1
            return jnp.zeros(self.batch_shape, self.dtype)
        odds = self.odds[..., None]

        def kernel(t: np.ndarray) -> np.ndarray:
            # (e^-t - e^-rt) / (1 - e^-t), written so that neither exponential overflows.
            sign = 1.0 if r > 1 else -1.0
            return sign * np.exp(-min(r, 1.0) * t) * np.expm1(-abs(r - 1) * t) / np.expm1(-t)

        def survival(t: jax.Array) -> jax.Array:
            return -jnp.expm1(-r * jnp.log1p(-jnp.expm1(-t) * odds))

        return laplace_integral(
            kernel, survival, dtype=self.dtype, decay=min(r, 1.0), batch_ndim=len(self.batch_shape)
        )

    def in_domain(self) -> jax.Array:
        return self.log_failure < 0

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """A Poisson draw whose rate is a Gamma(r) draw times the odds `(1 - p) / p`."""
        shape = tuple(shape) + self.batch_shape
        k_gamma, k_poisson = jax.random.split(key)
        rate = jax.random.gamma(k_gamma, self.total_count, shape, self.dtype)
        rate = rate * jnp.broadcast_to(self.odds, shape)
        return jax.random.poisson(k_poisson, rate, shape).astype(self.dtype)
