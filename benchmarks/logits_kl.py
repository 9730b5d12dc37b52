"""KL divergence from logits over a large vocabulary: jaxdiv against optax, jax.scipy and TFP.

[64, 32768] float32 logits (the vocabulary of a small language model), on the
default JAX device, all measured in one process on the same inputs (in
alternating rounds), after checking that every method gives the same values (to 1e-5 relative).

Peers: ``optax.losses.kl_divergence_with_log_targets`` after
``jax.nn.log_softmax``; ``jax.scipy.special.rel_entr`` after ``jax.nn.softmax``;
TensorFlow Probability's ``Categorical`` KL (``pip install tfp-nightly``; skipped
with a message when absent).

Run: python -m benchmarks.logits_kl [--rows 64] [--vocab 32768]
"""

from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp
import numpy as np

import jaxdiv
from benchmarks._timing import (
    interleaved_medians,
    machine,
    pin_to_cores,
    print_table,
    write_json,
)


def _peers():
    import optax

    peers = {
        "optax kl_divergence_with_log_targets": lambda a, b: (
            optax.losses.kl_divergence_with_log_targets(
                jax.nn.log_softmax(b), jax.nn.log_softmax(a)
            )
        ),
        "jax.scipy rel_entr(softmax)": lambda a, b: jnp.sum(
            jax.scipy.special.rel_entr(jax.nn.softmax(a), jax.nn.softmax(b)), -1
        ),
    }
    try:
        from tensorflow_probability.substrates import jax as tfp
    except ImportError:
        print("TensorFlow Probability is not installed (pip install tfp-nightly): skipped.")
    else:
        tfd = tfp.distributions
        peers["tfp Categorical KL"] = lambda a, b: tfd.kl_divergence(
            tfd.Categorical(logits=a), tfd.Categorical(logits=b)
        )
    return peers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--vocab", type=int, default=32768)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--cores", type=int, default=0, help="CPUs to use (0 = all)")
    parser.add_argument("--out", default="results/benchmarks/logits_kl.json")
    args = parser.parse_args(argv)
    if min(args.rows, args.vocab, args.repeats) < 1:
        print("error: --rows, --vocab and --repeats must be >= 1", file=sys.stderr)
        return 2
    pin_to_cores(args.cores or None)

    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.normal(size=(args.rows, args.vocab)) * 2, jnp.float32)
    b = jnp.asarray(rng.normal(size=(args.rows, args.vocab)) * 2, jnp.float32)
    methods = {"jaxdiv kl_divergence_from_logits": jaxdiv.kl_divergence_from_logits, **_peers()}

    reference = np.asarray(jaxdiv.kl_divergence_from_logits(a, b))
    for name, fn in methods.items():
        got = np.asarray(jax.jit(fn)(a, b))
        if not np.allclose(got, reference, rtol=1e-5, atol=1e-6):
            print(f"error: {name} disagrees with jaxdiv (max diff {np.abs(got - reference).max()})")
            return 1
    print(f"all {len(methods)} methods agree to 1e-5")
    print(f"machine: {machine()}")
    print(f"[{args.rows}, {args.vocab}] float32 logits, median of {args.repeats}")

    results = {"machine": machine(), "shape": [args.rows, args.vocab], "timings": {}}
    for mode in ("forward", "value_and_grad"):
        compiled = {}
        for name, fn in methods.items():
            loss = lambda x, y, fn=fn: jnp.mean(fn(x, y))  # noqa: E731
            f = loss if mode == "forward" else jax.value_and_grad(loss, argnums=(0, 1))
            compiled[name] = jax.jit(f)
        timed = interleaved_medians(compiled, a, b, repeats=args.repeats)
        fastest_peer = min(v for k, v in timed.items() if not k.startswith("jaxdiv"))
        rows = [(k, v, v / fastest_peer) for k, v in timed.items()]
        print_table(f"{mode} (ratio: time / fastest peer's time)", rows)
        results["timings"][mode] = timed
    write_json(args.out, results)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
