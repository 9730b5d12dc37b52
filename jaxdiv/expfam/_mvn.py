"""The multivariate Normal family with full covariance: theta = (Lambda mu, -Lambda / 2).

Every factorisation and triangular solve here goes through `jaxdiv._linalg`
(batched matrix products), not LAPACK: on CPU, jaxlib 0.10.2's batched LAPACK
calls can deadlock XLA's thread pool when several run at once, which the
gradient of a KL between two batches of these Gaussians does
(`docs/known_issues.md`).
"""

from __future__ import annotations

from typing import Self

import jax
import jax.numpy as jnp

from jaxdiv import _linalg
from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv.expfam._family import ExponentialFamily, Params, as_params, family
from jaxdiv.expfam._mvn_diag import MultivariateNormalDiag
from jaxdiv.expfam._registry import register_kl, register_lift


def _check_vector_and_matrix(
    fn: str, vec_name: str, vec: jax.Array, mat_name: str, mat: jax.Array
) -> None:
    """Checks that `vec` is `[..., d]` and `mat` is `[..., d, d]` for one `d`, with
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


def _mean_and_matrix(
    fn: str, mean: jax.typing.ArrayLike, name: str, matrix: jax.typing.ArrayLike
) -> tuple[jax.Array, jax.Array]:
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
    """`m v` for batches of matrices `[..., d, d]` and vectors `[..., d]`."""
    return jnp.einsum("...ij,...j->...i", m, v)


def _rmatvec(m: jax.Array, v: jax.Array) -> jax.Array:
    """`m' v` for batches of matrices `[..., d, d]` and vectors `[..., d]`."""
    return jnp.einsum("...ji,...j->...i", m, v)


@family
class MultivariateNormal(ExponentialFamily):
    """Normal(mean, cov) in d dimensions with natural parameters `(Lambda mean, -Lambda / 2)`.

    `Lambda = cov^-1` is the precision. The member stores what users hold: the
    mean `loc` `[..., d]` and the lower-triangular factor `scale` `[..., d, d]`
    of the covariance `cov = L L'` (TensorFlow Probability's `scale_tril`), as
    the other Gaussian families store a mean and a log standard deviation. The
    KL, the entropy and the cross-entropy are closed forms in these factors
    that need only triangular solves against them (`jaxdiv._linalg.tril_solve`),
    no inverse and no Cholesky factorisation; `natural_parameters()` computes
    `(Lambda mean, -Lambda / 2)`
    with `Lambda = G' G`, `G = L^-1`.
    `A = eta1' Lambda^-1 eta1 / 2 - log det(Lambda) / 2` (the `(2 pi)^(-d/2)`
    goes into the base measure). Constructors take the covariance or its
    Cholesky factor.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import expfam
      >>> p = expfam.MultivariateNormal.from_mean_cov(jnp.zeros(2), jnp.eye(2))
      >>> q = expfam.MultivariateNormal.from_mean_cov(jnp.ones(2), jnp.eye(2))
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # |m1 - m2|^2 / 2
      1.0
    """

    loc: jax.Array
    scale: jax.Array
    natural_event_ndims = (1, 2)
    boundary_members = False  # finite natural parameters at every member

    @classmethod
    def from_mean_cov(
        cls, mean: jax.typing.ArrayLike, cov: jax.typing.ArrayLike
    ) -> MultivariateNormal:
        """The member with mean `mean` `[..., d]` and covariance `cov` `[..., d, d]`."""
        fn = f"{cls.__name__}.from_mean_cov"
        mean, cov = _mean_and_matrix(fn, mean, "cov", cov)
        chol = _linalg.cholesky(_linalg.sym(cov))
        val.check_domain(
            jnp.all(jnp.isfinite(chol)) & jnp.allclose(cov, jnp.swapaxes(cov, -1, -2)),
            f"jaxdiv.expfam.{fn}: cov must be symmetric positive definite.",
        )
        return cls._broadcast(mean, chol)

    @classmethod
    def from_mean_scale_tril(
        cls, mean: jax.typing.ArrayLike, scale_tril: jax.typing.ArrayLike
    ) -> MultivariateNormal:
        """The member with mean `mean` and covariance `scale_tril scale_tril'`.

        Only the lower triangle of `scale_tril` is read; its diagonal must not
        be zero (its sign does not matter).
        """
        fn = f"{cls.__name__}.from_mean_scale_tril"
        mean, scale = _mean_and_matrix(fn, mean, "scale_tril", scale_tril)
        val.check_domain(
            jnp.all(jnp.abs(jnp.diagonal(scale, axis1=-2, axis2=-1)) > 0),
            f"jaxdiv.expfam.{fn}: scale_tril must have a non-zero diagonal.",
        )
        return cls._broadcast(mean, jnp.tril(scale))

    @classmethod
    def _broadcast(cls, mean: jax.Array, scale: jax.Array) -> MultivariateNormal:
        """The member of `mean` and `scale`, both broadcast to their common batch shape."""
        batch = jnp.broadcast_shapes(mean.shape[:-1], scale.shape[:-2])
        return cls(
            jnp.broadcast_to(mean, batch + mean.shape[-1:]),
            jnp.broadcast_to(scale, batch + scale.shape[-2:]),
        )

    @classmethod
    def from_mean_parameters(cls, mu: Params) -> MultivariateNormal:
        m1, m2 = (jnp.asarray(m) for m in mu)
        fn = f"{cls.__name__}.from_mean_parameters"
        _check_vector_and_matrix(fn, "E[x] (mu[0])", m1, "E[x x'] (mu[1])", m2)
        return cls.from_mean_cov(m1, m2 - m1[..., :, None] * m1[..., None, :])

    # The stored (loc, scale) are not the natural parameters: convert both ways.
    def natural_parameters(self) -> Params:
        g = self.precision_factor
        eta1 = _rmatvec(g, _matvec(g, self.loc))  # G' G mean
        return (eta1, -0.5 * _linalg.matmul(jnp.swapaxes(g, -1, -2), g))

    def with_natural_parameters(self, theta: Params) -> MultivariateNormal:
        eta1, eta2 = (jnp.asarray(t) for t in theta)
        fn = f"{type(self).__name__}.with_natural_parameters"
        _check_vector_and_matrix(fn, "theta[0]", eta1, "theta[1]", eta2)
        scale = _linalg.tril_inverse(_lower_factor(-2 * _linalg.sym(eta2)))
        return type(self)._broadcast(_matvec(scale, _rmatvec(scale, eta1)), scale)

    @property
    def dim(self) -> int:
        return self.loc.shape[-1]

    @property
    def precision_factor(self) -> jax.Array:
        """The lower-triangular `G = L^-1` with precision `G' G` (computed, not stored)."""
        return _linalg.tril_inverse(self.scale)

    def precision(self) -> jax.Array:
        return -2 * self.natural_parameters()[1]

    def scale_tril(self) -> jax.Array:
        """The lower-triangular Cholesky factor `L` of the covariance `L L'`."""
        return self.scale

    def mean(self) -> jax.Array:
        return self.loc

    def covariance(self) -> jax.Array:
        return _linalg.matmul(self.scale, jnp.swapaxes(self.scale, -1, -2))

    def log_normalizer(self) -> jax.Array:
        """`A = |L^-1 mean|^2 / 2 + log|det L|`."""
        w = _linalg.tril_solve(self.scale, self.loc[..., None])[..., 0]
        return 0.5 * jnp.sum(jnp.square(w), -1) + _linalg.log_abs_diag(self.scale)

    def log_normalizer_minus_inner(self, other: Self) -> jax.Array:
        """The cross-entropy `H(other, self)` without `other`'s base-measure term.

        `(|L^-1 L_o|_F^2 + |L^-1 (m_o - m)|^2) / 2 + log|det L|` with `L` this
        member's factor and `L_o`, `m_o` the other's: one triangular solve. At
        `other is self` (the entropy) it is `d / 2 + log|det L|`, with no solve.
        """
        if other is self:
            half_d = 0.5 * jnp.asarray(self.dim, self.dtype)
            return jnp.broadcast_to(half_d + _linalg.log_abs_diag(self.scale), self.batch_shape)
        return _cross_term(other, self)

    def mean_parameters(self) -> Params:
        m = self.loc
        return (m, self.covariance() + m[..., :, None] * m[..., None, :])

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        x = jnp.asarray(x, self.dtype)
        return (x, x[..., :, None] * x[..., None, :])

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        return jnp.full(jnp.shape(x)[:-1], -0.5 * self.dim * num.LOG_2PI, self.dtype)

    def log_prob(self, x: jax.typing.ArrayLike) -> jax.Array:
        """`log p(x)` at points `x` of shape `[..., d]`.

        The dimension is checked here rather than in
        `sufficient_statistics`,
        which `moment_match` evaluates on a placeholder member of any dimension.
        """
        shape = jnp.shape(x)
        if len(shape) < 1 or shape[-1] != self.dim:
            raise ValueError(
                f"jaxdiv.expfam.{type(self).__name__}.log_prob: x has shape {tuple(shape)}; its "
                f"last axis must be the dimension d = {self.dim} of this distribution."
            )
        return super().log_prob(x)

    def expected_log_base_measure(self) -> jax.Array:
        return jnp.full(self.batch_shape, -0.5 * self.dim * num.LOG_2PI, self.dtype)

    def in_domain(self) -> jax.Array:
        scale = self.scale
        return (
            jnp.all(jnp.isfinite(self.loc), -1)
            & jnp.all(jnp.isfinite(scale), axis=(-2, -1))
            & jnp.all(_linalg.diag(scale) != 0, -1)
        )

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Reparameterised: `mean + L z` with `z ~ N(0, I)` (covariance `L L'`)."""
        z = jax.random.normal(key, tuple(shape) + self.batch_shape + (self.dim,), self.dtype)
        scale = jnp.broadcast_to(self.scale, (*z.shape, self.dim))
        return jnp.broadcast_to(self.loc, z.shape) + _matvec(scale, z)


def _cross_term(p: MultivariateNormal, q: MultivariateNormal) -> jax.Array:
    """`(|Lq^-1 Lp|_F^2 + |Lq^-1 (mp - mq)|^2) / 2 + log|det Lq|`: one solve for both terms.

    `Lq^-1 [Lp, mp - mq]` is one triangular solve with `d + 1` right-hand sides.
    """
    batch = jnp.broadcast_shapes(p.batch_shape, q.batch_shape)
    d = p.dim
    rhs = jnp.concatenate(
        [
            jnp.broadcast_to(p.scale, (*batch, d, d)),
            jnp.broadcast_to(p.loc - q.loc, (*batch, d))[..., None],
        ],
        axis=-1,
    )
    x = _linalg.tril_solve(q.scale, rhs)
    return 0.5 * jnp.sum(jnp.square(x), axis=(-2, -1)) + _linalg.log_abs_diag(q.scale)


@register_kl(MultivariateNormal)
def _mvn_kl(p: MultivariateNormal, q: MultivariateNormal) -> jax.Array:
    """KL from the factors: `(|Lq^-1 Lp|_F^2 + |Lq^-1 (mq - mp)|^2 - d) / 2 + log|det Lq / det Lp|`.

    `tr(Sq^-1 Sp) = |Lq^-1 Lp|_F^2` and the Mahalanobis term come from one
    triangular solve against `Lq` (`_cross_term`); the log-determinants are
    sums of the logs of the diagonals. No factor is inverted or factorised.
    """
    return _cross_term(p, q) - 0.5 * p.dim - _linalg.log_abs_diag(p.scale)


@register_lift(MultivariateNormalDiag)
def _diagonal_as_full(d: MultivariateNormalDiag) -> MultivariateNormal:
    """A MultivariateNormalDiag is the MultivariateNormal of its diagonal scale factor."""
    scale = jnp.einsum("...i,ij->...ij", d.std, jnp.eye(d.dim, dtype=d.dtype))
    return MultivariateNormal.from_mean_scale_tril(d.loc, scale)
