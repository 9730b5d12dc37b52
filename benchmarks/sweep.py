"""The logits functions against their peers over the shapes users have, forward and gradient.

Classifiers and RL policies have a few to a thousand classes and many rows;
language models have 32k to 256k. For each shape ``rows x vocab`` (float32)
and each divergence, every method gets the same inputs in one process; they
are checked to agree (1e-4 relative), then timed in seeded random-order rounds
(``benchmarks._timing.interleaved_medians``), forward (the mean over rows) and
value-and-gradient (with respect to both arguments, or the logits alone for
integer labels). The first call (trace, compile and run) of a fresh ``jax.jit``
of each method is timed too.

Divergences and peers:

* ``kl``: KL(softmax a || softmax b). optax's ``kl_divergence_with_log_targets``
  after ``log_softmax``; ``jax.scipy.special.rel_entr`` after ``softmax``; a
  hand-written ``sum p (log_softmax a - log_softmax b)``.
* ``ce``: H(softmax a, softmax b). optax's ``softmax_cross_entropy`` with soft
  labels; ``-sum softmax(a) log_softmax(b)``.
* ``js``: Jensen-Shannon (no library has it from logits): ``rel_entr`` against
  the mixture; the same from ``log_softmax``.
* ``labels``: cross-entropy from integer labels. optax's
  ``softmax_cross_entropy_with_integer_labels``; ``-take_along_axis(log_softmax)``.
* ``soft_ce``: probabilities against logits (jaxdiv's ``cross_entropy_with_logits``).
  optax's ``softmax_cross_entropy``; ``-sum p log_softmax(b)``.

TensorFlow Probability's JAX substrate (``Categorical``) is timed too where
installed (``pip install tfp-nightly``). The ratio is jaxdiv's median over the
fastest peer's.

The results go to ``--out`` (JSON) and ``--markdown`` (a table, by default
beside the JSON; ``docs/benchmarks.md`` records one run).

Run: python -m benchmarks.sweep [--divergence kl ce js labels soft_ce]
     [--shapes 100000x40 64x32768 ...] [--repeats 20] [--cores N]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import jaxdiv
from benchmarks._timing import (
    commit,
    interleaved_medians,
    machine,
    pin_to_cores,
    softmax_mixture,
    steady_allocator,
    tfp_distributions,
)
from experiments._io import atomic_write, write_json

#: rows x vocab: many rows and few classes to few rows and a large vocabulary.
SHAPES = ((1_000_000, 4), (100_000, 40), (4096, 1000), (512, 8192), (64, 32768), (8, 262144))

DIVERGENCES = ("kl", "ce", "js", "labels", "soft_ce")


def methods(divergence: str) -> dict:
    """``{name: f(x, y) -> per-row values}``, jaxdiv's first."""
    import optax

    rel_entr = jax.scipy.special.rel_entr
    lsm = jax.nn.log_softmax
    tfd = tfp_distributions()
    if divergence == "kl":
        out = {
            "jaxdiv kl_divergence_from_logits": jaxdiv.kl_divergence_from_logits,
            "optax kl_divergence_with_log_targets": lambda a, b: (
                optax.losses.kl_divergence_with_log_targets(lsm(b), lsm(a))
            ),
            "jax.scipy rel_entr(softmax)": lambda a, b: jnp.sum(
                rel_entr(jax.nn.softmax(a), jax.nn.softmax(b)), -1
            ),
            "log_softmax by hand": lambda a, b: jnp.sum(jnp.exp(lsm(a)) * (lsm(a) - lsm(b)), -1),
        }
        if tfd is not None:
            out["tfp Categorical KL"] = lambda a, b: tfd.kl_divergence(
                tfd.Categorical(logits=a), tfd.Categorical(logits=b)
            )
    elif divergence == "ce":
        out = {
            "jaxdiv cross_entropy_from_logits": jaxdiv.cross_entropy_from_logits,
            "optax softmax_cross_entropy": lambda a, b: optax.losses.softmax_cross_entropy(
                b, jax.nn.softmax(a)
            ),
            "log_softmax by hand": lambda a, b: -jnp.sum(jax.nn.softmax(a) * lsm(b), -1),
        }
        if tfd is not None:
            out["tfp Categorical cross_entropy"] = lambda a, b: tfd.Categorical(
                logits=a
            ).cross_entropy(tfd.Categorical(logits=b))
    elif divergence == "js":
        out = {
            "jaxdiv js_divergence_from_logits": jaxdiv.js_divergence_from_logits,
            "jax.scipy rel_entr to the mixture": lambda a, b: (
                0.5
                * jnp.sum(
                    rel_entr(jax.nn.softmax(a), softmax_mixture(a, b))
                    + rel_entr(jax.nn.softmax(b), softmax_mixture(a, b)),
                    -1,
                )
            ),
            "log_softmax by hand": lambda a, b: _js_by_hand(a, b),
        }
    elif divergence == "labels":
        out = {
            "jaxdiv cross_entropy_from_integer_labels": jaxdiv.cross_entropy_from_integer_labels,
            "optax softmax_cross_entropy_with_integer_labels": lambda a, y: (
                optax.losses.softmax_cross_entropy_with_integer_labels(a, y)
            ),
            "log_softmax by hand": lambda a, y: -jnp.take_along_axis(lsm(a), y[:, None], -1)[:, 0],
        }
    elif divergence == "soft_ce":
        out = {
            "jaxdiv cross_entropy_with_logits": jaxdiv.cross_entropy_with_logits,
            "optax softmax_cross_entropy": lambda p, b: optax.losses.softmax_cross_entropy(b, p),
            "log_softmax by hand": lambda p, b: -jnp.sum(p * lsm(b), -1),
        }
    else:
        raise ValueError(f"unknown divergence {divergence!r}; expected one of {DIVERGENCES}")
    return out


def _js_by_hand(a, b):
    la, lb = jax.nn.log_softmax(a), jax.nn.log_softmax(b)
    lm = jnp.logaddexp(la, lb) - jnp.log(2.0)
    return 0.5 * jnp.sum(jnp.exp(la) * (la - lm) + jnp.exp(lb) * (lb - lm), -1)


def inputs(divergence: str, rows: int, vocab: int, seed: int = 0):
    """The two arguments, float32 (integer labels for ``labels``, probabilities for ``soft_ce``)."""
    rng = np.random.default_rng(seed)
    a = jnp.asarray(rng.normal(size=(rows, vocab)) * 2, jnp.float32)
    b = jnp.asarray(rng.normal(size=(rows, vocab)) * 2, jnp.float32)
    if divergence == "labels":
        return a, jnp.asarray(rng.integers(0, vocab, size=rows), jnp.int32)
    if divergence == "soft_ce":
        return jax.nn.softmax(a, axis=-1), b
    return a, b


def _losses(fns: dict, mode: str, divergence: str) -> dict:
    argnums = 0 if divergence == "labels" else (0, 1)
    out = {}
    for name, fn in fns.items():
        loss = lambda x, y, fn=fn: jnp.mean(fn(x, y))  # noqa: E731
        out[name] = loss if mode == "forward" else jax.value_and_grad(loss, argnums=argnums)
    return out


def first_call_seconds(fn, *args) -> float:
    """Trace, compile and first run of a fresh ``jax.jit(fn)``."""
    start = time.perf_counter()
    jax.block_until_ready(jax.jit(fn)(*args))
    return time.perf_counter() - start


def bench(divergence: str, rows: int, vocab: int, repeats: int) -> dict:
    fns = methods(divergence)
    x, y = inputs(divergence, rows, vocab)
    ours = next(iter(fns))
    reference = np.asarray(jax.jit(fns[ours])(x, y))
    for name, fn in fns.items():
        got = np.asarray(jax.jit(fn)(x, y))
        if not np.allclose(got, reference, rtol=1e-4, atol=1e-5):
            raise RuntimeError(
                f"{name} disagrees with {ours} on {divergence} [{rows}, {vocab}] "
                f"(largest difference {np.max(np.abs(got - reference)):.3g})"
            )
    result = {"rows": rows, "vocab": vocab, "divergence": divergence, "ours": ours}
    for mode in ("forward", "value_and_grad"):
        losses = _losses(fns, mode, divergence)
        first = {name: first_call_seconds(f, x, y) for name, f in losses.items()}
        timed = interleaved_medians(
            {k: jax.jit(f) for k, f in losses.items()}, x, y, repeats=repeats
        )
        fastest = min(v for k, v in timed.items() if k != ours)
        result[mode] = {
            "median_s": timed,
            "first_call_s": first,
            "ratio": timed[ours] / fastest,
            "first_call_ratio": first[ours] / min(v for k, v in first.items() if k != ours),
        }
    return result


def markdown(results: list[dict], header: str) -> str:
    lines = [
        header,
        "",
        "Ratio: jaxdiv's median time over the fastest peer's (below 1: jaxdiv is faster). "
        "First call: trace, compile and run of a fresh `jax.jit`, jaxdiv over the fastest peer.",
        "",
        "| divergence | rows × vocab | forward | value and grad | jaxdiv forward | "
        "jaxdiv value and grad | first call (fwd / grad) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        f, g = r["forward"], r["value_and_grad"]
        lines.append(
            f"| {r['divergence']} | {r['rows']:,} × {r['vocab']:,} | {f['ratio']:.2f} | "
            f"{g['ratio']:.2f} | {f['median_s'][r['ours']] * 1e3:.3f} ms | "
            f"{g['median_s'][r['ours']] * 1e3:.3f} ms | "
            f"{f['first_call_ratio']:.2f} / {g['first_call_ratio']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def _shape(text: str) -> tuple[int, int]:
    try:
        rows, vocab = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected ROWSxVOCAB (like 64x32768), got {text!r}"
        ) from None
    if rows < 1 or vocab < 1:
        raise argparse.ArgumentTypeError(f"rows and vocab must be >= 1, got {text!r}")
    return rows, vocab


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--divergence", nargs="+", choices=DIVERGENCES, default=list(DIVERGENCES))
    parser.add_argument(
        "--shapes", nargs="+", type=_shape, default=list(SHAPES), metavar="ROWSxVOCAB"
    )
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--cores", type=int, default=0, help="CPUs to use (0 = all)")
    parser.add_argument("--allocator", choices=["steady", "default"], default="steady")
    parser.add_argument("--out", default="results/benchmarks/sweep.json")
    parser.add_argument("--markdown", help="the table's path (default: --out with .md)")
    args = parser.parse_args(argv)
    args.markdown = args.markdown or os.path.splitext(args.out)[0] + ".md"
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.allocator == "steady":
        steady_allocator("benchmarks.sweep", sys.argv[1:] if argv is None else argv)
    pin_to_cores(args.cores or None)
    where = f"{machine()}; commit {commit()}; float32; median of {args.repeats}"
    print(where, flush=True)
    results = []
    for rows, vocab in args.shapes:
        for divergence in args.divergence:
            try:
                r = bench(divergence, rows, vocab, args.repeats)
            except RuntimeError as e:
                print(f"error: {e}", file=sys.stderr)
                return 1
            results.append(r)
            f, g = r["forward"], r["value_and_grad"]
            print(
                f"{divergence:8s} {rows:>9,} x {vocab:<8,} forward {f['ratio']:5.2f}  "
                f"value_and_grad {g['ratio']:5.2f}  first call "
                f"{f['first_call_ratio']:.2f} / {g['first_call_ratio']:.2f}",
                flush=True,
            )
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
