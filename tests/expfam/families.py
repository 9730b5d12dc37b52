"""One table of the built-in families with independent oracles.

For each family: how to draw random usual parameters, how to build the jaxdiv
member from them, the scipy distribution with the same parameters (for entropy
and log-density) and the textbook closed-form KL written from the usual
parameters in numpy (not from the natural parameters jaxdiv uses).
"""

from __future__ import annotations

import families_continuous
import families_discrete
import families_multivariate
import numpy as np
from case_types import FamilyCase
from scipy import special, stats

from jaxdiv import expfam


def _item(params, i):
    return {k: v[i] for k, v in params.items()}


def _psi_p(a, p):
    return sum(special.digamma(a + (1 - j) / 2) for j in range(1, p + 1))


def _spd(rng, n, d):
    a = rng.normal(size=(n, d, d))
    return a @ np.swapaxes(a, -1, -2) / d + 0.5 * np.eye(d)


def _bern_kl(p, q):
    # rel_entr: 0 log(0 / q) = 0 and p log(p / 0) = +inf, for the degenerate members.
    return special.rel_entr(p, q) + special.rel_entr(1 - p, 1 - q)


def _normal_kl(m1, s1, m2, s2):
    return np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


def _mvn_kl(m1, c1, m2, c2):
    d = len(m1)
    inv2 = np.linalg.inv(c2)
    diff = m2 - m1
    return 0.5 * (
        np.trace(inv2 @ c1) + diff @ inv2 @ diff - d + np.log(np.linalg.det(c2) / np.linalg.det(c1))
    )


CORE_FAMILIES = [
    FamilyCase(
        "Bernoulli",
        lambda rng, n: {"p": rng.uniform(0.05, 0.95, n)},
        lambda a: expfam.Bernoulli.from_probs(a["p"]),
        lambda a: stats.bernoulli(a["p"]),
        lambda a, b: _bern_kl(a["p"], b["p"]),
        lambda rng, a: np.array([0.0, 1.0]),
    ),
    FamilyCase(
        "Categorical",
        lambda rng, n: {"p": rng.dirichlet(np.ones(4), n)},
        lambda a: expfam.Categorical.from_probs(a["p"]),
        None,
        lambda a, b: np.sum(special.rel_entr(a["p"], b["p"])),
        lambda rng, a: np.arange(4),
    ),
    FamilyCase(
        "Binomial",
        lambda rng, n: {"p": rng.uniform(0.05, 0.95, n)},
        lambda a: expfam.Binomial.from_count_probs(7, a["p"]),
        lambda a: stats.binom(7, a["p"]),
        lambda a, b: 7 * _bern_kl(a["p"], b["p"]),
        lambda rng, a: np.arange(8.0),
    ),
    FamilyCase(
        "Poisson",
        lambda rng, n: {"rate": rng.choice([0.3, 2.5, 17.0, 350.0], n)},
        lambda a: expfam.Poisson.from_rate(a["rate"]),
        lambda a: stats.poisson(a["rate"]),
        lambda a, b: special.rel_entr(a["rate"], b["rate"]) - a["rate"] + b["rate"],
        lambda rng, a: np.array([0.0, 1.0, 3.0, np.round(a["rate"])]),
    ),
    FamilyCase(
        "Geometric",
        lambda rng, n: {"p": rng.uniform(0.05, 0.95, n)},
        lambda a: expfam.Geometric.from_probs(a["p"]),
        lambda a: stats.geom(a["p"], loc=-1),
        lambda a, b: np.log(a["p"] / b["p"]) + special.rel_entr(1 - a["p"], 1 - b["p"]) / a["p"],
        lambda rng, a: np.array([0.0, 1.0, 5.0]),
    ),
    FamilyCase(
        "Exponential",
        lambda rng, n: {"rate": rng.uniform(0.2, 5.0, n)},
        lambda a: expfam.Exponential.from_rate(a["rate"]),
        lambda a: stats.expon(scale=1 / a["rate"]),
        lambda a, b: np.log(a["rate"] / b["rate"]) + b["rate"] / a["rate"] - 1,
        lambda rng, a: rng.exponential(1 / a["rate"], 3),
    ),
    FamilyCase(
        "Gamma",
        lambda rng, n: {"a": rng.uniform(0.5, 6.0, n), "b": rng.uniform(0.3, 3.0, n)},
        lambda a: expfam.Gamma.from_shape_rate(a["a"], a["b"]),
        lambda a: stats.gamma(a["a"], scale=1 / a["b"]),
        lambda a, b: (
            (a["a"] - b["a"]) * special.digamma(a["a"])
            - special.gammaln(a["a"])
            + special.gammaln(b["a"])
            + b["a"] * (np.log(a["b"]) - np.log(b["b"]))
            + a["a"] * (b["b"] - a["b"]) / a["b"]
        ),
        lambda rng, a: rng.gamma(a["a"], 1 / a["b"], 3),
    ),
    FamilyCase(
        "Beta",
        lambda rng, n: {"a": rng.uniform(0.5, 5.0, n), "b": rng.uniform(0.5, 5.0, n)},
        lambda a: expfam.Beta.from_concentrations(a["a"], a["b"]),
        lambda a: stats.beta(a["a"], a["b"]),
        lambda x, y: (
            special.betaln(y["a"], y["b"])
            - special.betaln(x["a"], x["b"])
            + (x["a"] - y["a"]) * special.digamma(x["a"])
            + (x["b"] - y["b"]) * special.digamma(x["b"])
            + (y["a"] - x["a"] + y["b"] - x["b"]) * special.digamma(x["a"] + x["b"])
        ),
        lambda rng, a: rng.beta(a["a"], a["b"], 3),
    ),
    FamilyCase(
        "Dirichlet",
        lambda rng, n: {"alpha": rng.uniform(0.5, 4.0, (n, 3))},
        lambda a: expfam.Dirichlet.from_concentration(a["alpha"]),
        lambda a: stats.dirichlet(a["alpha"]),
        lambda x, y: (
            special.gammaln(x["alpha"].sum())
            - special.gammaln(x["alpha"]).sum()
            - special.gammaln(y["alpha"].sum())
            + special.gammaln(y["alpha"]).sum()
            + np.sum(
                (x["alpha"] - y["alpha"])
                * (special.digamma(x["alpha"]) - special.digamma(x["alpha"].sum()))
            )
        ),
        lambda rng, a: rng.dirichlet(a["alpha"], 3),
    ),
    FamilyCase(
        "Normal",
        lambda rng, n: {"m": rng.normal(size=n), "s": rng.uniform(0.3, 3.0, n)},
        lambda a: expfam.Normal.from_mean_std(a["m"], a["s"]),
        lambda a: stats.norm(a["m"], a["s"]),
        lambda a, b: _normal_kl(a["m"], a["s"], b["m"], b["s"]),
        lambda rng, a: rng.normal(a["m"], a["s"], 3),
    ),
    FamilyCase(
        "LogNormal",
        lambda rng, n: {"m": rng.normal(size=n), "s": rng.uniform(0.3, 1.5, n)},
        lambda a: expfam.LogNormal.from_mean_std(a["m"], a["s"]),
        lambda a: stats.lognorm(s=a["s"], scale=np.exp(a["m"])),
        lambda a, b: _normal_kl(a["m"], a["s"], b["m"], b["s"]),
        lambda rng, a: np.exp(rng.normal(a["m"], a["s"], 3)),
    ),
    FamilyCase(
        "MultivariateNormal",
        lambda rng, n: {"m": rng.normal(size=(n, 3)), "c": _spd(rng, n, 3)},
        lambda a: expfam.MultivariateNormal.from_mean_cov(a["m"], a["c"]),
        lambda a: stats.multivariate_normal(a["m"], a["c"]),
        lambda a, b: _mvn_kl(a["m"], a["c"], b["m"], b["c"]),
        lambda rng, a: rng.multivariate_normal(a["m"], a["c"], 3),
    ),
    FamilyCase(
        "MultivariateNormal_scale_tril",
        lambda rng, n: {"m": rng.normal(size=(n, 3)), "c": _spd(rng, n, 3)},
        lambda a: expfam.MultivariateNormal.from_mean_scale_tril(
            a["m"], np.linalg.cholesky(a["c"])
        ),
        lambda a: stats.multivariate_normal(a["m"], a["c"]),
        lambda a, b: _mvn_kl(a["m"], a["c"], b["m"], b["c"]),
        lambda rng, a: rng.multivariate_normal(a["m"], a["c"], 3),
    ),
    FamilyCase(
        "MultivariateNormalDiag",
        lambda rng, n: {"m": rng.normal(size=(n, 3)), "s": rng.uniform(0.3, 2.0, (n, 3))},
        lambda a: expfam.MultivariateNormalDiag.from_mean_std(a["m"], a["s"]),
        lambda a: stats.multivariate_normal(a["m"], np.diag(a["s"] ** 2)),
        lambda a, b: np.sum(_normal_kl(a["m"], a["s"], b["m"], b["s"])),
        lambda rng, a: rng.normal(a["m"], a["s"], (3, 3)),
    ),
    FamilyCase(
        "VonMises",
        lambda rng, n: {"m": rng.uniform(-3, 3, n), "k": rng.uniform(0.2, 8.0, n)},
        lambda a: expfam.VonMises.from_mean_concentration(a["m"], a["k"]),
        lambda a: stats.vonmises(a["k"], loc=a["m"]),
        lambda a, b: (  # with the scaled Bessel functions, so that kappa = 1e4 does not overflow
            np.log(special.i0e(b["k"]) / special.i0e(a["k"]))
            + b["k"]
            - a["k"]
            + special.i1e(a["k"])
            / special.i0e(a["k"])
            * (a["k"] - b["k"] * np.cos(a["m"] - b["m"]))
        ),
        lambda rng, a: rng.uniform(-np.pi, np.pi, 3),
    ),
    FamilyCase(
        "Wishart",
        lambda rng, n: {"df": rng.uniform(3.0, 9.0, n), "v": _spd(rng, n, 2)},
        lambda a: expfam.Wishart.from_df_scale(a["df"], a["v"]),
        lambda a: stats.wishart(a["df"], a["v"]),
        lambda a, b: (
            0.5 * a["df"] * (np.trace(np.linalg.solve(b["v"], a["v"])) - 2)
            + 0.5 * b["df"] * np.log(np.linalg.det(b["v"]) / np.linalg.det(a["v"]))
            + special.multigammaln(b["df"] / 2, 2)
            - special.multigammaln(a["df"] / 2, 2)
            + 0.5 * (a["df"] - b["df"]) * _psi_p(a["df"] / 2, 2)
        ),
        lambda rng, a: stats.wishart(a["df"], a["v"]).rvs(3, random_state=rng),
    ),
]

FAMILIES = (
    CORE_FAMILIES
    + families_continuous.FAMILIES
    + families_discrete.FAMILIES
    + families_multivariate.FAMILIES
)
