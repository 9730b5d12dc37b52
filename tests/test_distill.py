"""Distillation losses: values against scipy, masks, the fused-linear form and its memory."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

from jaxdiv import distill, lm

DIVERGENCES = ["forward_kl", "reverse_kl", "jsd"]


def _reference(s, t, divergence, beta, temperature, mask):
    p_s = special.softmax(s / temperature, axis=-1)
    p_t = special.softmax(t / temperature, axis=-1)
    if divergence == "forward_kl":
        d = special.rel_entr(p_t, p_s).sum(-1)
    elif divergence == "reverse_kl":
        d = special.rel_entr(p_s, p_t).sum(-1)
    else:
        m = beta * p_t + (1 - beta) * p_s
        d = beta * special.rel_entr(p_t, m).sum(-1) + (1 - beta) * special.rel_entr(p_s, m).sum(-1)
    d = d * temperature**2
    return d[mask].mean()


@pytest.mark.parametrize("divergence", DIVERGENCES)
@pytest.mark.parametrize(("beta", "temperature"), [(0.5, 1.0), (0.2, 2.5)])
def test_distillation_loss_matches_reference(divergence, beta, temperature, rng):
    s, t = rng.normal(size=(2, 5, 11)) * 2, rng.normal(size=(2, 5, 11)) * 2
    mask = rng.uniform(size=(2, 5)) < 0.7
    mask[0, 0] = True
    got = jax.jit(
        lambda s, t, m: distill.distillation_loss(
            s, t, divergence=divergence, beta=beta, temperature=temperature, where=m
        )
    )(s, t, mask)
    np.testing.assert_allclose(
        got, _reference(s, t, divergence, beta, temperature, mask), rtol=1e-8
    )


def test_padding_tokens_do_not_count(rng):
    s, t = rng.normal(size=(4, 7)), rng.normal(size=(4, 7))
    mask = np.array([True, True, False, False])
    loss = jax.jit(distill.distillation_loss)
    padded = loss(s, t, where=mask)
    np.testing.assert_allclose(padded, loss(s[:2], t[:2]), rtol=1e-12)
    assert loss(s, t, where=np.zeros(4, bool)) == 0
    g = jax.jit(jax.grad(lambda x: distill.distillation_loss(x, t, where=mask)))(s)
    assert np.all(g[2:] == 0)


def test_bad_configuration_raises_clear_errors():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="divergence must be one of forward_kl, reverse_kl, jsd"):
        distill.distillation_loss(x, x, divergence="kl")
    with pytest.raises(ValueError, match="temperature must be > 0"):
        distill.distillation_loss(x, x, temperature=0.0)
    with pytest.raises(ValueError, match=r"beta must lie in \[0, 1\]"):
        distill.distillation_loss(x, x, divergence="jsd", beta=1.5)
    with pytest.raises(ValueError, match=r"student_logits has shape \(2, 3\) and teacher_logits"):
        distill.distillation_loss(x, np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"where has shape \(3,\)"):
        distill.distillation_loss(x, x, where=np.ones(3, bool))
    with pytest.raises(ValueError, match="chunk_size must be an integer >= 1"):
        distill.fused_linear_distillation_loss(
            x, np.zeros((3, 4)), x, np.zeros((3, 4)), chunk_size=0
        )
    with pytest.raises(ValueError, match="expected student_hidden"):
        distill.fused_linear_distillation_loss(x, np.zeros((2, 4)), x, np.zeros((3, 4)))


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_fused_linear_loss_equals_unfused_values_and_gradients(divergence, rng):
    n, h, ht, v = 45, 6, 5, 33
    hs, ws = rng.normal(size=(n, h)), rng.normal(size=(h, v))
    hts, wt = rng.normal(size=(n, ht)), rng.normal(size=(ht, v))
    mask = rng.uniform(size=n) < 0.8
    kw = {"divergence": divergence, "beta": 0.3, "temperature": 1.7, "where": mask}

    def fused(hs, ws):
        return distill.fused_linear_distillation_loss(hs, ws, hts, wt, chunk_size=16, **kw)

    def unfused(hs, ws):
        return distill.distillation_loss(hs @ ws, jax.lax.stop_gradient(hts @ wt), **kw)

    value, grads = jax.jit(jax.value_and_grad(fused, argnums=(0, 1)))(hs, ws)
    ref_value, ref_grads = jax.jit(jax.value_and_grad(unfused, argnums=(0, 1)))(hs, ws)
    np.testing.assert_allclose(value, ref_value, rtol=1e-10)
    for g, r in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-8, atol=1e-12)
    # float32, as in training: equal to 1e-5.
    f32 = [jnp.asarray(x, jnp.float32) for x in (hs, ws)]
    v32, g32 = jax.jit(
        jax.value_and_grad(
            lambda a, b: distill.fused_linear_distillation_loss(
                a, b, hts.astype(np.float32), wt.astype(np.float32), chunk_size=16, **kw
            ),
            argnums=(0, 1),
        )
    )(*f32)
    np.testing.assert_allclose(v32, ref_value, rtol=1e-5)
    for g, r in zip(g32, ref_grads, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-5)


def test_fused_linear_loss_peak_memory_is_a_fraction_of_unfused():
    """Compiled temporary memory of value_and_grad: fused <= 1/4 of unfused (no run needed)."""
    n, h, v = 1024, 64, 8192
    hs, ws = jnp.zeros((n, h), jnp.float32), jnp.zeros((h, v), jnp.float32)
    ht, wt = jnp.zeros((n, h), jnp.float32), jnp.zeros((h, v), jnp.float32)

    def temp_bytes(fn):
        compiled = jax.jit(jax.value_and_grad(fn, argnums=(0, 1))).lower(hs, ws).compile()
        return compiled.memory_analysis().temp_size_in_bytes

    fused = temp_bytes(
        lambda a, b: distill.fused_linear_distillation_loss(a, b, ht, wt, chunk_size=128)
    )
    unfused = temp_bytes(lambda a, b: distill.distillation_loss(a @ b, ht @ wt))
    assert fused <= unfused / 4, (fused, unfused)


def _fused_problem(rng, n=64, h=5, h_t=4, v=32):
    hs, ws = rng.normal(size=(n, h)), rng.normal(size=(h, v))
    ht, wt = rng.normal(size=(n, h_t)), rng.normal(size=(h_t, v))
    return hs, ws, ht, wt, rng.uniform(size=n) < 0.7


def test_chunk_size_accepts_any_integer_and_rejects_bools(rng):
    """chunk_size=np.int64(2) was rejected as "not an int"; bools and non-positive sizes are
    rejected with a message that names the expected type."""
    hs, ws, ht, wt, mask = _fused_problem(rng, n=9)
    ref = distill.fused_linear_distillation_loss(hs, ws, ht, wt, where=mask, chunk_size=2)
    for size in (np.int64(2), np.int32(2), np.uint8(2), jnp.int32(2)):
        got = distill.fused_linear_distillation_loss(hs, ws, ht, wt, where=mask, chunk_size=size)
        np.testing.assert_allclose(got, ref, rtol=1e-12)
    for bad, why in [
        (True, "a bool"),
        (np.bool_(True), "a bool"),
        (0, "not positive"),
        (np.int64(-3), "not positive"),
        (2.0, "of type float"),
        ("8", "of type str"),
    ]:
        with pytest.raises(ValueError, match=rf"chunk_size must be an integer >= 1.*\({why}\)"):
            distill.fused_linear_distillation_loss(hs, ws, ht, wt, chunk_size=bad)


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_no_tokens_and_all_masked_give_zero_with_zero_gradients(divergence, rng):
    """Zero tokens raised a ZeroDivisionError in the fused loss. Both losses now share one
    rule (jaxdiv._numerics.masked_mean): the mean over no tokens is 0, gradients 0."""
    hs, ws, ht, wt, _ = _fused_problem(rng, n=6)
    kw = {"divergence": divergence, "beta": 0.3}

    def fused(hs, ws, ht, wt, m):
        return distill.fused_linear_distillation_loss(hs, ws, ht, wt, where=m, chunk_size=4, **kw)

    def unfused(hs, ws, ht, wt, m):
        return distill.distillation_loss(hs @ ws, ht @ wt, where=m, **kw)

    empty = (hs[:0], ws, ht[:0], wt, np.zeros(0, bool))
    masked = (hs, ws, ht, wt, np.zeros(6, bool))
    for loss in (fused, unfused):
        for args in (empty, masked):
            value, grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3)))(*args)
            assert float(value) == 0.0
            for g, x in zip(grads, args, strict=False):
                assert g.shape == x.shape and not np.any(g), loss.__name__


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_the_teacher_is_a_constant_in_both_losses(divergence, rng):
    """The unfused loss gave the teacher a non-zero gradient, the fused one a zero gradient;
    both now stop it, and the student's gradient is that of the loss with a constant teacher."""
    hs, ws, ht, wt, mask = _fused_problem(rng, n=10)
    kw = {"divergence": divergence, "beta": 0.3, "temperature": 1.5, "where": mask}
    teacher_logits = ht @ wt

    @jax.jit
    def gradients(hs, ws, ht, wt, teacher_logits):
        unfused = jax.grad(lambda s, t: distill.distillation_loss(s, t, **kw), argnums=(0, 1))
        fused = jax.grad(
            lambda *a: distill.fused_linear_distillation_loss(*a, chunk_size=4, **kw),
            argnums=(0, 1, 2, 3),
        )
        through_teacher = jax.grad(
            lambda a, b: distill.distillation_loss(hs @ ws, a @ b, **kw), argnums=(0, 1)
        )
        return unfused(hs @ ws, teacher_logits), fused(hs, ws, ht, wt), through_teacher(ht, wt)

    (g_s, g_t), grads, (g_ht, g_wt) = gradients(hs, ws, ht, wt, teacher_logits)
    assert not np.any(g_t) and np.any(g_s)
    assert not np.any(grads[2]) and not np.any(grads[3])
    # Through the teacher's own parameters too (the unfused loss's teacher is a function of them).
    assert not np.any(g_ht) and not np.any(g_wt)


def _rounded(x, dtype):
    """``x`` rounded to ``dtype`` and back to float32: the 16-bit input, in float32."""
    return jnp.asarray(x, dtype).astype(jnp.float32)


# 16-bit inputs: the fused loss multiplies them with float32 products, so it equals the float32
# computation on the same (rounded) inputs up to float32 rounding; against the unfused loss fed
# 16-bit logits (rounded to 8 or 11 bits), it agrees to the precision of those logits.
FLOAT32_RTOL = 2e-5
SIXTEEN_BIT_RTOL = {jnp.bfloat16: 3e-2, jnp.float16: 4e-3}


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16], ids=["bfloat16", "float16"])
@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_fused_loss_in_16_bits_equals_the_unfused_loss(dtype, divergence, rng):
    """bfloat16 or float16 operands raised "scan body function carry input and carry output
    must have equal types". Now: float32 accumulation, loss in float32, each gradient in its
    input's dtype, and the values and gradients of the unfused loss on the same inputs."""
    n, h, h_t, v = 37, 8, 6, 40
    hs, ws = rng.normal(size=(n, h)), rng.normal(size=(h, v)) * 0.5
    ht, wt = rng.normal(size=(n, h_t)), rng.normal(size=(h_t, v)) * 0.5
    mask = rng.uniform(size=n) < 0.8
    kw = {"divergence": divergence, "beta": 0.3, "temperature": 1.3, "where": mask}
    low = [jnp.asarray(x, dtype) for x in (hs, ws, ht, wt)]
    f32 = [_rounded(x, dtype) for x in (hs, ws, ht, wt)]

    def fused(hs, ws, ht, wt):
        return distill.fused_linear_distillation_loss(hs, ws, ht, wt, chunk_size=8, **kw)

    def unfused(hs, ws, ht, wt):
        return distill.distillation_loss(hs @ ws, ht @ wt, **kw)

    grad = partial(jax.value_and_grad, argnums=(0, 1))
    fused_value_and_grad = jax.jit(grad(fused))
    ref_value, ref_grads = jax.jit(grad(unfused))(*f32)
    # Every mix of 16-bit and float32 operands (only the student's hidden states in 16 bits,
    # only the weights, all of them).
    for which in [(0,), (1, 3), (0, 1, 2, 3)]:
        args = [low[i] if i in which else f32[i] for i in range(4)]
        value, grads = fused_value_and_grad(*args)
        assert value.dtype == jnp.float32
        assert [g.dtype for g in grads] == [args[0].dtype, args[1].dtype]
        np.testing.assert_allclose(value, ref_value, rtol=FLOAT32_RTOL)
        for g, r in zip(grads, ref_grads, strict=True):
            tol = FLOAT32_RTOL if g.dtype == jnp.float32 else SIXTEEN_BIT_RTOL[dtype]
            np.testing.assert_allclose(
                g.astype(np.float32), r, rtol=tol, atol=tol * float(jnp.max(jnp.abs(r)))
            )
    # The unfused loss on 16-bit logits: float32 loss, gradients in 16 bits, to their precision.
    value, grads = jax.jit(grad(unfused))(*low)
    assert value.dtype == jnp.float32 and all(g.dtype == dtype for g in grads)
    tol = SIXTEEN_BIT_RTOL[dtype]
    np.testing.assert_allclose(value, ref_value, rtol=tol)
    for g, r in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(
            g.astype(np.float32), r, rtol=tol, atol=tol * float(jnp.max(jnp.abs(r)))
        )


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        # A scalar pair said "they must be equal" of two equal shapes.
        (
            lambda: distill.distillation_loss(np.float32(1.0), np.float32(1.0)),
            ValueError,
            r"must have a vocabulary axis, \[\.\.\., vocab\]; got shapes \(\) and \(\)",
        ),
        # Integer hidden states were called "probabilities or logits".
        (
            lambda: distill.fused_linear_distillation_loss(
                np.zeros((4, 3), int), np.zeros((3, 5)), np.zeros((4, 3)), np.zeros((3, 5))
            ),
            TypeError,
            r"student_hidden must be a floating-point array \(bfloat16, float16, float32 or "
            r"float64\), got dtype int64",
        ),
        (
            lambda: distill.fused_linear_distillation_loss(
                np.zeros((4, 3)), np.zeros((3, 5)), np.zeros((4, 3)), np.zeros((3, 5), np.int32)
            ),
            TypeError,
            "teacher_weight must be a floating-point array",
        ),
        (
            lambda: distill.fused_linear_distillation_loss(
                np.zeros((4, 3)), np.zeros((3, 5)), np.zeros((4, 3)), np.zeros((3, 6))
            ),
            ValueError,
            r"student_weight \[h, vocab\].*student_weight \(3, 5\).*teacher_weight \(3, 6\)",
        ),
        (
            lambda: distill.fused_linear_distillation_loss(
                np.zeros((2, 3)), np.zeros((3, 5)), np.zeros((4, 3)), np.zeros((3, 5))
            ),
            ValueError,
            r"expected student_hidden \[\.\.\., h\].*student_hidden \(2, 3\)"
            r".*teacher_hidden \(4, 3\)",
        ),
    ],
    ids=[
        "scalar-logits",
        "integer-hidden",
        "integer-teacher-weight",
        "vocab-sizes",
        "token-shapes",
    ],
)
def test_errors_name_what_was_wrong_and_what_was_expected(call, error, match):
    with pytest.raises(error, match=match):
        call()


def _scipy_divergence(s, t, divergence, beta, alpha):
    """Per-token divergences from logits with scipy (float64)."""
    p_t, p_s = special.softmax(t, axis=-1), special.softmax(s, axis=-1)
    if divergence == "jsd" and beta in (0.0, 1.0):
        divergence = "forward_kl" if beta == 0.0 else "reverse_kl"
    if divergence == "forward_kl":
        return special.rel_entr(p_t, p_s).sum(-1)
    if divergence == "reverse_kl":
        return special.rel_entr(p_s, p_t).sum(-1)
    if divergence == "jsd":
        m = beta * p_t + (1 - beta) * p_s
        return beta * special.rel_entr(p_t, m).sum(-1) + (1 - beta) * special.rel_entr(p_s, m).sum(
            -1
        )
    if divergence == "tv":
        return 0.5 * np.abs(p_t - p_s).sum(-1)
    p, q = (p_t, p_s) if divergence == "skew_kl" else (p_s, p_t)
    return special.rel_entr(p, alpha * p + (1 - alpha) * q).sum(-1)


_PARITY = {
    "forward_kl": {},
    "reverse_kl": {"temperature_scaling": False},
    "jsd": {"beta": 0.3},
    "jsd-beta-0": {"beta": 0.0},
    "jsd-beta-1": {"beta": 1.0},
    "skew_kl": {"alpha": 0.2},
    "skew_reverse_kl": {"alpha": 0.3},
    "tv": {},
}


@pytest.mark.parametrize("case", list(_PARITY))
def test_distillation_options_against_scipy_and_the_fused_loss(case, rng):
    """Every divergence with [batch, seq] tokens, biases, soft-capping, a temperature, the
    hard-label term with ignored labels and a mask: the logits loss equals scipy per token
    (reduction="none") and in the mean; the fused loss equals the logits loss in values and in
    gradients (hidden states, weight and bias), for the mean and per token. At beta 0 and 1 the
    JSD equals the forward and reverse KL (TRL's convention), never a silent 0."""
    divergence = case.split("-")[0]
    extra = _PARITY[case]
    shape, h, h_t, v = (2, 7), 5, 4, 11
    hs, ws, bs = rng.normal(size=(*shape, h)), rng.normal(size=(h, v)), rng.normal(size=v)
    ht, wt, bt = rng.normal(size=(*shape, h_t)), rng.normal(size=(h_t, v)), rng.normal(size=v)
    labels = rng.integers(0, v, size=shape)
    labels[0, :2] = -100
    where = rng.uniform(size=shape) < 0.8
    keep = where & (labels != -100)
    temperature, cap, soft, hard = 1.7, 3.0, 0.6, 0.4
    kw = {
        "divergence": divergence,
        "temperature": temperature,
        "logit_softcap": cap,
        "labels": labels,
        "soft_weight": soft,
        "hard_weight": hard,
        "where": where,
        **extra,
    }
    s = cap * np.tanh((hs @ ws + bs) / cap)
    t = cap * np.tanh((ht @ wt + bt) / cap)
    d = _scipy_divergence(
        s / temperature,
        t / temperature,
        divergence,
        **{"beta": extra.get("beta", 0.5), "alpha": extra.get("alpha", 0.1)},
    )
    if extra.get("temperature_scaling", True):
        d = d * temperature**2
    ce = (
        special.logsumexp(s, axis=-1)
        - np.take_along_axis(s, np.where(keep, labels, 0)[..., None], axis=-1)[..., 0]
    )
    expected = np.where(keep, soft * d + hard * ce, 0.0)
    got = lm.distillation_loss(hs @ ws + bs, ht @ wt + bt, reduction="none", **kw)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=case)
    assert divergence != "jsd" or np.all(got[keep] > 0)
    cot = rng.normal(size=shape)

    def logits_loss(hs, ws, bs, reduction):
        s = hs @ ws + bs[None, None, :]
        out = lm.distillation_loss(s, ht @ wt + bt[None, None, :], reduction=reduction, **kw)
        return jnp.sum(cot * out) if reduction == "none" else out

    def fused_loss(hs, ws, bs, reduction):
        out = lm.fused_linear_distillation_loss(
            hs,
            ws,
            ht,
            wt,
            student_bias=bs,
            teacher_bias=bt,
            chunk_size=4,
            reduction=reduction,
            **kw,
        )
        return jnp.sum(cot * out) if reduction == "none" else out

    for reduction in ("mean", "none"):
        grad = partial(jax.value_and_grad, argnums=(0, 1, 2))
        value, grads = jax.jit(grad(partial(fused_loss, reduction=reduction)))(hs, ws, bs)
        ref, ref_grads = grad(partial(logits_loss, reduction=reduction))(hs, ws, bs)
        if reduction == "mean":
            np.testing.assert_allclose(ref, expected[keep].mean(), rtol=1e-10, err_msg=case)
        np.testing.assert_allclose(value, ref, rtol=1e-10, err_msg=f"{case} {reduction}")
        for name, g, r in zip(("hidden", "weight", "bias"), grads, ref_grads, strict=True):
            np.testing.assert_allclose(
                g, r, rtol=1e-9, atol=1e-12, err_msg=f"{case} {reduction} {name}"
            )


def test_distillation_label_and_option_errors(rng):
    s = rng.normal(size=(3, 5))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 5\).*found 5"):
        lm.distillation_loss(s, s, labels=np.array([0, 5, 1]))
    with pytest.raises(ValueError, match="hard_weight must be >= 0"):
        lm.distillation_loss(s, s, labels=np.array([0, 1, 1]), hard_weight=-1.0)
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]"):
        lm.distillation_loss(s, s, divergence="skew_kl", alpha=2.0)
    with pytest.raises(TypeError, match="temperature_scaling must be True or False"):
        lm.distillation_loss(s, s, temperature_scaling="yes")
    with pytest.raises(ValueError, match="reduction must be one of mean, sum, none"):
        lm.distillation_loss(s, s, reduction="batchmean")
    with pytest.raises(ValueError, match=r"student_bias has shape \(4,\); expected \(5,\)"):
        lm.fused_linear_distillation_loss(
            np.zeros((3, 2)),
            np.zeros((2, 5)),
            np.zeros((3, 2)),
            np.zeros((2, 5)),
            student_bias=np.zeros(4),
        )
    value = jax.jit(lambda y: lm.distillation_loss(s, s, labels=y))(np.array([0, 5, 1]))
    assert value == np.inf
