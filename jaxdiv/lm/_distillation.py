"""Knowledge-distillation losses between teacher and student logits over a vocabulary."""

from __future__ import annotations

import math
from functools import partial
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdiv import _logits
from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv.lm import _chunking as chunking

DIVERGENCES = ("forward_kl", "reverse_kl", "jsd", "skew_kl", "skew_reverse_kl", "tv")
REDUCTIONS = ("mean", "sum", "none")

Divergence = Literal["forward_kl", "reverse_kl", "jsd", "skew_kl", "skew_reverse_kl", "tv"]
Reduction = Literal["mean", "sum", "none"]


class _TokenLoss(NamedTuple):
    """What each token's loss is: the divergence and its parameters, the weights of the soft
    (divergence) and hard (cross-entropy with labels) terms, and the logit cap."""

    divergence: str
    beta: float
    alpha: float
    temperature: float
    temperature_scaling: bool
    soft_weight: float
    hard_weight: float
    logit_softcap: float | None


def _check_config(fn: str, reduction: str, **kw) -> _TokenLoss:
    name = f"lm.{fn}"
    divergence = kw["divergence"]
    if divergence not in DIVERGENCES:
        raise ValueError(
            f"jaxdiv.{name}: divergence must be one of {', '.join(DIVERGENCES)}, "
            f"got {divergence!r}."
        )
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"jaxdiv.{name}: reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}."
        )
    t = val.concrete_float("temperature", kw["temperature"], fn=name)
    if not (t > 0 and math.isfinite(t)):
        raise ValueError(f"jaxdiv.{name}: temperature must be > 0, got {kw['temperature']!r}.")
    weights = {}
    for key in ("soft_weight", "hard_weight"):
        weights[key] = val.finite_float(key, kw[key], fn=name)
        if weights[key] < 0:
            raise ValueError(f"jaxdiv.{name}: {key} must be >= 0, got {kw[key]!r}.")
    if not isinstance(kw["temperature_scaling"], bool):
        raise TypeError(
            f"jaxdiv.{name}: temperature_scaling must be True or False, "
            f"got {kw['temperature_scaling']!r}."
        )
    return _TokenLoss(
        divergence,
        val.check_weight(kw["beta"], fn=name, name="beta"),
        val.check_weight(kw["alpha"], fn=name, name="alpha"),
        t,
        kw["temperature_scaling"],
        logit_softcap=chunking.check_softcap(kw["logit_softcap"], name),
        **weights,
    )


def token_divergences(
    student_logits: jax.Array,
    teacher_logits: jax.Array,
    *,
    divergence: str,
    beta: float,
    alpha: float = 0.1,
    temperature: float,
    temperature_scaling: bool = True,
    axis_name: str | None = None,
) -> jax.Array:
    """The per-token divergence at `temperature` (times its square when `temperature_scaling`),
    vocabulary on the last axis."""
    s = student_logits / temperature
    t = teacher_logits / temperature
    if divergence == "jsd" and beta in (0.0, 1.0):  # TRL's ends: the JSD itself is 0 there
        divergence = "forward_kl" if beta == 0.0 else "reverse_kl"
    if divergence == "forward_kl":
        d = _logits.kl_divergence_from_logits(t, s, axis_name=axis_name)
    elif divergence == "reverse_kl":
        d = _logits.kl_divergence_from_logits(s, t, axis_name=axis_name)
    elif divergence == "jsd":
        d = _logits.js_divergence_from_logits(t, s, weight=beta, axis_name=axis_name)
    elif divergence == "tv":
        log_t, log_s = (num.log_softmax(x, axis=-1, mask=None, axis_name=axis_name) for x in (t, s))
        d = 0.5 * num.psum(jnp.sum(jnp.abs(jnp.exp(log_t) - jnp.exp(log_s)), axis=-1), axis_name)
    else:  # skew KL: KL(p || alpha p + (1 - alpha) q), p the teacher (skew_kl) or the student
        p, q = (t, s) if divergence == "skew_kl" else (s, t)
        log_p, log_q = (num.log_softmax(x, axis=-1, mask=None, axis_name=axis_name) for x in (p, q))
        a = log_p + num.safe_log(jnp.asarray(alpha, log_p.dtype))
        b = log_q + num.safe_log(jnp.asarray(1 - alpha, log_q.dtype))
        # Where both terms are -inf the mixture is -inf: logaddexp's gradient would be NaN there.
        log_mix = num.guard(
            (a > -jnp.inf) | (b > -jnp.inf), jnp.logaddexp, a, b, safe=0.0, otherwise=-jnp.inf
        )
        d = _logits.kl_divergence_from_logits(log_p, log_mix, axis_name=axis_name)
    return d * temperature**2 if temperature_scaling else d


def _token_losses(config: _TokenLoss, student, teacher, labels, axis_name) -> jax.Array:
    """Each token's `soft_weight * divergence + hard_weight * cross-entropy(labels)` from the
    raw logits (capped here)."""
    student = chunking.softcap(student, config.logit_softcap)
    teacher = chunking.softcap(teacher, config.logit_softcap)
    loss = token_divergences(
        student,
        teacher,
        divergence=config.divergence,
        beta=config.beta,
        alpha=config.alpha,
        temperature=config.temperature,
        temperature_scaling=config.temperature_scaling,
        axis_name=axis_name,
    )
    if config.soft_weight != 1.0:
        loss = config.soft_weight * loss
    if labels is not None and config.hard_weight:
        ce = _logits.cross_entropy_from_integer_labels(student, labels, axis_name=axis_name)
        loss = loss + config.hard_weight * ce
    return loss


def _reduce(values, keep, reduction: str, token_axes) -> jax.Array:
    if reduction == "none":
        return jnp.where(keep, values, 0.0)
    if reduction == "sum":
        return num.psum(jnp.sum(jnp.where(keep, values, 0.0)), token_axes)
    return num.masked_mean(values, keep, axis_name=token_axes)


def distillation_loss(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    *,
    divergence: Divergence = "forward_kl",
    beta: float = 0.5,
    alpha: float = 0.1,
    temperature: float = 1.0,
    temperature_scaling: bool = True,
    labels: ArrayLike | None = None,
    ignore_index: int | None = -100,
    soft_weight: float = 1.0,
    hard_weight: float = 1.0,
    logit_softcap: float | None = None,
    where: ArrayLike | None = None,
    reduction: Reduction = "mean",
    axis_name: str | None = None,
    token_axis_name: str | None = None,
) -> jax.Array:
    r"""Distillation loss between student and teacher logits, averaged over tokens.

    With $p_t = \operatorname{softmax}(\text{teacher} / T)$ and
    $p_s = \operatorname{softmax}(\text{student} / T)$, the divergence is

    * `"forward_kl"`: $\mathrm{KL}(p_t \,\Vert\, p_s)$ (mass-covering, the classic Hinton loss);
    * `"reverse_kl"`: $\mathrm{KL}(p_s \,\Vert\, p_t)$ (mode-seeking);
    * `"jsd"`: the generalised Jensen-Shannon divergence
      $\beta\,\mathrm{KL}(p_t \,\Vert\, m) + (1 - \beta)\,\mathrm{KL}(p_s \,\Vert\, m)$,
      $m = \beta p_t + (1 - \beta) p_s$. It is identically 0 at $\beta \in \{0, 1\}$;
      there, as TRL's `generalized_jsd_loss` does (GKD), `"jsd"` equals
      `"forward_kl"` ($\beta = 0$) and `"reverse_kl"` ($\beta = 1$);
    * `"skew_kl"`: $\mathrm{KL}(p_t \,\Vert\, \alpha p_t + (1 - \alpha) p_s)$ and
      `"skew_reverse_kl"`: $\mathrm{KL}(p_s \,\Vert\, \alpha p_s + (1 - \alpha) p_t)$
      (DistiLLM; $\alpha = 0$ gives the plain KLs);
    * `"tv"`: the total variation $\tfrac12 \sum_v |p_t - p_s|$.

    With `temperature_scaling=True` (the default) each token's divergence is
    multiplied by $T^2$ (Hinton et al. 2015), so that gradient magnitudes do
    not shrink as the temperature grows. TRL's `generalized_jsd_loss` and
    Liger's fused linear distillation losses (`LigerFusedLinearJSDLoss`, whose
    chunks divide both logits by $T$) do not multiply by $T^2$: pass
    `temperature_scaling=False` to match them.

    With `labels`, each token's loss is
    `soft_weight * divergence + hard_weight * cross_entropy(student, label)`,
    the cross-entropy of the student's untempered logits (Liger's
    `weight_soft_loss` and `weight_hard_loss`, whose defaults are 0.5 and 0.5;
    here both default to 1). Tokens whose label is `ignore_index`, or where
    `where` is False, count nowhere. `logit_softcap` $c$ replaces both models'
    logits by $c \tanh(x / c)$ first (Gemma 2).

    PyTorch's `KLDivLoss(reduction="batchmean")` divides the sum by the batch
    size instead of the token count, which for [batch, seq, vocab] inputs is
    not a per-token mean and counts padding tokens.

    Conventions shared with
    [`fused_linear_distillation_loss`][jaxdiv.lm.fused_linear_distillation_loss]:

    * the teacher is a constant: its logits pass through
      `jax.lax.stop_gradient`, so the gradient with respect to them (and to
      whatever produced them) is zero;
    * no tokens, or every token masked, give a mean of 0 with a zero gradient
      (the mean of nothing is 0, never NaN);
    * 16-bit (bfloat16, float16) logits are computed on in float32 and the
      loss is returned in float32 (the inputs' dtype when that is wider); the
      gradient with respect to each input comes back in that input's dtype.

    Args:
      student_logits: `[..., vocab]` logits of the student.
      teacher_logits: `[..., vocab]` logits of the teacher, a constant (no
        gradient reaches them).
      divergence: one of `"forward_kl"`, `"reverse_kl"`, `"jsd"`,
        `"skew_kl"`, `"skew_reverse_kl"`, `"tv"`.
      beta: the JSD weight in [0, 1].
      alpha: the skew in [0, 1] of the skew KLs.
      temperature: `T > 0`.
      temperature_scaling: multiply the divergence by `T**2`.
      labels: optional integer labels of shape `logits.shape[:-1]` for the
        hard-label term.
      ignore_index: the label of tokens that do not count, or None.
      soft_weight: the weight (>= 0) of the divergence.
      hard_weight: the weight (>= 0) of the cross-entropy with `labels`.
      logit_softcap: `c > 0`, or None for no cap.
      where: boolean token mask of shape `logits.shape[:-1]` (False for
        padding).
      reduction: `"mean"` over the counted tokens, `"sum"`, or `"none"`
        (per token, 0 where a token does not count).
      axis_name: the mesh axis that splits the vocabulary (inside `shard_map`).
      token_axis_name: the mesh axis that splits the tokens (inside
        `shard_map`): the mean is then over the unmasked tokens of all
        devices. Under plain `jit` with sharded inputs nothing is needed.

    Returns:
      The loss in nats, a scalar or per token: float32 for 16-bit logits,
      else their dtype. A counted label outside `[0, vocab)` gives `+inf`
      under `jit` and a `ValueError` with concrete labels.

    Raises:
      TypeError: non-floating logits, non-integer labels, a non-boolean mask
        or a non-bool `temperature_scaling`.
      ValueError: an unknown divergence or reduction, `beta` or `alpha`
        outside [0, 1], a temperature that is not a finite number > 0,
        negative weights, logits of different shapes or without a vocabulary
        axis, labels or a mask of the wrong shape, or labels out of range.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import lm
      >>> s = jnp.array([[0.0, 0.0], [1.0, 2.0]])
      >>> float(lm.distillation_loss(s, s))
      0.0

    References:
      G. Hinton, O. Vinyals and J. Dean, Distilling the knowledge in a neural
      network, 2015; R. Agarwal et al., On-policy distillation of language
      models (GKD), 2024; J. Ko et al., DistiLLM: towards streamlined
      distillation for large language models, 2024.
    """
    fn = "distillation_loss"
    name = f"lm.{fn}"
    config = _check_config(
        fn,
        reduction,
        divergence=divergence,
        beta=beta,
        alpha=alpha,
        temperature=temperature,
        temperature_scaling=temperature_scaling,
        soft_weight=soft_weight,
        hard_weight=hard_weight,
        logit_softcap=logit_softcap,
    )
    student = val.as_float("student_logits", student_logits, fn=name)
    teacher = val.as_float("teacher_logits", teacher_logits, fn=name)
    if student.ndim < 1 or teacher.ndim < 1:
        raise ValueError(
            f"jaxdiv.{name}: student_logits and teacher_logits must have a vocabulary "
            f"axis, [..., vocab]; got shapes {student.shape} and {teacher.shape}."
        )
    if student.shape != teacher.shape:
        raise ValueError(
            f"jaxdiv.{name}: student_logits has shape {student.shape} and teacher_logits "
            f"has shape {teacher.shape}; they must be equal, [..., vocab]."
        )
    shape = student.shape[:-1]
    keep, labels = _counted_tokens(labels, where, shape, ignore_index, fn)
    if labels is not None and axis_name is None and token_axis_name is None:
        chunking.check_label_range(
            labels, keep, student.shape[-1], ignore_index, name, "the logits' vocabulary"
        )
    acc = val.compute_dtype(student, teacher)
    teacher = jax.lax.stop_gradient(teacher).astype(acc)
    values = _token_losses(config, student.astype(acc), teacher, labels, axis_name)
    return _reduce(values, keep, reduction, chunking.mesh_axes(token_axis_name))


def _counted_tokens(labels, where, shape, ignore_index, fn: str):
    """The tokens that count (a boolean array of `shape`) and the labels (None without), with
    the ignored labels replaced by 0."""
    mask = chunking.token_mask(where, shape, fn)
    keep = jnp.ones(shape, bool) if mask is None else mask
    if labels is None:
        return keep, None
    y = chunking.integer_labels(labels, shape, ignore_index, f"lm.{fn}")
    if ignore_index is not None:
        keep = keep & (y != ignore_index)
    return keep, jnp.where(keep, y, 0).astype(jnp.int32)


def fused_linear_distillation_loss(
    student_hidden: ArrayLike,
    student_weight: ArrayLike,
    teacher_hidden: ArrayLike,
    teacher_weight: ArrayLike,
    *,
    student_bias: ArrayLike | None = None,
    teacher_bias: ArrayLike | None = None,
    divergence: Divergence = "forward_kl",
    beta: float = 0.5,
    alpha: float = 0.1,
    temperature: float = 1.0,
    temperature_scaling: bool = True,
    labels: ArrayLike | None = None,
    ignore_index: int | None = -100,
    soft_weight: float = 1.0,
    hard_weight: float = 1.0,
    logit_softcap: float | None = None,
    where: ArrayLike | None = None,
    reduction: Reduction = "mean",
    chunk_size: int | None = 1024,
    axis_name: str | None = None,
    token_axis_name: str | None = None,
) -> jax.Array:
    r"""[`distillation_loss`][jaxdiv.lm.distillation_loss] of `hidden @ weight + bias` logits,
    never materialising them.

    The tokens are processed in chunks of `chunk_size`: each chunk's student
    and teacher logits (`[chunk_size, vocab]`) are formed, reduced to the
    chunk's loss and the gradient of the loss with respect to the chunk's
    student logits, which is contracted at once into the gradients of the
    student hidden states, weight and bias. A custom VJP returns those
    gradients, so neither the forward nor the backward pass holds a
    `[tokens, vocab]` array. With `reduction="none"` the cotangents of the
    per-token losses are known only in the backward pass, which then forms
    each chunk's logits once more.

    Every option of [`distillation_loss`][jaxdiv.lm.distillation_loss] holds here
    too (divergences, temperature scaling, the hard-label term, soft-capping,
    reductions); the teacher is a constant (its hidden states, weight and bias
    get a zero gradient, as if wrapped in `jax.lax.stop_gradient`); no
    tokens, or every token masked, give a mean of 0 with a zero gradient.
    16-bit operands (bfloat16, float16, in any combination) are multiplied
    with float32 products (`preferred_element_type`), so neither the logits
    nor their gradients are rounded to 16 bits, and the loss and the weight's
    gradient are accumulated over the chunks in float32: the loss is returned
    in float32 and each gradient in the dtype of its input. The float32
    accumulator of the weight's gradient is the one weight-sized temporary.

    With `axis_name`, inside `shard_map`, both weights and biases hold this
    device's columns of the vocabulary (`[hidden, vocab / devices]`) and the
    hidden states (and labels, global indices) are whole on every device: each
    device forms only its columns of the logits, the row maxima and sums are
    combined across devices, and the gradient of the student hidden states is
    summed over them (each device gets the gradient of its own weight columns).

    Under `jit` with explicit shardings (`jax.make_mesh`'s default), the
    split of the student's hidden states over the tokens and that of the
    student's weight over the vocabulary are kept (data and tensor
    parallelism): each device runs the chunks of its own tokens over its own
    columns, and only the loss, the token count, the row maxima and sums and
    the gradients' partial sums cross devices. The other operands are
    resharded to match, and a split of the hidden axes is gathered.

    With an automatic mesh the split cannot be seen at trace time. The chunks
    are strided (chunk `j` holds tokens `j, j + chunks, ...`) and their
    size is rounded up to a multiple of the number of devices, so that each
    chunk is split like the tokens; XLA then partitions every chunk and adds
    the weight gradients once, after the loop. Inside `shard_map`, pass
    `token_axis_name`.

    Args:
      student_hidden: `[..., hidden]`, any leading token dimensions.
      student_weight: `[hidden, vocab]`.
      teacher_hidden: `[..., teacher_hidden]`, the same leading dimensions.
      teacher_weight: `[teacher_hidden, vocab]`.
      student_bias: optional `[vocab]` bias of the student's logits.
      teacher_bias: optional `[vocab]` bias of the teacher's logits.
      divergence: as in [`distillation_loss`][jaxdiv.lm.distillation_loss].
      beta: the JSD weight in [0, 1].
      alpha: the skew in [0, 1] of the skew KLs.
      temperature: `T > 0`.
      temperature_scaling: multiply the divergence by `T**2`.
      labels: optional integer labels of the token shape (the hard term).
      ignore_index: the label of tokens that do not count, or None.
      soft_weight: the weight (>= 0) of the divergence.
      hard_weight: the weight (>= 0) of the cross-entropy with `labels`.
      logit_softcap: `c > 0`, or None.
      where: boolean mask of the token shape.
      reduction: `"mean"`, `"sum"` or `"none"`.
      chunk_size: tokens per chunk, an integer >= 1 (the peak memory is about
        `chunk_size * vocab` floats times a small constant), or None for the
        rule of [`fused_linear_cross_entropy`][jaxdiv.lm.fused_linear_cross_entropy]. Outside
        `shard_map` and without explicit shardings, it is rounded up to a
        multiple of `jax.device_count()` (see above).
      axis_name: the mesh axis that splits the vocabulary (inside `shard_map`).
      token_axis_name: the mesh axis that splits the tokens (inside
        `shard_map`, data parallelism): the mean is over the unmasked
        tokens of all devices, and the weight's gradient is summed over them.

    Returns:
      The loss equal to `distillation_loss(student_hidden @ student_weight +
      student_bias, teacher_hidden @ teacher_weight + teacher_bias, ...)` with
      the products taken in float32: float32 for 16-bit operands, else their
      common dtype; a scalar, or per token with `reduction="none"`.

    Raises:
      TypeError: non-floating operands, non-integer labels or a non-boolean
        mask.
      ValueError: operands that are not of matching sizes, a `chunk_size` that
        is not an integer >= 1, or a bad configuration as in
        [`distillation_loss`][jaxdiv.lm.distillation_loss].

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxdiv import lm
      >>> k = jax.random.split(jax.random.key(0), 4)
      >>> hs, ws = jax.random.normal(k[0], (6, 4)), jax.random.normal(k[1], (4, 10))
      >>> ht, wt = jax.random.normal(k[2], (6, 5)), jax.random.normal(k[3], (5, 10))
      >>> fused = lm.fused_linear_distillation_loss(hs, ws, ht, wt, chunk_size=4)
      >>> plain = lm.distillation_loss(hs @ ws, ht @ wt)
      >>> bool(jnp.allclose(fused, plain, rtol=1e-5))
      True

    References:
      Hinton, Vinyals and Dean, "Distilling the knowledge in a neural
      network", 2015; Hsu et al., "Liger Kernel: efficient Triton kernels for
      LLM training" (the fused-linear idea), 2024.
    """
    fn = "fused_linear_distillation_loss"
    name = f"lm.{fn}"
    loss_config = _check_config(
        fn,
        reduction,
        divergence=divergence,
        beta=beta,
        alpha=alpha,
        temperature=temperature,
        temperature_scaling=temperature_scaling,
        soft_weight=soft_weight,
        hard_weight=hard_weight,
        logit_softcap=logit_softcap,
    )
    names = ("student_hidden", "student_weight", "teacher_hidden", "teacher_weight")
    values = (student_hidden, student_weight, teacher_hidden, teacher_weight)
    arrays = [chunking.as_float_operand(n, x, fn) for n, x in zip(names, values, strict=True)]
    hs, ws, ht, wt = arrays
    if (
        hs.ndim < 1
        or ht.ndim < 1
        or ws.ndim != 2
        or wt.ndim != 2
        or hs.shape[:-1] != ht.shape[:-1]
        or hs.shape[-1] != ws.shape[0]
        or ht.shape[-1] != wt.shape[0]
        or ws.shape[1] != wt.shape[1]
    ):
        shapes = ", ".join(f"{n} {x.shape}" for n, x in zip(names, arrays, strict=True))
        raise ValueError(
            f"jaxdiv.{name}: expected student_hidden [..., h], student_weight [h, vocab], "
            f"teacher_hidden [..., h_t], teacher_weight [h_t, vocab]; got {shapes}."
        )
    biases = {}
    for key, b in (("student_bias", student_bias), ("teacher_bias", teacher_bias)):
        if b is not None:
            b = chunking.as_float_operand(key, b, fn)
            if b.shape != (ws.shape[1],):
                raise ValueError(
                    f"jaxdiv.{name}: {key} has shape {b.shape}; expected ({ws.shape[1]},), "
                    "the vocabulary."
                )
            biases[key] = b
    if chunk_size is None:
        chunk_size = chunking.default_chunk_size(ws.shape[1])
    chunk_size = val.positive_int("chunk_size", chunk_size, fn=name)
    token_shape = hs.shape[:-1]
    keep, y = _counted_tokens(labels, where, token_shape, ignore_index, fn)
    in_shard_map = axis_name is not None or token_axis_name is not None
    if y is not None and not in_shard_map:
        chunking.check_label_range(
            jnp.asarray(labels), keep, ws.shape[1], ignore_index, name, "the weights' vocabulary"
        )
    tokens = math.prod(token_shape)
    operands = {
        "hs": hs.reshape(tokens, hs.shape[-1]),
        "ws": ws,
        # the teacher is a constant
        "ht": jax.lax.stop_gradient(ht.reshape(tokens, ht.shape[-1])),
        "wt": jax.lax.stop_gradient(wt),
        "keep": keep.reshape(tokens),
    }
    if "student_bias" in biases:
        operands["bs"] = biases["student_bias"]
    if "teacher_bias" in biases:
        operands["bt"] = jax.lax.stop_gradient(biases["teacher_bias"])
    if y is not None:
        operands["labels"] = y.reshape(tokens)
    config = _Chunking(
        loss_config,
        reduction,
        max(1, min(chunk_size, tokens)),  # no tokens: one empty loop, a loss of 0
        vocab_axes=chunking.mesh_axes(axis_name),
        token_axes=chunking.mesh_axes(token_axis_name),
    )
    layout = (
        None
        if in_shard_map
        else chunking.explicit_layout(
            [operands["hs"], ws, *(x for k, x in operands.items() if k not in ("hs", "ws"))],
            fn,
            ("student_hidden", "student_weight"),
        )
    )
    if layout is not None:
        loss = _fused_loss_on_mesh(config, layout, operands)
    else:
        if not in_shard_map:  # an automatic mesh may split the tokens (see chunking.chunks)
            devices = jax.device_count()
            config = config._replace(chunk_size=-(-config.chunk_size // devices) * devices)
        loss = _fused_loss_dispatch(config, operands)
    return loss.reshape(token_shape) if reduction == "none" else loss


class _Chunking(NamedTuple):
    """The static configuration of the chunked loss: each token's loss, the reduction, the
    tokens per chunk, and the mesh axes that split the vocabulary and the tokens (None where
    unsplit)."""

    loss: _TokenLoss
    reduction: str
    chunk_size: int
    vocab_axes: tuple[str, ...] | None
    token_axes: tuple[str, ...] | None


def _fused_loss_dispatch(config: _Chunking, operands: dict) -> jax.Array:
    if config.reduction == "none":
        return _fused_token_losses(config, operands)
    return _fused_scalar_loss(config, operands)


def _fused_loss_on_mesh(config: _Chunking, layout: chunking.Layout, operands: dict) -> jax.Array:
    """The chunked loss for operands with explicit shardings: the chunk loop runs on each
    device's tokens and vocabulary columns (a loop cannot run over a split axis)."""
    mesh, token_axes, vocab_axes = layout
    local = operands["hs"].shape[0] // math.prod(mesh.shape[a] for a in token_axes or ())
    config = config._replace(
        chunk_size=max(1, min(config.chunk_size, local)),
        vocab_axes=vocab_axes,
        token_axes=token_axes,
    )
    spec = jax.sharding.PartitionSpec
    specs = {
        "hs": spec(token_axes, None),
        "ws": spec(None, vocab_axes),
        "ht": spec(token_axes, None),
        "wt": spec(None, vocab_axes),
        "keep": spec(token_axes),
        "bs": spec(vocab_axes),
        "bt": spec(vocab_axes),
        "labels": spec(token_axes),
    }
    specs = {k: specs[k] for k in operands}
    args = {
        k: jax.sharding.reshard(x, jax.sharding.NamedSharding(mesh, specs[k]))
        for k, x in operands.items()
    }
    out = spec(token_axes) if config.reduction == "none" else spec()
    per_device = chunking.shard_map(
        partial(_fused_loss_dispatch, config), mesh=mesh, in_specs=(specs,), out_specs=out
    )
    return per_device(args)


def _sweep(config: _Chunking, operands: dict, cotangents: jax.Array | None):
    """Every chunk in turn: the per-token losses and, given per-token cotangents, the
    student's gradients, accumulated in float32 (or wider)."""
    axis_name, token_axes = config.vocab_axes, config.token_axes
    hs, ws, ht, wt = (operands[k] for k in ("hs", "ws", "ht", "wt"))
    bs, bt = operands.get("bs"), operands.get("bt")
    acc = val.compute_dtype(hs, ws, ht, wt)

    def matmul(a, b):  # 16-bit operands, float32 products: no rounding of logits or gradients
        return jnp.matmul(a, b, preferred_element_type=acc).astype(acc)

    def logits(h, w, b):
        x = matmul(h, w)
        return x if b is None else x + b.astype(acc)[None, :]

    def losses(h_s, h_t, y):
        teacher = logits(h_t, wt, bt)
        return lambda x: _token_losses(config.loss, x, teacher, y, axis_name)

    keys = ["hs", "ht", "keep"] + (["labels"] if "labels" in operands else [])
    chunked = {k: chunking.chunks(operands[k], config.chunk_size) for k in keys}
    tokens = hs.shape[0]
    if cotangents is None:

        def values_only(_, chunk):
            values = losses(chunk["hs"], chunk["ht"], chunk.get("labels"))(
                logits(chunk["hs"], ws, bs)
            )
            return None, jnp.where(chunk["keep"], values, 0.0)

        _, values = jax.lax.scan(values_only, None, chunked)
        return chunking.unchunk(values, tokens), None
    chunked["cot"] = chunking.chunks(cotangents, config.chunk_size)

    def step(carry, chunk):
        grad_ws, grad_bs = carry
        h_s, m = chunk["hs"], chunk["keep"]
        values, vjp = jax.vjp(losses(h_s, chunk["ht"], chunk.get("labels")), logits(h_s, ws, bs))
        (grad_logits,) = vjp(jnp.where(m, chunk["cot"].astype(acc), 0.0))
        grad_h = num.psum(matmul(grad_logits, ws.T), axis_name)  # every vocabulary shard adds
        grad_ws = grad_ws + matmul(h_s.T, grad_logits)
        if grad_bs is not None:
            grad_bs = grad_bs + jnp.sum(grad_logits, axis=0)
        return (grad_ws, grad_bs), (jnp.where(m, values, 0.0), grad_h.astype(hs.dtype))

    # With the tokens split, each device's sums differ: the carries start as such (vary).
    init = (jnp.zeros_like(ws, dtype=acc), None if bs is None else jnp.zeros_like(bs, dtype=acc))
    init = num.vary(init, token_axes)
    (grad_ws, grad_bs), (values, grad_hs) = jax.lax.scan(step, init, chunked)
    grads = {
        "hs": chunking.unchunk(grad_hs, tokens),
        "ws": num.psum(grad_ws, token_axes).astype(ws.dtype),
    }
    if grad_bs is not None and bs is not None:
        grads["bs"] = num.psum(grad_bs, token_axes).astype(bs.dtype)
    return chunking.unchunk(values, tokens), grads


def _student_cotangents(operands: dict, grads: dict, scale) -> dict:
    """The cotangents of every operand: the student's scaled gradients, zero for the rest."""
    out = {}
    for k, x in operands.items():
        if k in grads:
            out[k] = scale(grads[k])
        elif jnp.issubdtype(x.dtype, jnp.floating):
            out[k] = jnp.zeros_like(x)
        else:
            out[k] = None
    return out


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def _fused_scalar_loss(config, operands):
    values, _ = _sweep(config, operands, None)  # not differentiated: no gradient products
    return _reduce(values, operands["keep"], config.reduction, config.token_axes)


def _fused_scalar_fwd(config, operands):
    keep = operands["keep"]
    acc = val.compute_dtype(*(operands[k] for k in ("hs", "ws", "ht", "wt")))
    weights = jnp.ones(keep.shape, acc)
    if config.reduction == "mean":
        count = num.psum(jnp.sum(keep, dtype=jnp.int32), config.token_axes)
        weights = weights / jnp.maximum(count, 1).astype(acc)
    values, grads = _sweep(config, operands, weights)
    loss = num.psum(jnp.sum(values * weights), config.token_axes)
    return loss, (grads, operands)


def _fused_scalar_bwd(config, residuals, g):
    grads, operands = residuals

    def scale(x):  # g times a gradient kept in its input's dtype, multiplied in float32
        return (g * x.astype(g.dtype)).astype(x.dtype)

    return (_student_cotangents(operands, grads, scale),)


_fused_scalar_loss.defvjp(_fused_scalar_fwd, _fused_scalar_bwd)


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def _fused_token_losses(config, operands):
    return _sweep(config, operands, None)[0]


def _fused_token_fwd(config, operands):
    return _sweep(config, operands, None)[0], operands


def _fused_token_bwd(config, operands, g):
    _, grads = _sweep(config, operands, g)
    return (_student_cotangents(operands, grads, lambda x: x),)


_fused_token_losses.defvjp(_fused_token_fwd, _fused_token_bwd)
