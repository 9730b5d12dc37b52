r"""Entropy, cross-entropy, KL, Renyi and f-divergences for any pair, by three routes.

Every function takes `method`:

* `"closed_form"`: [`jaxdiv.expfam`][jaxdiv.expfam] for two members of one family, after
  lifting across families where one contains the other (Exponential and ChiSquare in Gamma,
  Beta in Dirichlet, Normal in the diagonal and full Gaussians), Weibull against Gamma, a
  one-component mixture as its Gaussian, and foreign objects converted by
  `jaxdiv.expfam.from_distribution` where it knows them;
* `"quadrature"`: one dimension, adaptive Gauss-Kronrod on the support mapped onto a finite
  interval (`jaxdiv._quadrature.integrate`);
* `"monte_carlo"`: draws from `p`, with the standard error of the mean;
* `"auto"`: the first of these that applies (Monte Carlo then needs `key`).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any, Literal, NamedTuple, get_args

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv import _numerics as num
from jaxdiv import _quadrature as quad
from jaxdiv import _validation as val
from jaxdiv import expfam, mixture
from jaxdiv._f_generators import FGenerator, GeneratorName, generator
from jaxdiv.numerical import _adapters as ad
from jaxdiv.numerical._closed_forms import Quantity, closed_form, composite_parts, convert

Method = Literal["auto", "closed_form", "quadrature", "monte_carlo"]
METHODS: tuple[Method, ...] = get_args(Method)
Estimator = Literal["k1", "k3"]
ESTIMATORS: tuple[Estimator, ...] = get_args(Estimator)
DEFAULT_NUM_SAMPLES = 4096
DEFAULT_MAX_SUBDIVISIONS = 200


class Estimate(NamedTuple):
    """A value and an estimate of its error, from `return_error=True`.

    Attributes:
      value: the divergence (or entropy), in nats.
      error: the quadrature's own estimate of its absolute error, or the Monte Carlo standard
        error; 0 for a closed form.

    Examples:
      >>> from jaxdiv import expfam, numerical
      >>> p, q = expfam.Normal.from_mean_std(0.0, 1.0), expfam.Normal.from_mean_std(1.0, 1.0)
      >>> est = numerical.kl_divergence(p, q, return_error=True)
      >>> float(est.value), float(est.error)
      (0.5, 0.0)
    """

    value: jax.Array
    error: jax.Array


def _default_rtol(dtype: Any) -> float:
    # float32: QUADPACK's estimate is dominated by rounding well above 1e-5 on sharp peaks.
    return 1e-10 if jnp.finfo(dtype).bits >= 64 else 1e-4


class _Options(NamedTuple):
    fn: str
    method: Method
    key: jax.Array | None
    num_samples: int
    support: tuple[float, float] | None
    rtol: float | None
    max_subdivisions: int


class _Integral(NamedTuple):
    """Which integral the quadrature computes: static and hashable, so that it keys the cache
    of the compiled quadrature program."""

    quantity: Literal["kl", "cross_entropy", "entropy", "renyi", "f"]
    alpha: float = 1.0
    #: f_divergence's `(f, alpha, t, slope_at_infinity)`, as the user gave them.
    f: tuple[Any, float | None, float | None, float] | None = None
    #: kl_divergence's Monte Carlo estimator (`"k1"` or `"k3"`); the quadrature ignores it.
    estimator: Estimator = "k1"


def _options(
    fn: str,
    method: Any,
    key: Any,
    num_samples: Any,
    support: Any,
    rtol: Any,
    max_subdivisions: Any,
) -> _Options:
    fn = f"numerical.{fn}"
    if method not in METHODS:
        raise ValueError(f"jaxdiv.{fn}: method must be one of {METHODS}, got {method!r}.")
    n = (
        DEFAULT_NUM_SAMPLES
        if num_samples is None
        else val.positive_int("num_samples", num_samples, fn=fn)
    )
    if n < 2:
        raise ValueError(
            f"jaxdiv.{fn}: num_samples must be >= 2 (the standard error needs two draws), "
            f"got {num_samples!r}."
        )
    if support is not None:
        try:
            lo, hi = (val.concrete_float("support", b, fn=fn) for b in support)
        except (TypeError, ValueError):
            raise TypeError(
                f"jaxdiv.{fn}: support must be a pair of numbers (lo, hi), got {support!r}."
            ) from None
        if not lo < hi:
            raise ValueError(f"jaxdiv.{fn}: support must have lo < hi, got {support!r}.")
        support = (lo, hi)
    if rtol is not None:
        rtol = val.finite_float("rtol", rtol, fn=fn, positive=True)
    subdivisions = val.positive_int("max_subdivisions", max_subdivisions, fn=fn)
    if key is not None:
        key = _check_key(key, fn)
    return _Options(fn, method, key, n, support, rtol, subdivisions)


def _check_key(key: object, fn: str) -> jax.Array:
    if isinstance(key, jax.Array | np.ndarray):
        dtype = key.dtype
        if jnp.issubdtype(dtype, jax.dtypes.prng_key) or (
            dtype == jnp.uint32 and key.shape[-1:] == (2,)
        ):
            return jnp.asarray(key)
    raise TypeError(
        f"jaxdiv.{fn}: key must be a PRNG key from jax.random.key(seed), got {type(key).__name__}."
    )


# ----------------------------------------------------------------------------- routing


def _names(p: object, q: object | None) -> str:
    if q is None:
        return type(p).__name__
    return f"{type(p).__name__} and {type(q).__name__}"


def _views(p: object, q: object | None, opts: _Options) -> tuple[ad.View, ad.View | None]:
    pv = ad.with_support(ad.as_distribution(p, fn=opts.fn, role="p"), opts.support)
    if q is None:
        return pv, None
    qv = ad.with_support(ad.as_distribution(q, fn=opts.fn, role="q"), opts.support)
    if pv.dim != qv.dim:
        raise ValueError(
            f"jaxdiv.{opts.fn}: p ({pv.name}) has dimension {pv.dim} but q ({qv.name}) has "
            f"dimension {qv.dim}."
        )
    return pv, qv


def _no_quadrature(views: tuple[ad.View, ...]) -> str | None:
    """Why the quadrature cannot integrate these, or None if it can."""
    for v in views:
        if v.dim != 1:
            return f"{v.name} has dimension {v.dim} and the quadrature is one-dimensional"
        if v.discrete:
            return f"{v.name} is discrete and the quadrature integrates densities"
        if v.support is None:
            return (
                f"the support of {v.name} is not known: pass support=(lo, hi) (floats, "
                "-inf / inf for an unbounded side)"
            )
    return None


def _route(
    quantity: Quantity,
    p: object,
    q: object | None,
    opts: _Options,
    *,
    alpha: float = 1.0,
    integral: _Integral,
    closed: bool = True,
) -> quad.Integral:
    method = opts.method
    # A foreign MixtureSameFamily of Gaussians becomes a GaussianMixture (a pytree, with a
    # known support and a cached compiled program).
    p = ad.foreign_mixture_as_gaussian(p)
    q = None if q is None else ad.foreign_mixture_as_gaussian(q)
    if method in ("auto", "closed_form") and closed:
        # Other libraries' objects are converted eagerly (a conversion may need concrete
        # parameters, such as a Binomial's count); the closed form is compiled, as the
        # numerical routes are, with the families as arguments.
        # Composites both members share (Independents, Samples, the same bijector): the
        # inner pair's value, summed over the reinterpreted axes and times the draws.
        pc, qc = convert(p), None if q is None else convert(q)
        n, k = 0, 1
        if not _all_families(pc, qc) and (q is None or _event_shape(p) == _event_shape(q)):
            pi, qi, n, k = composite_parts(quantity, p, q)
            pc, qc = convert(pi), None if qi is None else convert(qi)
        value = None
        if _all_families(pc, qc):
            value = _closed_form_program(pc, qc, quantity=quantity, alpha=alpha)
            if value is not None and n > 0:
                value = jnp.sum(value, axis=tuple(range(-n, 0)))
            if value is not None and k != 1:
                value = k * value
        if value is not None:
            return quad.Integral(value, jnp.zeros_like(value), jnp.ones((), bool))
    if method == "closed_form":
        raise ValueError(
            f"jaxdiv.{opts.fn}: no closed form for {_names(p, q)}; use method='quadrature' "
            "(one dimension), 'monte_carlo' or 'auto'."
        )
    pv, qv = _views(p, q, opts)
    views = (pv,) if qv is None else (pv, qv)
    reason = _no_quadrature(views)
    if method == "quadrature" and reason is not None:
        raise ValueError(f"jaxdiv.{opts.fn}: method='quadrature' does not apply: {reason}.")
    # Each numerical route runs as one compiled program (eagerly, op-by-op dispatch of the
    # quadrature's hundreds of small operations costs several times more).
    static = opts._replace(method="quadrature", key=None, num_samples=DEFAULT_NUM_SAMPLES)
    if method == "quadrature" or (method == "auto" and reason is None):
        quadrature = integral._replace(estimator="k1")
        result = _compiled(
            p,
            q,
            lambda: _quadrature_program(p, q, integral=quadrature, opts=static),
            lambda: _by_quadrature(quadrature, p, q, pv, qv, opts),
        )
        _check_accuracy(result, opts.fn)
        return result
    if opts.key is None:
        why = (
            "method='monte_carlo' needs"
            if method == "monte_carlo"
            else f"method='auto' found no closed form for {_names(p, q)} and no quadrature "
            f"({reason}), so it falls back to Monte Carlo, which needs"
        )
        raise ValueError(f"jaxdiv.{opts.fn}: {why} a PRNG key: pass key=jax.random.key(seed).")
    for v in views:
        if v.sample is None:
            raise ValueError(
                f"jaxdiv.{opts.fn}: Monte Carlo draws from p, but {v.name} has no sampler."
            )
    key, sampled = opts.key, static._replace(method="monte_carlo", num_samples=opts.num_samples)
    return _compiled(
        p,
        q,
        lambda: _monte_carlo_program(p, q, key, integral=integral, opts=sampled),
        lambda: _by_monte_carlo(integral, pv, qv, key, opts.num_samples),
    )


#: The tree structures of other libraries' distributions whose methods need concrete
#: parameters (a count read as a Python int, say): they are compiled per call instead.
_NEEDS_CONSTANTS: set[Any] = set()


def _all_families(p: object, q: object | None) -> bool:
    return all(isinstance(d, expfam.ExponentialFamily) for d in (p, q) if d is not None)


def _event_shape(d: object) -> tuple[int, ...] | None:
    shape = getattr(d, "event_shape", None)
    try:
        return None if shape is None else tuple(int(k) for k in shape)
    except TypeError:
        return None


def _is_jaxdiv(d: object) -> bool:
    return d is None or isinstance(
        d, ad.Density | mixture.GaussianMixture | expfam.ExponentialFamily
    )


def _structure(d: object) -> Any | None:
    """The tree structure of `d` when `d` can be an argument of a module-level compiled
    program (a pytree of arrays and numbers, with a hashable structure), else None."""
    leaves, structure = jax.tree.flatten(d)
    if not leaves or not all(
        isinstance(x, jax.Array | np.ndarray | np.generic | float | int) for x in leaves
    ):
        return None
    try:
        hash(structure)
    except TypeError:
        return None
    return structure


def _compiled(
    p: object, q: object | None, program: Callable[[], Any], constants: Callable[[], Any]
) -> Any:
    """`program()`, a module-level compiled program taking the distributions as arguments, so
    that repeated calls with the same structures and shapes reuse its compilation; where a
    distribution is not a pytree of arrays (or its methods need concrete parameters), the same
    computation compiled with the distributions as constants (`constants`, compiled anew per
    call)."""
    if _is_jaxdiv(p) and _is_jaxdiv(q):
        return program()
    foreign = [_structure(d) for d in (p, q) if not _is_jaxdiv(d)]
    if all(s is not None and s not in _NEEDS_CONSTANTS for s in foreign):
        try:
            return program()
        except jax.errors.JAXTypeError:  # a tracer where the object needs a concrete value
            _NEEDS_CONSTANTS.update(foreign)
    return jax.jit(constants)()


@functools.partial(jax.jit, static_argnames=("quantity", "alpha"))
def _closed_form_program(p: Any, q: Any, *, quantity: Quantity, alpha: float) -> jax.Array | None:
    return closed_form(quantity, p, q, alpha=alpha)


@functools.partial(jax.jit, static_argnames=("integral", "opts"))
def _quadrature_program(p: Any, q: Any, *, integral: _Integral, opts: _Options) -> quad.Integral:
    """The quadrature route as one compiled program, cached on the static `integral` and
    `opts` and on the distributions' structure and shapes (not rebuilt per call)."""
    pv, qv = _views(p, q, opts)
    return _by_quadrature(integral, p, q, pv, qv, opts)


@functools.partial(jax.jit, static_argnames=("integral", "opts"))
def _monte_carlo_program(
    p: Any, q: Any, key: jax.Array, *, integral: _Integral, opts: _Options
) -> quad.Integral:
    """The Monte Carlo route as one compiled program: the key and the distributions'
    parameters are arguments, so a new key or new parameters reuse the compilation."""
    pv, qv = _views(p, q, opts)
    return _by_monte_carlo(integral, pv, qv, key, opts.num_samples)


def _finish(result: quad.Integral, return_error: bool) -> jax.Array | Estimate:
    if return_error:
        return Estimate(result.value, result.error)
    return result.value


# ----------------------------------------------------------------------------- quadrature


def _hull(views: tuple[ad.View, ...]) -> tuple[ad.Bound, ad.Bound]:
    """The smallest interval holding every support."""
    los, his = [v.support[0] for v in views], [v.support[1] for v in views]  # type: ignore[index]

    def extreme(bounds: list[ad.Bound], infinite: float, pick: Callable) -> ad.Bound:
        if any(isinstance(b, float) and b == infinite for b in bounds):
            return infinite
        out = jnp.asarray(bounds[0])
        for b in bounds[1:]:
            out = pick(out, jnp.asarray(b))
        return out

    return extreme(los, -math.inf, jnp.minimum), extreme(his, math.inf, jnp.maximum)


def _mapping(first: ad.View, bounds: tuple[ad.Bound, ad.Bound]) -> quad.Mapping:
    """A map of `bounds` whose middle falls on the first view's bulk of mass."""
    assert first.center is not None and first.scale is not None
    center, scale = first.center, first.scale
    lo, hi = bounds
    lo_open = isinstance(lo, float) and math.isinf(lo)
    hi_open = isinstance(hi, float) and math.isinf(hi)
    dtype = center.dtype
    lo_a = jnp.asarray(-jnp.inf if lo_open else lo, dtype)
    hi_a = jnp.asarray(jnp.inf if hi_open else hi, dtype)
    if lo_open and hi_open:
        return quad.Mapping("real", lo_a, hi_a, center, scale)
    if hi_open:
        s = jnp.where(center - lo_a > 0, center - lo_a, scale)
        return quad.Mapping("lower", lo_a, hi_a, center, s)
    if lo_open:
        s = jnp.where(hi_a - center > 0, hi_a - center, scale)
        return quad.Mapping("upper", lo_a, hi_a, center, s)
    return quad.Mapping("interval", lo_a, hi_a, center, scale)


def _quadrature(
    integrand: Callable[[Callable, Callable | None, jax.Array], jax.Array],
    p: object,
    q: object | None,
    pv: ad.View,
    qv: ad.View | None,
    opts: _Options,
    *,
    over_both: bool,
) -> quad.Integral:
    """`int integrand(log p, log q, x) dx` over p's support (or over the hull of both)."""
    views = (pv,) if qv is None or not over_both else (pv, qv)
    mapping = _mapping(pv, _hull(views))
    breaks = [v.breakpoints for v in ((pv,) if qv is None else (pv, qv))]
    dtype = mapping.center.dtype
    breakpoints = jnp.concatenate([jnp.ravel(b).astype(dtype) for b in breaks if b is not None])
    support = opts.support

    def f(params: tuple[object, object | None], x: jax.Array) -> jax.Array:
        dp, dq = params
        vp = ad.with_support(ad.as_distribution(dp, fn=opts.fn, role="p"), support)
        log_p = ad.restricted_log_prob(vp)
        if dq is None:
            return integrand(log_p, None, x)
        vq = ad.with_support(ad.as_distribution(dq, fn=opts.fn, role="q"), support)
        return integrand(log_p, ad.restricted_log_prob(vq), x)

    # The default tolerance follows the least precise log-density (a float32 TFP object
    # against a float64 jaxdiv family cannot reach a float64 tolerance).
    everyone = (pv,) if qv is None else (pv, qv)
    dtypes = [jax.eval_shape(v.log_prob, breakpoints).dtype for v in everyone]
    rtol = opts.rtol if opts.rtol is not None else max(_default_rtol(d) for d in dtypes)
    return quad.integrate(
        f, (p, q), mapping, breakpoints, rtol=rtol, max_subdivisions=opts.max_subdivisions
    )


def _check_accuracy(result: quad.Integral, fn: str) -> None:
    """A `RuntimeWarning`, in eager mode, where the quadrature missed its tolerance."""
    if any(isinstance(x, jax.core.Tracer) for x in result):
        return
    if not bool(result.converged):
        warnings.warn(
            f"jaxdiv.{fn}: the quadrature's error estimate {float(result.error):.3g} exceeds "
            f"rtol of the value {float(result.value):.6g} after all its subdivisions; raise "
            "max_subdivisions, or use return_error=True to see the estimate.",
            RuntimeWarning,
            stacklevel=4,
        )


def _density_times(log_p: jax.Array, g: jax.Array) -> jax.Array:
    """`exp(log_p) g`, 0 (with zero gradients) where `p = 0` whatever `g` holds there (also
    where `p` underflows to 0 in a tail: there `g` may be infinite, where `q = 0` too)."""
    return num.guard(jnp.exp(log_p) > 0, lambda lp, v: jnp.exp(lp) * v, log_p, g)


def _kl_integrand(log_p: Callable, log_q: Callable | None, x: jax.Array) -> jax.Array:
    assert log_q is not None
    lp, lq = log_p(x), log_q(x)
    return _density_times(lp, num.guard(jnp.isfinite(lp), jnp.subtract, lp, lq))


def _cross_entropy_integrand(log_p: Callable, log_q: Callable | None, x: jax.Array) -> jax.Array:
    assert log_q is not None
    lp, lq = log_p(x), log_q(x)
    return _density_times(lp, num.guard(jnp.isfinite(lp), jnp.negative, lq))


def _entropy_integrand(log_p: Callable, _: Callable | None, x: jax.Array) -> jax.Array:
    lp = log_p(x)
    return _density_times(lp, num.guard(jnp.isfinite(lp), jnp.negative, lp))


def _by_quadrature(
    integral: _Integral, p: Any, q: Any, pv: ad.View, qv: ad.View | None, opts: _Options
) -> quad.Integral:
    """The quadrature of `integral` (see `_Integral`) between `p` and `q` (their views)."""
    if integral.quantity == "kl":
        return _quadrature(_kl_integrand, p, q, pv, qv, opts, over_both=False)
    if integral.quantity == "cross_entropy":
        return _quadrature(_cross_entropy_integrand, p, q, pv, qv, opts, over_both=False)
    if integral.quantity == "entropy":
        return _quadrature(_entropy_integrand, p, None, pv, None, opts, over_both=False)
    if integral.quantity == "renyi":
        return _renyi_by_quadrature(integral.alpha, p, q, pv, qv, opts)
    assert integral.f is not None
    gen = _as_generator(*integral.f, "numerical.f_divergence")
    return _f_by_quadrature(gen, p, q, pv, qv, opts)


def _renyi_by_quadrature(
    a: float, p: Any, q: Any, pv: ad.View, qv: ad.View | None, opts: _Options
) -> quad.Integral:
    assert qv is not None and pv.center is not None and qv.center is not None
    # Shift the log-integrand by its value where either density is centred, so that the
    # integral of exp(...) neither overflows nor underflows.
    centres = jnp.stack([pv.center, qv.center.astype(pv.center.dtype)])
    both = a * pv.log_prob(centres) + (1 - a) * qv.log_prob(centres)
    shift = jax.lax.stop_gradient(jnp.max(jnp.where(jnp.isfinite(both), both, -jnp.inf)))
    shift = jnp.where(jnp.isfinite(shift), shift, 0.0)

    def integrand(log_p: Callable, log_q: Callable | None, x: jax.Array) -> jax.Array:
        assert log_q is not None
        lp, lq = log_p(x), log_q(x)
        # Where p = 0 the term is 0; where q = 0 < p it is 0 (alpha < 1) or inf (alpha > 1).
        both_ok = jnp.isfinite(lp) & jnp.isfinite(lq)
        inner = num.guard(both_ok, lambda u, v: jnp.exp(a * u + (1 - a) * v - shift), lp, lq)
        only_p = jnp.isfinite(lp) & ~jnp.isfinite(lq)
        return jnp.where(only_p, 0.0 if a < 1 else jnp.inf, inner)

    total = _quadrature(integrand, p, q, pv, qv, opts, over_both=True)
    value = (num.safe_log(total.value) + shift) / (a - 1)
    error = total.error / (jnp.abs(total.value) * abs(a - 1))
    return quad.Integral(value, error, total.converged)


def _f_by_quadrature(
    gen: FGenerator, p: Any, q: Any, pv: ad.View, qv: ad.View | None, opts: _Options
) -> quad.Integral:
    def integrand(log_p: Callable, log_q: Callable | None, x: jax.Array) -> jax.Array:
        assert log_q is not None
        lp, lq = log_p(x), log_q(x)
        # Where a density underflows to 0 it counts as 0 (the generators' limits take over).
        fp, fq = jnp.exp(lp) > 0, jnp.exp(lq) > 0
        both = num.guard(fp & fq, lambda u, v: gen.perspective(jnp.exp(u), jnp.exp(v)), lp, lq)
        only_q = _density_times(jnp.where(fq & ~fp, lq, -jnp.inf), jnp.asarray(gen.f_at_zero))
        only_p = _density_times(
            jnp.where(fp & ~fq, lp, -jnp.inf), jnp.asarray(gen.slope_at_infinity)
        )
        return both + only_q + only_p

    return _quadrature(integrand, p, q, pv, qv, opts, over_both=True)


# ----------------------------------------------------------------------------- Monte Carlo


def _draws(pv: ad.View, key: jax.Array, n: int) -> jax.Array:
    assert pv.sample is not None
    x = pv.sample(key, n)
    return x if pv.reparameterized else jax.lax.stop_gradient(x)


def _mean_and_error(terms: jax.Array, log_p: jax.Array, reparameterized: bool) -> quad.Integral:
    """The sample mean of `terms` and its standard error. Where the draws are not
    reparameterised, the score-function term `E[terms grad log p]` joins the gradient (the
    value is unchanged)."""
    n = terms.shape[0]
    mean = jnp.mean(terms)
    error = jnp.std(jax.lax.stop_gradient(terms), ddof=1) / math.sqrt(n)
    if not reparameterized:
        centred = jax.lax.stop_gradient(terms - mean)
        mean = mean + jnp.mean(centred * (log_p - jax.lax.stop_gradient(log_p)))
    return quad.Integral(mean, error, jnp.ones((), bool))


def _finite_or_inf(x: jax.Array) -> jax.Array:
    return jnp.where(jnp.isnan(x), jnp.inf, x)


def _by_monte_carlo(
    integral: _Integral, pv: ad.View, qv: ad.View | None, key: jax.Array, n: int
) -> quad.Integral:
    """The Monte Carlo estimate of `integral` (see `_Integral`) from `n` draws of `p`."""
    x = _draws(pv, key, n)
    lp = pv.log_prob(x)
    if integral.quantity == "entropy":
        return _mean_and_error(-lp, lp, pv.reparameterized)
    assert qv is not None
    lq = qv.log_prob(x)
    if integral.quantity == "cross_entropy":
        return _mean_and_error(_finite_or_inf(-lq), lp, pv.reparameterized)
    if integral.quantity == "kl":
        log_r = _finite_or_inf(lp - lq)  # -log r
        terms = log_r if integral.estimator == "k1" else jnp.expm1(-log_r) + log_r
        return _mean_and_error(terms, lp, pv.reparameterized)
    if integral.quantity == "renyi":
        a = integral.alpha
        log_w = (a - 1) * _finite_or_inf(lp - lq)
        shift = jax.lax.stop_gradient(jnp.max(log_w))
        mean = _mean_and_error(jnp.exp(log_w - shift), lp, pv.reparameterized)
        value = (jnp.log(mean.value) + shift) / (a - 1)
        return quad.Integral(value, mean.error / (mean.value * abs(a - 1)), mean.converged)
    assert integral.f is not None
    gen = _as_generator(*integral.f, "numerical.f_divergence")
    fq = jnp.isfinite(lq)
    # (q / p) f(p / q) = perspective(p, q) / p, and f'(inf) where q = 0.
    ratio = num.guard(fq, lambda u, v: gen.perspective(jnp.ones_like(u), jnp.exp(v - u)), lp, lq)
    terms = jnp.where(fq, ratio, gen.slope_at_infinity)
    return _mean_and_error(terms, lp, pv.reparameterized)


# ----------------------------------------------------------------------------- public API


def kl_divergence(
    p: Any,
    q: Any,
    *,
    method: Method = "auto",
    key: jax.Array | None = None,
    num_samples: int | None = None,
    return_error: bool = False,
    estimator: Estimator = "k1",
    support: tuple[float, float] | None = None,
    rtol: float | None = None,
    max_subdivisions: int = DEFAULT_MAX_SUBDIVISIONS,
) -> jax.Array | Estimate:
    r"""KL(p || q) between any two distributions with `log_prob`, in nats.

    $$
    \mathrm{KL}(p \,\|\, q) = \int p(x) \log \frac{p(x)}{q(x)} \, dx
    $$

    `p` and `q` may be [`jaxdiv.expfam`][jaxdiv.expfam] members, a
    [`GaussianMixture`][jaxdiv.mixture.GaussianMixture], a [`Density`][jaxdiv.numerical.Density],
    or distrax, TensorFlow Probability (JAX substrate) and NumPyro distributions (anything with
    `log_prob`, and `sample` for Monte Carlo), one distribution each (map over batches with
    `jax.vmap`; closed forms also take batches). The routes (`method`):

    * `"closed_form"`: exact, within a family or across the families that contain one another
      (Exponential and ChiSquare in Gamma, Beta in Dirichlet, Normal in the Gaussians), and
      Weibull against Gamma;
    * `"quadrature"`: one dimension only. Adaptive 15-point Gauss-Kronrod panels on the support
      of `p` mapped onto a finite interval (`x = c + s t / (1 - t^2)` on the line,
      `x = lo + s t / (1 - t)` on a half-line), with the first cuts at each distribution's
      center plus or minus up to 16 scales, so that narrow peaks (a std of 1e-3 against 10) and
      heavy tails (Student-t, Cauchy) are found; then up to `max_subdivisions` bisections of
      the panel with the largest error estimate, until the estimate is below
      `rtol |KL|`. It agrees with `scipy.integrate.quad` to 1e-8 relative in float64 on such
      pairs. Where it does not reach `rtol` it warns (eagerly) and `return_error=True` shows
      the estimate. Gradients are those of the rule on the final panels.
    * `"monte_carlo"`: `num_samples` draws `x ~ p` (reparameterised where the sampler allows,
      with a score-function term otherwise) and, with `r = q(x) / p(x)`, the estimator `"k1"`
      (the mean of `-log r`) or `"k3"` (the mean of `r - 1 - log r`, never negative); both are
      unbiased. The error is the standard error of the mean (an honest one for `"k3"` only
      where `r` has a finite variance under `p`: not where `q` has heavier tails than `p`).
      A `GaussianMixture`'s draws are reparameterised within their components, so its
      weights get no gradient from them. Needs `key`.
    * `"auto"`: the closed form where there is one, else the quadrature in one dimension, else
      Monte Carlo.

    Args:
      p: the first distribution.
      q: the second distribution, of the same dimension.
      method: `"auto"`, `"closed_form"`, `"quadrature"` or `"monte_carlo"`.
      key: a PRNG key, for Monte Carlo.
      num_samples: Monte Carlo draws (default 4096).
      return_error: return an [`Estimate`][jaxdiv.numerical.Estimate] `(value, error)`.
      estimator: `"k1"` or `"k3"`, for Monte Carlo.
      support: `(lo, hi)` for one-dimensional distributions whose support is not known (or to
        integrate over a narrower range).
      rtol: the quadrature's relative tolerance (default 1e-10 in float64, 1e-4 in float32).
      max_subdivisions: the quadrature's budget of bisections.

    Returns:
      A scalar, or an `Estimate` with `return_error=True`.

    Raises:
      ValueError: an unknown method or estimator; `"closed_form"` for a pair with none;
        `"quadrature"` for a multivariate or discrete pair or an unknown support; Monte Carlo
        (chosen, or reached by `"auto"`) without `key`; dimensions that differ.
      TypeError: an object without `log_prob`, or a key that is not a PRNG key.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> from jaxdiv import expfam, numerical
      >>> p = expfam.Exponential.from_rate(2.0)
      >>> q = expfam.Gamma.from_shape_rate(2.0, 1.0)
      >>> exact = numerical.kl_divergence(p, q)  # closed form, through Gamma(1, 2)
      >>> by_quadrature = numerical.kl_divergence(p, q, method="quadrature")
      >>> round(float(exact), 5), round(float(by_quadrature), 5)
      (1.46351, 1.46351)
      >>> cauchy = numerical.Density(lambda x: -jnp.log(jnp.pi * (1 + x**2)))
      >>> est = numerical.kl_divergence(expfam.Normal.from_mean_std(0.0, 1.0), cauchy,
      ...                               return_error=True)
      >>> round(float(est.value), 4), bool(est.error < 1e-4)
      (0.2592, True)

    References:
      R. Piessens et al., QUADPACK, 1983 (the Gauss-Kronrod rule and its error estimate);
      J. Schulman, "Approximating KL divergence", 2020 (k1, k3).
    """
    if estimator not in ESTIMATORS:
        raise ValueError(
            f"jaxdiv.numerical.kl_divergence: estimator must be one of {ESTIMATORS}, got "
            f"{estimator!r}."
        )
    opts = _options("kl_divergence", method, key, num_samples, support, rtol, max_subdivisions)

    result = _route("kl", p, q, opts, integral=_Integral("kl", estimator=estimator))
    return _finish(result, return_error)


def cross_entropy(
    p: Any,
    q: Any,
    *,
    method: Method = "auto",
    key: jax.Array | None = None,
    num_samples: int | None = None,
    return_error: bool = False,
    support: tuple[float, float] | None = None,
    rtol: float | None = None,
    max_subdivisions: int = DEFAULT_MAX_SUBDIVISIONS,
) -> jax.Array | Estimate:
    r"""Cross-entropy H(p, q) between any two distributions with `log_prob`, in nats.

    $$
    H(p, q) = -\int p(x) \log q(x) \, dx = H(p) + \mathrm{KL}(p \,\|\, q)
    $$

    The routes, arguments and errors are those of
    [`kl_divergence`][jaxdiv.numerical.kl_divergence]; Monte Carlo averages `-log q(x)` over
    draws `x ~ p`. A differential cross-entropy can be negative.

    Examples:
      >>> from jaxdiv import expfam, numerical
      >>> p = expfam.Normal.from_mean_std(0.0, 1.0)
      >>> q = expfam.Normal.from_mean_std(1.0, 1.0)
      >>> h = numerical.cross_entropy(p, q)
      >>> round(float(h - numerical.entropy(p)), 6)  # = KL(p || q)
      0.5
    """
    opts = _options("cross_entropy", method, key, num_samples, support, rtol, max_subdivisions)

    result = _route(
        "cross_entropy",
        p,
        q,
        opts,
        integral=_Integral("cross_entropy"),
    )
    return _finish(result, return_error)


def entropy(
    p: Any,
    *,
    method: Method = "auto",
    key: jax.Array | None = None,
    num_samples: int | None = None,
    return_error: bool = False,
    support: tuple[float, float] | None = None,
    rtol: float | None = None,
    max_subdivisions: int = DEFAULT_MAX_SUBDIVISIONS,
) -> jax.Array | Estimate:
    r"""Entropy H(p) of any distribution with `log_prob`, in nats (differential for densities).

    $$
    H(p) = -\int p(x) \log p(x) \, dx
    $$

    The routes, arguments and errors are those of
    [`kl_divergence`][jaxdiv.numerical.kl_divergence]; Monte Carlo averages `-log p(x)` over
    draws `x ~ p`.

    Examples:
      >>> import jax
      >>> import jax.numpy as jnp
      >>> from jaxdiv import mixture, numerical
      >>> p = mixture.GaussianMixture.univariate(jnp.array([0.5, 0.5]), jnp.array([-5.0, 5.0]),
      ...                                        jnp.ones(2))
      >>> h = numerical.entropy(p)  # no closed form: quadrature in one dimension
      >>> round(float(h), 4)  # two far-apart unit Gaussians: H(N(0, 1)) + log 2
      2.1121
      >>> mc = numerical.entropy(p, method="monte_carlo", key=jax.random.key(0),
      ...                        return_error=True)
      >>> bool(abs(mc.value - h) < 4 * mc.error)
      True
    """
    opts = _options("entropy", method, key, num_samples, support, rtol, max_subdivisions)
    result = _route("entropy", p, None, opts, integral=_Integral("entropy"))
    return _finish(result, return_error)


def renyi_divergence(
    p: Any,
    q: Any,
    *,
    alpha: float,
    method: Method = "auto",
    key: jax.Array | None = None,
    num_samples: int | None = None,
    return_error: bool = False,
    support: tuple[float, float] | None = None,
    rtol: float | None = None,
    max_subdivisions: int = DEFAULT_MAX_SUBDIVISIONS,
) -> jax.Array | Estimate:
    r"""Renyi divergence of order `alpha` between any two distributions, in nats.

    $$
    D_\alpha(p \,\|\, q) = \frac{1}{\alpha - 1} \log \int p(x)^\alpha q(x)^{1 - \alpha} \, dx
    $$

    `alpha = 1` is [`kl_divergence`][jaxdiv.numerical.kl_divergence]. The quadrature integrates
    over the union of both supports; Monte Carlo is the consistent (slightly biased) estimator
    $\frac{1}{\alpha - 1} \log \frac1n \sum_i (p(x_i) / q(x_i))^{\alpha - 1}$ with
    $x_i \sim p$, and its error the delta-method standard error. The other arguments are those
    of [`kl_divergence`][jaxdiv.numerical.kl_divergence].

    Args:
      p: the first distribution.
      q: the second distribution.
      alpha: the order, a concrete number > 0.
      method: the route (see [`kl_divergence`][jaxdiv.numerical.kl_divergence]).
      key: a PRNG key, for Monte Carlo.
      num_samples: Monte Carlo draws (default 4096).
      return_error: return an [`Estimate`][jaxdiv.numerical.Estimate].
      support: `(lo, hi)` where the support is not known.
      rtol: the quadrature's relative tolerance, on the integral.
      max_subdivisions: the quadrature's budget of bisections.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import expfam, numerical
      >>> p = expfam.Normal.from_mean_std(0.0, 1.0)
      >>> laplace = numerical.Density(lambda x: -jnp.abs(x - 1.0) - jnp.log(2.0), loc=1.0)
      >>> d = numerical.renyi_divergence(p, laplace, alpha=2.0)  # by quadrature
      >>> round(float(d), 4)
      0.693
    """
    fn = "numerical.renyi_divergence"
    a = val.finite_float("alpha", alpha, fn=fn, positive=True)
    if a == 1.0:
        return kl_divergence(
            p,
            q,
            method=method,
            key=key,
            num_samples=num_samples,
            return_error=return_error,
            support=support,
            rtol=rtol,
            max_subdivisions=max_subdivisions,
        )
    opts = _options("renyi_divergence", method, key, num_samples, support, rtol, max_subdivisions)

    result = _route(
        "renyi",
        p,
        q,
        opts,
        alpha=a,
        integral=_Integral("renyi", alpha=a),
    )
    return _finish(result, return_error)


def _as_generator(
    f: Any, alpha: float | None, t: float | None, slope: float, fn: str
) -> FGenerator:
    if isinstance(f, str):
        return generator(f, alpha=alpha, t=t, fn=f"jaxdiv.{fn}")
    if not callable(f):
        raise TypeError(
            f"jaxdiv.{fn}: f must be a generator name or a callable, got {type(f).__name__}."
        )
    if alpha is not None or t is not None:
        raise ValueError(f"jaxdiv.{fn}: alpha= and t= go with a generator name, not a callable.")
    slope = val.concrete_float("slope_at_infinity", slope, fn=fn)
    f0 = f(jnp.zeros(()))
    if not isinstance(f0, jax.core.Tracer) and bool(jnp.isnan(f0)):
        raise ValueError(
            f"jaxdiv.{fn}: f(0) is NaN; define f at 0 by its limit, or pass the generator's "
            "name (such as 'kl_forward'), which has its limits built in."
        )
    f0 = float(f0) if not isinstance(f0, jax.core.Tracer) else math.inf

    def perspective(u: jax.Array, v: jax.Array) -> jax.Array:
        return v * f(u / v)

    return FGenerator("callable", f, perspective, f0, slope, -math.inf, -math.inf)


def _static_generator_arguments(
    f: Any, alpha: Any, t: Any, slope: Any
) -> tuple[Any, float | None, float | None, float]:
    """f_divergence's generator arguments as plain hashable values (already validated)."""
    alpha = None if alpha is None else float(alpha)
    t = None if t is None else float(t)
    return f, alpha, t, float(slope) if callable(f) else math.inf


def f_divergence(
    p: Any,
    q: Any,
    f: GeneratorName | Callable[[jax.Array], jax.Array],
    *,
    alpha: float | None = None,
    t: float | None = None,
    slope_at_infinity: float = math.inf,
    method: Literal["auto", "quadrature", "monte_carlo"] = "auto",
    key: jax.Array | None = None,
    num_samples: int | None = None,
    return_error: bool = False,
    support: tuple[float, float] | None = None,
    rtol: float | None = None,
    max_subdivisions: int = DEFAULT_MAX_SUBDIVISIONS,
) -> jax.Array | Estimate:
    r"""Csiszar f-divergence between any two distributions with `log_prob`, in nats.

    $$
    D_f(p \,\|\, q) = \int_{q > 0} q(x)\, f\!\left(\frac{p(x)}{q(x)}\right) dx
        + f'(\infty) \int_{q = 0} p(x) \, dx
    $$

    `f` is a generator name of [`jaxdiv.f_divergence`][jaxdiv.f_divergence] (`"kl_forward"`,
    `"jensen_shannon"`, `"squared_hellinger"`, `"total_variation"`, `"amari_alpha"` with
    `alpha=`, `"t_power"` with `t=`, ...), with its limits built in, or a convex callable with
    `f(1) = 0`, defined at 0 by its limit, and `slope_at_infinity` its $f'(\infty)$.
    `"auto"` takes the quadrature in one dimension (over the union of both supports, with
    $q f(0)$ where $p = 0$) and Monte Carlo otherwise: draws $x \sim p$ averaging
    $f(r) / r$ with $r = p(x) / q(x)$, which misses the part $\int_{p = 0} q f(0)$ where only
    `q` has mass. There is no closed-form route. The other arguments are those of
    [`kl_divergence`][jaxdiv.numerical.kl_divergence].

    Args:
      p: the first distribution.
      q: the second distribution.
      f: a generator name or a callable.
      alpha: the order of `"amari_alpha"`.
      t: the exponent of `"t_power"`.
      slope_at_infinity: $f'(\infty)$ of a callable `f` (a name carries its own).
      method: `"auto"`, `"quadrature"` or `"monte_carlo"`.
      key: a PRNG key, for Monte Carlo.
      num_samples: Monte Carlo draws (default 4096).
      return_error: return an [`Estimate`][jaxdiv.numerical.Estimate].
      support: `(lo, hi)` where the support is not known.
      rtol: the quadrature's relative tolerance.
      max_subdivisions: the quadrature's budget of bisections.

    Examples:
      >>> import math
      >>> from jaxdiv import expfam, numerical
      >>> p = expfam.Normal.from_mean_std(0.0, 1.0)
      >>> q = expfam.Normal.from_mean_std(2.0, 1.0)
      >>> tv = numerical.f_divergence(p, q, "total_variation")
      >>> round(float(tv) - math.erf(1 / math.sqrt(2)), 8)  # 2 Phi(1) - 1
      0.0
    """
    fn = "numerical.f_divergence"
    if method not in ("auto", "quadrature", "monte_carlo"):
        raise ValueError(
            f"jaxdiv.{fn}: method must be 'auto', 'quadrature' or 'monte_carlo' (there is no "
            f"closed-form route), got {method!r}."
        )
    _as_generator(f, alpha, t, slope_at_infinity, fn)  # checks f eagerly, with its messages
    opts = _options("f_divergence", method, key, num_samples, support, rtol, max_subdivisions)

    result = _route(
        "kl",
        p,
        q,
        opts,
        integral=_Integral("f", f=_static_generator_arguments(f, alpha, t, slope_at_infinity)),
        closed=False,
    )
    return _finish(result, return_error)
