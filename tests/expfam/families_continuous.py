"""Oracle table and boundary sweep of the continuous families added for issue #16.

Entries follow ``families.py`` (a `FamilyCase` per family) and the ``SWEEPS`` table
of ``test_boundary_sweep.py`` (a `Sweep` per family, keyed by the class name). The
KL oracles are the textbook closed forms from the usual parameters, in numpy (for the
families with a fixed parameter, the general formula between two members with
different values of it, evaluated at equal values), or float64 quadrature with
``scipy.integrate.quad`` where noted.
"""

from __future__ import annotations

import numpy as np
from case_types import FamilyCase, Sweep
from scipy import integrate, special, stats

from jaxdiv import expfam

EULER = np.euler_gamma
WEIBULL_SHAPE = 1.7  # the static shape of the Weibull members
LAPLACE_LOC = 0.5  # the static location of the Laplace members
PARETO_SCALE = 2.0  # the static scale of the Pareto members
KNOWN_VARIANCE = 0.7  # the static variance of the NormalKnownVariance members


def _weibull_kl(k1, l1, k2, l2):
    # Bauckhage (2013), KL between two Weibull distributions.
    return (
        np.log(k1 / l1**k1)
        - np.log(k2 / l2**k2)
        + (k1 - k2) * (np.log(l1) - EULER / k1)
        + (l1 / l2) ** k2 * special.gamma(k2 / k1 + 1)
        - 1
    )


def _laplace_kl(m1, b1, m2, b2):
    d = abs(m1 - m2)
    return np.log(b2 / b1) + d / b2 + b1 / b2 * np.exp(-d / b1) - 1


def _pareto_kl(xm1, a1, xm2, a2):
    # Finite for xm1 >= xm2 (the support of the first inside that of the second).
    return np.log(a1 / a2) + a2 * np.log(xm1 / xm2) + a2 / a1 - 1


def _gamma_kl(a1, b1, a2, b2):
    """KL(Gamma(a1, rate b1) || Gamma(a2, rate b2)); KL is invariant under a bijection of
    the variable, so it also gives the KL of the chi, chi-square and inverse-gamma
    families (X^2, X and 1 / X are Gamma)."""
    return (
        (a1 - a2) * special.digamma(a1)
        - special.gammaln(a1)
        + special.gammaln(a2)
        + a2 * (np.log(b1) - np.log(b2))
        + a1 * (b2 - b1) / b1
    )


def _beta_kl(a1, b1, a2, b2):
    """KL(Beta(a1, b1) || Beta(a2, b2)), which is also the beta-prime KL (Y / (1 - Y))."""
    return (
        special.betaln(a2, b2)
        - special.betaln(a1, b1)
        + (a1 - a2) * special.digamma(a1)
        + (b1 - b2) * special.digamma(b1)
        + (a2 - a1 + b2 - b1) * special.digamma(a1 + b1)
    )


def _mixture_rounding_slack(*keys):
    """Slack on the float32 gradients of pairs with a parameter below 1e-2.

    Those members store the small shape or degrees of freedom itself, but the Renyi,
    Bhattacharyya and Hellinger divergences form the member at
    ``alpha theta_p + (1 - alpha) theta_q`` in natural parameters, where a shape of
    1e-3 is ``-1.001`` (InverseGamma) or ``-0.999`` (Chi): float32 holds that to 6e-8
    absolute, 6e-5 relative to the shape, and the gradients through the mean parameters
    multiply it by ``trigamma(1e-3) = 1e6`` (0.1 where the float64 gradient is 0 at
    p = q). Such pairs get 50 times the gradient tolerance, as the Gamma and Beta
    entries of the sweep do for the same rounding; their values meet the general one."""

    def slack(p, q):
        smallest = min(float(np.min(d[k])) for d in (p, q) for k in keys)
        return 50.0 if smallest < 1e-2 else 1.0

    return slack


def _normal_kl(m1, s1, m2, s2):
    return np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


def _inverse_gaussian_kl(m1, l1, m2, l2):
    # E_1[log p1 - log p2] with E_1[X] = m1, E_1[1 / X] = 1 / m1 + 1 / l1 and
    # E_1[l (X - m)^2 / (2 m^2 X)] = l (m1 - 2 m + m^2 (1 / m1 + 1 / l1)) / (2 m^2).
    return 0.5 * np.log(l1 / l2) - 0.5 + l2 / (2 * l1) + l2 * (m1 - m2) ** 2 / (2 * m1 * m2**2)


def _exp_e1(z):
    """exp(z) E1(z) in float64; the asymptotic series where exp(z) overflows."""
    if z < 600:
        return np.exp(z) * special.exp1(z)
    return 1 / z - 1 / z**2 + 2 / z**3 - 6 / z**4 + 24 / z**5


def _inverse_gaussian_entropy(a):
    # -E[log p] with E[log X] = log m - exp(2 l / m) E1(2 l / m) (the GIG moment at p = -1/2).
    m, lam = a["m"], a["l"]
    mean_log = np.log(m) - _exp_e1(2 * lam / m)
    return 0.5 * np.log(2 * np.pi / lam) + 1.5 * mean_log + 0.5


class _ContinuousBernoulliOracle:
    """The continuous Bernoulli density of Loaiza-Ganem and Cunningham (2019) in float64,
    with the entropy by quadrature (scipy.stats has no such distribution)."""

    def __init__(self, lam):
        self.lam = float(lam)

    def log_norm(self):
        t = 1 - 2 * self.lam  # C = 2 artanh(t) / t, 2 at t = 0
        if abs(t) < 1e-4:
            return np.log(2) + np.log1p(t**2 / 3 + t**4 / 5)
        return np.log(2 * np.arctanh(t) / t)

    def logpdf(self, x):
        x = np.asarray(x, np.float64)
        return self.log_norm() + x * np.log(self.lam) + (1 - x) * np.log1p(-self.lam)

    def entropy(self):
        return -_quad(lambda x: np.exp(self.logpdf(x)) * self.logpdf(x))


def _quad(f):
    return integrate.quad(f, 0.0, 1.0, epsabs=1e-14, epsrel=1e-12, limit=200)[0]


def _continuous_bernoulli_kl(l1, l2):
    p, q = _ContinuousBernoulliOracle(l1), _ContinuousBernoulliOracle(l2)
    return _quad(lambda x: np.exp(p.logpdf(x)) * (p.logpdf(x) - q.logpdf(x)))


FAMILIES: list[FamilyCase] = [
    FamilyCase(
        "Rayleigh",
        lambda rng, n: {"s": rng.uniform(0.3, 3.0, n)},
        lambda a: expfam.Rayleigh.from_scale(a["s"]),
        lambda a: stats.rayleigh(scale=a["s"]),
        lambda a, b: 2 * np.log(b["s"] / a["s"]) + a["s"] ** 2 / b["s"] ** 2 - 1,
        lambda rng, a: rng.rayleigh(a["s"], 3),
    ),
    FamilyCase(
        "HalfNormal",
        lambda rng, n: {"s": rng.uniform(0.3, 3.0, n)},
        lambda a: expfam.HalfNormal.from_scale(a["s"]),
        lambda a: stats.halfnorm(scale=a["s"]),
        lambda a, b: np.log(b["s"] / a["s"]) + a["s"] ** 2 / (2 * b["s"] ** 2) - 0.5,
        lambda rng, a: np.abs(rng.normal(0, a["s"], 3)),
    ),
    FamilyCase(
        "Laplace",
        lambda rng, n: {"b": rng.uniform(0.3, 3.0, n)},
        lambda a: expfam.Laplace.from_loc_scale(LAPLACE_LOC, a["b"]),
        lambda a: stats.laplace(LAPLACE_LOC, a["b"]),
        lambda a, b: _laplace_kl(LAPLACE_LOC, a["b"], LAPLACE_LOC, b["b"]),
        lambda rng, a: rng.laplace(LAPLACE_LOC, a["b"], 3),
    ),
    FamilyCase(
        "Weibull",
        lambda rng, n: {"l": rng.uniform(0.3, 3.0, n)},
        lambda a: expfam.Weibull.from_shape_scale(WEIBULL_SHAPE, a["l"]),
        lambda a: stats.weibull_min(WEIBULL_SHAPE, scale=a["l"]),
        lambda a, b: _weibull_kl(WEIBULL_SHAPE, a["l"], WEIBULL_SHAPE, b["l"]),
        lambda rng, a: a["l"] * rng.weibull(WEIBULL_SHAPE, 3),
    ),
    FamilyCase(
        "Pareto",
        lambda rng, n: {"a": rng.uniform(0.5, 5.0, n)},
        lambda a: expfam.Pareto.from_scale_shape(PARETO_SCALE, a["a"]),
        lambda a: stats.pareto(a["a"], scale=PARETO_SCALE),
        lambda a, b: _pareto_kl(PARETO_SCALE, a["a"], PARETO_SCALE, b["a"]),
        lambda rng, a: PARETO_SCALE * (1 + rng.pareto(a["a"], 3)),
    ),
    FamilyCase(
        "Chi",
        lambda rng, n: {"k": rng.uniform(0.5, 8.0, n)},
        lambda a: expfam.Chi.from_df(a["k"]),
        lambda a: stats.chi(a["k"]),
        lambda a, b: _gamma_kl(a["k"] / 2, 0.5, b["k"] / 2, 0.5),
        lambda rng, a: np.sqrt(rng.chisquare(a["k"], 3)),
    ),
    FamilyCase(
        "ChiSquare",
        lambda rng, n: {"k": rng.uniform(0.5, 8.0, n)},
        lambda a: expfam.ChiSquare.from_df(a["k"]),
        lambda a: stats.chi2(a["k"]),
        lambda a, b: _gamma_kl(a["k"] / 2, 0.5, b["k"] / 2, 0.5),
        lambda rng, a: rng.chisquare(a["k"], 3),
    ),
    FamilyCase(
        "InverseGamma",
        lambda rng, n: {"a": rng.uniform(0.5, 6.0, n), "b": rng.uniform(0.3, 3.0, n)},
        lambda a: expfam.InverseGamma.from_shape_scale(a["a"], a["b"]),
        lambda a: stats.invgamma(a["a"], scale=a["b"]),
        lambda a, b: _gamma_kl(a["a"], a["b"], b["a"], b["b"]),
        lambda rng, a: a["b"] / rng.gamma(a["a"], 1.0, 3),
    ),
    FamilyCase(
        "BetaPrime",
        lambda rng, n: {"a": rng.uniform(0.5, 5.0, n), "b": rng.uniform(0.5, 5.0, n)},
        lambda a: expfam.BetaPrime.from_concentrations(a["a"], a["b"]),
        lambda a: stats.betaprime(a["a"], a["b"]),
        lambda x, y: _beta_kl(x["a"], x["b"], y["a"], y["b"]),
        lambda rng, a: stats.betaprime(a["a"], a["b"]).rvs(3, random_state=rng),
    ),
    FamilyCase(
        "NormalKnownVariance",
        lambda rng, n: {"m": rng.normal(size=n)},
        lambda a: expfam.NormalKnownVariance.from_mean_variance(a["m"], KNOWN_VARIANCE),
        lambda a: stats.norm(a["m"], np.sqrt(KNOWN_VARIANCE)),
        lambda a, b: _normal_kl(a["m"], np.sqrt(KNOWN_VARIANCE), b["m"], np.sqrt(KNOWN_VARIANCE)),
        lambda rng, a: rng.normal(a["m"], np.sqrt(KNOWN_VARIANCE), 3),
    ),
    FamilyCase(
        "InverseGaussian",
        lambda rng, n: {"m": rng.uniform(0.3, 3.0, n), "l": rng.uniform(0.5, 5.0, n)},
        lambda a: expfam.InverseGaussian.from_mean_shape(a["m"], a["l"]),
        lambda a: stats.invgauss(a["m"] / a["l"], scale=a["l"]),
        lambda a, b: _inverse_gaussian_kl(a["m"], a["l"], b["m"], b["l"]),
        lambda rng, a: stats.invgauss(a["m"] / a["l"], scale=a["l"]).rvs(3, random_state=rng),
    ),
    # Built from logits, so that the sweep's members near the ends survive the cast to
    # 16 bits (bfloat16 rounds every probability within 2e-3 of 1 to 1, which is no member).
    FamilyCase(
        "ContinuousBernoulli",
        lambda rng, n: {"logit": special.logit(rng.uniform(0.05, 0.95, n))},
        lambda a: expfam.ContinuousBernoulli.from_logits(a["logit"]),
        lambda a: _ContinuousBernoulliOracle(special.expit(a["logit"])),
        lambda a, b: _continuous_bernoulli_kl(special.expit(a["logit"]), special.expit(b["logit"])),
        lambda rng, a: rng.uniform(0.0, 1.0, 3),
    ),
]

SCALES = [1e-6, 1e-3, 1.0, 1e3, 1e6]

SWEEPS: dict[str, Sweep] = {
    "Rayleigh": Sweep(
        "Rayleigh",
        [{"s": s} for s in SCALES],
        lambda a: 1 + np.log(a["s"] / np.sqrt(2)) + EULER / 2,
    ),
    "HalfNormal": Sweep(
        "HalfNormal",
        [{"s": s} for s in SCALES],
        lambda a: 0.5 * np.log(np.pi * np.e / 2) + np.log(a["s"]),
    ),
    "Laplace": Sweep(
        "Laplace",
        [{"b": b} for b in SCALES],
        lambda a: 1 + np.log(2 * a["b"]),
    ),
    "Weibull": Sweep(
        "Weibull",
        [{"l": s} for s in SCALES],
        lambda a: EULER * (1 - 1 / WEIBULL_SHAPE) + np.log(a["l"] / WEIBULL_SHAPE) + 1,
    ),
    "Pareto": Sweep(
        "Pareto",
        [{"a": a} for a in [1e-3, 0.1, 1.0, 1e2, 1e4]],
        lambda a: np.log(PARETO_SCALE / a["a"]) + 1 / a["a"] + 1,
    ),
    "Chi": Sweep(
        "Chi",
        [{"k": k} for k in [1e-3, 0.1, 1.0, 1e2, 1e4]],
        lambda a: (
            special.gammaln(a["k"] / 2)
            + 0.5 * (a["k"] - np.log(2) - (a["k"] - 1) * special.digamma(a["k"] / 2))
        ),
        _mixture_rounding_slack("k"),
    ),
    "ChiSquare": Sweep(
        "ChiSquare",
        [{"k": k} for k in [1e-3, 0.1, 1.0, 1e2, 1e4]],
        lambda a: (
            a["k"] / 2
            + np.log(2)
            + special.gammaln(a["k"] / 2)
            + (1 - a["k"] / 2) * special.digamma(a["k"] / 2)
        ),
        _mixture_rounding_slack("k"),
    ),
    "InverseGamma": Sweep(
        "InverseGamma",
        [{"a": a, "b": b} for a in [1e-3, 1.0, 1e4] for b in [1e-6, 1e6]],
        lambda a: (
            a["a"]
            + np.log(a["b"])
            + special.gammaln(a["a"])
            - (1 + a["a"]) * special.digamma(a["a"])
        ),
        _mixture_rounding_slack("a"),
    ),
    "BetaPrime": Sweep(
        "BetaPrime",
        [
            {"a": a, "b": b}
            for a, b in [(1e-3, 1e-3), (1.0, 1.0), (1e4, 1e4), (1e-3, 1e4), (1e4, 1e-3)]
        ],
        lambda x: (
            special.betaln(x["a"], x["b"])
            - (x["a"] - 1) * special.digamma(x["a"])
            - (x["b"] + 1) * special.digamma(x["b"])
            + (x["a"] + x["b"]) * special.digamma(x["a"] + x["b"])
        ),
        _mixture_rounding_slack("a", "b"),
    ),
    "NormalKnownVariance": Sweep(
        "NormalKnownVariance",
        [{"m": m} for m in [-1e6, -1.0, 0.0, 2.5, 1e6]],
        lambda a: 0.5 * np.log(2 * np.pi * np.e * KNOWN_VARIANCE),
    ),
    "InverseGaussian": Sweep(
        "InverseGaussian",
        [{"m": m, "l": lam} for m in [1e-3, 1.0, 1e3] for lam in [1e-3, 1e3]],
        _inverse_gaussian_entropy,
    ),
    # Logit 0 (lambda = 1/2) is the removable singularity of the normalizer, 4e-4 next
    # to it; +-13.8 are lambda = 1e-6 and 1 - 1e-6.
    "ContinuousBernoulli": Sweep(
        "ContinuousBernoulli",
        [{"logit": t} for t in [-13.8, -0.85, 0.0, 4e-4, 13.8]],
        lambda a: _ContinuousBernoulliOracle(special.expit(a["logit"])).entropy(),
    ),
}
