r"""The multivariate Normal family in its mean, with a fixed covariance: theta = cov^-1 mean.

With the covariance $\Sigma$ known, $N(m, \Sigma)$ is an exponential family in
$m$ alone: $T(x) = x$, $\theta = \Sigma^{-1} m$, $A(\theta) = \theta' \Sigma \theta / 2$
and the base measure $h(x) = N(x; 0, \Sigma)$.

The covariance is a static field, held as a tuple of rows of Python floats. A
static field is part of the pytree's structure, which `jax.jit` hashes and
compares to find a compiled program: a tuple is hashable and compares by value,
where an array is neither hashable nor comparable with `==` (it compares
elementwise). A new covariance is a new structure, and so a new compilation;
that is what a known covariance means. Its Cholesky factor and inverse factor
are computed once per covariance in NumPy, on the host, and enter the programs
as constants (no factorisation is traced, so none can meet the LAPACK deadlock of
`docs/known_issues.md`).
"""

from __future__ import annotations

import functools
from typing import Any, Self

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv._numerics import LOG_2PI
from jaxdiv.expfam._family import ExponentialFamily, Params, as_params, family, static_field
from jaxdiv.expfam._registry import register_kl

Matrix = tuple[tuple[float, ...], ...]


class _Factors:
    """The Cholesky factor `L` of a covariance, its inverse and `log det cov`, in float64."""

    def __init__(self, cov: Matrix) -> None:
        a = np.asarray(cov, np.float64)
        self.chol = np.linalg.cholesky(a)
        self.inv_chol = np.linalg.inv(self.chol)
        self.logdet = 2 * float(np.sum(np.log(np.diag(self.chol))))


@functools.lru_cache(maxsize=64)
def _factors(cov: Matrix) -> _Factors:
    return _Factors(cov)


def _as_static_cov(fn: str, cov: Any) -> Matrix:
    """A concrete symmetric positive-definite `[d, d]` covariance as a tuple of float rows."""
    try:
        a = np.asarray(cov, np.float64)
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError):
        raise TypeError(
            f"jaxdiv.expfam.{fn}: cov is a traced value; the covariance of this family is "
            "fixed (static) and must be concrete (a NumPy array or nested lists). To learn a "
            "covariance use jaxdiv.expfam.MultivariateNormal."
        ) from None
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 1:
        raise ValueError(
            f"jaxdiv.expfam.{fn}: cov must be one square matrix [d, d] (it is shared by the "
            f"whole batch), got shape {a.shape}."
        )
    ok = np.all(np.isfinite(a)) and np.allclose(a, a.T, rtol=1e-10, atol=0)
    if ok:
        try:
            np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            ok = False
    if not ok:
        raise ValueError(f"jaxdiv.expfam.{fn}: cov must be symmetric positive definite.")
    a = 0.5 * (a + a.T)
    return tuple(tuple(float(v) for v in row) for row in a)


def _matvec(m: jax.Array, v: jax.Array) -> jax.Array:
    """`m v` for one matrix `[d, d]` and vectors `[..., d]`."""
    return jnp.einsum("ij,...j->...i", m, v)


@family
class MultivariateNormalKnownCovariance(ExponentialFamily):
    r"""Normal(mean, cov) in d dimensions with a fixed covariance: the family in the mean.

    $$
    p(x) = h(x) \exp\big(\theta' x - A(\theta)\big), \quad \theta = \Sigma^{-1} m, \quad
    A(\theta) = \tfrac12 \theta' \Sigma \theta = \tfrac12 \lVert L^{-1} m \rVert^2,
    $$

    with $h(x) = N(x; 0, \Sigma)$ and $\Sigma = L L'$. The member stores the mean
    `loc` `[..., d]`; the covariance `cov` is one `[d, d]` matrix shared by the
    batch, held as a static tuple of rows (see the module notes: members with
    different covariances are different families, and divergences between them
    raise `ValueError`). $\mathrm{KL} = \tfrac12 \lVert L^{-1} (m_p - m_q) \rVert^2$.

    Examples:
      >>> import numpy as np
      >>> from jaxdiv import expfam
      >>> cov = np.array([[2.0, 0.0], [0.0, 0.5]])
      >>> p = expfam.MultivariateNormalKnownCovariance.from_mean_cov(np.zeros(2), cov)
      >>> q = expfam.MultivariateNormalKnownCovariance.from_mean_cov(np.ones(2), cov)
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # (1 / 2 + 1 / 0.5) / 2
      1.25
    """

    loc: jax.Array
    cov: Matrix = static_field()
    natural_event_ndims = (1,)
    boundary_members = False  # finite natural parameters at every member

    @classmethod
    def from_mean_cov(cls, mean: jax.typing.ArrayLike, cov: Any) -> Self:
        """The member with mean `mean` `[..., d]` and the fixed covariance `cov` `[d, d]`.

        `cov` must be concrete (not traced): it becomes a static field.

        Examples:
          >>> import numpy as np
          >>> from jaxdiv import expfam
          >>> d = expfam.MultivariateNormalKnownCovariance.from_mean_cov(np.ones(2), np.eye(2))
          >>> d.cov
          ((1.0, 0.0), (0.0, 1.0))
        """
        fn = f"{cls.__name__}.from_mean_cov"
        static = _as_static_cov(fn, cov)
        (mean,) = as_params(fn, mean=mean)
        d = len(static)
        if mean.ndim < 1 or mean.shape[-1] != d:
            raise ValueError(
                f"jaxdiv.expfam.{fn}: mean has shape {mean.shape}; its last axis must be the "
                f"dimension d = {d} of cov (shape ({d}, {d}))."
            )
        return cls(mean, static)

    @classmethod
    def from_mean_parameters(cls, mu: Params, *, cov: Any = None) -> Self:
        """The member with `E[x] = mu[0]` (the mean parameter is the mean) and covariance `cov`."""
        if cov is None:
            raise TypeError(
                f"jaxdiv.expfam.{cls.__name__}.from_mean_parameters: the covariance is fixed, "
                "not a mean parameter: pass it as cov=..."
            )
        return cls.from_mean_cov(mu[0], cov)

    @property
    def dim(self) -> int:
        return len(self.cov)

    def _f(self) -> _Factors:
        return _factors(self.cov)

    def _const(self, a: np.ndarray) -> jax.Array:
        return jnp.asarray(a, self.dtype)

    def covariance(self) -> jax.Array:
        return self._const(np.asarray(self.cov))

    def mean(self) -> jax.Array:
        return self.loc

    def _whiten(self, x: jax.Array) -> jax.Array:
        """`L^-1 x` for points or means `[..., d]`."""
        return _matvec(self._const(self._f().inv_chol), x)

    def natural_parameters(self) -> Params:
        precision = self._f().inv_chol.T @ self._f().inv_chol
        return (_matvec(self._const(precision), self.loc),)

    def with_natural_parameters(self, theta: Params) -> Self:
        return type(self)(_matvec(self.covariance(), jnp.asarray(theta[0])), self.cov)

    def log_normalizer(self) -> jax.Array:
        """`A = |L^-1 mean|^2 / 2`."""
        return 0.5 * jnp.sum(jnp.square(self._whiten(self.loc)), -1)

    def log_normalizer_minus_inner(self, other: Self) -> jax.Array:
        """`A(theta) - <theta, mu_other> = (|w - w_o|^2 - |w_o|^2) / 2`, `w = L^-1 mean`."""
        w_o = self._whiten(other.loc)
        if other is self:
            return -0.5 * jnp.sum(jnp.square(w_o), -1)
        w = self._whiten(self.loc)
        return 0.5 * (jnp.sum(jnp.square(w - w_o), -1) - jnp.sum(jnp.square(w_o), -1))

    def mean_parameters(self) -> Params:
        return (self.loc,)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        return (jnp.asarray(x, self.dtype),)

    def _log_h_constant(self) -> float:
        return -0.5 * (self.dim * LOG_2PI + self._f().logdet)

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        """`log N(x; 0, cov)`."""
        w = self._whiten(jnp.asarray(x, self.dtype))
        return self._log_h_constant() - 0.5 * jnp.sum(jnp.square(w), -1)

    def expected_log_base_measure(self) -> jax.Array:
        w = self._whiten(self.loc)
        return self._log_h_constant() - 0.5 * (self.dim + jnp.sum(jnp.square(w), -1))

    def log_prob(self, x: jax.typing.ArrayLike) -> jax.Array:
        """`log N(x; mean, cov)` at points `x` `[..., d]`, as `-|L^-1 (x - mean)|^2 / 2 + c`."""
        x = jnp.asarray(x, self.dtype)
        if x.ndim < 1 or x.shape[-1] != self.dim:
            raise ValueError(
                f"jaxdiv.expfam.{type(self).__name__}.log_prob: x has shape {x.shape}; its "
                f"last axis must be the dimension d = {self.dim} of this distribution."
            )
        x, loc = jnp.broadcast_arrays(x, self.loc)
        z = self._whiten(x - loc)
        return self._log_h_constant() - 0.5 * jnp.sum(jnp.square(z), -1)

    def in_domain(self) -> jax.Array:
        return jnp.all(jnp.isfinite(self.loc), -1)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Reparameterised: `mean + L z` with `z ~ N(0, I)`."""
        z = jax.random.normal(key, tuple(shape) + self.loc.shape, self.dtype)
        return jnp.broadcast_to(self.loc, z.shape) + _matvec(self._const(self._f().chol), z)

    @classmethod
    def _statistics_template(cls, dtype: Any, **static: Any) -> Self:
        if "cov" not in static:
            raise TypeError(
                f"jaxdiv.expfam.{cls.__name__}: the covariance is fixed; to fit the mean pass "
                "a member (its cov is kept) or the covariance, as in "
                f"moment_match({cls.__name__}, x, cov=cov)."
            )
        cov = _as_static_cov(f"{cls.__name__}.moment_match", static["cov"])
        return cls(jnp.zeros((len(cov),), dtype), cov)


@register_kl(MultivariateNormalKnownCovariance)
def _known_cov_kl(
    p: MultivariateNormalKnownCovariance, q: MultivariateNormalKnownCovariance
) -> jax.Array:
    """`|L^-1 (m_p - m_q)|^2 / 2`."""
    return 0.5 * jnp.sum(jnp.square(p._whiten(p.loc - q.loc)), -1)
