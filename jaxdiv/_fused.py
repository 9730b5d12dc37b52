"""Fused KL, cross-entropy and Jensen-Shannon from logits, with custom derivative rules.

For rows of logits ``a`` (of p) and ``b`` (of q), with ``e_a = exp(a - max a)``,
``s_a = sum e_a`` and ``p = e_a / s_a``:

    KL(p || q) = sum_i p_i (a_i - b_i) - log s_a + log s_b + (max b - max a)
    H(p, q)    = log s_b + max b - sum_i p_i b_i

so each row needs two exponentials per entry and no per-entry logarithm (the
autodiff route through ``log_softmax`` takes three exponentials and a
logarithm, or more). The derivatives have closed forms in the same
quantities,

    dKL/db = q - p,   dKL/da = p (log p - log q - KL),
    dH/db  = q - p,   dH/da  = -p (log q + H),

and for the generalised JS divergence with mixture m = w p + (1 - w) q,

    dJS/da = w p (log p - log m - KL(p || m)),
    dJS/db = (1 - w) q (log q - log m - KL(q || m)),

which the custom JVP rules return without differentiating through the
softmaxes: reverse mode then stores two coefficient arrays and multiplies,
forward mode and higher orders still work (the rules are plain JAX code).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from jaxdiv import _numerics as num


def _parts(x: jax.Array, mask: jax.Array | None, axis: int, axis_name: str | None):
    return num.softmax_parts(x, axis=axis, mask=mask, axis_name=axis_name)


def _weighted_sum(e: jax.Array, log_y: jax.Array, axis: int, axis_name: str | None) -> jax.Array:
    """``sum(e * log_y)`` with ``0 * log_y = 0``.

    A single ``where`` suffices: these values are never differentiated by
    autodiff (the custom JVP rules below supply the derivatives).
    """
    terms = jnp.where(e > 0, e * log_y, 0.0)
    return num.psum(jnp.sum(terms, axis=axis, keepdims=True), axis_name)


def _kl_value(za, ea, sa, zb, sb, axis, axis_name):
    # sum_i p_i (log p_i - log q_i) with p = ea / sa: one fused reduction, no division per entry.
    weighted = _weighted_sum(ea, za - zb, axis, axis_name)
    return jnp.squeeze(weighted / sa - jnp.log(sa) + jnp.log(sb), axis)


def _ce_value(ea, sa, zb, sb, axis, axis_name):
    weighted = _weighted_sum(ea, zb, axis, axis_name)
    return jnp.squeeze(jnp.log(sb) - weighted / sa, axis)


def _contract(coefficients: jax.Array, tangent, axis: int, axis_name: str | None):
    """``sum(coefficients * tangent)`` over the (possibly sharded) axis; None for a zero tangent."""
    if isinstance(tangent, SymbolicZero):
        return None
    return num.psum(jnp.sum(coefficients * tangent, axis=axis), axis_name)


def _total(terms, like: jax.Array) -> jax.Array:
    terms = [t for t in terms if t is not None]
    return sum(terms[1:], terms[0]) if terms else jnp.zeros_like(like)


@partial(jax.custom_jvp, nondiff_argnums=(3, 4))
def kl_from_logits(
    a: jax.Array, b: jax.Array, mask: jax.Array | None, axis: int, axis_name: str | None
) -> jax.Array:
    """KL(softmax a || softmax b) along ``axis`` in nats; masked entries are left out."""
    za, ea, sa = _parts(a, mask, axis, axis_name)
    zb, _, sb = _parts(b, mask, axis, axis_name)
    return _kl_value(za, ea, sa, zb, sb, axis, axis_name)


@partial(kl_from_logits.defjvp, symbolic_zeros=True)
def _kl_jvp(axis, axis_name, primals, tangents):
    a, b, mask = primals
    da, db, _ = tangents
    za, ea, sa = _parts(a, mask, axis, axis_name)
    zb, eb, sb = _parts(b, mask, axis, axis_name)
    kl = _kl_value(za, ea, sa, zb, sb, axis, axis_name)
    p, q = ea / sa, eb / sb
    log_ratio = (za - jnp.log(sa)) - (zb - jnp.log(sb))
    coef_a = num.mul_log(p, log_ratio - jnp.expand_dims(kl, axis))
    return kl, _total(
        [_contract(coef_a, da, axis, axis_name), _contract(q - p, db, axis, axis_name)], kl
    )


@partial(jax.custom_jvp, nondiff_argnums=(3, 4))
def cross_entropy_from_logits(
    a: jax.Array, b: jax.Array, mask: jax.Array | None, axis: int, axis_name: str | None
) -> jax.Array:
    """H(softmax a, softmax b) along ``axis`` in nats; masked entries are left out."""
    _, ea, sa = _parts(a, mask, axis, axis_name)
    zb, _, sb = _parts(b, mask, axis, axis_name)
    return _ce_value(ea, sa, zb, sb, axis, axis_name)


@partial(cross_entropy_from_logits.defjvp, symbolic_zeros=True)
def _ce_jvp(axis, axis_name, primals, tangents):
    a, b, mask = primals
    da, db, _ = tangents
    _, ea, sa = _parts(a, mask, axis, axis_name)
    zb, eb, sb = _parts(b, mask, axis, axis_name)
    ce = _ce_value(ea, sa, zb, sb, axis, axis_name)
    p, q = ea / sa, eb / sb
    coef_a = -num.mul_log(p, (zb - jnp.log(sb)) + jnp.expand_dims(ce, axis))
    return ce, _total(
        [_contract(coef_a, da, axis, axis_name), _contract(q - p, db, axis, axis_name)], ce
    )


def _kl_to_mixture_terms(p: jax.Array, m: jax.Array) -> jax.Array:
    """``p log(p / m)`` per entry; 0 where ``p = 0`` or where ``m`` underflowed to 0.

    ``m`` vanishes with ``p`` except where ``w p`` underflows (``p`` near the
    smallest normal number, with ``q = 0``); the term there is below 1e-37.
    The ratio form is accurate where ``p`` is close to ``m``, and it keeps the
    per-row ``log s`` out of the per-entry work: XLA on CPU fused that
    broadcast logarithm into the entry loop and ran the pass twice as slowly.
    """
    return num.guard((p > 0) & (m > 0), lambda x, y: x * jnp.log(x / y), p, m)


def _js_terms(a, b, mask, weight, axis, axis_name):
    """``p``, ``q`` and the per-entry terms of KL(p || m) and KL(q || m).

    The mixture ``m = w p + (1 - w) q`` is formed in linear space (the
    log-space mixture costs an exponential and a logarithm per entry, for each
    of p and q).
    """
    _, ea, sa = _parts(a, mask, axis, axis_name)
    _, eb, sb = _parts(b, mask, axis, axis_name)
    p, q = ea / sa, eb / sb
    m = weight * p + (1 - weight) * q
    return p, q, _kl_to_mixture_terms(p, m), _kl_to_mixture_terms(q, m)


@partial(jax.custom_jvp, nondiff_argnums=(3, 4, 5))
def js_from_logits(
    a: jax.Array,
    b: jax.Array,
    mask: jax.Array | None,
    weight: float,
    axis: int,
    axis_name: str | None,
) -> jax.Array:
    """Generalised JS divergence of softmax a and softmax b, weight in (0, 1), in nats."""
    *_, t_p, t_q = _js_terms(a, b, mask, weight, axis, axis_name)
    return num.psum(jnp.sum(weight * t_p + (1 - weight) * t_q, axis=axis), axis_name)


@partial(js_from_logits.defjvp, symbolic_zeros=True)
def _js_jvp(weight, axis, axis_name, primals, tangents):
    """The closed-form derivatives of the module docstring, contracted with the tangents."""
    a, b, mask = primals
    da, db, _ = tangents
    p, q, t_p, t_q = _js_terms(a, b, mask, weight, axis, axis_name)
    kl_pm = num.psum(jnp.sum(t_p, axis=axis), axis_name)
    kl_qm = num.psum(jnp.sum(t_q, axis=axis), axis_name)
    js = weight * kl_pm + (1 - weight) * kl_qm
    coef_a = weight * (t_p - p * jnp.expand_dims(kl_pm, axis))
    coef_b = (1 - weight) * (t_q - q * jnp.expand_dims(kl_qm, axis))
    terms = [_contract(coef_a, da, axis, axis_name), _contract(coef_b, db, axis, axis_name)]
    return js, _total(terms, js)
