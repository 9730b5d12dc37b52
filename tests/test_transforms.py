"""jit, vmap, grad, axis, where and dtype behaviour, checked for every function."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import ALL, REDUCING, SEED, OneProgramPerCase, make_inputs
from jax.test_util import check_grads

import jaxdiv
from jaxdiv import _row_blocks as row_blocks

PROGRAMS = OneProgramPerCase()

# One named shape per check: [rows, classes], or [batch..., classes].
BATCH = (5, 7)
AXES_SHAPE, AXES = (3, 4, 6), (0, 1, -3)
BROADCAST = (4, 6)
MASKED = (3, 8)
ROWS_OF_TWO = (2, 5)
ONE_ROW = (6,)
WIDE = (3, 64)
SIXTEEN_BIT = {"float16": jnp.float16, "bfloat16": jnp.bfloat16}


def _grads(fn, args):
    """The gradient of ``sum(fn(*args))`` with respect to every argument."""
    return jax.grad(lambda *a: jnp.sum(fn(*a)), argnums=tuple(range(len(args))))(*args)


@PROGRAMS.check(ALL, lambda case, rng: (make_inputs(case, rng, BATCH), None))
def jit_and_vmap(case, args, _):
    return case.fn(*args), jax.vmap(case.fn)(*args)


@pytest.mark.parametrize("case", ALL, ids=repr)
def test_jit_vmap_and_eager_agree(case):
    args, _, (jitted, vmapped) = PROGRAMS.result(case, "jit_and_vmap")
    eager = case.fn(*map(jnp.asarray, args))
    np.testing.assert_allclose(jitted, eager, rtol=1e-12, atol=1e-15, err_msg=case.name)
    np.testing.assert_allclose(vmapped, eager, rtol=1e-12, atol=1e-15, err_msg=case.name)


def _moved_inputs(case, rng):
    args = make_inputs(case, rng, AXES_SHAPE)
    return (args, [[np.moveaxis(a, -1, axis) for a in args] for axis in AXES]), AXES


@PROGRAMS.check(REDUCING, _moved_inputs)
def moved_axis(case, args, axes):
    args, moved = args
    return case.fn(*args), [case.fn(*m, axis=ax) for m, ax in zip(moved, axes, strict=True)]


@pytest.mark.parametrize("case", REDUCING, ids=repr)
def test_axis_matches_moveaxis(case):
    expected, got = PROGRAMS.result(case, "moved_axis").out
    for axis, value in zip(AXES, got, strict=True):
        np.testing.assert_allclose(
            value, expected, rtol=1e-12, atol=1e-15, err_msg=f"{case.name}, axis={axis}"
        )


def _single_and_batch(case, rng):
    first, second = make_inputs(case, rng, BROADCAST)
    return (first[:1], second, np.broadcast_to(first[:1], second.shape)), None


BINARY = [c for c in REDUCING if c.kind.endswith("2")]


@PROGRAMS.check(BINARY, _single_and_batch)
def broadcast(case, args, _):
    single, batch, broadcast = args
    return case.fn(single, batch), case.fn(broadcast, batch)


@pytest.mark.parametrize("case", BINARY, ids=repr)
def test_batch_shapes_broadcast(case):
    """A single distribution broadcasts against a batch of them."""
    got, expected = PROGRAMS.result(case, "broadcast").out
    chex.assert_shape(got, (BROADCAST[0],))
    np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=case.name)


def _masked_rows(case, rng):
    args = make_inputs(case, rng, MASKED)
    mask = rng.uniform(size=MASKED) < 0.6
    mask[:, 0] = True
    rows = [[a[i][mask[i]] for a in args] for i in range(MASKED[0])]
    return (args, rows), mask


@PROGRAMS.check(REDUCING, _masked_rows)
def masked(case, args, mask):
    args, rows = args
    return case.fn(*args, where=mask), [case.fn(*row) for row in rows]


@pytest.mark.parametrize("case", REDUCING, ids=repr)
def test_where_matches_boolean_indexing(case):
    got, expected = PROGRAMS.result(case, "masked").out
    for i, row in enumerate(expected):
        np.testing.assert_allclose(
            got[i], row, rtol=1e-10, atol=1e-13, err_msg=f"{case.name}, row {i}"
        )


def _second_row_masked(case, rng):
    mask = np.ones(ROWS_OF_TWO, bool)
    mask[1] = False
    return make_inputs(case, rng, ROWS_OF_TWO), mask


@PROGRAMS.check(ALL, _second_row_masked)
def fully_masked_row(case, args, mask):
    fn = functools.partial(case.fn, where=mask)
    return fn(*args), _grads(fn, args)


@pytest.mark.parametrize("case", ALL, ids=repr)
def test_fully_masked_row_is_zero_with_zero_gradient(case):
    value, grads = PROGRAMS.result(case, "fully_masked_row").out
    assert np.all(value[1] == 0), case.name
    for g in grads:
        assert np.all(np.isfinite(g)), case.name
        assert np.all(g[1] == 0), case.name


ONE_ROW_MASK = np.array([True, False, True, True, False, True])


@PROGRAMS.check(REDUCING, lambda case, rng: (make_inputs(case, rng, ONE_ROW), ONE_ROW_MASK))
def masked_entries(case, args, mask):
    return _grads(functools.partial(case.fn, where=mask), args)


@pytest.mark.parametrize("case", REDUCING, ids=repr)
def test_masked_entries_get_zero_gradient(case):
    for g in PROGRAMS.result(case, "masked_entries").out:
        assert np.all(np.isfinite(g)) and np.all(g[~ONE_ROW_MASK] == 0), case.name


@pytest.mark.parametrize("case", ALL, ids=repr)
def test_check_grads_second_order(case):
    """Reverse and forward derivatives to second order against finite differences.

    Eager: the programs of its primitives are shared by all the cases, where under ``jit``
    every derivative of every case would be a program of its own."""
    args = make_inputs(case, np.random.default_rng(SEED), ROWS_OF_TWO, floor=0.3)
    if case.name.startswith(
        ("total_variation", "renyi_divergence_inf", "renyi_divergence_from_logits_inf")
    ):
        # Piecewise linear (|.|, max): second derivatives are zero almost everywhere.
        check_grads(case.fn, args, order=1, modes=["fwd", "rev"], eps=1e-6)
        return
    check_grads(case.fn, args, order=2, modes=["fwd", "rev"], eps=1e-5)


def _sixteen_bit_inputs(case, rng):
    args = make_inputs(case, rng, WIDE)
    return {name: [a.astype(dtype) for a in args] for name, dtype in SIXTEEN_BIT.items()}, None


@PROGRAMS.check(ALL, _sixteen_bit_inputs)
def sixteen_bit(case, args, _):
    """Per 16-bit dtype: the value, and the value on the same inputs upcast to float32."""
    return {
        name: (case.fn(*low), case.fn(*[a.astype(jnp.float32) for a in low]))
        for name, low in args.items()
    }


@pytest.mark.parametrize("case", ALL, ids=repr)
@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_16bit_inputs_accumulate_in_float32(case, dtype):
    got, upcast = PROGRAMS.result(case, "sixteen_bit").out[jnp.dtype(dtype).name]
    assert got.dtype == jnp.float32, case.name
    np.testing.assert_allclose(got, upcast, rtol=1e-6, atol=1e-7, err_msg=case.name)


def test_float32_and_float64_stay_in_their_dtype(rng):
    p = rng.dirichlet(np.ones(5))
    assert jaxdiv.kl_divergence(p.astype(np.float32), p.astype(np.float32)).dtype == jnp.float32
    assert jaxdiv.kl_divergence(p, p).dtype == jnp.float64
    # Mixed precision computes in the wider type.
    assert jaxdiv.kl_divergence(p.astype(np.float32), p).dtype == jnp.float64


def test_bfloat16_large_vocabulary_is_accurate(rng):
    """A 32k-entry bfloat16 row: float32 accumulation keeps the sum accurate."""
    a = rng.normal(size=(2, 32768))
    b = a + 0.1 * rng.normal(size=(2, 32768))
    a16, b16 = a.astype(jnp.bfloat16), b.astype(jnp.bfloat16)
    kl = jax.jit(jaxdiv.kl_divergence_from_logits)
    exact = kl(a16.astype(np.float64), b16.astype(np.float64))
    got = kl(a16, b16)
    assert got.dtype == jnp.float32
    # float32 rounding of the log-normalisers (~11) bounds the error near 1e-6 absolute;
    # a bfloat16 accumulation would be off by about 1e-2 relative.
    np.testing.assert_allclose(got, exact, rtol=1e-3, atol=2e-6)


def test_jitted_optax_training_step_with_vmap():
    """The README's example: a vmapped, jitted optax step on a KL loss decreases the loss."""
    import optax

    target = jax.nn.softmax(jnp.array([[2.0, 0.0, -1.0], [0.0, 0.0, 3.0]]))
    params = jnp.zeros((2, 3))
    opt = optax.adam(0.1)
    state = opt.init(params)

    def loss(logits, p):
        return jaxdiv.kl_divergence(p, jax.nn.softmax(logits))

    @jax.jit
    def step(params, state):
        value, grads = jax.value_and_grad(lambda x: jax.vmap(loss)(x, target).mean())(params)
        updates, state = opt.update(grads, state)
        return optax.apply_updates(params, updates), state, value

    first = None
    for _ in range(200):
        params, state, value = step(params, state)
        first = value if first is None else first
    assert value < 1e-3 * first
    np.testing.assert_allclose(jax.nn.softmax(params), target, atol=1e-2)


FUSED = [
    jaxdiv.kl_divergence_from_logits,
    jaxdiv.cross_entropy_from_logits,
    jaxdiv.js_divergence_from_logits,
]


def _saved_residuals(fn, *args) -> list[str]:
    """The lines of ``jax.ad_checkpoint.print_saved_residuals`` for ``grad(fn)``."""
    import contextlib
    import io

    from jax.ad_checkpoint import print_saved_residuals

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print_saved_residuals(fn, *args)
    return out.getvalue().splitlines()


@pytest.mark.parametrize("fn", FUSED, ids=lambda f: f.__name__)
def test_logits_gradients_save_no_softmax(fn, rng):
    """Reverse mode keeps the logits and per-row numbers, never a [rows, vocab] float array."""
    a, b = (jnp.asarray(rng.normal(size=(8, 300)), jnp.float32) for _ in range(2))
    for loss, args in [
        (lambda a, b: fn(a, b).sum(), (a, b)),
        (lambda b: fn(a, b, base=2).sum(), (b,)),  # the teacher ``a`` closed over
    ]:
        lines = _saved_residuals(loss, *args)
        full = [line for line in lines if line.startswith("f32[8,300]")]
        assert full and all(("from the argument" in s or "from a constant" in s) for s in full)
        assert all(
            line.startswith(("f32[8,300]", "f32[8,1]", "f32[8]", "f32[]", "bool[8]"))
            for line in lines
        )


@pytest.mark.parametrize("fn", FUSED, ids=lambda f: f.__name__)
def test_logits_backward_adds_no_full_size_temporary(fn, rng):
    """Compiled, the gradient's scratch memory is no more than the forward pass's alone.

    The forward pass the gradient runs is the guarded one, which an all-true mask selects
    for the value too (unmasked, the value alone takes the select-free formulas)."""
    a, b = (jnp.asarray(rng.normal(size=(64, 4096)), jnp.float32) for _ in range(2))
    everywhere = jnp.ones(a.shape, bool)

    def loss(a, b):
        return fn(a, b).mean()

    def temp_bytes(f):
        return jax.jit(f).lower(a, b).compile().memory_analysis().temp_size_in_bytes

    forward = max(temp_bytes(loss), temp_bytes(lambda a, b: fn(a, b, where=everywhere).mean()))
    assert temp_bytes(jax.value_and_grad(loss, argnums=(0, 1))) <= forward
    assert temp_bytes(jax.value_and_grad(loss, argnums=1)) <= forward


@pytest.mark.parametrize("fn", FUSED, ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape", [(7, 5), (2, 3, 5)])
def test_logits_row_blocks_match_one_pass(fn, shape, rng):
    """The forward pass over blocks of rows (with a remainder block) equals one pass."""
    a, b = rng.normal(size=shape), rng.normal(size=shape)
    a[0, 1] = -np.inf  # a zero-probability outcome inside the first block
    mask = rng.uniform(size=shape) < 0.8

    def values_and_grads():
        """Unmasked and masked, the loss's value and gradients and the values, jitted anew:
        the row-block settings are read when the function is traced."""

        def run(a, b):
            out = []
            for kw in ({}, {"where": mask}):
                loss = lambda a, b, kw=kw: jnp.sum(fn(a, b, **kw) ** 2)  # noqa: E731
                out.append((jax.value_and_grad(loss, argnums=(0, 1))(a, b), fn(a, b, **kw)))
            return out

        return jax.jit(run)(a, b)

    expected = values_and_grads()
    # 5 float64 entries per row: blocks of 3 rows (2 blocks and a remainder of 7 rows; 2 of 6),
    # at any vocabulary, and on although the test process has eight CPU devices (conftest.py).
    with row_blocks.configured(enabled=True, block_bytes=3 * 5 * 8, min_vocab=1):
        assert "scan" in str(jax.make_jaxpr(fn)(a, b))
        got = values_and_grads()
    chex.assert_trees_all_close(got, expected, rtol=1e-12, atol=1e-14)
    if len(shape) == 2:
        a[0, 1] = 0.0
        check_grads(
            jax.jit(lambda a, b: fn(a, b, where=mask)),
            (a, b),
            order=2,
            modes=["fwd", "rev"],
            eps=1e-5,
        )


@pytest.mark.parametrize("fn", FUSED, ids=lambda f: f.__name__)
@pytest.mark.parametrize("masked", [False, True])
def test_logits_row_blocks_take_no_block_sized_constants(fn, masked):
    """The compiled gradient's row-block loop carries no loop-invariant [block, vocab] arrays.

    Reverse mode hoists loop-invariant values out of the loop. With
    ``jnp.where(cond, x, 1.0)`` in the guards, XLA kept the hoisted broadcasts
    of ones and zeros as arrays that every block read (three 1 MiB arrays per
    block for the fused KL, 7-11% of its value-and-gradient time on 2 cores);
    with ``lax.select`` against ``lax.full_like`` it sinks them back into the
    loop. The loop's only block-sized operands are the logits (and the mask).
    """
    a = jnp.zeros((64, 32768), jnp.float32)
    where = jnp.ones(a.shape, bool) if masked else None
    loss = lambda a, b: jnp.sum(fn(a, b, where=where))  # noqa: E731
    with row_blocks.configured(enabled=True):
        rows = row_blocks.block_rows(a.shape, a.dtype.itemsize, 1)
        hlo = jax.jit(jax.value_and_grad(loss, argnums=(0, 1))).lower(a, a).compile().as_text()
    block, blocks = f"f32[{rows},32768]", f"f32[{64 // rows},{rows},32768]"
    loops = [line for line in hlo.splitlines() if " while(" in line]
    assert loops, "the row blocks are off"
    for line in loops:
        carried = line.split(" while(")[0]
        assert block not in carried, carried
        assert carried.count(blocks) == 2, carried


@pytest.mark.parametrize("fn", FUSED, ids=lambda f: f.__name__)
@pytest.mark.parametrize("masked", [False, True])
def test_logits_hessians_finite_at_zero_probabilities(fn, masked):
    """Second derivatives, forward over reverse and reverse over reverse, at p = 0 entries."""
    a = jnp.array([0.3, -jnp.inf, 1.0, 0.2])
    b = jnp.array([0.1, 0.5, -0.3, 0.7])
    where = jnp.array([True, True, True, False]) if masked else None

    @jax.jit
    def hessians(a, b):
        return [
            (
                hessian(lambda x: fn(x, b, where=where))(a),
                hessian(lambda y: fn(a, y, where=where))(b),
            )
            for hessian in (jax.hessian, lambda f: jax.jacrev(jax.jacrev(f)))
        ]

    for h_a, h_b in hessians(a, b):
        assert np.all(np.isfinite(h_a)) and np.all(np.isfinite(h_b))
