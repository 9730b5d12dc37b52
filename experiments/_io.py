"""Atomic output: a file is either complete or absent, never half-written."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Callable

import numpy as np


def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """Calls ``write(tmp_path)`` and renames the temporary file to ``path`` only if it returns.

    An exception (including ``KeyboardInterrupt``) inside ``write`` removes the
    temporary file and leaves any previous ``path`` untouched.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


NON_FINITE_KEY = "non_finite_values"
"""The key under which :func:`strict_json` says which numbers it wrote as null, and why."""


def _describe(value: float) -> str:
    return "NaN" if math.isnan(value) else ("+inf" if value > 0 else "-inf")


def strict_json(payload: dict) -> dict:
    """``payload`` with every non-finite number replaced by None (JSON null), and why.

    Strict JSON has no NaN or Infinity (Python's ``json`` writes them, and
    strict parsers reject the file). Each replaced value is listed under
    :data:`NON_FINITE_KEY`, by its path (``"true_kl.forward_kl_target_to_fit"``,
    ``"loss_curve[12]"``), with what it was; a list with many of them is
    summarised in one entry. NumPy scalars and arrays become Python numbers and
    lists.
    """
    notes: dict[str, tuple[set[str], int, str]] = {}  # path: (what they were, count, first)

    def clean(x, path: str):
        if isinstance(x, np.ndarray):
            x = x.tolist()
        elif isinstance(x, np.generic):
            x = x.item()
        if isinstance(x, dict):
            return {k: clean(v, f"{path}.{k}" if path else str(k)) for k, v in x.items()}
        if isinstance(x, list | tuple):
            before = set(notes)
            out = [clean(v, f"{path}[{i}]") for i, v in enumerate(x)]
            added = [k for k in notes if k not in before]
            if sum(notes[k][1] for k in added) > 3:  # one entry for the whole list
                parts = [notes.pop(k) for k in added]
                kinds = set().union(*(p[0] for p in parts))
                notes[path] = (kinds, sum(p[1] for p in parts), parts[0][2])
            return out
        if isinstance(x, float) and not math.isfinite(x):
            notes[path] = ({_describe(x)}, 1, path)
            return None
        return x

    out = clean(payload, "")
    if notes:
        out[NON_FINITE_KEY] = {
            path: (
                f"was {next(iter(kinds))} (written as null)"
                if count == 1
                else f"{count} values were {' or '.join(sorted(kinds))} (written as null), "
                f"the first at {first}"
            )
            for path, (kinds, count, first) in notes.items()
        }
    return out


def write_json(path: str, payload: dict) -> None:
    """Writes ``payload`` as indented strict JSON (see :func:`strict_json`), atomically."""
    text = json.dumps(strict_json(payload), indent=2, allow_nan=False) + "\n"

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(text)

    atomic_write(path, write)


def check_writable(folder: str) -> None:
    """Creates ``folder`` if needed and proves a file can be written there (raises ``OSError``)."""
    os.makedirs(folder, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
        pass
