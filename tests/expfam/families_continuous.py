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
from scipy import special, stats

from jaxdiv import expfam

EULER = np.euler_gamma
WEIBULL_SHAPE = 1.7  # the static shape of the Weibull members
LAPLACE_LOC = 0.5  # the static location of the Laplace members
PARETO_SCALE = 2.0  # the static scale of the Pareto members


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
}
