"""One view of every distribution the numerical route accepts.

[`as_distribution`][jaxdiv.numerical._adapters.as_distribution] turns a jaxdiv family, a
`GaussianMixture`, a [`Density`][jaxdiv.numerical.Density] record, or a distrax, TensorFlow
Probability or NumPyro object (duck-typed: nothing is imported) into a `View`: the log-density
and the sampler on points of one canonical shape (`[n]` in one dimension, `[n, d]` in `d`),
the support in one dimension, and where the mass lies (points that the quadrature's first
panels are cut at).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv import expfam, mixture

Bound = float | jax.Array
#: Offsets, in scales, from a distribution's center at which the quadrature cuts its panels.
OFFSETS = (-16.0, -8.0, -4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0, 8.0, 16.0)
#: Fractions of a positive distribution's center, for the mass near 0.
FRACTIONS = (1e-4, 1e-3, 1e-2, 0.1, 0.5)


@dataclasses.dataclass(frozen=True)
class Density:
    r"""A one-dimensional density given by its log-density, for the numerical route.

    Anything with a `log_prob` method works with [`jaxdiv.numerical`][jaxdiv.numerical]; this
    record is for a density written as a function, such as a Student-t or a Cauchy:

    $$
    \log p(x) = \texttt{log\_prob}(x), \qquad x \in (\texttt{lo}, \texttt{hi}) .
    $$

    Attributes:
      log_prob: the normalised log-density, elementwise on an array of points.
      support: `(lo, hi)`, floats; `-inf` / `inf` for an unbounded side.
      loc: where the mass lies (a mode or a median), used to place the quadrature's panels.
      scale: the width of the bulk of the mass around `loc` (> 0).
      sample: optional `sample(key, shape)` returning draws of that shape, for Monte Carlo.

    A `Density` is a pytree whose leaves are `loc` and `scale`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import numerical
      >>> cauchy = numerical.Density(lambda x: -jnp.log(jnp.pi * (1 + x**2)))
      >>> float(jnp.exp(cauchy.log_prob(0.0)) * jnp.pi)
      1.0
    """

    log_prob: Callable[[jax.Array], jax.Array]
    support: tuple[float, float] = (-math.inf, math.inf)
    loc: jax.typing.ArrayLike = 0.0
    scale: jax.typing.ArrayLike = 1.0
    sample: Callable[[jax.Array, tuple[int, ...]], jax.Array] | None = None


jax.tree_util.register_dataclass(
    Density, data_fields=["loc", "scale"], meta_fields=["log_prob", "support", "sample"]
)


@dataclasses.dataclass(frozen=True)
class View:
    """A distribution as the numerical route sees it (see the module notes)."""

    name: str
    dim: int
    log_prob: Callable[[jax.Array], jax.Array]
    sample: Callable[[jax.Array, int], jax.Array] | None
    reparameterized: bool
    discrete: bool = False
    support: tuple[Bound, Bound] | None = None
    center: jax.Array | None = None
    scale: jax.Array | None = None
    breakpoints: jax.Array | None = None


def _name(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__.split('.')[0]}.{cls.__name__}"


def _f(x: Any, dtype: Any = None) -> jax.Array:
    return jnp.asarray(x, dtype)


def _real_points(center: jax.Array, scale: jax.Array) -> jax.Array:
    return center + scale * jnp.asarray(OFFSETS, center.dtype)


def _positive_points(center: jax.Array, scale: jax.Array) -> jax.Array:
    return jnp.concatenate([_real_points(center, scale), center * jnp.asarray(FRACTIONS)])


def _gaussian_locators(d: Any) -> tuple[jax.Array, jax.Array]:
    m1, m2 = d.mean_parameters()
    return jnp.ravel(m1)[0], jnp.sqrt(jnp.ravel(m2)[0] - jnp.square(jnp.ravel(m1)[0]))


def _family_layout(d: expfam.ExponentialFamily) -> tuple[tuple[Bound, Bound], jax.Array, jax.Array]:
    """Support, center and scale of the one-dimensional jaxdiv families (KeyError otherwise)."""
    inf = math.inf
    if isinstance(d, expfam.LogNormal):
        return (0.0, inf), jnp.exp(d.loc), d.std
    if isinstance(d, expfam.Normal):
        return (-inf, inf), d.loc, d.std
    if isinstance(d, expfam.MultivariateNormalDiag | expfam.MultivariateNormal):
        center, scale = _gaussian_locators(d)
        return (-inf, inf), center, scale
    if isinstance(d, expfam.Exponential):
        return (0.0, inf), 1 / d.rate, 1 / d.rate
    if isinstance(d, expfam.Gamma):
        a, b = d.concentration, d.rate
        return (0.0, inf), a / b, jnp.sqrt(a) / b
    if isinstance(d, expfam.Beta):
        a, b = d.a_m1 + 1, d.b_m1 + 1
        s = a + b
        return (0.0, 1.0), a / s, jnp.sqrt(a * b / (s * s * (s + 1)))
    if isinstance(d, expfam.VonMises):
        kappa = d.concentration
        return (-math.pi, math.pi), d.loc, jnp.minimum(math.pi, 1 / jnp.sqrt(kappa + 1e-12))
    return _scale_family_layout(d)


def _is(d: object, name: str) -> bool:
    cls = getattr(expfam, name, None)
    return cls is not None and isinstance(d, cls)


def _scale_family_layout(d: Any) -> tuple[tuple[Bound, Bound], jax.Array, jax.Array]:
    """The families of issue #16 (looked up by name, as not every one may be present)."""
    inf = math.inf
    if _is(d, "ChiSquare"):
        return (0.0, inf), d.df, jnp.sqrt(2 * d.df)
    if any(_is(d, name) for name in ("Weibull", "HalfNormal", "Rayleigh")):
        return (0.0, inf), d.scale, d.scale
    if _is(d, "Laplace"):
        return (-inf, inf), jnp.asarray(d.loc, d.dtype), d.scale
    if _is(d, "Pareto"):
        lo = float(d.scale)
        return (lo, inf), jnp.asarray(2 * lo, d.dtype), jnp.asarray(lo, d.dtype)
    raise KeyError(type(d).__name__)


DISCRETE_FAMILIES = (
    expfam.Bernoulli,
    expfam.Binomial,
    expfam.Categorical,
    expfam.Geometric,
    expfam.Poisson,
)
_NOT_REPARAMETERIZED = (expfam.VonMises, *DISCRETE_FAMILIES)


def _family_view(d: expfam.ExponentialFamily, fn: str, role: str) -> View:
    if d.batch_shape != ():
        raise ValueError(
            f"jaxdiv.{fn}: {role} is a {type(d).__name__} with batch shape {d.batch_shape}; "
            "the numerical routes take one distribution at a time: map over a batch with "
            "jax.vmap."
        )
    event = _event_shape_of_family(d)
    dim = math.prod(event)
    layout = None
    if dim == 1:
        try:
            layout = _family_layout(d)
        except KeyError:
            layout = None

    def log_prob(x: jax.Array) -> jax.Array:
        return d.log_prob(jnp.reshape(x, x.shape[:1] + event))

    def sample(key: jax.Array, n: int) -> jax.Array:
        return _canonical(d.sample(key, (n,)), n, dim)

    view = View(
        name=f"jaxdiv.expfam.{type(d).__name__}",
        dim=dim,
        log_prob=log_prob,
        sample=sample,
        reparameterized=not isinstance(d, _NOT_REPARAMETERIZED),
        discrete=isinstance(d, DISCRETE_FAMILIES),
    )
    if layout is None:
        return view
    support, center, scale = layout
    return _located(view, support, center, scale)


def _event_shape_of_family(d: expfam.ExponentialFamily) -> tuple[int, ...]:
    if isinstance(d, expfam.MultivariateNormalDiag | expfam.MultivariateNormal):
        return (d.dim,)
    if isinstance(d, expfam.Dirichlet):
        return tuple(d.concentration.shape[-1:])
    if isinstance(d, expfam.Categorical | expfam.Wishart):
        return (2, 2)  # more than one dimension: only Monte Carlo and closed forms apply
    return ()


def _canonical(x: jax.Array, n: int, dim: int) -> jax.Array:
    return jnp.reshape(x, (n,) if dim == 1 else (n, dim))


def _located(view: View, support: tuple[Bound, Bound], center: Any, scale: Any) -> View:
    center = jnp.asarray(center)
    center = jnp.where(jnp.isfinite(center), center, 0.0)
    scale = jnp.asarray(scale, center.dtype)
    scale = jnp.where(jnp.isfinite(scale) & (scale > 0), scale, 1.0)
    lo, _ = support
    positive = not (isinstance(lo, float) and math.isinf(lo))
    points = _positive_points(center, scale) if positive else _real_points(center, scale)
    return dataclasses.replace(
        view, support=support, center=center, scale=scale, breakpoints=points
    )


def _mixture_view(d: mixture.GaussianMixture) -> View:
    dim = d.dim

    def log_prob(x: jax.Array) -> jax.Array:
        return d.log_prob(jnp.reshape(x, (x.shape[0], dim)))

    def sample(key: jax.Array, n: int) -> jax.Array:
        return _canonical(d.sample(key, (n,)), n, dim)

    view = View("jaxdiv.mixture.GaussianMixture", dim, log_prob, sample, reparameterized=True)
    if dim != 1:
        return view
    means, stds = d.means[:, 0], jnp.abs(d.scale_tril[:, 0, 0])
    view = _located(view, (-math.inf, math.inf), d.mean()[0], jnp.sqrt(d.covariance()[0, 0]))
    points = jnp.ravel(means[:, None] + stds[:, None] * jnp.asarray(OFFSETS, means.dtype)[None, :])
    assert view.breakpoints is not None
    return dataclasses.replace(view, breakpoints=jnp.concatenate([view.breakpoints, points]))


def _density_view(d: Density) -> View:
    user_sample = d.sample

    def log_prob(x: jax.Array) -> jax.Array:
        return jnp.asarray(d.log_prob(x))

    sample = None
    if user_sample is not None:

        def sample(key: jax.Array, n: int) -> jax.Array:
            return jnp.reshape(user_sample(key, (n,)), (n,))

    view = View("jaxdiv.numerical.Density", 1, log_prob, sample, reparameterized=True)
    lo, hi = (float(b) for b in d.support)
    return _located(view, (lo, hi), d.loc, d.scale)


# Supports of the common foreign families, by class name (distrax, TFP and NumPyro agree).
_REAL = {"Normal", "StudentT", "Cauchy", "Laplace", "Logistic", "Gumbel", "MultivariateNormalDiag"}
_POSITIVE = {
    "Gamma",
    "Exponential",
    "LogNormal",
    "HalfNormal",
    "HalfCauchy",
    "HalfStudentT",
    "Chi2",
    "Chi",
    "InverseGamma",
    "Weibull",
    "Rayleigh",
    "InverseGaussian",
    "LogLogistic",
}
_UNIT = {"Beta", "Kumaraswamy"}


def _foreign_support(d: Any) -> tuple[Bound, Bound] | None:
    """The support from NumPyro's constraint or the class name; None where unknown."""
    constraint = getattr(d, "support", None)
    # NumPyro's constraints are callable objects (a check of a value), not methods.
    if constraint is not None and not inspect.ismethod(constraint):
        kind = type(constraint).__name__
        lower = getattr(constraint, "lower_bound", None)
        upper = getattr(constraint, "upper_bound", None)
        if kind == "_Real":
            return (-math.inf, math.inf)
        if lower is not None and upper is not None:
            return (_f(lower), _f(upper))
        if lower is not None:
            return (_f(lower), math.inf)
        if upper is not None:
            return (-math.inf, _f(upper))
    name = type(d).__name__
    if name in _REAL:
        return (-math.inf, math.inf)
    if name in _POSITIVE:
        return (0.0, math.inf)
    if name in _UNIT:
        return (0.0, 1.0)
    if name == "Uniform":
        return (_f(d.low), _f(d.high))
    return None


def _moment(d: Any, name: str) -> jax.Array | None:
    """`d.mean()` / `d.stddev()` (TFP, distrax) or the `mean` / `variance` properties (NumPyro),
    where the object has them and they are scalar."""
    try:
        if name == "mean":
            m = d.mean
            value = m() if callable(m) else m
        else:
            s = getattr(d, "stddev", None)
            if callable(s):
                value = s()
            else:
                v = d.variance
                value = jnp.sqrt(v() if callable(v) else v)
        value = jnp.asarray(value)
    except Exception:  # a distribution without that moment (a Cauchy's mean)
        return None
    return value if value.size == 1 else None


def _flat_shape(shape: Any) -> tuple[int, ...] | None:
    """`shape` as a tuple of ints, or None where it is a structure of shapes (a joint
    distribution's list or dict of its parts' shapes)."""
    try:
        dims = tuple(shape)
    except TypeError:
        return None
    if not all(isinstance(n, int | np.integer) for n in dims):
        return None
    return tuple(int(n) for n in dims)


def _foreign_view(d: Any, fn: str, role: str) -> View:
    name = _name(d)
    shapes = [_flat_shape(getattr(d, a, ())) for a in ("batch_shape", "event_shape")]
    if any(shape is None for shape in shapes):
        raise TypeError(
            f"jaxdiv.{fn}: {role} is a {name}, a joint distribution whose parts have shapes "
            f"{getattr(d, 'event_shape', None)!r}; the numerical routes take one distribution "
            "over an array (a jaxdiv family or GaussianMixture, a Density, or a distrax, TFP or "
            "NumPyro distribution with array events): pass each part, or a Density of the "
            "joint log_prob over a flattened vector."
        )
    batch = tuple(getattr(d, "batch_shape", ()))
    if batch != ():
        raise ValueError(
            f"jaxdiv.{fn}: {role} is a {name} with batch shape {batch}; the numerical routes "
            "take one distribution at a time: map over a batch with jax.vmap."
        )
    event = tuple(getattr(d, "event_shape", ()))
    dim = math.prod(event)
    module = type(d).__module__

    dtype = getattr(d, "dtype", None)
    point_dtype = dtype if dtype is not None and jnp.issubdtype(dtype, jnp.floating) else None

    def log_prob(x: jax.Array) -> jax.Array:
        # TFP refuses points of another float type than its parameters.
        x = x if point_dtype is None else x.astype(point_dtype)
        return jnp.asarray(d.log_prob(jnp.reshape(x, x.shape[:1] + event)))

    def sample(key: jax.Array, n: int) -> jax.Array:
        if module.startswith("numpyro"):
            draws = d.sample(key, (n,))
        else:  # TFP and distrax take the key as `seed`
            draws = d.sample(sample_shape=(n,), seed=key)
        return _canonical(jnp.asarray(draws), n, dim)

    reparameterized = True
    if hasattr(d, "has_rsample"):
        reparameterized = bool(d.has_rsample)
    elif hasattr(d, "reparameterization_type"):
        reparameterized = "FULLY_REPARAMETERIZED" in str(d.reparameterization_type)
    discrete = False
    dtype = getattr(d, "dtype", None)
    if dtype is not None:
        try:
            discrete = not jnp.issubdtype(np.dtype(dtype), jnp.inexact)
        except TypeError:
            discrete = False
    if getattr(d, "is_discrete", False) is True:
        discrete = True
    view = View(name, dim, log_prob, sample, reparameterized, discrete=discrete)
    support = _foreign_support(d) if dim == 1 and not discrete else None
    if support is None:
        return view
    center = _moment(d, "mean")
    scale = _moment(d, "stddev")
    if center is None or not _maybe_finite(center):
        center = getattr(d, "loc", None)
    if scale is None or not _maybe_finite(scale):
        scale = getattr(d, "scale", None)
    lo = support[0]
    default = 0.0 if isinstance(lo, float) and math.isinf(lo) else jnp.asarray(lo) + 1.0
    center = jnp.reshape(jnp.asarray(default if center is None else center, float), ())
    scale = jnp.reshape(jnp.asarray(1.0 if scale is None else scale, center.dtype), ())
    return _located(view, support, center, scale)


def _maybe_finite(x: jax.Array) -> bool:
    """False only when `x` is concretely not finite (a traced value may be anything)."""
    try:
        return bool(jnp.all(jnp.isfinite(x)))
    except jax.errors.ConcretizationTypeError:
        return True


def foreign_mixture_as_gaussian(d: object) -> object:
    """A distrax, TFP or NumPyro `MixtureSameFamily` of Gaussians as a `GaussianMixture`
    (by [`jaxdiv.mixture.from_distribution`][jaxdiv.mixture.from_distribution]); anything
    else, and a mixture that it does not convert (other components, a batch), as it is."""
    if not any(cls.__name__ == "MixtureSameFamily" for cls in type(d).__mro__):
        return d
    try:
        return mixture.from_distribution(d)
    except (TypeError, ValueError):
        return d


def as_distribution(d: object, *, fn: str, role: str) -> View:
    """`d` as a [`View`][jaxdiv.numerical._adapters.View] (TypeError for an object without
    `log_prob`)."""
    d = foreign_mixture_as_gaussian(d)
    if isinstance(d, Density):
        return _density_view(d)
    if isinstance(d, mixture.GaussianMixture):
        return _mixture_view(d)
    if isinstance(d, expfam.ExponentialFamily):
        return _family_view(d, fn, role)
    if callable(getattr(d, "log_prob", None)):
        return _foreign_view(d, fn, role)
    raise TypeError(
        f"jaxdiv.{fn}: {role} must be a distribution with a log_prob method (a jaxdiv family "
        "or GaussianMixture, a distrax, TensorFlow Probability or NumPyro distribution, or a "
        f"jaxdiv.numerical.Density), got {type(d).__name__}."
    )


def with_support(view: View, support: tuple[float, float] | None) -> View:
    """`view` with the support given by the user (one dimension), if any."""
    if support is None:
        return view
    lo, hi = (float(b) for b in support)
    if view.center is not None and view.scale is not None:
        center, scale = view.center, view.scale
    else:
        center = jnp.asarray(0.0 if math.isinf(lo) else lo + 1.0)
        scale = jnp.asarray(1.0)
    return _located(view, (lo, hi), center, scale)


def restricted_log_prob(view: View) -> Callable[[jax.Array], jax.Array]:
    """`log_prob` that is `-inf` outside the support, evaluated only inside it (no NaN from a
    density asked about a point it does not cover, nor in its gradient)."""
    assert view.support is not None and view.center is not None and view.scale is not None
    lo, hi = view.support
    center = jax.lax.stop_gradient(view.center)
    scale = jax.lax.stop_gradient(view.scale)
    lo_open, hi_open = (isinstance(b, float) and math.isinf(b) for b in (lo, hi))
    if lo_open and hi_open:
        interior = center
    elif hi_open:
        interior = jnp.asarray(lo) + scale
    elif lo_open:
        interior = jnp.asarray(hi) - scale
    else:
        interior = 0.5 * (jnp.asarray(lo) + jnp.asarray(hi))
    interior = jax.lax.stop_gradient(interior)

    def log_prob(x: jax.Array) -> jax.Array:
        inside = (x > lo) & (x < hi)
        safe = jnp.where(inside, x, interior.astype(x.dtype))
        lp = view.log_prob(safe)
        return jnp.where(inside, lp, -jnp.inf)

    return log_prob
