"""The default experiments behind ``make demo``: what forward and reverse KL really do.

1. Single Gaussians fitted to ``N(-d/2, 1)/2 + N(d/2, 1)/2`` for several
   separations ``d`` and starting points, by forward KL (maximum likelihood)
   and reverse KL (reparameterised), each reverse fit checked against the
   scipy optimum from the same start; the critical separations past which
   reverse KL has (and prefers) mode-seeking optima.
2. The 2-D textbook figure: the forward fit and the two reverse-KL local optima.
3. A Renyi sweep: ``D_alpha(q || p)`` fits for alpha from near 0 (forward-like)
   to above 1 (more mode-seeking than reverse KL).
4. K-component fits: K = 2 to a three-mode 1-D target, K = 8 to a ring of 8.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from experiments import gmm
from jaxdiv.mixture import GaussianMixture

SEPARATIONS = (2.0, 3.0, 4.0, 5.0, 6.0)
ALPHAS = (0.1, 0.3, 0.5, 0.8, 1.0, 2.0)

Progress = Callable[[str], None]  # called with a fit's name as it starts


def _none(_label: str) -> None:
    return None


def _std(model) -> float:
    return float(np.sqrt(np.asarray(model.covariances)[0, 0, 0]))


def _rel_error(mean, std, opt_mean, opt_std) -> float:
    """Largest parameter error relative to the optimum's std (the problem's length scale)."""
    return max(abs(mean - opt_mean), abs(std - opt_std)) / opt_std


# --------------------------------------------------------------------------- records
# What each study returns to the command line and the figures. Fields holding a
# distribution (`target`, `model`) are left out of metrics.json by `to_json`.


@dataclasses.dataclass(frozen=True)
class ReverseFit:
    """One reverse-KL single-Gaussian fit and the scipy optimum from the same start."""

    init: tuple[float, float]
    mean: float
    std: float
    scipy_mean: float
    scipy_std: float
    scipy_kl: float
    relative_error: float
    kl: float


@dataclasses.dataclass(frozen=True)
class SeparationRow:
    """The fits at one separation ``d``."""

    separation: float
    target: GaussianMixture
    forward: tuple[float, float]  # (mean, std) of the forward fit
    moment_match: tuple[float, float]  # its exact optimum
    forward_relative_error: float
    reverse: list[ReverseFit]
    centred_curvature: float


@dataclasses.dataclass(frozen=True)
class SeparationStudy:
    critical: gmm.CriticalSeparations
    rows: list[SeparationRow]


@dataclasses.dataclass(frozen=True)
class TextbookKl:
    fit: str
    forward_kl: float
    reverse_kl: float


@dataclasses.dataclass(frozen=True)
class TextbookStudy:
    target: GaussianMixture
    fits: list[tuple[str, GaussianMixture]]  # (title, fitted Gaussian)
    kl: list[TextbookKl]


@dataclasses.dataclass(frozen=True)
class AlphaRow:
    alpha: float
    mean: float
    std: float
    scipy_mean: float
    scipy_std: float
    relative_error: float


@dataclasses.dataclass(frozen=True)
class AlphaStudy:
    target: GaussianMixture
    rows: list[AlphaRow]


@dataclasses.dataclass(frozen=True)
class MixturePanel:
    name: str
    components: int
    divergence: str
    target: GaussianMixture
    model: GaussianMixture
    title: str
    forward_kl: float
    reverse_kl: float


def to_json(record) -> dict:
    """A record's fields as plain values for metrics.json, distributions left out."""
    return {
        f.name: to_json(v) if dataclasses.is_dataclass(v) else _plain(v)
        for f in dataclasses.fields(record)
        if not isinstance(v := getattr(record, f.name), GaussianMixture)
    }


def _plain(value):
    if isinstance(value, list):
        return [to_json(v) if dataclasses.is_dataclass(v) else v for v in value]
    return value


def separation_study(
    separations=SEPARATIONS, *, steps: int = 1500, seed: int = 0, progress: Progress = _none
) -> SeparationStudy:
    """Forward and reverse single-Gaussian fits at each separation, with the exact optima."""
    critical = gmm.critical_separations()
    rows = []
    for d in separations:
        target = gmm.separated_1d(d)
        inits = [(0.0, 1.5), (d / 2, 1.0), (-d / 2, 0.5)]
        base = gmm.FitConfig(separation=d, steps=steps, seed=seed, restarts=len(inits))
        fwd_cfg = dataclasses.replace(base, divergence="forward", restarts=1)
        progress(f"forward d={d:g}")
        fwd = gmm.fit(fwd_cfg, target, [gmm.single_gaussian([1.0], [1.0])]).best().model
        rev_cfg = dataclasses.replace(base, divergence="reverse")
        progress(f"reverse d={d:g}")
        rev = gmm.fit(rev_cfg, target, [gmm.single_gaussian([m], [s]) for m, s in inits])
        mm_mean, mm_cov = gmm.moment_match(target)
        reverse = []
        for i, init in enumerate(inits):
            model = rev.restart(i).model
            mean, std = float(model.means[0, 0]), _std(model)
            opt = gmm.scipy_optimum(target, "reverse", init)
            reverse.append(
                ReverseFit(
                    init=init,
                    mean=mean,
                    std=std,
                    scipy_mean=opt.mean,
                    scipy_std=opt.std,
                    scipy_kl=opt.divergence,
                    relative_error=_rel_error(mean, std, opt.mean, opt.std),
                    kl=float(rev.restart(i).reverse_kl),
                )
            )
        fwd_mean, fwd_std = float(fwd.means[0, 0]), _std(fwd)
        mm = (float(mm_mean[0]), float(np.sqrt(mm_cov[0, 0])))
        rows.append(
            SeparationRow(
                separation=d,
                target=target,
                forward=(fwd_mean, fwd_std),
                moment_match=mm,
                forward_relative_error=_rel_error(fwd_mean, fwd_std, *mm),
                reverse=reverse,
                # the start (0, 1.5) ends at the centred optimum at every separation
                centred_curvature=gmm.centred_curvature(d, reverse[0].scipy_std),
            )
        )
    return SeparationStudy(critical, rows)


def textbook_study(
    *, steps: int = 1500, seed: int = 0, progress: Progress = _none
) -> TextbookStudy:
    """The 2-D figure: the forward fit and reverse fits started at each of the two modes."""
    target = gmm.textbook_2d()
    fwd_cfg = gmm.FitConfig(
        target="textbook-2d", divergence="forward", steps=steps, seed=seed, restarts=1
    )
    progress("forward 2-D")
    fwd = gmm.fit(fwd_cfg, target).best()
    rev_cfg = dataclasses.replace(fwd_cfg, divergence="reverse", restarts=2)
    starts = [gmm.single_gaussian(m, [1.0, 1.0]) for m in ([-2.0, 0.5], [2.0, 0.5])]
    progress("reverse 2-D")
    rev = gmm.fit(rev_cfg, target, starts)
    results = [("forward KL: covers both modes", fwd)]
    results += [(f"reverse KL, local optimum {i + 1}", rev.restart(i)) for i in range(2)]
    fits = [(title, r.model) for title, r in results]
    kls = [TextbookKl(title, float(r.forward_kl), float(r.reverse_kl)) for title, r in results]
    return TextbookStudy(target, fits, kls)


def alpha_study(
    alphas=ALPHAS,
    *,
    separation: float = 6.0,
    steps: int = 1500,
    seed: int = 0,
    progress: Progress = _none,
) -> AlphaStudy:
    """Renyi fits from a start on one mode, each with its scipy optimum from the same start."""
    target = gmm.separated_1d(separation)
    init = (separation / 2, 1.0)
    rows = []
    for alpha in alphas:
        cfg = gmm.FitConfig(
            separation=separation,
            divergence="renyi",
            alpha=alpha,
            steps=steps,
            seed=seed,
            restarts=1,
        )
        progress(f"renyi alpha={alpha:g}")
        model = gmm.fit(cfg, target, [gmm.single_gaussian([init[0]], [init[1]])]).best().model
        opt = gmm.scipy_optimum(target, "renyi" if alpha != 1 else "reverse", init, alpha=alpha)
        mean, std = float(model.means[0, 0]), _std(model)
        rows.append(
            AlphaRow(alpha, mean, std, opt.mean, opt.std, _rel_error(mean, std, opt.mean, opt.std))
        )
    return AlphaStudy(target, rows)


def mixture_study(
    *, steps: int = 1500, seed: int = 0, progress: Progress = _none
) -> list[MixturePanel]:
    """K = 2 to the three-mode target and K = 8 to the ring, under each divergence."""
    panels = []
    for name, k in (("three-1d", 2), ("ring", 8)):
        target = gmm.make_target(name)
        for divergence in ("forward", "reverse", "renyi"):
            cfg = gmm.FitConfig(
                target=name,
                components=k,
                divergence=divergence,
                steps=steps,
                seed=seed,
                restarts=3,
                num_samples=256,
                num_data=5_000,
            )
            progress(f"{divergence} K={k} {name}")
            best = gmm.fit(cfg, target).best()
            model, fwd, rev = best.model, float(best.forward_kl), float(best.reverse_kl)
            label = divergence if divergence != "renyi" else f"renyi a={cfg.alpha:g}"
            panels.append(
                MixturePanel(
                    name=name,
                    components=k,
                    divergence=divergence,
                    target=target,
                    model=model,
                    title=f"{name}, K={k}, {label}\nKL(p||q)={fwd:.3f}  KL(q||p)={rev:.3f}",
                    forward_kl=fwd,
                    reverse_kl=rev,
                )
            )
    return panels
