"""Bregman divergences of any convex generator over pytrees, with the standard generators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeAlias

import jax
import jax.numpy as jnp

from jaxdiv import _core as core
from jaxdiv import _numerics as num
from jaxdiv import _validation as val


def _squared_euclidean(x: jax.Array) -> jax.Array:
    return jnp.sum(jnp.square(x), axis=-1)


def _negative_entropy(x: jax.Array) -> jax.Array:
    return jnp.sum(num.mul_log(x, num.safe_log(x)) - x, axis=-1)


def _burg_entropy(x: jax.Array) -> jax.Array:
    return -jnp.sum(jnp.log(x), axis=-1)


#: The named generators `F` themselves (their divergences are computed from
#: `CLOSED_FORMS`, which agree with the generic JVP route inside the domain).
GENERATORS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "squared_euclidean": _squared_euclidean,
    "negative_entropy": _negative_entropy,
    "burg_entropy": _burg_entropy,
}


def _outside(domain: jax.Array, value: jax.Array) -> jax.Array:
    """`value`, NaN for the rows (last axis) with an entry outside the generator's domain."""
    return jnp.where(jnp.all(domain, axis=-1), value, jnp.nan)


def _generalised_kl(x: jax.Array, y: jax.Array) -> jax.Array:
    # sum x log(x / y) - x + y: +inf where y = 0 < x, and y where x = 0.
    log_r = num.log_ratio(x, y, num.safe_log(x), num.safe_log(y))
    return _outside((x >= 0) & (y >= 0), jnp.sum(num.mul_log(x, log_r) - x + y, axis=-1))


def _itakura_saito(x: jax.Array, y: jax.Array) -> jax.Array:
    # sum x / y - log(x / y) - 1 = sum d - log1p(d) with d = (x - y) / y: no 1 - 1 cancellation.
    inside = (x > 0) & (y > 0)
    d = num.guard(inside, lambda a, b: (a - b) / b, x, y)
    terms = jnp.where(inside, d - jnp.log1p(d), jnp.inf)
    return _outside((x >= 0) & (y >= 0), jnp.sum(terms, axis=-1))


#: The named generators' divergences in closed form: exact at the boundary of
#: the domain (the tangent of `F` at `y = 0` is infinite, which a JVP
#: through gradient-safe logarithms cannot express) and free of cancellation.
CLOSED_FORMS: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "squared_euclidean": lambda x, y: jnp.sum(jnp.square(x - y), axis=-1),
    "negative_entropy": _generalised_kl,
    "burg_entropy": _itakura_saito,
}


GeneratorName = Literal["squared_euclidean", "negative_entropy", "burg_entropy", "mahalanobis"]
PyTree: TypeAlias = Any  # an array, or any pytree of arrays


def bregman_divergence(
    generator: GeneratorName | Callable[[PyTree], jax.Array],
    x: PyTree,
    y: PyTree,
    *,
    matrix: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    r"""Bregman divergence of a convex function `F`, for arrays or any pytrees.

    $$
    D_F(x, y) = F(x) - F(y) - \langle \nabla F(y), x - y \rangle
    $$

    For a callable `F` it is computed with one `jax.jvp` (`F(y)` and the
    directional derivative in one pass); `F` may return a batch of values, as
    long as each depends only on its own batch entry (as when it reduces over
    the last axis). The named generators use their divergences' closed forms,
    which are exact at the boundary of the domain (`+inf` for the generalised
    KL where `y = 0 < x`, as `scipy.special.kl_div`) and accurate where
    `x` is close to `y`; a row with an entry outside the domain (a negative
    entry) gives NaN. 16-bit inputs are computed in float32.

    Named generators (each reducing over the last axis):

    * `"squared_euclidean"`: F(x) = sum x^2, D = ||x - y||^2;
    * `"mahalanobis"` (with `matrix=M`, SPD): F(x) = x' M x, D = (x - y)' M (x - y);
    * `"negative_entropy"`: F(x) = sum x log x - x, D = sum x log(x / y) - x + y
      (the generalised KL divergence);
    * `"burg_entropy"`: F(x) = -sum log x, D = sum x / y - log(x / y) - 1
      (the Itakura-Saito divergence).

    Args:
      generator: a name from the table, or a convex, differentiable function
        of a pytree shaped like `x`.
      x: the first point (array or pytree).
      y: the second point, the one the tangent is taken at.
      matrix: the matrix `M` of the Mahalanobis generator.

    Returns:
      `D_F(x, y) >= 0`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> float(jaxdiv.bregman_divergence("squared_euclidean", jnp.array([1.0, 2.0]),
      ...                                 jnp.array([0.0, 0.0])))
      5.0

    References:
      L. M. Bregman, 1967; A. Banerjee et al., Clustering with Bregman
      divergences, JMLR 2005.
    """
    fn = "bregman_divergence"
    if isinstance(generator, str):
        if generator != "mahalanobis" and generator not in CLOSED_FORMS:
            names = ", ".join(sorted([*CLOSED_FORMS, "mahalanobis"]))
            raise ValueError(
                f"jaxdiv.{fn}: unknown generator {generator!r}; expected one of "
                f"{names}, or a callable."
            )
        (x, y), _, _, _ = core.prepare(fn, [("x", x), ("y", y)], axis=None, where=None)
        if x.ndim == 0:
            raise ValueError(
                f"jaxdiv.{fn}: x and y must have a last axis to sum over, got scalars."
            )
        if generator != "mahalanobis":
            return CLOSED_FORMS[generator](x, y)
        if matrix is None:
            raise ValueError(f"jaxdiv.{fn}: 'mahalanobis' needs matrix=M.")
        m = val.as_float("matrix", matrix, fn=fn).astype(x.dtype)
        if m.shape != (x.shape[-1],) * 2:
            raise ValueError(
                f"jaxdiv.{fn}: matrix has shape {m.shape}; for points of size {x.shape[-1]} it "
                f"must be {(x.shape[-1],) * 2}."
            )
        d = x - y
        return jnp.einsum("...i,ij,...j->...", d, m, d)
    if not callable(generator):
        raise TypeError(f"jaxdiv.{fn}: generator must be a name or a callable, got {generator!r}.")
    diff = jax.tree.map(jnp.subtract, x, y)
    f_y, slope = jax.jvp(generator, (y,), (diff,))
    return generator(x) - f_y - slope
