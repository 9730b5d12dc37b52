r"""Gauss-Kronrod quadrature shared by the mixtures and the numerical route.

* [`gauss_kronrod_15`][jaxdiv._quadrature.gauss_kronrod_15] and
  [`kronrod_estimates`][jaxdiv._quadrature.kronrod_estimates]: QUADPACK's 15-point rule with its
  embedded 7-point Gauss rule, and its per-panel error estimate;
* [`integrate`][jaxdiv._quadrature.integrate]: an adaptive integral over the real line, a
  half-line or an interval, mapped onto a finite interval of `t`, with a fixed-size array of
  panels (so it runs under `jit` and `vmap`) and gradients from the fixed rule on the final
  panels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv import _numerics as num

# The 15-point Gauss-Kronrod rule on [-1, 1] and its embedded 7-point Gauss rule (QUADPACK's
# qk15): nodes, Kronrod weights, and Gauss weights (0 at the nodes Gauss does not use).
_KRONROD_HALF_NODES = (
    0.991455371120812639206854697526329,
    0.949107912342758524526189684047851,
    0.864864423359769072789712788640926,
    0.741531185599394439863864773280788,
    0.586087235467691130294144845693013,
    0.405845151377397166906606412076961,
    0.207784955007898467600689403773245,
)
_KRONROD_HALF_WEIGHTS = (
    0.022935322010529224963732008058970,
    0.063092092629978553290700663189204,
    0.104790010322250183839876322541518,
    0.140653259715525918745189590510238,
    0.169004726639267902826583426598550,
    0.190350578064785409913256402421014,
    0.204432940075298892414161999234649,
)
_KRONROD_CENTRE_WEIGHT = 0.209482141084727828012999174891714
_GAUSS_HALF_WEIGHTS = (
    0.0,
    0.129484966168869693270611432679082,
    0.0,
    0.279705391489276667901467771423780,
    0.0,
    0.381830050505118944950369775488975,
    0.0,
)
_GAUSS_CENTRE_WEIGHT = 0.417959183673469387755102040816327


def gauss_kronrod_15() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes, Kronrod weights and embedded Gauss weights of the 15-point rule on [-1, 1]."""
    half = np.asarray(_KRONROD_HALF_NODES)
    nodes = np.concatenate([-half, [0.0], half[::-1]])
    kronrod = np.concatenate([_KRONROD_HALF_WEIGHTS, [_KRONROD_CENTRE_WEIGHT]])
    gauss = np.concatenate([_GAUSS_HALF_WEIGHTS, [_GAUSS_CENTRE_WEIGHT]])
    return nodes, np.concatenate([kronrod, kronrod[-2::-1]]), np.concatenate([gauss, gauss[-2::-1]])


def kronrod_estimates(
    kronrod: jax.Array, gauss: jax.Array, integrand: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Per-panel Kronrod values `[I]` and QUADPACK's error estimates for them.

    `kronrod` and `gauss` are the weights `[I, 15]` scaled to each panel, and
    `integrand` the values at its nodes. QUADPACK (qk15) scales the difference
    between the Kronrod and the Gauss values,
    `resasc * min(1, (200 |K - G| / resasc) ** 1.5)`, with `resasc` the
    integral of `|f - mean f|` over the panel: the raw difference is the error
    of the 7-point rule, far larger than that of the 15-point one.
    """
    value = jnp.sum(kronrod * integrand, axis=1)
    coarse = jnp.sum(gauss * integrand, axis=1)
    width = jnp.sum(kronrod, axis=1)
    mean = value / jnp.where(width > 0, width, 1)
    resasc = jnp.sum(kronrod * jnp.abs(integrand - mean[:, None]), axis=1)
    ratio = num.guard(resasc > 0, lambda d, r: 200 * d / r, jnp.abs(value - coarse), resasc)
    return value, resasc * jnp.minimum(1.0, ratio**1.5)


SupportKind = Literal["real", "lower", "upper", "interval"]


class Mapping(NamedTuple):
    """How `t` in `(-1, 1)` (`kind="real"`) or `(0, 1)` (the others) maps to `x`.

    * `"real"`: `x = center + scale t / (1 - t^2)`, the whole line;
    * `"lower"`: `x = lo + scale t / (1 - t)`, the half-line `(lo, inf)`;
    * `"upper"`: `x = hi - scale t / (1 - t)`, the half-line `(-inf, hi)`;
    * `"interval"`: `x = lo + (hi - lo) t`.

    `center` and `scale` place the bulk of the mass near the middle of the
    range of `t`; the integral does not depend on them.
    """

    kind: SupportKind
    lo: jax.Array
    hi: jax.Array
    center: jax.Array
    scale: jax.Array


def _t_range(kind: SupportKind) -> tuple[float, float]:
    return (-1.0, 1.0) if kind == "real" else (0.0, 1.0)


def to_x(m: Mapping, t: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The points `x(t)` and the Jacobian `|dx/dt|`."""
    if m.kind == "real":
        d = 1 - jnp.square(t)
        return m.center + m.scale * t / d, m.scale * (1 + jnp.square(t)) / jnp.square(d)
    if m.kind == "interval":
        return m.lo + (m.hi - m.lo) * t, jnp.broadcast_to(m.hi - m.lo, t.shape)
    d = 1 - t
    y, jac = m.scale * t / d, m.scale / jnp.square(d)
    return (m.lo + y, jac) if m.kind == "lower" else (m.hi - y, jac)


def to_t(m: Mapping, x: jax.Array) -> jax.Array:
    """The inverse map `t(x)`, clipped to the range of `t` (points outside the support go to
    its ends)."""
    if m.kind == "real":
        y = (x - m.center) / m.scale
        return 2 * y / (1 + jnp.sqrt(1 + 4 * jnp.square(y)))
    if m.kind == "interval":
        return jnp.clip((x - m.lo) / (m.hi - m.lo), 0.0, 1.0)
    y = (x - m.lo) / m.scale if m.kind == "lower" else (m.hi - x) / m.scale
    y = jnp.maximum(y, 0.0)
    return jnp.where(jnp.isinf(y), 1.0, y / (1 + y))


class Integral(NamedTuple):
    """An integral, QUADPACK's estimate of its absolute error, and whether that estimate met
    the tolerance."""

    value: jax.Array
    error: jax.Array
    converged: jax.Array


Integrand = Callable[[Any, jax.Array], jax.Array]


def _panels(
    integrand: Integrand, params: Any, m: Mapping, a: jax.Array, b: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Kronrod values, error estimates and `int |f|` of the panels `[a, b]` (in `t`)."""
    nodes, kw, gw = (jnp.asarray(w, a.dtype) for w in gauss_kronrod_15())
    mid, half = 0.5 * (a + b), 0.5 * (b - a)
    # Empty panels (the unused ones sit at an end of the range, where x is infinite) are
    # evaluated inside the range instead, with weight 0.
    mid = jnp.where(half > 0, mid, 0.5 * sum(_t_range(m.kind)) + 0.25)
    t = mid[:, None] + half[:, None] * nodes[None, :]
    x, jac = to_x(m, t)
    fx = jnp.reshape(integrand(params, jnp.ravel(x)), t.shape)
    # Where f vanishes (a tail beyond the range of the floats) the Jacobian may be huge: 0.
    g = num.guard(fx != 0, jnp.multiply, fx, jac)
    # An empty panel counts 0 even where f is infinite at its stand-in nodes (0 * inf is NaN).
    g = jnp.where(half[:, None] > 0, g, 0.0)
    kron, gauss = half[:, None] * kw[None], half[:, None] * gw[None]
    value, error = kronrod_estimates(kron, gauss, g)
    return value, error, jnp.sum(kron * jnp.abs(g), axis=1)


def _freeze(leaf: Any) -> Any:
    """`stop_gradient` of an array leaf; other leaves (an object that is not a pytree) as they
    are."""
    if isinstance(leaf, jax.Array | np.ndarray | float | int):
        return jax.lax.stop_gradient(leaf)
    return leaf


def integrate(
    integrand: Integrand,
    params: Any,
    mapping: Mapping,
    breakpoints: jax.Array,
    *,
    rtol: float,
    max_subdivisions: int,
    initial_panels: int = 8,
) -> Integral:
    r"""$\int f(x) \, dx$ over the support of `mapping`, by adaptive Gauss-Kronrod panels.

    `integrand(params, x)` gives `f` at a 1-D array of points. The initial
    panels cut the range of `t` at `initial_panels + 1` even points and at
    `breakpoints` (points in `x`, such as each density's center and its
    center plus or minus a few scales, so that a narrow peak is never missed
    between the nodes). Then, at most `max_subdivisions` times, the panel with
    the largest error estimate is bisected, until the total estimate is below
    `rtol |value|` (or below the rounding floor, 50 eps of `int |f|`). The
    array of panels has a fixed size, so the loop runs under `jit` and `vmap`.

    The adaptive decisions see `params` through `stop_gradient`; the value
    returned is the fixed rule on the final panels applied to `params`
    itself, so gradients are those of that rule (the derivative of the
    integral to the rule's accuracy) and flow through `integrand` only.
    """
    lo_t, hi_t = _t_range(mapping.kind)
    m = Mapping(mapping.kind, *(jax.lax.stop_gradient(v) for v in mapping[1:]))
    dtype = jnp.result_type(m.center)
    even = jnp.linspace(lo_t, hi_t, initial_panels + 1, dtype=dtype)
    cuts = jnp.clip(
        to_t(m, jnp.ravel(jax.lax.stop_gradient(breakpoints)).astype(dtype)), lo_t, hi_t
    )
    cuts = jnp.where(jnp.isnan(cuts), lo_t, cuts)
    edges = jnp.sort(jnp.concatenate([even, cuts]))
    n0 = edges.shape[0] - 1
    pad = jnp.full((max_subdivisions,), hi_t, dtype)
    a = jnp.concatenate([edges[:-1], pad])
    b = jnp.concatenate([edges[1:], pad])
    frozen = jax.tree.map(_freeze, params)
    eps = float(jnp.finfo(dtype).eps)

    def done(value: jax.Array, error: jax.Array, absolute: jax.Array) -> jax.Array:
        total, err = jnp.sum(value), jnp.sum(error)
        floor = 50 * eps * jnp.sum(absolute)
        return (err <= rtol * jnp.abs(total)) | (err <= floor) | ~jnp.isfinite(total)

    def cond(state: tuple) -> jax.Array:
        i, _, _, value, error, absolute = state
        return (i < max_subdivisions) & ~done(value, error, absolute)

    def body(state: tuple) -> tuple:
        i, a, b, value, error, absolute = state
        j = jnp.argmax(error)
        mid = 0.5 * (a[j] + b[j])
        new_a, new_b = jnp.stack([a[j], mid]), jnp.stack([mid, b[j]])
        v, e, s = _panels(integrand, frozen, m, new_a, new_b)
        k = n0 + i
        a, b = a.at[j].set(new_a[0]).at[k].set(new_a[1]), b.at[j].set(new_b[0]).at[k].set(new_b[1])
        value = value.at[j].set(v[0]).at[k].set(v[1])
        error = error.at[j].set(e[0]).at[k].set(e[1])
        absolute = absolute.at[j].set(s[0]).at[k].set(s[1])
        return i + 1, a, b, value, error, absolute

    state = (jnp.zeros((), jnp.int32), a, b, *_panels(integrand, frozen, m, a, b))
    _, a, b, _, _, _ = jax.lax.while_loop(cond, body, state)
    a, b = jax.lax.stop_gradient(a), jax.lax.stop_gradient(b)
    value, error, absolute = _panels(integrand, params, m, a, b)
    converged = done(*jax.lax.stop_gradient((value, error, absolute)))
    total, error = jnp.sum(value), jax.lax.stop_gradient(jnp.sum(error))
    # An infinite integral (a density that is 0 where the other is not) is exact: no error.
    error = jnp.where(jnp.isinf(jax.lax.stop_gradient(total)), 0.0, error)
    return Integral(total, error, converged)
