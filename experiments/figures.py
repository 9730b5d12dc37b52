"""The figures of the fitting experiments, from the results that :mod:`experiments.demo` computes.

Each function takes the records of :mod:`experiments.demo` (or a fitted
mixture) and returns a matplotlib figure; :func:`save` writes one atomically. Used by the
command line only: the notebooks run on the installed package and draw their
own figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from experiments._io import atomic_write
from jaxdiv.mixture import GaussianMixture

if TYPE_CHECKING:
    from experiments import demo, gmm

COLORS = {"target": "black", "forward": "tab:blue", "reverse": "tab:orange", "renyi": "tab:green"}


def save(fig, path: str) -> None:
    """Saves ``fig`` as PNG at ``path`` atomically and closes it."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)


def density_1d(m: GaussianMixture, x: np.ndarray) -> np.ndarray:
    return np.exp(np.asarray(m.log_prob(jnp.asarray(x)[:, None])))


def _gaussian_1d(mean: float, std: float, x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))


def separations(results: list[demo.SeparationRow], critical: gmm.CriticalSeparations):
    """Single-Gaussian fits to the 1-D two-mode target, one panel per separation."""
    fig, axes = plt.subplots(1, len(results), figsize=(3.3 * len(results), 3.2), sharey=True)
    for ax, res in zip(np.atleast_1d(axes), results, strict=True):
        d = res.separation
        x = np.linspace(-d / 2 - 5, d / 2 + 5, 600)
        ax.fill_between(x, density_1d(res.target, x), color="0.85", label="target p")
        mm = res.moment_match
        fwd = res.forward
        ax.plot(x, _gaussian_1d(*fwd, x), color=COLORS["forward"], lw=2, label="forward KL (optax)")
        ax.plot(x, _gaussian_1d(*mm, x), "k:", lw=1, label="forward optimum (moments)")
        for i, fit in enumerate(res.reverse):
            ax.plot(
                x,
                _gaussian_1d(fit.mean, fit.std, x),
                color=COLORS["reverse"],
                lw=1.6,
                alpha=0.9,
                label="reverse KL (optax)" if i == 0 else None,
            )
            ax.plot(
                x,
                _gaussian_1d(fit.scipy_mean, fit.scipy_std, x),
                "--",
                color="tab:red",
                lw=0.9,
                label="reverse optimum (scipy)" if i == 0 else None,
            )
            ax.plot(fit.init[0], 0.01, marker="^", color=COLORS["reverse"], ms=6)
        if d <= critical.local:
            kind = "only the centred optimum"
        elif d <= critical.best:
            kind = "mode-seeking optima (centred best)"
        else:
            kind = "mode-seeking optima are best"
        ax.set_title(f"d = {d:g}: {kind}", fontsize=9)
        ax.set_xlabel("x")
    np.atleast_1d(axes)[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(
        "Single Gaussian fitted to N(-d/2,1)/2 + N(d/2,1)/2 from several starts (triangles). "
        f"Reverse-KL mode-seeking optima appear at d > {critical.local:.2f} and win at "
        f"d > {critical.best:.2f}",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def _contours(ax, m: GaussianMixture, lim: float, **kw) -> None:
    g = np.linspace(-lim, lim, 160)
    xx, yy = np.meshgrid(g, g)
    pts = jnp.asarray(np.stack([xx, yy], -1))
    ax.contour(xx, yy, np.exp(np.asarray(m.log_prob(pts))), **kw)


def textbook_2d(target: GaussianMixture, fits: list[tuple[str, GaussianMixture]]):
    """The 2-D target (grey) with one fitted Gaussian per panel."""
    fig, axes = plt.subplots(1, len(fits), figsize=(3.4 * len(fits), 3.4))
    for ax, (title, model) in zip(np.atleast_1d(axes), fits, strict=True):
        _contours(ax, target, 4.5, levels=6, colors="0.6", linewidths=0.8)
        color = COLORS["forward"] if title.startswith("forward") else COLORS["reverse"]
        _contours(ax, model, 4.5, levels=4, colors=color, linewidths=1.5)
        ax.set_title(title, fontsize=9)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def alpha_sweep(target: GaussianMixture, rows: list[demo.AlphaRow]):
    """Fits of D_alpha(model || target) for several alpha: densities and the fitted std."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9, 3.3))
    x = np.linspace(-7, 7, 600)
    ax.fill_between(x, density_1d(target, x), color="0.85", label="target p")
    cmap = plt.get_cmap("viridis")
    for i, row in enumerate(rows):
        c = cmap(i / max(len(rows) - 1, 1))
        ax.plot(x, _gaussian_1d(row.mean, row.std, x), color=c, label=f"alpha={row.alpha:g}")
    ax.legend(fontsize=7)
    ax.set_title("Renyi fits D_alpha(q || p), started on a mode", fontsize=9)
    alphas = [r.alpha for r in rows]
    bx.plot(alphas, [r.std for r in rows], "o-", label="std (optax)")
    bx.plot(alphas, [r.scipy_std for r in rows], "kx", ms=8, label="std (scipy optimum)")
    bx.plot(alphas, [abs(r.mean) for r in rows], "s-", label="|mean| (optax)")
    bx.plot(alphas, [abs(r.scipy_mean) for r in rows], "k+", ms=8, label="|mean| (scipy)")
    bx.set_xscale("log")
    bx.set_xlabel("alpha  (0: forward KL, 1: reverse KL)")
    bx.legend(fontsize=7)
    fig.tight_layout()
    return fig


def mixture_fits(panels: list[demo.MixturePanel]):
    """K-component fits: each panel a target with one fitted mixture over it."""
    ncols = 3
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.5 * ncols, 3.3 * nrows))
    for ax, panel in zip(axes.ravel(), panels, strict=False):
        target, model = panel.target, panel.model
        color = COLORS[panel.divergence]
        if target.dim == 1:
            x = np.linspace(-8, 8, 600)
            ax.fill_between(x, density_1d(target, x), color="0.85")
            ax.plot(x, density_1d(model, x), color=color, lw=2)
        else:
            _contours(ax, target, 7.0, levels=4, colors="0.6", linewidths=0.8)
            _contours(ax, model, 7.0, levels=4, colors=color, linewidths=1.3)
            ax.set_aspect("equal")
        ax.set_title(panel.title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def fit_figure(target: GaussianMixture, model: GaussianMixture, losses: np.ndarray, title: str):
    """One run: the fitted density over the target, and the loss curve of each restart."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9, 3.4))
    if target.dim == 1:
        spread = float(np.sqrt(np.asarray(target.covariance())[0, 0]))
        c = float(target.mean()[0])
        x = np.linspace(c - 4 * spread, c + 4 * spread, 600)
        ax.fill_between(x, density_1d(target, x), color="0.85", label="target")
        ax.plot(x, density_1d(model, x), color="tab:blue", lw=2, label="fit")
        ax.legend(fontsize=8)
    else:
        lim = float(np.max(np.abs(np.asarray(target.means)))) + 3.0
        _contours(ax, target, lim, levels=5, colors="0.6", linewidths=0.8)
        _contours(ax, model, lim, levels=5, colors="tab:blue", linewidths=1.3)
        ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    for i, curve in enumerate(losses):
        bx.plot(curve, lw=0.8, label=f"restart {i}")
    bx.set_xlabel("step")
    bx.set_ylabel("objective")
    bx.legend(fontsize=7)
    fig.tight_layout()
    return fig
