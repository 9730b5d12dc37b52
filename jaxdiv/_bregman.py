"""Bregman divergences of any convex generator over pytrees, with the standard generators."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxdiv import _numerics as num


def _squared_euclidean(x):
    return jnp.sum(jnp.square(x), axis=-1)


def _negative_entropy(x):
    return jnp.sum(num.mul_log(x, num.safe_log(x)) - x, axis=-1)


def _burg_entropy(x):
    return -jnp.sum(jnp.log(x), axis=-1)


GENERATORS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "squared_euclidean": _squared_euclidean,
    "negative_entropy": _negative_entropy,
    "burg_entropy": _burg_entropy,
}


def bregman_divergence(
    generator: str | Callable,
    x,
    y,
    *,
    matrix: jax.typing.ArrayLike | None = None,
) -> jax.Array:
    r"""Bregman divergence of a convex function ``F``, for arrays or any pytrees.

    .. math::
        D_F(x, y) = F(x) - F(y) - \langle \nabla F(y), x - y \rangle

    computed with one ``jax.jvp`` (``F(y)`` and the directional derivative in
    one pass). ``F`` may return a batch of values, as long as each depends only
    on its own batch entry (as when it reduces over the last axis).

    Named generators (each reducing over the last axis):

    * ``"squared_euclidean"``: F(x) = sum x^2, D = ||x - y||^2;
    * ``"mahalanobis"`` (with ``matrix=M``, SPD): F(x) = x' M x, D = (x - y)' M (x - y);
    * ``"negative_entropy"``: F(x) = sum x log x - x, D = sum x log(x / y) - x + y
      (the generalised KL divergence);
    * ``"burg_entropy"``: F(x) = -sum log x, D = sum x / y - log(x / y) - 1
      (the Itakura-Saito divergence).

    Args:
      generator: a name from the table, or a convex, differentiable function
        of a pytree shaped like ``x``.
      x: the first point (array or pytree).
      y: the second point, the one the tangent is taken at.
      matrix: the matrix ``M`` of the Mahalanobis generator.

    Returns:
      ``D_F(x, y) >= 0``.

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
    if isinstance(generator, str):
        if generator == "mahalanobis":
            if matrix is None:
                raise ValueError("jaxdiv.bregman_divergence: 'mahalanobis' needs matrix=M.")
            m = jnp.asarray(matrix)

            def generator(v, m=m):
                return jnp.einsum("...i,ij,...j->...", v, m, v)

        elif generator in GENERATORS:
            generator = GENERATORS[generator]
        else:
            names = ", ".join(sorted([*GENERATORS, "mahalanobis"]))
            raise ValueError(
                f"jaxdiv.bregman_divergence: unknown generator {generator!r}; expected one of "
                f"{names}, or a callable."
            )
    elif not callable(generator):
        raise TypeError(
            f"jaxdiv.bregman_divergence: generator must be a name or a callable, got {generator!r}."
        )
    diff = jax.tree.map(jnp.subtract, x, y)
    f_y, slope = jax.jvp(generator, (y,), (diff,))
    return generator(x) - f_y - slope
