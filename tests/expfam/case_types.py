"""The records of the family tables: a family's oracles and its boundary sweep.

``families.py`` holds the table of the original families and joins the tables of
``families_continuous.py``, ``families_discrete.py`` and ``families_multivariate.py``;
``test_boundary_sweep.py`` does the same with their sweeps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable


@dataclasses.dataclass(frozen=True)
class FamilyCase:
    name: str
    draw: Callable  # draw(rng, n) -> dict of usual parameters with leading axis n
    build: Callable  # build(params) -> jaxdiv member with batch shape (n,)
    scipy: Callable | None  # scipy(params_i) -> frozen scipy distribution
    kl: Callable  # kl(params1_i, params2_i) -> float, textbook closed form
    points: Callable  # points(rng, params_i) -> array of support points

    def __repr__(self):
        return self.name


@dataclasses.dataclass(frozen=True)
class Sweep:
    """Members of one family at extreme parameters, and its float64 entropy."""

    case: str  # the FamilyCase of families.py: how to build a member, the textbook KL
    members: list[dict]  # usual parameters of each member
    entropy: Callable[[dict], float]
    # A factor (>= 1) on the float32 gradient tolerance for pairs that float32 cannot
    # resolve better (the reason at the entry); None: the general tolerance only.
    f32_grad_slack: Callable[[dict, dict], float] | None = None
