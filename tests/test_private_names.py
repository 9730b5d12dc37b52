"""Private names stay in their module; a subpackage's private modules stay in the subpackage.

The rule, checked on the source of every module under `jaxdiv/`:

1. A name that starts with one underscore is used only in the module that
   defines it. Another module may not import it (`from jaxdiv.expfam._mvn
   import _diag`) nor read it as an attribute of something it imported
   (`_mvn._diag`, `GaussianMixture._from_leaves` outside its module). Private
   *modules* may be imported (`from jaxdiv import _validation as val`): it is
   the names inside them that count.
2. The private modules at the top of the package (`jaxdiv._linalg`,
   `jaxdiv._validation`, `jaxdiv._numerics`, `jaxdiv._core`, ...) are the
   library's shared internals: any module of jaxdiv may import their public
   names. A subpackage's private modules (`jaxdiv.expfam._normal`) are
   imported only by modules of that subpackage; other code uses what the
   subpackage's `__init__` exports (`jaxdiv.expfam.Normal`).

So a helper that two subpackages need lives, without an underscore, in a
shared top-level private module. Dunder names (`__version__`) are not private.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "jaxdiv"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(module: str, path: pathlib.Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _is_module(dotted: str) -> bool:
    try:
        return importlib.util.find_spec(dotted) is not None
    except (ImportError, ValueError):
        return False


def _subpackage_private(target: str) -> str | None:
    """The subpackage that owns `target` when it is (inside) a subpackage's private module."""
    parts = target.split(".")
    for i in range(2, len(parts)):
        if _is_private(parts[i]) and parts[0] == "jaxdiv":
            return ".".join(parts[:i])
    return None


def _violations(path: pathlib.Path, source: str | None = None) -> list[str]:
    """What breaks the rule in the module at `path` (whose text is `source` when given)."""
    module = _module_name(path)
    package = _package_of(module, path)
    tree = ast.parse(path.read_text() if source is None else source, filename=str(path))
    found: list[str] = []
    imported: dict[str, str] = {}  # local name -> what it refers to, dotted

    def where(node: ast.AST) -> str:
        return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"

    def check_target(node: ast.AST, target: str) -> None:
        owner = _subpackage_private(target)
        if owner is not None and not (module == owner or module.startswith(owner + ".")):
            found.append(f"{where(node)}: {target} is private to {owner}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check_target(node, alias.name)
                if alias.asname:
                    imported[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    imported[head] = head
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                target = f"{source}.{alias.name}"
                imported[alias.asname or alias.name] = target
                if _is_private(alias.name) and not _is_module(target):
                    found.append(f"{where(node)}: imports the private name {target}")
                else:
                    check_target(node, target if _is_module(target) else source)

    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        chain: list[str] = []
        root: ast.AST = node
        while isinstance(root, ast.Attribute):
            chain.append(root.attr)
            root = root.value
        if not (isinstance(root, ast.Name) and root.id in imported):
            continue
        dotted = imported[root.id]
        for attr in reversed(chain):
            dotted = f"{dotted}.{attr}"
            if _is_private(attr) and not _is_module(dotted):
                found.append(f"{where(node)}: reads the private name {dotted}")
                break
    return found


def test_no_private_name_crosses_a_module_border() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 20
    problems = [v for path in files for v in _violations(path)]
    assert not problems, "private names used outside their module:\n" + "\n".join(problems)


def test_the_check_finds_what_it_should() -> None:
    """The rule applied to a module written to break it (checked as text, never written)."""
    probe = PACKAGE / "mixture" / "_probe.py"
    source = (
        "from jaxdiv import _validation as val\n"  # allowed: a shared private module
        "from jaxdiv.expfam._mvn import MultivariateNormal\n"  # another subpackage's internals
        "from jaxdiv.mixture._gaussian_mixture import GaussianMixture\n"  # own subpackage: fine
        "from jaxdiv._linalg import _split\n"  # a private name
        "x = val._tolerance\n"  # a private attribute of a module
        "y = GaussianMixture._from_leaves\n"  # a private attribute of an imported class
        "z = val.check_square\n"  # fine
    )
    found = _violations(probe, source)
    assert len(found) == 4, found
    for name in ("jaxdiv.expfam._mvn", "_split", "_tolerance", "_from_leaves"):
        assert any(name in f for f in found), (name, found)


def test_programs_use_only_the_public_api() -> None:
    """Experiments, benchmarks and notebooks import jaxdiv as a user does: no private module
    or name of jaxdiv (a dotted path with a component that starts with `_`)."""
    private = re.compile(
        r"\bjaxdiv(\.\w+)*\._[a-z]\w*|\bfrom jaxdiv(\.\w+)* import [^#\n]*\b_[a-z]"
    )
    problems = []
    sources = [*ROOT.glob("experiments/*.py"), *ROOT.glob("benchmarks/*.py")]
    for path in sources:
        for i, line in enumerate(path.read_text().splitlines(), start=1):
            if private.search(line):
                problems.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    for path in ROOT.glob("notebooks/*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code" and private.search("".join(cell["source"])):
                problems.append(f"{path.relative_to(ROOT)}: {''.join(cell['source'])[:80]!r}")
    assert not problems, "jaxdiv internals used outside the library:\n" + "\n".join(problems)
