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

Elsewhere the value and gradients are those of the formula. The rule is a
custom JVP: the value is the formula's, evaluated once (a call without
derivatives compiles nothing more); the derivative evaluates the formula once
more, at `(p, p)` where the value is `+inf` (the double-where), so no NaN from
there reaches shared parameters. Only entries where some natural parameter is
infinite can take the limit rule.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxdiv.expfam._family import ExponentialFamily

Member = ExponentialFamily


def _expand(mask: jax.Array, leaf: jax.Array) -> jax.Array:
    return jnp.reshape(mask, mask.shape + (1,) * (leaf.ndim - mask.ndim))


def _where(mask: jax.Array, a: Member, b: Member) -> Member:
    """`a` where the batch-shaped `mask` holds, else `b` (same family and shapes)."""
    return jax.tree.map(lambda x, y: jnp.where(_expand(mask, x), x, y), a, b)


def _has_infinite_parameter(p: Member, q: Member) -> jax.Array:
    leaves = [*p.natural_parameters(), *q.natural_parameters()]
    return jnp.any(jnp.stack([jnp.any(jnp.isinf(x)) for x in leaves]))


def _event_sum(x: jax.Array, event_ndim: int) -> jax.Array:
    return jnp.sum(x, axis=tuple(range(x.ndim - event_ndim, x.ndim)))


def with_limit_gradients(
    fn: Callable[[Member, Member], jax.Array], p: Member, q: Member
) -> jax.Array:
    """`fn(p, q)` for a divergence that is `+inf` where `q` misses mass of `p`, with the
    gradients of the module docstring there (`p`, `q` of one family, one batch shape)."""

    @jax.custom_jvp
    def divergence(p: Member, q: Member) -> jax.Array:
        return fn(p, q)

    @divergence.defjvp
    def divergence_jvp(
        primals: tuple[Member, Member], tangents: tuple[Member, Member]
    ) -> tuple[jax.Array, jax.Array]:
        p, q = primals
        value = fn(p, q)
        infinite = (value == jnp.inf) & _has_infinite_parameter(p, q)
        # (p, p) where infinite: a finite value, so no NaN; its derivative there, 0 up to
        # rounding, is replaced by the limit rule's.
        _, d_value = jax.jvp(lambda p, q: fn(p, _where(infinite, p, q)), primals, tangents)
        d_value = jnp.where(infinite, jnp.zeros_like(d_value), d_value)
        _, d_theta_q = jax.jvp(lambda q: tuple(q.natural_parameters()), (q,), (tangents[1],))
        direction = jax.lax.stop_gradient(
            [
                jnp.where(_expand(infinite, mq), mq - mp, jnp.zeros_like(mq))
                for mq, mp in zip(q.mean_parameters(), p.mean_parameters(), strict=True)
            ]
        )
        pull = [
            _event_sum(c * t, nd)
            for c, t, nd in zip(direction, d_theta_q, q.natural_event_ndims, strict=True)
        ]
        return value, d_value + sum(pull, jnp.zeros_like(d_value))

    return divergence(p, q)
