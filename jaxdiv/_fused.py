"""Fused KL, cross-entropy and Jensen-Shannon from logits, with custom derivative rules.

For rows of logits `a` (of p) and `b` (of q), with `e_a = exp(a - max a)`,
`s_a = sum e_a` and `p = e_a / s_a`:

    KL(p || q) = sum_i p_i (a_i - b_i) - log s_a + log s_b + (max b - max a)
    H(p, q)    = log s_b + max b - sum_i p_i b_i

so each row needs two exponentials per entry and no per-entry logarithm (the
autodiff route through `log_softmax` takes three exponentials and a
logarithm, or more). The derivatives have closed forms in the same
quantities,

    dKL/db = q - p,   dKL/da = p (log p - log q - KL),
    dH/db  = q - p,   dH/da  = -p (log q + H),

and for the generalised JS divergence with mixture m = w p + (1 - w) q,

    dJS/da = w p (log p - log m - KL(p || m)),
    dJS/db = (1 - w) q (log q - log m - KL(q || m)),

which the custom JVP rules return without differentiating through the
softmaxes.

What reverse mode keeps. The tangent map (the contraction of these
coefficients with the input tangents) runs under `jax.checkpoint` with
nothing saveable, so the only residuals of a gradient are the logits
themselves and a few numbers per row: each row's maximum and log-sum (the
log-normaliser, in two parts so that log-probabilities of logits of magnitude
1e4 are rebuilt to full precision) and the row's divergence. The backward pass
rebuilds `log p` and `log q` from them (two exponentials per entry) and
never stores a `[rows, vocab]` softmax or coefficient array: the gradient of
a loss over logits the caller already holds needs no temporary of that size at
all. Because the rules are custom JVPs, forward mode, `jax.hessian` and
higher orders still work (the rules are plain JAX code).

On the CPU the forward values of large vocabularies are computed over blocks
of rows that fit in the cores' caches (`jaxdiv._row_blocks`), after the
row maxima are taken on the whole arrays; GPUs and TPUs, whose compilers fuse
the row reductions, get one pass (`jax.lax.platform_dependent` picks at
lowering time). Where the row blocks are not used, the value alone (not under
differentiation, unmasked, unsharded) comes from formulas with no select at
all (`_plain_parts`, `_bare_or_exact`), which compile faster.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from jaxdiv import _numerics as num
from jaxdiv import _row_blocks as row_blocks


class _Row(NamedTuple):
    """The log-normaliser of a row of logits, `shift + log_s`, kept in two parts."""

    shift: jax.Array
    log_s: jax.Array


class _Forward(NamedTuple):
    """What a forward function returns: the divergence per row, the two rows' log-normalisers
    and the other per-row values its derivatives need."""

    value: jax.Array
    rows: tuple[_Row, _Row]
    saved: Any


class _Operands(NamedTuple):
    a: jax.Array
    b: jax.Array
    mask: jax.Array | None


def _parts(x: jax.Array, mask: jax.Array | None, shift: jax.Array, axis: int, axis_name):
    """The softmax parts of `x` and its row (what reverse mode saves of it)."""
    parts = num.softmax_parts(x, axis=axis, mask=mask, axis_name=axis_name, shift=shift)
    return parts, _Row(parts.shift, jnp.log(parts.s))


def _log_probs(x: jax.Array, mask: jax.Array | None, row: _Row) -> jax.Array:
    """`log_softmax(x)` rebuilt from `x` and its row, `-inf` where masked."""
    return num.shifted(x, mask=mask, shift=row.shift) - row.log_s


def _row_sum(x: jax.Array, axis: int, axis_name: str | None) -> jax.Array:
    return num.psum(jnp.sum(x, axis=axis), axis_name)


def _weighted_sum(e: jax.Array, log_y: jax.Array, axis: int, axis_name: str | None) -> jax.Array:
    """`sum(e * log_y)` with `0 * log_y = 0`, keeping the reduced axis.

    First derivatives come from the custom rules, but second ones
    differentiate this value inside them, so the product is guarded
    (`jaxdiv._numerics.mul_log`): reverse over reverse stays finite
    where `e = 0` and `log_y = -inf`.
    """
    terms = num.mul_log(e, log_y)
    return num.psum(jnp.sum(terms, axis=axis, keepdims=True), axis_name)


def _tangent(
    operands: _Operands,
    forward: _Forward,
    tangents: tuple[jax.Array | None, jax.Array | None],
    *,
    coefficients: Callable,
    axis: int,
    axis_name: str | None,
) -> jax.Array:
    """`sum(coef_a * da) + sum(coef_b * db)` over the (possibly sharded) axis.

    Called under `jax.checkpoint` (see `_divergence`): the
    coefficients are recomputed from the logits and the per-row values in the
    backward pass instead of being stored.
    """
    a, b, mask = operands
    log_p, log_q = _log_probs(a, mask, forward.rows[0]), _log_probs(b, mask, forward.rows[1])
    coef_a, coef_b = coefficients(log_p, log_q, jnp.exp(log_p), jnp.exp(log_q), forward.saved)
    pairs = ((coef_a, tangents[0]), (coef_b, tangents[1]))
    terms = [_row_sum(c * t, axis, axis_name) for c, t in pairs if t is not None]
    return sum(terms[1:], terms[0])


def plain_values_apply(shape: tuple[int, ...], itemsize: int, axis: int) -> bool:
    """Whether values of operands of `shape` (unmasked, unsharded, not under
    differentiation) come from the select-free formulas in one pass: wherever the CPU row
    blocks of the guarded pass would not be used."""
    return row_blocks.block_rows(shape, itemsize, axis) is None


def _far(dtype) -> float:
    """How far below its row's maximum a logit counts as `-inf` in the select-free formulas."""
    return 1e30 if jnp.finfo(dtype).bits <= 32 else 1e300


def _plain_parts(x: jax.Array, axis: int):
    """Shifted logits clamped at `-far`, their exponentials, the row sums (dims kept) and
    a mark of the entries at `-inf` (or `far` below the row's maximum): 1 there, else 0.

    Only arithmetic, no select: XLA's CPU compiler fuses a row reduction with
    everything elementwise before it into one loop over the input only where
    the loop holds no select, and each boundary guard of the guarded pass is a
    select. Clamping keeps every product finite (`0 * inf` never happens);
    a row with mass has a sum of at least 1 (its maximum contributes
    `exp(0)`), so a sum floored at 1 gives a row without mass (all `-inf`)
    the sum 1 of `jaxdiv._numerics.softmax_parts`; NaN stays NaN.
    """
    far = _far(x.dtype)
    lowest = jnp.finfo(x.dtype).min  # keeps -inf - (-inf) out of an all -inf row
    top = jnp.maximum(jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True)), lowest)
    z = jnp.maximum(x - top, -far)
    e = jnp.exp(z)
    s = jnp.maximum(jnp.sum(e, axis=axis, keepdims=True), 1.0)
    # 1 at -far and 0 above (z + far is 0 there, else at least an ulp of far); no minimum,
    # which would split the fusion.
    missing = jnp.maximum(1.0 - (z + far), 0.0)
    return z, e, s, missing


def _infinite_if_positive(mass: jax.Array) -> jax.Array:
    """+inf where `mass > 0`, 0 where it is 0 (a sum of products of non-negative numbers)."""
    return jnp.exp(jnp.log(mass) + 1e4)


@jax.custom_batching.custom_vmap
def _any_nan(x: jax.Array) -> jax.Array:
    """Whether `x` holds a NaN; under `vmap`, over the whole batch (an unbatched answer)."""
    return _has_nan(x)


def _has_nan(x: jax.Array) -> jax.Array:
    """Whether `x`, which holds no `-inf`, holds a NaN: whether its sum is NaN.

    Not a boolean `any`, which XLA's CPU compiler turns into a chain of
    reduce-windows that costs more compile time than the whole divergence; not
    a maximum, whose cross-device reduction (rows sharded by `jit`) drops
    NaN. The barrier keeps XLA from merging the sum with the row sums that
    produced `x` into one reduction over every entry, which would write the
    entries to memory first.
    """
    return jnp.isnan(jnp.sum(jax.lax.optimization_barrier(x)))


@_any_nan.def_vmap
def _any_nan_over_batch(axis_size, in_batched, x):
    del axis_size, in_batched
    return _has_nan(x), False


def _bare_parts(x: jax.Array, axis: int):
    z = x - jax.lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    e = jnp.exp(z)
    return z, e, jnp.sum(e, axis=axis, keepdims=True)


def _bare_or_exact(bare: jax.Array, exact: Callable[[], jax.Array]) -> jax.Array:
    """`bare` (the formula with no clamp), unless it holds a NaN; else `exact()`.

    The bare formulas are the cheapest (as cheap as optax's). Fed a `-inf`
    logit where the other side's is `-inf` or its exponential underflows, an
    all `-inf` row or a NaN, they give NaN (`0 * inf`) rather than a wrong
    number, and their `+inf` (q = 0 < p) is exact; so a NaN anywhere in the
    batch sends the whole batch, once, through the clamped select-free
    formulas. The check covers the whole batch even under `vmap`, so that the
    `cond` stays a branch rather than becoming a select that runs both.
    """
    return jax.lax.cond(_any_nan(bare), exact, lambda: bare)


#: The largest vocabularies for which the value alone uses `_bare_kl` and
#: `_bare_ce` (two exponentials per entry); above them, the log-softmax forms
#: (`_log_softmax_kl`, `_log_softmax_ce`), which XLA's CPU compiler runs faster
#: there although they take more exponentials. Measured with `benchmarks.sweep` (KL:
#: bare faster at 16 classes, slower at 40; cross-entropy: faster at 100, slower at 256).
MAX_BARE_VOCAB_KL = 32
MAX_BARE_VOCAB_CE = 128


def _bare_kl(a, b, axis):
    za, ea, sa = _bare_parts(a, axis)
    zb, _, sb = _bare_parts(b, axis)
    kl = jnp.sum(ea * (za - zb), axis=axis, keepdims=True) / sa - jnp.log(sa) + jnp.log(sb)
    return jnp.squeeze(kl, axis)


def _bare_ce(a, b, axis):
    _, ea, sa = _bare_parts(a, axis)
    zb, _, sb = _bare_parts(b, axis)
    return jnp.squeeze(jnp.log(sb) - jnp.sum(ea * zb, axis=axis, keepdims=True) / sa, axis)


def _bare_log_softmax(x, axis):
    z, _, s = _bare_parts(x, axis)
    return z - jnp.log(s)


def _log_softmax_kl(a, b, axis):
    log_p, log_q = _bare_log_softmax(a, axis), _bare_log_softmax(b, axis)
    return jnp.sum(jnp.exp(log_p) * (log_p - log_q), axis=axis)


def _log_softmax_ce(a, b, axis):
    _, ea, sa = _bare_parts(a, axis)
    return -jnp.sum(ea / sa * _bare_log_softmax(b, axis), axis=axis)


def _exact_kl(a, b, axis):
    """KL without selects: +inf exactly where p has mass on an entry where q has none."""
    za, ea, sa, _ = _plain_parts(a, axis)
    zb, _, sb, missing_b = _plain_parts(b, axis)
    weighted = jnp.sum(ea * (za - zb), axis=axis, keepdims=True)
    lost = jnp.sum(ea * missing_b, axis=axis, keepdims=True)
    kl = weighted / sa - jnp.log(sa) + jnp.log(sb) + _infinite_if_positive(lost)
    return jnp.squeeze(kl, axis)


def _exact_ce(a, b, axis):
    """Cross-entropy without selects, +inf exactly where KL is."""
    _, ea, sa, _ = _plain_parts(a, axis)
    zb, _, sb, missing_b = _plain_parts(b, axis)
    weighted = jnp.sum(ea * zb, axis=axis, keepdims=True)
    lost = jnp.sum(ea * missing_b, axis=axis, keepdims=True)
    ce = jnp.log(sb) - weighted / sa + _infinite_if_positive(lost)
    return jnp.squeeze(ce, axis)


def _plain_kl(a, b, *, weight, axis):
    del weight
    bare = _bare_kl if a.shape[axis] <= MAX_BARE_VOCAB_KL else _log_softmax_kl
    return _bare_or_exact(bare(a, b, axis), lambda: _exact_kl(a, b, axis))


def _plain_ce(a, b, *, weight, axis):
    del weight
    bare = _bare_ce if a.shape[axis] <= MAX_BARE_VOCAB_CE else _log_softmax_ce
    return _bare_or_exact(bare(a, b, axis), lambda: _exact_ce(a, b, axis))


def _plain_js(a, b, *, weight, axis):
    """Jensen-Shannon without selects (always finite)."""
    _, ea, sa, _ = _plain_parts(a, axis)
    _, eb, sb, _ = _plain_parts(b, axis)
    p, q = ea / sa, eb / sb
    # p log(p / m), with 0 log 0 = 0 by arithmetic alone: m + tiny keeps 0 / 0 out, and the
    # ratio floored at tiny keeps log finite (where p > 0 neither changes the term by more
    # than its last digits unless p itself is within a factor 1e8 of tiny).
    tiny = jnp.finfo(p.dtype).tiny
    m = weight * p + (1 - weight) * q + tiny

    def term(x):
        return x * jnp.log(jnp.maximum(x / m, tiny))

    return jnp.sum(weight * term(p) + (1 - weight) * term(q), axis=axis)


def _divergence(forward: Callable, coefficients: Callable, plain: Callable, doc: str) -> Callable:
    """A fused divergence `f(a, b, *, mask, weight, axis, axis_name)` with a custom JVP.

    `forward(a, b, mask, shifts, *, weight, axis, axis_name)`, given the row
    maxima of `a` and `b` (`jaxdiv._numerics.row_shift`), returns a
    `_Forward`; `coefficients(log_p, log_q, p, q, saved, *, weight, axis)`
    returns the derivatives with respect to `a` and `b` entry by entry.

    `plain(a, b, *, weight, axis)` is the same value with no select inside
    the row reductions (see `_plain_parts`), used for the value alone
    where `plain_values_apply` says so and nothing is masked or sharded.
    """

    def evaluate(a, b, mask, weight, axis, axis_name) -> _Forward:
        shifts = tuple(num.row_shift(x, axis=axis, mask=mask, axis_name=axis_name) for x in (a, b))

        def one_pass(arrays, axis):
            return forward(*arrays, weight=weight, axis=axis, axis_name=axis_name)

        arrays = (a, b, mask, shifts)
        same = b.shape == a.shape and (mask is None or mask.shape == a.shape)
        block = row_blocks.block_rows(a.shape, a.dtype.itemsize, axis) if same else None
        # Sharded (over the vocabulary with axis_name, or over devices by jit): one pass.
        if axis_name is not None or block is None or not row_blocks.local(arrays):
            return one_pass(arrays, axis)
        # GPUs and TPUs fuse the row reductions; the blocks are for the CPU only.
        return jax.lax.platform_dependent(
            arrays,
            cpu=lambda arrays: row_blocks.by_row_blocks(one_pass, arrays, block),
            default=lambda arrays: one_pass(arrays, axis),
        )

    @partial(jax.custom_jvp, nondiff_argnums=(3, 4, 5))
    def divergence(a, b, mask, weight, axis, axis_name):
        if (
            mask is None
            and axis_name is None
            and plain_values_apply(a.shape, a.dtype.itemsize, axis)
        ):
            return plain(a, b, weight=weight, axis=axis)
        return evaluate(a, b, mask, weight, axis, axis_name).value

    @partial(divergence.defjvp, symbolic_zeros=True)
    def _jvp(weight, axis, axis_name, primals, tangents):
        a, b, mask = primals
        result = evaluate(a, b, mask, weight, axis, axis_name)
        da, db = (None if isinstance(t, SymbolicZero) else t for t in tangents[:2])
        if da is None and db is None:
            return result.value, jnp.zeros_like(result.value)
        tangent = jax.checkpoint(
            partial(
                _tangent,
                coefficients=partial(coefficients, weight=weight, axis=axis),
                axis=axis,
                axis_name=axis_name,
            ),
            policy=jax.checkpoint_policies.nothing_saveable,
        )
        return result.value, tangent(_Operands(a, b, mask), result, (da, db))

    def fused(a, b, *, mask, weight, axis, axis_name):
        return divergence(a, b, mask, weight, axis, axis_name)

    fused.__doc__ = doc
    return fused


def _kl_forward(a, b, mask, shifts, *, weight, axis, axis_name):
    # sum_i p_i (log p_i - log q_i) with p = e_a / s_a: one fused reduction, no division per entry.
    pa, row_a = _parts(a, mask, shifts[0], axis, axis_name)
    pb, row_b = _parts(b, mask, shifts[1], axis, axis_name)
    weighted = _weighted_sum(pa.e, pa.z - pb.z, axis, axis_name)
    kl = jnp.squeeze(weighted / pa.s - row_a.log_s + row_b.log_s, axis)
    return _Forward(kl, (row_a, row_b), kl)


def _infinite_limit(x: jax.Array, limit: float) -> jax.Array:
    """`x` with `inf - inf` replaced by its limit as the missing mass of q goes to 0.

    Where q = 0 < p the divergence is +inf and `log q = -inf`; the
    derivative in p's logits there is the limit of the finite case: +inf for
    the entries that q misses, -inf for the others with p > 0 (0 where p = 0).
    """
    return jnp.where(jnp.isnan(x), limit, x)


def _kl_coefficients(log_p, log_q, p, q, kl, *, weight, axis):
    log_ratio = _infinite_limit(log_p - log_q - jnp.expand_dims(kl, axis), jnp.inf)
    return num.mul_log(p, log_ratio), q - p


kl_from_logits = _divergence(
    _kl_forward,
    _kl_coefficients,
    _plain_kl,
    """KL(softmax a || softmax b) along ``axis`` in nats; masked entries are left out.""",
)


def _ce_forward(a, b, mask, shifts, *, weight, axis, axis_name):
    pa, row_a = _parts(a, mask, shifts[0], axis, axis_name)
    pb, row_b = _parts(b, mask, shifts[1], axis, axis_name)
    weighted = _weighted_sum(pa.e, pb.z, axis, axis_name)
    ce = jnp.squeeze(row_b.log_s - weighted / pa.s, axis)
    return _Forward(ce, (row_a, row_b), ce)


def _ce_coefficients(log_p, log_q, p, q, ce, *, weight, axis):
    return -num.mul_log(p, _infinite_limit(log_q + jnp.expand_dims(ce, axis), -jnp.inf)), q - p


cross_entropy_from_logits = _divergence(
    _ce_forward,
    _ce_coefficients,
    _plain_ce,
    """H(softmax a, softmax b) along ``axis`` in nats; masked entries are left out.""",
)


def _kl_to_mixture_terms(p: jax.Array, m: jax.Array) -> jax.Array:
    """`p log(p / m)` per entry; 0 where `p = 0` or where `m` underflowed to 0.

    `m` vanishes with `p` except where `w p` underflows (`p` near the
    smallest normal number, with `q = 0`); the term there is below 1e-37.
    The ratio form is accurate where `p` is close to `m`, and it keeps the
    per-row `log s` out of the per-entry work: XLA on CPU fused that
    broadcast logarithm into the entry loop and ran the pass twice as slowly.
    """
    return num.guard((p > 0) & (m > 0), lambda x, y: x * jnp.log(x / y), p, m)


def _js_terms(p: jax.Array, q: jax.Array, weight: float):
    """The per-entry terms of KL(p || m) and KL(q || m), `m = w p + (1 - w) q`.

    The mixture is formed in linear space (the log-space mixture costs an
    exponential and a logarithm per entry, for each of p and q).
    """
    m = weight * p + (1 - weight) * q
    return _kl_to_mixture_terms(p, m), _kl_to_mixture_terms(q, m)


def _js_forward(a, b, mask, shifts, *, weight, axis, axis_name):
    pa, row_a = _parts(a, mask, shifts[0], axis, axis_name)
    pb, row_b = _parts(b, mask, shifts[1], axis, axis_name)
    t_p, t_q = _js_terms(pa.e / pa.s, pb.e / pb.s, weight)
    kl_pm, kl_qm = _row_sum(t_p, axis, axis_name), _row_sum(t_q, axis, axis_name)
    js = weight * kl_pm + (1 - weight) * kl_qm
    # The guarded terms read a NaN probability as zero mass; a NaN logit makes its row's sum
    # NaN, and the row's value NaN with it.
    nan = jnp.squeeze(jnp.isnan(pa.s) | jnp.isnan(pb.s), axis)
    return _Forward(jnp.where(nan, jnp.nan, js), (row_a, row_b), (kl_pm, kl_qm))


def _js_coefficients(log_p, log_q, p, q, saved, *, weight, axis):
    t_p, t_q = _js_terms(p, q, weight)
    kl_pm, kl_qm = (jnp.expand_dims(k, axis) for k in saved)
    return weight * (t_p - p * kl_pm), (1 - weight) * (t_q - q * kl_qm)


js_from_logits = _divergence(
    _js_forward,
    _js_coefficients,
    _plain_js,
    """Generalised JS divergence of softmax a and softmax b, weight in (0, 1), in nats.""",
)


def _bare_soft_ce(p, b, axis):
    return -jnp.sum(p * _bare_log_softmax(b, axis), axis=axis)


def _exact_soft_ce(p, b, axis):
    """Cross-entropy of probabilities against logits without selects: `0 log 0 = 0`, and
    +inf exactly where `p` has mass on an entry where `q` has none."""
    zb, _, sb, missing = _plain_parts(b, axis)
    lost = jnp.sum(p * missing, axis=axis, keepdims=True)
    ce = jnp.log(sb) * jnp.sum(p, axis=axis, keepdims=True) - jnp.sum(
        p * zb, axis=axis, keepdims=True
    )
    return jnp.squeeze(ce + _infinite_if_positive(lost), axis)


def _guarded_soft_ce(p, b, axis):
    return -jnp.sum(num.mul_log(p, num.log_softmax(b, axis=axis, mask=None)), axis=axis)


@partial(jax.custom_jvp, nondiff_argnums=(2,))
def cross_entropy_with_logits(p: jax.Array, b: jax.Array, axis: int) -> jax.Array:
    """The cross-entropy of probabilities ``p`` (any non-negative weights) against logits
    ``b`` along ``axis``, unmasked and unsharded: the value from select-free formulas, the
    derivatives (of every order) from the guarded pass, with its boundary limits."""
    return _bare_or_exact(_bare_soft_ce(p, b, axis), lambda: _exact_soft_ce(p, b, axis))


@cross_entropy_with_logits.defjvp
def _soft_ce_jvp(axis, primals, tangents):
    return jax.jvp(partial(_guarded_soft_ce, axis=axis), primals, tangents)


def cross_entropy_from_labels(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """`-log softmax(logits)[label]` along the last axis without a select inside the row
    reduction; +inf for a label outside `[0, num_classes)` or on a `-inf` logit.

    For unmasked, unsharded logits; the gradient is autodiff's (`softmax - onehot`).
    """
    lowest = jnp.finfo(logits.dtype).min  # keeps -inf - (-inf) out of an all -inf row
    top = jnp.maximum(jax.lax.stop_gradient(jnp.max(logits, axis=-1)), lowest)
    total = jnp.sum(jnp.exp(logits - top[..., None]), axis=-1)
    # A row with mass sums to at least 1; one without (all -inf) gets log(tiny) and +inf.
    log_total = jnp.log(jnp.maximum(total, jnp.finfo(logits.dtype).tiny))
    num_classes = logits.shape[-1]
    inside = (labels >= 0) & (labels < num_classes)
    index = jnp.clip(labels, 0, num_classes - 1)[..., None]
    picked = jnp.take_along_axis(logits, index, axis=-1)[..., 0]
    return jnp.where(inside, log_total - (picked - top), jnp.inf)
