"""KL, cross-entropy and Jensen-Shannon from logits over a large vocabulary, against the peers.

[64, 32768] float32 logits (the vocabulary of a small language model), on the
default JAX device, all measured in one process on the same inputs (in
alternating rounds), after checking that every method gives the same values
(to 1e-5 relative).

Peers, for KL(softmax a || softmax b): ``optax.losses.kl_divergence_with_log_targets``
after ``jax.nn.log_softmax``; ``jax.scipy.special.rel_entr`` after
``jax.nn.softmax``; TensorFlow Probability's ``Categorical`` KL. For the
cross-entropy H(softmax a, softmax b): ``optax.losses.softmax_cross_entropy``
with soft labels; ``-sum(softmax(a) * log_softmax(b))``; TFP's
``Categorical.cross_entropy``. For Jensen-Shannon (no library has it from
logits): ``rel_entr`` against the mixture, and TFP's ``Categorical`` KL to the
mixture. TFP comes from ``pip install tfp-nightly`` and is skipped with a
message when absent. PyTorch, when installed, is timed too (eager CPU
tensors, as many threads as cores): ``F.kl_div`` with log targets after
``log_softmax``, ``F.cross_entropy`` with soft targets, and ``F.kl_div`` to the
mixture; value and gradient there is ``torch.autograd.grad``.

By default the script re-executes itself with glibc's malloc thresholds fixed
(``--allocator steady``, see ``benchmarks._timing.steady_allocator``), so that
the order in which the methods first ran does not decide whose temporaries
page-fault; ``--allocator default`` measures the process as it comes, where
methods with large temporaries pay for fresh pages on most calls (as any
temporary above 32 MiB does under glibc's defaults).

Run: python -m benchmarks.logits_kl [--divergence kl ce js] [--rows 64] [--vocab 32768]
     [--cores N] [--allocator steady|default] [--skip-torch]
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

import jaxdiv
from benchmarks._timing import (
    cores,
    interleaved_medians,
    machine,
    pin_to_cores,
    print_table,
    softmax_mixture,
    steady_allocator,
    tfp_distributions,
)
from experiments._io import write_json


def _peers(divergence: str) -> dict:
    """The peers' implementations of one divergence, each ``f(a, b) -> [rows]``."""
    import optax

    rel_entr = jax.scipy.special.rel_entr
    if divergence == "kl":
        peers = {
            "optax kl_divergence_with_log_targets": lambda a, b: (
                optax.losses.kl_divergence_with_log_targets(
                    jax.nn.log_softmax(b), jax.nn.log_softmax(a)
                )
            ),
            "jax.scipy rel_entr(softmax)": lambda a, b: jnp.sum(
                rel_entr(jax.nn.softmax(a), jax.nn.softmax(b)), -1
            ),
        }
    elif divergence == "ce":
        peers = {
            "optax softmax_cross_entropy": lambda a, b: optax.losses.softmax_cross_entropy(
                b, jax.nn.softmax(a)
            ),
            "jax.nn -sum(softmax a * log_softmax b)": lambda a, b: (
                -jnp.sum(jax.nn.softmax(a) * jax.nn.log_softmax(b), -1)
            ),
        }
    else:
        peers = {
            "jax.scipy rel_entr to the mixture": lambda a, b: (
                0.5
                * jnp.sum(
                    rel_entr(jax.nn.softmax(a), softmax_mixture(a, b))
                    + rel_entr(jax.nn.softmax(b), softmax_mixture(a, b)),
                    -1,
                )
            ),
        }
    tfd = tfp_distributions()
    if tfd is not None:
        cat = tfd.Categorical
        if divergence == "kl":
            peers["tfp Categorical KL"] = lambda a, b: tfd.kl_divergence(
                cat(logits=a), cat(logits=b)
            )
        elif divergence == "ce":
            peers["tfp Categorical cross_entropy"] = lambda a, b: cat(logits=a).cross_entropy(
                cat(logits=b)
            )
        else:
            peers["tfp Categorical KL to the mixture"] = lambda a, b: (
                0.5
                * (
                    tfd.kl_divergence(cat(logits=a), cat(probs=softmax_mixture(a, b)))
                    + tfd.kl_divergence(cat(logits=b), cat(probs=softmax_mixture(a, b)))
                )
            )
    return peers


def _torch_peers(divergence: str, a, b) -> dict:
    """PyTorch's version as ``{name: (per_row, forward, value_and_grad)}``, {} without torch.

    ``per_row()`` gives the divergence of each row as a NumPy array. The
    timed functions take the JAX arrays only to share the harness's calling
    convention and ignore them: they run on tensors made once here, holding
    the same values. Torch's OpenMP threads are told to sleep when idle
    (``OMP_WAIT_POLICY=PASSIVE``, unless set already): by default they spin
    after each call and took the cores from the JAX calls that followed,
    slowing every JAX method by up to 1.8x on two cores.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        print("PyTorch is not installed (pip install torch): skipped.")
        return {}
    torch.set_num_threads(cores())
    ta = torch.from_numpy(np.array(a)).requires_grad_(True)
    tb = torch.from_numpy(np.array(b)).requires_grad_(True)

    def kl_to(log_m, x):  # KL(softmax x || m), per row
        return F.kl_div(log_m, F.log_softmax(x, -1), reduction="none", log_target=True).sum(-1)

    if divergence == "kl":
        name, fn = (
            "torch F.kl_div(log_target) after log_softmax",
            lambda: kl_to(F.log_softmax(tb, -1), ta),
        )
    elif divergence == "ce":
        name, fn = (
            "torch F.cross_entropy(soft targets)",
            lambda: F.cross_entropy(tb, F.softmax(ta, -1), reduction="none"),
        )
    else:

        def fn():
            log_m = torch.log(0.5 * (F.softmax(ta, -1) + F.softmax(tb, -1)))
            return 0.5 * (kl_to(log_m, ta) + kl_to(log_m, tb))

        name = "torch F.kl_div to the mixture"

    def forward(*_):
        with torch.no_grad():
            return fn().mean()

    def value_and_grad(*_):
        value = fn().mean()
        return value, torch.autograd.grad(value, (ta, tb))

    def per_row():
        with torch.no_grad():
            return fn().numpy()

    return {name: (per_row, forward, value_and_grad)}


OURS = {
    "kl": ("jaxdiv kl_divergence_from_logits", jaxdiv.kl_divergence_from_logits),
    "ce": ("jaxdiv cross_entropy_from_logits", jaxdiv.cross_entropy_from_logits),
    "js": ("jaxdiv js_divergence_from_logits", jaxdiv.js_divergence_from_logits),
}


def _bench(divergence: str, a, b, repeats: int, torch: bool = True) -> dict | None:
    """Checks agreement, then times forward and value-and-grad; None on disagreement."""
    name, ours = OURS[divergence]
    methods = {name: ours, **_peers(divergence)}
    torch_peers = _torch_peers(divergence, a, b) if torch else {}
    reference = np.asarray(ours(a, b))
    results = {peer: np.asarray(jax.jit(fn)(a, b)) for peer, fn in methods.items()}
    results.update({peer: fns[0]() for peer, fns in torch_peers.items()})
    for peer, got in results.items():
        if not np.allclose(got, reference, rtol=1e-5, atol=1e-6):
            print(f"error: {peer} disagrees with jaxdiv (max diff {np.abs(got - reference).max()})")
            return None
    print(f"\n{divergence}: all {len(results)} methods agree to 1e-5")
    timings = {}
    for mode in ("forward", "value_and_grad"):
        compiled = {}
        for peer, fn in methods.items():
            loss = lambda x, y, fn=fn: jnp.mean(fn(x, y))  # noqa: E731
            f = loss if mode == "forward" else jax.value_and_grad(loss, argnums=(0, 1))
            compiled[peer] = jax.jit(f)
        for peer, (_, forward, value_and_grad) in torch_peers.items():
            compiled[peer] = forward if mode == "forward" else value_and_grad
        timed = interleaved_medians(compiled, a, b, repeats=repeats)
        fastest_peer = min(v for k, v in timed.items() if not k.startswith("jaxdiv"))
        rows = [(k, v, v / fastest_peer) for k, v in timed.items()]
        print_table(f"{divergence} {mode} (ratio: time / fastest peer's time)", rows)
        timings[mode] = timed
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--divergence", nargs="+", choices=sorted(OURS), default=["kl", "ce", "js"])
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--vocab", type=int, default=32768)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--cores", type=int, default=0, help="CPUs to use (0 = all)")
    parser.add_argument("--allocator", choices=["steady", "default"], default="steady")
    parser.add_argument("--skip-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--out", default="results/benchmarks/logits_kl.json")
    args = parser.parse_args(argv)
    if min(args.rows, args.vocab, args.repeats) < 1:
        print("error: --rows, --vocab and --repeats must be >= 1", file=sys.stderr)
        return 2
    if args.allocator == "steady":
        steady_allocator("benchmarks.logits_kl", sys.argv[1:] if argv is None else argv)
    pin_to_cores(args.cores or None)

    rng = np.random.default_rng(0)
    a = jnp.asarray(rng.normal(size=(args.rows, args.vocab)) * 2, jnp.float32)
    b = jnp.asarray(rng.normal(size=(args.rows, args.vocab)) * 2, jnp.float32)
    print(f"machine: {machine()}")
    print(f"[{args.rows}, {args.vocab}] float32 logits, median of {args.repeats}")
    results = {"machine": machine(), "shape": [args.rows, args.vocab], "timings": {}}
    for divergence in args.divergence:
        timings = _bench(divergence, a, b, args.repeats, torch=not args.skip_torch)
        if timings is None:
            return 1
        results["timings"][divergence] = timings
    write_json(args.out, results)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
