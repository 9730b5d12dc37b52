"""Oracle table and boundary sweep of the multivariate families of issue #16.

Entries follow ``families.py`` (a `FamilyCase` per family) and the ``SWEEPS`` table
of ``test_boundary_sweep.py`` (a `Sweep` per family, keyed by the class name).
"""

from __future__ import annotations

import numpy as np
from case_types import FamilyCase, Sweep
from scipy import stats

from jaxdiv import expfam


def _gauss_kl(m1, c1, m2, c2):
    """KL(N(m1, c1) || N(m2, c2)) from the covariances (textbook form, numpy)."""
    d = len(m1)
    diff = m2 - m1
    inv2 = np.linalg.inv(c2)
    _, logdet1 = np.linalg.slogdet(c1)
    _, logdet2 = np.linalg.slogdet(c2)
    return 0.5 * (np.trace(inv2 @ c1) + diff @ inv2 @ diff - d + logdet2 - logdet1)


# The fixed covariance of the known-covariance family: correlation 0.95, scales 2 and 1.
KNOWN_COV = np.array([[4.0, 1.9], [1.9, 1.0]])


def _iso_cov(a):
    return a["s"] ** 2 * np.eye(len(a["m"]))


FAMILIES: list[FamilyCase] = [
    FamilyCase(
        "MultivariateNormalKnownCovariance",
        lambda rng, n: {"m": rng.normal(size=(n, 2)) * 3},
        lambda a: expfam.MultivariateNormalKnownCovariance.from_mean_cov(a["m"], KNOWN_COV),
        lambda a: stats.multivariate_normal(a["m"], KNOWN_COV),
        lambda a, b: _gauss_kl(a["m"], KNOWN_COV, b["m"], KNOWN_COV),
        lambda rng, a: rng.multivariate_normal(a["m"], KNOWN_COV, 3),
    ),
    FamilyCase(
        "MultivariateNormalIsotropic",
        lambda rng, n: {"m": rng.normal(size=(n, 3)), "s": rng.uniform(0.3, 3.0, n)},
        lambda a: expfam.MultivariateNormalIsotropic.from_mean_std(a["m"], a["s"]),
        lambda a: stats.multivariate_normal(a["m"], _iso_cov(a)),
        lambda a, b: _gauss_kl(a["m"], _iso_cov(a), b["m"], _iso_cov(b)),
        lambda rng, a: rng.normal(a["m"], a["s"], (3, 3)),
    ),
]

SWEEPS: dict[str, Sweep] = {
    # Means from 0 to 1e3 standard deviations, and pairs 1e-6 apart. The entropy does not
    # depend on the mean, but the family's entropy is A - <theta, mu> - E[log h] with
    # E[log h] = c - (d + |L^-1 m|^2) / 2: the |L^-1 m|^2 / 2 (5e6 here) cancels, within
    # the general tolerance relative to the scale of A* (float32: a few units in 1e7).
    "MultivariateNormalKnownCovariance": Sweep(
        "MultivariateNormalKnownCovariance",
        [{"m": np.array(m)} for m in [[0.0, 0.0], [1e-6, 0.0], [1e3, -1e3], [-2e3, 3e2]]],
        lambda a: stats.multivariate_normal(a["m"], KNOWN_COV).entropy(),
    ),
    "MultivariateNormalIsotropic": Sweep(
        "MultivariateNormalIsotropic",
        [
            {"m": np.array(m), "s": s}
            for m, s in [
                ([0.0, 0.0], 1e-6),
                ([1.0, -1.0], 1.0),
                ([0.0, 2.0], 1e6),
                ([3.0, 0.0], 1e-3),
            ]
        ],
        lambda a: len(a["m"]) * 0.5 * np.log(2 * np.pi * np.e * a["s"] ** 2),
    ),
}
