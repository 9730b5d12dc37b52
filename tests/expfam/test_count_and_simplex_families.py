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


@jax.jit
def _negative_binomial_and_geometric(probs, x):
    """Entropy, log-density and KL to a member of p = 0.2 of NegativeBinomial(1, probs) and
    of Geometric(probs), in one program."""
    nb = expfam.NegativeBinomial.from_count_probs(1, probs)
    geo = expfam.Geometric.from_probs(probs)
    q_nb = expfam.NegativeBinomial.from_count_probs(1, jnp.float64(0.2))
    q_geo = expfam.Geometric.from_probs(jnp.float64(0.2))
    return {
        "entropy": (expfam.entropy(nb), expfam.entropy(geo)),
        "log_prob": (nb.log_prob(x), geo.log_prob(x)),
        "kl_divergence": (expfam.kl_divergence(nb, q_nb), expfam.kl_divergence(geo, q_geo)),
    }


def test_negative_binomial_with_one_success_is_the_geometric():
    pairs = _negative_binomial_and_geometric(np.array([0.01, 0.4, 1.0]), np.array([0.0, 3.0, 50.0]))
    atols = {"entropy": 1e-7, "log_prob": 0.0, "kl_divergence": 0.0}
    assert pairs.keys() == atols.keys()
    for name, (got, want) in pairs.items():
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=atols[name], err_msg=name)


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


@jax.jit
def _mean_parameter_round_trips():
    """(recovered, original) parameters of members rebuilt from their mean parameters."""
    log_series = expfam.Logarithmic.from_probs(jnp.array([1e-3, 0.4, 0.99]))
    nb = expfam.NegativeBinomial.from_count_probs(2.5, jnp.array([0.01, 0.6]))
    multi = expfam.Multinomial.from_count_probs(4, jnp.array([0.2, 0.0, 0.8]))
    gd = expfam.GeneralizedDirichlet.from_concentrations(
        jnp.array([0.5, 3.0]), jnp.array([2.0, 0.7])
    )
    back_log_series = expfam.Logarithmic.from_mean_parameters(log_series.mean_parameters())
    back_nb = expfam.NegativeBinomial.from_mean_parameters(nb.mean_parameters(), total_count=2.5)
    back_multi = expfam.Multinomial.from_mean_parameters(multi.mean_parameters(), total_count=4)
    back_gd = expfam.GeneralizedDirichlet.from_mean_parameters(gd.mean_parameters())
    return {
        "Logarithmic probs": (back_log_series.probs, log_series.probs),
        "NegativeBinomial probs": (back_nb.probs, nb.probs),
        "Multinomial probs": (back_multi.probs, multi.probs),
        "GeneralizedDirichlet a": (back_gd.a, gd.a),
        "GeneralizedDirichlet b": (back_gd.b, gd.b),
    }


def test_mean_parameters_invert_for_the_new_families():
    """Closed forms (NegativeBinomial, Multinomial) and Newton's method (Logarithmic and the
    generalized Dirichlet, from their starting points) recover the member."""
    rtols = {
        "Logarithmic probs": 1e-8,
        "NegativeBinomial probs": 1e-12,
        "Multinomial probs": 1e-12,
        "GeneralizedDirichlet a": 1e-8,
        "GeneralizedDirichlet b": 1e-8,
    }
    pairs = _mean_parameter_round_trips()
    assert pairs.keys() == rtols.keys()
    for name, (got, want) in pairs.items():
        np.testing.assert_allclose(got, want, rtol=rtols[name], err_msg=name)


# --------------------------------------------------------------------------- Multinomial


_SAME_AS_MULTINOMIAL = (expfam.kl_divergence, expfam.bregman_kl, expfam.cross_entropy)


@jax.jit
def _multinomial_and_its_special_cases(p, q, b, c):
    """Multinomial(1, p) against Categorical(p) and Multinomial(6, (b, 1 - b)) against
    Binomial(6, b): divergences, entropies and log-densities of both, in one program."""
    one_p, one_q = (expfam.Multinomial.from_count_probs(1, v) for v in (p, q))
    cat_p, cat_q = expfam.Categorical.from_probs(p), expfam.Categorical.from_probs(q)
    categorical = {fn.__name__: (fn(one_p, one_q), fn(cat_p, cat_q)) for fn in _SAME_AS_MULTINOMIAL}
    categorical["entropy"] = (expfam.entropy(one_p), expfam.entropy(cat_p))
    labels = jnp.array([2, 0, 2])
    categorical["log_prob"] = (one_p.log_prob(jnp.eye(3)[labels]), cat_p.log_prob(labels))
    n = 6
    two_b, two_c = (
        expfam.Multinomial.from_count_probs(n, jnp.stack([v, 1 - v], -1)) for v in (b, c)
    )
    bin_b, bin_c = expfam.Binomial.from_count_probs(n, b), expfam.Binomial.from_count_probs(n, c)
    binomial = {fn.__name__: (fn(two_b, two_c), fn(bin_b, bin_c)) for fn in _SAME_AS_MULTINOMIAL}
    binomial["entropy"] = (expfam.entropy(two_b), expfam.entropy(bin_b))
    k = jnp.array([0.0, 2.0, 6.0])
    binomial["log_prob"] = (two_b.log_prob(jnp.stack([k, n - k], -1)), bin_b.log_prob(k))
    return categorical, binomial


def test_multinomial_agrees_with_categorical_and_binomial():
    """Multinomial(1, p) is Categorical(p) on one-hot vectors; Multinomial(n, (p, 1 - p)) is
    Binomial(n, p) of the first count. Degenerate members included."""
    p = np.array([[0.2, 0.3, 0.5], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    q = np.array([[0.6, 0.2, 0.2], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    b, c = np.array([0.0, 0.3, 1.0]), np.array([0.5, 0.9, 0.2])
    categorical, binomial = _multinomial_and_its_special_cases(p, q, b, c)
    assert len(categorical) == len(binomial) == 5
    for name, (got, want) in categorical.items():
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=f"categorical {name}")
    for name, (got, want) in binomial.items():
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=f"binomial {name}")


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


@jax.jit
def _generalized_dirichlet_and_dirichlet(alpha, beta, x, key):
    """Entropy, KL and log-density of the generalized Dirichlet with the Dirichlet's
    parameters and of the Dirichlet, and three samples of the first, in one program."""

    def both(c):
        tails = jnp.cumsum(c[..., ::-1], -1)[..., ::-1]
        gd = expfam.GeneralizedDirichlet.from_concentrations(c[..., :-1], tails[..., 1:])
        return gd, expfam.Dirichlet.from_concentration(c)

    (g1, d1), (g2, d2) = both(alpha), both(beta)
    pairs = {
        "entropy": (expfam.entropy(g1), expfam.entropy(d1)),
        "kl_divergence": (expfam.kl_divergence(g1, g2), expfam.kl_divergence(d1, d2)),
        "log_prob": (g1.log_prob(x), d1.log_prob(x)),
    }
    return pairs, g1.sample(key, (3,))


def test_generalized_dirichlet_with_dirichlet_parameters_is_the_dirichlet():
    alpha = np.array([[0.5, 2.0, 1.0, 3.0], [1e-2, 1.0, 40.0, 2.0]])
    beta = np.array([[1.0, 1.0, 1.0, 1.0], [5.0, 0.3, 2.0, 7.0]])
    x = np.random.default_rng(1).dirichlet(np.ones(4), 2)
    pairs, s = _generalized_dirichlet_and_dirichlet(alpha, beta, x, jax.random.key(0))
    assert len(pairs) == 3
    for name, (got, want) in pairs.items():
        np.testing.assert_allclose(got, want, rtol=1e-10, err_msg=name)
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
