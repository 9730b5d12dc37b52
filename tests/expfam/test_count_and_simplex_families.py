"""NegativeBinomial, Logarithmic, Multinomial and GeneralizedDirichlet beyond the family table.

The suite runs in float64 (tests/conftest.py). Oracles in numpy float64: pmfs
summed over a truncated support (the tail is below 1e-20), the Connor-Mosimann
density by Monte Carlo over its stick-breaking construction, and the families
they contain (Geometric, Categorical, Binomial, Dirichlet).
"""

import families_discrete
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from jaxdiv import expfam


def _tree_finite(tree):
    return all(np.all(np.isfinite(np.asarray(g))) for g in jax.tree.leaves(tree))


def _entropy_and_kl(logp, logq):
    p = np.exp(logp)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.sum(np.where(p > 0, p * logp, 0.0))
        kl = np.sum(np.where(p > 0, p * (logp - logq), 0.0))
    return h, kl


@jax.jit
def _divergences(p, q):
    """Entropy of p, KL(p || q), and the entropy's gradient (the quadrature's)."""
    grads = jax.grad(lambda p: jnp.sum(expfam.entropy(p)))(p)
    return expfam.entropy(p), expfam.kl_divergence(p, q), grads


def _log_series_logpmf(k, p):
    if p == 0:  # all the mass at 1
        return np.where(k == 1, 0.0, -np.inf)
    return k * np.log(p) - np.log(k) - np.log(-np.log1p(-p))


# --------------------------------------------------------------------------- Negative Binomial


@pytest.mark.parametrize("count", [0.3, 1.0, 7.0])
def test_negative_binomial_entropy_and_kl_match_sums_over_the_support(count):
    """Counts below 1 (a kernel of the other sign), the Geometric and an integer count; p from
    1e-3 (mean 7e3) to the point mass at 0."""
    probs = np.array([1e-3, 0.3, 0.9, 1.0])
    other = np.array([0.5, 0.02, 1.0, 0.3])
    p = expfam.NegativeBinomial.from_count_probs(count, probs)
    q = expfam.NegativeBinomial.from_count_probs(count, other)
    h, kl, grads = _divergences(p, q)
    k = np.arange(60_000.0)
    for i in range(len(probs)):
        logp = stats.nbinom(count, probs[i]).logpmf(k)
        logq = stats.nbinom(count, other[i]).logpmf(k)
        want_h, want_kl = _entropy_and_kl(logp, logq)
        np.testing.assert_allclose(h[i], want_h, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(kl[i], want_kl, rtol=1e-9, atol=1e-12)
    assert _tree_finite(grads)


def test_negative_binomial_with_one_success_is_the_geometric():
    probs = np.array([0.01, 0.4, 1.0])
    nb = expfam.NegativeBinomial.from_count_probs(1, probs)
    geo = expfam.Geometric.from_probs(probs)
    x = np.array([0.0, 3.0, 50.0])
    np.testing.assert_allclose(expfam.entropy(nb), expfam.entropy(geo), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(nb.log_prob(x), geo.log_prob(x), rtol=1e-6)
    q_nb = expfam.NegativeBinomial.from_count_probs(1, 0.2)
    q_geo = expfam.Geometric.from_probs(0.2)
    np.testing.assert_allclose(
        expfam.kl_divergence(nb, q_nb), expfam.kl_divergence(geo, q_geo), rtol=1e-6
    )


def test_negative_binomial_sampler_matches_the_pmf():
    d = expfam.NegativeBinomial.from_count_probs(2.5, jnp.array([0.3, 1.0]))
    x = np.asarray(d.sample(jax.random.key(3), (40_000,)))
    assert np.all(x[:, 1] == 0)
    freq = np.array([np.mean(x[:, 0] == k) for k in range(8)])
    pmf = stats.nbinom(2.5, 0.3).pmf(np.arange(8))
    assert np.all(np.abs(freq - pmf) <= 5 * np.sqrt(pmf / 40_000) + 1e-3), (freq, pmf)


# --------------------------------------------------------------------------- Logarithmic


def test_logarithmic_entropy_and_kl_match_sums_over_the_support():
    """Including the point mass at 1 (p = 0) in both places; KL to it is +inf."""
    probs = np.array([0.0, 1e-4, 0.3, 0.95, 0.999, 1 - 1e-4])
    other = np.array([0.6, 0.0, 0.7, 0.5, 0.99, 0.999])
    p, q = expfam.Logarithmic.from_probs(probs), expfam.Logarithmic.from_probs(other)
    h, kl, grads = _divergences(p, q)
    k = np.arange(1, 600_000.0)  # (1 - 1e-4)^k below 1e-26 beyond
    for i in range(len(probs)):
        logp, logq = _log_series_logpmf(k, probs[i]), _log_series_logpmf(k, other[i])
        want_h, want_kl = _entropy_and_kl(logp, logq)
        np.testing.assert_allclose(h[i], want_h, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(kl[i], want_kl, rtol=1e-9, atol=1e-12)
    assert kl[1] == np.inf
    assert _tree_finite(grads)


def test_logarithmic_sampler_matches_the_pmf():
    d = expfam.Logarithmic.from_probs(jnp.array([0.9, 0.0]))
    x = np.asarray(d.sample(jax.random.key(4), (40_000,)))
    assert np.all(x[:, 1] == 1)
    freq = np.array([np.mean(x[:, 0] == k) for k in range(1, 8)])
    pmf = stats.logser(0.9).pmf(np.arange(1, 8))
    assert np.all(np.abs(freq - pmf) <= 5 * np.sqrt(pmf / 40_000) + 1e-3), (freq, pmf)


def test_mean_parameters_invert_for_the_new_families():
    """Closed forms (NegativeBinomial, Multinomial) and Newton's method (Logarithmic and the
    generalized Dirichlet, from their starting points) recover the member."""
    log_series = expfam.Logarithmic.from_probs(np.array([1e-3, 0.4, 0.99]))
    back = expfam.Logarithmic.from_mean_parameters(log_series.mean_parameters())
    np.testing.assert_allclose(back.probs, log_series.probs, rtol=1e-8)
    nb = expfam.NegativeBinomial.from_count_probs(2.5, np.array([0.01, 0.6]))
    back = expfam.NegativeBinomial.from_mean_parameters(nb.mean_parameters(), total_count=2.5)
    np.testing.assert_allclose(back.probs, nb.probs, rtol=1e-12)
    multi = expfam.Multinomial.from_count_probs(4, np.array([0.2, 0.0, 0.8]))
    back = expfam.Multinomial.from_mean_parameters(multi.mean_parameters(), total_count=4)
    np.testing.assert_allclose(back.probs, multi.probs, rtol=1e-12)
    gd = expfam.GeneralizedDirichlet.from_concentrations([0.5, 3.0], [2.0, 0.7])
    back = expfam.GeneralizedDirichlet.from_mean_parameters(gd.mean_parameters())
    np.testing.assert_allclose(back.a, gd.a, rtol=1e-8)
    np.testing.assert_allclose(back.b, gd.b, rtol=1e-8)


# --------------------------------------------------------------------------- Multinomial


def test_multinomial_agrees_with_categorical_and_binomial():
    """Multinomial(1, p) is Categorical(p) on one-hot vectors; Multinomial(n, (p, 1 - p)) is
    Binomial(n, p) of the first count. Degenerate members included."""
    p = np.array([[0.2, 0.3, 0.5], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    q = np.array([[0.6, 0.2, 0.2], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    one_p, one_q = (
        expfam.Multinomial.from_count_probs(1, p),
        expfam.Multinomial.from_count_probs(1, q),
    )
    cat_p, cat_q = expfam.Categorical.from_probs(p), expfam.Categorical.from_probs(q)
    for fn in (expfam.kl_divergence, expfam.bregman_kl, expfam.cross_entropy):
        np.testing.assert_allclose(fn(one_p, one_q), fn(cat_p, cat_q), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(expfam.entropy(one_p), expfam.entropy(cat_p), rtol=1e-6, atol=1e-7)
    labels = np.array([2, 0, 2])
    np.testing.assert_allclose(
        one_p.log_prob(np.eye(3)[labels]), cat_p.log_prob(labels), rtol=1e-6, atol=1e-7
    )
    n, b, c = 6, np.array([0.0, 0.3, 1.0]), np.array([0.5, 0.9, 0.2])
    two_b = expfam.Multinomial.from_count_probs(n, np.stack([b, 1 - b], -1))
    two_c = expfam.Multinomial.from_count_probs(n, np.stack([c, 1 - c], -1))
    bin_b, bin_c = expfam.Binomial.from_count_probs(n, b), expfam.Binomial.from_count_probs(n, c)
    for fn in (expfam.kl_divergence, expfam.bregman_kl, expfam.cross_entropy):
        np.testing.assert_allclose(fn(two_b, two_c), fn(bin_b, bin_c), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(expfam.entropy(two_b), expfam.entropy(bin_b), rtol=1e-6, atol=1e-6)
    k = np.array([0.0, 2.0, 6.0])
    np.testing.assert_allclose(
        two_b.log_prob(np.stack([k, n - k], -1)), bin_b.log_prob(k), rtol=1e-6, atol=1e-6
    )


# --------------------------------------------------------------------------- generalized Dirichlet


def test_generalized_dirichlet_entropy_by_monte_carlo_over_stick_breaking():
    """-E[log p(X)] with X from numpy's Betas broken into sticks, p the direct Connor-Mosimann
    density: it checks jaxdiv's entropy and the oracle's closed form independently."""
    rng = np.random.default_rng(0)
    params = [([0.7, 2.0, 1.5], [3.0, 0.6, 2.5]), ([4.0, 0.5, 1.0], [1.2, 5.0, 0.8])]
    a = np.array([p[0] for p in params])
    b = np.array([p[1] for p in params])
    h = expfam.entropy(expfam.GeneralizedDirichlet.from_concentrations(a, b))
    n = 200_000
    for i in range(len(params)):
        oracle = families_discrete.GeneralizedDirichletOracle(a[i], b[i])
        logpdf = oracle.logpdf(oracle.rvs(n, rng))
        mc, se = -np.mean(logpdf), np.std(logpdf) / np.sqrt(n)
        assert abs(h[i] - mc) < 5 * se, (h[i], mc, se)
        np.testing.assert_allclose(h[i], oracle.entropy(), rtol=1e-10)


def test_generalized_dirichlet_with_dirichlet_parameters_is_the_dirichlet():
    alpha = np.array([[0.5, 2.0, 1.0, 3.0], [1e-2, 1.0, 40.0, 2.0]])
    beta = np.array([[1.0, 1.0, 1.0, 1.0], [5.0, 0.3, 2.0, 7.0]])

    def both(c):
        tails = np.cumsum(c[..., ::-1], -1)[..., ::-1]
        gd = expfam.GeneralizedDirichlet.from_concentrations(c[..., :-1], tails[..., 1:])
        return gd, expfam.Dirichlet.from_concentration(c)

    (g1, d1), (g2, d2) = both(alpha), both(beta)
    np.testing.assert_allclose(expfam.entropy(g1), expfam.entropy(d1), rtol=1e-10)
    np.testing.assert_allclose(
        expfam.kl_divergence(g1, g2), expfam.kl_divergence(d1, d2), rtol=1e-10
    )
    x = np.random.default_rng(1).dirichlet(np.ones(4), 2)
    np.testing.assert_allclose(g1.log_prob(x), d1.log_prob(x), rtol=1e-10)
    s = g1.sample(jax.random.key(0), (3,))
    assert s.shape == (3, 2, 4)
    np.testing.assert_allclose(np.sum(s, -1), 1.0, rtol=1e-12)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: expfam.NegativeBinomial.from_count_probs(0, 0.5), "total_count must be"),
        (lambda: expfam.NegativeBinomial.from_count_probs(True, 0.5), "total_count must be"),
        (lambda: expfam.NegativeBinomial.from_count_probs(2, 0.0), r"probs must lie in \(0, 1\]"),
        (lambda: expfam.Logarithmic.from_probs(1.0), r"probs must lie in \[0, 1\)"),
        (lambda: expfam.Multinomial.from_count_probs(2.0, [0.5, 0.5]), "Python int >= 1"),
        (lambda: expfam.Multinomial.from_count_probs(3, [0.5, 0.6]), "sum to 1"),
        (lambda: expfam.GeneralizedDirichlet.from_concentrations([1.0], [0.0]), "must be > 0"),
        (lambda: expfam.GeneralizedDirichlet.from_concentrations(1.0, 1.0), "size K - 1 >= 1"),
    ],
)
def test_invalid_parameters_raise_a_value_error_saying_what_was_expected(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_members_with_different_counts_are_a_value_error():
    p = expfam.NegativeBinomial.from_count_probs(2, 0.5)
    q = expfam.NegativeBinomial.from_count_probs(3, 0.5)
    with pytest.raises(ValueError, match="different fixed parameters"):
        expfam.kl_divergence(p, q)


def test_log_beta_is_accurate_in_float64_where_jax_betaln_is_not():
    """jax's betaln switches to a float32-accurate series at max(a, b) = 8 (7e-7 off at
    (5, 9.3)): the Beta, Dirichlet and generalized Dirichlet log-normalizers use log-gammas
    there in float64. Found by the generalized Dirichlet = Dirichlet test above."""
    a = np.array([1e-3, 0.3, 1.0, 5.0, 30.0, 300.0])
    for b in [0.5, 8.5, 9.3, 20.0, 100.0, 999.0, 1e4]:
        got = expfam.Beta.from_concentrations(a, b).log_normalizer()
        np.testing.assert_allclose(got, special.betaln(a, b), rtol=1e-12, atol=1e-11)
