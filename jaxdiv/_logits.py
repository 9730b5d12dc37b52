"""Divergences between categorical distributions given as logits.

Logits are unnormalised log-probabilities; each function normalises them with
a log-softmax along `axis` (over the unmasked entries only), so any shift of
a row leaves the result unchanged. `-inf` logits are zero-probability
outcomes and logits of any finite magnitude (1e4 and beyond) are exact: the
computation never leaves log space, and gradients stay finite in both cases.
Conventions for `axis`, `where` and `base` are those of the probability
forms (see [`jaxdiv.kl_divergence`][jaxdiv.kl_divergence]); a fully masked row gives 0.

Sharded vocabularies: every function here takes `axis_name=None`. Inside
`jax.shard_map` (or `pmap`) with `axis` split over the mesh axis
`axis_name`, each device passes its own slice of the logits; the per-shard
maxima are combined with `pmax` and the sums with `psum`, so the result
(replicated on every device) and the gradients equal the unsharded ones.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdiv import _core as core
from jaxdiv import _fused
from jaxdiv import _numerics as num
from jaxdiv import _validation as val


def entropy_from_logits(
    logits: ArrayLike,
    *,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
    base: float | None = None,
    axis_name: str | None = None,
) -> jax.Array:
    r"""Entropy of `softmax(logits)`.

    $$
    H(p) = -\sum_i p_i \log p_i, \qquad \log p = \operatorname{log\_softmax}(\text{logits})
    $$

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> float(jaxdiv.entropy_from_logits(jnp.zeros(4), base=2))
      2.0
    """
    fn = "entropy_from_logits"
    (pd,), r = core.from_logits(
        fn, [("logits", logits)], axis=axis, where=where, base=base, axis_name=axis_name
    )
    return r.finish(core.entropy(r, pd))


def cross_entropy_from_logits(
    p_logits: ArrayLike,
    q_logits: ArrayLike,
    *,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
    base: float | None = None,
    axis_name: str | None = None,
) -> jax.Array:
    r"""Cross-entropy H(softmax(p_logits), softmax(q_logits)).

    $$
    H(p, q) = -\sum_i p_i \log q_i
    $$

    For soft targets given as probabilities, use
    [`jaxdiv.cross_entropy_with_logits`][jaxdiv.cross_entropy_with_logits].

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> a, b = jnp.array([0.0, 0.0]), jnp.log(jnp.array([0.25, 0.75]))
      >>> round(float(jaxdiv.cross_entropy_from_logits(a, b, base=2)), 4)
      1.2075
    """
    fn = "cross_entropy_from_logits"
    named = [("p_logits", p_logits), ("q_logits", q_logits)]
    (a, b), r = core.logits_arrays(
        fn, named, axis=axis, where=where, base=base, axis_name=axis_name
    )
    return r.finish(
        _fused.cross_entropy_from_logits(
            a, b, mask=r.mask, weight=None, axis=r.axis, axis_name=axis_name
        )
    )


def kl_divergence_from_logits(
    p_logits: ArrayLike,
    q_logits: ArrayLike,
    *,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
    base: float | None = None,
    axis_name: str | None = None,
) -> jax.Array:
    r"""KL(softmax(p_logits) || softmax(q_logits)).

    $$
    \mathrm{KL}(p \,\|\, q) = \sum_i p_i (\log p_i - \log q_i)
    $$

    The argument order is that of the notation: in distillation the teacher is
    usually `p` (forward KL) and the student `q`. Computed in one fused pass
    per row (two exponentials per entry, no per-entry logarithm) with a custom
    JVP that returns the closed-form derivatives `softmax(q) - softmax(p)`
    (for `q_logits`) and `p (log p - log q - KL)` (for `p_logits`).
    Reverse mode saves only the logits, each row's log-normaliser and the
    row's KL: the backward pass rebuilds the softmaxes instead of storing
    `[rows, vocab]` arrays.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> a, b = jnp.array([0.0, 0.0]), jnp.log(jnp.array([0.25, 0.75]))
      >>> round(float(jaxdiv.kl_divergence_from_logits(a, b, base=2)), 4)
      0.2075
    """
    fn = "kl_divergence_from_logits"
    named = [("p_logits", p_logits), ("q_logits", q_logits)]
    (a, b), r = core.logits_arrays(
        fn, named, axis=axis, where=where, base=base, axis_name=axis_name
    )
    return r.finish(
        _fused.kl_from_logits(a, b, mask=r.mask, weight=None, axis=r.axis, axis_name=axis_name)
    )


def _probs_and_logits(fn, p, q_logits, *, axis, where, base, axis_name):
    """Target probabilities (masked entries set to 0, never renormalised), the model's
    logits (to be normalised over the unmasked entries) and the reduction.

    A NaN in either input reaches the value without a row check: `p` has mass in
    every row, and a NaN logit makes its whole row of `log q` NaN.
    """
    (pp, b), axes, mask, base = core.prepare(
        fn, [("p", p), ("q_logits", q_logits)], axis=axis, where=where, base=base
    )
    val.check_probabilities("p", pp, axis=axes, mask=mask, fn=fn)
    val.check_logits("q_logits", b, mask=mask, fn=fn)
    (pp, b), axis, mask = core.merge_axes([pp, b], mask, axes)
    if mask is not None:
        pp = jnp.where(mask, pp, 0.0)
    return pp, b, core.Reduction(axis, mask, base, axis_name)


def cross_entropy_with_logits(
    p: ArrayLike,
    q_logits: ArrayLike,
    *,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
    base: float | None = None,
    axis_name: str | None = None,
) -> jax.Array:
    r"""Cross-entropy of a target given as probabilities against a model given as logits.

    The usual classification loss with soft or smoothed labels, optax's
    `softmax_cross_entropy(logits, labels)` with the arguments in the order
    of the notation:

    $$
    H(p, q) = -\sum_i p_i \log q_i, \qquad q = \operatorname{softmax}(\text{q\_logits})
    $$

    With `where`, `q` is normalised over the unmasked entries and the
    target is taken as given, never renormalised: masked entries of `p` are
    left out of the sum (as optax does). `+inf` where `p_i > 0` and
    `q_i = 0` (a `-inf` logit).

    Args:
      p: the target probabilities along `axis` (any non-negative weights).
      q_logits: the model's logits, broadcastable with `p`.
      axis: the axis, or tuple of axes, that holds each distribution.
      where: optional boolean mask; masked entries are left out.
      base: None for nats, 2 for bits.
      axis_name: the mesh axis that splits `axis` (inside `shard_map`).

    Returns:
      The cross-entropy, with `axis` removed.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> p, logits = jnp.array([0.9, 0.05, 0.05]), jnp.log(jnp.array([0.5, 0.25, 0.25]))
      >>> round(float(jaxdiv.cross_entropy_with_logits(p, logits, base=2)), 4)
      1.1
    """
    fn = "cross_entropy_with_logits"
    pp, b, r = _probs_and_logits(
        fn, p, q_logits, axis=axis, where=where, base=base, axis_name=axis_name
    )
    if r.mask is None and axis_name is None:
        return r.finish(_fused.cross_entropy_with_logits(pp, b, r.axis))
    log_q = num.log_softmax(b, axis=r.axis, mask=r.mask, axis_name=axis_name)
    return r.finish(-r.sum(num.mul_log(pp, log_q)))


def kl_divergence_with_logits(
    p: ArrayLike,
    q_logits: ArrayLike,
    *,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
    base: float | None = None,
    axis_name: str | None = None,
) -> jax.Array:
    r"""KL(p || softmax(q_logits)) for a target given as probabilities.

    $$
    \mathrm{KL}(p \,\|\, q) = \sum_i p_i \log p_i - \sum_i p_i \log q_i,
    \qquad q = \operatorname{softmax}(\text{q\_logits})
    $$

    The cross-entropy of [`cross_entropy_with_logits`][jaxdiv.cross_entropy_with_logits] minus the
    target's entropy (`0 log 0 = 0`), so its gradient in `q_logits` is the
    cross-entropy's, `q sum(p) - p`. With `where`, `q` is normalised over the unmasked
    entries and `p` is never renormalised (as optax's
    `kl_divergence(log_predictions, targets)`, whose arguments come in the
    other order).

    Args:
      p: the target probabilities along `axis`.
      q_logits: the model's logits, broadcastable with `p`.
      axis: the axis, or tuple of axes, that holds each distribution.
      where: optional boolean mask; masked entries are left out.
      base: None for nats, 2 for bits.
      axis_name: the mesh axis that splits `axis` (inside `shard_map`).

    Returns:
      KL(p || q), with `axis` removed; `+inf` where `p_i > 0 = q_i`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> p, logits = jnp.array([0.5, 0.5]), jnp.log(jnp.array([0.25, 0.75]))
      >>> round(float(jaxdiv.kl_divergence_with_logits(p, logits, base=2)), 4)
      0.2075
    """
    fn = "kl_divergence_with_logits"
    pp, b, r = _probs_and_logits(
        fn, p, q_logits, axis=axis, where=where, base=base, axis_name=axis_name
    )
    log_q = num.log_softmax(b, axis=r.axis, mask=r.mask, axis_name=axis_name)
    return r.finish(r.sum(num.mul_log(pp, num.safe_log(pp) - log_q)))


def js_divergence_from_logits(
    p_logits: ArrayLike,
    q_logits: ArrayLike,
    *,
    weight: float = 0.5,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
    base: float | None = None,
    axis_name: str | None = None,
) -> jax.Array:
    r"""Generalised Jensen-Shannon divergence between two softmax distributions.

    $$
    \mathrm{JS}_w(p, q) = w\,\mathrm{KL}(p \,\|\, m) + (1 - w)\,\mathrm{KL}(q \,\|\, m),
    \qquad m = w p + (1 - w) q
    $$

    The mixture is formed from the probabilities and each term as
    `p log(p / m)`, so it stays accurate where p and q are close (the
    divergence then tends to 0 without cancellation); a custom JVP returns the
    closed-form derivatives `w p (log p - log m - KL(p || m))` and
    `(1 - w) q (log q - log m - KL(q || m))`, and reverse mode saves only the
    logits and a few numbers per row.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> a, b = jnp.array([0.0, -jnp.inf]), jnp.array([-jnp.inf, 0.0])
      >>> float(jaxdiv.js_divergence_from_logits(a, b, base=2))
      1.0
    """
    fn = "js_divergence_from_logits"
    weight = val.check_weight(weight, fn=fn)
    named = [("p_logits", p_logits), ("q_logits", q_logits)]
    (a, b), r = core.logits_arrays(
        fn, named, axis=axis, where=where, base=base, axis_name=axis_name
    )
    if weight in (0.0, 1.0):  # the mixture is one of the two: JS = 0
        return r.finish(jnp.zeros(jnp.sum(a, axis=r.axis).shape, a.dtype))
    return r.finish(
        _fused.js_from_logits(a, b, mask=r.mask, weight=weight, axis=r.axis, axis_name=axis_name)
    )


def renyi_divergence_from_logits(
    p_logits: ArrayLike,
    q_logits: ArrayLike,
    *,
    alpha: float,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
    base: float | None = None,
    axis_name: str | None = None,
) -> jax.Array:
    r"""Renyi divergence of order `alpha` between two softmax distributions.

    $$
    D_\alpha(p \,\|\, q) = \frac{1}{\alpha - 1}
        \operatorname{logsumexp}_i\left(\alpha \log p_i + (1 - \alpha) \log q_i\right)
    $$

    `alpha` = 0, 1 and inf are handled as limits, as in
    [`jaxdiv.renyi_divergence`][jaxdiv.renyi_divergence].

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> a, b = jnp.array([0.0, 0.0]), jnp.log(jnp.array([0.25, 0.75]))
      >>> round(float(jaxdiv.renyi_divergence_from_logits(a, b, alpha=2.0)), 4)
      0.2877
    """
    fn = "renyi_divergence_from_logits"
    alpha = val.check_alpha(alpha, fn=fn)
    named = [("p_logits", p_logits), ("q_logits", q_logits)]
    (pd, qd), r = core.from_logits(
        fn, named, axis=axis, where=where, base=base, axis_name=axis_name
    )
    return r.finish(core.renyi(r, pd, qd, alpha))


def cross_entropy_from_integer_labels(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    base: float | None = None,
    axis_name: str | None = None,
) -> jax.Array:
    r"""Cross-entropy of `softmax(logits)` against integer class labels.

    $$
    \ell = -(1 - \varepsilon) \log \operatorname{softmax}(\text{logits})_{y}
      - \frac{\varepsilon}{K} \sum_{c} \log \operatorname{softmax}(\text{logits})_{c}
    $$

    with $\varepsilon$ = `label_smoothing` (0 by default: the plain
    cross-entropy) and $K$ the number of (unmasked) classes: the
    cross-entropy against optax's `smooth_labels(one_hot(y), epsilon)`,
    computed without forming the one-hot targets.

    Args:
      logits: logits with the classes along `axis`.
      labels: integer labels, shaped like `logits` without `axis` (or
        broadcastable to it).
      axis: the class axis of `logits`, or a tuple of axes (classes laid out
        over several axes, such as `[height, width]`), which the labels then
        index in row-major order.
      where: optional boolean mask over the classes (broadcastable to
        `logits`); masked classes are left out of the normalisation.
      ignore_index: a label value that contributes 0 with zero gradient (for
        padding tokens; PyTorch uses -100).
      label_smoothing: $\varepsilon \in [0, 1]$, the mass spread uniformly over
        the unmasked classes.
      base: None for nats, 2 for bits.
      axis_name: the mesh axis that splits the class axis (inside
        `shard_map`); labels stay global class indices, and each device
        holds the classes `[i * n, (i + 1) * n)` of its shard `i`.

    Returns:
      The per-example loss, shaped like `labels`. A label outside
      `[0, num_classes)` (and not `ignore_index`) has probability 0 under
      the model and gives `+inf`; [`jaxdiv.checked`][jaxdiv.checked] reports it. With
      no classes at all (an empty class axis) every label is out of range.

    Raises:
      TypeError: if `labels` is not an integer array.
      ValueError: shapes that do not match, or a `label_smoothing` outside
        [0, 1].

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> logits = jnp.log(jnp.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]))
      >>> loss = jaxdiv.cross_entropy_from_integer_labels(
      ...     logits, jnp.array([0, -100]), ignore_index=-100, base=2)
      >>> [round(float(v), 4) for v in loss]
      [1.0, 0.0]
    """
    fn = "cross_entropy_from_integer_labels"
    base = val.check_base(base, fn=fn)
    smoothing = val.check_weight(label_smoothing, fn=fn, name="label_smoothing")
    logits = val.as_float("logits", logits, fn=fn)
    logits = logits.astype(val.compute_dtype(logits))
    labels = jnp.asarray(labels)
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise TypeError(f"jaxdiv.{fn}: labels must be an integer array, got dtype {labels.dtype}.")
    if ignore_index is not None and (
        isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral)
    ):
        raise TypeError(f"jaxdiv.{fn}: ignore_index must be an int or None, got {ignore_index!r}.")
    if logits.ndim == 0:
        raise ValueError(f"jaxdiv.{fn}: logits must have a class axis, got a scalar.")
    axes = val.normalize_axes(axis, logits.ndim, fn=fn)
    batch_shape = tuple(n for i, n in enumerate(logits.shape) if i not in axes)
    try:
        if jnp.broadcast_shapes(labels.shape, batch_shape) != batch_shape:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"jaxdiv.{fn}: logits has shape {logits.shape} and labels has shape {labels.shape}; "
            f"labels must have the shape of logits without axis {axis}, {batch_shape}."
        ) from None
    labels = jnp.broadcast_to(labels, batch_shape)
    mask = val.broadcast_mask(where, logits.shape, fn=fn)
    # Several class axes are merged into one (labels index it in row-major order).
    logits = val.flatten_axes(logits, axes)
    mask = None if mask is None else val.flatten_axes(mask, axes)
    axis = logits.ndim - 1
    val.check_logits("logits", logits, mask=mask, fn=fn)
    val.check_labels(labels, logits.shape[axis], ignore_index, fn=fn)
    keep = jnp.ones(batch_shape, bool) if ignore_index is None else labels != ignore_index
    if logits.shape[axis] == 0:  # no classes: every kept label is out of range
        return num.to_base(jnp.where(keep, jnp.inf, 0.0).astype(logits.dtype), base)
    if mask is None and axis_name is None and not smoothing:
        loss = _fused.cross_entropy_from_labels(logits, labels)
        return num.to_base(jnp.where(keep, loss, 0.0), base)
    logp = num.log_softmax(logits, axis=axis, mask=mask, axis_name=axis_name)
    if mask is not None:
        keep = keep & num.pany(jnp.any(mask, axis=axis), axis_name)
    num_local = logits.shape[axis]
    offset = 0 if axis_name is None else jax.lax.axis_index(axis_name) * num_local
    local = labels - offset
    here = keep & (local >= 0) & (local < num_local)  # the label's class is on this shard
    index = jnp.expand_dims(jnp.where(here, local, 0), axis)
    picked = jnp.squeeze(jnp.take_along_axis(logp, index, axis=axis), axis)
    picked = num.psum(jnp.where(here, picked, 0.0), axis_name)
    found = num.pany(here, axis_name)
    # A label outside [0, num_classes) has probability 0 under the model: +inf.
    loss = jnp.where(found, -picked, jnp.where(keep, jnp.inf, 0.0))
    if smoothing:  # the uniform part of the target: -mean log p over the unmasked classes
        present = jnp.ones(logp.shape, bool) if mask is None else mask
        total = num.psum(jnp.sum(jnp.where(present, logp, 0.0), axis=axis), axis_name)
        count = num.psum(jnp.sum(present, axis=axis), axis_name)
        uniform = -total / jnp.maximum(count, 1).astype(logp.dtype)
        smoothed = (1 - smoothing) * -picked + smoothing * uniform
        loss = jnp.where(found & keep, smoothed, loss)
    return num.to_base(loss, base)


def focal_loss_from_integer_labels(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    gamma: float = 2.0,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
    ignore_index: int | None = None,
    base: float | None = None,
    axis_name: str | None = None,
) -> jax.Array:
    r"""Softmax focal loss against integer class labels.

    $$
    \ell = -(1 - p_y)^{\gamma} \log p_y, \qquad p = \operatorname{softmax}(\text{logits})
    $$

    The cross-entropy down-weighted where the model is already confident
    (Lin et al. 2017); `gamma = 0` gives
    [`cross_entropy_from_integer_labels`][jaxdiv.cross_entropy_from_integer_labels].
    $1 - p_y$ is computed as `-expm1(log p_y)`, exact where $p_y$ is near 1,
    and the factor has a zero gradient at $p_y = 1$ (where it is not
    differentiable for $\gamma < 1$).

    Args:
      logits: logits with the classes along `axis`.
      labels: integer labels, shaped like `logits` without `axis`.
      gamma: the focusing parameter $\gamma \ge 0$.
      axis: the class axis (or axes) of `logits`.
      where: optional boolean mask over the classes.
      ignore_index: a label value that contributes 0 with zero gradient.
      base: None for nats, 2 for bits.
      axis_name: the mesh axis that splits the class axis (inside `shard_map`).

    Returns:
      The per-example loss, shaped like `labels`; `+inf` for a label outside
      `[0, num_classes)`.

    Raises:
      TypeError: if `labels` is not an integer array.
      ValueError: shapes that do not match, or `gamma` that is not a finite
        number >= 0.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> logits = jnp.log(jnp.array([[0.5, 0.5], [0.9, 0.1]]))
      >>> loss = jaxdiv.focal_loss_from_integer_labels(logits, jnp.array([0, 0]), gamma=1.0)
      >>> [round(float(v), 4) for v in loss]  # 0.5 log 2 and 0.1 log(1/0.9)
      [0.3466, 0.0105]

    References:
      T.-Y. Lin, P. Goyal, R. Girshick, K. He and P. Dollár, Focal loss for
      dense object detection, 2017.
    """
    fn = "focal_loss_from_integer_labels"
    g = val.finite_float("gamma", gamma, fn=fn)
    if g < 0:
        raise ValueError(f"jaxdiv.{fn}: gamma must be >= 0, got {gamma!r}.")
    base = val.check_base(base, fn=fn)
    ce = cross_entropy_from_integer_labels(
        logits, labels, axis=axis, where=where, ignore_index=ignore_index, axis_name=axis_name
    )
    miss = num.guard(jnp.isfinite(ce), lambda c: -jnp.expm1(-c), ce, safe=1.0, otherwise=1.0)
    return num.to_base(num.focal_modulation(miss, g) * ce, base)
