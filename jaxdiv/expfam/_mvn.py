"""The multivariate Normal family with full covariance: theta = (Lambda mu, -Lambda / 2).

Every factorisation and triangular solve here goes through :mod:`jaxdiv._linalg`
(batched matrix products), not LAPACK: on CPU, jaxlib 0.10.2's batched LAPACK
calls can deadlock XLA's thread pool when several run at once, which the
gradient of a KL between two batches of these Gaussians does
(``docs/known_issues.md``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdiv import _linalg
from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv.expfam._divergences import register_kl
from jaxdiv.expfam._family import ExponentialFamily, as_params, family


def _check_vector_and_matrix(fn: str, vec_name: str, vec, mat_name: str, mat) -> None:
    """Checks that ``vec`` is ``[..., d]`` and ``mat`` is ``[..., d, d]`` for one ``d``, with
    batch shapes that broadcast."""
    val.check_square(mat_name, mat, fn=f"expfam.{fn}")
    d = mat.shape[-1]
    if vec.ndim < 1:
        raise ValueError(
            f"jaxdiv.expfam.{fn}: {vec_name} has shape {vec.shape}; it must have a last axis "
            f"of size d = {d}, as {mat_name} has shape {mat.shape}."
        )
    if vec.shape[-1] != d:
        raise ValueError(
            f"jaxdiv.expfam.{fn}: {vec_name} has dimension {vec.shape[-1]} (shape {vec.shape}) "
            f"but {mat_name} has dimension {d} (shape {mat.shape}); both must have the same "
            "dimension d: [..., d] and [..., d, d]."
        )
    try:
        jnp.broadcast_shapes(vec.shape[:-1], mat.shape[:-2])
    except ValueError:
        raise ValueError(
            f"jaxdiv.expfam.{fn}: {vec_name} has batch shape {vec.shape[:-1]} (shape "
            f"{vec.shape}) and {mat_name} has batch shape {mat.shape[:-2]} (shape {mat.shape}), "
            "which do not broadcast."
        ) from None


def _mean_and_matrix(fn: str, mean, name: str, matrix) -> tuple[jax.Array, jax.Array]:
    """Checks a mean [..., d] and a matrix [..., d, d] and returns them as float arrays."""
    (matrix,) = as_params(fn, **{name: matrix})
    (mean,) = as_params(fn, mean=mean)
    _check_vector_and_matrix(fn, "mean", mean, name, matrix)
    return mean, matrix


def _lower_factor(precision: jax.Array) -> jax.Array:
    """The lower-triangular G with G' G = precision (Cholesky of the reversed matrix)."""
    upper = _linalg.cholesky(precision[..., ::-1, ::-1])[..., ::-1, ::-1]
    return jnp.swapaxes(upper, -1, -2)


def _matvec(m: jax.Array, v: jax.Array) -> jax.Array:
    """``m v`` for batches of matrices ``[..., d, d]`` and vectors ``[..., d]``."""
    return jnp.einsum("...ij,...j->...i", m, v)


def _rmatvec(m: jax.Array, v: jax.Array) -> jax.Array:
    """``m' v`` for batches of matrices ``[..., d, d]`` and vectors ``[..., d]``."""
    return jnp.einsum("...ji,...j->...i", m, v)


@family
class MultivariateNormal(ExponentialFamily):
    """Normal(mean, cov) in d dimensions with natural parameters ``(Lambda mean, -Lambda / 2)``.

    ``Lambda = cov^-1`` is the precision. The member holds ``eta1 = Lambda mean``
    and ``eta2 = -Lambda / 2`` in factored form, the lower-triangular ``G`` with
    ``Lambda = G' G`` (``G = L^-1`` for ``cov = L L'``), so that no divergence
    needs a Cholesky factorisation; ``natural_parameters()`` returns
    ``(eta1, -G' G / 2)``. ``A = eta1' Lambda^-1 eta1 / 2 - log det(Lambda) / 2``
    (the ``(2 pi)^(-d/2)`` goes into the base measure). Constructors take the
    covariance or its Cholesky factor (``scale_tril``, as TensorFlow
    Probability's ``MultivariateNormalTriL``).

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import expfam
      >>> p = expfam.MultivariateNormal.from_mean_cov(jnp.zeros(2), jnp.eye(2))
      >>> q = expfam.MultivariateNormal.from_mean_cov(jnp.ones(2), jnp.eye(2))
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # |m1 - m2|^2 / 2
      1.0
    """

    precision_mean: jax.Array
    precision_factor: jax.Array
    natural_event_ndims = (1, 2)

    @classmethod
    def from_mean_cov(cls, mean, cov) -> MultivariateNormal:
        fn = f"{cls.__name__}.from_mean_cov"
        mean, cov = _mean_and_matrix(fn, mean, "cov", cov)
        chol = _linalg.cholesky(_linalg.sym(cov))
        val.check_domain(
            jnp.all(jnp.isfinite(chol)) & jnp.allclose(cov, jnp.swapaxes(cov, -1, -2)),
            f"jaxdiv.expfam.{fn}: cov must be symmetric positive definite.",
        )
        return cls._from_mean_chol_cov(mean, chol)

    @classmethod
    def from_mean_scale_tril(cls, mean, scale_tril) -> MultivariateNormal:
        fn = f"{cls.__name__}.from_mean_scale_tril"
        mean, scale = _mean_and_matrix(fn, mean, "scale_tril", scale_tril)
        val.check_domain(
            jnp.all(jnp.abs(jnp.diagonal(scale, axis1=-2, axis2=-1)) > 0),
            f"jaxdiv.expfam.{fn}: scale_tril must have a non-zero diagonal.",
        )
        return cls._from_mean_chol_cov(mean, jnp.tril(scale))

    @classmethod
    def _from_mean_chol_cov(cls, mean, chol) -> MultivariateNormal:
        factor = _linalg.tril_inverse(chol)  # G = L^-1
        batch = jnp.broadcast_shapes(mean.shape[:-1], chol.shape[:-2])
        factor = jnp.broadcast_to(factor, batch + factor.shape[-2:])
        mean = jnp.broadcast_to(mean, batch + mean.shape[-1:])
        eta1 = _rmatvec(factor, _matvec(factor, mean))  # G' G mean
        return cls(eta1, factor)

    @classmethod
    def from_mean_parameters(cls, mu) -> MultivariateNormal:
        m1, m2 = (jnp.asarray(m) for m in mu)
        fn = f"{cls.__name__}.from_mean_parameters"
        _check_vector_and_matrix(fn, "E[x] (mu[0])", m1, "E[x x'] (mu[1])", m2)
        return cls.from_mean_cov(m1, m2 - m1[..., :, None] * m1[..., None, :])

    # The stored factor is not itself a natural parameter: convert both ways.
    def natural_parameters(self):
        g = self.precision_factor
        return (self.precision_mean, -0.5 * _linalg.matmul(jnp.swapaxes(g, -1, -2), g))

    def with_natural_parameters(self, theta):
        eta1, eta2 = (jnp.asarray(t) for t in theta)
        fn = f"{type(self).__name__}.with_natural_parameters"
        _check_vector_and_matrix(fn, "theta[0]", eta1, "theta[1]", eta2)
        return type(self)(eta1, _lower_factor(-2 * _linalg.sym(eta2)))

    def broadcast_to(self, batch_shape):
        d = self.dim
        return type(self)(
            jnp.broadcast_to(self.precision_mean, (*batch_shape, d)),
            jnp.broadcast_to(self.precision_factor, (*batch_shape, d, d)),
        )

    @property
    def batch_shape(self):
        return tuple(self.precision_mean.shape[:-1])

    @property
    def dim(self) -> int:
        return self.precision_mean.shape[-1]

    def precision(self) -> jax.Array:
        return -2 * self.natural_parameters()[1]

    def scale_tril(self) -> jax.Array:
        """The lower-triangular Cholesky factor ``L = G^-1`` of the covariance ``L L'``."""
        return _linalg.tril_inverse(self.precision_factor)

    def mean(self) -> jax.Array:
        scale = self.scale_tril()
        return _matvec(scale, _rmatvec(scale, self.precision_mean))

    def covariance(self) -> jax.Array:
        scale = self.scale_tril()
        return _linalg.matmul(scale, jnp.swapaxes(scale, -1, -2))

    def log_normalizer(self):
        w = _rmatvec(self.scale_tril(), self.precision_mean)  # G^-T eta1
        return 0.5 * jnp.sum(jnp.square(w), -1) - _linalg.log_abs_diag(self.precision_factor)

    def mean_parameters(self):
        scale = self.scale_tril()
        m = _matvec(scale, _rmatvec(scale, self.precision_mean))
        cov = _linalg.matmul(scale, jnp.swapaxes(scale, -1, -2))
        return (m, cov + m[..., :, None] * m[..., None, :])

    def sufficient_statistics(self, x):
        x = jnp.asarray(x, self.dtype)
        return (x, x[..., :, None] * x[..., None, :])

    def log_base_measure(self, x):
        return jnp.full(jnp.shape(x)[:-1], -0.5 * self.dim * num.LOG_2PI, self.dtype)

    def log_prob(self, x):
        """``log p(x)`` at points ``x`` of shape ``[..., d]``.

        The dimension is checked here rather than in :meth:`sufficient_statistics`,
        which ``moment_match`` evaluates on a placeholder member of any dimension.
        """
        shape = jnp.shape(x)
        if len(shape) < 1 or shape[-1] != self.dim:
            raise ValueError(
                f"jaxdiv.expfam.{type(self).__name__}.log_prob: x has shape {tuple(shape)}; its "
                f"last axis must be the dimension d = {self.dim} of this distribution."
            )
        return super().log_prob(x)

    def expected_log_base_measure(self):
        return jnp.full(self.batch_shape, -0.5 * self.dim * num.LOG_2PI, self.dtype)

    def in_domain(self):
        g = self.precision_factor
        diag = _linalg.diag(g)
        return jnp.all(jnp.isfinite(g), axis=(-2, -1)) & jnp.all(diag != 0, -1)

    def sample(self, key, shape=()):
        """Reparameterised: ``mean + G^-1 z`` (covariance ``G^-1 G^-T = Lambda^-1``)."""
        z = jax.random.normal(key, tuple(shape) + self.batch_shape + (self.dim,), self.dtype)
        scale = jnp.broadcast_to(self.scale_tril(), (*z.shape, self.dim))
        return jnp.broadcast_to(self.mean(), z.shape) + _matvec(scale, z)


@register_kl(MultivariateNormal)
def _mvn_kl(p: MultivariateNormal, q: MultivariateNormal) -> jax.Array:
    """KL = (tr(L2 S1) + (m2 - m1)' L2 (m2 - m1) - d + log det L1 - log det L2) / 2.

    With L_i = G_i' G_i and M = G2 G1^-1: tr(L2 S1) = ||M||_F^2 and
    G2 m1 = M G1^-T eta1, TensorFlow Probability's ||L2^-1 L1||_F^2 for scale
    factors (M = L2^-1 L1 here). The inverses come from
    :func:`jaxdiv._linalg.tril_inverse` (matrix products only).
    """
    g1, g2, d = p.precision_factor, q.precision_factor, p.dim
    inv1, inv2 = _linalg.tril_inverse(g1), _linalg.tril_inverse(g2)
    m = _linalg.matmul(g2, inv1)  # G2 G1^-1
    w1 = _rmatvec(inv1, p.precision_mean)  # G1^-T eta1
    diff = _rmatvec(inv2, q.precision_mean) - _matvec(m, w1)
    logdet = 2 * (_linalg.log_abs_diag(g1) - _linalg.log_abs_diag(g2))
    return 0.5 * (
        jnp.sum(jnp.square(m), axis=(-2, -1)) + jnp.sum(jnp.square(diff), -1) - d + logdet
    )
