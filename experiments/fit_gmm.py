"""Fit Gaussian mixtures by forward KL, reverse KL or a Renyi divergence, with optax.

Usage::

    python -m experiments.fit_gmm demo           # the demo (make demo): all the figures
    python -m experiments.fit_gmm demo --steps 800
    python -m experiments.fit_gmm fit --target ring --components 8 --divergence reverse

``fit`` writes ``results/<run>/metrics.json`` (configuration, final parameters,
loss curves, and the true KL of the fit in both directions) and
``results/<run>/fit.png``; ``demo`` writes four figures and ``metrics.json``
to ``results/demo``. Without a command the usage is printed (exit status 2).

Exit statuses, each failure with one line on stderr and never a traceback:

* 2: a bad option: unknown, out of range, not applying to the chosen
  configuration (``--alpha`` without ``--divergence renyi`` or ``alpha``, ``--separation``
  without ``--target separated-1d``, ``--num-data`` without ``--divergence
  forward``, ``--num-samples`` with it), or a size that cannot fit in memory;
* 1: the fit diverged (every restart's loss became NaN or infinite; a
  restart that diverges is otherwise left out and listed in the metrics), or
  the machine ran out of memory or disk;
* 130: interrupted.

metrics.json is strict JSON: a non-finite number is written as null and
listed, with what it was, under ``non_finite_values``; ``status`` is
``"converged"`` or ``"diverged"``. Files are written atomically, so an
interrupted run leaves no half-written file.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import numpy as np

from experiments._io import check_writable, write_json

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``fit_gmm: error: ...`` and exit status 2."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"fit_gmm: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    from experiments import gmm

    top = _Parser(prog="python -m experiments.fit_gmm", description=__doc__.split("\n")[0])
    sub = top.add_subparsers(dest="command", parser_class=_Parser)
    fit = sub.add_parser("fit", help="one configuration: metrics.json and a figure")
    fit.add_argument("--target", choices=gmm.TARGETS, default="separated-1d")
    defaults = gmm.FitConfig()
    fit.add_argument(
        "--separation",
        type=float,
        default=None,
        help=f"d for separated-1d only (default {defaults.separation})",
    )
    fit.add_argument("--components", type=int, default=1, help="K, components of the model")
    fit.add_argument("--divergence", default="reverse", help=f"one of {gmm.DIVERGENCES}")
    fit.add_argument(
        "--alpha",
        type=float,
        default=None,
        help=f"order > 0, for --divergence renyi or alpha only (default {defaults.alpha})",
    )
    fit.add_argument("--optimizer", default="adam", help=f"one of {gmm.OPTIMIZERS}")
    fit.add_argument("--learning-rate", type=float, default=0.05)
    fit.add_argument("--steps", type=int, default=1500)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--restarts", type=int, default=4, help="random initialisations")
    fit.add_argument(
        "--num-samples",
        type=int,
        default=None,
        help=f"draws per component per step, reverse, renyi and alpha only (default "
        f"{defaults.num_samples})",
    )
    fit.add_argument(
        "--num-data",
        type=int,
        default=None,
        help=f"target samples, forward only (default {defaults.num_data})",
    )
    fit.add_argument("--out", default=None, help="output folder (default results/<run name>)")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    demo = sub.add_parser("demo", help="the figures of make demo")
    demo.add_argument("--steps", type=int, default=1500)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--out", default=os.path.join("results", "demo"))
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    return top


def _progress(quiet: bool):
    """A callback that names each fit as it starts, on stderr when it is a terminal."""
    if quiet or not sys.stderr.isatty():
        return lambda label: None

    def show(label: str) -> None:
        print(f"fitting {label} ...", file=sys.stderr, flush=True)

    return show


def run_name(config) -> str:
    name = f"{config.target}_K{config.components}_{config.divergence}"
    if config.divergence in ("renyi", "alpha"):
        name += f"{config.alpha:g}"
    if config.target == "separated-1d":
        name += f"_d{config.separation:g}"
    return f"{name}_seed{config.seed}"


# Options that apply to some configurations only: (option, field, applies, to what).
_CONDITIONAL = (
    (
        "--alpha",
        "alpha",
        lambda a: a.divergence in ("renyi", "alpha"),
        "--divergence renyi or alpha",
    ),
    ("--separation", "separation", lambda a: a.target == "separated-1d", "--target separated-1d"),
    ("--num-data", "num_data", lambda a: a.divergence == "forward", "--divergence forward"),
    (
        "--num-samples",
        "num_samples",
        lambda a: a.divergence in ("reverse", "renyi", "alpha"),
        "--divergence reverse, renyi or alpha",
    ),
)


def _human_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}" if unit != "bytes" else f"{int(n)} bytes"
        n /= 1024
    return f"{n:.3g} EiB"


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def fit_config(args):
    """The :class:`gmm.FitConfig` of ``fit``'s options; a :class:`_UsageError` names what is
    wrong: a value out of range, an option that does not apply, a size beyond memory."""
    from experiments import gmm

    for option, field, applies, where in _CONDITIONAL:
        if getattr(args, field) is not None and not applies(args):
            raise _UsageError(
                f"{option} applies only to {where} (got --divergence {args.divergence}, "
                f"--target {args.target}); leave it out"
            )
    fields = {f.name for f in dataclasses.fields(gmm.FitConfig)}
    given = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    config = gmm.FitConfig(**given)
    problem = config.validate()
    if problem is not None:
        raise _UsageError(problem)
    _check_memory(config)
    return config


def _check_memory(config) -> None:
    need, what = config.memory_bytes()
    have = _physical_memory()
    if have is not None and need > have:
        raise _UsageError(
            f"this configuration needs about {_human_bytes(need)} of memory ({what}) and the "
            f"machine has {_human_bytes(have)}; lower those sizes"
        )


def run_fit(args) -> dict:
    from experiments import figures, gmm

    config = fit_config(args)
    out = args.out or os.path.join("results", run_name(config))
    _check_out(out)
    target = gmm.make_target(config.target, config.separation)
    _progress(args.quiet)(run_name(config))
    start = time.perf_counter()
    result = gmm.fit(config, target)
    seconds = time.perf_counter() - start
    diverged_mask = np.asarray(result.diverged)
    diverged = [int(i) for i in np.flatnonzero(diverged_mask)]
    losses, final = np.asarray(result.losses), np.asarray(result.final_loss)
    if np.all(diverged_mask):
        step = int(np.min(np.asarray(result.num_steps)))  # a diverged fit stops at that step
        reason = (
            f"the loss of every restart became non-finite (first at step {step} of "
            f"{config.steps}); lower --learning-rate (got {config.learning_rate:g})"
        )
        metrics = {
            "status": "diverged",
            "reason": reason,
            "config": dataclasses.asdict(config),
            "diverged_restarts": diverged,
            "final_objective": final,
            "loss_curves": losses,
            "seconds": seconds,
        }
        write_json(os.path.join(out, "metrics.json"), metrics)
        raise _FitFailed(f"the fit diverged: {reason}; wrote {out}/metrics.json")
    best = int(result.best_restart())
    chosen = result.restart(best)
    fwd, rev = float(chosen.forward_kl), float(chosen.reverse_kl)
    method = gmm.kl_method_label(result)
    metrics = {
        "status": "converged",
        "config": dataclasses.asdict(config),
        "diverged_restarts": diverged,
        "best_restart": best,
        "final_objective": final,
        "final_parameters": gmm.describe(chosen.model),
        "loss_curve": losses[best],
        "true_kl": {
            "forward_kl_target_to_fit": fwd,
            "reverse_kl_fit_to_target": rev,
            "forward_method": method,
            "reverse_method": method,
        },
        "seconds": seconds,
    }
    title = f"{config.divergence} fit, K={config.components}"
    fig = figures.fit_figure(target, chosen.model, losses, title)
    figures.save(fig, os.path.join(out, "fit.png"))
    write_json(os.path.join(out, "metrics.json"), metrics)
    print(f"{run_name(config)}: best of {config.restarts} restarts, {seconds:.1f} s")
    print(f"  {'KL(target || fit)':<24} {fwd:10.5f} nats ({method})")
    print(f"  {'KL(fit || target)':<24} {rev:10.5f} nats ({method})")
    print(f"  {'objective per restart':<24} " + " ".join(f"{v:.5f}" for v in final))
    if diverged:
        print(f"  restarts {diverged} diverged (non-finite loss) and were left out")
    print(f"  wrote {out}/metrics.json and fit.png")
    return metrics


def run_demo(args) -> dict:
    from experiments import demo, figures, gmm

    # The demo's largest fit (8 components on the ring), checked like a fit's options.
    largest = gmm.FitConfig(target="ring", components=8, steps=args.steps, seed=args.seed)
    problem = largest.validate()
    if problem is not None:
        raise _UsageError(problem)
    _check_memory(largest)
    _check_out(args.out)
    progress = _progress(args.quiet)
    start = time.perf_counter()
    sep = demo.separation_study(steps=args.steps, seed=args.seed, progress=progress)
    text = demo.textbook_study(steps=args.steps, seed=args.seed, progress=progress)
    alpha = demo.alpha_study(steps=args.steps, seed=args.seed, progress=progress)
    mix = demo.mixture_study(steps=args.steps, seed=args.seed, progress=progress)
    crit = sep.critical
    figures.save(figures.separations(sep.rows, crit), os.path.join(args.out, "separations.png"))
    figures.save(
        figures.textbook_2d(text.target, text.fits), os.path.join(args.out, "textbook_2d.png")
    )
    figures.save(
        figures.alpha_sweep(alpha.target, alpha.rows),
        os.path.join(args.out, "renyi_alpha_sweep.png"),
    )
    figures.save(figures.mixture_fits(mix), os.path.join(args.out, "mixture_fits.png"))

    print("Single Gaussian fitted to N(-d/2,1)/2 + N(d/2,1)/2 (optax vs exact optimum)")
    print(
        f"  {'d':>4} {'start':>13} {'reverse mean':>13} {'std':>7} {'scipy mean':>11} "
        f"{'std':>7} {'rel.err':>8}"
    )
    for row in sep.rows:
        for fit in row.reverse:
            init = f"({fit.init[0]:+.1f}, {fit.init[1]:.1f})"
            print(
                f"  {row.separation:>4g} {init:>13} {fit.mean:>13.4f} {fit.std:>7.4f} "
                f"{fit.scipy_mean:>11.4f} {fit.scipy_std:>7.4f} {fit.relative_error:>8.2%}"
            )
        fm, fs = row.forward
        mm, ms = row.moment_match
        print(
            f"  {row.separation:>4g} {'forward':>13} {fm:>13.4f} {fs:>7.4f} {mm:>11.4f} "
            f"{ms:>7.4f} {row.forward_relative_error:>8.2%}  (optimum: the moments)"
        )
    print(
        f"Critical separation: reverse KL has mode-seeking local optima only for d > "
        f"{crit.local:.2f}; they have lower KL than the centred fit for d > {crit.best:.2f}."
    )
    print("The centred fit stays a local optimum at every d tried (curvature in the mean > 0).")
    print("\n2-D textbook target: KL of each fit (Monte Carlo)")
    for row in text.kl:
        print(f"  {row.fit:<34} KL(p||q) {row.forward_kl:.4f}  KL(q||p) {row.reverse_kl:.4f}")
    print("\nRenyi alpha sweep at d = 6, started on a mode")
    for r in alpha.rows:
        print(
            f"  alpha {r.alpha:>4g}: mean {r.mean:+.4f} std {r.std:.4f}   "
            f"scipy mean {r.scipy_mean:+.4f} std {r.scipy_std:.4f} ({r.relative_error:.2%})"
        )
    print("\nK-component fits (true KL in nats)")
    for p in mix:
        print(
            f"  {p.name:<9} K={p.components} {p.divergence:<8} "
            f"KL(p||q) {p.forward_kl:.4f}  KL(q||p) {p.reverse_kl:.4f}"
        )
    metrics = {
        "critical_separation": demo.to_json(crit),
        "separations": [demo.to_json(row) for row in sep.rows],
        "textbook_2d": [demo.to_json(row) for row in text.kl],
        "renyi_alpha_sweep": [demo.to_json(row) for row in alpha.rows],
        "mixture_fits": [{k: v for k, v in demo.to_json(p).items() if k != "title"} for p in mix],
        "steps": args.steps,
        "seed": args.seed,
        "seconds": time.perf_counter() - start,
    }
    write_json(os.path.join(args.out, "metrics.json"), metrics)
    print(
        f"\nwrote {args.out}/: separations.png textbook_2d.png renyi_alpha_sweep.png "
        f"mixture_fits.png metrics.json ({metrics['seconds']:.0f} s)"
    )
    return metrics


class _UsageError(Exception):
    """A bad configuration: reported in one line with exit status 2."""


class _FitFailed(Exception):
    """A run that could not finish (divergence, memory, disk): one line, exit status 1."""


def _resource_error(e: BaseException) -> str | None:
    """A one-line description of ``e`` if it is the machine running out of something."""
    import jax

    if isinstance(e, MemoryError):
        return "out of memory"
    if isinstance(e, jax.errors.JaxRuntimeError) and "RESOURCE_EXHAUSTED" in str(e):
        first = str(e).strip().splitlines()[0]
        return f"out of memory ({first})"
    if isinstance(e, OSError) and e.errno is not None:
        return f"cannot write the results: {e.strerror or e}"
    return None


def _check_out(folder: str) -> None:
    try:
        check_writable(folder)
    except OSError as e:
        raise _UsageError(f"cannot write to output folder {folder!r}: {e.strerror or e}") from None


def main(argv: list[str] | None = None) -> int:
    import jax
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    # The exact optima and the quadratures the fits are checked against need float64;
    # switched on for this program only (importing a module never does).
    jax.config.update("jax_enable_x64", True)
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        (run_fit if args.command == "fit" else run_demo)(args)
    except _UsageError as e:
        print(f"fit_gmm: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except _FitFailed as e:
        print(f"fit_gmm: error: {e}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("fit_gmm: interrupted; no partial files were written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:  # a resource running out is reported in one line; bugs raise
        problem = _resource_error(e)
        if problem is None:
            raise
        print(f"fit_gmm: error: {problem}; no partial files were written", file=sys.stderr)
        return EXIT_FAILURE
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=4, suppress=True)
    sys.exit(main())
