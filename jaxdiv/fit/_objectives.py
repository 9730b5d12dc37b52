"""The objective of a fit and the true divergences of its result, chosen from the argument types.

Three routes, decided at trace time from the types of the model and the target:

* **exact**: model and target are members of the same exponential family, so
  every divergence has a closed form through the log-normalizer;
* **Gaussian**: the model is a Gaussian (`Normal`, `MultivariateNormalDiag`,
  `MultivariateNormal`) or a `GaussianMixture`, viewed as a mixture over points
  `[..., d]`; forward KL is the negative log-likelihood of target samples, the
  other divergences are reparameterised Monte Carlo estimates through
  `jaxdiv.mixture`'s objectives;
* **likelihood**: any other family, forward KL only, as the negative
  log-likelihood of target samples under the model's own `log_prob`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp

from jaxdiv import expfam, mixture
from jaxdiv.mixture import GaussianMixture

Divergence = Literal["forward_kl", "reverse_kl", "renyi", "alpha"]
DIVERGENCES: tuple[str, ...] = ("forward_kl", "reverse_kl", "renyi", "alpha")
"""The objectives [`fit`][jaxdiv.fit.fit] accepts as `divergence`."""
TargetKind = Literal["distribution", "samples", "log_density"]

_GAUSSIANS = (expfam.Normal, expfam.MultivariateNormalDiag, expfam.MultivariateNormal)


class Static:
    """Wraps a Python object so that it can be a static `jit` argument, compared by identity.

    Callables and optax transformations may hold arrays (a bound `log_prob`
    of a family member), which do not hash; identity is what the jit cache
    needs: the same object passed again reuses the compiled program.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other) -> bool:
        return isinstance(other, Static) and other.value is self.value


@dataclasses.dataclass(frozen=True)
class Spec:
    """Everything about a fit that shapes the compiled program (a static `jit` argument)."""

    divergence: Divergence
    alpha: float | None
    target_kind: str
    log_density: Static | None
    num_samples: int
    num_eval_samples: int


def is_gaussian(d: Any) -> bool:
    """Whether `d` is a Gaussian or a Gaussian mixture (the reparameterised route)."""
    return isinstance(d, (GaussianMixture, *_GAUSSIANS))


def same_family(model: Any, target: Any) -> bool:
    """Whether model and target are members of one exponential family (the exact route)."""
    return (
        isinstance(model, expfam.ExponentialFamily)
        and type(model) is type(target)
        and model.static_parameters() == target.static_parameters()
    )


def event_shape(d: Any) -> tuple[int, ...] | None:
    """The shape of one point of `d` (`()` for a Normal), or None where it is not known."""
    if isinstance(d, GaussianMixture):
        return (d.dim,)
    if isinstance(d, expfam.Normal):
        return ()
    if isinstance(d, expfam.MultivariateNormalDiag | expfam.MultivariateNormal):
        return (d.dim,)
    return None


def dimension(d: Any) -> int:
    """`d` of a Gaussian or a mixture: the length of its points viewed as vectors."""
    shape = event_shape(d)
    return shape[0] if shape else 1


def as_mixture(d: Any) -> GaussianMixture:
    """A Gaussian as a one-component mixture over `[..., d]`, built from its stored parameters."""
    if isinstance(d, GaussianMixture):
        return d
    one = jnp.ones((1,), d.dtype)
    if isinstance(d, expfam.Normal):
        return GaussianMixture.univariate(one, d.loc[None], jnp.exp(d.log_std)[None])
    if isinstance(d, expfam.MultivariateNormalDiag):
        return GaussianMixture.diagonal(one, d.loc[None], jnp.exp(2 * d.log_std)[None])
    return GaussianMixture.from_scale_tril(one, d.mean()[None], d.scale_tril()[None])


def to_model_points(model: Any, x: jax.Array, *, fn: str) -> jax.Array:
    """Samples `[N, ...]` in the model's point shape; `[N, 1]` and `[N]` convert for d = 1."""
    shape = event_shape(model)
    if shape is None or x.shape[1:] == shape:
        return x
    if shape == () and x.shape[1:] == (1,):
        return x[:, 0]
    if shape == (1,) and x.ndim == 1:
        return x[:, None]
    raise ValueError(
        f"jaxdiv.{fn}: samples must have shape [N, *{shape}] for this model (points of shape "
        f"{shape}), got shape {x.shape}."
    )


def _log_density_on_vectors(spec: Spec, model: Any, target: Any) -> Callable:
    """The target's log-density as a function of points `[..., d]` (the mixture view).

    A function given by the user takes points in the model's own shape, or for
    a one-dimensional model either scalars or vectors of length 1
    (`function_point_shape`); a target that is not a Gaussian takes the
    model's.
    """
    if spec.log_density is not None:  # the target is a function
        fn = spec.log_density.value
        takes = function_point_shape(fn, model, fn_name="fit.fit")
    elif is_gaussian(target):
        fn, takes = target.log_prob, event_shape(target)
    else:
        fn, takes = target.log_prob, event_shape(model)
    if takes == ():
        return lambda x: fn(x[..., 0])
    return fn


def function_point_shape(fn: Callable, model: Any, *, fn_name: str) -> tuple[int, ...] | None:
    """The point shape a user's log-density takes: the model's own, or for a one-dimensional
    model either scalars or vectors of length 1 (a `GaussianMixture.log_prob` takes the
    latter), whichever maps a batch of 3 points to 3 values.

    Raises:
      ValueError: where neither does, naming the shapes tried.
    """
    shape = event_shape(model)
    if shape is None:  # not a Gaussian: its own point shape, which nothing here can check
        return None
    candidates = [shape] if shape not in ((), (1,)) else [(), (1,)]
    tried = []
    for points in candidates:
        probe = jax.ShapeDtypeStruct((3, *points), model.dtype)
        try:
            out = jax.eval_shape(fn, probe)
        except Exception as e:  # a function that rejects this shape: try the next
            tried.append(f"{probe.shape} -> {type(e).__name__}")
            continue
        if getattr(out, "shape", None) == (3,):
            return points
        tried.append(f"{probe.shape} -> {getattr(out, 'shape', type(out).__name__)}")
    raise ValueError(
        f"jaxdiv.{fn_name}: the target log-density must map points [N, *point_shape] to [N] "
        f"values, with point_shape {' or '.join(str(c) for c in candidates)} for this model; "
        f"tried {'; '.join(tried)}."
    )


def _amari_from_renyi(renyi: jax.Array, a: float) -> jax.Array:
    """Amari's alpha-divergence from the Renyi divergence of the same order and direction.

    Both are functions of $\\int q^\\alpha p^{1-\\alpha} = \\exp((\\alpha - 1) D^R_\\alpha)$.
    """
    return -jnp.expm1((a - 1) * renyi) / (a * (1 - a))


def _order(spec: Spec) -> float:
    """The order of a Renyi or alpha divergence; 1 (the KL limit) for the KLs."""
    return 1.0 if spec.alpha is None else spec.alpha


def _exact(spec: Spec, model: Any, target: Any) -> jax.Array:
    a = _order(spec)
    if spec.divergence == "forward_kl":
        return expfam.kl_divergence(target, model)
    if spec.divergence == "reverse_kl" or a == 1.0:
        return expfam.kl_divergence(model, target)
    renyi = expfam.renyi_divergence(model, target, alpha=a)
    return renyi if spec.divergence == "renyi" else _amari_from_renyi(renyi, a)


def loss(spec: Spec, model: Any, target: Any, key: jax.Array) -> jax.Array:
    """The objective at `model`, a scalar; `key` draws the Monte Carlo samples."""
    fn = "fit.fit"
    if spec.target_kind == "distribution" and same_family(model, target):
        return _exact(spec, model, target)
    if spec.divergence == "forward_kl":
        samples = spec.target_kind == "samples"
        x = target if samples else target.sample(key, (spec.num_samples,))
        x = to_model_points(model, x, fn=fn)
        if is_gaussian(model):
            return mixture.negative_log_likelihood(as_mixture(model), x.reshape(x.shape[0], -1))
        return -jnp.mean(model.log_prob(x))
    log_p = _log_density_on_vectors(spec, model, target)
    q, n, a = as_mixture(model), spec.num_samples, _order(spec)
    if spec.divergence == "reverse_kl" or a == 1.0:
        return mixture.reverse_kl(q, log_p, key, num_samples=n)
    renyi = mixture.variational_renyi(q, log_p, key, alpha=a, num_samples=n)
    return renyi if spec.divergence == "renyi" else _amari_from_renyi(renyi, a)


KlMethod = Literal["exact", "quadrature", "monte_carlo"]


def kl_method(spec: Spec, model: Any, target: Any) -> KlMethod | None:
    """How the true KLs of the result are computed, or None where they cannot be."""
    if spec.target_kind != "distribution":
        return None
    if same_family(model, target):
        return "exact"
    if is_gaussian(model) and is_gaussian(target):
        return "quadrature" if dimension(model) == 1 else "monte_carlo"
    return None


def true_kls(
    spec: Spec, model: Any, target: Any, key: jax.Array
) -> tuple[jax.Array | None, jax.Array | None]:
    """`(KL(target || model), KL(model || target))` at the fitted model, or Nones."""
    method = kl_method(spec, model, target)
    if method is None:
        return None, None
    if method == "exact":
        return expfam.kl_divergence(target, model), expfam.kl_divergence(model, target)
    p, q = as_mixture(target), as_mixture(model)
    if method == "quadrature":
        return (
            mixture.kl_divergence(p, q, method="quadrature"),
            mixture.kl_divergence(q, p, method="quadrature"),
        )
    k1, k2 = jax.random.split(key)
    n = spec.num_eval_samples
    return (
        mixture.kl_divergence(p, q, method="monte_carlo", key=k1, num_samples=n),
        mixture.kl_divergence(q, p, method="monte_carlo", key=k2, num_samples=n),
    )
