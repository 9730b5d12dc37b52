"""Identities and inequalities, checked on many random inputs with hypothesis."""

import itertools
import math

import jax
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import jaxdiv

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


@st.composite
def simplex(draw, size=None, allow_zeros=True):
    """A probability vector of `size` entries (2 to 6 when not given), zeros allowed."""
    k = size if size is not None else draw(st.integers(2, 6))
    low = 0.0 if allow_zeros else 1e-3
    w = draw(arrays(np.float64, k, elements=st.floats(low, 1.0)))
    if w.sum() == 0:
        w[0] = 1.0
    return w / w.sum()


@st.composite
def simplex_pair(draw, allow_zeros=True):
    k = draw(st.integers(2, 6))
    return draw(simplex(k, allow_zeros)), draw(simplex(k, allow_zeros))


kl = jax.jit(jaxdiv.kl_divergence)
entropy = jax.jit(jaxdiv.entropy)
cross_entropy = jax.jit(jaxdiv.cross_entropy)
tv = jax.jit(jaxdiv.total_variation)
js = jax.jit(jaxdiv.js_divergence)


@SETTINGS
@given(simplex_pair())
def test_gibbs_inequality(pq):
    p, q = pq
    assert kl(p, p) == 0
    value = kl(p, q)
    assert value >= -1e-15
    if np.abs(p - q).max() > 1e-3:
        assert value > 0


@SETTINGS
@given(simplex_pair())
def test_cross_entropy_is_entropy_plus_kl(pq):
    p, q = pq
    h_pq, h_p, d = cross_entropy(p, q), entropy(p), kl(p, q)
    if np.isinf(d):
        assert np.isinf(h_pq)
    else:
        np.testing.assert_allclose(h_pq, h_p + d, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(simplex_pair())
def test_pinsker_inequality(pq):
    p, q = pq
    assert tv(p, q) <= math.sqrt(max(float(kl(p, q)), 0.0) / 2) + 1e-12


@SETTINGS
@given(simplex_pair())
def test_js_symmetric_and_bounded(pq):
    p, q = pq
    np.testing.assert_allclose(js(p, q), js(q, p), rtol=1e-12, atol=1e-15)
    assert 0 - 1e-15 <= js(p, q) <= math.log(2) + 1e-12
    # Skew JS with weight w equals skew JS with 1 - w and the arguments swapped.
    np.testing.assert_allclose(
        jaxdiv.js_divergence(p, q, weight=0.3),
        jaxdiv.js_divergence(q, p, weight=0.7),
        rtol=1e-12,
        atol=1e-15,
    )


ALPHAS = (0.0, 0.1, 0.5, 0.9, 1.0, 1.5, 2.0, 5.0, np.inf)


@SETTINGS
@given(simplex_pair())
def test_renyi_non_decreasing_in_alpha(pq):
    p, q = pq
    values = [float(jaxdiv.renyi_divergence(p, q, alpha=a)) for a in ALPHAS]
    for lo, hi in itertools.pairwise(values):
        assert hi == np.inf if lo == np.inf else hi >= lo - 1e-9 * max(1.0, abs(lo))


@SETTINGS
@given(simplex_pair(allow_zeros=False))
def test_renyi_half_is_twice_bhattacharyya_and_alpha_limits(pq):
    p, q = pq
    np.testing.assert_allclose(
        jaxdiv.renyi_divergence(p, q, alpha=0.5),
        2 * jaxdiv.bhattacharyya_distance(p, q),
        rtol=1e-10,
        atol=1e-14,
    )
    # The alpha-divergence at 0.5 is 4 H^2 and at 2 half the Pearson chi-square.
    np.testing.assert_allclose(
        jaxdiv.alpha_divergence(p, q, alpha=0.5),
        4 * jaxdiv.hellinger_distance(p, q) ** 2,
        rtol=1e-8,
        atol=1e-14,
    )
    np.testing.assert_allclose(
        jaxdiv.alpha_divergence(p, q, alpha=2.0),
        jaxdiv.chi_square_divergence(p, q) / 2,
        rtol=1e-8,
        atol=1e-14,
    )
    # Continuity at the KL limits.
    for a, ref in ((1.0, kl(p, q)), (0.0, kl(q, p))):
        near = jaxdiv.alpha_divergence(p, q, alpha=a + 1e-6)
        np.testing.assert_allclose(near, ref, rtol=1e-4, atol=1e-9)


@SETTINGS
@given(simplex())
def test_entropy_at_most_log_k(p):
    k = p.shape[-1]
    assert entropy(p) <= math.log(k) + 1e-12
    np.testing.assert_allclose(entropy(np.full(k, 1 / k)), math.log(k), rtol=1e-12)
    np.testing.assert_allclose(jaxdiv.perplexity(np.full(k, 1 / k)), k, rtol=1e-12)


@SETTINGS
@given(st.integers(2, 5), st.integers(2, 5), st.data())
def test_mutual_information_nonnegative_and_zero_for_independent(nx, ny, data):
    joint = data.draw(simplex(nx * ny)).reshape(nx, ny)
    assert jaxdiv.mutual_information(joint) >= -1e-12
    px, py = data.draw(simplex(nx)), data.draw(simplex(ny))
    np.testing.assert_allclose(jaxdiv.mutual_information(np.outer(px, py)), 0.0, atol=1e-12)
    # MI is bounded by the smaller marginal entropy.
    bound = min(entropy(joint.sum(1)), entropy(joint.sum(0)))
    assert jaxdiv.mutual_information(joint) <= bound + 1e-12


@SETTINGS
@given(simplex_pair(allow_zeros=False))
def test_f_divergence_generators_reproduce_named_divergences(pq):
    p, q = pq
    cases = [
        (lambda t: jax.scipy.special.xlogy(t, t), math.inf, kl(p, q)),
        (lambda t: -jax.numpy.log(t), math.inf, kl(q, p)),
        (lambda t: jax.numpy.abs(t - 1) / 2, 0.5, tv(p, q)),
        (lambda t: (t - 1) ** 2, math.inf, jaxdiv.chi_square_divergence(p, q)),
        (lambda t: (jax.numpy.sqrt(t) - 1) ** 2 / 2, 0.5, jaxdiv.hellinger_distance(p, q) ** 2),
    ]
    for f, slope, expected in cases:
        got = jaxdiv.f_divergence(p, q, f, slope_at_infinity=slope)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-14)


@SETTINGS
@given(simplex_pair())
def test_bernoulli_kl_is_entropy_identity(pq):
    p, q = pq[0][:1], pq[1][:1]
    h_pq = jaxdiv.binary_cross_entropy(p, q)
    d = jaxdiv.binary_kl_divergence(p, q)
    if np.all(np.isfinite(d)):
        np.testing.assert_allclose(h_pq, jaxdiv.binary_entropy(p) + d, rtol=1e-10, atol=1e-12)
