r"""The Normal-inverse-Wishart family, the conjugate prior of a Normal with unknown mean and
covariance.

$(\mu, \Sigma)$ with $\Sigma \sim \mathrm{IW}(\nu, \Psi)$ and
$\mu \mid \Sigma \sim N(m, \Sigma / \kappa)$ in $d$ dimensions. Sufficient statistics
$T = (\Sigma^{-1} \mu, \mu' \Sigma^{-1} \mu, \Sigma^{-1}, \log\det\Sigma)$ with natural
parameters $\theta = (\kappa m, -\kappa / 2, -(\Psi + \kappa m m') / 2, -(\nu + d + 2) / 2)$,
base measure $(2\pi)^{-d/2}$ and
$A = -\tfrac{d}{2} \log\kappa - \tfrac{\nu}{2} \log\det\Psi + \tfrac{\nu d}{2} \log 2
+ \log\Gamma_d(\nu / 2)$.

A point $(\mu, \Sigma)$ is one array `[..., d, d + 1]`: $\Sigma$ in the first $d$
columns and $\mu$ in the last
([`pack`][jaxdiv.expfam.NormalInverseWishart.pack] builds one).
The member stores $(m, \kappa, L, \nu)$ with $\Psi = L L'$ lower-triangular, as
[`MultivariateNormal`][jaxdiv.expfam.MultivariateNormal] does, and every factorisation and
solve goes through `jaxdiv._linalg` (no LAPACK: `docs/known_issues.md`).
"""

from __future__ import annotations

import math
from typing import Any, Self

import jax
import jax.numpy as jnp
from jax.scipy.special import digamma, multigammaln

from jaxdiv import _linalg
from jaxdiv import _validation as val
from jaxdiv._numerics import LOG_2PI, expm1_minus_x
from jaxdiv.expfam._family import ExponentialFamily, Params, as_params, family
from jaxdiv.expfam._registry import register_kl


def _multi_digamma(a: jax.Array, d: int) -> jax.Array:
    """`psi_d(a) = sum_{i < d} psi(a - i / 2)`."""
    return sum((digamma(a - 0.5 * i) for i in range(d)), jnp.zeros_like(a))


def _sqnorm(x: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    return jnp.sum(jnp.square(x), axis=axes)


def _matvec(m: jax.Array, v: jax.Array) -> jax.Array:
    return jnp.einsum("...ij,...j->...i", m, v)


def _solve_factor_and_vector(
    chol: jax.Array, factor: jax.Array, vec: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """`|chol^-1 factor|_F^2` and `|chol^-1 vec|^2`, from one triangular solve."""
    d = chol.shape[-1]
    batch = jnp.broadcast_shapes(chol.shape[:-2], factor.shape[:-2], vec.shape[:-1])
    rhs = jnp.concatenate(
        [jnp.broadcast_to(factor, (*batch, d, d)), jnp.broadcast_to(vec, (*batch, d))[..., None]],
        axis=-1,
    )
    x = _linalg.tril_solve(jnp.broadcast_to(chol, (*batch, d, d)), rhs)
    return _sqnorm(x[..., :d], (-2, -1)), _sqnorm(x[..., d], (-1,))


@family
class NormalInverseWishart(ExponentialFamily):
    r"""NormalInverseWishart(loc $m$, kappa $\kappa$, df $\nu$, scale $\Psi$) over $(\mu, \Sigma)$.

    $$
    p(\mu, \Sigma) = N(\mu; m, \Sigma / \kappa)\, \mathrm{IW}(\Sigma; \nu, \Psi),
    $$

    the conjugate prior of a $d$-dimensional Normal's mean and covariance, with
    $\nu > d - 1$ (`scipy.stats.invwishart`'s convention). Points are arrays
    `[..., d, d + 1]` holding $[\Sigma \mid \mu]$. The KL is the inverse-Wishart KL plus the
    expected KL of the conditional Normals:

    $$
    \mathrm{KL}_{\mathrm{IW}}
    + \tfrac{d}{2}\Big(\frac{\kappa_q}{\kappa_p} - 1 - \log\frac{\kappa_q}{\kappa_p}\Big)
    + \tfrac{\kappa_q \nu_p}{2} (m_p - m_q)' \Psi_p^{-1} (m_p - m_q).
    $$

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import expfam
      >>> niw = expfam.NormalInverseWishart.from_loc_kappa_df_scale
      >>> p = niw(jnp.zeros(2), 1.0, 4.0, jnp.eye(2))
      >>> q = niw(jnp.ones(2), 1.0, 4.0, jnp.eye(2))
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # kappa nu |m_p - m_q|^2 / 2
      4.0
    """

    loc: jax.Array
    kappa: jax.Array
    scale_tril: jax.Array
    df: jax.Array
    natural_event_ndims = (1, 0, 2, 0)
    boundary_members = False  # finite natural parameters at every member

    @classmethod
    def from_loc_kappa_df_scale(
        cls,
        loc: jax.typing.ArrayLike,
        kappa: jax.typing.ArrayLike,
        df: jax.typing.ArrayLike,
        scale: jax.typing.ArrayLike,
    ) -> Self:
        """The member with mean `loc` `[..., d]`, `kappa` (> 0) and `df` (> d - 1) `[...]`,
        and the inverse Wishart's scale `scale` `[..., d, d]` (symmetric positive definite).

        Examples:
          >>> import jax.numpy as jnp
          >>> from jaxdiv import expfam
          >>> d = expfam.NormalInverseWishart.from_loc_kappa_df_scale(
          ...     jnp.zeros(3), 2.0, 5.0, jnp.eye(3))
          >>> d.dim, d.batch_shape
          (3, ())
        """
        fn = f"{cls.__name__}.from_loc_kappa_df_scale"
        (scale,) = as_params(fn, scale=scale)
        val.check_square("scale", scale, fn=f"expfam.{fn}")
        d = scale.shape[-1]
        (loc,) = as_params(fn, loc=loc)
        kappa, df = as_params(fn, kappa=kappa, df=df)
        if loc.ndim < 1 or loc.shape[-1] != d:
            raise ValueError(
                f"jaxdiv.expfam.{fn}: loc has shape {loc.shape}; its last axis must be the "
                f"dimension d = {d} of scale (shape {scale.shape})."
            )
        try:
            batch = jnp.broadcast_shapes(loc.shape[:-1], kappa.shape, scale.shape[:-2])
        except ValueError:
            raise ValueError(
                f"jaxdiv.expfam.{fn}: loc has batch shape {loc.shape[:-1]}, kappa and df have "
                f"shape {kappa.shape} and scale has batch shape {scale.shape[:-2]}, which do "
                "not broadcast."
            ) from None
        chol = _linalg.cholesky(_linalg.sym(scale))
        val.check_domain(
            jnp.all(jnp.isfinite(chol)) & jnp.allclose(scale, jnp.swapaxes(scale, -1, -2)),
            f"jaxdiv.expfam.{fn}: scale must be symmetric positive definite.",
        )
        val.check_domain(jnp.all(jnp.isfinite(loc)), f"jaxdiv.expfam.{fn}: loc must be finite.")
        val.check_domain(
            (kappa > 0) & jnp.isfinite(kappa), f"jaxdiv.expfam.{fn}: kappa must be finite and > 0."
        )
        val.check_domain(
            (df > d - 1) & jnp.isfinite(df), f"jaxdiv.expfam.{fn}: df must be finite and > {d - 1}."
        )
        return cls(
            jnp.broadcast_to(loc, (*batch, d)),
            jnp.broadcast_to(kappa, batch),
            jnp.broadcast_to(chol, (*batch, d, d)),
            jnp.broadcast_to(df, batch),
        )

    @staticmethod
    def pack(mean: jax.typing.ArrayLike, cov: jax.typing.ArrayLike) -> jax.Array:
        """The point `(mean [..., d], cov [..., d, d])` as one array `[..., d, d + 1]`.

        Examples:
          >>> import jax.numpy as jnp
          >>> from jaxdiv import expfam
          >>> expfam.NormalInverseWishart.pack(jnp.zeros(2), jnp.eye(2)).shape
          (2, 3)
        """
        mean, cov = jnp.asarray(mean), jnp.asarray(cov)
        if mean.ndim < 1 or cov.ndim < 2 or cov.shape[-2:] != (mean.shape[-1],) * 2:
            raise ValueError(
                "jaxdiv.expfam.NormalInverseWishart.pack(mean, cov): expected mean [..., d] and "
                f"cov [..., d, d] (mean first), got shapes {mean.shape} and {cov.shape}."
            )
        batch = jnp.broadcast_shapes(mean.shape[:-1], cov.shape[:-2])
        d = cov.shape[-1]
        return jnp.concatenate(
            [jnp.broadcast_to(cov, (*batch, d, d)), jnp.broadcast_to(mean, (*batch, d))[..., None]],
            axis=-1,
        )

    @classmethod
    def from_mean_parameters(cls, mu: Params) -> Self:
        """The member with mean parameters `mu`, in closed form but for one scalar equation.

        `E[S^-1] = nu Psi^-1` and `E[log det S] = log det Psi - d log 2 - psi_d(nu / 2)` give
        `d log(nu / 2) - psi_d(nu / 2) = E[log det S] + log det E[S^-1]`, whose left side
        falls from `+inf` to 0 as `nu` grows from `d - 1`: it is solved by bisection in
        `log(nu - d + 1)`. Then `Psi = nu E[S^-1]^-1`, `m = E[S^-1]^-1 E[S^-1 mu]` and
        `kappa = d / (E[mu' S^-1 mu] - m' E[S^-1 mu])`.
        """
        m1, m2, m3, m4 = (jnp.asarray(t) for t in mu)
        d = m1.shape[-1]
        inv = _linalg.tril_inverse(_linalg.cholesky(_linalg.sym(m3)))
        target = m4 - 2 * _linalg.log_abs_diag(inv)  # E[log det S] + log det E[S^-1]

        def excess(t: jax.Array) -> jax.Array:
            nu = jnp.exp(t) + d - 1
            return d * jnp.log(nu / 2) - _multi_digamma(nu / 2, d) - target

        def bisect(bounds: tuple[jax.Array, jax.Array], _: None) -> tuple[Any, None]:
            lo, hi = bounds
            mid = 0.5 * (lo + hi)
            above = excess(mid) > 0  # nu too small
            return (jnp.where(above, mid, lo), jnp.where(above, hi, mid)), None

        lo = jnp.full(target.shape, math.log(1e-8), target.dtype)
        hi = jnp.full(target.shape, math.log(1e12), target.dtype)
        (lo, hi), _ = jax.lax.scan(bisect, (lo, hi), None, length=80)
        nu = jnp.exp(0.5 * (lo + hi)) + d - 1
        precision_inv = _linalg.matmul(jnp.swapaxes(inv, -1, -2), inv)  # E[S^-1]^-1
        m = _matvec(precision_inv, m1)
        kappa = d / (m2 - jnp.sum(m * m1, -1))
        scale = nu[..., None, None] * precision_inv
        return cls(m, kappa, _linalg.cholesky(_linalg.sym(scale)), nu)

    @property
    def dim(self) -> int:
        return self.loc.shape[-1]

    def scale(self) -> jax.Array:
        """The inverse Wishart's scale matrix `Psi = L L'`."""
        return _linalg.matmul(self.scale_tril, jnp.swapaxes(self.scale_tril, -1, -2))

    def _logdet_scale(self) -> jax.Array:
        return 2 * _linalg.log_abs_diag(self.scale_tril)

    def _precision_of_scale(self) -> jax.Array:
        inv = _linalg.tril_inverse(self.scale_tril)
        return _linalg.matmul(jnp.swapaxes(inv, -1, -2), inv)

    def natural_parameters(self) -> Params:
        m, k, d = self.loc, self.kappa, self.dim
        outer = m[..., :, None] * m[..., None, :]
        return (
            k[..., None] * m,
            -0.5 * k,
            -0.5 * (self.scale() + k[..., None, None] * outer),
            -0.5 * (self.df + d + 2),
        )

    def with_natural_parameters(self, theta: Params) -> Self:
        t1, t2, t3, t4 = (jnp.asarray(t) for t in theta)
        d = t1.shape[-1]
        k = -2 * t2
        m = t1 / k[..., None]
        scale = -2 * _linalg.sym(t3) - k[..., None, None] * (m[..., :, None] * m[..., None, :])
        return type(self)(m, k, _linalg.cholesky(_linalg.sym(scale)), -2 * t4 - d - 2)

    def _expected_logdet(self) -> jax.Array:
        """`E[log det Sigma] = log det Psi - d log 2 - psi_d(nu / 2)`."""
        d = self.dim
        return self._logdet_scale() - d * math.log(2) - _multi_digamma(0.5 * self.df, d)

    def log_normalizer(self) -> jax.Array:
        d, nu = self.dim, self.df
        return (
            -0.5 * d * jnp.log(self.kappa)
            - 0.5 * nu * self._logdet_scale()
            + 0.5 * nu * d * math.log(2)
            + multigammaln(0.5 * nu, d)
        )

    def mean_parameters(self) -> Params:
        precision = self.df[..., None, None] * self._precision_of_scale()  # E[Sigma^-1]
        m = self.loc
        e_inv_mu = _matvec(precision, m)
        return (
            e_inv_mu,
            jnp.sum(m * e_inv_mu, -1) + self.dim / self.kappa,
            precision,
            self._expected_logdet(),
        )

    def log_normalizer_minus_inner(self, other: Self) -> jax.Array:
        """`A - <theta, mu_o>` in the stored parameters: one triangular solve against the other
        member's factor gives `tr(Psi Psi_o^-1)` and the Mahalanobis term."""
        d, k, nu = self.dim, self.kappa, self.df
        shift = 0.5 * (nu + d + 2)
        if other is self:  # the nu log det Psi terms cancel in closed form
            return (
                -0.5 * d * jnp.log(k)
                + 0.5 * (d + 2) * self._logdet_scale()
                - 0.5 * (d + 2) * d * math.log(2)
                + multigammaln(0.5 * nu, d)
                + 0.5 * d * (1 + nu)
                - shift * _multi_digamma(0.5 * nu, d)
            )
        trace, maha = _solve_factor_and_vector(
            other.scale_tril, self.scale_tril, self.loc - other.loc
        )
        return (
            self.log_normalizer()
            + 0.5 * k * other.df * maha
            + 0.5 * d * k / other.kappa
            + 0.5 * other.df * trace
            + shift * other._expected_logdet()
        )

    def _split(
        self, x: jax.typing.ArrayLike, *, any_dim: bool = False
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """The mean, the covariance and its Cholesky factor of points `[..., d, d + 1]`
        (of this member's `d`, or of any `d` for the statistics, which `moment_match`
        evaluates on a placeholder member)."""
        x = jnp.asarray(x, self.dtype)
        d = x.shape[-2] if any_dim and x.ndim >= 2 else self.dim
        if x.ndim < 2 or x.shape[-2:] != (d, d + 1):
            raise ValueError(
                f"jaxdiv.expfam.{type(self).__name__}: a point must be an array [..., d, d + 1] "
                f"= [..., {d}, {d + 1}] holding [Sigma | mu] (NormalInverseWishart.pack), got "
                f"shape {x.shape}."
            )
        cov = _linalg.sym(x[..., :d])
        return x[..., d], cov, _linalg.cholesky(cov)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        mu, _, chol = self._split(x, any_dim=True)
        inv = _linalg.tril_inverse(chol)
        precision = _linalg.matmul(jnp.swapaxes(inv, -1, -2), inv)
        inv_mu = _matvec(precision, mu)
        return (inv_mu, jnp.sum(mu * inv_mu, -1), precision, 2 * _linalg.log_abs_diag(chol))

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        return jnp.full(jnp.shape(x)[:-2], -0.5 * self.dim * LOG_2PI, self.dtype)

    def expected_log_base_measure(self) -> jax.Array:
        return jnp.full(self.batch_shape, -0.5 * self.dim * LOG_2PI, self.dtype)

    def log_prob(self, x: jax.typing.ArrayLike) -> jax.Array:
        """`log N(mu; m, Sigma / kappa) + log IW(Sigma; nu, Psi)` at points `[..., d, d + 1]`."""
        mu, _, chol = self._split(x)
        d, nu, k = self.dim, self.df, self.kappa
        mu, loc = jnp.broadcast_arrays(mu, self.loc)
        trace, maha = _solve_factor_and_vector(chol, self.scale_tril, mu - loc)
        logdet = 2 * _linalg.log_abs_diag(chol)
        normal = 0.5 * d * (jnp.log(k) - LOG_2PI) - 0.5 * logdet - 0.5 * k * maha
        inv_wishart = (
            0.5 * nu * (self._logdet_scale() - d * math.log(2))
            - multigammaln(0.5 * nu, d)
            - 0.5 * (nu + d + 1) * logdet
            - 0.5 * trace
        )
        return normal + inv_wishart

    def in_domain(self) -> jax.Array:
        diag = _linalg.diag(self.scale_tril)
        return (
            jnp.all(jnp.isfinite(self.loc), -1)
            & (self.kappa > 0)
            & jnp.isfinite(self.kappa)
            & (self.df > self.dim - 1)
            & jnp.isfinite(self.df)
            & jnp.all(jnp.isfinite(self.scale_tril), (-2, -1))
            & jnp.all(diag != 0, -1)
        )

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """`Sigma = (L A^-T)(L A^-T)'` with `A` the Bartlett factor of a Wishart(nu, I) draw
        (so `Sigma^-1 ~ Wishart(nu, Psi^-1)`), then `mu = m + L A^-T z / sqrt(kappa)`.
        Reparameterised through the gamma draws. Returns `shape + batch + (d, d + 1)`."""
        d, dtype = self.dim, self.dtype
        full = tuple(shape) + self.batch_shape
        k_chi, k_norm, k_mu = jax.random.split(key, 3)
        dof = self.df[..., None] - jnp.broadcast_to(
            jnp.arange(d, dtype=dtype), (*self.batch_shape, d)
        )
        chi2 = 2 * jax.random.gamma(k_chi, jnp.broadcast_to(dof / 2, (*full, d)), dtype=dtype)
        normal = jax.random.normal(k_norm, (*full, d, d), dtype)
        eye = jnp.broadcast_to(jnp.eye(d, dtype=dtype), normal.shape)
        bartlett = jnp.tril(normal, -1) + jnp.sqrt(chi2)[..., None] * eye
        factor = _linalg.matmul(
            jnp.broadcast_to(self.scale_tril, (*full, d, d)),
            jnp.swapaxes(_linalg.tril_inverse(bartlett), -1, -2),
        )
        cov = _linalg.matmul(factor, jnp.swapaxes(factor, -1, -2))
        z = jax.random.normal(k_mu, (*full, d), dtype)
        kappa = jnp.broadcast_to(self.kappa, full)
        mu = (
            jnp.broadcast_to(self.loc, (*full, d))
            + _matvec(factor, z) * jax.lax.rsqrt(kappa)[..., None]
        )
        return self.pack(mu, cov)


@register_kl(NormalInverseWishart)
def _niw_kl(p: NormalInverseWishart, q: NormalInverseWishart) -> jax.Array:
    """The inverse-Wishart KL (the Wishart KL of the precisions) plus the expected KL of the
    conditional Normals; `tr(Psi_q Psi_p^-1)` and the Mahalanobis term from one solve."""
    d = p.dim
    trace, maha = _solve_factor_and_vector(p.scale_tril, q.scale_tril, p.loc - q.loc)
    nu_p, nu_q = p.df, q.df
    inverse_wishart = (
        0.5 * nu_p * (trace - d)
        + 0.5 * nu_q * (p._logdet_scale() - q._logdet_scale())
        + multigammaln(0.5 * nu_q, d)
        - multigammaln(0.5 * nu_p, d)
        + 0.5 * (nu_p - nu_q) * _multi_digamma(0.5 * nu_p, d)
    )
    log_ratio = jnp.log(q.kappa) - jnp.log(p.kappa)
    normals = 0.5 * d * expm1_minus_x(log_ratio) + 0.5 * q.kappa * nu_p * maha
    return inverse_wishart + normals
