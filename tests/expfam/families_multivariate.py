"""Oracle table and boundary sweep of the multivariate families of issue #16.

Entries follow ``families.py`` (a `FamilyCase` per family) and the ``SWEEPS`` table
of ``test_boundary_sweep.py`` (a `Sweep` per family, keyed by the class name).
"""

from __future__ import annotations

from case_types import FamilyCase, Sweep

FAMILIES: list[FamilyCase] = []
SWEEPS: dict[str, Sweep] = {}
