"""The records of a fit: the stopping rule it was given and the result it returns."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from jaxdiv import _validation as val
from jaxdiv.fit._objectives import Divergence, KlMethod


@dataclasses.dataclass(frozen=True)
class Plateau:
    """Stop a fit when its loss has stopped falling.

    Every `window` steps, from step `2 * window` on, the mean loss over the
    last `window` steps is compared with the mean over the `window` steps
    before them; the fit stops when it fell by `tol` or less (in the loss's
    units, nats for every divergence). Means over windows rather than single
    values make the rule usable with the noisy Monte Carlo losses.

    Args:
      window: steps per window, an integer >= 1.
      tol: the smallest drop of the windowed mean that counts as progress, a
        finite number >= 0.

    Raises:
      ValueError: for a window below 1 or a negative or non-finite `tol`.

    Examples:
      >>> from jaxdiv import fit
      >>> fit.Plateau(window=50, tol=1e-3)
      Plateau(window=50, tol=0.001)
    """

    window: int = 100
    tol: float = 1e-4

    def __post_init__(self):
        val.positive_int("window", self.window, fn="fit.Plateau")
        tol = self.tol
        if (
            isinstance(tol, bool)
            or not isinstance(tol, int | float)
            or not (math.isfinite(tol) and tol >= 0)
        ):
            raise ValueError(f"jaxdiv.fit.Plateau: tol must be a finite number >= 0, got {tol!r}.")


@dataclasses.dataclass(frozen=True)
class FitResult:
    """What [`fit`][jaxdiv.fit.fit] returns: a JAX pytree, so it can leave `jax.jit`.

    With several starting models (restarts) every array field has a leading
    restart axis `[R]`, and so has every leaf of `model`; with one starting
    model there is no such axis.

    Attributes:
      model: the fitted distribution, of the type of the starting model.
      losses: `[steps]` (or `[R, steps]`) the objective at each step, before
        that step's update; NaN after the step at which the fit stopped.
      final_loss: the objective at the fitted parameters, with a fresh key.
      num_steps: how many optimiser steps were taken.
      converged: whether the stopping rule stopped the fit.
      diverged: whether the fit stopped at a non-finite loss or gradient; the
        fitted parameters are then the last ones with a finite loss.
      forward_kl: KL(target ‖ model) at the fitted parameters, or None where
        the target is given only by samples or a log-density, or is not
        comparable with the model.
      reverse_kl: KL(model ‖ target), likewise.
      divergence: the objective that was minimised (static).
      kl_method: how `forward_kl` and `reverse_kl` were computed: `"exact"`
        (closed form), `"quadrature"` (Gaussians in one dimension),
        `"monte_carlo"`, or None (static).

    Examples:
      >>> import jax, optax
      >>> from jaxdiv import expfam, fit
      >>> target = expfam.Normal.from_mean_std(1.0, 2.0)
      >>> start = expfam.Normal.from_mean_std(0.0, 1.0)
      >>> r = fit.fit(start, target, divergence="reverse_kl", optimizer=optax.adam(0.1),
      ...             steps=20, key=jax.random.key(0))
      >>> r.losses.shape, bool(r.reverse_kl < r.losses[0]), r.kl_method
      ((20,), True, 'exact')
    """

    model: Any
    losses: jax.Array
    final_loss: jax.Array
    num_steps: jax.Array
    converged: jax.Array
    diverged: jax.Array
    forward_kl: jax.Array | None
    reverse_kl: jax.Array | None
    divergence: Divergence
    kl_method: KlMethod | None

    @property
    def num_restarts(self) -> int | None:
        """`R`, the number of restarts, or None for a fit from one starting model."""
        return self.losses.shape[0] if self.losses.ndim == 2 else None

    def restart(self, i: int | jax.Array) -> FitResult:
        """The result of restart `i` alone (an integer, or a traced index under `jit`)."""
        if self.num_restarts is None:
            raise ValueError("jaxdiv.fit.FitResult.restart: this fit had one starting model.")
        return jax.tree.map(lambda a: a[i], self)

    def best_restart(self) -> jax.Array:
        """The restart with the lowest `final_loss` among those that did not diverge.

        If every restart diverged, restart 0. Works under `jit`.
        """
        if self.num_restarts is None:
            raise ValueError("jaxdiv.fit.FitResult.best_restart: this fit had one starting model.")
        ok = ~self.diverged & jnp.isfinite(self.final_loss)
        return jnp.argmin(jnp.where(ok, self.final_loss, jnp.inf))

    def best(self) -> FitResult:
        """The result of the best restart (see `best_restart`); itself without restarts."""
        return self if self.num_restarts is None else self.restart(self.best_restart())


jax.tree_util.register_dataclass(
    FitResult,
    data_fields=[
        "model",
        "losses",
        "final_loss",
        "num_steps",
        "converged",
        "diverged",
        "forward_kl",
        "reverse_kl",
    ],
    meta_fields=["divergence", "kl_method"],
)
