"""Knowledge-distillation losses between teacher and student logits over a vocabulary."""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdiv import _logits
from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv.lm import _chunking as chunking

DIVERGENCES = ("forward_kl", "reverse_kl", "jsd")


def _check_config(divergence: str, beta: float, temperature: float, fn: str) -> tuple[float, float]:
    if divergence not in DIVERGENCES:
        raise ValueError(
            f"jaxdiv.lm.{fn}: divergence must be one of {', '.join(DIVERGENCES)}, "
            f"got {divergence!r}."
        )
    beta = val.check_weight(beta, fn=f"lm.{fn}", name="beta")
    t = val.concrete_float("temperature", temperature, fn=f"lm.{fn}")
    if not (t > 0 and math.isfinite(t)):
        raise ValueError(f"jaxdiv.lm.{fn}: temperature must be > 0, got {temperature!r}.")
    return beta, t


def token_divergences(
    student_logits: jax.Array,
    teacher_logits: jax.Array,
    *,
    divergence: str,
    beta: float,
    temperature: float,
    axis_name: str | None = None,
) -> jax.Array:
    """The per-token divergence (times `temperature**2`), vocabulary on the last axis."""
    s = student_logits / temperature
    t = teacher_logits / temperature
    if divergence == "forward_kl":
        d = _logits.kl_divergence_from_logits(t, s, axis_name=axis_name)
    elif divergence == "reverse_kl":
        d = _logits.kl_divergence_from_logits(s, t, axis_name=axis_name)
    else:
        d = _logits.js_divergence_from_logits(t, s, weight=beta, axis_name=axis_name)
    return d * temperature**2


def distillation_loss(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    *,
    divergence: str = "forward_kl",
    beta: float = 0.5,
    temperature: float = 1.0,
    where: ArrayLike | None = None,
    axis_name: str | None = None,
    token_axis_name: str | None = None,
) -> jax.Array:
    r"""Distillation loss between student and teacher logits, averaged over tokens.

    With `p_t = softmax(teacher / T)` and `p_s = softmax(student / T)`:

    * `"forward_kl"`: KL(p_t || p_s) (mass-covering, the classic Hinton loss);
    * `"reverse_kl"`: KL(p_s || p_t) (mode-seeking);
    * `"jsd"`: the generalised Jensen-Shannon divergence
      `beta KL(p_t || m) + (1 - beta) KL(p_s || m)`, `m = beta p_t + (1 - beta) p_s`.

    Each token's divergence is multiplied by `T**2` (Hinton et al. 2015), so
    that gradient magnitudes do not shrink as the temperature grows, and the
    result is the mean over the unmasked tokens. PyTorch's
    `KLDivLoss(reduction="batchmean")` divides the sum by the batch size
    instead, which for [batch, seq, vocab] inputs is not a per-token mean and
    counts padding tokens.

    Conventions shared with
    [`fused_linear_distillation_loss`][jaxdiv.lm.fused_linear_distillation_loss]:

    * the teacher is a constant: its logits pass through
      `jax.lax.stop_gradient`, so the gradient with respect to them (and to
      whatever produced them) is zero;
    * no tokens, or every token masked, give a loss of 0 with a zero gradient
      (the mean of nothing is 0, never NaN);
    * 16-bit (bfloat16, float16) logits are computed on in float32 and the
      loss is returned in float32 (the inputs' dtype when that is wider); the
      gradient with respect to each input comes back in that input's dtype.

    Args:
      student_logits: `[..., vocab]` logits of the student.
      teacher_logits: `[..., vocab]` logits of the teacher, a constant (no
        gradient reaches them).
      divergence: `"forward_kl"`, `"reverse_kl"` or `"jsd"`.
      beta: the JSD weight in [0, 1].
      temperature: `T > 0`.
      where: boolean token mask of shape `logits.shape[:-1]` (False for
        padding).
      axis_name: the mesh axis that splits the vocabulary (inside `shard_map`).
      token_axis_name: the mesh axis that splits the tokens (inside
        `shard_map`): the mean is then over the unmasked tokens of all
        devices. Under plain `jit` with sharded inputs nothing is needed.

    Returns:
      A scalar, in nats: float32 for 16-bit logits, else their dtype.

    Raises:
      TypeError: non-floating logits or a non-boolean mask.
      ValueError: an unknown divergence, `beta` outside [0, 1], a
        temperature that is not a finite number > 0, logits of different
        shapes or without a vocabulary axis, or a mask of the wrong shape.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import lm
      >>> s = jnp.array([[0.0, 0.0], [1.0, 2.0]])
      >>> float(lm.distillation_loss(s, s))
      0.0

    References:
      G. Hinton, O. Vinyals and J. Dean, Distilling the knowledge in a neural
      network, 2015; R. Agarwal et al., On-policy distillation of language
      models (GKD), 2024.
    """
    fn = "distillation_loss"
    beta, t = _check_config(divergence, beta, temperature, fn)
    student = val.as_float("student_logits", student_logits, fn=f"lm.{fn}")
    teacher = val.as_float("teacher_logits", teacher_logits, fn=f"lm.{fn}")
    if student.ndim < 1 or teacher.ndim < 1:
        raise ValueError(
            f"jaxdiv.lm.{fn}: student_logits and teacher_logits must have a vocabulary "
            f"axis, [..., vocab]; got shapes {student.shape} and {teacher.shape}."
        )
    if student.shape != teacher.shape:
        raise ValueError(
            f"jaxdiv.lm.{fn}: student_logits has shape {student.shape} and teacher_logits "
            f"has shape {teacher.shape}; they must be equal, [..., vocab]."
        )
    mask = chunking.token_mask(where, student.shape[:-1], fn)
    acc = val.compute_dtype(student, teacher)
    teacher = jax.lax.stop_gradient(teacher).astype(acc)
    values = token_divergences(
        student.astype(acc),
        teacher,
        divergence=divergence,
        beta=beta,
        temperature=t,
        axis_name=axis_name,
    )
    return num.masked_mean(values, mask, axis_name=token_axis_name)


def fused_linear_distillation_loss(
    student_hidden: ArrayLike,
    student_weight: ArrayLike,
    teacher_hidden: ArrayLike,
    teacher_weight: ArrayLike,
    *,
    divergence: str = "forward_kl",
    beta: float = 0.5,
    temperature: float = 1.0,
    where: ArrayLike | None = None,
    chunk_size: int = 1024,
    axis_name: str | None = None,
    token_axis_name: str | None = None,
) -> jax.Array:
    r"""[`distillation_loss`][jaxdiv.lm.distillation_loss] of `hidden @ weight` logits, never
    materialising them.

    The tokens are processed in chunks of `chunk_size`: each chunk's student
    and teacher logits (`[chunk_size, vocab]`) are formed, reduced to the
    chunk's loss and the gradient of the loss with respect to the chunk's
    student logits, which is contracted at once into the gradients of the
    student hidden states and weight. A custom VJP returns those gradients, so
    neither the forward nor the backward pass holds a `[tokens, vocab]`
    array.

    The conventions of [`distillation_loss`][jaxdiv.lm.distillation_loss] hold here too: the
    teacher is a constant (its hidden states and weight get a zero gradient, as if
    wrapped in `jax.lax.stop_gradient`); no tokens, or every token masked,
    give 0 with a zero gradient. 16-bit operands (bfloat16, float16, in any
    combination) are multiplied with float32 products (`preferred_element_type`),
    so neither the logits nor their gradients are rounded to 16 bits, and the
    loss and the weight's gradient are accumulated over the chunks in float32:
    the loss is returned in float32 and each gradient in the dtype of its
    input. The float32 accumulator of the weight's gradient is the one
    weight-sized temporary.

    With `axis_name`, inside `shard_map`, both weights hold this device's
    columns of the vocabulary (`[hidden, vocab / devices]`) and the hidden
    states are whole on every device: each device forms only its columns of
    the logits, the row maxima and sums are combined across devices, and the
    gradient of the student hidden states is summed over them (each device
    gets the gradient of its own weight columns).

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
      student_hidden: `[tokens, hidden]`.
      student_weight: `[hidden, vocab]`.
      teacher_hidden: `[tokens, teacher_hidden]`.
      teacher_weight: `[teacher_hidden, vocab]`.
      divergence: `"forward_kl"`, `"reverse_kl"` or `"jsd"`, as in
        [`distillation_loss`][jaxdiv.lm.distillation_loss].
      beta: the JSD weight in [0, 1].
      temperature: `T > 0`.
      where: boolean mask of shape `[tokens]`.
      chunk_size: tokens per chunk, an integer >= 1 (the peak memory is about
        `chunk_size * vocab` floats times a small constant). Outside
        `shard_map` and without explicit shardings, it is rounded up to a
        multiple of `jax.device_count()` (see above).
      axis_name: the mesh axis that splits the vocabulary (inside `shard_map`).
      token_axis_name: the mesh axis that splits the tokens (inside
        `shard_map`, data parallelism): the mean is over the unmasked
        tokens of all devices, and the weight's gradient is summed over them.

    Returns:
      A scalar equal to `distillation_loss(student_hidden @ student_weight,
      teacher_hidden @ teacher_weight, ...)` with the products taken in
      float32: float32 for 16-bit operands, else their common dtype.

    Raises:
      TypeError: non-floating operands or a non-boolean mask.
      ValueError: operands that are not matrices of matching sizes, a
        `chunk_size` that is not an integer >= 1, or a bad configuration as
        in [`distillation_loss`][jaxdiv.lm.distillation_loss].

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
    beta, t = _check_config(divergence, beta, temperature, fn)
    names = ("student_hidden", "student_weight", "teacher_hidden", "teacher_weight")
    values = (student_hidden, student_weight, teacher_hidden, teacher_weight)
    arrays = [chunking.as_float_operand(n, x, fn) for n, x in zip(names, values, strict=True)]
    hs, ws, ht, wt = arrays
    if (
        hs.ndim != 2
        or ht.ndim != 2
        or ws.ndim != 2
        or wt.ndim != 2
        or hs.shape[0] != ht.shape[0]
        or hs.shape[1] != ws.shape[0]
        or ht.shape[1] != wt.shape[0]
        or ws.shape[1] != wt.shape[1]
    ):
        shapes = ", ".join(f"{n} {x.shape}" for n, x in zip(names, arrays, strict=True))
        raise ValueError(
            f"jaxdiv.lm.{fn}: expected student_hidden [tokens, h], student_weight [h, vocab], "
            f"teacher_hidden [tokens, h_t], teacher_weight [h_t, vocab]; got {shapes}."
        )
    chunk_size = val.positive_int("chunk_size", chunk_size, fn=f"lm.{fn}")
    ht, wt = jax.lax.stop_gradient(ht), jax.lax.stop_gradient(wt)  # the teacher is a constant
    tokens = hs.shape[0]
    mask = chunking.token_mask(where, (tokens,), fn)
    mask = jnp.ones((tokens,), bool) if mask is None else mask
    in_shard_map = axis_name is not None or token_axis_name is not None
    layout = (
        None
        if in_shard_map
        else chunking.explicit_layout((hs, ws, ht, wt), fn, ("student_hidden", "student_weight"))
    )
    if layout is not None:
        config = _Chunking(divergence, beta, t, chunk_size, vocab_axes=None, token_axes=None)
        return _fused_loss_on_mesh(config, layout, hs, ws, ht, wt, mask)
    size = max(1, min(chunk_size, tokens))  # no tokens: one empty loop, a loss of 0
    if not in_shard_map:  # an automatic mesh may split the tokens (see chunking.chunks)
        devices = jax.device_count()
        size = -(-size // devices) * devices
    config = _Chunking(
        divergence,
        beta,
        t,
        size,
        vocab_axes=chunking.mesh_axes(axis_name),
        token_axes=chunking.mesh_axes(token_axis_name),
    )
    return _fused_loss(config, hs, ws, ht, wt, mask)


class _Chunking(NamedTuple):
    """The static configuration of the chunked loss: the divergence, its parameters, the
    tokens per chunk, and the mesh axes that split the vocabulary and the tokens (None where
    unsplit)."""

    divergence: str
    beta: float
    temperature: float
    chunk_size: int
    vocab_axes: tuple[str, ...] | None
    token_axes: tuple[str, ...] | None


def _fused_loss_on_mesh(
    config: _Chunking, layout: chunking.Layout, hs, ws, ht, wt, mask
) -> jax.Array:
    """The chunked loss for operands with explicit shardings: the chunk loop runs on each
    device's tokens and vocabulary columns (a loop cannot run over a split axis)."""
    mesh, token_axes, vocab_axes = layout
    local = hs.shape[0] // math.prod(mesh.shape[a] for a in token_axes or ())
    config = config._replace(
        chunk_size=max(1, min(config.chunk_size, local)),
        vocab_axes=vocab_axes,
        token_axes=token_axes,
    )
    spec = jax.sharding.PartitionSpec
    specs = (
        spec(token_axes, None),
        spec(None, vocab_axes),
        spec(token_axes, None),
        spec(None, vocab_axes),
        spec(token_axes),
    )
    args = [
        jax.sharding.reshard(x, jax.sharding.NamedSharding(mesh, sp))
        for x, sp in zip((hs, ws, ht, wt, mask), specs, strict=True)
    ]
    per_device = chunking.shard_map(
        partial(_fused_loss, config), mesh=mesh, in_specs=specs, out_specs=spec()
    )
    return per_device(*args)


def _loss_and_grads(config, hs, ws, ht, wt, mask):
    """The loss and the student's gradients, accumulated in float32 (or wider) over chunks."""
    axis_name, token_axes = config.vocab_axes, config.token_axes
    acc = val.compute_dtype(hs, ws, ht, wt)
    count = jnp.maximum(num.psum(jnp.sum(mask, dtype=jnp.int32), token_axes), 1).astype(acc)

    def matmul(a, b):  # 16-bit operands, float32 products: no rounding of logits or gradients
        return jnp.matmul(a, b, preferred_element_type=acc).astype(acc)

    def chunk_loss(logits, teacher, m):
        values = token_divergences(
            logits,
            teacher,
            divergence=config.divergence,
            beta=config.beta,
            temperature=config.temperature,
            axis_name=axis_name,
        )
        return jnp.sum(jnp.where(m, values, 0.0)) / count

    def step(carry, chunk):
        loss, grad_ws = carry
        h_s, h_t, m = chunk
        logits = matmul(h_s, ws)
        teacher = matmul(h_t, wt)
        value, grad_logits = jax.value_and_grad(chunk_loss)(logits, teacher, m)
        grad_h = num.psum(matmul(grad_logits, ws.T), axis_name)  # every vocabulary shard adds
        return (loss + value, grad_ws + matmul(h_s.T, grad_logits)), grad_h.astype(hs.dtype)

    # With the tokens split, each device's sums differ: the carries start as such (vary).
    init = num.vary((jnp.zeros((), acc), jnp.zeros_like(ws, dtype=acc)), token_axes)
    (loss, grad_ws), grad_hs = jax.lax.scan(
        step, init, tuple(chunking.chunks(x, config.chunk_size) for x in (hs, ht, mask))
    )
    grad_hs = chunking.unchunk(grad_hs, hs.shape[0])
    return num.psum(loss, token_axes), (grad_hs, num.psum(grad_ws, token_axes).astype(ws.dtype))


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def _fused_loss(config, hs, ws, ht, wt, mask):
    return _loss_and_grads(config, hs, ws, ht, wt, mask)[0]


def _fused_fwd(config, hs, ws, ht, wt, mask):
    loss, grads = _loss_and_grads(config, hs, ws, ht, wt, mask)
    return loss, (grads, ht, wt)


def _fused_bwd(config, residuals, g):
    (grad_hs, grad_ws), ht, wt = residuals

    def scale(x):  # g times a gradient kept in its input's dtype, multiplied in float32
        return (g * x.astype(g.dtype)).astype(x.dtype)

    return scale(grad_hs), scale(grad_ws), jnp.zeros_like(ht), jnp.zeros_like(wt), None


_fused_loss.defvjp(_fused_fwd, _fused_bwd)
