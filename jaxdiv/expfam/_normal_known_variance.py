"""The Normal family in its mean, with a fixed variance: theta = mean / var, T(x) = x."""

from __future__ import annotations

import math
from typing import Self

import jax
import jax.numpy as jnp

from jaxdiv import _validation as val
from jaxdiv._numerics import LOG_2PI
from jaxdiv.expfam._family import ExponentialFamily, Params, as_params, family, static_field
from jaxdiv.expfam._registry import register_kl


@family
class NormalKnownVariance(ExponentialFamily):
    r"""Normal(mean, variance) with a fixed (static) variance $\sigma^2$: the family in the mean.

    $$
    p(x) = h(x) \exp\big(\theta x - A(\theta)\big), \quad \theta = m / \sigma^2, \quad
    A(\theta) = \sigma^2 \theta^2 / 2 = m^2 / (2 \sigma^2),
    $$

    with $h(x) = N(x; 0, \sigma^2)$. The member stores the mean `loc`; the variance is a
    Python float in the tree structure, so members with different variances are
    different families (divergences between them raise `ValueError`) and a new
    variance compiles a new program. Registered closed form
    $\mathrm{KL} = (m_1 - m_2)^2 / (2 \sigma^2)$. To learn the variance as well use
    [`Normal`][jaxdiv.expfam.Normal].

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.NormalKnownVariance.from_mean_variance(0.0, 4.0)
      >>> q = expfam.NormalKnownVariance.from_mean_variance(2.0, 4.0)
      >>> float(expfam.kl_divergence(p, q))  # 2^2 / (2 * 4)
      0.5
    """

    loc: jax.Array
    variance: float = static_field()
    natural_event_ndims = (0,)
    boundary_members = False  # finite natural parameters at every member

    @classmethod
    def from_mean_variance(cls, mean: jax.typing.ArrayLike, variance: float) -> Self:
        """The member with mean `mean` and the fixed variance `variance` (a Python float > 0,
        static; not a traced value)."""
        fn = f"{cls.__name__}.from_mean_variance"
        variance = val.finite_float("variance", variance, fn=f"expfam.{fn}", positive=True)
        (mean,) = as_params(fn, mean=mean)
        val.check_domain(jnp.isfinite(mean), f"jaxdiv.expfam.{fn}: mean must be finite.")
        return cls(mean, variance)

    @classmethod
    def from_mean_parameters(cls, mu: Params, *, variance: float) -> Self:
        """The member with `E[x] = mu[0]`: the mean parameter is the mean."""
        return cls.from_mean_variance(mu[0], variance)

    @property
    def std(self) -> float:
        return math.sqrt(self.variance)

    def natural_parameters(self) -> Params:
        return (self.loc / self.variance,)

    def with_natural_parameters(self, theta: Params) -> Self:
        return type(self)(theta[0] * self.variance, self.variance)

    def log_normalizer(self) -> jax.Array:
        return 0.5 * jnp.square(self.loc) / self.variance

    def log_normalizer_minus_inner(self, other: ExponentialFamily) -> jax.Array:
        """`((m - m_other)^2 - m_other^2) / (2 var)`, without the product of large terms."""
        assert isinstance(other, NormalKnownVariance)
        m, mo = self.loc, other.loc
        return 0.5 * (jnp.square(m - mo) - jnp.square(mo)) / self.variance

    def mean_parameters(self) -> Params:
        return (self.loc,)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.asarray(x, self.dtype),)

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        x = jnp.asarray(x, self.dtype)
        return -0.5 * (LOG_2PI + math.log(self.variance)) - 0.5 * jnp.square(x) / self.variance

    def expected_log_base_measure(self) -> jax.Array:
        const = -0.5 * (LOG_2PI + math.log(self.variance)) - 0.5
        return const - 0.5 * jnp.square(self.loc) / self.variance

    def in_domain(self) -> jax.Array:
        return jnp.isfinite(self.loc)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Reparameterised: `loc + std * N(0, 1)`."""
        z = jax.random.normal(key, tuple(shape) + self.loc.shape, self.dtype)
        return jnp.broadcast_to(self.loc, z.shape) + self.std * z


@register_kl(NormalKnownVariance)
def _normal_known_variance_kl(p: NormalKnownVariance, q: NormalKnownVariance) -> jax.Array:
    return 0.5 * jnp.square(p.loc - q.loc) / p.variance
