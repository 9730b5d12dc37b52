"""The next-token cross-entropy of `hidden @ weight` logits against integer labels, in chunks of
tokens, never forming the `[tokens, vocab]` logits."""

from __future__ import annotations

import math
from functools import partial
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv.lm import _chunking as chunking

REDUCTIONS = ("mean", "sum", "none")


class CrossEntropyStats(NamedTuple):
    """Per-token statistics of the predicted distribution, shaped like the labels.

    Tokens that do not count (an `ignore_index` label or `where` False) hold 0
    in every field. Returned by
    [`fused_linear_cross_entropy`][jaxdiv.lm.fused_linear_cross_entropy] with
    `return_stats=True`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import lm
      >>> h, w = jnp.ones((2, 3)), jnp.zeros((3, 4))
      >>> _, stats = lm.fused_linear_cross_entropy(h, w, jnp.array([0, 1]), return_stats=True)
      >>> [round(float(x), 4) for x in stats.entropy]  # uniform over 4 classes: log 4
      [1.3863, 1.3863]
    """

    #: `log softmax(logits)[label]`, the log-probability of the label.
    logprob: jax.Array
    #: the entropy of `softmax(logits)`, in nats.
    entropy: jax.Array
    #: `logsumexp(logits)`, the log-normalizer (what the z-loss squares).
    logsumexp: jax.Array


class _Config(NamedTuple):
    """The static configuration of the chunked cross-entropy."""

    label_smoothing: float
    z_loss: float
    logit_softcap: float | None
    chunk_size: int
    stats: bool
    vocab_axes: tuple[str, ...] | None
    token_axes: tuple[str, ...] | None


class _TokenValues(NamedTuple):
    """What one pass computes per token: the loss and the statistics (None where not asked for;
    in `shard_map`'s out_specs, the fields hold partition specs)."""

    loss: Any
    logprob: Any = None
    entropy: Any = None
    logsumexp: Any = None


class _Cotangents(NamedTuple):
    """Per-token weights of the loss and of the statistics in the gradient of a pass (None
    where zero)."""

    loss: Any
    logprob: Any = None
    entropy: Any = None
    logsumexp: Any = None


class _Grads(NamedTuple):
    hidden: jax.Array
    weight: jax.Array
    bias: jax.Array | None


def fused_linear_cross_entropy(
    hidden: ArrayLike,
    weight: ArrayLike,
    labels: ArrayLike,
    *,
    bias: ArrayLike | None = None,
    ignore_index: int | None = -100,
    where: ArrayLike | None = None,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    logit_softcap: float | None = None,
    chunk_size: int | None = None,
    reduction: Literal["mean", "sum", "none"] = "mean",
    return_stats: bool = False,
    axis_name: str | None = None,
    token_axis_name: str | None = None,
) -> jax.Array | tuple[jax.Array, CrossEntropyStats]:
    r"""Cross-entropy of the logits `hidden @ weight + bias` against integer labels, computed in
    chunks of tokens without forming the `[tokens, vocab]` logits.

    With $z = \operatorname{softcap}(h W + b)$, $\operatorname{softcap}(x) = c \tanh(x / c)$
    (Gemma 2; the identity without `logit_softcap`), $V$ the vocabulary size,
    $\varepsilon$ the label smoothing and $\lambda$ the z-loss weight, each
    token's loss is

    $$
    \ell = \operatorname{lse}(z) - (1 - \varepsilon)\, z_y - \frac{\varepsilon}{V} \sum_v z_v
      + \lambda \operatorname{lse}(z)^2,
    $$

    the cross-entropy of `softmax(z)` against the smoothed one-hot label
    (optax's `smooth_labels`, then `softmax_cross_entropy`) plus PaLM's
    auxiliary z-loss. A token counts where its label is not `ignore_index`
    and `where` holds; the others count nowhere: they are left out of the
    mean, hold 0 in the per-token outputs and get a zero gradient.

    The tokens are processed `chunk_size` at a time: each chunk's logits are
    formed, reduced to the chunk's losses and statistics and, for a scalar
    loss, to the gradient of the chunk's logits, which is contracted at once
    into the gradients of the hidden states, the weight and the bias. A
    custom VJP returns those gradients, so neither the forward nor the
    backward pass holds a `[tokens, vocab]` array. With `reduction="none"` or
    `return_stats=True` the cotangents of the per-token outputs are not known
    in the forward pass: the backward pass then forms each chunk's logits a
    second time (one more matrix product per chunk), and the statistics are
    differentiable (the log-probability of a policy-gradient loss).

    16-bit operands (bfloat16, float16) are multiplied in their own dtype with
    float32 accumulation (`preferred_element_type`), forward and backward; the
    softmax, the loss and the weight's gradient are accumulated in float32,
    the loss is returned in float32 and each gradient in the dtype of its
    input.

    With `axis_name`, inside `shard_map`, `weight` and `bias` hold this
    device's columns of the vocabulary (device `i` of `n` the columns
    `[i V / n, (i + 1) V / n)`), the hidden states and labels are whole on
    every device and the labels stay global indices. With `token_axis_name`
    the tokens are split: the mean is over the counted tokens of all devices
    and the weight's gradient is summed over them. Under plain `jit` with an
    automatic mesh the chunks are strided so that XLA splits each chunk like
    the tokens (as in
    [`fused_linear_distillation_loss`][jaxdiv.lm.fused_linear_distillation_loss]).

    Args:
      hidden: `[..., H]` hidden states, any leading token dimensions
        (`[batch, seq, H]` included).
      weight: `[H, V]` output projection.
      labels: integer labels of shape `hidden.shape[:-1]`.
      bias: optional `[V]` bias of the logits.
      ignore_index: the label of tokens that do not count (PyTorch's -100),
        or None.
      where: optional boolean mask of shape `labels.shape`; False tokens do
        not count.
      label_smoothing: $\varepsilon \in [0, 1]$.
      z_loss: $\lambda \ge 0$, the weight of `logsumexp(z)**2`.
      logit_softcap: $c > 0$, or None for no cap.
      chunk_size: tokens per chunk, an integer >= 1; None chooses about
        $2^{22}$ logits per chunk and at least 256 tokens (each chunk reads
        the weight and its gradient's accumulator once). Outside `shard_map`
        it is rounded up to a multiple of `jax.device_count()`.
      reduction: `"mean"` over the counted tokens (0 with a zero gradient
        when none counts), `"sum"`, or `"none"` (per token, shaped like
        `labels`).
      return_stats: also return the per-token
        [`CrossEntropyStats`][jaxdiv.lm.CrossEntropyStats].
      axis_name: the mesh axis that splits the vocabulary (inside `shard_map`).
      token_axis_name: the mesh axis that splits the tokens (inside `shard_map`).

    Returns:
      The loss (a scalar, or per token with `reduction="none"`), or
      `(loss, stats)` with `return_stats=True`: float32 for 16-bit operands,
      else their common dtype. A counted label outside `[0, V)` has
      probability 0 under the model and gives `+inf` (and a `-inf`
      log-probability) under `jit`; with concrete labels it is a
      `ValueError`.

    Raises:
      TypeError: non-floating operands, non-integer labels, a non-boolean
        mask or a non-integer `ignore_index`.
      ValueError: shapes that do not match, labels out of range (concrete
        labels), a `label_smoothing` outside [0, 1], a negative or infinite
        `z_loss`, a `logit_softcap` that is not a finite number > 0, a bad
        `chunk_size` or an unknown `reduction`.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> from jaxdiv import lm
      >>> k = jax.random.split(jax.random.key(0), 3)
      >>> h, w = jax.random.normal(k[0], (2, 3, 4)), jax.random.normal(k[1], (4, 10))
      >>> y = jax.random.randint(k[2], (2, 3), 0, 10)
      >>> fused = lm.fused_linear_cross_entropy(h, w, y, chunk_size=4)
      >>> plain = optax.softmax_cross_entropy_with_integer_labels(h @ w, y).mean()
      >>> bool(jnp.allclose(fused, plain, rtol=1e-5))
      True

    References:
      Hsu et al., "Liger Kernel: efficient Triton kernels for LLM training",
      2024; Wijmans et al., "Cut your losses in large-vocabulary language
      models", 2025; Chowdhery et al., "PaLM" (the z-loss), 2022; Gemma Team,
      "Gemma 2" (logit soft-capping), 2024.
    """
    fn = "fused_linear_cross_entropy"
    name = f"lm.{fn}"
    h = chunking.as_float_operand("hidden", hidden, fn)
    w = chunking.as_float_operand("weight", weight, fn)
    b = None if bias is None else chunking.as_float_operand("bias", bias, fn)
    if h.ndim < 1 or w.ndim != 2 or h.shape[-1] != w.shape[0]:
        raise ValueError(
            f"jaxdiv.{name}: expected hidden [..., H] and weight [H, V]; got hidden {h.shape} "
            f"and weight {w.shape}."
        )
    y = chunking.integer_labels(labels, h.shape[:-1], ignore_index, name)
    if b is not None and b.shape != (w.shape[1],):
        raise ValueError(
            f"jaxdiv.{name}: bias has shape {b.shape}; expected ({w.shape[1]},), the weight's "
            f"vocabulary {w.shape}."
        )
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"jaxdiv.{name}: reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}."
        )
    if not isinstance(return_stats, bool):
        raise TypeError(f"jaxdiv.{name}: return_stats must be True or False, got {return_stats!r}.")
    smoothing = val.check_weight(label_smoothing, fn=name, name="label_smoothing")
    z_weight = val.finite_float("z_loss", z_loss, fn=name)
    if z_weight < 0:
        raise ValueError(f"jaxdiv.{name}: z_loss must be >= 0, got {z_loss!r}.")
    cap = chunking.check_softcap(logit_softcap, name)
    token_shape = y.shape
    mask = chunking.token_mask(where, token_shape, fn)
    keep = jnp.ones(token_shape, bool) if ignore_index is None else y != ignore_index
    keep = keep if mask is None else keep & mask
    in_shard_map = axis_name is not None or token_axis_name is not None
    if not in_shard_map:
        chunking.check_label_range(
            y, keep, w.shape[1], ignore_index, name, "the weight's vocabulary"
        )
    tokens = math.prod(token_shape)
    h, y, keep = h.reshape(tokens, h.shape[-1]), y.reshape(tokens), keep.reshape(tokens)
    y = y.astype(jnp.int32)
    if chunk_size is None:
        size = chunking.default_chunk_size(w.shape[1])
    else:
        size = val.positive_int("chunk_size", chunk_size, fn=name)
    config = _Config(
        smoothing,
        z_weight,
        cap,
        max(1, min(size, tokens)),  # no tokens: one empty chunk
        stats=return_stats,
        vocab_axes=chunking.mesh_axes(axis_name),
        token_axes=chunking.mesh_axes(token_axis_name),
    )
    layout = (
        None
        if in_shard_map
        else chunking.explicit_layout([x for x in (h, w, y, keep, b) if x is not None], fn)
    )
    if layout is not None:
        loss, values = _on_mesh(config, layout, reduction, h, w, b, y, keep)
    else:
        if not in_shard_map:  # an automatic mesh may split the tokens (see chunking.chunks)
            devices = jax.device_count()
            config = config._replace(chunk_size=-(-config.chunk_size // devices) * devices)
        loss, values = _loss_and_values(config, reduction, h, w, b, y, keep)
    if reduction == "none":
        loss = loss.reshape(token_shape)
    if not return_stats:
        return loss
    return loss, CrossEntropyStats(*(x.reshape(token_shape) for x in values[1:]))


def _loss_and_values(config: _Config, reduction: str, h, w, b, y, keep):
    """The reduced loss, and the per-token values when they are asked for (else None)."""
    if reduction != "none" and not config.stats:
        return _scalar_loss(config, reduction == "mean", h, w, b, y, keep), None
    values = _token_values(config, h, w, b, y, keep)
    if reduction == "none":
        return values.loss, values
    return _reduce(values.loss, keep, reduction == "mean", config.token_axes), values


def _on_mesh(config: _Config, layout: chunking.Layout, reduction: str, h, w, b, y, keep):
    """The chunked loss for operands with explicit shardings: each device runs the chunks of
    its own tokens over its own columns of the vocabulary (a loop cannot run over a split
    axis)."""
    mesh, token_axes, vocab_axes = layout
    local = h.shape[0] // math.prod(mesh.shape[a] for a in token_axes or ())
    config = config._replace(
        chunk_size=max(1, min(config.chunk_size, local)),
        vocab_axes=vocab_axes,
        token_axes=token_axes,
    )
    spec = jax.sharding.PartitionSpec
    per_token = spec(token_axes)
    operands = {"h": (h, spec(token_axes, None)), "w": (w, spec(None, vocab_axes))}
    operands.update(y=(y, per_token), keep=(keep, per_token))
    if b is not None:
        operands["b"] = (b, spec(vocab_axes))
    args = {
        k: jax.sharding.reshard(x, jax.sharding.NamedSharding(mesh, sp))
        for k, (x, sp) in operands.items()
    }

    def local_loss(args):
        loss, values = _loss_and_values(
            config, reduction, args["h"], args["w"], args.get("b"), args["y"], args["keep"]
        )
        return loss, values if config.stats else None

    loss_spec = per_token if reduction == "none" else spec()
    values_spec = _TokenValues(per_token, per_token, per_token, per_token) if config.stats else None
    per_device = chunking.shard_map(
        local_loss,
        mesh=mesh,
        in_specs=({k: sp for k, (_, sp) in operands.items()},),
        out_specs=(loss_spec, values_spec),
    )
    return per_device(args)


def _reduce(values, keep, mean: bool, token_axes) -> jax.Array:
    total = num.psum(jnp.sum(jnp.where(keep, values, 0.0)), token_axes)
    if not mean:
        return total
    count = num.psum(jnp.sum(keep, dtype=jnp.int32), token_axes)
    return total / jnp.maximum(count, 1).astype(values.dtype)


def _chunk_pass(config: _Config, acc, w, b, chunk, cotangents: _Cotangents | None):
    """One chunk: the per-token values and, given per-token cotangents, the gradient of the
    chunk's pre-cap logits (`[chunk, V_local]`, in `acc`)."""
    h_c, y_c, keep_c = chunk
    vocab_axes = config.vocab_axes
    x = jnp.matmul(h_c, w, preferred_element_type=acc).astype(acc)
    if b is not None:
        x = x + b.astype(acc)[None, :]
    cap = config.logit_softcap
    z = chunking.softcap(x, cap)
    local = z.shape[-1]
    vocab = local if vocab_axes is None else local * jax.lax.axis_size(vocab_axes)
    shift = jax.lax.stop_gradient(num.pmax(jnp.max(z, axis=-1, initial=-jnp.inf), vocab_axes))
    shift = jnp.where(jnp.isfinite(shift), shift, 0.0)
    e = jnp.exp(z - shift[:, None])
    total = num.psum(jnp.sum(e, axis=-1), vocab_axes)
    lse = shift + jnp.log(total)
    offset = 0 if vocab_axes is None else jax.lax.axis_index(vocab_axes) * local
    hit = jax.lax.broadcasted_iota(jnp.int32, z.shape, 1) + offset == y_c[:, None]
    z_y = num.psum(jnp.sum(jnp.where(hit, z, 0.0), axis=-1), vocab_axes)
    in_range = (y_c >= 0) & (y_c < vocab)
    loss = lse - z_y
    if config.label_smoothing:
        eps = config.label_smoothing
        z_mean = num.psum(jnp.sum(z, axis=-1), vocab_axes) / vocab
        loss = (1 - eps) * loss + eps * (lse - z_mean)
    if config.z_loss:
        loss = loss + config.z_loss * jnp.square(lse)
    loss = jnp.where(in_range, loss, jnp.inf)
    zero = jnp.zeros_like(lse)
    values = _TokenValues(jnp.where(keep_c, loss, zero), None, None, None)
    z_bar = None
    z_finite = jnp.where(e > 0, z, 0.0)  # a -inf logit has e = 0: keeps 0 * -inf out of E_p[z]
    if config.stats:  # the entropy needs E_p[z], one more pass over the chunk's logits
        z_bar = num.psum(jnp.sum(e * z_finite, axis=-1), vocab_axes) / total
        values = _TokenValues(
            values.loss,
            jnp.where(keep_c, jnp.where(in_range, z_y - lse, -jnp.inf), zero),
            jnp.where(keep_c, lse - z_bar, zero),
            jnp.where(keep_c, lse, zero),
        )
    if cotangents is None:
        return values, None
    g = _Cotangents(
        *(None if c is None else jnp.where(keep_c, c.astype(acc), 0.0) for c in cotangents)
    )
    # d loss/dz = p (1 + 2 lambda lse) - (1 - eps) onehot - eps / V; d logprob/dz = onehot - p;
    # d entropy/dz = -p (z - z_bar); d lse/dz = p. Here p = e / total.
    scale = g.loss * (1 + 2 * config.z_loss * lse) if config.z_loss else g.loss
    on_label = -g.loss * (1 - config.label_smoothing)
    if g.logprob is not None:
        scale, on_label = scale - g.logprob, on_label + g.logprob
    if g.logsumexp is not None:
        scale = scale + g.logsumexp
    grad = e * (scale / total)[:, None]
    if g.entropy is not None:
        assert z_bar is not None  # the entropy's cotangent comes with the statistics
        grad = grad - e * (g.entropy / total)[:, None] * (z_finite - z_bar[:, None])
    grad = grad + jnp.where(hit, on_label[:, None], 0.0)
    if config.label_smoothing:
        grad = grad - (g.loss * config.label_smoothing / vocab)[:, None]
    if cap is not None:
        grad = grad * (1 - jnp.square(z / cap))
    return values, grad


def _sweep(config: _Config, h, w, b, y, keep, cotangents: _Cotangents | None):
    """Every chunk in turn: the per-token values and, given cotangents, the gradients."""
    acc = val.compute_dtype(h, w, *(() if b is None else (b,)))
    dot = jnp.result_type(h, w)
    size, tokens = config.chunk_size, h.shape[0]
    chunked = [chunking.chunks(x, size) for x in (h, y, keep)]
    if cotangents is None:

        def values_only(_, chunk):
            return None, _chunk_pass(config, acc, w, b, chunk, None)[0]

        _, values = jax.lax.scan(values_only, None, tuple(chunked))
        return _unchunk_values(values, tokens), None
    chunked_g = _Cotangents(*(None if c is None else chunking.chunks(c, size) for c in cotangents))

    def step(carry, chunk):
        grad_w, grad_b = carry
        h_c, y_c, keep_c, g_c = chunk
        values, grad = _chunk_pass(config, acc, w, b, (h_c, y_c, keep_c), g_c)
        grad_d = grad.astype(dot)  # products in the operands' dtype, accumulated in float32
        grad_h = jnp.matmul(grad_d, w.T, preferred_element_type=acc)
        grad_h = num.psum(grad_h, config.vocab_axes).astype(h.dtype)
        grad_w = grad_w + jnp.matmul(h_c.T, grad_d, preferred_element_type=acc)
        if grad_b is not None:
            grad_b = grad_b + jnp.sum(grad, axis=0)
        return (grad_w, grad_b), (values, grad_h)

    init = (jnp.zeros_like(w, dtype=acc), None if b is None else jnp.zeros_like(b, dtype=acc))
    init = num.vary(init, config.token_axes)
    (grad_w, grad_b), (values, grad_h) = jax.lax.scan(step, init, (*chunked, chunked_g))
    values = _unchunk_values(values, tokens)
    grad_w = num.psum(grad_w, config.token_axes).astype(w.dtype)
    if grad_b is not None:
        grad_b = num.psum(grad_b, config.token_axes).astype(b.dtype)
    return values, _Grads(chunking.unchunk(grad_h, tokens), grad_w, grad_b)


def _unchunk_values(values: _TokenValues, tokens: int) -> _TokenValues:
    return _TokenValues(*(None if v is None else chunking.unchunk(v, tokens) for v in values))


@partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _scalar_loss(config, mean, h, w, b, y, keep):
    values, _ = _sweep(config, h, w, b, y, keep, None)  # not differentiated: one product a chunk
    return _reduce(values.loss, keep, mean, config.token_axes)


def _scalar_loss_fwd(config, mean, h, w, b, y, keep):
    acc = val.compute_dtype(h, w, *(() if b is None else (b,)))
    count = num.psum(jnp.sum(keep, dtype=jnp.int32), config.token_axes)
    weight = jnp.ones(keep.shape, acc)
    if mean:
        weight = weight / jnp.maximum(count, 1).astype(acc)
    values, grads = _sweep(config, h, w, b, y, keep, _Cotangents(weight))
    loss = num.psum(jnp.sum(values.loss * weight), config.token_axes)
    return loss, grads


def _scalar_loss_bwd(config, mean, grads, g):
    def scale(x):  # g times a gradient kept in its input's dtype, multiplied in float32
        return None if x is None else (g * x.astype(g.dtype)).astype(x.dtype)

    return (scale(grads.hidden), scale(grads.weight), scale(grads.bias), None, None)


_scalar_loss.defvjp(_scalar_loss_fwd, _scalar_loss_bwd)


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def _token_values(config, h, w, b, y, keep):
    return _sweep(config, h, w, b, y, keep, None)[0]


def _token_values_fwd(config, h, w, b, y, keep):
    return _sweep(config, h, w, b, y, keep, None)[0], (h, w, b, y, keep)


def _token_values_bwd(config, residuals, g):
    h, w, b, y, keep = residuals
    _, grads = _sweep(config, h, w, b, y, keep, _Cotangents(*g))
    return (grads.hidden, grads.weight, grads.bias, None, None)


_token_values.defvjp(_token_values_fwd, _token_values_bwd)
