"""The Multinomial family with a fixed count n: theta = logits (K), T(x) = x (counts)."""

from __future__ import annotations

from typing import Any, Self

import jax
import jax.numpy as jnp

from jaxdiv import _logits, _numerics
from jaxdiv.expfam._categorical import Categorical, logits_from_simplex
from jaxdiv.expfam._family import (
    ExponentialFamily,
    Params,
    as_params,
    family,
    log_factorial,
    static_field,
)
from jaxdiv.expfam._registry import register_kl


def _exclusive_complement(p: jax.Array) -> jax.Array:
    """`1 - p_k` as the sum of the other entries (prefix and suffix sums, no cancellation)."""
    zero = jnp.zeros_like(p[..., :1])
    before = jnp.concatenate([zero, jnp.cumsum(p[..., :-1], -1)], -1)
    after = jnp.concatenate([jnp.cumsum(p[..., :0:-1], -1)[..., ::-1], zero], -1)
    return before + after


@family
class Multinomial(ExponentialFamily):
    r"""Multinomial(n, p) over K outcomes for a fixed (static) count `n`; natural parameters
    the logits (overcomplete, as [`Categorical`][jaxdiv.expfam.Categorical]).

    $$
    P(x) = \frac{n!}{\prod_k x_k!} \prod_k p_k^{x_k}, \qquad \sum_k x_k = n,
    $$

    $A = n \operatorname{logsumexp}(\theta)$, $\nabla A = n p$. Zero probabilities
    (`-inf` logits) are allowed and give the limits, as in `Categorical`; `n = 1`
    is the `Categorical` (with one-hot observations) and `K = 2` the
    [`Binomial`][jaxdiv.expfam.Binomial] of the first outcome's count.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import expfam
      >>> p = expfam.Multinomial.from_count_probs(4, jnp.array([0.5, 0.25, 0.25]))
      >>> p.mean_parameters()[0].tolist()  # E[x] = n p
      [2.0, 1.0, 1.0]
      >>> q = expfam.Multinomial.from_count_probs(4, jnp.array([0.25, 0.25, 0.5]))
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # n KL(Categorical(p) || Categorical(q))
      0.693147
    """

    logits: jax.Array
    total_count: int = static_field()
    natural_event_ndims = (1,)

    @classmethod
    def from_count_probs(cls, total_count: int, probs: jax.typing.ArrayLike) -> Multinomial:
        """The member with `total_count` draws and outcome probabilities `probs` (last axis)."""
        fn = f"{cls.__name__}.from_count_probs"
        if not isinstance(total_count, int) or isinstance(total_count, bool) or total_count < 1:
            raise ValueError(
                f"jaxdiv.expfam.{fn}: total_count must be a Python int >= 1, got {total_count!r}."
            )
        return cls(logits_from_simplex(fn, probs), total_count)

    @classmethod
    def from_count_logits(cls, total_count: int, logits: jax.typing.ArrayLike) -> Multinomial:
        """The member with `total_count` draws and logits `logits` (last axis), normalised or
        not."""
        fn = f"{cls.__name__}.from_count_logits"
        if not isinstance(total_count, int) or isinstance(total_count, bool) or total_count < 1:
            raise ValueError(
                f"jaxdiv.expfam.{fn}: total_count must be a Python int >= 1, got {total_count!r}."
            )
        (x,) = as_params(fn, logits=logits)
        return cls(x, total_count)

    @classmethod
    def from_mean_parameters(cls, mu: Params, *, total_count: int) -> Multinomial:
        return cls.from_count_probs(total_count, jnp.asarray(mu[0]) / total_count)

    @classmethod
    def _statistics_template(cls, dtype: Any, **static: Any) -> Self:
        raise TypeError(
            "jaxdiv.expfam.moment_match: count statistics need the number of outcomes; "
            "pass a Multinomial member as the template, or the mean statistics (n p,)."
        )

    @property
    def num_categories(self) -> int:
        return self.logits.shape[-1]

    @property
    def probs(self) -> jax.Array:
        return jax.nn.softmax(self.logits, axis=-1)

    def _categorical(self) -> Categorical:
        return Categorical(self.logits)

    def log_normalizer(self) -> jax.Array:
        return self.total_count * _numerics.logsumexp(self.logits, axis=-1)

    def mean_parameters(self) -> Params:
        return (self.total_count * self.probs,)

    def log_normalizer_minus_inner(self, other: Self) -> jax.Array:
        """`-n sum_k p_k log q_k` with `0 log 0 = 0`, `p` the other member, `q` this one."""
        return self.total_count * self._categorical().log_normalizer_minus_inner(
            other._categorical()
        )

    def in_domain(self) -> jax.Array:
        return self._categorical().in_domain()

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.asarray(x, self.dtype),)

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        x = jnp.asarray(x, self.dtype)
        n = jnp.asarray(self.total_count, self.dtype)
        return log_factorial(n) - jnp.sum(log_factorial(x), axis=-1)

    def log_prob(self, x: jax.typing.ArrayLike) -> jax.Array:
        x = jnp.asarray(x, self.dtype)
        logp = _numerics.log_softmax(self.logits, axis=-1, mask=None)
        logp, x = jnp.broadcast_arrays(logp, x)
        return self.log_base_measure(x) + jnp.sum(_numerics.mul_log(x, logp), axis=-1)

    def expected_log_base_measure(self) -> jax.Array:
        """`log n! - sum_k E[log X_k!]`, each `X_k ~ Binomial(n, p_k)` summed exactly over
        its n + 1 values (`1 - p_k` as the sum of the other probabilities)."""
        n = self.total_count
        p = self.probs
        log_p = _numerics.log_softmax(self.logits, axis=-1, mask=None)[..., None]
        log_rest = _numerics.safe_log(_exclusive_complement(p))[..., None]
        j = jnp.arange(n + 1, dtype=self.dtype)
        log_fact = log_factorial(j)
        log_choose = log_fact[-1] - log_fact - log_fact[::-1]
        log_choose = jnp.where((j == 0) | (j == n), 0.0, log_choose)
        j, log_p, log_rest, log_choose, log_fact_j = jnp.broadcast_arrays(
            j, log_p, log_rest, log_choose, log_fact
        )
        log_pmf = log_choose + _numerics.mul_log(j, log_p) + _numerics.mul_log(n - j, log_rest)
        expected = jnp.sum(jnp.exp(log_pmf) * log_fact_j, axis=(-2, -1))
        return log_fact[-1] - expected  # log n! from the same array: 0 at a point mass

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        shape = tuple(shape) + self.batch_shape
        probs = jnp.broadcast_to(self.probs, (*shape, self.num_categories))
        return jax.random.multinomial(key, self.total_count, probs, dtype=self.dtype)


@register_kl(Multinomial)
def _multinomial_kl(p: Multinomial, q: Multinomial) -> jax.Array:
    return p.total_count * _logits.kl_divergence_from_logits(p.logits, q.logits)
