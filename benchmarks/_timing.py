"""Shared timing helpers for the benchmark scripts: medians of jitted calls, side by side."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import jax
import numpy as np


def pin_to_cores(cores: int | None) -> None:
    """Restricts this process (and XLA's thread pools, created later) to ``cores`` CPUs.

    Must run before the first JAX computation. On a 2-core machine jaxlib
    0.10.2's CPU LAPACK kernels (Cholesky, triangular solves), which split a
    batch over the intra-op thread pool, can deadlock when two of them run at
    once; with one core they run inline. Both libraries are then timed under
    the same condition.
    """
    if cores is not None and hasattr(os, "sched_setaffinity"):
        available = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, set(available[: max(1, cores)]))


#: glibc malloc settings under which large buffers come from the heap and stay mapped.
STEADY_MALLOC = {
    "MALLOC_MMAP_THRESHOLD_": str(1 << 30),
    "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
    "MALLOC_TOP_PAD_": str(1 << 28),
}


def steady_allocator(module: str, argv: list[str]) -> None:
    """Re-executes ``python -m module argv`` under :data:`STEADY_MALLOC`, unless already there.

    XLA on CPU allocates an executable's temporaries with ``malloc`` at every
    call. glibc serves blocks above a threshold with fresh ``mmap`` pages,
    which fault in (and are zeroed) on first touch, and it raises that
    threshold (up to 32 MiB) each time such a block is freed. A function's
    time therefore depends on which functions ran before it in the process:
    the same jitted call was seen taking 2.2 ms in one process and 10.9 ms in
    another. With fixed thresholds every temporary comes from the heap and the
    timings measure the computation. Linux only; elsewhere a no-op.
    """
    if platform.system() != "Linux" or _is_steady():
        return
    sys.stdout.flush()
    env = {**os.environ, **STEADY_MALLOC}
    os.execve(sys.executable, [sys.executable, "-m", module, *argv], env)


def _is_steady() -> bool:
    return all(os.environ.get(k) == v for k, v in STEADY_MALLOC.items())


def allocator() -> str:
    """Which allocator setting this process runs under."""
    return f"malloc thresholds {'fixed' if _is_steady() else 'default'}"


def median_seconds(fn: Callable, *args, repeats: int = 30, warmup: int = 3) -> float:
    """Median wall time of ``fn(*args)`` (compiled first), blocking on the result."""
    for _ in range(warmup):
        jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_medians(
    fns: dict[str, Callable], *args, repeats: int = 30, warmup: int = 3
) -> dict[str, float]:
    """Median wall times of several compiled functions, measured in alternation.

    One call of each per round, so that drifts in the machine's load affect
    every method alike. Each round runs the methods in a new random order
    (seeded), so that no method always runs right after the same other one:
    whatever a call leaves behind (caches and heap blocks laid out for another
    computation, another library's threads going to sleep) falls on each
    method alike. A rotating order is not enough: it keeps the cyclic order,
    so each method still follows the same one in almost every round, and
    three copies of one jitted function were measured 10-15% apart that way.
    """
    for fn in fns.values():
        for _ in range(warmup):
            jax.block_until_ready(fn(*args))
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    order = np.random.default_rng(0)
    for _ in range(repeats):
        for i in order.permutation(len(names)):
            name = names[i]
            start = time.perf_counter()
            jax.block_until_ready(fns[name](*args))
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def cores() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def machine() -> str:
    """A one-line description of the machine and the JAX backend."""
    device = jax.devices()[0]
    return (
        f"{platform.processor() or platform.machine()}, {cores()} of "
        f"{os.cpu_count()} cores, "
        f"jax {jax.__version__} on {device.platform} ({device.device_kind}), {allocator()}"
    )


def commit() -> str:
    """The short hash of the checked-out commit, marked where tracked files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    name = head.stdout.strip() or "unknown"
    return f"{name} with uncommitted changes" if dirty.stdout.strip() else name


def print_table(title: str, rows: list[tuple[str, float, float | None]]) -> None:
    """Prints ``(name, seconds, ratio)`` rows as a table."""
    print(f"\n{title}")
    print(f"  {'method':<52} {'median':>12} {'ratio':>8}")
    for name, seconds, ratio in rows:
        r = "" if ratio is None else f"{ratio:8.2f}"
        print(f"  {name:<52} {seconds * 1e3:>9.3f} ms {r}")


def tfp_distributions():
    """TensorFlow Probability's JAX-substrate distributions, or None (with a message) without it."""
    try:
        from tensorflow_probability.substrates import jax as tfp
    except ImportError:
        print("TensorFlow Probability is not installed (pip install tfp-nightly): skipped.")
        return None
    return tfp.distributions


def softmax_mixture(a, b):
    """The even mixture of ``softmax(a)`` and ``softmax(b)``."""
    return 0.5 * (jax.nn.softmax(a) + jax.nn.softmax(b))
