r"""Gradients of a KL-type divergence between two members where its value is `+inf`.

`KL(p || q)` and the cross-entropy are `+inf` where `q` gives probability 0 to
an outcome that `p` can take (a Bernoulli with `p = 1` as `q` against one with
`p = 1/2`). Autodiff through the closed forms then meets `0 * inf` (a variance
of 0 times an infinite natural parameter) and returns NaN. The discrete API's
rule, made exact here in the natural parameters (the logits of the discrete
logits form):

* in `q`, the gradient is its finite limit $\mu_q - \mu_p$ (the mean parameters),
  as the gradient of $\mathrm{KL}(\operatorname{softmax} a \,\Vert\,
  \operatorname{softmax} b)$ in `b` is $\operatorname{softmax}(b) -
  \operatorname{softmax}(a)$: it moves `q` towards the mass it misses;
* in `p`, it is 0: the divergence is `+inf` on a whole neighbourhood of `p`
  (a small change of $\theta_p$ keeps mass where `q` has none), so no direction
  of `p` changes it.

Elsewhere the value and gradients are those of the formula. The formula is
evaluated at `(p, p)` where the value is `+inf` (the double-where), so no NaN
from there reaches shared parameters, and only when some natural parameter is
infinite (`lax.cond`; under `vmap` both branches run).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp

from jaxdiv.expfam._family import ExponentialFamily

Member = ExponentialFamily


def _expand(mask: jax.Array, leaf: jax.Array) -> jax.Array:
    return jnp.reshape(mask, mask.shape + (1,) * (leaf.ndim - mask.ndim))


def _where(mask: jax.Array, a: Member, b: Member) -> Member:
    """`a` where the batch-shaped `mask` holds, else `b` (same family and shapes)."""
    return jax.tree.map(lambda x, y: jnp.where(_expand(mask, x), x, y), a, b)


@partial(jax.custom_jvp, nondiff_argnums=(0,))
def _directional(
    event_ndims: tuple[int, ...], theta: tuple[jax.Array, ...], direction: tuple[jax.Array, ...]
) -> jax.Array:
    """0 (batch-shaped), whose derivative in `theta` is `direction`: `<direction, d theta>`.

    `theta` may be infinite; only its tangent is multiplied by `direction`.
    """
    first, nd = theta[0], event_ndims[0]
    return jnp.zeros(first.shape[: first.ndim - nd], first.dtype)


@_directional.defjvp
def _directional_jvp(
    event_ndims: tuple[int, ...],
    primals: tuple[tuple[jax.Array, ...], tuple[jax.Array, ...]],
    tangents: tuple[tuple[jax.Array, ...], tuple[jax.Array, ...]],
) -> tuple[jax.Array, jax.Array]:
    theta, direction = primals
    d_theta, _ = tangents  # the direction carries no derivative (it is stop_gradient'ed)
    out = _directional(event_ndims, theta, direction)
    terms = [
        jnp.sum(c * t, axis=tuple(range(t.ndim - nd, t.ndim)))
        for c, t, nd in zip(direction, d_theta, event_ndims, strict=True)
    ]
    return out, sum(terms, jnp.zeros_like(out))


def _has_infinite_parameter(p: Member, q: Member) -> jax.Array:
    leaves = [*p.natural_parameters(), *q.natural_parameters()]
    return jnp.any(jnp.stack([jnp.any(jnp.isinf(x)) for x in leaves]))


def with_limit_gradients(
    fn: Callable[[Member, Member], jax.Array], p: Member, q: Member
) -> jax.Array:
    """`fn(p, q)` for a divergence that is `+inf` where `q` misses mass of `p`, with the
    gradients of the module docstring there (`p`, `q` of one family, one batch shape)."""

    def plain(p: Member, q: Member) -> jax.Array:
        return fn(p, q)

    def at_boundary(p: Member, q: Member) -> jax.Array:
        infinite = jax.lax.stop_gradient(fn(p, q)) == jnp.inf
        finite_part = fn(p, _where(infinite, p, q))  # (p, p) where infinite: 0, finite gradients
        theta_q = q.natural_parameters()
        direction = jax.tree.map(
            lambda mq, mp: jnp.where(_expand(infinite, mq), mq - mp, jnp.zeros_like(mq)),
            q.mean_parameters(),
            p.mean_parameters(),
        )
        direction = jax.lax.stop_gradient(tuple(direction))
        pull = _directional(tuple(q.natural_event_ndims), tuple(theta_q), direction)
        return jnp.where(infinite, jnp.inf, finite_part) + pull

    return jax.lax.cond(_has_infinite_parameter(p, q), at_boundary, plain, p, q)
