"""The Bernoulli family: theta = logit(p), T(x) = x, A = softplus(theta)."""

from __future__ import annotations

from typing import Self

import jax
import jax.numpy as jnp

from jaxdiv import _binary
from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv.expfam._family import ExponentialFamily, Params, UnitBaseMeasure, as_params, family
from jaxdiv.expfam._registry import register_kl


def logits_from_probs(p: jax.Array) -> jax.Array:
    """`log(p / (1 - p))`: `-inf` at `p = 0`, `+inf` at `p = 1` (zero gradient there)."""
    return num.safe_log(p) - num.safe_log1m(p)


def binary_log_normalizer_minus_inner(a: jax.Array, b: jax.Array) -> jax.Array:
    """`softplus(b) - b sigmoid(a)`, as `-s(a) log s(b) - s(-a) log s(-b)` (`s` the sigmoid).

    Each outcome's term is 0 where its probability under `a` is 0, so the
    value is exact for logits of any size, `+inf` included (where
    `softplus(b)` and `b sigmoid(a)` are both infinite), with finite
    gradients wherever it is finite.
    """
    a, b = jnp.broadcast_arrays(a, b)
    return -(
        num.mul_log(jax.nn.sigmoid(a), jax.nn.log_sigmoid(b))
        + num.mul_log(jax.nn.sigmoid(-a), jax.nn.log_sigmoid(-b))
    )


def binary_log_prob(logits: jax.Array, x: jax.Array) -> jax.Array:
    """`x log sigmoid(logits) + (1 - x) log sigmoid(-logits)`, 0 log 0 = 0."""
    logits, x = jnp.broadcast_arrays(logits, x)
    return num.mul_log(x, jax.nn.log_sigmoid(logits)) + num.mul_log(
        1 - x, jax.nn.log_sigmoid(-logits)
    )


@family
class Bernoulli(UnitBaseMeasure, ExponentialFamily):
    r"""Bernoulli(p) with natural parameter $\theta = \log \frac{p}{1 - p}$; outcomes {0, 1}.

    The degenerate members `p = 0` and `p = 1` (logits `-inf` and
    `+inf`) are members: their entropy is 0, and
    $\mathrm{KL}(\mathrm{Bernoulli}(1) \,\|\, \mathrm{Bernoulli}(0)) = +\infty$, as in
    TensorFlow Probability and PyTorch.

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Bernoulli.from_probs(0.25)
      >>> round(float(expfam.entropy(p)), 6)  # -(1/4) log(1/4) - (3/4) log(3/4)
      0.562335
      >>> one = expfam.Bernoulli.from_probs(1.0)
      >>> round(float(expfam.kl_divergence(one, p)), 6)  # -log(1/4)
      1.386294
    """

    logits: jax.Array
    natural_event_ndims = (0,)

    @classmethod
    def from_probs(cls, probs: jax.typing.ArrayLike) -> Bernoulli:
        fn = f"{cls.__name__}.from_probs"
        (p,) = as_params(fn, probs=probs)
        val.check_domain((p >= 0) & (p <= 1), f"jaxdiv.expfam.{fn}: probs must lie in [0, 1].")
        return cls(logits_from_probs(p))

    @classmethod
    def from_logits(cls, logits: jax.typing.ArrayLike) -> Bernoulli:
        (x,) = as_params(f"{cls.__name__}.from_logits", logits=logits)
        return cls(x)

    @classmethod
    def from_mean_parameters(cls, mu: Params) -> Bernoulli:
        return cls.from_probs(mu[0])

    @property
    def probs(self) -> jax.Array:
        return jax.nn.sigmoid(self.logits)

    def log_normalizer(self) -> jax.Array:
        return jax.nn.softplus(self.logits)

    def log_normalizer_minus_inner(self, other: Self) -> jax.Array:
        return binary_log_normalizer_minus_inner(other.logits, self.logits)

    def mean_parameters(self) -> Params:
        return (self.probs,)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.asarray(x, self.dtype),)

    def log_prob(self, x: jax.typing.ArrayLike) -> jax.Array:
        return binary_log_prob(self.logits, jnp.asarray(x, self.dtype))

    def in_domain(self) -> jax.Array:
        return ~jnp.isnan(self.logits)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        shape = tuple(shape) + self.batch_shape
        return jax.random.bernoulli(key, jnp.broadcast_to(self.probs, shape), shape).astype(
            self.dtype
        )


@register_kl(Bernoulli)
def _bernoulli_kl(p: Bernoulli, q: Bernoulli) -> jax.Array:
    return _binary.binary_kl_divergence_from_logits(p.logits, q.logits)
