"""The documentation: every public callable has a doctest example, the site builds strictly,
its formulas are math that KaTeX parses, no reST is left, and the guides' and README's code runs.
"""

import doctest
import glob
import html
import inspect
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

import jaxdiv
from jaxdiv import distill, expfam, fit, lm, mixture, numerical, samples

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = {
    "jaxdiv": jaxdiv,
    "expfam": expfam,
    "mixture": mixture,
    "distill": distill,
    "lm": lm,
    "fit": fit,
    "numerical": numerical,
    "samples": samples,
}

# What reST leaves on a page that mkdocstrings renders as Markdown.
RAW_REST = re.compile(r"\.\. math::|:(?:func|class|meth|mod|data|attr|obj|math):`")


def _public(module):
    return [n for n in module.__all__ if not inspect.ismodule(getattr(module, n))]


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_public_callable_has_a_doctest_example(page):
    module = PAGES[page]
    finder = doctest.DocTestFinder(recurse=False)
    missing = []
    for name in _public(module):
        obj = getattr(module, name)
        if not callable(obj):
            continue
        tests = finder.find(obj, f"{module.__name__}.{name}", module=False, globs={})
        if not any(t.examples for t in tests):
            missing.append(name)
    assert not missing, f"{module.__name__}: no doctest example in the docstring of {missing}"


def test_no_rest_left_in_docstrings():
    """Docstrings are Markdown (what mkdocstrings reads), private modules included."""
    found = []
    for path in sorted(glob.glob(os.path.join(ROOT, "jaxdiv", "**", "*.py"), recursive=True)):
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if RAW_REST.search(line):
                    found.append(f"{os.path.relpath(path, ROOT)}:{number}: {line.strip()}")
    assert not found, "reST left in docstrings:\n" + "\n".join(found)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built once with `mkdocs build --strict` (what `make docs` runs)."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    site = tmp_path_factory.mktemp("docs") / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return site


def _pages(site):
    return sorted(glob.glob(os.path.join(site, "**", "index.html"), recursive=True))


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_site_lists_every_public_name(site):
    missing = []
    for page, module in PAGES.items():
        text = (site / "api" / page / "index.html").read_text()
        missing += [
            f"{module.__name__}.{n}"
            for n in _public(module)
            if f'id="{module.__name__}.{n}"' not in text
        ]
    assert not missing, f"missing from the API reference: {missing}"
    for name in ("01_entropy_cross_entropy_kl", "03_forward_vs_reverse_kl"):
        text = (site / "notebooks" / name / "index.html").read_text()
        assert "<img" in text, f"{name} rendered without its figures"


def test_site_has_no_raw_rest_and_renders_math(site):
    raw = []
    for path in _pages(site):
        text = html.unescape(_read(path))
        raw += [f"{os.path.relpath(path, site)}: {m.group(0)}" for m in RAW_REST.finditer(text)]
    assert not raw, f"raw reST on the built pages: {raw[:20]}"
    for page in PAGES:
        text = (site / "api" / page / "index.html").read_text()
        if page != "distill":  # the distillation losses' docstrings have no formula block
            assert 'class="arithmatex"' in text, f"api/{page}: no formula reached the renderer"
    # The renderer ships with the site: no formula needs a network.
    assert (site / "javascripts" / "katex" / "katex.min.js").exists()
    assert (site / "javascripts" / "katex" / "fonts" / "KaTeX_Main-Regular.woff2").exists()


FORMULA = re.compile(r'<(span|div) class="arithmatex">(.*?)</\1>', re.DOTALL)
CHECK_JS = """
const katex = require(process.argv[1]);
const formulas = JSON.parse(require("fs").readFileSync(0, "utf8"));
const bad = [];
for (const [page, tex, display] of formulas) {
  try { katex.renderToString(tex, { displayMode: display, throwOnError: true }); }
  catch (e) { bad.push([page, tex, String(e.message)]); }
}
process.stdout.write(JSON.stringify(bad));
"""


def test_every_formula_parses_in_katex(site):
    """What the browser would show as a red error: each formula through the vendored KaTeX."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    formulas = []
    for path in _pages(site):
        for kind, body in FORMULA.findall(_read(path)):
            tex = html.unescape(body).strip()
            tex = tex[2:-2] if tex[:2] in ("\\(", "\\[") else tex
            formulas.append([os.path.relpath(path, site), tex, kind == "div"])
    assert len(formulas) > 50, f"only {len(formulas)} formulas found on the site"
    katex = str(site / "javascripts" / "katex" / "katex.min.js")
    proc = subprocess.run(
        [node, "-e", CHECK_JS, katex],
        input=json.dumps(formulas),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    bad = json.loads(proc.stdout)
    assert not bad, "formulas KaTeX cannot parse:\n" + "\n".join(map(str, bad))


CODE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
GUIDES = ["README.md", "docs/index.md", *sorted(glob.glob("docs/guides/*.md", root_dir=ROOT))]


@pytest.mark.parametrize("page", GUIDES)
def test_code_blocks_run(page, capsys):
    """The Python blocks of a page run top to bottom in one namespace, as a reader would."""
    blocks = CODE.findall(_read(os.path.join(ROOT, page)))
    assert blocks, f"{page} has no Python example"
    namespace = {"__name__": f"docs_{os.path.basename(page)}"}
    for number, block in enumerate(blocks, 1):
        code = compile(block, f"{page}, block {number}", "exec")
        exec(code, namespace)


def test_readme_is_a_front_page():
    lines = _read(os.path.join(ROOT, "README.md")).splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; the front page keeps to 250"
    text = "\n".join(lines)
    for needed in ("make demo", "make test", "pip install"):
        assert needed in text, f"README.md does not mention {needed!r}"
