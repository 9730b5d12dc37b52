"""The package as a user gets it: the sdist, the wheel built from it, a fresh environment.

The sdist is built from a copy of this checkout and the wheel from the unpacked sdist
(what ``python -m build`` does), both without build isolation, so nothing is
downloaded. The wheel is installed with ``--no-deps`` into a new virtual
environment that sees this environment's site-packages through a ``.pth`` path
entry (jax, numpy and optax come from there; the editable jaxdiv does not, as
its ``.pth`` hook is not run), and imported from a directory outside the
checkout.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import venv

import pytest

import jaxdiv

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Paths the sdist must hold so that its test suite runs (beside every tracked test file).
SDIST_REQUIRED = [
    "LICENSE",
    "pyproject.toml",
    "MANIFEST.in",
    "jaxdiv/py.typed",
    "tests/conftest.py",
    "tests/cases.py",
    "tests/expfam/families.py",
    "tests/mixture/test_mixture.py",
]

# What a checkout holds beside its sources: environments, caches and build outputs.
NOT_SOURCE = [
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    ".cache",
    "results",
    "site",
]

IMPORT_CHECK = textwrap.dedent(
    """
    import importlib.metadata as md
    import json
    import pathlib

    import jax.numpy as jnp
    import jaxdiv

    dist = md.distribution("jaxdiv")
    print(json.dumps({
        "file": jaxdiv.__file__,
        "version": jaxdiv.__version__,
        "metadata_version": dist.version,
        "requires": dist.requires or [],
        "license_files": [str(f) for f in dist.files if "LICENSE" in f.name],
        "py_typed": (pathlib.Path(jaxdiv.__file__).parent / "py.typed").is_file(),
        "kl": float(jaxdiv.kl_divergence(jnp.array([0.5, 0.5]), jnp.array([0.25, 0.75]))),
    }))
    """
)


def _run(args: list[str], *, cwd: pathlib.Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def _build(hook: str, source: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    """Runs a PEP 517 hook of setuptools in ``source``; returns the file it wrote."""
    script = f"from setuptools import build_meta; print(build_meta.{hook}({str(out)!r}))"
    name = _run([sys.executable, "-c", script], cwd=source).strip().splitlines()[-1]
    return out / name


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    pytest.importorskip("setuptools", minversion="77")
    tmp = tmp_path_factory.mktemp("packaging")
    # A copy of the checkout, so that the build's egg-info never touches the working tree
    # (pytest-xdist workers may build at the same time).
    checkout = tmp / "checkout"
    shutil.copytree(ROOT, checkout, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    sdist = _build("build_sdist", checkout, tmp)
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "unpacked", filter="data")
    (source,) = (tmp / "unpacked").iterdir()
    wheel = _build("build_wheel", source, tmp)
    return {"sdist": sdist, "source": source, "wheel": wheel, "tmp": tmp}


def test_sdist_holds_the_test_suite(built: dict[str, pathlib.Path]) -> None:
    source = built["source"]
    try:  # every tracked test file, where this is a git checkout
        tracked = subprocess.run(
            ["git", "ls-files", "tests"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.split()
    except FileNotFoundError:
        tracked = []
    missing = [p for p in [*SDIST_REQUIRED, *tracked] if not (source / p).is_file()]
    assert not missing, f"the sdist {built['sdist'].name} lacks {missing}"


def test_wheel_imports_in_a_fresh_environment(built: dict[str, pathlib.Path]) -> None:
    env_dir = built["tmp"] / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = pathlib.Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            cwd=built["tmp"],
        ).strip()
    )
    # A path entry only: the editable jaxdiv's import hook in that directory is not run.
    (site / "outer_site_packages.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-index", str(built["wheel"])],
        cwd=built["tmp"],
        env=env,
    )  # fmt: skip
    outside = built["tmp"] / "elsewhere"
    outside.mkdir()
    found = json.loads(_run([str(python), "-c", IMPORT_CHECK], cwd=outside, env=env))

    assert pathlib.Path(found["file"]).is_relative_to(site), found["file"]
    assert found["version"] == found["metadata_version"] == jaxdiv.__version__
    assert found["py_typed"]
    assert found["license_files"], "no LICENSE in the wheel's metadata"
    runtime = {
        re.split(r"[<>=!~ \[]", r, maxsplit=1)[0] for r in found["requires"] if "extra ==" not in r
    }
    assert runtime == {"jax", "jaxlib", "numpy", "optax"}  # chex: the tests only
    assert found["kl"] == pytest.approx(0.5 * math.log(4 / 3), rel=1e-5)
    shutil.rmtree(env_dir)
