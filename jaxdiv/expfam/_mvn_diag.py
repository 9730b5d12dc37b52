"""The multivariate Normal family with diagonal covariance: d independent Normals."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdiv import _validation as val
from jaxdiv.expfam._divergences import register_kl
from jaxdiv.expfam._family import ExponentialFamily, as_params, family
from jaxdiv.expfam._normal import (
    LOG_2PI,
    GaussianCoordinates,
    gaussian_kl,
    gaussian_log_normalizer,
)


@family
class MultivariateNormalDiag(GaussianCoordinates, ExponentialFamily):
    """Normal(mean, diag(std^2)) in d dimensions.

    Natural parameters ``(mean / var, -1 / (2 var))``, one pair per coordinate.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import expfam
      >>> p = expfam.MultivariateNormalDiag.from_mean_std(jnp.zeros(3), jnp.ones(3))
      >>> q = expfam.MultivariateNormalDiag.from_mean_std(jnp.zeros(3), jnp.full(3, 2.0))
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # 3 (log 2 + 1/8 - 1/2)
      0.954442
    """

    eta1: jax.Array
    eta2: jax.Array
    natural_event_ndims = (1, 1)

    @classmethod
    def from_mean_std(cls, mean, std) -> MultivariateNormalDiag:
        fn = f"{cls.__name__}.from_mean_std"
        mean, std = as_params(fn, mean=mean, std=std)
        if mean.ndim < 1:
            raise ValueError(f"jaxdiv.expfam.{fn}: mean and std need an event axis [..., d].")
        val.check_domain(std > 0, f"jaxdiv.expfam.{fn}: std must be > 0.")
        var = jnp.square(std)
        return cls(mean / var, -0.5 / var)

    @property
    def dim(self) -> int:
        return self.eta1.shape[-1]

    def log_normalizer(self):
        return jnp.sum(gaussian_log_normalizer(self.eta1, self.eta2), -1)

    def log_base_measure(self, x):
        return jnp.full(jnp.shape(x)[:-1], -0.5 * self.dim * LOG_2PI, self.dtype)

    def expected_log_base_measure(self):
        return jnp.full(self.batch_shape, -0.5 * self.dim * LOG_2PI, self.dtype)

    def in_domain(self):
        return jnp.all(self.eta2 < 0, -1)


@register_kl(MultivariateNormalDiag)
def _mvn_diag_kl(p: MultivariateNormalDiag, q: MultivariateNormalDiag) -> jax.Array:
    return jnp.sum(gaussian_kl(p.loc, p.var, q.loc, q.var), -1)
