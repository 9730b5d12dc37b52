"""The multivariate Normal family with diagonal covariance: d independent Normals."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdiv._numerics import LOG_2PI
from jaxdiv.expfam._family import ExponentialFamily, as_params, family
from jaxdiv.expfam._normal import GaussianCoordinates, Normal, gaussian_kl
from jaxdiv.expfam._registry import register_kl, register_lift


@family
class MultivariateNormalDiag(GaussianCoordinates, ExponentialFamily):
    """Normal(mean, diag(std^2)) in d dimensions.

    Natural parameters `(mean / var, -1 / (2 var))`, one pair per coordinate;
    the member stores `loc` and `log_std` `[..., d]`, as
    [`Normal`][jaxdiv.expfam.Normal] does. For a β-VAE's encoder outputs `mu`
    and `logvar`, build `MultivariateNormalDiag.from_mean_log_std(mu, logvar / 2)`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import expfam
      >>> p = expfam.MultivariateNormalDiag.from_mean_std(jnp.zeros(3), jnp.ones(3))
      >>> q = expfam.MultivariateNormalDiag.from_mean_std(jnp.zeros(3), jnp.full(3, 2.0))
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # 3 (log 2 + 1/8 - 1/2)
      0.954442
      >>> logvar = jnp.array([-60.0, 0.0, 60.0])  # KL to N(0, I): (exp(lv) - 1 - lv) / 2 summed
      >>> posterior = expfam.MultivariateNormalDiag.from_mean_log_std(jnp.zeros(3), logvar / 2)
      >>> prior = expfam.MultivariateNormalDiag.from_mean_std(jnp.zeros(3), jnp.ones(3))
      >>> float(expfam.kl_divergence(posterior, prior)) > 5e25
      True
    """

    loc: jax.Array
    log_std: jax.Array
    natural_event_ndims = (1, 1)

    @classmethod
    def _check_params(cls, fn: str, **named: jax.typing.ArrayLike) -> list[jax.Array]:
        arrays = as_params(fn, **named)
        if arrays[0].ndim < 1:
            names = " and ".join(named)
            raise ValueError(
                f"jaxdiv.expfam.{fn}: {names} need an event axis [..., d], got scalars."
            )
        return arrays

    @property
    def dim(self) -> int:
        return self.loc.shape[-1]

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        return jnp.full(jnp.shape(x)[:-1], -0.5 * self.dim * LOG_2PI, self.dtype)

    def expected_log_base_measure(self) -> jax.Array:
        return jnp.full(self.batch_shape, -0.5 * self.dim * LOG_2PI, self.dtype)


@register_kl(MultivariateNormalDiag)
def _mvn_diag_kl(p: MultivariateNormalDiag, q: MultivariateNormalDiag) -> jax.Array:
    return gaussian_kl(p.loc, p.log_std, q.loc, q.log_std, sum_axis=-1)


@register_lift(Normal)
def _normal_as_diagonal(d: Normal) -> MultivariateNormalDiag:
    """A Normal is a MultivariateNormalDiag of dimension 1."""
    return MultivariateNormalDiag(d.loc[..., None], d.log_std[..., None])
