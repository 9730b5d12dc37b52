"""Oracle table and boundary sweep of the discrete and simplex families of issue #16.

Entries follow ``families.py`` (a `FamilyCase` per family) and the ``SWEEPS`` table
of ``test_boundary_sweep.py`` (a `Sweep` per family, keyed by the class name).

Oracles, all in numpy float64 from the usual parameters: scipy's ``nbinom``,
``logser`` and ``multinomial``; for the generalized Dirichlet (not in scipy) the
Connor-Mosimann density written directly (with the exponents gamma_i) and the
entropy of its stick-breaking Betas plus the Jacobian term (checked by Monte Carlo
in ``test_count_and_simplex_families.py``). KL divergences are textbook closed
forms; the sweep's entropies are sums over the support.
"""

from __future__ import annotations

import itertools

import numpy as np
from case_types import FamilyCase, Sweep
from scipy import special, stats

from jaxdiv import expfam

NB_COUNT = 2.5  # not an integer: Gamma(x + r) / Gamma(r) is exercised, not a binomial
MULTINOMIAL_COUNT = 5
EDGE = 1e-7


def _nb_kl(a, b):
    # r (log(p1 / p2) + (1 - p1) / p1 log((1 - p1) / (1 - p2))); rel_entr gives the limits at
    # p = 1 (all the mass at 0) and +inf where only q has all its mass at 0.
    p1, p2 = a["p"], b["p"]
    return NB_COUNT * (np.log(p1 / p2) + special.rel_entr(1 - p1, 1 - p2) / p1)


def _log_series_kl(a, b):
    # E_1[X] log(p1 / p2) + log(L2 / L1), L = -log(1 - p); at p1 = 0 (all the mass at 1)
    # it is -log P_2(1) = log(L2 / p2).
    p1, p2 = a["p"], b["p"]
    l1, l2 = -np.log1p(-p1), -np.log1p(-p2)
    if p1 == 0:
        return 0.0 if p2 == 0 else np.log(l2 / p2)
    if p2 == 0:
        return np.inf
    mean1 = p1 / ((1 - p1) * l1)
    return mean1 * np.log(p1 / p2) + np.log(l2 / l1)


def _beta_kl(a1, b1, a2, b2):
    return (
        special.betaln(a2, b2)
        - special.betaln(a1, b1)
        + (a1 - a2) * special.digamma(a1)
        + (b1 - b2) * special.digamma(b1)
        + (a2 - a1 + b2 - b1) * special.digamma(a1 + b1)
    )


class GeneralizedDirichletOracle:
    """The Connor-Mosimann density in numpy, in the role of a frozen scipy distribution."""

    def __init__(self, a, b):
        self.a, self.b = np.asarray(a, np.float64), np.asarray(b, np.float64)

    def logpdf(self, x):
        """`sum_i (a_i - 1) log x_i + gamma_i log z_i - log B(a_i, b_i)`, z_i = 1 - x_1 - .. - x_i,
        for points `x` with all K coordinates (the last is 1 - the others)."""
        a, b = self.a, self.b
        x = np.asarray(x, np.float64)
        gamma = np.append(b[:-1] - a[1:] - b[1:], b[-1] - 1)
        z = 1 - np.cumsum(x[..., :-1], -1)
        terms = special.xlogy(a - 1, x[..., :-1]) + special.xlogy(gamma, z) - special.betaln(a, b)
        return np.sum(terms, -1)

    def entropy(self):
        """The Betas' entropies plus `sum_{i <= K-2} E[log z_i]` (the log-Jacobian)."""
        a, b = self.a, self.b
        log_one_minus_v = special.digamma(b) - special.digamma(a + b)
        e_log_z = np.cumsum(log_one_minus_v)[:-1]
        return np.sum(stats.beta(a, b).entropy()) + np.sum(e_log_z)

    def rvs(self, size, rng):
        v = rng.beta(self.a, self.b, (size, len(self.a)))
        left = np.cumprod(np.concatenate([np.ones((size, 1)), 1 - v], -1), -1)
        return np.concatenate([v * left[:, :-1], left[:, -1:]], -1)


FAMILIES: list[FamilyCase] = [
    FamilyCase(
        "NegativeBinomial",
        lambda rng, n: {"p": rng.uniform(0.05, 0.95, n)},
        lambda a: expfam.NegativeBinomial.from_count_probs(NB_COUNT, a["p"]),
        lambda a: stats.nbinom(NB_COUNT, a["p"]),
        _nb_kl,
        lambda rng, a: np.array([0.0, 1.0, 3.0, 12.0]),
    ),
    FamilyCase(
        "Logarithmic",
        lambda rng, n: {"p": rng.uniform(0.05, 0.95, n)},
        lambda a: expfam.Logarithmic.from_probs(a["p"]),
        lambda a: stats.logser(a["p"]),
        _log_series_kl,
        lambda rng, a: np.array([1.0, 2.0, 7.0]),
    ),
    FamilyCase(
        "Multinomial",
        lambda rng, n: {"p": rng.dirichlet(np.ones(3), n)},
        lambda a: expfam.Multinomial.from_count_probs(MULTINOMIAL_COUNT, a["p"]),
        lambda a: stats.multinomial(MULTINOMIAL_COUNT, a["p"]),
        lambda a, b: MULTINOMIAL_COUNT * np.sum(special.rel_entr(a["p"], b["p"])),
        lambda rng, a: np.array([[5.0, 0.0, 0.0], [1.0, 1.0, 3.0], [2.0, 2.0, 1.0]]),
    ),
    FamilyCase(
        "GeneralizedDirichlet",
        lambda rng, n: {"a": rng.uniform(0.5, 4.0, (n, 2)), "b": rng.uniform(0.5, 4.0, (n, 2))},
        lambda a: expfam.GeneralizedDirichlet.from_concentrations(a["a"], a["b"]),
        lambda a: GeneralizedDirichletOracle(a["a"], a["b"]),
        lambda x, y: np.sum(_beta_kl(x["a"], x["b"], y["a"], y["b"])),
        lambda rng, a: GeneralizedDirichletOracle(a["a"], a["b"]).rvs(3, rng),
    ),
]


# --------------------------------------------------------------------------- sweeps


def _entropy_of_pmf(logpmf):
    p = np.exp(logpmf)
    return -np.sum(np.where(p > 0, p * logpmf, 0.0))


def _nb_entropy(a):
    p = float(a["p"])
    if p == 1:
        return 0.0
    mean = NB_COUNT * (1 - p) / p
    k = np.arange(np.ceil(mean + 50 / p + 100))  # the tail beyond is below 1e-20
    return _entropy_of_pmf(stats.nbinom(NB_COUNT, p).logpmf(k))


def _log_series_entropy(a):
    p = float(a["p"])
    if p == 0:
        return 0.0
    k = np.arange(1, np.ceil(50 / -np.log(p)) + 50)  # p^k below 1e-21 beyond
    return _entropy_of_pmf(k * np.log(p) - np.log(k) - np.log(-np.log1p(-p)))


def _compositions(n, k):
    """Every vector of k counts summing to n."""
    return np.array([c for c in itertools.product(range(n + 1), repeat=k) if sum(c) == n])


def _multinomial_entropy(a):
    x = _compositions(MULTINOMIAL_COUNT, len(a["p"]))
    log_coef = special.gammaln(MULTINOMIAL_COUNT + 1) - np.sum(special.gammaln(x + 1), -1)
    with np.errstate(divide="ignore"):
        return _entropy_of_pmf(log_coef + np.sum(special.xlogy(x, a["p"]), -1))


def _small_concentration_slack(p, q):
    """As the Beta's entry of ``test_boundary_sweep.py``: concentrations below 1e-2 are stored
    as ``a - 1`` (about -1), which float32 holds to 6e-8 absolute, 6e-5 relative to
    ``a = 1e-3``; ``trigamma(1e-3) = 1e6`` amplifies that in every gradient through the mean
    parameters, to a few percent. Such pairs get 50 times the gradient tolerance."""
    smallest = min(float(np.min(d[k])) for d in (p, q) for k in ("a", "b"))
    return 50.0 if smallest < 1e-2 else 1.0


SWEEPS: dict[str, Sweep] = {
    "NegativeBinomial": Sweep(
        "NegativeBinomial",
        [{"p": p} for p in [1e-4, 1e-2, 0.5, 1 - EDGE, 1.0]],
        _nb_entropy,
    ),
    # p < 1 (1 is not a member), and the 16-bit pass builds the same members: the largest
    # bfloat16 below 1 is 1 - 2^-8 (p = 0.999 and 1 - 1e-4 are checked in float64 in
    # test_count_and_simplex_families.py).
    "Logarithmic": Sweep(
        "Logarithmic",
        [{"p": p} for p in [0.0, EDGE, 0.3, 0.99, 1 - 2**-8]],
        _log_series_entropy,
    ),
    "Multinomial": Sweep(
        "Multinomial",
        [
            {"p": np.array(p)}
            for p in [
                [EDGE, EDGE, 1 - 2 * EDGE],
                [1 / 3, 1 / 3, 1 / 3],
                [0.5, 0.5, 0.0],
                [0.0, 0.0, 1.0],
            ]
        ],
        _multinomial_entropy,
    ),
    "GeneralizedDirichlet": Sweep(
        "GeneralizedDirichlet",
        [
            {"a": np.array(a), "b": np.array(b)}
            for a, b in [
                ([1e-3, 1e-3], [1e-3, 1e-3]),
                ([1.0, 1.0], [1.0, 1.0]),
                ([1e4, 1e4], [1e4, 1e4]),
                ([1e-3, 1e4], [1.0, 1e-3]),
                ([1e4, 1.0], [1e-3, 1e4]),
            ]
        ],
        lambda a: GeneralizedDirichletOracle(a["a"], a["b"]).entropy(),
        _small_concentration_slack,
    ),
}
