"""The demo's targets, its configuration, and the exact optima its fits are checked against.

What the command line (:mod:`experiments.fit_gmm`) and :mod:`experiments.demo`
need beyond :func:`jaxdiv.fit.fit`, which does the fitting: the target
presets, the configuration of one run (:class:`FitConfig`, checked in one
line), how a run's options become a call of :func:`jaxdiv.fit.fit` (random
starts, forward-KL data sharded over all devices), the exact single-Gaussian
optima by scipy, and the search for the critical separation past which reverse
KL turns mode-seeking. The command line runs in float64 (it switches it on in
its ``main``; importing this module does not).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

import jaxdiv.fit
from jaxdiv import mixture
from jaxdiv.mixture import GaussianMixture

DIVERGENCES = ("forward", "reverse", "renyi", "alpha")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad", "lion")
TARGETS = ("separated-1d", "textbook-2d", "three-1d", "ring")


# --------------------------------------------------------------------------- targets


def separated_1d(separation: float) -> GaussianMixture:
    """``N(-d/2, 1) / 2 + N(d/2, 1) / 2``: two unit-variance modes ``d`` apart."""
    half = 0.5 * jnp.asarray(separation, float)  # traceable: jitted searches pass it traced
    return GaussianMixture.univariate(jnp.full(2, 0.5), jnp.stack([-half, half]), jnp.ones(2))


def textbook_2d() -> GaussianMixture:
    """Two correlated Gaussians in the plane, as in the classic forward/reverse KL figure."""
    covs = np.array([[[1.0, 0.8], [0.8, 1.0]], [[1.0, -0.8], [-0.8, 1.0]]]) * 0.6
    return GaussianMixture.from_covariances(
        np.full(2, 0.5), np.array([[-2.0, 0.0], [2.0, 0.0]]), covs
    )


def three_1d() -> GaussianMixture:
    """Three modes in one dimension, unequal weights and widths."""
    return GaussianMixture.univariate(
        np.array([0.3, 0.4, 0.3]), np.array([-4.0, 0.0, 4.0]), np.array([0.7, 1.0, 0.7])
    )


def ring(num_modes: int = 8, radius: float = 5.0, scale: float = 0.5) -> GaussianMixture:
    """``num_modes`` equal isotropic Gaussians evenly spaced on a circle."""
    angles = 2 * np.pi * np.arange(num_modes) / num_modes
    means = radius * np.stack([np.cos(angles), np.sin(angles)], -1)
    var = np.full((num_modes, 2), scale**2)
    return GaussianMixture.diagonal(np.full(num_modes, 1 / num_modes), means, var)


def make_target(name: str, separation: float = 3.0) -> GaussianMixture:
    """The preset called ``name`` (one of :data:`TARGETS`)."""
    if name == "separated-1d":
        return separated_1d(separation)
    presets: dict[str, Callable[[], GaussianMixture]] = {
        "textbook-2d": textbook_2d,
        "three-1d": three_1d,
        "ring": ring,
    }
    return presets[name]()


# --------------------------------------------------------------------------- configuration


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """One fitting run. ``validate`` says what is wrong, in one line, or returns None."""

    target: str = "separated-1d"
    separation: float = 3.0
    components: int = 1
    divergence: str = "reverse"
    alpha: float = 0.5
    optimizer: str = "adam"
    learning_rate: float = 0.05
    steps: int = 1500
    seed: int = 0
    restarts: int = 4
    num_samples: int = 1024  # reparameterised draws per component per step (reverse, renyi)
    num_data: int = 100_000  # target samples for the forward (maximum-likelihood) fit

    def validate(self) -> str | None:
        checks = [
            (self.target in TARGETS, f"unknown target {self.target!r}; choose from {TARGETS}"),
            (
                self.divergence in DIVERGENCES,
                f"unknown divergence {self.divergence!r}; choose from {DIVERGENCES}",
            ),
            (
                self.optimizer in OPTIMIZERS,
                f"unknown optimizer {self.optimizer!r}; choose from {OPTIMIZERS}",
            ),
            (
                self.divergence not in ("renyi", "alpha")
                or (math.isfinite(self.alpha) and self.alpha > 0),
                f"alpha must be a finite number > 0 for the {self.divergence} divergence, "
                f"got {self.alpha}",
            ),
            (
                math.isfinite(self.learning_rate) and self.learning_rate > 0,
                f"learning rate must be a finite number > 0, got {self.learning_rate}",
            ),
            (self.components >= 1, f"components must be >= 1, got {self.components}"),
            (self.steps >= 1, f"steps must be >= 1, got {self.steps}"),
            (self.restarts >= 1, f"restarts must be >= 1, got {self.restarts}"),
            (self.num_samples >= 1, f"num-samples must be >= 1, got {self.num_samples}"),
            (self.num_data >= 2, f"num-data must be >= 2, got {self.num_data}"),
            (
                math.isfinite(self.separation) and self.separation >= 0,
                f"separation must be a finite number >= 0, got {self.separation}",
            ),
            (0 <= self.seed < 2**63, f"seed must be an integer in [0, 2**63), got {self.seed}"),
        ]
        return next((msg for ok, msg in checks if not ok), None)

    def memory_bytes(self) -> tuple[int, str]:
        """A rough upper estimate of the memory a fit needs, and what dominates it.

        Counts the largest float64 arrays of one optimiser step (all restarts
        side by side, times 4 for the values the gradient keeps), of the final
        re-estimate and of the true-KL evaluation, and the loss curves. Used to
        refuse, before any work, a configuration that cannot fit in memory.
        """
        target = make_target(self.target, self.separation)
        kt, d = target.num_components, target.dim
        k, r, n = self.components, self.restarts, self.components + target.num_components
        if self.divergence == "forward":
            step = ("--restarts x --num-data x --components", 4 * r * self.num_data * k * d)
        else:
            samples = max(self.num_samples, 4096)
            step = (
                "--restarts x --num-samples x --components x all components",
                4 * r * samples * k * (k + kt) * d,
            )
        points = max(4097, 45 * n) if d == 1 else 2**17
        terms = [
            step,
            ("the true-KL evaluation, points x all components", 4 * points * n * d),
            ("the loss curves and keys, --steps x (--restarts + 2)", self.steps * (r + 2)),
        ]
        return 8 * sum(t for _, t in terms), max(terms, key=lambda t: t[1])[0]


# --------------------------------------------------------------------------- fitting


def shard_rows(x: jax.Array) -> jax.Array:
    """Rows of ``x`` split over every device along a ``"data"`` mesh axis.

    The number of rows must be a multiple of the device count (:func:`fit`
    draws that many), so that the forward objective, a mean over rows, is
    computed data-parallel under ``jit`` with no padding to mask.
    """
    devices = jax.devices()
    sharding = NamedSharding(Mesh(np.array(devices), ("data",)), PartitionSpec("data"))
    return jax.device_put(x, sharding)


def random_start(target: GaussianMixture, components: int, key: jax.Array) -> GaussianMixture:
    """Means at draws from the target, isotropic scales half the target's spread, equal weights."""
    x = target.sample(key, (components,))
    spread = 0.5 * jnp.sqrt(jnp.trace(target.covariance()) / target.dim)
    scale = jnp.broadcast_to(jnp.eye(target.dim) * spread, (components, target.dim, target.dim))
    return GaussianMixture.from_scale_tril(jnp.full(components, 1 / components), x, scale)


def single_gaussian(mean: Sequence[float], std: Sequence[float]) -> GaussianMixture:
    """A one-component, axis-aligned Gaussian as a mixture (the start of a single-Gaussian fit)."""
    mean, std = np.atleast_1d(mean).astype(float), np.atleast_1d(std).astype(float)
    return GaussianMixture.diagonal([1.0], mean[None], np.square(std)[None])


# The command line's divergence names, and jaxdiv.fit's.
_LIBRARY_NAMES = {
    "forward": "forward_kl",
    "reverse": "reverse_kl",
    "renyi": "renyi",
    "alpha": "alpha",
}


@functools.lru_cache(maxsize=32)
def optimizer(name: str, learning_rate: float, steps: int) -> optax.GradientTransformation:
    """The optax optimiser ``name`` with a cosine-decay schedule, one object per setting.

    Cached so that fits with one setting pass the same object to
    :func:`jaxdiv.fit.fit`, which then reuses its compiled program.
    """
    return getattr(optax, name)(optax.cosine_decay_schedule(learning_rate, steps))


def fit(
    config: FitConfig,
    target: GaussianMixture | None = None,
    starts: Sequence[GaussianMixture] | None = None,
    *,
    num_eval_samples: int = 2**17,
) -> jaxdiv.fit.FitResult:
    """The fit that ``config`` describes, by :func:`jaxdiv.fit.fit`, restarts side by side.

    The starts are ``config.restarts`` random mixtures (:func:`random_start`)
    unless given. The forward objective uses ``config.num_data`` target
    samples (rounded up to a multiple of the device count), drawn once and
    sharded over all devices; the others draw ``config.num_samples`` points per
    component per step. Same config and seed, same numbers.
    """
    problem = config.validate()
    if problem is not None:
        raise ValueError(problem)
    target = make_target(config.target, config.separation) if target is None else target
    k_data, k_init, k_fit = jax.random.split(jax.random.key(config.seed), 3)
    if starts is None:
        keys = jax.random.split(k_init, config.restarts)
        starts = [random_start(target, config.components, k) for k in keys]
    if config.divergence == "forward":
        devices = len(jax.devices())
        rows = -(-config.num_data // devices) * devices
        data = shard_rows(target.sample(k_data, (rows,)))
        # The true KLs come from the target itself; the objective sees only its samples.
        result = jaxdiv.fit.fit(
            list(starts),
            data,
            divergence="forward_kl",
            optimizer=optimizer(config.optimizer, config.learning_rate, config.steps),
            steps=config.steps,
            key=k_fit,
        )
        return _with_true_kls(result, target, k_fit, num_eval_samples)
    return jaxdiv.fit.fit(
        list(starts),
        target,
        divergence=_LIBRARY_NAMES[config.divergence],
        alpha=config.alpha if config.divergence in ("renyi", "alpha") else None,
        optimizer=optimizer(config.optimizer, config.learning_rate, config.steps),
        steps=config.steps,
        key=k_fit,
        num_samples=config.num_samples,
        num_eval_samples=num_eval_samples,
    )


def _with_true_kls(result, target, key, num_eval_samples):
    """``result`` with both true KLs to ``target`` (a fit to samples knows only the samples)."""
    if target.dim == 1:
        method = "quadrature"

        def kl(p, q, _key):
            return mixture.kl_divergence(p, q, method="quadrature")
    else:
        method = "monte_carlo"

        def kl(p, q, key):
            return mixture.kl_divergence(
                p, q, method="monte_carlo", key=key, num_samples=num_eval_samples
            )

    keys = jax.random.split(key, (2, result.losses.shape[0]))
    fwd = jax.jit(jax.vmap(lambda m, k: kl(target, m, k)))(result.model, keys[0])
    rev = jax.jit(jax.vmap(lambda m, k: kl(m, target, k)))(result.model, keys[1])
    return dataclasses.replace(result, forward_kl=fwd, reverse_kl=rev, kl_method=method)


def kl_method_label(result, num_eval_samples: int = 2**17) -> str:
    """How the true KLs of ``result`` were computed, for metrics.json."""
    if result.kl_method == "monte_carlo":
        return f"monte_carlo_k1_{num_eval_samples}"
    return str(result.kl_method)


def describe(model: GaussianMixture) -> dict:
    """Weights, means and covariances as nested lists (for metrics.json)."""
    return {
        "weights": np.asarray(model.weights).tolist(),
        "means": np.asarray(model.means).tolist(),
        "covariances": np.asarray(model.covariances).tolist(),
    }


# --------------------------------------------------------------------------- exact optima


def _single(mean, log_std) -> GaussianMixture:
    return GaussianMixture.univariate(
        jnp.ones(1), jnp.reshape(mean, (1,)), jnp.reshape(jnp.exp(log_std), (1,))
    )


@functools.partial(jax.jit, static_argnames=("divergence", "alpha", "num_points"))
def gaussian_divergence(
    target: GaussianMixture,
    mean,
    log_std,
    *,
    divergence: str,
    alpha: float = 0.5,
    num_points: int = 4097,
) -> jax.Array:
    """The exact (quadrature) divergence between N(mean, std^2) and a 1-D target.

    ``"forward"`` is KL(target || model), ``"reverse"`` KL(model || target) and
    ``"renyi"`` D_alpha(model || target). Jitted with the target traced, so one
    compiled program serves every target of the same size; differentiable.
    """
    model = _single(mean, log_std)
    if divergence == "forward":
        return mixture.kl_divergence(target, model, method="quadrature", num_points=num_points)
    if divergence == "reverse":
        return mixture.kl_divergence(model, target, method="quadrature", num_points=num_points)
    return mixture.renyi_divergence(
        model, target, alpha=alpha, method="quadrature", num_points=num_points
    )


class Optimum(NamedTuple):
    """A single-Gaussian optimum and the divergence there."""

    mean: float
    std: float
    divergence: float


def scipy_optimum(
    target: GaussianMixture,
    divergence: str,
    init: tuple[float, float],
    alpha: float = 0.5,
) -> Optimum:
    """The single-Gaussian optimum ``(mean, std, divergence)`` from ``init = (mean, std)``.

    Minimises the divergence, computed by scipy's adaptive quadrature
    (``scipy.integrate.quad``, independent of jaxdiv), over ``(mean, log std)``
    with BFGS from the given starting point, so that it finds the local
    optimum of that basin.
    """
    from scipy import integrate, optimize, stats

    w = np.asarray(target.weights)
    mu = np.asarray(target.means[:, 0])
    sd = np.asarray(target.scale_tril[:, 0, 0])

    def p(x):
        return float(np.sum(w * stats.norm.pdf(x, mu, sd)))

    lo, hi = float(np.min(mu - 14 * sd)), float(np.max(mu + 14 * sd))

    def value(v):
        m, s = v[0], math.exp(v[1])
        a, b = min(lo, m - 14 * s), max(hi, m + 14 * s)
        breaks = sorted({*mu.tolist(), m})

        def q(x):
            return stats.norm.pdf(x, m, s)

        def klterm(x, f, g):
            fx = f(x)
            return 0.0 if fx <= 0 else fx * (math.log(fx) - math.log(max(g(x), 1e-300)))

        if divergence == "forward":
            integrand = lambda x: klterm(x, p, q)  # noqa: E731
        elif divergence == "reverse":
            integrand = lambda x: klterm(x, q, p)  # noqa: E731
        else:
            integrand = lambda x: q(x) ** alpha * p(x) ** (1 - alpha)  # noqa: E731
        total = integrate.quad(integrand, a, b, points=breaks, limit=500, epsabs=1e-13)[0]
        return total if divergence != "renyi" else math.log(total) / (alpha - 1)

    res = optimize.minimize(value, x0=[init[0], math.log(init[1])], method="BFGS")
    return Optimum(float(res.x[0]), float(math.exp(res.x[1])), float(res.fun))


def moment_match(target: GaussianMixture) -> tuple[np.ndarray, np.ndarray]:
    """The forward-KL optimum among Gaussians: the target's mean and covariance."""
    return np.asarray(target.mean()), np.asarray(target.covariance())


# --------------------------------------------------------------------------- critical separation


@jax.jit
def _profile_values(separation, mus, log_stds):
    def kl(mean, log_std):
        target = separated_1d(separation)
        return gaussian_divergence(target, mean, log_std, divergence="reverse", num_points=1025)

    grid = jax.vmap(jax.vmap(kl, in_axes=(None, 0)), in_axes=(0, None))
    return jnp.min(grid(mus, log_stds), axis=1)


def reverse_kl_profile(separation: float, mus: np.ndarray) -> np.ndarray:
    """``m(mean) = min over std`` of KL(N(mean, std^2) || separated_1d(d)), std on a fine grid."""
    log_stds = np.linspace(-1.0, 1.5, 101)
    return np.asarray(_profile_values(float(separation), jnp.asarray(mus), jnp.asarray(log_stds)))


def has_mode_seeking_optimum(separation: float) -> bool:
    """Whether reverse KL from a single Gaussian to ``separated_1d(d)`` has an off-centre local min.

    The profile ``m(mean) = min_std KL`` over means in ``[0, d]`` has an
    interior local minimum exactly when such an optimum exists.
    """
    d = float(separation)
    prof = reverse_kl_profile(d, np.linspace(0.0, max(d, 1.0), 81))
    inner = (prof[1:-1] < prof[:-2]) & (prof[1:-1] <= prof[2:])
    return bool(np.any(inner))


def _bisect(pred: Callable[[float], bool], lo: float, hi: float, tol: float) -> float:
    """The switch point of a predicate false at ``lo`` and true at ``hi``."""
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if pred(mid) else (mid, hi)
    return 0.5 * (lo + hi)


@jax.jit
def _curvature_in_mean(target: GaussianMixture, log_std) -> jax.Array:
    def kl(mean):
        return gaussian_divergence(target, mean, log_std, divergence="reverse")

    return jax.grad(jax.grad(kl))(jnp.zeros((), log_std.dtype))


def centred_curvature(separation: float, std: float) -> float:
    """Second derivative of the reverse KL in the mean at the centred fit ``N(0, std^2)``."""
    return float(_curvature_in_mean(separated_1d(separation), jnp.asarray(math.log(std))))


@dataclasses.dataclass(frozen=True)
class ReverseKlOptima:
    """The two kinds of single-Gaussian reverse-KL optima at one separation."""

    centred: Optimum
    from_a_mode: Optimum
    curvature_in_mean_at_centre: float


def reverse_kl_optima(separation: float) -> ReverseKlOptima:
    """The centred and the mode-seeking single-Gaussian optima of reverse KL at separation ``d``."""
    target = separated_1d(separation)
    centred = scipy_optimum(target, "reverse", (0.0, 1.0))
    off = scipy_optimum(target, "reverse", (separation / 2, 1.0))
    return ReverseKlOptima(centred, off, centred_curvature(separation, centred.std))


@dataclasses.dataclass(frozen=True)
class CriticalSeparations:
    """The separations at which reverse KL's mode-seeking optima appear and take over.

    ``local``: the smallest ``d`` with an off-centre local optimum (below it
    every initialisation ends at the broad centred Gaussian). ``best``: the
    ``d`` past which the mode-seeking optimum has the lower reverse KL.
    """

    local: float
    best: float


def critical_separations(tol: float = 0.01) -> CriticalSeparations:
    """The :class:`CriticalSeparations`, each by bisection to ``tol``."""
    local = _bisect(has_mode_seeking_optimum, 2.0, 8.0, tol)

    def off_wins(d: float) -> bool:
        prof = reverse_kl_profile(d, np.linspace(0.0, d, 161))
        return bool(np.min(prof[1:]) < prof[0])

    return CriticalSeparations(local, _bisect(off_wins, local, 10.0, tol))
