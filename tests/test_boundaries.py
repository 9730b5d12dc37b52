"""The numerical contract at the boundaries, one point per test.

0 log 0 = 0; q = 0 < p gives an honest +inf (never NaN); JS stays finite and
<= log 2; gradients are finite at p = 0 entries, at -inf logits and at logits
of magnitude 1e4, and equal to those of slightly clipped inputs where the
derivative has a finite limit.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import LOGIT2, PROB2
from scipy import special

import jaxdiv

P0 = np.array([0.0, 0.2, 0.0, 0.8])  # zeros in p
Q_POS = np.array([0.1, 0.3, 0.4, 0.2])  # q > 0 everywhere
Q0 = np.array([0.3, 0.5, 0.2, 0.0])  # q = 0 where p > 0 (entry 3)


def _grads(fn, *args):
    return jax.grad(lambda *a: fn(*a), argnums=tuple(range(len(args))))(*args)


def test_zero_times_log_zero_is_zero():
    assert jaxdiv.entropy(np.array([0.0, 1.0])) == 0
    assert jaxdiv.entropy(np.array([0.0, 0.0, 1.0]), base=2) == 0
    assert jaxdiv.binary_entropy(np.array([0.0, 1.0])).tolist() == [0.0, 0.0]
    # Entries with p = 0 contribute nothing, even where q = 0 too.
    p, q = np.array([0.0, 0.5, 0.5]), np.array([0.0, 0.5, 0.5])
    assert jaxdiv.kl_divergence(p, q) == 0
    assert jaxdiv.cross_entropy(p, q) == pytest.approx(math.log(2))
    np.testing.assert_allclose(jaxdiv.kl_divergence(P0, Q_POS), special.rel_entr(P0, Q_POS).sum())


@pytest.mark.parametrize(
    "fn",
    [
        jaxdiv.kl_divergence,
        jaxdiv.cross_entropy,
        jaxdiv.jeffreys_divergence,
        jaxdiv.chi_square_divergence,
        *[
            lambda p, q, a=a: jaxdiv.renyi_divergence(p, q, alpha=a)
            for a in (1.0, 1.5, 2.0, np.inf)
        ],
        lambda p, q: jaxdiv.alpha_divergence(p, q, alpha=2.0),
    ],
)
def test_q_zero_where_p_positive_gives_inf_not_nan(fn):
    value = jax.jit(fn)(P0, Q0)  # p has mass where q = 0
    assert value == np.inf
    grads = _grads(fn, P0, Q0)
    assert not any(np.any(np.isnan(g)) for g in grads)


def test_q_zero_from_logits_gives_inf_not_nan():
    a = np.array([0.0, 1.0, 2.0])
    b = np.array([0.0, -np.inf, 2.0])
    for fn in (
        jaxdiv.kl_divergence_from_logits,
        jaxdiv.cross_entropy_from_logits,
        lambda a, b: jaxdiv.renyi_divergence_from_logits(a, b, alpha=2.0),
    ):
        assert fn(a, b) == np.inf
    # Where the value is +inf the gradient in q still has its finite limit,
    # softmax(b) - softmax(a), which pulls q towards the mass it misses.
    # In p's logits it is the limit as q's missing mass goes to 0: +inf for the
    # entry q misses, -inf for the others with p > 0, 0 where p = 0; never NaN.
    a0 = np.array([0.0, 1.0, 2.0, -np.inf])
    b0 = np.array([0.0, -np.inf, 2.0, 0.0])
    for fn in (jaxdiv.kl_divergence_from_logits, jaxdiv.cross_entropy_from_logits):
        ga, gb = _grads(fn, a0, b0)
        np.testing.assert_allclose(gb, special.softmax(b0) - special.softmax(a0), rtol=1e-12)
        np.testing.assert_array_equal(ga, [-np.inf, np.inf, -np.inf, 0.0])
    assert jaxdiv.binary_cross_entropy(np.array([1.0]), np.array([0.0]))[0] == np.inf
    assert jaxdiv.binary_kl_divergence(np.array([0.5]), np.array([1.0]))[0] == np.inf
    assert (
        jaxdiv.binary_cross_entropy_from_logits(np.array([1.0]), np.array([-np.inf]))[0] == np.inf
    )


def test_renyi_below_one_is_finite_when_q_has_zeros():
    p, q = P0, Q0
    for a in (0.0, 0.5, 0.9):
        value = jaxdiv.renyi_divergence(p, q, alpha=a)
        assert np.isfinite(value)
    # Disjoint supports: +inf for every order, also below one.
    disjoint = jaxdiv.renyi_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0]), alpha=0.5)
    assert disjoint == np.inf
    assert jaxdiv.bhattacharyya_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == np.inf


def test_js_is_finite_and_at_most_log_two(rng):
    p, q = np.array([0.0, 1.0]), np.array([1.0, 0.0])
    np.testing.assert_allclose(jaxdiv.js_divergence(p, q), math.log(2), rtol=1e-12)
    np.testing.assert_allclose(jaxdiv.js_divergence(p, q, base=2), 1.0, rtol=1e-12)
    a, b = np.array([0.0, -np.inf]), np.array([-np.inf, 0.0])
    np.testing.assert_allclose(jaxdiv.js_divergence_from_logits(a, b), math.log(2), rtol=1e-12)
    many = rng.dirichlet(np.full(6, 0.1), size=200)
    js = jaxdiv.js_divergence(many, many[::-1])
    assert np.all(np.isfinite(js)) and np.all(js <= math.log(2) + 1e-12)
    # The skew form is bounded by the binary entropy of its weight.
    w = 0.2
    bound = -(w * math.log(w) + (1 - w) * math.log(1 - w))
    np.testing.assert_allclose(jaxdiv.js_divergence(p, q, weight=w), bound, rtol=1e-12)
    grads = _grads(jaxdiv.js_divergence, p, q)
    assert all(np.all(np.isfinite(g)) for g in grads)


@pytest.mark.parametrize("case", PROB2, ids=repr)
@pytest.mark.parametrize("q", [Q_POS, np.array([0.0, 0.3, 0.0, 0.7])], ids=["q>0", "q=0 with p"])
def test_gradients_finite_at_zero_probabilities(case, q):
    """Zero entries in p: wherever the value is finite, both gradients are finite.

    The gradient with respect to q also equals that of slightly clipped inputs
    (zeros replaced by 1e-300), since its limit is finite.
    """
    p = P0
    value = case.fn(p, q)
    if not np.isfinite(value):
        # Reverse-type divergences (alpha <= 0, Jeffreys) are +inf when p = 0 < q.
        assert value == np.inf and case.name.startswith(("alpha_divergence_", "jeffreys"))
        return
    gp, gq = _grads(case.fn, p, q)
    assert np.all(np.isfinite(gp)) and np.all(np.isfinite(gq))
    if case.name == "renyi_divergence_0.0":
        return  # -log sum_{p>0} q depends on the support of p: no limit to compare with
    tiny = 1e-300
    _, gq_clipped = _grads(case.fn, p + tiny * (p == 0), q + tiny * (q == 0))
    np.testing.assert_allclose(gq[q > 0], gq_clipped[q > 0], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("case", LOGIT2, ids=repr)
def test_gradients_finite_at_neg_inf_logits_and_equal_to_clipped(case):
    a = np.array([-np.inf, 0.5, 2.0, -np.inf, 1.0])
    b = np.array([-np.inf, 1.5, -1.0, 0.3, 0.0])  # -inf only where a is -inf too
    value = case.fn(a, b)
    assert np.isfinite(value)
    ga, gb = _grads(case.fn, a, b)
    assert np.all(np.isfinite(ga)) and np.all(np.isfinite(gb))
    if case.name == "renyi_divergence_from_logits_0.0":
        return  # -log sum_{p>0} q depends on the support: a clipped logit is in it
    clip = -1e3  # exp(-1e3) underflows to exactly 0 in float64
    ga_c, gb_c = _grads(case.fn, np.maximum(a, clip), np.maximum(b, clip))
    np.testing.assert_allclose(ga, ga_c, atol=1e-12)
    np.testing.assert_allclose(gb, gb_c, atol=1e-12)
    np.testing.assert_allclose(value, case.fn(np.maximum(a, clip), np.maximum(b, clip)))


def test_gradients_at_huge_logits_match_closed_forms():
    """At |logit| ~ 1e4 (float32 and float64) the KL gradient is softmax(b) - softmax(a)."""
    a64 = np.array([1e4, -1e4, 9999.0, 0.0])
    b64 = np.array([-1e4, 1e4, 9998.0, 1e4 - 1.0])
    for dtype in (np.float32, np.float64):
        a, b = a64.astype(dtype), b64.astype(dtype)
        pa, pb = special.softmax(a64), special.softmax(b64)
        lpa, lpb = special.log_softmax(a64), special.log_softmax(b64)
        kl = np.sum(pa * (lpa - lpb))  # in log space: pb[0] underflows to 0, lpb[0] does not
        ga, gb = _grads(jaxdiv.kl_divergence_from_logits, a, b)
        tol = {"rtol": 1e-5, "atol": 1e-6}
        rtol = 1e-6 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(jaxdiv.kl_divergence_from_logits(a, b), kl, rtol=rtol)
        np.testing.assert_allclose(gb, pb - pa, **tol)
        np.testing.assert_allclose(ga, np.where(pa > 0, pa * (lpa - lpb - kl), 0), **tol)
        ce = -np.sum(pa * lpb)
        ga, gb = _grads(jaxdiv.cross_entropy_from_logits, a, b)
        np.testing.assert_allclose(gb, pb - pa, **tol)
        np.testing.assert_allclose(ga, pa * (-lpb - ce), rtol=1e-5, atol=1e-2)
        for fn in (
            jaxdiv.js_divergence_from_logits,
            jaxdiv.entropy_from_logits,
            lambda a, b: jaxdiv.renyi_divergence_from_logits(a, b, alpha=0.5),
            jaxdiv.binary_kl_divergence_from_logits,
            lambda a, b: jaxdiv.binary_cross_entropy_from_logits(special.expit(a64), b),
        ):
            args = (a,) if fn is jaxdiv.entropy_from_logits else (a, b)
            grads = _grads(lambda *x, fn=fn: jnp.sum(fn(*x)), *args)
            assert all(np.all(np.isfinite(g)) for g in grads)


def test_gradient_of_entry_with_zero_mass_is_zero():
    """The documented convention: d KL / d p_i at p_i = 0 is taken as 0."""
    gp, gq = _grads(jaxdiv.kl_divergence, P0, Q_POS)
    assert gp[0] == 0 and gp[2] == 0
    support = P0 > 0
    np.testing.assert_allclose(gp[support], np.log(P0[support] / Q_POS[support]) + 1)
    np.testing.assert_allclose(gq, -P0 / Q_POS)


def test_integer_labels_with_neg_inf_logits_have_finite_gradients():
    logits = np.array([[0.0, -np.inf, 1.0], [-np.inf, 2.0, 0.0]])
    labels = np.array([2, 1])
    loss = jaxdiv.cross_entropy_from_integer_labels(logits, labels)
    assert np.all(np.isfinite(loss))
    g = jax.grad(lambda x: jaxdiv.cross_entropy_from_integer_labels(x, labels).sum())(logits)
    assert np.all(np.isfinite(g))


def test_no_nan_anywhere_on_degenerate_rows():
    """All-zero and one-hot rows, in every combination, never produce NaN values."""
    rows = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    p = np.repeat(rows, 4, axis=0)
    q = np.tile(rows, (4, 1))
    for case in PROB2:
        value = case.fn(p, q)
        assert not np.any(np.isnan(value)), case.name
