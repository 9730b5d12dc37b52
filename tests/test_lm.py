"""Language-model losses: the fused cross-entropy against optax's unfused loss in float64, its
statistics, edges, 16-bit operands and compiled memory; Schulman's KL estimators."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import special

import jaxdiv
from jaxdiv import distill, lm

IGNORE = -100
TAILS = ("renormalize", "bucket")


def _dense_reference(h, w, b, labels, keep, *, eps, z_loss, cap):
    """Per-token loss and statistics from the dense [tokens, vocab] logits (optax's loss)."""
    x = h @ w + (0.0 if b is None else b[None, None, :])
    z = x if cap is None else cap * jnp.tanh(x / cap)
    safe = jnp.where(keep, labels, 0)
    targets = optax.smooth_labels(jax.nn.one_hot(safe, w.shape[1], dtype=z.dtype), eps)
    lse = jax.nn.logsumexp(z, axis=-1)
    loss = optax.softmax_cross_entropy(z, targets) + z_loss * jnp.square(lse)
    logp = jax.nn.log_softmax(z, axis=-1)
    logprob = jnp.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
    entropy = -jnp.sum(jnp.exp(logp) * logp, axis=-1)
    return tuple(jnp.where(keep, v, 0.0) for v in (loss, logprob, entropy, lse))


# Each case: (bias, label_smoothing, z_loss, logit_softcap, where, reduction, stats).
_CASES = {
    "plain mean": (False, 0.0, 0.0, None, False, "mean", False),
    "all options, mean": (True, 0.1, 1e-2, 3.0, True, "mean", False),
    "sum with a mask": (False, 0.2, 0.0, None, True, "sum", False),
    "none with stats": (True, 0.1, 1e-3, 2.0, True, "none", True),
    "mean with stats": (False, 0.0, 1e-2, None, True, "mean", True),
}


@pytest.mark.parametrize("case", list(_CASES))
def test_fused_cross_entropy_equals_optax_unfused_in_float64(case, rng):
    """Values and gradients (hidden, weight, bias) of every reduction and option equal optax's
    dense loss in float64, over [batch, seq, hidden] inputs with ignored and masked tokens, a
    chunk size that does not divide the tokens; the statistics are differentiable."""
    has_bias, eps, z_loss, cap, masked, reduction, stats = _CASES[case]
    shape, hid, vocab = (3, 7), 5, 19
    h, w = rng.normal(size=(*shape, hid)), rng.normal(size=(hid, vocab))
    b = rng.normal(size=vocab) if has_bias else None
    labels = rng.integers(0, vocab, size=shape)
    labels[0, :2] = IGNORE
    where = rng.uniform(size=shape) < 0.75 if masked else None
    keep = (labels != IGNORE) & (True if where is None else where)
    cot = rng.normal(size=(4, *shape))  # weights of the per-token outputs
    kw = {"label_smoothing": eps, "z_loss": z_loss, "logit_softcap": cap, "where": where}

    def fused(h, w, b):
        out = lm.fused_linear_cross_entropy(
            h, w, labels, bias=b, chunk_size=4, reduction=reduction, return_stats=stats, **kw
        )
        loss, st = out if stats else (out, None)
        total = jnp.sum(cot[0] * loss) if reduction == "none" else loss
        if stats:
            total = total + sum(jnp.sum(c * s) for c, s in zip(cot[1:], st, strict=True))
        return total

    def dense(h, w, b):
        loss, *st = _dense_reference(h, w, b, labels, keep, eps=eps, z_loss=z_loss, cap=cap)
        if reduction == "none":
            total = jnp.sum(cot[0] * loss)
        else:
            total = jnp.sum(loss) / (np.sum(keep) if reduction == "mean" else 1.0)
        if stats:
            total = total + sum(jnp.sum(c * s) for c, s in zip(cot[1:], st, strict=True))
        return total

    argnums = (0, 1, 2) if has_bias else (0, 1)
    value, grads = jax.jit(jax.value_and_grad(fused, argnums=argnums))(h, w, b)
    ref_value, ref_grads = jax.value_and_grad(dense, argnums=argnums)(h, w, b)
    np.testing.assert_allclose(value, ref_value, rtol=1e-12, err_msg=case)
    for name, g, r in zip(("hidden", "weight", "bias"), grads, ref_grads, strict=False):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12, err_msg=f"{case}: {name}")


def test_statistics_equal_scipy_and_the_loss_is_minus_the_logprob(rng):
    """logprob, entropy and logsumexp per token equal scipy's from the dense logits; without
    smoothing or z-loss the per-token loss is -logprob; ignored tokens hold 0 everywhere."""
    tokens, hid, vocab = 11, 4, 13
    h, w = rng.normal(size=(tokens, hid)), rng.normal(size=(hid, vocab))
    labels = rng.integers(0, vocab, size=tokens)
    labels[5] = IGNORE
    loss, st = lm.fused_linear_cross_entropy(h, w, labels, reduction="none", return_stats=True)
    z = h @ w
    logp = special.log_softmax(z, axis=-1)
    keep = labels != IGNORE
    expected = {
        "logprob": np.where(keep, logp[np.arange(tokens), np.where(keep, labels, 0)], 0),
        "entropy": np.where(keep, -(np.exp(logp) * logp).sum(-1), 0),
        "logsumexp": np.where(keep, special.logsumexp(z, axis=-1), 0),
    }
    for name, ref in expected.items():
        np.testing.assert_allclose(getattr(st, name), ref, rtol=1e-12, atol=1e-14, err_msg=name)
    np.testing.assert_allclose(loss, -st.logprob, rtol=1e-12)
    assert isinstance(st, lm.CrossEntropyStats)


def test_no_counted_token_gives_zero_with_zero_gradients_and_bad_labels_give_inf(rng):
    """No tokens at all, or every token ignored or masked: a mean of 0 with zero gradients.
    Under jit a counted label outside [0, V) gives +inf (never a plausible number); eager, it
    is a ValueError naming the label."""
    hid, vocab = 3, 6
    w = rng.normal(size=(hid, vocab))
    grad = jax.jit(
        jax.value_and_grad(
            lambda h, w, y, m: lm.fused_linear_cross_entropy(h, w, y, where=m), argnums=(0, 1)
        )
    )
    cases = {
        "no tokens": (np.zeros((0, hid)), np.zeros(0, int), np.zeros(0, bool)),
        "all ignored": (rng.normal(size=(4, hid)), np.full(4, IGNORE), np.ones(4, bool)),
        "all masked": (rng.normal(size=(4, hid)), np.arange(4), np.zeros(4, bool)),
    }
    for name, (h, y, m) in cases.items():
        value, (g_h, g_w) = grad(h, w, y, m)
        assert value == 0, name
        assert not np.any(g_h) and not np.any(g_w), name
    h, y = rng.normal(size=(4, hid)), np.array([0, vocab, 2, 3])
    value = jax.jit(lambda y: lm.fused_linear_cross_entropy(h, w, y))(y)
    assert value == np.inf
    per_token = jax.jit(lambda y: lm.fused_linear_cross_entropy(h, w, y, reduction="none"))(y)
    assert np.isinf(per_token[1]) and np.all(np.isfinite(np.asarray(per_token)[[0, 2, 3]]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 6\).*found 6 at index \(1,\)"):
        lm.fused_linear_cross_entropy(h, w, y)
    assert np.isfinite(lm.fused_linear_cross_entropy(h, w, y, where=y < vocab))


def _equations(jaxpr, primitive: str):
    """The equations of `primitive` in `jaxpr` and every jaxpr nested in it (scans, VJPs)."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == primitive:
            yield eqn
        for param in eqn.params.values():
            for sub in param if isinstance(param, tuple | list) else (param,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    yield from _equations(inner, primitive)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_fused_cross_entropy_in_16_bits(dtype, rng):
    """16-bit operands: the matrix products run in the operands' dtype with float32
    accumulation (no float32 product), the loss comes back in float32 close to the float32 loss
    of the same rounded inputs, and each gradient in its input's dtype."""
    tokens, hid, vocab = 40, 16, 64
    h = jnp.asarray(rng.normal(size=(tokens, hid)), dtype)
    w = jnp.asarray(rng.normal(size=(hid, vocab)) / 4, dtype)
    b = jnp.asarray(rng.normal(size=vocab), dtype)
    labels = rng.integers(0, vocab, size=tokens)

    def loss(h, w, b):
        return lm.fused_linear_cross_entropy(h, w, labels, bias=b, chunk_size=16, z_loss=1e-3)

    fn = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))
    value, grads = fn(h, w, b)
    assert value.dtype == jnp.float32
    assert [g.dtype for g in grads] == [dtype] * 3
    jaxpr = jax.make_jaxpr(jax.value_and_grad(loss, argnums=(0, 1, 2)))(h, w, b)
    operand_dtypes = {
        str(v.aval.dtype) for e in _equations(jaxpr.jaxpr, "dot_general") for v in e.invars
    }
    assert operand_dtypes == {jnp.dtype(dtype).name}, operand_dtypes
    ref_value, ref_grads = jax.value_and_grad(
        lambda *a: lm.fused_linear_cross_entropy(*a[:2], labels, bias=a[2], z_loss=1e-3),
        argnums=(0, 1, 2),
    )(*(x.astype(jnp.float32) for x in (h, w, b)))
    np.testing.assert_allclose(value, ref_value, rtol=1e-5)
    for g, r in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(g.astype(np.float32), r, rtol=0.05, atol=0.02 * np.abs(r).max())


def test_fused_cross_entropy_memory_is_under_five_percent_of_unfused():
    """Compiled temporaries of value-and-gradient at 8,192 tokens x 131,072 vocabulary, hidden
    256, float32: at most 5% of optax's unfused loss, for the scalar loss and for the per-token
    statistics (compiled only, never run)."""
    tokens, hid, vocab = 8192, 256, 131072
    h = jax.ShapeDtypeStruct((tokens, hid), jnp.float32)
    w = jax.ShapeDtypeStruct((hid, vocab), jnp.float32)
    y = jax.ShapeDtypeStruct((tokens,), jnp.int32)

    def temp_bytes(fn):
        compiled = jax.jit(jax.value_and_grad(fn, argnums=(0, 1))).lower(h, w, y).compile()
        return compiled.memory_analysis().temp_size_in_bytes

    unfused = temp_bytes(
        lambda h, w, y: optax.softmax_cross_entropy_with_integer_labels(h @ w, y).mean()
    )
    fused = {
        "mean": temp_bytes(lambda h, w, y: lm.fused_linear_cross_entropy(h, w, y)),
        "stats": temp_bytes(
            lambda h, w, y: lm.fused_linear_cross_entropy(h, w, y, return_stats=True)[
                1
            ].logprob.sum()
        ),
    }
    for name, size in fused.items():
        assert size <= 0.05 * unfused, (name, size, unfused)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"hidden": np.zeros((4, 3), int)}, TypeError, "hidden must be a floating-point"),
        ({"labels": np.zeros(4)}, TypeError, "labels must be an integer array"),
        ({"labels": np.zeros(5, int)}, ValueError, r"labels has shape \(5,\); expected .*\(4,\)"),
        ({"weight": np.zeros((2, 6))}, ValueError, r"weight \(2, 6\)"),
        ({"bias": np.zeros(5)}, ValueError, r"bias has shape \(5,\); expected \(6,\)"),
        ({"where": np.ones(4)}, TypeError, "where must be a boolean mask"),
        ({"where": np.ones(3, bool)}, ValueError, r"where has shape \(3,\)"),
        ({"reduction": "avg"}, ValueError, "reduction must be one of mean, sum, none"),
        ({"label_smoothing": 1.5}, ValueError, r"label_smoothing must lie in \[0, 1\]"),
        ({"z_loss": -1.0}, ValueError, "z_loss must be >= 0"),
        ({"z_loss": np.inf}, ValueError, "z_loss must be a finite number"),
        ({"logit_softcap": 0.0}, ValueError, "logit_softcap must be a finite number > 0"),
        ({"chunk_size": 0}, ValueError, "chunk_size must be an integer >= 1"),
        ({"chunk_size": True}, ValueError, r"chunk_size must be an integer >= 1.*a bool"),
        ({"ignore_index": 1.5}, TypeError, "ignore_index must be an int or None"),
    ],
)
def test_cross_entropy_errors_name_what_was_wrong(kwargs, error, match):
    args = {"hidden": np.zeros((4, 3)), "weight": np.zeros((3, 6)), "labels": np.zeros(4, int)}
    args.update(kwargs)
    h, w, y = args.pop("hidden"), args.pop("weight"), args.pop("labels")
    with pytest.raises(error, match=match):
        lm.fused_linear_cross_entropy(h, w, y, **args)


def test_kl_estimates_equal_their_formulas_and_stay_precise_near_zero(rng):
    """k1, k2, k3 per token against numpy in float64, masked means and sums against boolean
    indexing; k3 keeps float32 precision where the two models agree (r = 1e-4), where
    `exp(r) - 1 - r` computed directly loses every digit; an unbiased k1/k3 mean on samples."""
    logp, logq = rng.normal(size=(2, 3, 50)) - 3.0
    mask = rng.uniform(size=(3, 50)) < 0.6
    r = logq - logp
    formulas = {"k1": -r, "k2": 0.5 * r**2, "k3": np.expm1(r) - r}
    estimate = jax.jit(lm.kl_estimate, static_argnames=("kind", "reduction"))
    for kind, ref in formulas.items():
        np.testing.assert_allclose(estimate(logp, logq, kind=kind, reduction="none"), ref)
        got = estimate(logp, logq, kind=kind, where=mask, reduction="mean")
        np.testing.assert_allclose(got, ref[mask].mean(), err_msg=kind)
        got = estimate(logp, logq, kind=kind, where=mask, reduction="sum")
        np.testing.assert_allclose(got, ref[mask].sum(), err_msg=kind)
    small = np.float32(1e-4)
    got = lm.kl_estimate(jnp.zeros(1, jnp.float32), jnp.full(1, small), reduction="none")
    exact = np.expm1(np.float64(small)) - np.float64(small)
    np.testing.assert_allclose(got, [exact], rtol=1e-6)
    g = jax.grad(lambda lp: lm.kl_estimate(lp, jnp.zeros(4), where=jnp.array([1, 1, 0, 1]) > 0))
    grads = g(jnp.array([-0.5, 0.3, jnp.nan, 0.0]))
    assert np.all(np.isfinite(grads)) and grads[2] == 0
    # Samples from p: the mean of k3 converges to KL(p || q) of two categoricals.
    p, q = np.array([0.6, 0.3, 0.1]), np.array([0.3, 0.3, 0.4])
    x = rng.choice(3, size=200_000, p=p)
    kl = np.sum(p * np.log(p / q))
    for kind in ("k1", "k3"):
        est = float(lm.kl_estimate(np.log(p[x]), np.log(q[x]), kind=kind))
        assert abs(est - kl) < 0.01, (kind, est, kl)


def test_kl_estimate_errors():
    with pytest.raises(ValueError, match="kind must be one of k1, k2, k3"):
        lm.kl_estimate(np.zeros(2), np.zeros(2), kind="k4")
    with pytest.raises(ValueError, match="reduction must be one of mean, sum, none"):
        lm.kl_estimate(np.zeros(2), np.zeros(2), reduction="avg")
    with pytest.raises(ValueError, match=r"logp has shape \(2,\) and logq has shape \(3,\)"):
        lm.kl_estimate(np.zeros(2), np.zeros(3))
    with pytest.raises(TypeError, match="logp must be"):
        lm.kl_estimate(np.zeros(2, int), np.zeros(2))


def test_distill_keeps_its_names():
    """`jaxdiv.distill` re-exports the distillation losses that moved to `jaxdiv.lm`."""
    assert distill.distillation_loss is lm.distillation_loss
    assert distill.fused_linear_distillation_loss is lm.fused_linear_distillation_loss
    assert jaxdiv.lm is lm


def test_topk_distillation_against_numpy_both_tails(rng):
    """Both tail conventions against numpy in float64 (the teacher's top-k of a full
    distribution), per token and in the masked mean; with k = vocab both equal the full forward
    KL; the bucket KL never exceeds the full KL (coarsening); -inf entries and an empty tail
    give finite values and gradients."""
    shape, vocab, k = (3, 4), 9, 4
    student = rng.normal(size=(*shape, vocab))
    teacher = special.log_softmax(rng.normal(size=(*shape, vocab)) * 2, axis=-1)
    order = np.argsort(-teacher, axis=-1)
    idx = order[..., :k]
    top = np.take_along_axis(teacher, idx, axis=-1)
    logp_s = special.log_softmax(student, axis=-1)
    s_top = np.take_along_axis(logp_s, idx, axis=-1)
    p_t = np.exp(top)
    ren_t = p_t / p_t.sum(-1, keepdims=True)
    ren_s = np.exp(s_top) / np.exp(s_top).sum(-1, keepdims=True)
    renormalized = special.rel_entr(ren_t, ren_s).sum(-1)
    bucket_t = np.concatenate([p_t, 1 - p_t.sum(-1, keepdims=True)], axis=-1)
    bucket_s = np.concatenate([np.exp(s_top), 1 - np.exp(s_top).sum(-1, keepdims=True)], -1)
    bucket = special.rel_entr(bucket_t, bucket_s).sum(-1)
    full = special.rel_entr(np.exp(teacher), np.exp(logp_s)).sum(-1)
    loss = jax.jit(lm.topk_distillation_loss, static_argnames=("tail", "reduction"))
    mask = rng.uniform(size=shape) < 0.7
    for tail, ref in (("renormalize", renormalized), ("bucket", bucket)):
        got = loss(student, top, idx, tail=tail, reduction="none")
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-13, err_msg=tail)
        got = loss(student, top, idx, tail=tail, where=mask)
        np.testing.assert_allclose(got, ref[mask].mean(), rtol=1e-10, err_msg=tail)
        every = loss(
            student,
            teacher[..., order[0, 0]],
            np.broadcast_to(order[0, 0], order.shape),
            tail=tail,
            reduction="none",
        )
        np.testing.assert_allclose(every, full, rtol=1e-10, err_msg=f"{tail}, k = vocab")
    assert np.all(bucket <= full + 1e-12)
    # A teacher with two classes in its support, stored as a top-3 with one -inf entry.
    top3 = np.array([[np.log(0.7), np.log(0.3), -np.inf]])
    idx3 = np.array([[2, 0, 5]])
    grad = jax.jit(jax.value_and_grad(lm.topk_distillation_loss), static_argnames=("tail",))
    for tail in TAILS:
        value, g = grad(student[0, :1], top3, idx3, tail=tail)
        assert np.isfinite(value) and np.all(np.isfinite(g)), tail
        _, g_eps = grad(student[0, :1], np.log(np.array([[0.7, 0.3, 1e-30]])), idx3, tail=tail)
        np.testing.assert_allclose(g, g_eps, atol=1e-12, err_msg=tail)


def test_topk_distillation_errors(rng):
    s, lt, idx = rng.normal(size=(2, 5)), np.log(np.full((2, 2), 0.3)), np.array([[0, 1], [2, 5]])
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 5\); found 5"):
        lm.topk_distillation_loss(s, lt, idx)
    assert np.isnan(jax.jit(lm.topk_distillation_loss)(s, lt, idx))
    with pytest.raises(ValueError, match="tail must be one of renormalize, bucket"):
        lm.topk_distillation_loss(s, lt, idx % 5, tail="other")
    with pytest.raises(
        ValueError, match=r"same leading shape; got \(2, 5\), \(2, 2\) and \(2, 3\)"
    ):
        lm.topk_distillation_loss(s, lt, np.zeros((2, 3), int))
    with pytest.raises(TypeError, match="teacher_topk_indices must be an integer array"):
        lm.topk_distillation_loss(s, lt, idx.astype(float))


def test_minus_infinite_logits_keep_values_and_gradients_finite(rng):
    """-inf logits (a -inf bias masking padded vocabulary entries, or both models at -inf in the
    same class) give the values and gradients of the same logits at -1e4, where their
    probabilities are 0 too: the entropy and its gradient with return_stats (0 * -inf was NaN
    there and poisoned every gradient), the skew KLs (logaddexp(-inf, -inf)), k3 at logq = -inf
    (derivative -1 of expm1 at -inf), top-k rows of padding, and negative top-k indices under
    jit (they wrapped around to a plausible number)."""
    h, w = rng.normal(size=(5, 3)), rng.normal(size=(3, 6))
    y = np.array([0, 1, 2, 3, 4])
    bias = np.zeros(6)
    bias[5] = -np.inf
    clipped = np.where(np.isinf(bias), -1e4, bias)

    def stats_objective(h, w, b):
        loss, st = lm.fused_linear_cross_entropy(h, w, y, bias=b, return_stats=True, chunk_size=2)
        return loss + jnp.sum(st.entropy) + jnp.sum(st.logprob)

    grad = jax.jit(jax.value_and_grad(stats_objective, argnums=(0, 1)))
    (value, grads), (ref, ref_grads) = grad(h, w, bias), grad(h, w, clipped)
    np.testing.assert_allclose(value, ref, rtol=1e-12)
    for g, r in zip(grads, ref_grads, strict=True):
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-14)
    s, t = rng.normal(size=(2, 4, 6))
    s[:, 2], t[:, 2] = -np.inf, -np.inf
    for divergence in ("skew_kl", "skew_reverse_kl"):
        for alpha in (0.0, 0.3, 1.0):
            fn = jax.value_and_grad(
                partial(lm.distillation_loss, divergence=divergence, alpha=alpha)
            )
            (v, g), (v_ref, g_ref) = fn(s, t), fn(np.maximum(s, -1e4), np.maximum(t, -1e4))
            np.testing.assert_allclose(v, v_ref, rtol=1e-12, err_msg=f"{divergence} {alpha}")
            np.testing.assert_allclose(g, g_ref, atol=1e-14, err_msg=f"{divergence} {alpha}")
    for kind in ("k1", "k3"):
        g = jax.grad(lambda a, kind=kind: lm.kl_estimate(a, jnp.array([-jnp.inf]), kind=kind))
        np.testing.assert_allclose(g(jnp.array([-1.0])), [1.0], err_msg=kind)
    student = np.log(np.array([[0.5, 0.3, 0.2]]))
    padding = np.full((1, 2), -np.inf)
    value, g = jax.value_and_grad(lm.topk_distillation_loss)(student, padding, np.array([[0, 1]]))
    assert value == 0 and not np.any(g)
    top = np.log(np.array([[0.5, 0.2]]))
    wrapped = jax.jit(lambda i: lm.topk_distillation_loss(student, top, i))(np.array([[0, -1]]))
    assert np.isnan(wrapped)


def test_argument_types_follow_the_peers(rng):
    """ignore_index may be a JAX integer scalar as well as a Python or NumPy one; return_stats
    must be a bool; chunk_size=None is the automatic size in both fused losses; the label range
    error names the right vocabulary and omits a None ignore_index."""
    h, w = rng.normal(size=(4, 3)), rng.normal(size=(3, 6))
    y = np.array([0, -100, 2, 3])
    base = lm.fused_linear_cross_entropy(h, w, y)
    for index in (np.int64(-100), jnp.int32(-100)):
        np.testing.assert_allclose(lm.fused_linear_cross_entropy(h, w, y, ignore_index=index), base)
    with pytest.raises(TypeError, match="return_stats must be True or False"):
        lm.fused_linear_cross_entropy(h, w, y, return_stats="yes")
    fused = lm.fused_linear_distillation_loss(h, w, h, w * 0.5, chunk_size=None)
    np.testing.assert_allclose(fused, lm.distillation_loss(h @ w, h @ w * 0.5), rtol=1e-12)
    with pytest.raises(ValueError, match=r"\[0, 6\) \(the logits' vocabulary\); found 7"):
        lm.distillation_loss(h @ w, h @ w, labels=np.array([0, 7, 1, 1]), ignore_index=None)
