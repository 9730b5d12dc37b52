"""The documentation site builds (mkdocs, strict) and documents every public name."""

import inspect
import os
import subprocess
import sys

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")

import jaxdiv
from jaxdiv import distill, expfam, mixture

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = {"jaxdiv": jaxdiv, "expfam": expfam, "mixture": mixture, "distill": distill}


def _public(module):
    return [n for n in module.__all__ if not inspect.ismodule(getattr(module, n))]


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_public_callable_has_an_example(page):
    module = PAGES[page]
    missing = []
    for name in _public(module):
        obj = getattr(module, name)
        if callable(obj) and ">>>" not in (inspect.getdoc(obj) or ""):
            missing.append(name)
    assert not missing, f"{module.__name__}: no docstring example for {missing}"


def test_site_builds_and_lists_every_public_name(tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    missing = []
    for page, module in PAGES.items():
        html = (site / "api" / page / "index.html").read_text()
        missing += [
            f"{module.__name__}.{n}"
            for n in _public(module)
            if f'id="{module.__name__}.{n}"' not in html
        ]
    assert not missing, f"missing from the API reference: {missing}"
    for name in ("01_entropy_cross_entropy_kl", "03_forward_vs_reverse_kl"):
        html = (site / "notebooks" / name / "index.html").read_text()
        assert "<img" in html, f"{name} rendered without its figures"
