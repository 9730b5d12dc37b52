"""The multivariate Normal family with full covariance: theta = (Lambda mu, -Lambda / 2)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_solve, solve_triangular

from jaxdiv import _validation as val
from jaxdiv.expfam._divergences import register_kl
from jaxdiv.expfam._family import ExponentialFamily, as_params, family
from jaxdiv.expfam._normal import LOG_2PI


def _sym(m: jax.Array) -> jax.Array:
    return 0.5 * (m + jnp.swapaxes(m, -1, -2))


def _check_square(name: str, m: jax.Array, fn: str) -> None:
    if m.ndim < 2 or m.shape[-1] != m.shape[-2]:
        raise ValueError(
            f"jaxdiv.expfam.{fn}: {name} must be a batch of square matrices [..., d, d], "
            f"got shape {m.shape}."
        )


def _check_mean(mean: jax.Array, d: int, fn: str) -> None:
    if mean.ndim < 1 or mean.shape[-1] != d:
        raise ValueError(
            f"jaxdiv.expfam.{fn}: mean has shape {mean.shape}; its last axis must be d = {d}."
        )


@family
class MultivariateNormal(ExponentialFamily):
    """Normal(mean, cov) in d dimensions with natural parameters ``(Lambda mean, -Lambda / 2)``.

    ``Lambda = cov^-1`` is the precision. ``A = mean' Lambda mean / 2 - log det(Lambda) / 2``
    (the ``(2 pi)^(-d/2)`` goes into the base measure). Constructors take the
    covariance or its Cholesky factor (``scale_tril``, as TensorFlow Probability's
    ``MultivariateNormalTriL``).
    """

    precision_mean: jax.Array
    neg_half_precision: jax.Array
    natural_event_ndims = (1, 2)

    @classmethod
    def from_mean_cov(cls, mean, cov) -> MultivariateNormal:
        fn = f"{cls.__name__}.from_mean_cov"
        (cov,) = as_params(fn, cov=cov)
        _check_square("cov", cov, fn)
        (mean,) = as_params(fn, mean=mean)
        _check_mean(mean, cov.shape[-1], fn)
        chol = jnp.linalg.cholesky(_sym(cov))
        val.check_domain(
            jnp.all(jnp.isfinite(chol)) & jnp.allclose(cov, jnp.swapaxes(cov, -1, -2)),
            f"jaxdiv.expfam.{fn}: cov must be symmetric positive definite.",
        )
        return cls._from_mean_chol_cov(mean, chol)

    @classmethod
    def from_mean_scale_tril(cls, mean, scale_tril) -> MultivariateNormal:
        fn = f"{cls.__name__}.from_mean_scale_tril"
        (scale,) = as_params(fn, scale_tril=scale_tril)
        _check_square("scale_tril", scale, fn)
        (mean,) = as_params(fn, mean=mean)
        _check_mean(mean, scale.shape[-1], fn)
        val.check_domain(
            jnp.all(jnp.abs(jnp.diagonal(scale, axis1=-2, axis2=-1)) > 0),
            f"jaxdiv.expfam.{fn}: scale_tril must have a non-zero diagonal.",
        )
        return cls._from_mean_chol_cov(mean, jnp.tril(scale))

    @classmethod
    def _from_mean_chol_cov(cls, mean, chol) -> MultivariateNormal:
        eye = jnp.broadcast_to(jnp.eye(chol.shape[-1], dtype=chol.dtype), chol.shape)
        inv_chol = solve_triangular(chol, eye, lower=True)  # L^-1, Lambda = L^-T L^-1
        precision = jnp.swapaxes(inv_chol, -1, -2) @ inv_chol
        batch = jnp.broadcast_shapes(mean.shape[:-1], chol.shape[:-2])
        precision = jnp.broadcast_to(precision, batch + precision.shape[-2:])
        mean = jnp.broadcast_to(mean, batch + mean.shape[-1:])
        return cls(jnp.einsum("...ij,...j->...i", precision, mean), -0.5 * precision)

    @classmethod
    def from_mean_parameters(cls, mu) -> MultivariateNormal:
        m1, m2 = mu
        return cls.from_mean_cov(m1, m2 - m1[..., :, None] * m1[..., None, :])

    @property
    def dim(self) -> int:
        return self.precision_mean.shape[-1]

    def precision(self) -> jax.Array:
        return -2 * _sym(self.neg_half_precision)

    def _chol_precision(self) -> jax.Array:
        return jnp.linalg.cholesky(self.precision())

    def mean(self) -> jax.Array:
        return cho_solve((self._chol_precision(), True), self.precision_mean[..., None])[..., 0]

    def covariance(self) -> jax.Array:
        chol = self._chol_precision()
        eye = jnp.broadcast_to(jnp.eye(self.dim, dtype=chol.dtype), chol.shape)
        return cho_solve((chol, True), eye)

    def log_normalizer(self):
        chol = self._chol_precision()
        mean = cho_solve((chol, True), self.precision_mean[..., None])[..., 0]
        half_logdet = jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), -1)
        return 0.5 * jnp.sum(self.precision_mean * mean, -1) - half_logdet

    def mean_parameters(self):
        m, cov = self.mean(), self.covariance()
        return (m, cov + m[..., :, None] * m[..., None, :])

    def sufficient_statistics(self, x):
        x = jnp.asarray(x, self.dtype)
        return (x, x[..., :, None] * x[..., None, :])

    def log_base_measure(self, x):
        return jnp.full(jnp.shape(x)[:-1], -0.5 * self.dim * LOG_2PI, self.dtype)

    def expected_log_base_measure(self):
        return jnp.full(self.batch_shape, -0.5 * self.dim * LOG_2PI, self.dtype)

    def in_domain(self):
        return jnp.all(jnp.isfinite(self._chol_precision()), axis=(-2, -1))

    def sample(self, key, shape=()):
        """Reparameterised: ``mean + C^-T z`` with ``C C' = Lambda``."""
        chol = self._chol_precision()
        z = jax.random.normal(key, tuple(shape) + self.batch_shape + (self.dim,), self.dtype)
        chol = jnp.broadcast_to(chol, (*z.shape, self.dim))
        x = solve_triangular(chol, z[..., None], lower=True, trans="T")[..., 0]
        return jnp.broadcast_to(self.mean(), x.shape) + x


@register_kl(MultivariateNormal)
def _mvn_kl(p: MultivariateNormal, q: MultivariateNormal) -> jax.Array:
    """KL = (tr(L2 S1) + (m2 - m1)' L2 (m2 - m1) - d + log det L1 - log det L2) / 2.

    With Cholesky factors C_i of the precisions L_i: tr(L2 S1) = ||C1^-1 C2||_F^2
    and the quadratic form is ||C2' (m2 - m1)||^2.
    """
    c1, c2 = p._chol_precision(), q._chol_precision()
    m1 = cho_solve((c1, True), p.precision_mean[..., None])[..., 0]
    m2 = cho_solve((c2, True), q.precision_mean[..., None])[..., 0]
    trace = jnp.sum(jnp.square(solve_triangular(c1, c2, lower=True)), axis=(-2, -1))
    diff = jnp.einsum("...ji,...j->...i", c2, m2 - m1)
    logdet = 2 * jnp.sum(
        jnp.log(jnp.diagonal(c1, axis1=-2, axis2=-1))
        - jnp.log(jnp.diagonal(c2, axis1=-2, axis2=-1)),
        -1,
    )
    return 0.5 * (trace + jnp.sum(jnp.square(diff), -1) - p.dim + logdet)
