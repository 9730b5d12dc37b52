"""Full-covariance multivariate Normal KL: jaxdiv against TensorFlow Probability (JAX substrate).

4096 pairs in dimension 32, float32, on the default JAX device. Both libraries
get the same (loc, scale_tril) inputs. Two settings are timed:

* "prebuilt": each library's distribution objects are built outside the timed
  function (jaxdiv holds natural parameters, TFP holds loc and scale_tril), and
  the gradient is taken with respect to those parameters;
* "end to end": the timed function builds both distributions from
  (loc, scale_tril) and the gradient is with respect to loc and scale_tril.

Run: python -m benchmarks.mvn_kl [--batch 4096] [--dim 32] [--cores N]. TFP is
optional (pip install tfp-nightly); without it only jaxdiv's times are printed.

On CPU with more than one core TFP is left out: its KL calls jaxlib's batched
LAPACK kernels, which deadlock XLA's thread pool in jaxlib 0.10.2 when several
run at once (docs/known_issues.md), so the timed function would never return.
``--cores 1`` times both libraries, pinned to one core, where that cannot
happen. jaxdiv's Gaussians use no LAPACK call and run on every core.
"""

from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._timing import cores, machine, median_seconds, pin_to_cores, print_table
from experiments._io import write_json
from jaxdiv import expfam


def _inputs(batch: int, dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)

    def tril():
        a = rng.normal(size=(batch, dim, dim)) / np.sqrt(dim)
        cov = a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(dim)
        return np.linalg.cholesky(cov).astype(np.float32)

    locs = [rng.normal(size=(batch, dim)).astype(np.float32) for _ in range(2)]
    return locs[0], tril(), locs[1], tril()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out", default="results/benchmarks/mvn_kl.json")
    parser.add_argument(
        "--cores",
        type=int,
        default=0,
        help="CPUs to use (0 = all); TFP is timed only with 1 on CPU (see the module docstring)",
    )
    args = parser.parse_args(argv)
    pin_to_cores(args.cores or None)
    if args.batch < 1 or args.dim < 1 or args.repeats < 1:
        print("error: --batch, --dim and --repeats must be >= 1", file=sys.stderr)
        return 2

    m1, l1, m2, l2 = (jnp.asarray(x) for x in _inputs(args.batch, args.dim))
    p = expfam.MultivariateNormal.from_mean_scale_tril(m1, l1)
    q = expfam.MultivariateNormal.from_mean_scale_tril(m2, l2)

    def ours_e2e(m1, l1, m2, l2):
        a = expfam.MultivariateNormal.from_mean_scale_tril(m1, l1)
        b = expfam.MultivariateNormal.from_mean_scale_tril(m2, l2)
        return jnp.sum(expfam.kl_divergence(a, b))

    cases = {
        "prebuilt": {
            "jaxdiv": (lambda a, b: jnp.sum(expfam.kl_divergence(a, b)), (p, q)),
        },
        "end to end": {"jaxdiv": (ours_e2e, (m1, l1, m2, l2))},
    }
    try:
        from tensorflow_probability.substrates import jax as tfp
    except ImportError:
        tfp = None
        print("TensorFlow Probability is not installed (pip install tfp-nightly): jaxdiv only.")
    if tfp is not None and jax.default_backend() == "cpu" and cores() > 1:
        tfp = None
        print(
            f"TensorFlow Probability left out on {cores()} CPU cores: its KL deadlocks jaxlib "
            "0.10.2's thread pool (docs/known_issues.md); --cores 1 times it: jaxdiv only."
        )
    if tfp is not None:
        tfd = tfp.distributions
        tp = tfd.MultivariateNormalTriL(m1, l1)
        tq = tfd.MultivariateNormalTriL(m2, l2)

        def tfp_prebuilt(a, b):
            return jnp.sum(tfd.kl_divergence(a, b))

        def tfp_e2e(m1, l1, m2, l2):
            a, b = tfd.MultivariateNormalTriL(m1, l1), tfd.MultivariateNormalTriL(m2, l2)
            return jnp.sum(tfd.kl_divergence(a, b))

        cases["prebuilt"]["tfp"] = (tfp_prebuilt, (tp, tq))
        cases["end to end"]["tfp"] = (tfp_e2e, (m1, l1, m2, l2))
        ours = float(ours_e2e(m1, l1, m2, l2))
        theirs = float(tfp_e2e(m1, l1, m2, l2))
        rel = abs(ours / theirs - 1)
        print(f"sum of KLs: jaxdiv {ours:.6g}, tfp {theirs:.6g} (relative difference {rel:.1e})")

    print(f"machine: {machine()}")
    print(f"{args.batch} pairs, dimension {args.dim}, float32, median of {args.repeats}")
    results = {"machine": machine(), "batch": args.batch, "dim": args.dim, "timings": {}}
    for setting, impls in cases.items():
        for mode in ("forward", "value_and_grad"):
            rows, timed = [], {}
            for name, (fn, inputs) in impls.items():
                if mode == "value_and_grad":
                    fn = jax.value_and_grad(fn, argnums=tuple(range(len(inputs))))
                timed[name] = median_seconds(jax.jit(fn), *inputs, repeats=args.repeats)
            base = timed.get("tfp")
            for name, seconds in timed.items():
                rows.append((name, seconds, None if base is None else seconds / base))
            print_table(f"{setting}, {mode} (ratio: time / tfp time)", rows)
            results["timings"][f"{setting}/{mode}"] = timed
    write_json(args.out, results)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
