"""jaxdiv._linalg: Cholesky factors and triangular inverses from matrix products, against LAPACK."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from jax.test_util import check_grads

from jaxdiv import _linalg

# Sizes around the unrolled base case (8) and the halving: odd, even, padded and not.
SIZES = [1, 2, 3, 7, 8, 9, 16, 17, 32, 33]


# Compiled once per input shape and shared: check_grads run eagerly dispatches every operation
# of the blocked factorisation (and of its derivatives, to second order) on its own.
CHOLESKY = jax.jit(_linalg.cholesky)
TRIL_INVERSE = jax.jit(_linalg.tril_inverse)
TRIL_SOLVE = jax.jit(_linalg.tril_solve)


@jax.jit
def _cholesky_of_gram(r):
    return _linalg.cholesky(r @ jnp.swapaxes(r, -1, -2))


def _spd(rng, n, batch=(4,)):
    a = rng.normal(size=(*batch, n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


@pytest.mark.parametrize("n", SIZES)
def test_cholesky_and_inverse_match_lapack(rng, n):
    spd = _spd(rng, n)
    chol = np.linalg.cholesky(spd)
    got_chol = CHOLESKY(jnp.asarray(spd))
    got_inv = TRIL_INVERSE(jnp.asarray(chol))
    np.testing.assert_allclose(got_chol, chol, rtol=1e-12, atol=1e-12 * np.abs(chol).max())
    expected_inv = np.stack([scipy.linalg.solve_triangular(c, np.eye(n), lower=True) for c in chol])
    np.testing.assert_allclose(got_inv, expected_inv, rtol=1e-11, atol=1e-12)
    assert np.all(np.triu(np.asarray(got_inv), 1) == 0)


def test_only_the_lower_triangle_is_read(rng):
    spd = _spd(rng, 10)
    noise = np.triu(rng.normal(size=spd.shape), 1)
    chol = np.linalg.cholesky(spd)
    np.testing.assert_allclose(CHOLESKY(jnp.asarray(np.tril(spd) + noise)), chol)
    np.testing.assert_allclose(
        TRIL_INVERSE(jnp.asarray(chol + noise)), np.linalg.inv(chol), rtol=1e-12
    )


def test_float32_accuracy_on_an_ill_conditioned_factor(rng):
    n = 32
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    spd = (q * np.logspace(0, 4, n)) @ q.T  # condition number 1e4
    chol = np.linalg.cholesky(spd)
    got_chol = np.asarray(CHOLESKY(jnp.asarray(spd, jnp.float32)), np.float64)
    lapack_chol = np.asarray(jnp.linalg.cholesky(jnp.asarray(spd, jnp.float32)), np.float64)
    # As accurate as LAPACK's float32 factor, to a small factor.
    assert np.abs(got_chol - chol).max() <= 4 * np.abs(lapack_chol - chol).max() + 1e-6
    got_inv = np.asarray(TRIL_INVERSE(jnp.asarray(chol, jnp.float32)), np.float64)
    lapack_inv = scipy.linalg.solve_triangular(chol.astype(np.float32), np.eye(n), lower=True)
    exact = np.linalg.inv(chol)
    assert np.abs(got_inv - exact).max() <= 4 * np.abs(lapack_inv - exact).max() + 1e-6


def test_not_positive_definite_gives_nan_and_zero_pivot_gives_inf():
    chol = CHOLESKY(jnp.array([[1.0, 2.0], [2.0, 1.0]]))
    assert np.isnan(chol[1, 1])
    inv = TRIL_INVERSE(jnp.array([[0.0, 0.0], [2.0, 1.0]]))
    assert np.isinf(inv[0, 0]) and inv[0, 1] == 0


@pytest.mark.parametrize("n", [3, 12])
def test_gradients(rng, n):
    spd = jnp.asarray(_spd(rng, n, batch=(2,)))
    chol = jnp.linalg.cholesky(spd)
    check_grads(TRIL_INVERSE, (chol,), order=2, modes=("fwd", "rev"))
    root = jnp.asarray(rng.normal(size=(2, n, n)) + 2 * np.eye(n))
    check_grads(_cholesky_of_gram, (root,), order=2, modes=("fwd", "rev"))


def test_gradients_match_lapack_gradients(rng):
    n = 20
    root = jnp.asarray(_spd(rng, n, batch=(3,)) / 2)
    weights = jnp.asarray(rng.normal(size=(3, n, n)))
    eye = jnp.broadcast_to(jnp.eye(n), root.shape)

    def loss(chol_fn, inv_fn):
        def f(s):  # a symmetric input, so that both conventions see the same tangent
            chol = chol_fn(s + jnp.swapaxes(s, -1, -2))
            return jnp.sum(weights * chol) + jnp.sum(weights * inv_fn(chol))

        return jax.grad(f)(root)

    # The LAPACK reference runs eagerly (one kernel at a time), ours compiled.
    expected = loss(
        jnp.linalg.cholesky,
        lambda c: jax.scipy.linalg.solve_triangular(c, eye, lower=True),
    )
    got = jax.jit(lambda: loss(_linalg.cholesky, _linalg.tril_inverse))()
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("k", [2, 5, 8, 12])
def test_matmul_matches_numpy_for_batch_axes_and_broadcasting(rng, k):
    a, b = rng.normal(size=(2, 3, 4, k)), rng.normal(size=(2, 3, k, 5))
    np.testing.assert_allclose(_linalg.matmul(jnp.asarray(a), jnp.asarray(b)), a @ b, rtol=1e-12)
    c = rng.normal(size=(1, 3, k, 5))
    np.testing.assert_allclose(_linalg.matmul(jnp.asarray(a), jnp.asarray(c)), a @ c, rtol=1e-12)


def test_cholesky_program_does_not_grow_with_the_matrix():
    # An unrolled or recursive factorisation took 128 s to compile at n = 256 (0.3 s to run).
    def size(n):
        return len(jax.jit(_linalg.cholesky).lower(jnp.ones((2, n, n))).as_text().splitlines())

    assert size(256) < 1.2 * size(16)


@pytest.mark.parametrize("n", SIZES)
def test_tril_solve_matches_scipy(rng, n):
    chol = np.linalg.cholesky(_spd(rng, n))
    b = rng.normal(size=(4, n, 3))
    pairs = zip(chol, b, strict=True)
    expected = np.stack([scipy.linalg.solve_triangular(c, r, lower=True) for c, r in pairs])
    noise = np.triu(rng.normal(size=chol.shape), 1)  # only the lower triangle is read
    got = TRIL_SOLVE(jnp.asarray(chol + noise), jnp.asarray(b))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_tril_solve_broadcasts_batch_shapes(rng):
    chol = np.linalg.cholesky(_spd(rng, 5, batch=()))
    b = rng.normal(size=(2, 3, 5, 4))
    got = TRIL_SOLVE(jnp.asarray(chol), jnp.asarray(b))
    np.testing.assert_allclose(got, np.linalg.solve(chol, b), rtol=1e-10)


@pytest.mark.parametrize("n", [3, 12])
def test_tril_solve_gradients(rng, n):
    chol = jnp.asarray(np.linalg.cholesky(_spd(rng, n, batch=(2,))))
    b = jnp.asarray(rng.normal(size=(2, n, 2)))
    check_grads(TRIL_SOLVE, (chol, b), order=2, modes=("fwd", "rev"))


def test_tril_solve_gradients_match_lapack_gradients(rng):
    n = 20
    chol = jnp.asarray(np.linalg.cholesky(_spd(rng, n, batch=(3,))))
    b = jnp.asarray(rng.normal(size=(3, n, n + 1)))
    weights = jnp.asarray(rng.normal(size=b.shape))

    def grads(solve):
        return jax.grad(lambda c, r: jnp.sum(weights * solve(c, r)), argnums=(0, 1))(chol, b)

    expected = grads(lambda c, r: jax.scipy.linalg.solve_triangular(c, r, lower=True))
    got = jax.jit(lambda: grads(_linalg.tril_solve))()
    # The reference's gradient in the factor is lower triangular like ours.
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-10)
