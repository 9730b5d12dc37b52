"""Row blocks: a row-wise computation over blocks of rows that fit in the CPU's caches.

XLA on CPU writes each elementwise stage of a row reduction to memory before
reducing it; on `[64, 32768]` logits those temporaries are 8 MB each and the
pass runs at memory speed. Over blocks of rows (a `lax.map`, whose body is
compiled once) they stay in cache. GPUs and TPUs fuse the row reductions and
never take this path (the caller picks with `jax.lax.platform_dependent`).

The switch is `SETTINGS`, changed for a block of code with
`configured` (the tests run the oracle comparisons with the blocks on at
tiny block sizes). Settings are read at trace time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp

from jaxdiv import _numerics as num


@dataclasses.dataclass
class Settings:
    """When the row blocks are used.

    Attributes:
      enabled: None (the default) uses them in a process with one CPU device;
        True also with several (tests); False never. Operands with an
        explicit sharding never get them.
      block_bytes: the bytes of one operand's block. On the 2-core test machine
        1 and 2 MiB ran alike, 0.25 MiB (loop overhead) and 4 MiB and beyond
        (cache) slower.
      min_vocab: the smallest vocabulary that gets blocks; below it one pass
        over all rows is as fast (`benchmarks.sweep` measures both sides).
    """

    enabled: bool | None = None
    block_bytes: int = 1 << 20
    min_vocab: int = 2048


SETTINGS = Settings()


@contextlib.contextmanager
def configured(**changes: Any) -> Iterator[Settings]:
    """Changes `SETTINGS` inside a `with` block (functions traced there see them)."""
    saved = dataclasses.replace(SETTINGS)
    for name, value in changes.items():
        if not hasattr(SETTINGS, name):
            raise TypeError(f"unknown row-block setting {name!r}")
        setattr(SETTINGS, name, value)
    try:
        yield SETTINGS
    finally:
        for field in dataclasses.fields(SETTINGS):
            setattr(SETTINGS, field.name, getattr(saved, field.name))


def block_rows(shape: tuple[int, ...], itemsize: int, axis: int) -> int | None:
    """Rows per block for operands of `shape` reduced along `axis`, or None where one
    pass is as good: a small vocabulary, a row too large for two to fit in a block, too few
    rows, or a reduction not along the last axis.
    """
    if SETTINGS.enabled is False or not shape or axis != len(shape) - 1:
        return None
    if shape[-1] < SETTINGS.min_vocab:
        return None
    rows = math.prod(shape[:-1])
    block = SETTINGS.block_bytes // (max(shape[-1], 1) * itemsize)
    # Blocks of one row gained nothing over one pass (8 x 262,144 float32) and the loop
    # costs compile time.
    return block if block >= 2 and rows >= 2 * block else None


def local(arrays: Any) -> bool:
    """Whether a loop over the operands' rows runs on whole, unsharded arrays.

    A loop over row blocks is not partitionable: under `jit` with the rows
    sharded over a mesh, an explicit sharding makes `lax.map` refuse the
    sharded axis, and an automatic one makes XLA gather every operand onto
    every device. Explicit shardings show in the operands' types; automatic
    ones do not show at trace time, so a process with several CPU devices
    (`--xla_force_host_platform_device_count`) gets one pass unless
    `Settings.enabled` is True.
    """
    if any(e is not None for x in jax.tree.leaves(arrays) for e in num.explicit_spec(x)):
        return False
    return SETTINGS.enabled is True or _cpu_device_count() == 1


def _cpu_device_count() -> int:
    try:
        return jax.device_count("cpu")
    except RuntimeError:  # no CPU backend: nothing is lowered for the CPU
        return 0


def by_row_blocks(fn: Callable[[Any, int], Any], arrays: Any, block: int) -> Any:
    """`fn(arrays, axis)`, a pytree of per-row values, computed over blocks of `block` rows.

    The leaves of `arrays` have the operands' shape, or the per-row shape
    with the last axis kept as 1, and the reduced axis is the last. Row maxima
    are best taken before, on the whole arrays: a reduction inside the loop
    makes XLA copy each block out first.
    """
    lead = jax.tree.leaves(arrays)[0].shape[:-1]
    rows = math.prod(lead)
    flat = jax.tree.map(lambda x: x.reshape(rows, x.shape[-1]), arrays)
    main = rows - rows % block
    blocks = jax.tree.map(lambda x: x[:main].reshape(-1, block, x.shape[-1]), flat)
    out = jax.lax.map(lambda xs: fn(xs, 1), blocks)
    out = jax.tree.map(lambda y: y.reshape(main, *y.shape[2:]), out)
    if main < rows:
        rest = fn(jax.tree.map(lambda x: x[main:], flat), 1)
        out = jax.tree.map(lambda y, z: jnp.concatenate([y, z]), out, rest)
    return jax.tree.map(lambda y: y.reshape(*lead, *y.shape[1:]), out)
