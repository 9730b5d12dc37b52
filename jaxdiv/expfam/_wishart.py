"""The Wishart family on p x p SPD matrices.

theta = ((n - p - 1) / 2, -V^-1 / 2) and T(X) = (log det X, X).
"""

from __future__ import annotations

import math
from typing import Self

import jax
import jax.numpy as jnp
from jax.scipy.special import multigammaln

from jaxdiv import _linalg
from jaxdiv import _validation as val
from jaxdiv.expfam._family import ExponentialFamily, Params, UnitBaseMeasure, as_params, family


def _spd_inverse(chol: jax.Array) -> jax.Array:
    """`(L L')^-1 = L^-T L^-1` from the Cholesky factor `L` (matrix products only)."""
    inv = _linalg.tril_inverse(chol)
    return _linalg.matmul(jnp.swapaxes(inv, -1, -2), inv)


def _logdet_spd(m: jax.Array) -> jax.Array:
    chol = _linalg.cholesky(m)
    return 2 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), -1)


@family
class Wishart(UnitBaseMeasure, ExponentialFamily):
    r"""Wishart(df n, scale V) on positive-definite p x p matrices.

    The density is proportional to
    $|X|^{(n - p - 1)/2} \exp\big(-\operatorname{tr}(V^{-1} X) / 2\big)$.

    $A = \frac{n}{2}(p \log 2 + \log \det V) + \log \Gamma_p(n / 2)$, the convention of
    `scipy.stats.wishart`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import expfam
      >>> p = expfam.Wishart.from_df_scale(3.0, jnp.eye(2))
      >>> q = expfam.Wishart.from_df_scale(3.0, 2 * jnp.eye(2))
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # n (tr(M) - p - log det M) / 2, M = V2^-1 V1
      0.579442
    """

    half_df_shift: jax.Array
    neg_half_inv_scale: jax.Array
    natural_event_ndims = (0, 2)
    boundary_members = False  # finite natural parameters at every member
    data_event_ndim = 2

    @classmethod
    def from_df_scale(cls, df: jax.typing.ArrayLike, scale: jax.typing.ArrayLike) -> Wishart:
        fn = f"{cls.__name__}.from_df_scale"
        (scale,) = as_params(fn, scale=scale)
        val.check_square("scale", scale, fn=f"expfam.{fn}")
        (df,) = as_params(fn, df=df)
        p = scale.shape[-1]
        chol = _linalg.cholesky(_linalg.sym(scale))
        val.check_domain(
            jnp.all(jnp.isfinite(chol)) & jnp.allclose(scale, jnp.swapaxes(scale, -1, -2)),
            f"jaxdiv.expfam.{fn}: scale must be symmetric positive definite.",
        )
        val.check_domain(df > p - 1, f"jaxdiv.expfam.{fn}: df must be > p - 1 = {p - 1}.")
        inv_scale = _spd_inverse(chol)
        batch = jnp.broadcast_shapes(df.shape, scale.shape[:-2])
        return cls(
            jnp.broadcast_to((df - p - 1) / 2, batch),
            jnp.broadcast_to(-0.5 * inv_scale, (*batch, p, p)),
        )

    @classmethod
    def _newton_start(cls, mu: Params) -> Self:
        # df = p + 1 and the scale that matches E[X] = df V.
        mean = _linalg.sym(jnp.asarray(mu[1]))
        p = mean.shape[-1]
        inv_mean = _spd_inverse(_linalg.cholesky(mean))
        return cls(jnp.zeros(mean.shape[:-2], mean.dtype), -0.5 * (p + 1) * inv_mean)

    @property
    def dim(self) -> int:
        return self.neg_half_inv_scale.shape[-1]

    @property
    def df(self) -> jax.Array:
        return 2 * self.half_df_shift + self.dim + 1

    def scale(self) -> jax.Array:
        inv_scale = -2 * _linalg.sym(self.neg_half_inv_scale)
        return _spd_inverse(_linalg.cholesky(inv_scale))

    def log_normalizer(self) -> jax.Array:
        p = self.dim
        half_n = self.half_df_shift + (p + 1) / 2
        logdet_scale = -_logdet_spd(-2 * _linalg.sym(self.neg_half_inv_scale))
        return half_n * (p * math.log(2) + logdet_scale) + multigammaln(half_n, p)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        x = jnp.asarray(x, self.dtype)
        return (_logdet_spd(x), x)

    def in_domain(self) -> jax.Array:
        chol = _linalg.cholesky(-2 * _linalg.sym(self.neg_half_inv_scale))
        return (self.half_df_shift > -1) & jnp.all(jnp.isfinite(chol), axis=(-2, -1))

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Bartlett decomposition `X = L A A' L'` (reparameterised through the gamma draws)."""
        p = self.dim
        full = tuple(shape) + self.batch_shape
        k_chi, k_norm = jax.random.split(key)
        # n - i for i = 0..p-1
        dof = self.df[..., None] - jnp.broadcast_to(
            jnp.arange(p, dtype=self.dtype), (*self.batch_shape, p)
        )
        chi2 = 2 * jax.random.gamma(k_chi, jnp.broadcast_to(dof / 2, (*full, p)), dtype=self.dtype)
        normal = jax.random.normal(k_norm, (*full, p, p), self.dtype)
        diag = jnp.sqrt(chi2)[..., None] * jnp.broadcast_to(
            jnp.eye(p, dtype=self.dtype), normal.shape
        )
        a = jnp.tril(normal, -1) + diag
        chol = jnp.broadcast_to(_linalg.cholesky(self.scale()), (*full, p, p))
        la = chol @ a
        return la @ jnp.swapaxes(la, -1, -2)
