"""The generalized Dirichlet family (Connor-Mosimann): K - 1 stick-breaking Betas."""

from __future__ import annotations

from typing import Self

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma

from jaxdiv import _validation as val
from jaxdiv.expfam._beta import log_beta
from jaxdiv.expfam._family import ExponentialFamily, Params, as_params, family


def _tails(x: jax.Array) -> jax.Array:
    """`s_i = x_i + ... + x_K` for i = 1..K (the stick left before break i), summed from the
    end so that small remainders keep their relative precision."""
    return jnp.flip(jnp.cumsum(jnp.flip(x, -1), -1), -1)


@family
class GeneralizedDirichlet(ExponentialFamily):
    r"""The generalized Dirichlet distribution of Connor and Mosimann on the K-simplex.

    Parameters $a, b$ of length $K - 1$. A point $x = (x_1, \ldots, x_K)$ of the
    simplex is made by stick-breaking: $V_i \sim \mathrm{Beta}(a_i, b_i)$ independent,
    $x_i = V_i \prod_{j < i} (1 - V_j)$ for $i < K$ and $x_K = \prod_{j < K} (1 - V_j)$.
    With $z_i = 1 - x_1 - \cdots - x_i$ the density is

    $$
    p(x) = \prod_{i=1}^{K-1} \frac{x_i^{a_i - 1} z_i^{\gamma_i}}{B(a_i, b_i)}, \qquad
    \gamma_i = b_i - a_{i+1} - b_{i+1}, \quad \gamma_{K-1} = b_{K-1} - 1.
    $$

    As for the [`Dirichlet`][jaxdiv.expfam.Dirichlet], observations hold all K
    coordinates and the density is with respect to Lebesgue measure on the first
    K - 1; with $b_i = a_{i+1} + \cdots + a_K$ it is the `Dirichlet(a)` (and
    $K = 2$ the Beta of $x_1$).

    As an exponential family it is the product of the stick-breaking Betas:
    statistics $T(x) = (\log V_i, \log(1 - V_i))$ with $V_i = x_i / z_{i-1}$,
    natural parameters $(a - 1, b - 1)$, $A = \sum_i \log B(a_i, b_i)$ and the
    Jacobian as base measure, $h(x) = 1 / \prod_{i=1}^{K-2} z_i$. The KL divergence
    is the sum of the Betas' KL divergences; the entropy adds
    $\sum_{i \le K-2} E[\log z_i]$ to theirs.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import expfam
      >>> a, b = jnp.array([1.0, 2.0]), jnp.array([5.0, 3.0])  # b_i = a_(i+1) + ... + a_K
      >>> g = expfam.GeneralizedDirichlet.from_concentrations(a, b)
      >>> d = expfam.Dirichlet.from_concentration(jnp.array([1.0, 2.0, 3.0]))
      >>> round(float(expfam.entropy(g) - expfam.entropy(d)), 6)  # the same distribution
      0.0

    References:
      R. J. Connor and J. E. Mosimann, Concepts of independence for proportions with a
      generalization of the Dirichlet distribution, JASA 64, 1969.
    """

    a_m1: jax.Array
    b_m1: jax.Array
    natural_event_ndims = (1, 1)
    boundary_members = False  # finite natural parameters at every member

    @classmethod
    def from_concentrations(
        cls, a: jax.typing.ArrayLike, b: jax.typing.ArrayLike
    ) -> GeneralizedDirichlet:
        """The member with stick-breaking Betas `Beta(a_i, b_i)`; `a`, `b` of length K - 1."""
        fn = f"{cls.__name__}.from_concentrations"
        a, b = as_params(fn, a=a, b=b)
        if a.ndim < 1 or a.shape[-1] < 1:
            raise ValueError(
                f"jaxdiv.expfam.{fn}: a and b must have a last axis of size K - 1 >= 1, "
                f"got shape {a.shape}."
            )
        val.check_domain((a > 0) & (b > 0), f"jaxdiv.expfam.{fn}: a and b must be > 0.")
        return cls(a - 1, b - 1)

    @classmethod
    def _newton_start(cls, mu: Params) -> Self:
        zero = jnp.zeros_like(jnp.asarray(mu[0]))
        return cls(zero, zero)  # uniform stick-breaking proportions

    @property
    def a(self) -> jax.Array:
        return self.a_m1 + 1

    @property
    def b(self) -> jax.Array:
        return self.b_m1 + 1

    @property
    def num_categories(self) -> int:
        """K, the number of coordinates of an observation."""
        return self.a_m1.shape[-1] + 1

    def log_normalizer(self) -> jax.Array:
        return jnp.sum(log_beta(self.a, self.b), -1)

    def mean_parameters(self) -> Params:
        a, b = self.a, self.b
        return (digamma(a) - digamma(a + b), digamma(b) - digamma(a + b))

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        """`(log V_i, log(1 - V_i))` for i = 1..K-1, from the K coordinates of `x`."""
        x = jnp.asarray(x, self.dtype)
        log_s = jnp.log(_tails(x))
        return (jnp.log(x[..., :-1]) - log_s[..., :-1], log_s[..., 1:] - log_s[..., :-1])

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        """`-sum_{i=1}^{K-2} log z_i`, the log-Jacobian of the stick-breaking map."""
        log_s = jnp.log(_tails(jnp.asarray(x, self.dtype)))
        return -jnp.sum(log_s[..., 1:-1], -1)

    def expected_log_base_measure(self) -> jax.Array:
        """`-sum_{i <= K-2} E[log z_i]`, with `E[log z_i] = sum_{j <= i} E[log(1 - V_j)]`."""
        k = self.a_m1.shape[-1]
        weights = jnp.arange(k - 1, -1, -1, dtype=self.dtype)  # K - 1 - j for j = 1..K-1
        log_one_minus_v = self.mean_parameters()[1]
        return -jnp.sum(jnp.broadcast_to(weights, log_one_minus_v.shape) * log_one_minus_v, -1)

    def in_domain(self) -> jax.Array:
        return jnp.all((self.a_m1 > -1) & (self.b_m1 > -1), axis=-1)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Stick-breaking from `jax.random.beta` draws; shape `shape + batch + (K,)`."""
        full = (*shape, *self.batch_shape, self.a_m1.shape[-1])
        v = jax.random.beta(
            key,
            jnp.broadcast_to(self.a, full),
            jnp.broadcast_to(self.b, full),
            full,
            self.dtype,
        )
        ones = jnp.ones_like(v[..., :1])
        left = jnp.cumprod(jnp.concatenate([ones, 1 - v], -1), -1)  # z_0 = 1, ..., z_(K-1)
        return jnp.concatenate([v * left[..., :-1], left[..., -1:]], -1)
