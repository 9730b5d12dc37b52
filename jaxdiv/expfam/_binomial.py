"""The Binomial family with a fixed count n: theta = logit(p), T(x) = x, A = n softplus(theta)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import gammaln

from jaxdiv import _validation as val
from jaxdiv.expfam._family import ExponentialFamily, as_params, family, static_field


def _log_choose(n: int, x: jax.Array) -> jax.Array:
    return gammaln(n + 1.0) - gammaln(x + 1.0) - gammaln(n - x + 1.0)


@family
class Binomial(ExponentialFamily):
    """Binomial(n, p) for a fixed (static) count ``n``; natural parameter ``logit(p)``.

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
        val.check_domain((p > 0) & (p < 1), f"jaxdiv.expfam.{fn}: probs must lie in (0, 1).")
        return cls(jnp.log(p) - jnp.log1p(-p), total_count)

    @classmethod
    def from_mean_parameters(cls, mu, *, total_count: int) -> Binomial:
        return cls.from_count_probs(total_count, mu[0] / total_count)

    @property
    def probs(self) -> jax.Array:
        return jax.nn.sigmoid(self.logits)

    def log_normalizer(self):
        return self.total_count * jax.nn.softplus(self.logits)

    def mean_parameters(self):
        return (self.total_count * self.probs,)

    def sufficient_statistics(self, x):
        return (jnp.asarray(x, self.dtype),)

    def log_base_measure(self, x):
        return _log_choose(self.total_count, jnp.asarray(x, self.dtype))

    def expected_log_base_measure(self):
        """``E[log C(n, X)]``, summed exactly over the n + 1 outcomes."""
        support = jnp.arange(self.total_count + 1, dtype=self.dtype)
        support = jnp.broadcast_to(support, (*self.batch_shape, self.total_count + 1))
        logits = self.logits[..., None]
        log_pmf = (
            _log_choose(self.total_count, support)
            + support * logits
            - self.total_count * jax.nn.softplus(logits)
        )
        return jnp.sum(jnp.exp(log_pmf) * _log_choose(self.total_count, support), axis=-1)

    def sample(self, key, shape=()):
        shape = tuple(shape) + self.batch_shape
        return jax.random.binomial(
            key, self.total_count, jnp.broadcast_to(self.probs, shape), shape
        ).astype(self.dtype)
