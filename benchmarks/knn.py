"""The nearest-neighbour estimators of jaxdiv.samples against scikit-learn and k-d trees.

jaxdiv finds exact neighbours by blocked brute force (O(n^2 d) work, memory
bounded by the block); the references use trees (O(n log n) in low
dimension, degrading towards brute force as d grows). For n points in d
dimensions (float32 for jaxdiv, float64 for the references, on the CPU):

* ``entropy``: ``entropy_knn`` (k = 3) against a ``scipy.spatial.cKDTree``
  Kozachenko-Leonenko estimate (written here).
* ``ksg joint``: ``mutual_information_ksg`` of x in R^d and a correlated y in
  R^1 against a ``cKDTree`` KSG estimate (written here: a Chebyshev query in
  the joint space, then counts in each marginal space).
* ``ksg per feature``: the d separate one-dimensional estimates that
  scikit-learn's ``mutual_info_regression(X, y)`` returns, against jaxdiv's
  batched over the features (on the same rescaled data) and the ``cKDTree``
  KSG run per feature.

The results are checked to agree, then timed in seeded random-order rounds,
wall time (``time.perf_counter``) and CPU time (``time.process_time``, all
threads of this process: on a shared machine wall time includes waiting for
the CPU, CPU time does not). The ratio is jaxdiv's median over the fastest
reference's. The first call of jaxdiv (trace, compile, run) is reported
apart. The code is device-agnostic: on a GPU jaxdiv runs there and the
references stay on the CPU.

Run: python -m benchmarks.knn [--n 10000] [--dims 1 2 10] [--repeats 5] [--quick]
     [--out results/benchmarks/knn.json] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma, gammaln

import jaxdiv.samples as js
from benchmarks._timing import machine
from experiments._io import atomic_write, write_json

K = 3


# --------------------------------------------------------------------------- the references


def kdtree_entropy(x: np.ndarray, k: int = K) -> float:
    """Kozachenko-Leonenko with cKDTree: the (k+1)-th neighbour of each point (itself first)."""
    n, d = x.shape
    eps = cKDTree(x).query(x, k=k + 1, workers=-1)[0][:, k]
    log_ball = 0.5 * d * np.log(np.pi) - gammaln(0.5 * d + 1)
    return float(digamma(n) - digamma(k) + log_ball + d * np.mean(np.log(eps)))


def kdtree_ksg(x: np.ndarray, y: np.ndarray, k: int = K) -> float:
    """KSG algorithm 1 with cKDTree: strict counts as points within nextafter(eps, 0)."""
    n = x.shape[0]
    joint = np.hstack([x, y])
    eps = cKDTree(joint).query(joint, k=k + 1, p=np.inf, workers=-1)[0][:, k]
    radius = np.nextafter(eps, 0)
    nx = cKDTree(x).query_ball_point(x, radius, p=np.inf, return_length=True, workers=-1) - 1
    ny = cKDTree(y).query_ball_point(y, radius, p=np.inf, return_length=True, workers=-1) - 1
    return float(digamma(k) + digamma(n) - np.mean(digamma(nx + 1)) - np.mean(digamma(ny + 1)))


def sklearn_per_feature(x: np.ndarray, y: np.ndarray, k: int = K) -> np.ndarray:
    from sklearn.feature_selection import mutual_info_regression

    return mutual_info_regression(x, y, n_neighbors=k, random_state=0)


# --------------------------------------------------------------------------- one dimension d


def _jax(fn: Callable, *args) -> Callable[[], np.ndarray]:
    return lambda: np.asarray(jax.block_until_ready(fn(*args)))


def cases(n: int, d: int, seed: int = 0) -> dict[str, dict[str, Callable[[], object]]]:
    """``{case: {method: thunk}}``, jaxdiv's method first in each case."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = 0.6 * x[:, :1] + 0.8 * rng.normal(size=(n, 1))
    # scikit-learn divides each variable by its standard deviation; give jaxdiv the same data.
    xs, ys = x / x.std(axis=0), y / y.std()
    xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    xf = jnp.asarray(xs.T[:, :, None], jnp.float32)
    yf = jnp.broadcast_to(jnp.asarray(ys, jnp.float32), (d, n, 1))
    return {
        "entropy": {
            "jaxdiv entropy_knn": _jax(js.entropy_knn, xj),
            "cKDTree entropy": lambda: kdtree_entropy(x),
        },
        "ksg joint": {
            "jaxdiv mutual_information_ksg": _jax(js.mutual_information_ksg, xj, yj),
            "cKDTree KSG": lambda: kdtree_ksg(x, y),
        },
        "ksg per feature": {
            "jaxdiv mutual_information_ksg (batched)": _jax(js.mutual_information_ksg, xf, yf),
            "sklearn mutual_info_regression": lambda: sklearn_per_feature(x, y[:, 0]),
            "cKDTree KSG per feature": lambda: np.array(
                [kdtree_ksg(xs[:, i : i + 1], ys) for i in range(d)]
            ),
        },
    }


def timed_rounds(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, dict]:
    """Median wall and CPU seconds of each thunk, one call of each per round, seeded order."""
    wall: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    order = np.random.default_rng(0)
    for _ in range(repeats):
        for i in order.permutation(len(names)):
            w, c = time.perf_counter(), time.process_time()
            fns[names[i]]()
            wall[names[i]].append(time.perf_counter() - w)
            cpu[names[i]].append(time.process_time() - c)
    return {
        name: {"wall_s": statistics.median(wall[name]), "cpu_s": statistics.median(cpu[name])}
        for name in names
    }


def bench(n: int, d: int, repeats: int) -> list[dict]:
    out = []
    for case, fns in cases(n, d).items():
        ours = next(iter(fns))
        start = time.perf_counter()
        # scikit-learn clips its estimates at zero; compare the others clipped alike.
        floor = 0.0 if case == "ksg per feature" else -np.inf
        reference = np.maximum(np.asarray(fns[ours]()), floor)
        first_call = time.perf_counter() - start
        for name, fn in fns.items():
            got = np.maximum(np.asarray(fn()), floor)
            if not np.allclose(got, reference, rtol=2e-3, atol=2e-3):
                raise RuntimeError(
                    f"{name} disagrees with {ours} on {case}, n={n}, d={d}: {got} vs {reference}"
                )
        timings = timed_rounds(fns, repeats)
        refs = [v for k, v in timings.items() if k != ours]
        result = {
            "case": case,
            "n": n,
            "d": d,
            "ours": ours,
            "timings": timings,
            "first_call_s": first_call,
            "wall_ratio": timings[ours]["wall_s"] / min(r["wall_s"] for r in refs),
            "cpu_ratio": timings[ours]["cpu_s"] / min(r["cpu_s"] for r in refs),
            "fastest_reference": min(
                (k for k in timings if k != ours), key=lambda k: timings[k]["wall_s"]
            ),
        }
        out.append(result)
        print(
            f"{case:16s} n={n:,} d={d:<3d} median wall {timings[ours]['wall_s'] * 1e3:9.1f} ms "
            f"(ratio {result['wall_ratio']:5.2f})  cpu {timings[ours]['cpu_s'] * 1e3:9.1f} ms "
            f"(ratio {result['cpu_ratio']:5.2f})  vs {result['fastest_reference']}",
            flush=True,
        )
    return out


def markdown(results: list[dict], header: str) -> str:
    lines = [
        header,
        "",
        "Ratio: jaxdiv's median over the fastest reference's (below 1: jaxdiv is faster), "
        "for wall time and for CPU time (all threads). First call: jaxdiv's trace, compile "
        "and run.",
        "",
        "| estimate | n | d | jaxdiv wall | wall ratio | jaxdiv CPU | CPU ratio | "
        "fastest reference (wall) | its wall | first call |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        t, ref = r["timings"][r["ours"]], r["timings"][r["fastest_reference"]]
        lines.append(
            f"| {r['case']} | {r['n']:,} | {r['d']} | {t['wall_s'] * 1e3:.1f} ms | "
            f"{r['wall_ratio']:.2f} | {t['cpu_s'] * 1e3:.1f} ms | {r['cpu_ratio']:.2f} | "
            f"{r['fastest_reference']} | {ref['wall_s'] * 1e3:.1f} ms | "
            f"{r['first_call_s']:.2f} s |"
        )
    return "\n".join(lines) + "\n"


def _commit() -> str:
    try:
        run = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        return run.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="points")
    parser.add_argument("--dims", type=int, nargs="+", default=[1, 2, 10])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a smoke test: n=500, 2 rounds")
    parser.add_argument("--out", default="results/benchmarks/knn.json")
    parser.add_argument("--markdown", help="the table's path (default: --out with .md)")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.repeats = 500, 2
    if args.n <= K + 1 or args.repeats < 1 or min(args.dims) < 1:
        parser.error("--n must exceed k + 1 = 4, --repeats and every --dims must be >= 1")
    args.markdown = args.markdown or os.path.splitext(args.out)[0] + ".md"
    where = (
        f"{machine()}; commit {_commit()}; k = {K}; jaxdiv float32, references float64 on "
        f"the CPU; median of {args.repeats}"
    )
    print(where, flush=True)
    results = []
    for d in args.dims:
        try:
            results.extend(bench(args.n, d, args.repeats))
        except RuntimeError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    write_json(args.out, {"machine": where, "results": results})
    table = markdown(results, f"Measured on {where}.")

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(table)

    atomic_write(args.markdown, write)
    print(f"\nwrote {args.out} and {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
