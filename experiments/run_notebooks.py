"""Executes the notebooks from a clean kernel and stores them with their outputs.

``python -m experiments.run_notebooks`` (``make notebooks``) runs every notebook
in ``notebooks/`` top to bottom in the full configuration and rewrites it, with
its outputs, atomically; ``--check`` runs without writing. Each kernel starts in
``notebooks/`` without the repository root on its path, as in Jupyter, so a
notebook sees the installed ``jaxdiv`` only. The tests call :func:`execute`
with ``fast=True`` (``JAXDIV_NOTEBOOK_FAST=1``) for a smaller configuration.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = os.path.join(ROOT, "notebooks")


def kernel_environment(*, fast: bool) -> dict[str, str]:
    """The environment of a notebook's kernel: this one without the repository on PYTHONPATH.

    A notebook must run against the installed package only, as it does when a
    user opens it in Jupyter; ``JAXDIV_NOTEBOOK_FAST`` selects the smaller
    configuration.
    """
    env = dict(os.environ)
    paths = [
        p for p in env.pop("PYTHONPATH", "").split(os.pathsep) if p and os.path.abspath(p) != ROOT
    ]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env["JAXDIV_NOTEBOOK_FAST"] = "1" if fast else "0"
    return env


def execute_notebook(nb, *, fast: bool = False, timeout: int = 600):
    """Runs the notebook ``nb`` in a fresh ``python3`` kernel started in ``notebooks/``.

    The kernel's working directory is ``notebooks/`` and its ``sys.path`` does
    not hold the repository root (see :func:`kernel_environment`), as when a
    user opens the file in Jupyter: only the installed ``jaxdiv`` is
    importable, not ``experiments``. Raises
    ``nbclient.exceptions.CellExecutionError`` on the first failing cell.
    """
    import nbclient

    client = nbclient.NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": NOTEBOOKS}}
    )
    client.execute(env=kernel_environment(fast=fast))
    return nb


def execute(path: str, *, fast: bool = False, timeout: int = 600):
    """Runs the notebook at ``path`` (see :func:`execute_notebook`); returns it with outputs."""
    import nbformat

    return execute_notebook(nbformat.read(path, as_version=4), fast=fast, timeout=timeout)


def key_numbers(nb) -> dict[str, float]:
    """The ``KEY name value`` lines that the notebook printed."""
    found = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for line in out.get("text", "").splitlines():
                if line.startswith("KEY "):
                    _, name, value = line.split()
                    found[name] = float(value)
    return found


def main(argv: list[str] | None = None) -> int:
    import nbformat

    from experiments._io import atomic_write

    parser = argparse.ArgumentParser(prog="python -m experiments.run_notebooks")
    parser.add_argument("names", nargs="*", help="notebook names (default: all)")
    parser.add_argument("--check", action="store_true", help="run without writing")
    args = parser.parse_args(argv)
    paths = sorted(glob.glob(os.path.join(NOTEBOOKS, "*.ipynb")))
    unknown = [n for n in args.names if not any(n in os.path.basename(p) for p in paths)]
    if unknown:
        names = ", ".join(os.path.basename(p) for p in paths)
        parser.error(f"no notebook matches {', '.join(map(repr, unknown))}; the notebooks: {names}")
    if args.names:
        paths = [p for p in paths if any(n in os.path.basename(p) for n in args.names)]
    for path in paths:
        start = time.perf_counter()
        nb = execute(path)
        seconds = time.perf_counter() - start
        if not args.check:
            atomic_write(path, lambda tmp, nb=nb: nbformat.write(nb, tmp))
        print(f"{os.path.basename(path)}: {seconds:.1f} s, {len(key_numbers(nb))} key numbers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
