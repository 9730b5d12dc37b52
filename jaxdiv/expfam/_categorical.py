"""The Categorical family: theta = logits (K), T(x) = one_hot(x), A = logsumexp(theta)."""

from __future__ import annotations

from typing import Any, Self

import jax
import jax.numpy as jnp

from jaxdiv import _logits, _numerics
from jaxdiv import _validation as val
from jaxdiv.expfam._family import ExponentialFamily, Params, UnitBaseMeasure, as_params, family
from jaxdiv.expfam._registry import register_kl


def logits_from_simplex(fn: str, probs: jax.typing.ArrayLike) -> jax.Array:
    """Log-probabilities of `probs` (last axis), checked to be >= 0 and to sum to 1;
    zeros give `-inf`. `fn` names the caller in the error message."""
    given = jnp.asarray(probs).dtype
    (p,) = as_params(fn, probs=probs)
    # Rounding to the given dtype moves the sum by up to its epsilon (4e-3 in bfloat16).
    tol = max(1e-4, float(jnp.finfo(given).eps)) if jnp.issubdtype(given, jnp.floating) else 1e-4
    val.check_domain(
        jnp.all(p >= 0) & jnp.all(jnp.abs(jnp.sum(p, -1) - 1) < tol),
        f"jaxdiv.expfam.{fn}: probs must be >= 0 and sum to 1 along the last axis (to {tol:g}).",
    )
    return _numerics.safe_log(p)


@family
class Categorical(UnitBaseMeasure, ExponentialFamily):
    """Categorical over K outcomes with natural parameters the logits (overcomplete).

    `-inf` logits (zero-probability outcomes) are allowed, as are zero
    probabilities in [`from_probs`][jaxdiv.expfam.Categorical.from_probs]; every divergence gives
    the limit there (`0 log 0 = 0`, and `+inf` where `q` gives zero probability to an
    outcome of `p`). A member needs at least one finite logit and no `+inf`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import expfam
      >>> p = expfam.Categorical.from_probs(jnp.full(4, 0.25))
      >>> round(float(expfam.entropy(p)), 6)  # log 4
      1.386294
    """

    logits: jax.Array
    natural_event_ndims = (1,)

    @classmethod
    def from_logits(cls, logits: jax.typing.ArrayLike) -> Categorical:
        """The member with logits `logits` (last axis), normalised or not."""
        (x,) = as_params(f"{cls.__name__}.from_logits", logits=logits)
        return cls(x)

    @classmethod
    def from_probs(cls, probs: jax.typing.ArrayLike) -> Categorical:
        """The member with class probabilities `probs` (last axis); zeros give `-inf` logits."""
        return cls(logits_from_simplex(f"{cls.__name__}.from_probs", probs))

    @classmethod
    def from_mean_parameters(cls, mu: Params) -> Categorical:
        return cls.from_probs(mu[0])

    @classmethod
    def _statistics_template(cls, dtype: Any, **static: Any) -> Categorical:
        raise TypeError(
            "jaxdiv.expfam.moment_match: one-hot statistics need the number of categories; "
            "pass a Categorical member as the template, or the mean statistics (probs,)."
        )

    @property
    def num_categories(self) -> int:
        return self.logits.shape[-1]

    @property
    def probs(self) -> jax.Array:
        return jax.nn.softmax(self.logits, axis=-1)

    def log_normalizer(self) -> jax.Array:
        return _numerics.logsumexp(self.logits, axis=-1)

    def mean_parameters(self) -> Params:
        return (self.probs,)

    def log_normalizer_minus_inner(self, other: Self) -> jax.Array:
        """`-sum_k p_k log q_k` with `0 log 0 = 0`, `p` the other member, `q` this one."""
        logq = _numerics.log_softmax(self.logits, axis=-1, mask=None)
        p, logq = jnp.broadcast_arrays(other.probs, logq)
        return -jnp.sum(_numerics.mul_log(p, logq), axis=-1)

    def in_domain(self) -> jax.Array:
        finite = jnp.isfinite(self.logits)
        return jnp.any(finite, -1) & jnp.all(finite | (self.logits == -jnp.inf), -1)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jax.nn.one_hot(x, self.num_categories, dtype=self.dtype),)

    def log_prob(self, x: jax.typing.ArrayLike) -> jax.Array:
        logp = jax.nn.log_softmax(self.logits, axis=-1)
        onehot = self.sufficient_statistics(x)[0]
        logp, onehot = jnp.broadcast_arrays(logp, onehot)
        return jnp.sum(_numerics.mul_log(onehot, logp), axis=-1)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        shape = tuple(shape) + self.batch_shape
        return jax.random.categorical(key, self.logits, axis=-1, shape=shape)


@register_kl(Categorical)
def _categorical_kl(p: Categorical, q: Categorical) -> jax.Array:
    return _logits.kl_divergence_from_logits(p.logits, q.logits)
