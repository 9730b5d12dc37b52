"""The Dirichlet family: theta = concentration - 1 (K), T(x) = log x."""

from __future__ import annotations

from typing import Self

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma

from jaxdiv import _validation as val
from jaxdiv.expfam._beta import Beta, log_beta
from jaxdiv.expfam._family import ExponentialFamily, Params, UnitBaseMeasure, as_params, family
from jaxdiv.expfam._registry import register_lift


@family
class Dirichlet(UnitBaseMeasure, ExponentialFamily):
    r"""Dirichlet(concentration) with natural parameter $\alpha - 1$.

    $A = \sum_k \log \Gamma(\alpha_k) - \log \Gamma\big(\sum_k \alpha_k\big)$.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import expfam
      >>> flat = expfam.Dirichlet.from_concentration(jnp.ones(3))
      >>> round(float(expfam.entropy(flat)), 6)  # uniform on a simplex of area 1/2: log(1/2)
      -0.693147
    """

    concentration_m1: jax.Array
    natural_event_ndims = (1,)
    boundary_members = False  # finite natural parameters at every member
    data_event_ndim = 1

    @classmethod
    def from_concentration(cls, concentration: jax.typing.ArrayLike) -> Dirichlet:
        fn = f"{cls.__name__}.from_concentration"
        (alpha,) = as_params(fn, concentration=concentration)
        if alpha.ndim < 1 or alpha.shape[-1] < 2:
            raise ValueError(
                f"jaxdiv.expfam.{fn}: concentration must have a last axis of size >= 2, "
                f"got shape {alpha.shape}."
            )
        val.check_domain(alpha > 0, f"jaxdiv.expfam.{fn}: concentration must be > 0.")
        return cls(alpha - 1)

    @classmethod
    def _newton_start(cls, mu: Params) -> Self:
        return cls(jnp.zeros_like(jnp.asarray(mu[0])))  # the uniform distribution

    @property
    def concentration(self) -> jax.Array:
        return self.concentration_m1 + 1

    def log_normalizer(self) -> jax.Array:
        """`log B(alpha) = sum_k betaln(alpha_1 + ... + alpha_(k-1), alpha_k)` for k >= 2.

        The telescoping product of Beta functions avoids the cancellation of
        `sum lgamma(alpha) - lgamma(sum alpha)` at large concentrations.
        """
        alpha = self.concentration
        partial = jnp.cumsum(alpha, -1)[..., :-1]
        return jnp.sum(log_beta(partial, alpha[..., 1:]), -1)

    def mean_parameters(self) -> Params:
        alpha = self.concentration
        return (digamma(alpha) - digamma(jnp.sum(alpha, -1, keepdims=True)),)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.log(jnp.asarray(x, self.dtype)),)

    def in_domain(self) -> jax.Array:
        return jnp.all(self.concentration_m1 > -1, axis=-1)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        shape = tuple(shape) + self.batch_shape
        return jax.random.dirichlet(
            key,
            jnp.broadcast_to(self.concentration, (*shape, self.concentration.shape[-1])),
            shape,
            self.dtype,
        )


@register_lift(Beta)
def _beta_as_dirichlet(d: Beta) -> Dirichlet:
    """Beta(a, b) is the Dirichlet((a, b)) of its first coordinate."""
    return Dirichlet(jnp.stack([d.a_m1, d.b_m1], axis=-1))
