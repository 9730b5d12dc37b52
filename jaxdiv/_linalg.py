"""Batched small-matrix linear algebra written in plain XLA operations (matmuls, no LAPACK).

On CPU, `jnp.linalg.cholesky` and `jax.lax.linalg.triangular_solve` (and
the transposes their gradients use) lower to jaxlib's LAPACK custom calls.
jaxlib 0.10.2 splits a call's batch into chunks, schedules them on XLA's
intra-op thread pool and blocks its own thread until they finish. XLA runs
independent operations of one computation at the same time, so when more such
calls are in flight than the pool has threads, every pool thread ends up
blocked waiting for chunks that no thread is left to run: the program hangs
(see `docs/known_issues.md`; on 2 cores three concurrent calls suffice).

The functions here compute the same quantities with batched matrix products,
slices and elementwise operations only, which XLA runs without blocking a
thread, so they cannot take part in that deadlock. They are the blocked
algorithms LAPACK's `trtri` and `potrf` use (the inverse by recursion over
halves, the factorisation by blocks of columns in a loop, so that its compiled
size does not grow with the matrix), so their rounding errors are those of the
textbook blocked algorithms; derivatives come from custom JVP rules written
with the same operations, so gradients are free of LAPACK calls too.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

#: Matrices up to this size are factored or inverted column by column (unrolled), larger
#: ones by halves.
_BASE_SIZE = 8


def matmul(a: jax.Array, b: jax.Array) -> jax.Array:
    """`a @ b` for batches of matrices `[..., n, k] @ [..., k, m]`.

    XLA:CPU runs a batched `dot` with several batch axes, or with a
    contraction of 4 to 7 entries, several times slower than a `dot` with one
    batch axis or the same product written elementwise (which it fuses), so
    operands with one batch shape are flattened to one batch axis, and short
    contractions are written as a broadcast product and a sum.
    """
    if 3 < a.shape[-1] < _BASE_SIZE:
        return jnp.sum(a[..., :, :, None] * b[..., None, :, :], axis=-2)
    batch = a.shape[:-2]
    if len(batch) < 2 or b.shape[:-2] != batch:
        return a @ b
    flat = jnp.reshape(a, (-1, *a.shape[-2:])) @ jnp.reshape(b, (-1, *b.shape[-2:]))
    return jnp.reshape(flat, (*batch, *flat.shape[-2:]))


def sym(m: jax.Array) -> jax.Array:
    """The symmetric part `(m + m') / 2` of a batch of square matrices."""
    return 0.5 * (m + jnp.swapaxes(m, -1, -2))


def diag(g: jax.Array) -> jax.Array:
    """The diagonal of a batch of square matrices, as a strided slice.

    XLA on CPU turns a strided slice of the flattened matrix into a cheap copy,
    where `jnp.diagonal` (a gather) is several times slower inside fusions.
    """
    d = g.shape[-1]
    return jnp.reshape(g, (*g.shape[:-2], d * d))[..., :: d + 1]


def log_abs_diag(g: jax.Array) -> jax.Array:
    """`sum(log|g_ii|)`: `log|det g|` for a batch of triangular matrices."""
    return jnp.sum(jnp.log(jnp.abs(diag(g))), -1)


def _split(n: int) -> int:
    """The size of the leading block when an `n x n` matrix is halved."""
    return (n + 1) // 2


def _assemble_lower(a: jax.Array, c: jax.Array, d: jax.Array) -> jax.Array:
    """The block matrix `[[a, 0], [c, d]]`."""
    zeros = jnp.zeros((*a.shape[:-1], d.shape[-1]), a.dtype)
    top = jnp.concatenate([a, zeros], axis=-1)
    return jnp.concatenate([top, jnp.concatenate([c, d], axis=-1)], axis=-2)


def _pad_identity(m: jax.Array, size: int) -> jax.Array:
    """`[[m, 0], [0, I]]` of size `size` (`m` unchanged when it has that size)."""
    extra = size - m.shape[-1]
    if extra == 0:
        return m
    eye = jnp.broadcast_to(jnp.eye(extra, dtype=m.dtype), (*m.shape[:-2], extra, extra))
    return _assemble_lower(m, jnp.zeros((*m.shape[:-2], extra, m.shape[-1]), m.dtype), eye)


def _tril_inverse_unrolled(tril: jax.Array) -> jax.Array:
    """Forward substitution, one row of the inverse at a time: for small matrices."""
    n = tril.shape[-1]
    eye = jnp.eye(n, dtype=tril.dtype)
    rows: list[jax.Array] = []
    for i in range(n):
        row = jnp.broadcast_to(eye[i], tril.shape[:-1])
        for k in range(i):
            row = row - tril[..., i, k, None] * rows[k]
        row = row[..., : i + 1] / tril[..., i, i, None]
        rows.append(jnp.concatenate([row, jnp.zeros((*row.shape[:-1], n - i - 1), row.dtype)], -1))
    return jnp.stack(rows, axis=-2)


def _tril_inverse_impl(tril: jax.Array) -> jax.Array:
    n = tril.shape[-1]
    if n <= _BASE_SIZE:
        return _tril_inverse_unrolled(tril)
    h = _split(n)
    a, c, d = tril[..., :h, :h], tril[..., h:, :h], tril[..., h:, h:]
    # Both diagonal blocks are inverted in one recursive call: the lower one is
    # padded with an identity to the size of the upper one and stacked on it.
    both = _tril_inverse_impl(jnp.stack([a, _pad_identity(d, h)]))
    a_inv, d_inv = both[0], both[1][..., : n - h, : n - h]
    return _assemble_lower(a_inv, -matmul(matmul(d_inv, c), a_inv), d_inv)


@jax.custom_jvp
def _tril_inverse(tril: jax.Array) -> jax.Array:
    r"""The inverse of each lower-triangular matrix in a batch `[..., n, n]`.

    Only the lower triangle of `tril` is read. With `tril = [[A, 0], [C, D]]`,

    $$
    \begin{pmatrix} A & 0 \\ C & D \end{pmatrix}^{-1}
    = \begin{pmatrix} A^{-1} & 0 \\ -D^{-1} C A^{-1} & D^{-1} \end{pmatrix},
    $$

    applied recursively (`ceil(log2 n)` levels of batched matrix products).
    A zero on the diagonal gives `inf` or `nan` entries, as a triangular
    solve does.

    Args:
      tril: lower-triangular matrices `[..., n, n]`, `n >= 1`.

    Returns:
      `tril^-1`, lower triangular, of the shape and dtype of `tril`.
    """
    return _tril_inverse_impl(jnp.tril(tril))


@_tril_inverse.defjvp
def _tril_inverse_jvp(
    primals: tuple[jax.Array], tangents: tuple[jax.Array]
) -> tuple[jax.Array, jax.Array]:
    (tril,), (dtril,) = primals, tangents
    inv = _tril_inverse(tril)
    return inv, -matmul(matmul(inv, jnp.tril(dtril)), inv)


def _tril_solve_unrolled(tril: jax.Array, b: jax.Array) -> jax.Array:
    """Forward substitution, one row of `x` at a time: for small matrices."""
    rows: list[jax.Array] = []
    for i in range(tril.shape[-1]):
        row = b[..., i, :]
        for k in range(i):
            row = row - tril[..., i, k, None] * rows[k]
        rows.append(row / tril[..., i, i, None])
    return jnp.stack(rows, axis=-2)


def _tril_solver(tril: jax.Array, batch: tuple[int, ...]) -> Callable[[jax.Array], jax.Array]:
    """`b -> tril^-1 b` for one batch of lower-triangular matrices (lower triangle only),
    with `tril` and `b` broadcast to the batch shape `batch`.

    Up to 8 x 8 by substitution, unrolled. Larger matrices are inverted once by
    `_tril_inverse_impl` (at their own batch shape) and the inverse applied
    with one batched matrix product, which XLA:CPU runs faster than a blocked
    substitution (a loop over blocks of rows, or a recursion over halves, each
    needing a product per block).
    """
    n = tril.shape[-1]
    if n <= _BASE_SIZE:
        tril = jnp.broadcast_to(tril, (*batch, n, n))
        return lambda b: _tril_solve_unrolled(tril, jnp.broadcast_to(b, (*batch, *b.shape[-2:])))
    inverse = jnp.broadcast_to(_tril_inverse_impl(tril), (*batch, n, n))
    return lambda b: matmul(inverse, jnp.broadcast_to(b, (*batch, *b.shape[-2:])))


def _solve_batch(tril: jax.Array, b: jax.Array) -> tuple[int, ...]:
    return jnp.broadcast_shapes(tril.shape[:-2], b.shape[:-2])


@jax.custom_jvp
def _tril_solve(tril: jax.Array, b: jax.Array) -> jax.Array:
    r"""Solves `tril @ x = b` for each lower-triangular matrix in a batch.

    Only the lower triangle of `tril` is read. The solution is
    $x = L^{-1} b$; its derivative $dx = L^{-1}(db - dL\, x)$ is applied with
    the same solver, so gradients make no LAPACK call either. A zero on the
    diagonal gives `inf` or `nan` entries, as a triangular solve does.

    Args:
      tril: lower-triangular matrices `[..., n, n]`, `n >= 1`.
      b: right-hand sides `[..., n, m]`; the batch shapes broadcast.

    Returns:
      `x` of shape `[..., n, m]`, with the broadcast batch shape.
    """
    return _tril_solver(jnp.tril(tril), _solve_batch(tril, b))(b)


@_tril_solve.defjvp
def _tril_solve_jvp(
    primals: tuple[jax.Array, jax.Array], tangents: tuple[jax.Array, jax.Array]
) -> tuple[jax.Array, jax.Array]:
    (tril, b), (dtril, db) = primals, tangents
    batch = _solve_batch(tril, b)
    solve = _tril_solver(jnp.tril(tril), batch)
    x = solve(b)
    dtril = jnp.broadcast_to(jnp.tril(dtril), (*batch, *dtril.shape[-2:]))
    return x, solve(db - matmul(dtril, x))


def _cholesky_unrolled(a: jax.Array) -> jax.Array:
    """The Cholesky-Crout recurrence, one column at a time, unrolled: for small matrices."""
    n = a.shape[-1]
    cols: list[jax.Array] = []
    for j in range(n):
        v = a[..., j:, j]
        for k in range(j):
            v = v - cols[k][..., j:] * cols[k][..., j, None]
        v = v / jnp.sqrt(v[..., :1])
        cols.append(jnp.concatenate([jnp.zeros((*v.shape[:-1], j), a.dtype), v], axis=-1))
    return jnp.stack(cols, axis=-1)


def _cholesky_impl(a: jax.Array) -> jax.Array:
    n = a.shape[-1]
    if n <= _BASE_SIZE:
        return _cholesky_unrolled(a)
    # Left-looking by blocks of b columns, in a fori_loop so that the compiled program has
    # the same size for every n: the block column of a, minus what the columns already
    # found contribute (one matrix product), gives the diagonal block's factor Lkk and,
    # times Lkk^-T, the rows below it. n is padded to a multiple of b with an identity.
    b = _BASE_SIZE
    size = -(-n // b) * b
    padded = _pad_identity(jnp.tril(a), size)
    rows = jnp.arange(size)[:, None]

    def block_column(k: jax.Array, chol: jax.Array) -> jax.Array:
        start = k * b
        panel = jax.lax.dynamic_slice_in_dim(padded, start, b, axis=-1)
        done = jax.lax.dynamic_slice_in_dim(chol, start, b, axis=-2)
        panel = panel - matmul(chol, jnp.swapaxes(done, -1, -2))
        diag = jax.lax.dynamic_slice_in_dim(panel, start, b, axis=-2)
        factor = _cholesky_unrolled(diag)
        below = matmul(panel, jnp.swapaxes(_tril_inverse_unrolled(factor), -1, -2))
        keep = jnp.broadcast_to(rows >= start + b, below.shape)
        new = jax.lax.dynamic_update_slice_in_dim(
            jnp.where(keep, below, jnp.zeros_like(below)), factor, start, axis=-2
        )
        return jax.lax.dynamic_update_slice_in_dim(chol, new, start, axis=-1)

    chol = jax.lax.fori_loop(0, size // b, block_column, jnp.zeros_like(padded))
    return chol[..., :n, :n]


def _phi(x: jax.Array) -> jax.Array:
    """The lower triangle of `x` with its diagonal halved."""
    half_diagonal = jnp.broadcast_to(jnp.eye(x.shape[-1], dtype=x.dtype), x.shape) * (0.5 * x)
    return jnp.tril(x, -1) + half_diagonal


@jax.custom_jvp
def _cholesky(a: jax.Array) -> jax.Array:
    r"""The lower Cholesky factor `L` (`a = L L'`) of each matrix in a batch `[..., n, n]`.

    Only the lower triangle of `a` is read (as `jnp.linalg.cholesky` with
    `symmetrize_input=False`). The columns come in the Cholesky-Crout order,
    by blocks of 8 in a `fori_loop` (each block from one matrix product with
    the columns before it):

    $$
    L_{ij} = \Big(a_{ij} - \sum_{k<j} L_{ik} L_{jk}\Big) / L_{jj}, \qquad
    L_{jj} = \Big(a_{jj} - \sum_{k<j} L_{jk}^2\Big)^{1/2}.
    $$

    A matrix that is not positive definite gives `nan` entries
    (`jnp.linalg.cholesky` gives a matrix of `nan`).

    Args:
      a: symmetric positive-definite matrices `[..., n, n]`, `n >= 1`.

    Returns:
      `L`, lower triangular with a positive diagonal, of the shape and dtype of `a`.
    """
    lower = jnp.tril(a)
    return _cholesky_impl(lower + jnp.swapaxes(jnp.tril(a, -1), -1, -2))


@_cholesky.defjvp
def _cholesky_jvp(
    primals: tuple[jax.Array], tangents: tuple[jax.Array]
) -> tuple[jax.Array, jax.Array]:
    # dL = L Phi(L^-1 dA L^-T) for the symmetric dA that the lower triangle of da stands for.
    (a,), (da,) = primals, tangents
    chol = _cholesky(a)
    sym = jnp.tril(da) + jnp.swapaxes(jnp.tril(da, -1), -1, -2)
    chol_inv = _tril_inverse(chol)
    inner = matmul(matmul(chol_inv, sym), jnp.swapaxes(chol_inv, -1, -2))
    return chol, matmul(chol, _phi(inner))


# Compiled once per shape: called eagerly (a constructor outside `jit`), the unrolled
# substitutions would dispatch, and compile, dozens of small operations one by one (1.3 s
# for a first 6 x 6 Cholesky factor against 0.2 s compiled); inside `jit` they inline.
tril_inverse = jax.jit(_tril_inverse)
tril_solve = jax.jit(_tril_solve)
cholesky = jax.jit(_cholesky)
