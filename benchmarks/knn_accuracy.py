"""Bias and spread of the sample-based estimators of jaxdiv.samples against n (the guide's table).

For each estimator and a case whose value is known in closed form (or by
quadrature), R independent samples of size n are drawn (float64, seeded) and
estimated in one batched call; the table gives the mean error (bias) and the
standard deviation over the replicates (spread) for each n. The estimators'
defaults are used (k = 3 for entropy and mutual information, k = 1 for KL,
the default spacing window).

Run: python -m benchmarks.knn_accuracy [--sizes 100 1000 10000] [--replicates 20]
     [--markdown benchmarks/tables/samples_accuracy.md]
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

import jaxdiv.samples as js  # noqa: E402
from experiments._io import atomic_write  # noqa: E402

LOG_2PI_E = math.log(2 * math.pi * math.e)


def _mixture_mi(mu: float) -> float:
    """I(X; Y) for Y uniform on {0, 1} and X | Y ~ N(±mu, 1), by quadrature."""
    grid = np.linspace(-mu - 12, mu + 12, 400_001)
    phi = np.exp(-0.5 * (grid[:, None] - np.array([-mu, mu])) ** 2) / math.sqrt(2 * math.pi)
    mix = phi.mean(axis=1)
    return float(-np.trapezoid(mix * np.log(mix), grid) - 0.5 * LOG_2PI_E)


def _gaussian_pair(rng, shape, rho):
    x = rng.normal(size=shape)
    return x, rho * x + math.sqrt(1 - rho**2) * rng.normal(size=shape)


def cases() -> list[tuple[str, str, float, Callable]]:
    """``(estimator, case, truth, f(rng, R, n) -> R estimates)``."""

    def entropy(d):
        return lambda rng, r, n: js.entropy_knn(rng.normal(size=(r, n, d)))

    def ksg(rho):
        return lambda rng, r, n: js.mutual_information_ksg(*_gaussian_pair(rng, (r, n, 1), rho))

    def kl(d):
        return lambda rng, r, n: js.kl_divergence_knn(
            rng.normal(size=(r, n, d)), 0.7 + 1.5 * rng.normal(size=(r, n, d))
        )

    def mixed(rng, r, n):
        labels = rng.integers(0, 2, size=(r, n))
        x = np.where(labels == 1, 1.0, -1.0) + rng.normal(size=(r, n))
        return js.mutual_information_mixed(x[..., None], labels)

    def spacings(method):
        return lambda rng, r, n: js.entropy_spacings(rng.normal(size=(r, n)), method=method)

    kl_truth = lambda d: d * (math.log(1.5) + (1 + 0.7**2) / (2 * 1.5**2) - 0.5)  # noqa: E731
    return [
        ("entropy_knn", "N(0, I), d = 1", 0.5 * LOG_2PI_E, entropy(1)),
        ("entropy_knn", "N(0, I), d = 2", LOG_2PI_E, entropy(2)),
        ("entropy_knn", "N(0, I), d = 10", 5 * LOG_2PI_E, entropy(10)),
        ("kl_divergence_knn", "N(0, I) ‖ N(0.7, 1.5² I), d = 1", kl_truth(1), kl(1)),
        ("kl_divergence_knn", "N(0, I) ‖ N(0.7, 1.5² I), d = 3", kl_truth(3), kl(3)),
        ("mutual_information_ksg", "Gaussian, ρ = 0.6", -0.5 * math.log(1 - 0.36), ksg(0.6)),
        ("mutual_information_ksg", "Gaussian, ρ = 0.9", -0.5 * math.log(1 - 0.81), ksg(0.9)),
        ("mutual_information_ksg", "Gaussian, ρ = 0.99", -0.5 * math.log(1 - 0.99**2), ksg(0.99)),
        ("mutual_information_mixed", "two labels, N(±1, 1)", _mixture_mi(1.0), mixed),
        ("entropy_spacings vasicek", "N(0, 1)", 0.5 * LOG_2PI_E, spacings("vasicek")),
        ("entropy_spacings van_es", "N(0, 1)", 0.5 * LOG_2PI_E, spacings("van_es")),
        ("entropy_spacings ebrahimi", "N(0, 1)", 0.5 * LOG_2PI_E, spacings("ebrahimi")),
        ("entropy_spacings correa", "N(0, 1)", 0.5 * LOG_2PI_E, spacings("correa")),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument("--replicates", type=int, default=20)
    parser.add_argument("--markdown", default="benchmarks/tables/samples_accuracy.md")
    args = parser.parse_args(argv)
    if min(args.sizes) < 20 or args.replicates < 2:
        parser.error("--sizes must be >= 20 and --replicates >= 2")
    lines = [
        f"Bias ± spread (mean error ± standard deviation over {args.replicates} replicates, "
        "in nats), float64, default settings; `python -m benchmarks.knn_accuracy`.",
        "",
        "| estimator | case | truth | " + " | ".join(f"n = {n:,}" for n in args.sizes) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in args.sizes) + " |",
    ]
    for i, (name, case, truth, estimate) in enumerate(cases()):
        cells = []
        for n in args.sizes:
            rng = np.random.default_rng([i, n])
            est = np.asarray(estimate(rng, args.replicates, n))
            cells.append(f"{est.mean() - truth:+.3f} ± {est.std(ddof=1):.3f}")
        lines.append(f"| `{name}` | {case} | {truth:.3f} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    table = "\n".join(lines) + "\n"

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(table)

    atomic_write(args.markdown, write)
    print(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
