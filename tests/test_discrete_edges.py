"""The discrete API at the edges of its inputs, for every function of the case table.

NaN inputs give NaN rows (never a plausible number); an empty distribution axis
is a row with no outcomes and gives 0, as a fully masked row does; a tuple
``axis`` equals the merged axis; Python numbers follow JAX's dtype rules; the
KL of nearly equal distributions keeps its relative precision; the named
Bregman generators are exact at the boundary of their domain; the mixed
probabilities/logits forms equal optax's losses.
"""

import decimal
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from cases import ALL, BERN, REDUCING, OneProgramPerCase, make_inputs
from jax.test_util import check_grads
from scipy import special

import jaxdiv
from jaxdiv import expfam
from jaxdiv._bregman import GENERATORS


def _is_probability(case, j: int) -> bool:
    """Whether argument ``j`` of ``case`` holds probabilities (rather than logits)."""
    return case.kind in ("prob1", "prob2", "bern1", "bern2") or (
        case.kind in ("prob_logit", "bern_plogit") and j == 0
    )


PROGRAMS = OneProgramPerCase()

# One named shape per check: [rows, classes].
ROWS = (3, 5)
MASKED = (2, 5)
NO_CLASSES = (3, 0)
NO_ROWS = (0, 4)
POISONED = (1, 2)  # the entry set to NaN
MASKED_OUT = (0, 3)  # the masked entry set to NaN


def _nan_inputs(case, rng):
    """The inputs; per argument i, the inputs with a NaN in argument i (and 0 at that entry
    of the other probability arguments), and the same with the NaN replaced by 0.5."""
    args = make_inputs(case, rng, ROWS)
    poisoned, clean = [], []
    for i in range(len(args)):
        variant = [a.copy() for a in args]
        for j, a in enumerate(variant):
            if j != i and _is_probability(case, j):
                a[POISONED] = 0.0
        variant[i][POISONED] = np.nan
        poisoned.append(variant)
        clean.append([np.nan_to_num(a, nan=0.5) for a in variant])
    return (args, poisoned, clean), None


@PROGRAMS.check(ALL, _nan_inputs)
def nan_rows(case, args, _):
    args, poisoned, clean = args
    return case.fn(*args), [case.fn(*a) for a in poisoned], [case.fn(*a) for a in clean]


@pytest.mark.parametrize("case", ALL, ids=repr)
def test_nan_input_gives_nan_row(case):
    """A NaN anywhere in a row makes that row NaN, even where the other argument is 0 (where
    ``0 log 0 = 0`` would hide it); the other rows are unchanged."""
    expected, poisoned, clean = PROGRAMS.result(case, "nan_rows").out
    row, entry = POISONED
    others = [r for r in range(ROWS[0]) if r != row]
    for i, (got, clean_i) in enumerate(zip(poisoned, clean, strict=True)):
        got, clean_i = got.copy(), clean_i.copy()
        if case in BERN:  # elementwise: only the poisoned entry
            assert np.isnan(got[row, entry]), (case.name, i)
            got[row, entry], clean_i[row, entry] = 0.0, 0.0
            np.testing.assert_allclose(got, clean_i, rtol=1e-12, err_msg=f"{case.name}, {i}")
        else:
            assert np.isnan(got[row]), (case.name, i)
            np.testing.assert_allclose(
                got[others], expected[others], rtol=1e-12, err_msg=f"{case.name}, {i}"
            )


def _masked_nan_inputs(case, rng):
    args = make_inputs(case, rng, MASKED)
    mask = np.ones(MASKED, bool)
    mask[MASKED_OUT] = False
    poisoned = []
    for i in range(len(args)):
        variant = [a.copy() for a in args]
        variant[i][MASKED_OUT] = np.nan
        poisoned.append(variant)
    return (args, poisoned), mask


@PROGRAMS.check(ALL, _masked_nan_inputs)
def masked_nan(case, args, mask):
    args, poisoned = args
    return case.fn(*args, where=mask), [case.fn(*a, where=mask) for a in poisoned]


@pytest.mark.parametrize("case", ALL, ids=repr)
def test_masked_nan_is_ignored(case):
    expected, poisoned = PROGRAMS.result(case, "masked_nan").out
    for i, got in enumerate(poisoned):
        np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=f"{case.name}, {i}")


def _filled(shape, value):
    """Arrays of ``shape(case)`` filled with ``value``, as many as ``case`` takes."""

    def inputs(case, rng):
        return [np.full(shape(case), value) for _ in make_inputs(case, rng, (1, 2))], None

    return inputs


@PROGRAMS.check(REDUCING, _filled(lambda case: NO_CLASSES, 0.0))
def no_classes(case, args, _):
    grads = jax.grad(lambda *a: case.fn(*a).sum(), argnums=tuple(range(len(args))))(*args)
    return case.fn(*args), grads


@pytest.mark.parametrize("case", REDUCING, ids=repr)
def test_empty_distribution_axis_gives_zero(case):
    """No outcomes: 0, like a fully masked row, for the probability and logits forms alike."""
    value, grads = PROGRAMS.result(case, "no_classes").out
    np.testing.assert_array_equal(value, np.zeros(NO_CLASSES[0]), err_msg=case.name)
    assert all(g.shape == NO_CLASSES for g in grads), case.name


@PROGRAMS.check(ALL, _filled(lambda case: NO_ROWS if case in REDUCING else NO_ROWS[:1], 0.25))
def no_rows(case, args, _):
    return case.fn(*args)


@pytest.mark.parametrize("case", ALL, ids=repr)
def test_empty_batch(case):
    value = PROGRAMS.result(case, "no_rows").out
    assert value.shape == (0,), case.name


def test_integer_labels_empty_class_axis_is_out_of_range():
    loss = jaxdiv.cross_entropy_from_integer_labels(
        np.zeros((3, 0)), np.array([0, -100, 2]), ignore_index=-100
    )
    np.testing.assert_array_equal(loss, [np.inf, 0.0, np.inf])


SPLIT = (4, 6)  # [rows, classes]; the classes split into [2, 3]


def _split_inputs(case, rng):
    """The inputs, and the same as [2, rows, 3]: classes on axes (0, 2); a mask of both."""
    args = make_inputs(case, rng, SPLIT)
    mask = rng.uniform(size=SPLIT) < 0.7
    mask[:, 0] = True
    split = [np.moveaxis(a.reshape(4, 2, 3), 0, 1) for a in args]
    return (args, split), (mask, np.moveaxis(mask.reshape(4, 2, 3), 0, 1))


@PROGRAMS.check(REDUCING, _split_inputs)
def tuple_axis(case, args, masks):
    (args, split), (mask, split_mask) = args, masks
    return {
        "merged": case.fn(*args),
        "split": case.fn(*split, axis=(0, -1)),
        "merged_masked": case.fn(*args, where=mask),
        "split_masked": case.fn(*split, axis=(2, 0), where=split_mask),
    }


@pytest.mark.parametrize("case", REDUCING, ids=repr)
def test_tuple_axis_equals_merged_axis(case):
    """A distribution over [2, 3] classes on axes (0, 2) equals the flattened one."""
    out = PROGRAMS.result(case, "tuple_axis").out
    tol = {"rtol": 1e-12, "atol": 1e-15, "err_msg": case.name}
    np.testing.assert_allclose(out["split"], out["merged"], **tol)
    np.testing.assert_allclose(out["split_masked"], out["merged_masked"], **tol)


def test_tuple_axis_errors():
    p = np.full((2, 3), 1 / 6)
    with pytest.raises(ValueError, match="names an axis twice"):
        jaxdiv.entropy(p, axis=(0, -2))
    with pytest.raises(ValueError, match="at least one axis"):
        jaxdiv.entropy(p, axis=())
    with pytest.raises(ValueError, match="out of range"):
        jaxdiv.entropy(p, axis=(0, 2))
    with pytest.raises(TypeError, match="int or a tuple of ints"):
        jaxdiv.entropy(p, axis=1.0)


def test_integer_labels_take_a_tuple_of_class_axes(rng):
    logits = rng.normal(size=(5, 2, 3))
    labels = rng.integers(0, 6, size=5)
    expected = jaxdiv.cross_entropy_from_integer_labels(logits.reshape(5, 6), labels)
    got = jaxdiv.cross_entropy_from_integer_labels(logits, labels, axis=(1, 2))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    got = jaxdiv.cross_entropy_from_integer_labels(
        np.moveaxis(logits, 0, -1), labels, axis=(0, 1), ignore_index=np.int64(-1)
    )
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def _lists_and_float32(case, rng):
    lists = [a.tolist() for a in make_inputs(case, rng, (4,))]
    return [np.asarray(a, np.float32) for a in lists], lists


@PROGRAMS.check(ALL, _lists_and_float32)
def python_numbers(case, as32, lists):
    """The lists are converted when the program is traced, as they would be in an eager call."""
    return case.fn(*lists), case.fn(*as32)


@pytest.mark.parametrize("case", ALL, ids=repr)
def test_python_numbers_follow_jax_dtype_rules(case):
    """Under x64 (on in this suite) lists and Python floats compute in float64."""
    from_lists, from_float32 = PROGRAMS.result(case, "python_numbers").out
    assert from_lists.dtype == jnp.float64, case.name
    assert from_float32.dtype == jnp.float32, case.name


def test_binary_kl_of_python_floats_is_float64():
    assert jaxdiv.binary_kl_divergence(0.3, 0.6).dtype == jnp.float64
    assert jaxdiv.binary_entropy(0.3).dtype == jnp.float64


def _exact(p: float, q: float, form: str) -> float:
    """KL (``p log(p / q)``) or Jeffreys (``(p - q) log(p / q)``) with 50 significant digits."""
    with decimal.localcontext() as ctx:
        ctx.prec = 50
        dp, dq = decimal.Decimal(p), decimal.Decimal(q)
        return float((dp if form == "kl" else dp - dq) * (dp / dq).ln())


@pytest.mark.parametrize("gap", [1e-6, 1e-9, 1e-12])
@pytest.mark.parametrize(
    ("form", "fn"), [("kl", jaxdiv.kl_divergence), ("jeffreys", jaxdiv.jeffreys_divergence)]
)
def test_divergence_of_nearly_equal_distributions_is_accurate(gap, form, fn, rng):
    """One-entry rows with p and q a relative ``gap`` apart keep full relative precision (the
    difference of two logarithms would lose it; Jeffreys' two KLs cancel to second order)."""
    p = rng.uniform(0.1, 1.0, size=64) * 10.0 ** rng.integers(-200, 1, size=64)
    q = p * (1 + gap * rng.uniform(-1, 1, size=64))
    expected = np.array([_exact(a, b, form) for a, b in zip(p, q, strict=True)])
    np.testing.assert_allclose(fn(p[:, None], q[:, None]), expected, rtol=1e-13)


def test_kl_of_nearly_equal_distributions_has_exact_gradient():
    p = np.array([0.3, 0.7])
    q = p * (1 + 1e-9 * np.array([1.0, -3 / 7]))
    g = jax.grad(jaxdiv.kl_divergence, argnums=(0, 1))(p, q)
    np.testing.assert_allclose(g[0], np.log(p / q) + 1, rtol=1e-12)
    np.testing.assert_allclose(g[1], -p / q, rtol=1e-12)


def test_generalised_kl_matches_scipy_kl_div_at_the_boundary(rng):
    x = np.array([[0.5, 0.0, 0.3, 0.2], [0.5, 0.0, 0.3, 0.2]])
    y = np.array([[0.0, 0.2, 0.3, 0.1], [0.4, 0.2, 0.3, 0.1]])
    got = jaxdiv.bregman_divergence("negative_entropy", x, y)
    np.testing.assert_allclose(got, special.kl_div(x, y).sum(-1), rtol=1e-13)
    assert got[0] == np.inf
    # Both zero: no contribution; x = 0 < y: the contribution is y.
    assert jaxdiv.bregman_divergence("negative_entropy", np.zeros(1), np.zeros(1)) == 0
    got = jaxdiv.bregman_divergence("negative_entropy", np.zeros(1), np.full(1, 0.2))
    assert got == pytest.approx(0.2, rel=1e-15)
    # Outside the domain: NaN, not a plausible number.
    assert np.isnan(jaxdiv.bregman_divergence("negative_entropy", -x[1], y[1]))


def test_itakura_saito_is_exact_at_the_boundary_and_near_equality():
    x, y = np.array([[1.0, 2.0], [1.0, 0.0]]), np.array([[1.0 + 1e-9, 2.0], [1.0, 1.0]])
    got = np.asarray(jaxdiv.bregman_divergence("burg_entropy", x, y))
    d = -1e-9 / (1 + 1e-9)
    assert got[0] == pytest.approx(d * d / 2, rel=1e-6)  # d - log1p(d) ~ d^2 / 2
    assert got[1] == np.inf


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_named_bregman_closed_forms_equal_the_jvp_route(name, rng):
    x, y = rng.uniform(0.1, 2.0, size=(2, 3, 5))

    @jax.jit
    def values_and_grads(x, y):
        return [
            (
                jaxdiv.bregman_divergence(g, x, y),
                jax.grad(lambda a, b, g=g: jaxdiv.bregman_divergence(g, a, b).sum(), (0, 1))(x, y),
            )
            for g in (name, GENERATORS[name])
        ]

    (closed, (gx, gy)), (generic, (hx, hy)) = values_and_grads(x, y)
    np.testing.assert_allclose(closed, generic, rtol=1e-10)
    np.testing.assert_allclose(gx, hx, rtol=1e-9)
    np.testing.assert_allclose(gy, hy, rtol=1e-9)


def test_mahalanobis_closed_form(rng):
    a = rng.normal(size=(3, 3))
    m = a @ a.T + np.eye(3)
    x, y = rng.normal(size=(2, 4, 3))
    got = jaxdiv.bregman_divergence("mahalanobis", x, y, matrix=m)
    np.testing.assert_allclose(got, np.einsum("bi,ij,bj->b", x - y, m, x - y), rtol=1e-12)


@pytest.mark.parametrize("masked", [False, True])
def test_mixed_forms_equal_optax(masked, rng):
    """Soft targets as probabilities against logits: optax's losses, target never renormalised."""
    p = rng.dirichlet(np.ones(7), size=5)
    logits = rng.normal(size=(5, 7)) * 3
    where = rng.uniform(size=(5, 7)) < 0.7 if masked else None
    if masked:
        where[:, 0] = True
    ce = jaxdiv.cross_entropy_with_logits(p, logits, where=where)
    np.testing.assert_allclose(
        ce, optax.losses.softmax_cross_entropy(logits, p, where=where), rtol=1e-12
    )
    kl = jaxdiv.kl_divergence_with_logits(p, logits, where=where)
    log_q = jax.nn.log_softmax(logits, where=where) if masked else jax.nn.log_softmax(logits)
    expected = np.where(where if masked else True, special.rel_entr(p, np.exp(log_q)), 0).sum(-1)
    np.testing.assert_allclose(kl, expected, rtol=1e-10)


def test_mixed_forms_at_zero_probabilities():
    p = np.array([0.0, 0.5, 0.5])
    logits = np.array([-np.inf, 0.0, 1.0])
    f = jax.jit(jaxdiv.cross_entropy_with_logits)
    assert np.isfinite(f(p, logits))
    g = jax.grad(jaxdiv.kl_divergence_with_logits, argnums=(0, 1))(p, logits)
    assert np.all(np.isfinite(g[1]))
    # p > 0 where q = 0: an honest +inf, no NaN in the logits' gradient.
    assert f(p[::-1], logits) == np.inf
    assert jaxdiv.kl_divergence_with_logits(p[::-1], logits) == np.inf
    g = jax.grad(jaxdiv.cross_entropy_with_logits, argnums=1)(p[::-1], logits)
    assert not np.any(np.isnan(g))


def test_mixed_forms_of_huge_logits(rng):
    p = rng.dirichlet(np.ones(4))
    logits = rng.normal(size=4) + 1e4
    np.testing.assert_allclose(
        jaxdiv.cross_entropy_with_logits(p, logits),
        jaxdiv.cross_entropy_with_logits(p, logits - 1e4),
        rtol=1e-12,
    )


@pytest.mark.parametrize(
    ("obj", "hint"),
    [
        (expfam.Normal.from_mean_std(0.0, 1.0), "jaxdiv.expfam.kl_divergence"),
        (object(), "array of probabilities or logits"),
    ],
)
def test_distribution_objects_get_a_clear_error(obj, hint):
    with pytest.raises(TypeError, match=hint):
        jaxdiv.kl_divergence(obj, obj)
    with pytest.raises(TypeError, match="p_logits must be an array"):
        jaxdiv.kl_divergence_from_logits(obj, obj)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: jaxdiv.entropy(None), TypeError, "p must be an array"),
        (lambda: jaxdiv.entropy([[0.5, 0.5], [1.0]]), TypeError, "ragged"),
        (lambda: jaxdiv.entropy(np.full(2, 0.5), base="2"), TypeError, "base must be a number"),
        (
            lambda: jaxdiv.renyi_divergence(np.full(2, 0.5), np.full(2, 0.5), alpha="x"),
            TypeError,
            "alpha must be a number",
        ),
        (
            lambda: jaxdiv.bregman_divergence("negative_entropy", np.ones(3), np.ones(4)),
            ValueError,
            r"x has shape \(3,\) and y has shape \(4,\)",
        ),
        (
            lambda: jaxdiv.bregman_divergence("burg_entropy", np.ones(3, int), np.ones(3, int)),
            TypeError,
            "x must be a floating-point array",
        ),
        (
            lambda: jaxdiv.bregman_divergence(
                "mahalanobis", np.ones(3), np.ones(3), matrix=np.eye(4)
            ),
            ValueError,
            r"matrix has shape \(4, 4\); for points of size 3 it must be \(3, 3\)",
        ),
        (
            lambda: jaxdiv.f_divergence(np.full(2, 0.5), np.full(2, 0.5), f=3),
            TypeError,
            "f must be a callable",
        ),
        (lambda: jaxdiv.checked(3), TypeError, "fn must be a callable"),
    ],
)
def test_bad_arguments_get_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


@functools.cache
def _plain_and_guarded(fn):
    """One program per function (and shape and dtype): ``fn`` without a mask, and with
    ``where``."""
    return jax.jit(lambda x, y, where: (fn(x, y), fn(x, y, where=where)))


@pytest.mark.parametrize(
    ("fn", "can_be_inf"),
    [
        (jaxdiv.kl_divergence_from_logits, True),
        (jaxdiv.cross_entropy_from_logits, True),
        (jaxdiv.js_divergence_from_logits, False),
        (lambda a, b, **kw: jaxdiv.js_divergence_from_logits(a, b, weight=0.3, **kw), False),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("vocab", [6, 100, 300])
@pytest.mark.parametrize("boundaries", ["finite", "-inf", "-inf and nan"])
def test_select_free_values_equal_the_guarded_pass(fn, can_be_inf, dtype, vocab, boundaries, rng):
    """Vocabularies below the row-block size without a mask get their values from
    select-free formulas (a different one on either side of ``MAX_BARE_VOCAB_KL`` and
    ``MAX_BARE_VOCAB_CE``); an
    all-true mask takes the guarded pass. They agree on finite logits of magnitude up to
    1e4, and with -inf logits (anywhere, also whole rows) and NaN, to the last digits."""
    shape = (400, vocab)
    a = rng.normal(size=shape) * rng.choice([1.0, 30.0, 1e4], size=(shape[0], 1))
    b = rng.normal(size=shape) * rng.choice([1.0, 30.0, 1e4], size=(shape[0], 1))
    if boundaries != "finite":
        a[rng.uniform(size=shape) < 0.25] = -np.inf
        b[rng.uniform(size=shape) < 0.25] = -np.inf
        a[:8] = -np.inf  # rows without mass
        b[8:16] = -np.inf
    if boundaries == "-inf and nan":
        a[16, 2] = np.nan
        b[17, 3] = np.nan
    a, b = a.astype(dtype), b.astype(dtype)
    plain, guarded = _plain_and_guarded(fn)(a, b, np.ones(shape, bool))
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}
    np.testing.assert_allclose(plain, guarded, equal_nan=True, **tol)
    if boundaries == "finite":
        assert np.isfinite(plain).all()
        return
    assert np.isnan(plain).any() == (boundaries == "-inf and nan")
    assert np.isinf(plain).any() == can_be_inf  # cases exercised


def _boundary_logits(rng, shape, dtype):
    """Logits of magnitude 1 to 1e4 with -inf entries, rows of -inf and one NaN."""
    x = rng.normal(size=shape) * rng.choice([1.0, 30.0, 1e4], size=(shape[0], 1))
    x[rng.uniform(size=shape) < 0.25] = -np.inf
    x[:8] = -np.inf
    x[16, 1] = np.nan
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("vocab", [6, 100])
def test_unmasked_label_loss_equals_the_guarded_pass(dtype, vocab, rng):
    """Unmasked integer-label cross-entropy takes a select-free row reduction; an all-true
    mask takes the guarded pass. Values (labels in and out of range, on -inf logits,
    ignored) and gradients agree."""
    logits = _boundary_logits(rng, (300, vocab), dtype)
    labels = rng.integers(-2, vocab + 2, size=300)
    labels[::7] = -100

    def loss(x, where=None):
        fn = jaxdiv.cross_entropy_from_integer_labels
        return fn(x, labels, ignore_index=-100, where=where)

    mask = np.ones(logits.shape, bool)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}
    plain, guarded = jax.jit(lambda x: (loss(x), loss(x, mask)))(logits)
    np.testing.assert_allclose(plain, guarded, equal_nan=True, **tol)
    assert np.isinf(plain).any() and np.isnan(plain).any() and (plain == 0).any()
    finite_rows = np.isfinite(plain)

    def mean_loss(x, where=None):
        return jnp.mean(jnp.where(finite_rows, loss(x, where), 0.0))

    g_plain, g_guarded = jax.jit(
        lambda x: (jax.grad(mean_loss)(x), jax.grad(lambda x: mean_loss(x, mask))(x))
    )(logits)
    np.testing.assert_allclose(g_plain[finite_rows], g_guarded[finite_rows], **tol)
    assert np.isfinite(g_plain[finite_rows]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("vocab", [6, 100])
def test_unmasked_soft_cross_entropy_equals_the_guarded_pass(dtype, vocab, rng):
    """``cross_entropy_with_logits`` without a mask takes its value from select-free formulas
    (and its derivatives from the guarded pass); with an all-true mask everything is guarded.
    They agree where p has zeros, q_logits has -inf (also under p's zeros), whole rows of
    -inf, and NaN."""
    b = _boundary_logits(rng, (300, vocab), dtype)
    p = rng.dirichlet(np.full(vocab, 0.3), size=300)
    p[rng.uniform(size=p.shape) < 0.3] = 0.0
    p[150:][np.isneginf(b[150:])] = 0.0  # these rows have no mass where q has none
    p = p.astype(dtype)
    fn = jaxdiv.cross_entropy_with_logits
    mask = np.ones(b.shape, bool)
    plain, guarded = jax.jit(lambda x, y: (fn(x, y), fn(x, y, where=mask)))(p, b)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}
    np.testing.assert_allclose(plain, guarded, equal_nan=True, **tol)
    assert np.isinf(plain).any() and np.isnan(plain).any() and np.isfinite(plain).any()
    ok = np.isfinite(plain)

    def mean_loss(x, y, where=None):
        return jnp.mean(jnp.where(ok, fn(x, y, where=where), 0.0))

    @jax.jit
    def derivatives(p, b, tangent):
        """Plain and guarded: the gradients, and forward mode with a tangent for the logits
        only (a constant target, the usual case)."""
        return [
            (
                jax.grad(mean_loss, (0, 1))(p, b, where),
                jax.jvp(lambda y, w=where: mean_loss(p, y, w), (b,), (tangent,)),
            )
            for where in (None, mask)
        ]

    tangent = rng.normal(size=b.shape).astype(dtype)
    (g_plain, f_plain), (g_guarded, f_guarded) = derivatives(p, b, tangent)
    for gp, gg in zip(g_plain, g_guarded, strict=True):
        np.testing.assert_allclose(gp[ok], gg[ok], **tol)
    np.testing.assert_allclose(f_plain, f_guarded, **tol)
    assert np.isfinite(f_plain[1])
    if dtype == np.float64:  # second order, where p has zeros and q_logits -inf under them
        small_p, small_b = p[150:160], np.where(np.isfinite(b[150:160]), b[150:160], -np.inf)
        small_b = np.where(np.isneginf(small_b), -np.inf, np.clip(small_b, -5, 5))
        check_grads(
            jax.jit(lambda y: fn(small_p, y)), (small_b,), order=2, modes=["fwd", "rev"], eps=1e-5
        )


def _log_space_reference(a, b, alpha):
    """Renyi divergence of order ``alpha`` between softmax(a) and softmax(b), float64, in log
    space over the support of softmax(a) (the entries with finite logits)."""
    logsumexp = special.logsumexp
    log_p, log_q = a - logsumexp(a), b - logsumexp(b)
    s = np.isfinite(log_p)
    if alpha == 0.0:
        return -logsumexp(log_q[s])
    if alpha == np.inf:
        return np.max(log_p[s] - log_q[s])
    return logsumexp(alpha * log_p[s] + (1 - alpha) * log_q[s]) / (alpha - 1)


ORDERS = [0.0, 0.3, 0.5, 2.0, 3.0, np.inf]


@jax.jit
def _renyi_of_every_order(a, b):
    return {alpha: jaxdiv.renyi_divergence_from_logits(a, b, alpha=alpha) for alpha in ORDERS}


@pytest.mark.parametrize("alpha", ORDERS)
def test_renyi_from_logits_where_probabilities_underflow(alpha, rng):
    """Logits 100 and more apart: probabilities underflow to 0 in float32 but are in the
    support (the support is read from the log-probabilities), and orders above 1 weigh
    them by q^(1 - alpha), which is huge. Against a float64 log-space reference."""
    a = rng.normal(size=(32, 200)) * 40
    b = rng.normal(size=(32, 200)) * 40
    a[:, :3] = [0.0, -150.0, 200.0]
    b[:, :3] = [0.0, -300.0, 0.0]
    a[::4, 5] = -np.inf
    got = _renyi_of_every_order(a.astype(np.float32), b.astype(np.float32))[alpha]
    expected = np.array([_log_space_reference(x, y, alpha) for x, y in zip(a, b, strict=True)])
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-5)
