"""The chi-square family: theta = df / 2 - 1, T(x) = log x, h(x) = exp(-x / 2)."""

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
class ChiSquare(ExponentialFamily):
    r"""ChiSquare(df), the Gamma distribution of shape $k / 2$ and rate $1 / 2$.

    Density $x^{k/2 - 1} e^{-x / 2} / (2^{k/2} \Gamma(k / 2))$ on $x \ge 0$:
    natural parameter $\theta = k / 2 - 1$, $T(x) = \log x$, $h(x) = e^{-x / 2}$
    and $A = (k / 2) \log 2 + \log \Gamma(k / 2)$. The member stores $k$ itself,
    so that small degrees of freedom keep their relative precision.

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.ChiSquare.from_df(2.0)  # Exponential with rate 1/2
      >>> round(float(expfam.entropy(p)), 5)  # 1 + log 2
      1.69315
    """

    df: jax.Array
    natural_event_ndims = (0,)
    boundary_members = False  # finite natural parameters at every member

    @classmethod
    def from_df(cls, df: jax.typing.ArrayLike) -> ChiSquare:
        """The member with `df` (> 0) degrees of freedom: scipy's `chi2(df)`."""
        fn = f"{cls.__name__}.from_df"
        (df,) = as_params(fn, df=df)
        val.check_domain((df > 0) & jnp.isfinite(df), f"jaxdiv.expfam.{fn}: df must be > 0.")
        return cls(df)

    @classmethod
    def _newton_start(cls, mu: Params) -> Self:
        # E[log X] = psi(k / 2) + log 2 and psi(a) is about log(a - 1/2).
        return cls(jnp.exp(jnp.asarray(mu[0])) + 1)

    def natural_parameters(self) -> Params:
        return (0.5 * self.df - 1,)

    def with_natural_parameters(self, theta: Params) -> Self:
        return type(self)(2 * (theta[0] + 1))

    def log_normalizer(self) -> jax.Array:
        half = 0.5 * self.df
        return half * _LOG2 + gammaln(half)

    def mean_parameters(self) -> Params:
        return (digamma(0.5 * self.df) + _LOG2,)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.log(jnp.asarray(x, self.dtype)),)

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        return -0.5 * jnp.asarray(x, self.dtype)

    def expected_log_base_measure(self) -> jax.Array:
        return -0.5 * self.df  # E[X] = k

    def in_domain(self) -> jax.Array:
        return self.df > 0

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Reparameterised: `2 G` with `G ~ Gamma(df / 2)` (implicit gradients)."""
        shape = tuple(shape) + self.batch_shape
        g = jax.random.gamma(key, jnp.broadcast_to(0.5 * self.df, shape), shape, self.dtype)
        return 2 * g
