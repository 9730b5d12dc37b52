"""The Binomial family with a fixed count n: theta = logit(p), T(x) = x, A = n softplus(theta)."""

from __future__ import annotations

from typing import Self

import jax
import jax.numpy as jnp

from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv.expfam._bernoulli import (
    binary_log_normalizer_minus_inner,
    binary_log_prob,
    logits_from_probs,
)
from jaxdiv.expfam._family import (
    ExponentialFamily,
    Params,
    as_params,
    family,
    log_factorial,
    static_field,
)


def _log_choose(n: int, x: jax.Array) -> jax.Array:
    return log_factorial(jnp.asarray(n, x.dtype)) - log_factorial(x) - log_factorial(n - x)


@family
class Binomial(ExponentialFamily):
    r"""Binomial(n, p) for a fixed (static) count `n`; natural parameter $\operatorname{logit} p$.

    `p = 0` and `p = 1` (logits `-inf` and `+inf`) are members: all the
    mass at 0 or at n.

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Binomial.from_count_probs(10, 0.3)
      >>> round(float(p.mean_parameters()[0]), 6)  # E[x] = n p
      3.0
    """

    logits: jax.Array
    total_count: int = static_field()
    natural_event_ndims = (0,)

    @classmethod
    def from_count_probs(cls, total_count: int, probs: jax.typing.ArrayLike) -> Binomial:
        fn = f"{cls.__name__}.from_count_probs"
        if not isinstance(total_count, int) or total_count < 1:
            raise ValueError(
                f"jaxdiv.expfam.{fn}: total_count must be a Python int >= 1, got {total_count!r}."
            )
        (p,) = as_params(fn, probs=probs)
        val.check_domain((p >= 0) & (p <= 1), f"jaxdiv.expfam.{fn}: probs must lie in [0, 1].")
        return cls(logits_from_probs(p), total_count)

    @classmethod
    def from_mean_parameters(cls, mu: Params, *, total_count: int) -> Binomial:
        return cls.from_count_probs(total_count, mu[0] / total_count)

    @property
    def probs(self) -> jax.Array:
        return jax.nn.sigmoid(self.logits)

    def log_normalizer(self) -> jax.Array:
        return self.total_count * jax.nn.softplus(self.logits)

    def log_normalizer_minus_inner(self, other: Self) -> jax.Array:
        return self.total_count * binary_log_normalizer_minus_inner(other.logits, self.logits)

    def mean_parameters(self) -> Params:
        return (self.total_count * self.probs,)

    def log_prob(self, x: jax.typing.ArrayLike) -> jax.Array:
        x = jnp.asarray(x, self.dtype)
        n = self.total_count
        return _log_choose(n, x) + n * binary_log_prob(self.logits, x / n)

    def in_domain(self) -> jax.Array:
        return ~jnp.isnan(self.logits)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.asarray(x, self.dtype),)

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        return _log_choose(self.total_count, jnp.asarray(x, self.dtype))

    def expected_log_base_measure(self) -> jax.Array:
        """`E[log C(n, X)]`, summed exactly over the n + 1 outcomes."""
        support = jnp.arange(self.total_count + 1, dtype=self.dtype)
        support = jnp.broadcast_to(support, (*self.batch_shape, self.total_count + 1))
        logits = self.logits[..., None]
        # k log sigmoid(a) + (n - k) log sigmoid(-a), 0 log 0 = 0 (exact at p = 0 and 1).
        log_pmf = (
            _log_choose(self.total_count, support)
            + num.mul_log(support, jax.nn.log_sigmoid(logits))
            + num.mul_log(self.total_count - support, jax.nn.log_sigmoid(-logits))
        )
        return jnp.sum(jnp.exp(log_pmf) * _log_choose(self.total_count, support), axis=-1)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        shape = tuple(shape) + self.batch_shape
        return jax.random.binomial(
            key, self.total_count, jnp.broadcast_to(self.probs, shape), shape
        ).astype(self.dtype)
