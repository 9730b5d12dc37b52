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
custom JVP that evaluates the formula once, with or without derivatives: its
derivative is the formula's linearization (`jax.linearize`) applied to the
tangents with the `+inf` entries zeroed, and its output zeroed there too, so
that the map's `0 * inf` at those entries reaches neither the value's tangent
nor, in reverse mode, the cotangents of the parameters. (It used to evaluate
the formula a second time at `(p, p)` for those entries, which doubled the
compiled program.) Only entries where some natural parameter is infinite can
take the limit rule.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxdiv.expfam._family import ExponentialFamily

Member = ExponentialFamily


def _expand(mask: jax.Array, leaf: jax.Array) -> jax.Array:
    return jnp.reshape(mask, mask.shape + (1,) * (leaf.ndim - mask.ndim))


def _zero_where(mask: jax.Array, tangent: Member) -> Member:
    """`tangent` with the entries where the batch-shaped `mask` holds set to 0."""

    def zero(t: jax.Array) -> jax.Array:
        if not jnp.issubdtype(t.dtype, jnp.inexact):  # float0: a static or integer field
            return t
        return jnp.where(_expand(mask, t), jnp.zeros_like(t), t)

    return jax.tree.map(zero, tangent)


def _has_infinite_parameter(p: Member, q: Member) -> jax.Array:
    leaves = [*p.natural_parameters(), *q.natural_parameters()]
    return jnp.any(jnp.stack([jnp.any(jnp.isinf(x)) for x in leaves]))


def _event_sum(x: jax.Array, event_ndim: int) -> jax.Array:
    return jnp.sum(x, axis=tuple(range(x.ndim - event_ndim, x.ndim)))


def with_limit_gradients(
    fn: Callable[[Member, Member], jax.Array], p: Member, q: Member
) -> jax.Array:
    """`fn(p, q)` for a divergence that is `+inf` where `q` misses mass of `p`, with the
    gradients of the module docstring there (`p`, `q` of one family, one batch shape).
    A family without boundary members (`boundary_members = False`) has no entry where the
    rule applies: the formula is returned as it is, with its own derivatives."""
    if not type(p).boundary_members:
        return fn(p, q)

    @jax.custom_jvp
    def divergence(p: Member, q: Member) -> jax.Array:
        return fn(p, q)

    @divergence.defjvp
    def divergence_jvp(
        primals: tuple[Member, Member], tangents: tuple[Member, Member]
    ) -> tuple[jax.Array, jax.Array]:
        p, q = primals
        value, linear = jax.linearize(fn, p, q)
        infinite = (value == jnp.inf) & _has_infinite_parameter(p, q)
        # The formula's derivative where the value is finite. Where it is +inf, both the
        # tangents going in and the one coming out are zeroed: the linear map's 0 * inf
        # there is NaN, and zeroing the input tangents keeps it from the cotangents of
        # reverse mode (each entry's map reads only its own parameters).
        d_value = linear(*(_zero_where(infinite, t) for t in tangents))
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
