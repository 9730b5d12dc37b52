"""What the chunked language-model losses share: token masks, operand checks, the chunking of
tokens and the mesh axes that split them."""

from __future__ import annotations

import importlib
import operator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxdiv import _numerics as num
from jaxdiv import _validation as val

#: The default chunk holds about this many logits (16 MiB in float32), small enough that the
#: chunk's temporaries stay in the caches ...
_DEFAULT_CHUNK_LOGITS = 2**22
#: ... and at least this many tokens: every chunk reads the weight and reads and writes its
#: gradient's accumulator, which must not outweigh the chunk's matrix products.
_MIN_DEFAULT_CHUNK = 256


def default_chunk_size(vocab: int) -> int:
    """Tokens per chunk when the caller gives none: about `_DEFAULT_CHUNK_LOGITS` logits, and at
    least `_MIN_DEFAULT_CHUNK` tokens."""
    return max(_MIN_DEFAULT_CHUNK, _DEFAULT_CHUNK_LOGITS // max(vocab, 1))


#: `jax.shard_map` (`jax.experimental.shard_map.shard_map` before jax 0.7).
shard_map = (
    getattr(jax, "shard_map", None)
    or importlib.import_module("jax.experimental.shard_map").shard_map
)


def token_mask(where, shape, fn: str) -> jax.Array | None:
    """`where` checked as a boolean mask of the token shape, or None."""
    if where is None:
        return None
    where = jnp.asarray(where)
    if where.dtype != jnp.bool_:
        raise TypeError(f"jaxdiv.lm.{fn}: where must be a boolean mask, got {where.dtype}.")
    if where.shape != shape:
        raise ValueError(
            f"jaxdiv.lm.{fn}: where has shape {where.shape}; expected the token shape "
            f"{shape} (one entry per token)."
        )
    return where


class Layout(NamedTuple):
    """Where operands with explicit shardings put their tokens and vocabulary."""

    mesh: jax.sharding.Mesh
    token_axes: tuple[str, ...] | None
    vocab_axes: tuple[str, ...] | None


def as_float_operand(name: str, x: ArrayLike, fn: str) -> jax.Array:
    """A hidden-state or weight matrix as a floating array (any of JAX's floating dtypes)."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(
            f"jaxdiv.lm.{fn}: {name} must be a floating-point array (bfloat16, float16, "
            f"float32 or float64), got dtype {x.dtype}."
        )
    return x


def explicit_layout(
    arrays, fn: str, names: tuple[str, str] = ("hidden", "weight")
) -> Layout | None:
    """The mesh, token axes and vocabulary axes where an operand has an explicit sharding.

    The tokens keep the split of `arrays[0]`, the `[tokens, hidden]` hidden
    states, and the vocabulary that of `arrays[1]`, the `[hidden, vocab]`
    weight (None where unsplit; `names` are theirs in messages); the other
    operands are resharded to match, and the hidden axes are gathered. None
    where no operand carries an explicit sharding.
    """
    specs = [num.explicit_spec(x) for x in arrays]
    split = [any(e is not None for e in sp) for sp in specs]
    if not any(split):
        return None
    mesh = jax.typeof(arrays[split.index(True)]).sharding.mesh
    tokens, vocab = (mesh_axes(e) for e in (specs[0][0], specs[1][1]))
    if set(tokens or ()) & set(vocab or ()):
        raise ValueError(
            f"jaxdiv.lm.{fn}: the tokens of {names[0]} and the vocabulary of {names[1]} are "
            f"split over the same mesh axes ({specs[0]} and {specs[1]})."
        )
    return Layout(mesh, tokens, vocab)


def mesh_axes(entry) -> tuple[str, ...] | None:
    """A PartitionSpec entry (or an ``axis_name``) as a tuple of mesh axis names, None where
    unsplit."""
    if entry is None:
        return None
    return (entry,) if isinstance(entry, str) else tuple(entry)


def chunks(x: jax.Array, size: int) -> jax.Array:
    """`[tokens, ...]` to `[chunks, size, ...]`, zero-padded, in strided order.

    Chunk `j` holds tokens `j, j + chunks, j + 2 chunks, ...`. Where the
    tokens are split over devices by `jit` (an automatic mesh), each chunk is
    then split the same way, and the loop runs over an axis that no device
    splits: XLA partitions every chunk and adds the devices' weight gradients
    once, after the loop. Contiguous chunks would make the loop run over the
    split axis, and XLA would gather the hidden states onto every device.
    """
    chunks = -(-x.shape[0] // size)
    x = jnp.pad(x, [(0, chunks * size - x.shape[0])] + [(0, 0)] * (x.ndim - 1))
    return jnp.moveaxis(x.reshape(size, chunks, *x.shape[1:]), 1, 0)


def unchunk(x: jax.Array, tokens: int) -> jax.Array:
    """The inverse of `chunks`: `[chunks, size, ...]` to `[tokens, ...]`."""
    x = jnp.moveaxis(x, 0, 1)
    return x.reshape(-1, *x.shape[2:])[:tokens]


def check_label_range(
    labels, keep, vocab: int, ignore_index, name: str, vocab_is: str = "the vocabulary"
) -> None:
    """With concrete labels, a counted label outside [0, vocab) is a ValueError (under `jit` it
    gives +inf); `jaxdiv.checked` reports it under `jit`. `vocab_is` says where `vocab` comes
    from, for the message."""
    val.check_labels(labels, vocab, ignore_index, fn=name)
    if isinstance(labels, jax.core.Tracer) or isinstance(keep, jax.core.Tracer):
        return
    y, k = np.asarray(labels), np.asarray(keep)
    bad = k & ((y < 0) | (y >= vocab))
    if bad.any():
        raise ValueError(
            f"jaxdiv.{name}: labels must lie in [0, {vocab}) ({vocab_is})"
            + ("" if ignore_index is None else f" or equal ignore_index={ignore_index}")
            + f"; found {int(y[bad][0])} at index {tuple(int(i) for i in np.argwhere(bad)[0])}."
        )


def integer_labels(labels, shape: tuple[int, ...], ignore_index, name: str) -> jax.Array:
    """`labels` checked as integers of the token `shape`, and `ignore_index` as an int or None."""
    y = jnp.asarray(labels)
    if not jnp.issubdtype(y.dtype, jnp.integer):
        raise TypeError(f"jaxdiv.{name}: labels must be an integer array, got dtype {y.dtype}.")
    if y.shape != shape:
        raise ValueError(
            f"jaxdiv.{name}: labels has shape {y.shape}; expected the token shape {shape}."
        )
    if ignore_index is not None:
        try:
            if isinstance(ignore_index, bool | np.bool_):
                raise TypeError
            operator.index(ignore_index)  # Python, NumPy and concrete JAX integers
        except TypeError:
            raise TypeError(
                f"jaxdiv.{name}: ignore_index must be an int or None, got {ignore_index!r}."
            ) from None
    return y


def softcap(x: jax.Array, cap: float | None) -> jax.Array:
    """Gemma 2's logit soft-capping `cap * tanh(x / cap)` (the identity for None)."""
    return x if cap is None else cap * jnp.tanh(x / cap)


def check_softcap(logit_softcap, name: str) -> float | None:
    """`logit_softcap` as None or a finite float > 0."""
    if logit_softcap is None:
        return None
    return val.finite_float("logit_softcap", logit_softcap, fn=name, positive=True)
