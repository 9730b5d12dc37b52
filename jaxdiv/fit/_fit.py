"""`fit`: a distribution fitted to a target by a divergence with any optax optimiser."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdiv import _validation as val
from jaxdiv import expfam
from jaxdiv.fit import _objectives as obj
from jaxdiv.fit._objectives import DIVERGENCES, Divergence
from jaxdiv.fit._result import FitResult, Plateau
from jaxdiv.mixture import GaussianMixture

_FN = "fit.fit"

Distribution = GaussianMixture | expfam.ExponentialFamily
Target = Distribution | Callable[[jax.Array], jax.Array] | jax.typing.ArrayLike


# --------------------------------------------------------------------------- checks


def _check_model(model: Any) -> None:
    if not isinstance(model, GaussianMixture | expfam.ExponentialFamily):
        raise TypeError(
            f"jaxdiv.{_FN}: model must be a GaussianMixture or a member of a jaxdiv.expfam "
            f"family (or a list of them, one per restart), got {type(model).__name__}."
        )
    if isinstance(model, expfam.ExponentialFamily) and model.batch_shape != ():
        raise ValueError(
            f"jaxdiv.{_FN}: model must be one distribution (batch shape ()), got batch shape "
            f"{model.batch_shape}; pass a list of models to fit several starts side by side."
        )


def _stack(models: Sequence[Any]) -> Any:
    """The optimiser's parameters of every starting model, stacked on a leading restart axis."""
    if len(models) == 0:
        raise ValueError(f"jaxdiv.{_FN}: the list of starting models is empty.")
    for m in models:
        _check_model(m)
    first: Any = jax.tree.structure(models[0])
    for i, m in enumerate(models[1:], start=1):
        if first != jax.tree.structure(m) or any(
            jnp.shape(a) != jnp.shape(b)
            for a, b in zip(jax.tree.leaves(models[0]), jax.tree.leaves(m), strict=True)
        ):
            raise ValueError(
                f"jaxdiv.{_FN}: every starting model must have the type and shapes of the "
                f"first; model {i} is {m!r} and model 0 is {models[0]!r}."
            )
    return jax.tree.map(lambda *a: jnp.stack(a), *[_to_params(m) for m in models])


def _check_key(key: Any) -> jax.Array:
    if isinstance(key, jax.Array | np.ndarray) and (
        jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
        or (key.dtype == jnp.uint32 and key.shape == (2,))
    ):
        return jnp.asarray(key)
    raise TypeError(
        f"jaxdiv.{_FN}: key must be a PRNG key from jax.random.key(seed), got {type(key).__name__}."
    )


def _target_kind(target: Any) -> str:
    if isinstance(target, GaussianMixture | expfam.ExponentialFamily):
        return "distribution"
    if callable(target):
        return "log_density"
    return "samples"


def _check_alpha(divergence: str, alpha: Any) -> float | None:
    if divergence in ("forward_kl", "reverse_kl"):
        if alpha is not None:
            raise ValueError(
                f"jaxdiv.{_FN}: alpha applies only to divergence='renyi' or 'alpha', got "
                f"alpha={alpha!r} with divergence={divergence!r}; leave it out."
            )
        return None
    if alpha is None:
        raise ValueError(f"jaxdiv.{_FN}: divergence={divergence!r} needs an order alpha=...")
    a = val.concrete_float("alpha", alpha, fn=_FN)
    if not (math.isfinite(a) and a > 0):
        raise ValueError(f"jaxdiv.{_FN}: alpha must be a finite number > 0, got {alpha!r}.")
    return a


def _check_route(divergence: str, kind: str, model: Any, target: Any) -> None:
    """Refuses, with the reason, a combination of model, target and divergence with no route."""
    if kind == "distribution" and obj.same_family(model, target):
        return
    if kind == "distribution" and obj.is_gaussian(model) and obj.is_gaussian(target):
        dm, dt = obj.dimension(model), obj.dimension(target)
        if dm != dt:
            raise ValueError(
                f"jaxdiv.{_FN}: the model has points of dimension {dm} and the target of "
                f"dimension {dt}."
            )
    if divergence == "forward_kl":
        if kind == "log_density":
            raise ValueError(
                f"jaxdiv.{_FN}: divergence='forward_kl' needs samples from the target: give "
                "target as an array of samples or as a distribution, not a log-density."
            )
        return
    if kind == "distribution" and not obj.is_gaussian(target):
        raise TypeError(
            f"jaxdiv.{_FN}: divergence={divergence!r} from a {type(model).__name__} model to "
            f"a {type(target).__name__} target has no route: sampling the model needs a "
            f"target density on all of its points, which a {type(target).__name__} does not "
            "have (the divergence is infinite or undefined). Give a target of the model's "
            "family (closed form), a Gaussian or GaussianMixture, or a log-density function."
        )
    if kind == "samples":
        raise ValueError(
            f"jaxdiv.{_FN}: divergence={divergence!r} needs the target's log-density: give "
            "target as a function of points or as a distribution, not samples (samples "
            "serve divergence='forward_kl')."
        )
    if not obj.is_gaussian(model):
        raise ValueError(
            f"jaxdiv.{_FN}: divergence={divergence!r} by sampling needs a reparameterised "
            f"model (a Gaussian from jaxdiv.expfam or a GaussianMixture), got "
            f"{type(model).__name__}; give the target as a {type(model).__name__} too for "
            "the closed form."
        )


# --------------------------------------------------------------------------- parameters


def _to_params(model: Any) -> Any:
    """What the optimiser updates: a mixture's unconstrained values, a family member's leaves.

    A family member stores unconstrained coordinates where the family allows
    (the Gaussians store location and log-scale); a mixture's leaves are
    constrained (normalised log-weights), so it is optimised through
    `GaussianMixture.unconstrained`.
    """
    return model.unconstrained() if isinstance(model, GaussianMixture) else model


def _from_params(params: Any) -> Any:
    if isinstance(params, dict):  # the unconstrained values of a mixture
        return GaussianMixture.from_unconstrained(**params)
    return params


# --------------------------------------------------------------------------- the loop


class _Carry(NamedTuple):
    """The state of one fit inside its `while_loop`."""

    params: Any
    opt_state: Any
    losses: jax.Array  # [steps], NaN until written
    step: jax.Array  # steps taken
    converged: jax.Array  # the stopping rule fired
    diverged: jax.Array  # a non-finite loss or gradient


def _all_finite(tree: Any) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def _plateaued(losses: jax.Array, step: jax.Array, rule: Plateau) -> jax.Array:
    """Whether, at a multiple of the window, the windowed mean loss fell by `rule.tol` or less."""
    w = rule.window
    last = jnp.mean(jax.lax.dynamic_slice(losses, (jnp.maximum(step - w, 0),), (w,)))
    before = jnp.mean(jax.lax.dynamic_slice(losses, (jnp.maximum(step - 2 * w, 0),), (w,)))
    return (step % w == 0) & (step >= 2 * w) & (before - last <= rule.tol)


def _fit_one(
    params: Any,
    target: Any,
    key: jax.Array,
    *,
    spec: obj.Spec,
    optimizer: optax.GradientTransformation,
    steps: int,
    stopping: Plateau | None,
) -> FitResult:
    """One restart: optimiser steps until `steps`, the stopping rule, or a non-finite loss."""

    def objective(p, k):
        return obj.loss(spec, _from_params(p), target, k)

    value_and_grad = jax.value_and_grad(objective)
    # Every optimiser receives the loss and the objective as extra arguments, which those
    # that take them use (optax.lbfgs's line search, optax.contrib.reduce_on_plateau) and
    # the others ignore.
    optimizer = optax.with_extra_args_support(optimizer)
    dtype = jnp.result_type(*jax.tree.leaves(params))

    def cond(c: _Carry) -> jax.Array:
        return (c.step < steps) & ~c.converged & ~c.diverged

    def body(c: _Carry) -> _Carry:
        step_key = jax.random.fold_in(key, c.step)
        value, grads = value_and_grad(c.params, step_key)
        ok = jnp.isfinite(value) & _all_finite(grads)
        updates, opt_state = optimizer.update(
            grads,
            c.opt_state,
            c.params,
            value=value,
            grad=grads,
            value_fn=lambda p: objective(p, step_key),
        )
        new = optax.apply_updates(c.params, updates)
        # A non-finite loss or gradient stops this fit at the last parameters that had a
        # finite one, rather than carrying NaN into them.
        params = jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, c.params)
        opt_state = jax.tree.map(lambda a, b: jnp.where(ok, a, b), opt_state, c.opt_state)
        losses = c.losses.at[c.step].set(value.astype(c.losses.dtype))
        step = c.step + 1
        converged = ok & _plateaued(losses, step, stopping) if stopping else jnp.array(False)
        return _Carry(params, opt_state, losses, step, converged, ~ok)

    start = _Carry(
        params,
        optimizer.init(params),
        jnp.full((steps,), jnp.nan, dtype),
        jnp.array(0),
        jnp.array(False),
        jnp.array(False),
    )
    end = jax.lax.while_loop(cond, body, start)
    model = _from_params(end.params)
    final = objective(end.params, jax.random.fold_in(key, steps))
    forward_kl, reverse_kl = obj.true_kls(spec, model, target, jax.random.fold_in(key, steps + 1))
    return FitResult(
        model=model,
        losses=end.losses,
        final_loss=final,
        num_steps=end.step,
        converged=end.converged,
        diverged=end.diverged | ~jnp.isfinite(final),
        forward_kl=forward_kl,
        reverse_kl=reverse_kl,
        divergence=spec.divergence,
        kl_method=obj.kl_method(spec, model, target),
    )


@functools.partial(jax.jit, static_argnames=("spec", "optimizer", "steps", "stopping", "batched"))
def _fit_compiled(params, target, key, *, spec, optimizer, steps, stopping, batched):
    one = functools.partial(
        _fit_one, spec=spec, optimizer=optimizer.value, steps=steps, stopping=stopping
    )
    if not batched:
        return one(params, target, key)
    keys = jax.random.split(key, jax.tree.leaves(params)[0].shape[0])
    return jax.vmap(one, in_axes=(0, None, 0))(params, target, keys)


# --------------------------------------------------------------------------- the entry point


def fit(
    model: Distribution | Sequence[Distribution],
    target: Target,
    *,
    divergence: Divergence,
    optimizer: optax.GradientTransformation,
    steps: int,
    key: jax.Array,
    alpha: float | None = None,
    num_samples: int = 256,
    stopping: Plateau | None = None,
    num_eval_samples: int = 16384,
) -> FitResult:
    r"""Fits `model` to `target` by minimising a divergence with an optax optimiser.

    | `divergence` | minimises | needs from the target |
    |---|---|---|
    | `"forward_kl"` | $\mathrm{KL}(p \Vert q)$, mass-covering | samples |
    | `"reverse_kl"` | $\mathrm{KL}(q \Vert p)$, mode-seeking | a log-density |
    | `"renyi"` | $D^R_\alpha(q \Vert p)$ (Renyi) | a log-density |
    | `"alpha"` | $D^A_\alpha(q \Vert p)$ (Amari) | a log-density |

    $$
    D^R_\alpha(q \,\|\, p) = \frac{\log I_\alpha}{\alpha - 1}, \quad
    D^A_\alpha(q \,\|\, p) = \frac{1 - I_\alpha}{\alpha (1 - \alpha)}, \quad
    I_\alpha = \int q(x)^\alpha p(x)^{1 - \alpha} \, dx
    $$

    with $q$ the model and $p$ the target. Where the model and the target are
    members of the same `jaxdiv.expfam` family, the objective is the closed
    form, exact. Otherwise the model must be a Gaussian (`Normal`,
    `MultivariateNormalDiag`, `MultivariateNormal`) or a `GaussianMixture`:
    forward KL is estimated by the negative log-likelihood of target samples
    (the cross-entropy $H(p, q) = H(p) + \mathrm{KL}(p \,\|\, q)$, so the loss
    is offset by the target's entropy), the others by `num_samples`
    reparameterised draws per model component (as in
    [`jaxdiv.mixture.reverse_kl`][jaxdiv.mixture.reverse_kl] and
    [`variational_renyi`][jaxdiv.mixture.variational_renyi]). Any family fits
    samples by forward KL (maximum likelihood). `renyi` and `alpha` tend to
    forward-KL behaviour as $\alpha \to 0$; $\alpha = 1$ is reverse KL.

    The optimiser updates a mixture's unconstrained values
    ([`GaussianMixture.unconstrained`][jaxdiv.mixture.GaussianMixture.unconstrained])
    and a family member's stored leaves (location and log-scale for the
    Gaussians). A list of starting models runs them side by side under
    `jax.vmap` (restarts, each with its own key). Each fit stops after
    `steps` steps, when `stopping` says its loss has stopped falling, or at a
    non-finite loss or gradient (it keeps the last finite parameters and is
    marked `diverged`). The whole fit is compiled once per configuration
    (the same `optimizer` object and options reuse the program) and can itself
    run inside `jax.jit`.

    Args:
      model: the starting distribution, a `GaussianMixture` or a member of a
        `jaxdiv.expfam` family with batch shape `()`; or a list of them of one
        type and shape, one per restart.
      target: a distribution (a `GaussianMixture` or a family member); samples
        `[N, *point_shape]` in the model's point shape (`[N]` or `[N, 1]` for
        a `Normal` model); or a function from points to log-densities (the
        normalising constant may be missing: it shifts the loss, not the
        fit), taking points in the model's point shape.
      divergence: `"forward_kl"`, `"reverse_kl"`, `"renyi"` or `"alpha"`.
      optimizer: any optax transformation, for example
        `optax.adam(optax.cosine_decay_schedule(0.05, steps))`.
      steps: the largest number of optimiser steps, an integer >= 1.
      key: a PRNG key, `jax.random.key(seed)`: same key, same fit.
      alpha: the order, a finite number > 0, for `"renyi"` and `"alpha"` only.
      num_samples: Monte Carlo draws per step (per component for a mixture
        model; from the target for `"forward_kl"` with a distribution target).
      stopping: a [`Plateau`][jaxdiv.fit.Plateau] rule, or None to run all steps.
      num_eval_samples: draws for the Monte Carlo true KLs of the result
        (Gaussians in more than one dimension).

    Returns:
      A [`FitResult`][jaxdiv.fit.FitResult]: the fitted model, the loss at
      each step, the steps taken, whether each fit converged or diverged, and
      both KLs between the fit and the target where the target is a
      distribution the fit can be compared with.

    Raises:
      ValueError: for an unknown `divergence`, `alpha` missing or out of
        range (or given to a KL), counts below 1, a target that cannot serve
        the divergence (a log-density for forward KL, samples for the others),
        a non-Gaussian model to be fitted by sampling, or shapes that do not
        fit together.
      TypeError: for a model, optimiser, stopping rule or key of the wrong type.

    Examples:
      >>> import jax, optax
      >>> from jaxdiv import expfam, fit
      >>> target = expfam.Normal.from_mean_std(2.0, 0.5)
      >>> start = expfam.Normal.from_mean_std(0.0, 1.0)
      >>> result = fit.fit(start, target, divergence="forward_kl",
      ...                  optimizer=optax.adam(0.05), steps=500, key=jax.random.key(0))
      >>> round(float(result.model.loc), 3), round(float(result.model.std), 3)
      (2.0, 0.5)

    References:
      Minka, "Divergence measures and message passing", Microsoft Research
      technical report MSR-TR-2005-173, 2005. Li and Turner, "Renyi
      divergence variational inference", NeurIPS 2016.
    """
    if divergence not in DIVERGENCES:
        raise ValueError(
            f"jaxdiv.{_FN}: divergence must be one of {DIVERGENCES}, got {divergence!r}."
        )
    a = _check_alpha(divergence, alpha)
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            f"jaxdiv.{_FN}: optimizer must be an optax transformation such as "
            f"optax.adam(1e-2), got {type(optimizer).__name__}."
        )
    if stopping is not None and not isinstance(stopping, Plateau):
        raise TypeError(
            f"jaxdiv.{_FN}: stopping must be a jaxdiv.fit.Plateau or None, got "
            f"{type(stopping).__name__}."
        )
    steps = val.positive_int("steps", steps, fn=_FN)
    num_samples = val.positive_int("num_samples", num_samples, fn=_FN)
    num_eval_samples = val.positive_int("num_eval_samples", num_eval_samples, fn=_FN)
    key = _check_key(key)
    batched = isinstance(model, list | tuple)
    if isinstance(model, list | tuple):
        first, params = model[0] if model else None, _stack(model)
    else:
        _check_model(model)
        first, params = model, _to_params(model)
    kind = _target_kind(target)
    if kind == "samples":
        target = jnp.asarray(target)
        if target.ndim < 1 or target.shape[0] < 1 or not jnp.issubdtype(target.dtype, jnp.number):
            raise ValueError(
                f"jaxdiv.{_FN}: samples must be a numeric array [N, ...] with N >= 1, got "
                f"shape {target.shape} and dtype {target.dtype}."
            )
        obj.to_model_points(first, target, fn=_FN)
    _check_route(divergence, kind, first, target)
    if callable(target) and kind == "log_density" and divergence != "forward_kl":
        obj.function_point_shape(target, first, fn_name=_FN)  # a clear error, before tracing
    spec = obj.Spec(
        divergence=divergence,
        alpha=a,
        target_kind=kind,
        log_density=obj.Static(target) if kind == "log_density" else None,
        num_samples=num_samples,
        num_eval_samples=num_eval_samples,
    )
    return _fit_compiled(
        params,
        None if kind == "log_density" else target,
        key,
        spec=spec,
        optimizer=obj.Static(optimizer),
        steps=steps,
        stopping=stopping,
        batched=batched,
    )
