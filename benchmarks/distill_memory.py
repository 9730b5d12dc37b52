"""Fused-linear distillation loss against the unfused loss: compiled peak memory and time.

4096 tokens, vocabulary 32768, hidden size 256 (student and teacher), float32,
value and gradient with respect to the student's hidden states and weight.
The temporary memory comes from the compiled executables' memory analysis
(``temp_size_in_bytes``); times are medians measured in the same process.

Run: python -m benchmarks.distill_memory [--tokens 4096] [--vocab 32768] [--hidden 256]
"""

from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._timing import machine, median_seconds, pin_to_cores, print_table
from experiments._io import write_json
from jaxdiv import distill


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--vocab", type=int, default=32768)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--chunk-size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cores", type=int, default=0, help="CPUs to use (0 = all)")
    parser.add_argument("--out", default="results/benchmarks/distill_memory.json")
    args = parser.parse_args(argv)
    if min(args.tokens, args.vocab, args.hidden, args.chunk_size, args.repeats) < 1:
        print("error: every size must be >= 1", file=sys.stderr)
        return 2
    pin_to_cores(args.cores or None)

    rng = np.random.default_rng(0)
    scale = 1 / np.sqrt(args.hidden)

    def normal(*shape):
        return jnp.asarray(rng.normal(size=shape) * scale, jnp.float32)

    hs, ws = normal(args.tokens, args.hidden), normal(args.hidden, args.vocab)
    ht, wt = normal(args.tokens, args.hidden), normal(args.hidden, args.vocab)

    def fused(hs, ws):
        return distill.fused_linear_distillation_loss(hs, ws, ht, wt, chunk_size=args.chunk_size)

    def unfused(hs, ws):
        return distill.distillation_loss(hs @ ws, jax.lax.stop_gradient(ht @ wt))

    methods = {"fused_linear_distillation_loss": fused, "unfused distillation_loss": unfused}
    compiled, memory = {}, {}
    for name, fn in methods.items():
        exe = jax.jit(jax.value_and_grad(fn, argnums=(0, 1))).lower(hs, ws).compile()
        compiled[name] = exe
        memory[name] = exe.memory_analysis().temp_size_in_bytes

    (v_f, g_f), (v_u, g_u) = (compiled[k](hs, ws) for k in methods)
    errors = [
        float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b))) for a, b in zip(g_f, g_u, strict=True)
    ]
    print(
        f"loss: fused {float(v_f):.6f}, unfused {float(v_u):.6f}; "
        f"max relative gradient difference {max(errors):.1e}"
    )
    print(f"machine: {machine()}")
    print(
        f"{args.tokens} tokens, vocabulary {args.vocab}, hidden {args.hidden}, "
        f"chunk {args.chunk_size}, float32, value and gradient, median of {args.repeats}"
    )
    base_mem = memory["unfused distillation_loss"]
    print("\ncompiled temporary memory (ratio: / unfused)")
    for name, b in memory.items():
        print(f"  {name:<52} {b / 2**20:>9.1f} MiB {b / base_mem:8.3f}")
    timed = {
        name: median_seconds(exe, hs, ws, repeats=args.repeats) for name, exe in compiled.items()
    }
    base = timed["unfused distillation_loss"]
    print_table("time (ratio: / unfused)", [(k, v, v / base) for k, v in timed.items()])
    write_json(
        args.out,
        {"machine": machine(), "args": vars(args), "temp_bytes": memory, "seconds": timed},
    )
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
