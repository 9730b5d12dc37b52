"""Shared fixtures and strictness switches for the jaxdiv test suite.

The suite runs with float64 enabled, so that comparisons against scipy and
closed forms can be tight; float32 and 16-bit behaviour is tested with explicit
dtypes. Implicit rank promotion is an error, as in equinox and efax.

It runs on one CPU device, as users do. The tests in ``tests/sharded/`` need eight
devices and run in a process of their own (``make test`` starts it with
``XLA_FLAGS=--xla_force_host_platform_device_count=8``); a process with fewer devices
does not collect them.
"""

import os
import pathlib
import re

import jax
import numpy as np
import pytest

# XLA:CPU spends most of a compilation in LLVM's machine-code optimisation; the suite
# compiles thousands of programs and runs each a few times, so it asks LLVM for its cheap
# pipeline (HLO passes, fusion and numerics are XLA's usual ones; the programs run slower).
# JAXDIV_TEST_FULL_OPTIMIZATION=1 keeps XLA's defaults. The subprocesses the suite starts
# (notebooks, docs, benchmarks) inherit the setting. Set before the backend starts.
CHEAP_BACKEND_FLAGS = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
if os.environ.get("JAXDIV_TEST_FULL_OPTIMIZATION") != "1":
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {CHEAP_BACKEND_FLAGS}".strip()

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")

SHARDED = pathlib.Path(__file__).parent / "sharded"
SHARDED_DEVICES = 8


def pytest_ignore_collect(collection_path, config):
    if collection_path == SHARDED and jax.device_count() < SHARDED_DEVICES:
        return True
    return None


def pytest_report_header(config):
    if jax.device_count() < SHARDED_DEVICES:
        return (
            f"{jax.device_count()} device(s): tests/sharded/ is left to its own process "
            f"(XLA_FLAGS=--xla_force_host_platform_device_count={SHARDED_DEVICES} "
            "pytest tests/sharded, as make test runs it)"
        )
    return None


def pytest_configure(config):
    config.addinivalue_line("markers", "xdist_group(name): the xdist worker group of a test")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's hook, which reads the marks
def pytest_collection_modifyitems(config, items):
    """Groups the tests for ``pytest-xdist --dist loadgroup``: one group per file, so that a
    module-level cache of compiled programs or oracles is built in one worker only. A module
    whose parametrized tests share nothing across one parameter says so with
    ``XDIST_SPLIT_BY = "<parameter name>"``: its tests are grouped by that parameter's value
    instead, and the groups spread over the workers."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        group = item.nodeid.split("::")[0]  # the file, relative to the rootdir
        split_by = getattr(getattr(item, "module", None), "XDIST_SPLIT_BY", None)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if split_by in params:
            group += f":{params[split_by]}"
        item.add_marker(pytest.mark.xdist_group(xdist_group_name(group)))


def xdist_group_name(name: str) -> str:
    """``name`` as a group pytest-xdist honours. Its scheduler takes the text after the last
    ``@`` of a test id as the group only when no ``]`` follows that ``@``: a group named
    ``file.py['Chi']`` was silently ignored, each test its own group."""
    return re.sub(r"[\[\]@]", "_", name)


_COMPILES = {"count": 0, "seconds": 0.0}


def _count_compile(event: str, duration: float, **_: object) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        _COMPILES["count"] += 1
        _COMPILES["seconds"] += duration


jax.monitoring.register_event_duration_secs_listener(_count_compile)


def _memory_maps() -> int:
    try:
        with open("/proc/self/maps") as maps:
            return sum(1 for _ in maps)
    except OSError:
        return -1


def pytest_runtest_logreport(report):
    """Writes, per test, the programs XLA compiled during it and this process's memory maps,
    to ``$JAXDIV_COMPILE_LOG`` when that is set (see docs/contributing.md)."""
    path = os.environ.get("JAXDIV_COMPILE_LOG")
    if not path or report.when != "teardown":
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(f"{path}.{worker}", "a") as log:
        log.write(
            f"{report.nodeid}\t{_COMPILES['count']}\t{_COMPILES['seconds']:.3f}\t{_memory_maps()}\n"
        )


MAX_MEMORY_MAPS = 40_000  # of the kernel's vm.max_map_count, 65,530 by default


@pytest.fixture(autouse=True)
def _release_compiled_programs():
    """Drops JAX's compiled programs after a test that leaves the process with more than
    ``MAX_MEMORY_MAPS`` memory maps.

    Every compiled XLA:CPU program keeps memory maps of its own (a large one dozens); a
    worker that kept all the programs of the suite reaches the kernel's limit of 65,530
    maps (``vm.max_map_count``) and segfaults inside the compiler. Clearing only then keeps
    the small programs that every module shares (eager operations) compiled once.
    """
    yield
    if _memory_maps() > MAX_MEMORY_MAPS:
        jax.clear_caches()


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)


@pytest.fixture
def axis_types():
    """``jax.sharding.AxisType`` (explicit and automatic mesh axes); skips on a jax without it."""
    types = getattr(jax.sharding, "AxisType", None)
    if types is None:
        pytest.skip("this jax has no mesh axis types")
    return types


def random_simplex(rng, shape, *, floor=0.0):
    """Random probability vectors along the last axis, each entry >= floor / K."""
    x = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    k = shape[-1]
    return (1 - floor) * x + floor / k


def run_saved_inputs_script(script: str, inputs: dict, tmp_path, *, hung: str, timeout=120):
    """Runs ``python -c script inputs.npz out.npz`` on one CPU device (a test that could hang:
    jaxlib 0.10.2's LAPACK deadlock), failing with ``hung`` past ``timeout`` seconds; returns
    the arrays the script saved."""
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    np.savez(tmp_path / "inputs.npz", **inputs)
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(JAX_PLATFORMS="cpu", PYTHONPATH=str(repo))
    try:
        run = subprocess.run(
            [sys.executable, "-c", script, tmp_path / "inputs.npz", tmp_path / "out.npz"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(hung)
    assert run.returncode == 0, run.stderr[-3000:]
    return np.load(tmp_path / "out.npz")
