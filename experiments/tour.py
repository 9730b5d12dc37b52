"""A short tour of coding costs: entropy, cross-entropy, KL and Jensen-Shannon.

Run with ``make demo`` (or ``python -m experiments.tour``). Every number is
computed by jaxdiv and printed in bits and nats side by side.
"""

from __future__ import annotations

import math
import sys

import jax.numpy as jnp

import jaxdiv


def _row(label: str, nats: float) -> str:
    return f"  {label:<44} {nats / math.log(2):>8.4f} bits {nats:>8.4f} nats"


def tour() -> str:
    """The tour's text; every value is computed here by jaxdiv."""
    p = jnp.array([0.5, 0.25, 0.125, 0.125])  # a source over {a, b, c, d}
    q = jnp.full(4, 0.25)  # the code built for a uniform source
    h_p = float(jaxdiv.entropy(p))
    h_pq = float(jaxdiv.cross_entropy(p, q))
    kl_pq = float(jaxdiv.kl_divergence(p, q))

    lines = [
        "jaxdiv tour: the cost of coding",
        "",
        "Source p = [1/2, 1/4, 1/8, 1/8] over {a, b, c, d}; code q built for a uniform source.",
        _row("entropy H(p): optimal mean code length", h_p),
        _row("cross-entropy H(p, q): length with q's code", h_pq),
        _row("KL(p || q) = H(p, q) - H(p): the extra cost", kl_pq),
        f"  check: H(p) + KL(p || q) - H(p, q) = {h_p + kl_pq - h_pq:.1e}",
        "",
        "KL is not symmetric: a biased coin b = [0.9, 0.1] against a fair coin f = [0.5, 0.5].",
    ]
    biased, fair = jnp.array([0.9, 0.1]), jnp.array([0.5, 0.5])
    lines += [
        _row("KL(b || f)", float(jaxdiv.kl_divergence(biased, fair))),
        _row("KL(f || b)", float(jaxdiv.kl_divergence(fair, biased))),
        "",
        "Disjoint supports: p = [0, 1], q = [1, 0].",
    ]
    a, b = jnp.array([0.0, 1.0]), jnp.array([1.0, 0.0])
    kl_ab = float(jaxdiv.kl_divergence(a, b))
    js_ab = float(jaxdiv.js_divergence(a, b))
    lines += [
        f"  KL(p || q) = {kl_ab}: q gives zero probability to an outcome p produces",
        _row("Jensen-Shannon JS(p, q): finite, at most 1 bit", js_ab),
        "",
        "From logits (huge and -inf entries are exact): a = [1e4, 0, -inf], b = [0, 1e4, 0].",
    ]
    la, lb = jnp.array([1e4, 0.0, -jnp.inf]), jnp.array([0.0, 1e4, 0.0])
    lines.append(
        _row("KL(softmax a || softmax b)", float(jaxdiv.kl_divergence_from_logits(la, lb)))
    )
    lines.append(_row("JS(softmax a, softmax b)", float(jaxdiv.js_divergence_from_logits(la, lb))))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m experiments.tour", description=(__doc__ or "").splitlines()[0]
    )
    parser.parse_args(argv)
    print(tour())
    return 0


if __name__ == "__main__":
    sys.exit(main())
