"""Distillation from an offline teacher stored as its top-k log-probabilities per token."""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxdiv import _logits
from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv.lm import _chunking as chunking

TAILS = ("renormalize", "bucket")
REDUCTIONS = ("mean", "sum", "none")


def topk_distillation_loss(
    student_logits: ArrayLike,
    teacher_topk_logprobs: ArrayLike,
    teacher_topk_indices: ArrayLike,
    *,
    tail: Literal["renormalize", "bucket"] = "renormalize",
    where: ArrayLike | None = None,
    reduction: Literal["mean", "sum", "none"] = "mean",
) -> jax.Array:
    r"""Forward KL from a teacher known only by its top-k log-probabilities to the student.

    Offline distillation stores, for each token, the teacher's $k$ most
    probable classes $i_1, \dots, i_k$ and their log-probabilities
    $\log p_t(i_j)$ under the teacher's full distribution. Two conventions
    turn them into a distribution to compare the student with:

    * `tail="renormalize"`: both distributions are restricted to the $k$
      classes and renormalised there,
      $\mathrm{KL}(\bar p_t \,\Vert\, \bar p_s)$ with
      $\bar p(i_j) = p(i_j) / \sum_l p(i_l)$ (MaxText's `renormalize`; TRL's
      `top_k` without its tail);
    * `tail="bucket"`: the teacher's remaining mass $1 - \sum_j p_t(i_j)$ is
      kept as one tail bin, and the student's mass outside the $k$ classes
      fills the same bin: a KL over $k + 1$ outcomes (MaxText's
      `other_bucket`, TRL's `add_tail`). It is the KL between the two
      distributions coarsened to the $k$ classes and "the rest", so it never
      exceeds the full KL.

    Entries of `-inf` (a teacher with fewer than $k$ classes in its support)
    have probability 0 and contribute nothing, with finite gradients. With
    `tail="renormalize"` a token whose stored entries are all `-inf` (padding)
    gives 0 with a zero gradient; with `tail="bucket"` such a teacher puts all
    its mass in the tail. Mask padding with `where` either way. The student's
    tail is a log-sum-exp over its other classes, without cancellation where
    the $k$ classes hold nearly all its mass.
    Teacher probabilities that sum to 1 within the rounding of their sum, or
    slightly more (rounded storage), leave an empty tail rather than a spurious
    bin or a NaN.

    Args:
      student_logits: `[..., vocab]` logits of the student.
      teacher_topk_logprobs: `[..., k]` log-probabilities of the teacher's
        top-k classes (a constant: no gradient reaches them).
      teacher_topk_indices: `[..., k]` integer class indices in `[0, vocab)`,
        distinct within a token (not checked: repeated indices count twice).
      tail: `"renormalize"` or `"bucket"`.
      where: optional boolean token mask of shape `student_logits.shape[:-1]`.
      reduction: `"mean"` over the unmasked tokens (0 with a zero gradient when
        there are none), `"sum"`, or `"none"` (per token, 0 where masked).

    Returns:
      The loss in nats: a scalar, or per token with `reduction="none"`;
      float32 for 16-bit logits. An index outside `[0, vocab)` gives NaN under
      `jit` (never a plausible number) and a `ValueError` with concrete
      indices.

    Raises:
      TypeError: non-floating logits or log-probabilities, non-integer indices
        or a non-boolean mask.
      ValueError: an unknown `tail` or `reduction`, shapes that do not match,
        or indices out of range (concrete indices).

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import lm
      >>> student = jnp.log(jnp.array([[0.5, 0.3, 0.2]]))
      >>> top2 = jnp.log(jnp.array([[0.5, 0.3]])), jnp.array([[0, 1]])
      >>> [round(float(lm.topk_distillation_loss(student, *top2, tail=t)), 6)
      ...  for t in ("renormalize", "bucket")]
      [0.0, 0.0]

    References:
      G. Hinton, O. Vinyals and J. Dean, Distilling the knowledge in a neural
      network, 2015; the top-k storage of offline teachers follows MaxText's and
      TRL's distillation options.
    """
    name = "lm.topk_distillation_loss"
    if tail not in TAILS:
        raise ValueError(f"jaxdiv.{name}: tail must be one of {', '.join(TAILS)}, got {tail!r}.")
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"jaxdiv.{name}: reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}."
        )
    s = val.as_float("student_logits", student_logits, fn=name)
    lt = val.as_float("teacher_topk_logprobs", teacher_topk_logprobs, fn=name)
    idx = jnp.asarray(teacher_topk_indices)
    if not jnp.issubdtype(idx.dtype, jnp.integer):
        raise TypeError(
            f"jaxdiv.{name}: teacher_topk_indices must be an integer array, got dtype {idx.dtype}."
        )
    if s.ndim < 1 or lt.shape != idx.shape or lt.shape[:-1] != s.shape[:-1] or lt.ndim < 1:
        raise ValueError(
            f"jaxdiv.{name}: expected student_logits [..., vocab] and teacher_topk_logprobs and "
            f"teacher_topk_indices [..., k] with the same leading shape; got {s.shape}, "
            f"{lt.shape} and {idx.shape}."
        )
    vocab = s.shape[-1]
    if not isinstance(idx, jax.core.Tracer):
        bad = (np.asarray(idx) < 0) | (np.asarray(idx) >= vocab)
        if bad.any():
            raise ValueError(
                f"jaxdiv.{name}: teacher_topk_indices must lie in [0, {vocab}); found "
                f"{int(np.asarray(idx)[bad][0])}."
            )
    mask = chunking.token_mask(where, s.shape[:-1], "topk_distillation_loss")
    acc = val.compute_dtype(s, lt)
    s, lt = s.astype(acc), jax.lax.stop_gradient(lt).astype(acc)
    inside = (idx >= 0) & (idx < vocab)  # negative indices would wrap around
    picked = jnp.take_along_axis(s, jnp.where(inside, idx, 0), axis=-1)
    picked = jnp.where(inside, picked, jnp.nan)
    if tail == "renormalize":
        # A token whose stored log-probabilities are all -inf (padding) carries no target.
        stored = jnp.any(lt > -jnp.inf, axis=-1)
        values = _logits.kl_divergence_from_logits(jnp.where(stored[..., None], lt, 0.0), picked)
        values = jnp.where(stored, values, 0.0)
    else:
        lse = num.logsumexp(s, axis=-1)
        taken = jnp.put_along_axis(jnp.zeros(s.shape, bool), idx, True, axis=-1, inplace=False)
        rest = num.logsumexp(jnp.where(taken, -jnp.inf, s), axis=-1)
        # A tail below the rounding of a sum of k probabilities is empty, not a spurious bin.
        teacher_mass = num.logsumexp(lt, axis=-1)
        rounding = lt.shape[-1] * float(jnp.finfo(acc).eps)
        teacher_mass = jnp.where(teacher_mass > -rounding, 0.0, teacher_mass)
        teacher = jnp.concatenate([lt, _log1m_exp(teacher_mass)[..., None]], axis=-1)
        student = jnp.concatenate([picked, rest[..., None]], axis=-1) - lse[..., None]
        values = _logits.kl_divergence_from_logits(teacher, student)
    if mask is not None:
        values = jnp.where(mask, values, 0.0)
    if reduction == "none":
        return values
    if reduction == "sum":
        return jnp.sum(values)
    return num.masked_mean(values, mask)


def _log1m_exp(x: jax.Array) -> jax.Array:
    """`log(1 - exp(x))` for `x <= 0`: -inf at 0, accurate near 0 and far below it."""
    return jnp.where(
        x > -0.6931471805599453,
        num.safe_log(-jnp.expm1(jnp.minimum(x, 0.0))),
        jnp.log1p(-jnp.exp(jnp.minimum(x, -0.6931471805599453))),
    )
