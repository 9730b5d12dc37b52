"""Gaussian KLs from the parameters users hold: jaxdiv against TensorFlow Probability and by hand.

Full covariance: KL between batches of `MultivariateNormal`s built inside the
timed function from `(loc, scale_tril)` (float32), against TensorFlow
Probability's `MultivariateNormalTriL` (JAX substrate) built from the same
inputs; forward, and value and gradient with respect to all four inputs; at
d = 4, 32 and 128 with batches sized so that a call takes about 50 ms.

Diagonal: the KL of `MultivariateNormalDiag` (from mean and log-std, to a
standard normal, as in a β-VAE; and between two members built from mean and
std) and of `Normal` (from mean and log-std) on [4096, 64], against the
hand-written closed forms.

On CPU, jaxlib 0.10.2's batched LAPACK kernels (which TFP's triangular solves
call) deadlock XLA's thread pool when several run at once on more than one
core (docs/known_issues.md), and no XLA flag tried prevents it. So by default
the script runs itself twice, in child processes: on every core (jaxdiv only,
TFP left out) and pinned to one core (jaxdiv and TFP). The table shows
jaxdiv on all cores and on one core, each as a ratio to TFP on one core.
jaxdiv's Gaussians make no LAPACK call and run on every core. Elsewhere (GPU,
TPU) one run times everything.

Run: python -m benchmarks.mvn_kl [--sizes 4x49152 32x4096 128x256] [--diag 4096x64 256x1024]
[--cores N] [--repeats R] [--allocator steady|default] [--markdown PATH].
`--dim D --batch B`
times one size. `--cores N`
runs once, in this process, pinned to N cores (TFP only with N = 1 on CPU).
TFP is optional (pip install tfp-nightly); without it only jaxdiv and the
hand-written forms are timed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._timing import (
    commit,
    cores,
    interleaved_medians,
    machine,
    pin_to_cores,
    print_table,
    steady_allocator,
)
from experiments._io import atomic_write, write_json
from jaxdiv import expfam

#: DIMxBATCH: batches for which a forward TFP call takes 30-60 ms on one core of the 2-core CI
#: machine (more while other work shares it).
DEFAULT_SIZES = ("4x49152", "32x4096", "128x256")
DEFAULT_DIAG = ("4096x64", "256x1024")


def _pair(text: str) -> tuple[int, int]:
    a, b = (int(t) for t in text.lower().split("x"))
    if a < 1 or b < 1:
        raise ValueError(text)
    return a, b


def _tril_inputs(batch: int, dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)

    def tril():
        a = rng.normal(size=(batch, dim, dim)) / np.sqrt(dim)
        cov = a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(dim)
        return np.linalg.cholesky(cov).astype(np.float32)

    locs = [rng.normal(size=(batch, dim)).astype(np.float32) for _ in range(2)]
    return tuple(jnp.asarray(x) for x in (locs[0], tril(), locs[1], tril()))


def _jaxdiv_tril_kl(m1, l1, m2, l2):
    p = expfam.MultivariateNormal.from_mean_scale_tril(m1, l1)
    q = expfam.MultivariateNormal.from_mean_scale_tril(m2, l2)
    return jnp.sum(expfam.kl_divergence(p, q))


def _with_grad(fn, nargs: int):
    return jax.value_and_grad(fn, argnums=tuple(range(nargs)))


def _time_tril(dim: int, batch: int, tfd, repeats: int) -> dict[str, float]:
    args = _tril_inputs(batch, dim)
    fns = {"jaxdiv": _jaxdiv_tril_kl}
    if tfd is not None:

        def tfp_kl(m1, l1, m2, l2):
            p, q = tfd.MultivariateNormalTriL(m1, l1), tfd.MultivariateNormalTriL(m2, l2)
            return jnp.sum(tfd.kl_divergence(p, q))

        fns["tfp"] = tfp_kl
        ours, theirs = float(_jaxdiv_tril_kl(*args)), float(tfp_kl(*args))
        print(f"d = {dim}: sum of KLs jaxdiv {ours:.6g}, tfp {theirs:.6g}")
    timed = {}
    for name, fn in fns.items():
        timed[f"{name}/forward"] = jax.jit(fn)
        timed[f"{name}/value_and_grad"] = jax.jit(_with_grad(fn, 4))
    return interleaved_medians(timed, *args, repeats=repeats)


def _diag_cases(rows: int, dim: int):
    """(name, inputs, {method: fn}) for the diagonal and univariate Gaussians."""
    rng = np.random.default_rng(1)

    def arr(scale=1.0, shift=0.0):
        return jnp.asarray(shift + scale * rng.normal(size=(rows, dim)), jnp.float32)

    mean, log_std = arr(), arr(0.5)
    std_pair = (arr(), jnp.exp(arr(0.3)), arr(), jnp.exp(arr(0.3)))
    log_std_pair = (arr(), arr(0.3), arr(), arr(0.3))
    diag = expfam.MultivariateNormalDiag

    def vae_jaxdiv(m, ls):
        prior = diag.from_mean_std(jnp.zeros_like(m), jnp.ones_like(m))
        return jnp.sum(expfam.kl_divergence(diag.from_mean_log_std(m, ls), prior))

    def vae_by_hand(m, ls):  # KL(N(m, e^{2 ls}) || N(0, 1)), summed
        return 0.5 * jnp.sum(jnp.square(m) + jnp.exp(2 * ls) - 1 - 2 * ls)

    def std_jaxdiv(m1, s1, m2, s2):
        p, q = diag.from_mean_std(m1, s1), diag.from_mean_std(m2, s2)
        return jnp.sum(expfam.kl_divergence(p, q))

    def std_by_hand(m1, s1, m2, s2):
        v2 = jnp.square(s2)
        return jnp.sum(jnp.log(s2 / s1) + (jnp.square(s1) + jnp.square(m1 - m2)) / (2 * v2) - 0.5)

    def normal_jaxdiv(m1, ls1, m2, ls2):
        p = expfam.Normal.from_mean_log_std(m1, ls1)
        q = expfam.Normal.from_mean_log_std(m2, ls2)
        return jnp.sum(expfam.kl_divergence(p, q))

    def normal_by_hand(m1, ls1, m2, ls2):
        z = (m1 - m2) * jnp.exp(-ls2)
        return jnp.sum(ls2 - ls1 + 0.5 * (jnp.exp(2 * (ls1 - ls2)) + jnp.square(z)) - 0.5)

    return [
        ("MVNDiag from mean, log-std, to N(0, I)", (mean, log_std), vae_jaxdiv, vae_by_hand),
        ("MVNDiag from mean, std", std_pair, std_jaxdiv, std_by_hand),
        ("Normal from mean, log-std", log_std_pair, normal_jaxdiv, normal_by_hand),
    ]


def _time_diag(rows: int, dim: int, repeats: int) -> dict[str, dict[str, float]]:
    out = {}
    for name, inputs, ours, by_hand in _diag_cases(rows, dim):
        fns = {}
        for method, fn in (("jaxdiv", ours), ("by hand", by_hand)):
            fns[f"{method}/forward"] = jax.jit(fn)
            fns[f"{method}/value_and_grad"] = jax.jit(_with_grad(fn, len(inputs)))
        a, b = float(fns["jaxdiv/forward"](*inputs)), float(fns["by hand/forward"](*inputs))
        print(f"{name}: sum of KLs jaxdiv {a:.6g}, by hand {b:.6g}")
        out[f"{name}, [{rows:,}, {dim:,}]"] = interleaved_medians(fns, *inputs, repeats=repeats)
    return out


def _measure(args) -> dict:
    """Times every case in this process, on the cores it may use."""
    tfd = None
    try:
        from tensorflow_probability.substrates import jax as tfp

        tfd = tfp.distributions
    except ImportError:
        print("TensorFlow Probability is not installed (pip install tfp-nightly): no TFP rows.")
    if tfd is not None and jax.default_backend() == "cpu" and cores() > 1:
        tfd = None
        print(
            f"TFP left out on {cores()} CPU cores: its KL can deadlock jaxlib 0.10.2's thread "
            "pool (docs/known_issues.md)."
        )
    result = {"machine": machine(), "cores": cores(), "tril": {}, "diag": {}}
    for dim, batch in args.sizes:
        result["tril"][f"{dim}x{batch}"] = _time_tril(dim, batch, tfd, args.repeats)
    for rows, dim in args.diag:
        result["diag"].update(_time_diag(rows, dim, args.repeats))
    return result


def _settings(args) -> list[dict]:
    """One measurement per core setting: here, or on all cores and on one in child processes."""
    if args.cores or jax.default_backend() != "cpu" or cores() == 1:
        pin_to_cores(args.cores or None)
        return [_measure(args)]
    results = []
    for n in (0, 1):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "child.json")
            command = [sys.executable, "-m", "benchmarks.mvn_kl", *args.argv]
            command += ["--cores", str(n or cores()), "--child-json", out]
            subprocess.run(command, check=True)
            with open(out) as f:
                results.append(json.load(f))
    return results


def _report(results: list[dict], args) -> dict:
    """Prints the tables: each setting's jaxdiv time as a ratio to TFP's (on one core)."""
    one_core = next((r for r in results if r["cores"] == 1), results[-1])
    labels = {id(r): f"{r['cores']} core{'s' if r['cores'] > 1 else ''}" for r in results}
    print(f"\nmachine: {results[0]['machine']}")
    for r in results[1:]:
        print(f"and: {r['machine']}")
    table = {}
    for size in results[0]["tril"]:
        dim, batch = size.split("x")
        for mode in ("forward", "value_and_grad"):
            base = one_core["tril"][size].get(f"tfp/{mode}")
            rows = []
            for r in results:
                seconds = r["tril"][size][f"jaxdiv/{mode}"]
                rows.append((f"jaxdiv, {labels[id(r)]}", seconds, base and seconds / base))
                table[f"d={dim} batch={batch} {mode} jaxdiv {labels[id(r)]}"] = seconds
            if base is not None:
                rows.append((f"tfp MultivariateNormalTriL, {labels[id(one_core)]}", base, 1.0))
                table[f"d={dim} batch={batch} {mode} tfp {labels[id(one_core)]}"] = base
            print_table(f"full covariance, d = {dim}, {batch} pairs, {mode} (ratio: / tfp)", rows)
    for name in results[0]["diag"]:
        for mode in ("forward", "value_and_grad"):
            rows = []
            for r in results:
                t = r["diag"][name]
                ours, hand = t[f"jaxdiv/{mode}"], t[f"by hand/{mode}"]
                rows.append((f"jaxdiv, {labels[id(r)]}", ours, ours / hand))
                rows.append((f"by hand, {labels[id(r)]}", hand, 1.0))
            print_table(f"{name}, {mode} (ratio: / by hand)", rows)
    return table


def _table_head(first: str, columns: list[str]) -> list[str]:
    """A Markdown table's header and rule: `first`, the mode, then `columns`."""
    cells = [first, "mode", *columns]
    return ["| " + " | ".join(cells) + " |", "|" + " --- |" * len(cells)]


def _markdown(results: list[dict], args) -> str:
    """The docs' table: every jaxdiv time over TFP's on one core, or over the hand formula's."""
    one_core = next((r for r in results if r["cores"] == 1), results[-1])
    labels = [f"{r['cores']} core{'s' if r['cores'] > 1 else ''}" for r in results]
    modes = {"forward": "forward", "value_and_grad": "value and grad"}
    lines = [
        f"Measured on {results[0]['machine']}; commit {commit()}; float32; medians of "
        f"{args.repeats} interleaved rounds (`python -m benchmarks.mvn_kl`).",
        "",
        "Full covariance, both members built from `(loc, scale_tril)` inside the timed "
        "function: jaxdiv's time over TFP `MultivariateNormalTriL`'s on one core (below 1: "
        "jaxdiv is faster).",
        "",
        *_table_head(
            "pairs",
            [f"jaxdiv, {x}" for x in labels] + ["TFP, 1 core"] + [f"ratio, {x}" for x in labels],
        ),
    ]
    for size in results[0]["tril"]:
        dim, batch = size.split("x")
        for mode, name in modes.items():
            ours = [r["tril"][size][f"jaxdiv/{mode}"] for r in results]
            base = one_core["tril"][size].get(f"tfp/{mode}")
            ratios = [f"**{t / base:.2f}**" if base else "n/a" for t in ours]
            theirs = f"{base * 1e3:.2f} ms" if base else "not installed"
            cells = [f"{t * 1e3:.2f} ms" for t in ours] + [theirs] + ratios
            lines.append(
                f"| d = {dim}, {int(batch):,} pairs | {name} | " + " | ".join(cells) + " |"
            )
    lines += [
        "",
        "Diagonal and univariate Gaussians, the KL summed over `[rows, dim]`: jaxdiv's time "
        "over the hand-written closed form's, in the same process.",
        "",
        *_table_head(
            "case", [f"jaxdiv / by hand, {x}" for x in labels] + [f"ratio, {x}" for x in labels]
        ),
    ]
    for case in results[0]["diag"]:
        for mode, name in modes.items():
            times = [
                (r["diag"][case][f"jaxdiv/{mode}"], r["diag"][case][f"by hand/{mode}"])
                for r in results
            ]
            cells = [f"{a * 1e3:.3f} / {b * 1e3:.3f} ms" for a, b in times]
            cells += [f"**{a / b:.2f}**" for a, b in times]
            lines.append(f"| {case} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(DEFAULT_SIZES), help="DIMxBATCH ...")
    parser.add_argument("--dim", type=int, help="one size: this dimension (with --batch)")
    parser.add_argument("--batch", type=int, help="one size: this many pairs (with --dim)")
    parser.add_argument(
        "--diag", nargs="+", default=list(DEFAULT_DIAG), help="ROWSxDIM ... of the diagonal cases"
    )
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out", default="results/benchmarks/mvn_kl.json")
    parser.add_argument(
        "--cores",
        type=int,
        default=0,
        help="run once, pinned to this many CPUs (0: on all cores and on one, in child runs)",
    )
    parser.add_argument("--allocator", choices=["steady", "default"], default="steady")
    parser.add_argument("--markdown", help="also write the table here (Markdown)")
    parser.add_argument("--child-json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.allocator == "steady":  # the child runs inherit the setting
        steady_allocator("benchmarks.mvn_kl", argv)
    try:
        sizes = [_pair(s) for s in args.sizes]
        if args.dim is not None or args.batch is not None:
            sizes = [(args.dim or 32, args.batch or 4096)]
        args.diag = [_pair(d) for d in args.diag]
        if args.repeats < 1 or args.cores < 0 or min(min(s) for s in [*sizes, *args.diag]) < 1:
            raise ValueError
    except ValueError:
        message = "sizes, --repeats and --cores must be positive (sizes as 32x2048)"
        print(f"error: {message}", file=sys.stderr)
        return 2
    args.sizes = sizes
    # What a child run gets: this run's options less the output and core settings.
    args.argv = ["--sizes", *(f"{d}x{b}" for d, b in sizes), "--repeats", str(args.repeats)]
    args.argv += ["--diag", *("x".join(map(str, d)) for d in args.diag)]

    if args.child_json:
        pin_to_cores(args.cores)
        with open(args.child_json, "w") as f:
            json.dump(_measure(args), f)
        return 0
    results = _settings(args)
    table = _report(results, args)
    write_json(args.out, {"settings": results, "timings": table})
    print(f"\nwrote {args.out}")
    if args.markdown:
        text = _markdown(results, args)

        def write(tmp: str) -> None:
            with open(tmp, "w") as f:
                f.write(text)

        atomic_write(args.markdown, write)
        print(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
