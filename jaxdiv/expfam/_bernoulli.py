"""The Bernoulli family: theta = logit(p), T(x) = x, A = softplus(theta)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdiv import _binary
from jaxdiv import _validation as val
from jaxdiv.expfam._divergences import register_kl
from jaxdiv.expfam._family import ExponentialFamily, UnitBaseMeasure, as_params, family


@family
class Bernoulli(UnitBaseMeasure, ExponentialFamily):
    """Bernoulli(p) with natural parameter ``logit = log(p / (1 - p))``; outcomes {0, 1}.

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Bernoulli.from_probs(0.25)
      >>> round(float(expfam.entropy(p)), 6)  # -(1/4) log(1/4) - (3/4) log(3/4)
      0.562335
    """

    logits: jax.Array
    natural_event_ndims = (0,)

    @classmethod
    def from_probs(cls, probs: jax.typing.ArrayLike) -> Bernoulli:
        fn = f"{cls.__name__}.from_probs"
        (p,) = as_params(fn, probs=probs)
        val.check_domain((p > 0) & (p < 1), f"jaxdiv.expfam.{fn}: probs must lie in (0, 1).")
        return cls(jnp.log(p) - jnp.log1p(-p))

    @classmethod
    def from_mean_parameters(cls, mu) -> Bernoulli:
        return cls.from_probs(mu[0])

    @property
    def probs(self) -> jax.Array:
        return jax.nn.sigmoid(self.logits)

    def log_normalizer(self):
        return jax.nn.softplus(self.logits)

    def mean_parameters(self):
        return (self.probs,)

    def sufficient_statistics(self, x):
        return (jnp.asarray(x, self.dtype),)

    def sample(self, key, shape=()):
        shape = tuple(shape) + self.batch_shape
        return jax.random.bernoulli(key, jnp.broadcast_to(self.probs, shape), shape).astype(
            self.dtype
        )


@register_kl(Bernoulli)
def _bernoulli_kl(p: Bernoulli, q: Bernoulli) -> jax.Array:
    return _binary.binary_kl_divergence_from_logits(p.logits, q.logits)
