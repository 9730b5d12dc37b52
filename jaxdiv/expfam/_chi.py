"""The chi family in its degrees of freedom: theta = df - 1, T(x) = log x, h(x) = exp(-x^2 / 2)."""

from __future__ import annotations

import math
from typing import Self

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, gammaln

from jaxdiv import _validation as val
from jaxdiv.expfam._family import ExponentialFamily, Params, as_params, family

_LOG2 = math.log(2.0)


@family
class Chi(ExponentialFamily):
    r"""Chi(df): the length of a standard normal vector of dimension $k$ (any real $k > 0$).

    Density $x^{k - 1} e^{-x^2 / 2} / (2^{k/2 - 1} \Gamma(k / 2))$ on $x \ge 0$:
    natural parameter $\theta = k - 1$, $T(x) = \log x$, $h(x) = e^{-x^2 / 2}$ and
    $A = (k / 2 - 1) \log 2 + \log \Gamma(k / 2)$. The member stores $k$ itself
    (not $k - 1$), so that small degrees of freedom keep their relative precision.

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Chi.from_df(3.0)  # the Maxwell speed distribution
      >>> round(float(expfam.entropy(p)), 6)
      0.996154
    """

    df: jax.Array
    natural_event_ndims = (0,)
    boundary_members = False  # finite natural parameters at every member

    @classmethod
    def from_df(cls, df: jax.typing.ArrayLike) -> Chi:
        """The member with `df` (> 0) degrees of freedom: scipy's `chi(df)`."""
        fn = f"{cls.__name__}.from_df"
        (df,) = as_params(fn, df=df)
        val.check_domain((df > 0) & jnp.isfinite(df), f"jaxdiv.expfam.{fn}: df must be > 0.")
        return cls(df)

    @classmethod
    def _newton_start(cls, mu: Params) -> Self:
        # E[log X] = (psi(k / 2) + log 2) / 2 and psi(a) is about log(a - 1/2).
        return cls(jnp.exp(2 * jnp.asarray(mu[0])) + 1)

    def natural_parameters(self) -> Params:
        return (self.df - 1,)

    def with_natural_parameters(self, theta: Params) -> Self:
        return type(self)(theta[0] + 1)

    def log_normalizer(self) -> jax.Array:
        half = 0.5 * self.df
        return (half - 1) * _LOG2 + gammaln(half)

    def mean_parameters(self) -> Params:
        return (0.5 * (digamma(0.5 * self.df) + _LOG2),)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.log(jnp.asarray(x, self.dtype)),)

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        return -0.5 * jnp.square(jnp.asarray(x, self.dtype))

    def expected_log_base_measure(self) -> jax.Array:
        return -0.5 * self.df  # E[X^2] = k

    def in_domain(self) -> jax.Array:
        return self.df > 0

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Reparameterised: `sqrt(2 G)` with `G ~ Gamma(df / 2)` (implicit gradients)."""
        shape = tuple(shape) + self.batch_shape
        g = jax.random.gamma(key, jnp.broadcast_to(0.5 * self.df, shape), shape, self.dtype)
        return jnp.sqrt(2 * g)
