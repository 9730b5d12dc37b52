"""Gaussian mixtures in d dimensions: an immutable pytree with densities, samples and moments."""

from __future__ import annotations

import dataclasses
import numbers
import operator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv import _linalg, expfam
from jaxdiv import _numerics as num
from jaxdiv import _validation as val


def _fn(name: str) -> str:
    return f"mixture.GaussianMixture.{name}"


def _check_shapes(fn: str, log_weights: jax.Array, means: jax.Array, scale_tril: jax.Array) -> None:
    if log_weights.ndim != 1:
        raise ValueError(
            f"jaxdiv.{fn}: weights must have shape [K] (one per component), "
            f"got shape {log_weights.shape}."
        )
    k = log_weights.shape[0]
    if means.ndim != 2 or means.shape[0] != k:
        raise ValueError(
            f"jaxdiv.{fn}: means must have shape [K, d] = [{k}, d], got shape {means.shape}."
        )
    d = means.shape[1]
    if scale_tril.shape != (k, d, d):
        raise ValueError(
            f"jaxdiv.{fn}: covariances must have shape [K, d, d] = [{k}, {d}, {d}] for "
            f"means of shape {means.shape}, got shape {scale_tril.shape}."
        )


def check_key(key: object, fn: str) -> jax.Array:
    """`key` if it is a PRNG key (`jax.random.key` or a raw `jax.random.PRNGKey`)."""
    if isinstance(key, jax.Array | np.ndarray):
        dtype = key.dtype
        if jnp.issubdtype(dtype, jax.dtypes.prng_key) or (
            dtype == jnp.uint32 and key.shape[-1:] == (2,)
        ):
            return jnp.asarray(key)
        what = f"an array of dtype {dtype} and shape {key.shape}"
    else:
        what = repr(key) if key is None else f"{type(key).__name__} {key!r}"
    raise TypeError(
        f"jaxdiv.{fn}: key must be a PRNG key, from jax.random.key(seed) (or "
        f"jax.random.PRNGKey(seed)), got {what}."
    )


def _sample_shape(shape: Any, fn: str) -> tuple[int, ...]:
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool | np.bool_):
        shape = (shape,)
    try:
        dims = tuple(operator.index(n) for n in shape)
    except TypeError:
        dims = None
    if dims is None or any(n < 0 for n in dims):
        raise TypeError(
            f"jaxdiv.{fn}: shape must be a tuple of integers >= 0 (or one integer), got {shape!r}."
        )
    return dims


def _log_weights(fn: str, weights: jax.Array, given: object = None) -> jax.Array:
    """`log weights` after checking they lie on the simplex, to the precision they were given
    in (`given`: the user's array; 16-bit weights cannot sum to 1 closer than a few ulps)."""
    tol = 1e-6 if weights.dtype == jnp.float64 else 1e-4
    given_dtype = getattr(given, "dtype", None)
    if given_dtype is not None and jnp.issubdtype(given_dtype, jnp.floating):
        tol = max(tol, weights.size * float(jnp.finfo(given_dtype).eps))
    val.check_domain(
        jnp.all(weights >= 0) & (jnp.abs(jnp.sum(weights) - 1) <= tol),
        f"jaxdiv.{fn}: weights must be non-negative and sum to 1.",
    )
    return num.safe_log(weights)


def _diag_matrix(v: jax.Array) -> jax.Array:
    """Diagonal matrices `[..., d, d]` from their diagonals `[..., d]`."""
    return jnp.einsum("...i,ij->...ij", v, jnp.eye(v.shape[-1], dtype=v.dtype))


def _with_diag(m: jax.Array, diag: jax.Array) -> jax.Array:
    """The strictly lower triangle of `m` with `diag` on the diagonal."""
    return jnp.tril(m, -1) + _diag_matrix(diag)


def inverse_softplus(y: jax.Array) -> jax.Array:
    """The `x` with `softplus(x) = y` for `y > 0`, stable for small and large `y`."""
    return y + jnp.log(-jnp.expm1(-y))


def gaussian_log_pdf(diff: jax.Array, scale_tril: jax.Array) -> jax.Array:
    """`log N(diff; 0, L L')` for a batch of differences `[..., d]` and factors `[..., d, d]`.

    The batch shapes must broadcast; the inverse factor is formed once per
    factor, so many points per factor cost one matrix-vector product each.
    """
    d = diff.shape[-1]
    inv = _linalg.tril_inverse(scale_tril)
    z = jnp.einsum("...ij,...j->...i", inv, diff)
    quad, log_det = jnp.broadcast_arrays(
        jnp.sum(jnp.square(z), -1), _linalg.log_abs_diag(scale_tril)
    )
    return -0.5 * quad - log_det - 0.5 * d * num.LOG_2PI


@dataclasses.dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class GaussianMixture:
    r"""A mixture of `K` Gaussians in `d` dimensions, a frozen dataclass registered as a pytree.

    $$
    p(x) = \sum_k w_k \, \mathcal N(x; \mu_k, \Sigma_k)
    $$

    The fields are what it stores, its pytree leaves: `log_weights` `[K]`,
    `means` `[K, d]` and the lower-triangular Cholesky factors `scale_tril`
    `[K, d, d]` ($\Sigma_k = L_k L_k^\top$). The dataclass constructor takes
    them by keyword, as they are, without checks (as
    [`jaxdiv.expfam`][jaxdiv.expfam] families take their natural parameters);
    build a mixture from the usual parameters with
    [`from_covariances`][jaxdiv.mixture.GaussianMixture.from_covariances]
    (weights, means, covariances), from Cholesky factors
    ([`from_scale_tril`][jaxdiv.mixture.GaussianMixture.from_scale_tril]), from per-axis
    variances ([`diagonal`][jaxdiv.mixture.GaussianMixture.diagonal]), in one dimension
    from standard deviations ([`univariate`][jaxdiv.mixture.GaussianMixture.univariate]), or
    from unconstrained values
    ([`from_unconstrained`][jaxdiv.mixture.GaussianMixture.from_unconstrained]) that optax
    can optimise directly. Those check their inputs.

    Attributes:
      log_weights: `[K]` log mixture weights (`-inf` for a zero weight).
      means: `[K, d]` component means.
      scale_tril: `[K, d, d]` lower-triangular factors of the component covariances.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv.mixture import GaussianMixture
      >>> p = GaussianMixture.univariate(jnp.array([0.5, 0.5]), jnp.array([-1.0, 1.0]),
      ...                                stds=jnp.array([1.0, 1.0]))
      >>> p.num_components, p.dim
      (2, 1)
      >>> round(float(p.covariance()[0, 0]), 6)  # 1 + 1: within plus between components
      2.0
      >>> q = GaussianMixture(log_weights=p.log_weights, means=p.means, scale_tril=p.scale_tril)
      >>> bool(jnp.all(q.covariances == p.covariances))
      True
    """

    log_weights: jax.Array
    means: jax.Array
    scale_tril: jax.Array

    def __repr__(self) -> str:
        shape = getattr(self.means, "shape", None)
        if shape is not None and len(shape) == 2:
            return f"GaussianMixture(K={shape[0]}, d={shape[1]})"
        return "GaussianMixture(...)"

    # ----------------------------------------------------------------------- constructors

    @classmethod
    def from_covariances(
        cls,
        weights: jax.typing.ArrayLike,
        means: jax.typing.ArrayLike,
        covariances: jax.typing.ArrayLike,
    ) -> GaussianMixture:
        """From weights `[K]`, means `[K, d]` and covariances `[K, d, d]`.

        Args:
          weights: `[K]` non-negative mixture weights that sum to 1.
          means: `[K, d]` component means.
          covariances: `[K, d, d]` symmetric positive-definite covariances.

        Raises:
          ValueError: on shapes that do not fit together, or (with concrete
            values) weights off the simplex or covariances that are not
            symmetric positive definite.

        Examples:
          >>> import jax.numpy as jnp
          >>> from jaxdiv.mixture import GaussianMixture
          >>> covs = jnp.stack([jnp.eye(2), 4 * jnp.eye(2)])
          >>> p = GaussianMixture.from_covariances(jnp.array([0.25, 0.75]), jnp.zeros((2, 2)), covs)
          >>> p.num_components, p.dim
          (2, 2)
          >>> float(p.covariance()[1, 1])  # 0.25 * 1 + 0.75 * 4
          3.25
        """
        fn = _fn("from_covariances")
        given = weights
        weights, means, covariances = val.float_params(
            fn, weights=weights, means=means, cov=covariances
        )
        _check_shapes(fn, weights, means, covariances)
        sym = 0.5 * (covariances + jnp.swapaxes(covariances, -1, -2))
        chol = _linalg.cholesky(sym)
        val.check_domain(
            jnp.all(jnp.isfinite(chol)) & jnp.allclose(covariances, sym),
            f"jaxdiv.{fn}: covariances must be symmetric positive definite.",
        )
        return cls(log_weights=_log_weights(fn, weights, given), means=means, scale_tril=chol)

    @classmethod
    def from_scale_tril(
        cls,
        weights: jax.typing.ArrayLike,
        means: jax.typing.ArrayLike,
        scale_tril: jax.typing.ArrayLike,
    ) -> GaussianMixture:
        """From weights `[K]`, means `[K, d]` and Cholesky factors `[K, d, d]`.

        Only the lower triangle of `scale_tril` is read; its diagonal must be
        non-zero.
        """
        fn = _fn("from_scale_tril")
        given = weights
        weights, means, scale = val.float_params(
            fn, weights=weights, means=means, scale_tril=scale_tril
        )
        _check_shapes(fn, weights, means, scale)
        val.check_domain(
            jnp.all(_linalg.diag(scale) != 0),
            f"jaxdiv.{fn}: scale_tril must have a non-zero diagonal.",
        )
        return cls(
            log_weights=_log_weights(fn, weights, given), means=means, scale_tril=jnp.tril(scale)
        )

    @classmethod
    def diagonal(
        cls,
        weights: jax.typing.ArrayLike,
        means: jax.typing.ArrayLike,
        variances: jax.typing.ArrayLike,
    ) -> GaussianMixture:
        """From weights `[K]`, means `[K, d]` and per-axis variances `[K, d]` (all > 0)."""
        fn = _fn("diagonal")
        given = weights
        weights, means, variances = val.float_params(
            fn, weights=weights, means=means, variances=variances
        )
        if variances.shape != means.shape:
            raise ValueError(
                f"jaxdiv.{fn}: variances must have the shape of means {means.shape}, "
                f"got {variances.shape}."
            )
        val.check_domain(jnp.all(variances > 0), f"jaxdiv.{fn}: variances must be > 0.")
        scale = _diag_matrix(num.safe_sqrt(variances))
        _check_shapes(fn, weights, means, scale)
        return cls(log_weights=_log_weights(fn, weights, given), means=means, scale_tril=scale)

    @classmethod
    def univariate(
        cls, weights: jax.typing.ArrayLike, locs: jax.typing.ArrayLike, stds: jax.typing.ArrayLike
    ) -> GaussianMixture:
        r"""A 1-D mixture from weights, locations and standard deviations `stds`, each `[K]`.

        The third argument is the standard deviation $\sigma_k$, not the variance
        (which [`diagonal`][jaxdiv.mixture.GaussianMixture.diagonal] takes):
        `univariate(w, m, stds)` is `diagonal(w, m[:, None], stds[:, None] ** 2)`.

        Raises:
          ValueError: if the three are not each `[K]` of one `K`, or (with concrete
            values) a standard deviation is not > 0 or the weights are off the simplex.
        """
        fn = _fn("univariate")
        given = weights
        weights, locs, stds = val.float_params(fn, weights=weights, locs=locs, stds=stds)
        if not (weights.ndim == locs.ndim == stds.ndim == 1):
            raise ValueError(
                f"jaxdiv.{fn}: weights, locs and stds (standard deviations) must each have "
                f"shape [K], got {weights.shape}, {locs.shape} and {stds.shape}."
            )
        val.check_domain(jnp.all(stds > 0), f"jaxdiv.{fn}: stds (standard deviations) must be > 0.")
        _check_shapes(fn, weights, locs[:, None], stds[:, None, None])
        return cls(
            log_weights=_log_weights(fn, weights, given),
            means=locs[:, None],
            scale_tril=stds[:, None, None],
        )

    @classmethod
    def from_unconstrained(
        cls,
        weight_logits: jax.typing.ArrayLike,
        means: jax.typing.ArrayLike,
        raw_scale_tril: jax.typing.ArrayLike,
    ) -> GaussianMixture:
        r"""From unconstrained values, the parameterisation to hand to optax.

        `weights = softmax(weight_logits)` and ``L = tril(raw, -1) +
        diag(softplus(diag(raw)))``, so every real input is a valid mixture
        and gradients reach all three arrays.
        [`unconstrained`][jaxdiv.mixture.GaussianMixture.unconstrained] is the inverse.

        Args:
          weight_logits: `[K]` real values.
          means: `[K, d]`.
          raw_scale_tril: `[K, d, d]` real values; the upper triangle is ignored.
        """
        fn = _fn("from_unconstrained")
        logits, means, raw = val.float_params(
            fn, weight_logits=weight_logits, means=means, raw_scale_tril=raw_scale_tril
        )
        _check_shapes(fn, logits, means, raw)
        scale = _with_diag(raw, jax.nn.softplus(_linalg.diag(raw)))
        return cls(log_weights=jax.nn.log_softmax(logits), means=means, scale_tril=scale)

    def unconstrained(self) -> dict[str, jax.Array]:
        """The unconstrained values `{weight_logits, means, raw_scale_tril}` of this mixture.

        `GaussianMixture.from_unconstrained(**m.unconstrained())` rebuilds `m`
        (with each factor's diagonal made positive, which leaves the covariance
        unchanged); a zero weight becomes a `-inf` logit.
        """
        raw = _with_diag(self.scale_tril, inverse_softplus(jnp.abs(_linalg.diag(self.scale_tril))))
        return {"weight_logits": self.log_weights, "means": self.means, "raw_scale_tril": raw}

    # ----------------------------------------------------------------------- properties

    @property
    def num_components(self) -> int:
        """`K`, the number of components."""
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        """`d`, the dimension of the points."""
        return self.means.shape[1]

    @property
    def dtype(self) -> np.dtype:
        """The floating dtype of the parameters."""
        return self.means.dtype

    @property
    def weights(self) -> jax.Array:
        """`[K]` mixture weights."""
        return jnp.exp(self.log_weights)

    @property
    def covariances(self) -> jax.Array:
        """`[K, d, d]` component covariances `L_k L_k'`."""
        return self.scale_tril @ jnp.swapaxes(self.scale_tril, -1, -2)

    def components(self) -> expfam.MultivariateNormal:
        """The components as a batch `[K]` of
        [`jaxdiv.expfam.MultivariateNormal`][jaxdiv.expfam.MultivariateNormal]."""
        return expfam.MultivariateNormal.from_mean_scale_tril(self.means, self.scale_tril)

    def component_entropies(self) -> jax.Array:
        """`[K]` differential entropies `log det(2 pi e Sigma_k) / 2` in nats."""
        return _linalg.log_abs_diag(self.scale_tril) + 0.5 * self.dim * (1 + num.LOG_2PI)

    # ----------------------------------------------------------------------- densities

    def _points(self, x: jax.typing.ArrayLike, name: str) -> jax.Array:
        (x,) = val.float_params(_fn(name), x=x)
        if x.ndim < 1 or x.shape[-1] != self.dim:
            raise ValueError(
                f"jaxdiv.{_fn(name)}: x must have shape [..., d] with d = {self.dim}, "
                f"got shape {x.shape}."
            )
        return x.astype(jnp.result_type(x, self.means))

    def component_log_prob(self, x: jax.typing.ArrayLike) -> jax.Array:
        """`[..., K]` log-densities `log N(x; mu_k, Sigma_k)` of points `x` `[..., d]`."""
        x = self._points(x, "component_log_prob")
        means = jnp.reshape(self.means, (1,) * (x.ndim - 1) + self.means.shape)
        return gaussian_log_pdf(x[..., None, :] - means, self.scale_tril)

    def log_prob(self, x: jax.typing.ArrayLike) -> jax.Array:
        """`[...]` log-density `log sum_k w_k N(x; mu_k, Sigma_k)` of points `[..., d]`."""
        comp = self.component_log_prob(x)
        lw = jnp.reshape(self.log_weights, (1,) * (comp.ndim - 1) + self.log_weights.shape)
        return num.logsumexp(lw + comp, axis=-1)

    # ----------------------------------------------------------------------- sampling

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Draws `[*shape, d]` points.

        The component is drawn first, then a point from it by
        reparameterisation (`mu_k + L_k z`), so the samples are differentiable
        in the means and scales but not in the weights; for objectives whose
        weights need gradients use
        [`sample_components`][jaxdiv.mixture.GaussianMixture.sample_components].
        """
        fn = _fn("sample")
        shape, key = _sample_shape(shape, fn), check_key(key, fn)
        k_comp, k_norm = jax.random.split(key)
        idx = jax.random.categorical(k_comp, self.log_weights, shape=shape)
        z = jax.random.normal(k_norm, (*shape, self.dim), self.dtype)
        return self.means[idx] + jnp.einsum("...ij,...j->...i", self.scale_tril[idx], z)

    def sample_components(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Draws `[*shape, K, d]` points, one batch from each component, by reparameterisation.

        Expectations under the mixture are then `sum_k w_k E_k[f]`, which is
        differentiable in the weights as well as in the means and scales.
        """
        fn = _fn("sample_components")
        shape, key = _sample_shape(shape, fn), check_key(key, fn)
        z = jax.random.normal(key, (*shape, self.num_components, self.dim), self.dtype)
        means = jnp.reshape(self.means, (1,) * len(shape) + self.means.shape)
        return means + jnp.einsum("...ij,...j->...i", self.scale_tril, z)

    # ----------------------------------------------------------------------- moments

    def mean(self) -> jax.Array:
        """`[d]` mixture mean `sum_k w_k mu_k`."""
        return self.weights @ self.means

    def covariance(self) -> jax.Array:
        """`[d, d]` mixture covariance `sum_k w_k (Sigma_k + mu_k mu_k') - m m'`."""
        m = self.mean()
        second = self.covariances + self.means[:, :, None] * self.means[:, None, :]
        return jnp.einsum("k,kij->ij", self.weights, second) - m[:, None] * m[None, :]


jax.tree_util.register_dataclass(
    GaussianMixture, data_fields=["log_weights", "means", "scale_tril"], meta_fields=[]
)


#: What the divergences accept: a mixture, or a single Gaussian of `jaxdiv.expfam` (K = 1).
MixtureLike = (
    GaussianMixture | expfam.Normal | expfam.MultivariateNormalDiag | expfam.MultivariateNormal
)


def single_gaussian_mixture(p: object, *, fn: str) -> GaussianMixture:
    """A single Gaussian of `jaxdiv.expfam` as a mixture of K = 1 component.

    Accepts [`jaxdiv.expfam.Normal`][jaxdiv.expfam.Normal],
    [`MultivariateNormalDiag`][jaxdiv.expfam.MultivariateNormalDiag] and
    [`MultivariateNormal`][jaxdiv.expfam.MultivariateNormal] members with an empty batch shape;
    anything else is a TypeError that says what a mixture argument may be.
    """
    if isinstance(p, expfam.Normal | expfam.MultivariateNormalDiag | expfam.MultivariateNormal):
        if p.batch_shape != ():
            raise ValueError(
                f"jaxdiv.{fn}: a single Gaussian must have an empty batch shape, got "
                f"{p.batch_shape}; use a GaussianMixture for several components."
            )
        m1, m2 = p.mean_parameters()
        one = jnp.ones((1,), m1.dtype)
        if isinstance(p, expfam.MultivariateNormal):  # Sigma = G^-1 G^-T: L = G^-1
            g = p.precision_factor
            scale = _linalg.tril_inverse(g)
            return GaussianMixture(
                log_weights=jnp.zeros((1,), m1.dtype), means=m1[None], scale_tril=scale[None]
            )
        std = num.safe_sqrt(m2 - jnp.square(m1))
        if isinstance(p, expfam.Normal):
            return GaussianMixture.univariate(one, m1[None], std[None])
        return GaussianMixture.diagonal(one, m1[None], jnp.square(std)[None])
    raise TypeError(
        f"jaxdiv.{fn}: expected a GaussianMixture, a single Gaussian from jaxdiv.expfam "
        f"(Normal, MultivariateNormalDiag, MultivariateNormal), or a MixtureSameFamily of "
        f"Gaussians (or a single Gaussian) of distrax, TFP or NumPyro, got {type(p).__name__}."
    )
