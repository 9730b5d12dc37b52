"""Fused-linear cross-entropy with integer labels against optax's unfused loss: time and memory.

For each `tokens x vocab` shape (hidden size 256 by default), the value and
gradient with respect to the hidden states and the output weight of

* `optax.softmax_cross_entropy_with_integer_labels(hidden @ weight, labels).mean()`
  under `jax.jit` (the unfused loss, which forms the `[tokens, vocab]` logits);
* `jaxdiv.lm.fused_linear_cross_entropy(hidden, weight, labels)` (the mean);
* the same with `return_stats=True`, its log-probabilities in the loss (the
  policy-gradient form: one more matrix product per chunk in the backward pass).

Times are interleaved medians in one process on the same inputs; memory is the
compiled programs' `temp_size_in_bytes`. Every gradient is checked against the
unfused one before timing.

Run: python -m benchmarks.lm_cross_entropy [--shapes 4096x32768 ...] [--dtype float32]
"""

from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks._timing import commit, interleaved_medians, machine, pin_to_cores
from experiments._io import atomic_write, write_json
from jaxdiv import lm

SHAPES = ((4096, 32768), (1024, 131072), (8192, 8192))


def _shape(text: str) -> tuple[int, int]:
    try:
        tokens, vocab = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected TOKENSxVOCAB, got {text!r}") from None
    if tokens < 1 or vocab < 1:
        raise argparse.ArgumentTypeError(f"tokens and vocab must be >= 1, got {text!r}")
    return tokens, vocab


def _methods(labels):
    def unfused(h, w):
        logits = jnp.matmul(h, w, preferred_element_type=jnp.float32)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    def fused(h, w):
        return lm.fused_linear_cross_entropy(h, w, labels)

    def fused_stats(h, w):
        _, stats = lm.fused_linear_cross_entropy(h, w, labels, return_stats=True)
        return -stats.logprob.mean()

    return {
        "optax, unfused": unfused,
        "jaxdiv fused": fused,
        "jaxdiv fused, with stats": fused_stats,
    }


def measure(tokens: int, vocab: int, hidden: int, dtype, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    h = jnp.asarray(rng.normal(size=(tokens, hidden)), dtype)
    w = jnp.asarray(rng.normal(size=(hidden, vocab)) / np.sqrt(hidden), dtype)
    labels = jnp.asarray(rng.integers(0, vocab, size=tokens), jnp.int32)
    compiled, memory = {}, {}
    for name, fn in _methods(labels).items():
        exe = jax.jit(jax.value_and_grad(fn, argnums=(0, 1))).lower(h, w).compile()
        compiled[name] = exe
        memory[name] = exe.memory_analysis().temp_size_in_bytes
    outputs = {name: exe(h, w) for name, exe in compiled.items()}
    ref_value, ref_grads = outputs["optax, unfused"]
    errors = {}
    for name, (value, grads) in outputs.items():
        rel = [
            float(jnp.max(jnp.abs(a.astype(jnp.float32) - b.astype(jnp.float32))))
            / max(float(jnp.max(jnp.abs(b.astype(jnp.float32)))), 1e-30)
            for a, b in zip(grads, ref_grads, strict=True)
        ]
        errors[name] = max([*rel, abs(float(value) - float(ref_value)) / abs(float(ref_value))])
    seconds = interleaved_medians(compiled, h, w, repeats=repeats, warmup=1)
    return {
        "tokens": tokens,
        "vocab": vocab,
        "hidden": hidden,
        "dtype": jnp.dtype(dtype).name,
        "seconds": seconds,
        "temp_bytes": memory,
        "max_relative_error": errors,
    }


def markdown(results: list[dict], header: str) -> str:
    base = "optax, unfused"
    lines = [
        header,
        "",
        "Value and gradient with respect to the hidden states and the weight. Ratios: jaxdiv "
        "over optax's unfused loss (below 1: jaxdiv is faster or smaller).",
        "",
        "| tokens × vocab | dtype | optax | fused | ratio | fused with stats | ratio "
        "| memory: optax | fused | with stats |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        t, m = r["seconds"], r["temp_bytes"]
        unfused_bytes = max(m[base], 1)
        fused, stats = t["jaxdiv fused"], t["jaxdiv fused, with stats"]
        lines.append(
            f"| {r['tokens']:,} × {r['vocab']:,} | {r['dtype']} | {t[base] * 1e3:.0f} ms "
            f"| {fused * 1e3:.0f} ms | {fused / t[base]:.2f} | {stats * 1e3:.0f} ms "
            f"| {stats / t[base]:.2f} | {m[base] / 2**20:,.0f} MiB "
            f"| {m['jaxdiv fused'] / unfused_bytes:.3f} "
            f"| {m['jaxdiv fused, with stats'] / unfused_bytes:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shapes", nargs="+", type=_shape, default=list(SHAPES), metavar="TOKENSxVOCAB"
    )
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cores", type=int, default=0, help="CPUs to use (0 = all)")
    parser.add_argument("--out", default="results/benchmarks/lm_cross_entropy.json")
    parser.add_argument("--markdown", help="the table's path (default: --out with .md)")
    args = parser.parse_args(argv)
    if args.hidden < 1 or args.repeats < 1:
        print("error: --hidden and --repeats must be >= 1", file=sys.stderr)
        return 2
    args.markdown = args.markdown or args.out.rsplit(".", 1)[0] + ".md"
    pin_to_cores(args.cores or None)
    where = f"{machine()}; commit {commit()}; median of {args.repeats}"
    print(f"machine: {where}")
    results = []
    for tokens, vocab in args.shapes:
        r = measure(tokens, vocab, args.hidden, jnp.dtype(args.dtype), args.repeats)
        results.append(r)
        base = r["seconds"]["optax, unfused"]
        print(f"\n{tokens} tokens x {vocab} vocabulary, hidden {args.hidden}, {args.dtype}")
        for name, s in r["seconds"].items():
            mem = r["temp_bytes"][name] / 2**20
            err = r["max_relative_error"][name]
            print(
                f"  {name:<28} median {s * 1e3:9.1f} ms {s / base:6.2f}   {mem:9.1f} MiB"
                f"   max rel. difference {err:.1e}"
            )
    write_json(args.out, {"machine": machine(), "commit": commit(), "results": results})
    table = markdown(results, f"Measured on {where}.")

    def write(path: str) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(table)

    atomic_write(args.markdown, write)
    print(f"\nwrote {args.out} and {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
