"""The Geometric family (failures before the first success): theta = log(1 - p), T(x) = x."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv.expfam._family import ExponentialFamily, Params, UnitBaseMeasure, as_params, family


@family
class Geometric(UnitBaseMeasure, ExponentialFamily):
    r"""Geometric(p) on {0, 1, 2, ...}: the number of failures before the first success.

    $P(x) = (1 - p)^x p$; natural parameter $\theta = \log(1 - p) < 0$;
    $A = -\log(1 - e^\theta) = -\log p$. (scipy's `geom(p, loc=-1)`.)
    `p = 1` (natural parameter `-inf`, all the mass at 0) is a member.

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Geometric.from_probs(0.5)
      >>> round(float(expfam.entropy(p)), 6)  # two fair coin flips' worth: 2 log 2
      1.386294
    """

    log_failure: jax.Array
    natural_event_ndims = (0,)

    @classmethod
    def from_probs(cls, probs: jax.typing.ArrayLike) -> Geometric:
        fn = f"{cls.__name__}.from_probs"
        (p,) = as_params(fn, probs=probs)
        val.check_domain((p > 0) & (p <= 1), f"jaxdiv.expfam.{fn}: probs must lie in (0, 1].")
        return cls(num.safe_log1m(p))

    @classmethod
    def from_mean_parameters(cls, mu: Params) -> Geometric:
        return cls.from_probs(1 / (1 + mu[0]))

    @property
    def probs(self) -> jax.Array:
        return -jnp.expm1(self.log_failure)

    def log_normalizer(self) -> jax.Array:
        return -jnp.log(-jnp.expm1(self.log_failure))

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.asarray(x, self.dtype),)

    def mean_parameters(self) -> Params:
        """`E[X] = (1 - p) / p`, 0 at `p = 1`."""
        return (jnp.exp(self.log_failure - jnp.log(self.probs)),)

    def in_domain(self) -> jax.Array:
        return self.log_failure < 0

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        shape = tuple(shape) + self.batch_shape
        u = jax.random.uniform(key, shape, self.dtype, minval=jnp.finfo(self.dtype).tiny)
        return jnp.floor(jnp.log(u) / jnp.broadcast_to(self.log_failure, shape))
