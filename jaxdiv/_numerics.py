"""Numerical guards: one helper for each boundary case, all gradient-safe.

The where-gradient trap: `jnp.where(p == 0, 0, p * jnp.log(p))` has the right
value but a NaN gradient at `p == 0`, because the gradient of the branch that
was not taken (`log(0) = -inf`) is multiplied by zero. `guard` is the
one remedy used throughout jaxdiv: it replaces the inputs by a safe value where
the condition fails *before* calling the function (the "double where"), so the
untaken branch never sees a bad input, and whatever it computes there is cut
off from the inputs' gradients by the inner `where`.

The other helpers are thin uses of `guard`:

* `safe_log` is `log` with `log(0) = -inf` and a zero gradient at 0;
* `mul_log` is `x * log_y` with `0 * log(0) = 0` and a zero gradient
  where `x == 0`, including where `log_y` is infinite;
* `safe_sqrt` is `sqrt` with a zero (not infinite) gradient at 0;
* `logsumexp` handles rows that are entirely `-inf` or hold `+inf`;
* `log_softmax` normalises over the unmasked entries only.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple, TypeVar

import jax
import jax.numpy as jnp

T = TypeVar("T")

#: `log(2 pi)`, the Gaussian log-density's constant.
LOG_2PI = math.log(2 * math.pi)


def guard(
    cond: jax.Array,
    fn: Callable[..., jax.Array],
    *args: jax.Array,
    safe: float = 1.0,
    otherwise: float = 0.0,
) -> jax.Array:
    """`fn(*args)` where `cond` holds, `otherwise` elsewhere, gradient-safe.

    `fn` must be elementwise. Where `cond` is false the arguments are
    replaced by `safe` before `fn` sees them, and the inner `where`
    discards any cotangent there, so those entries get an exactly zero gradient.

    The selects are `lax.select` against `lax.full_like`, not `jnp.where`
    with a scalar, so that reverse mode inside a loop does not turn the
    broadcast scalar into a full-size array that every iteration reads.
    """
    cond = jnp.asarray(cond)
    arrays = [jnp.asarray(a) for a in args]
    shape = jnp.broadcast_shapes(cond.shape, *(a.shape for a in arrays))
    cond = jnp.broadcast_to(cond, shape)
    safe_args = [_fill_where_not(cond, jnp.broadcast_to(a, shape), safe) for a in arrays]
    return _fill_where_not(cond, fn(*safe_args), otherwise)


def _fill_where_not(cond: jax.Array, x: jax.Array, fill: float) -> jax.Array:
    return jax.lax.select(cond, x, jax.lax.full_like(x, fill))


def safe_log(x: jax.Array) -> jax.Array:
    """`log(x)` with `log(0) = -inf` and a zero gradient at `x = 0`."""
    return guard(x > 0, jnp.log, x, otherwise=-jnp.inf)


def mul_log(x: jax.Array, log_y: jax.Array) -> jax.Array:
    """`x * log_y` with the convention `0 * log(0) = 0` (and `0 * log(inf) = 0`).

    Where `x == 0` the value is 0 and the gradient with respect to both
    arguments is 0, whatever `log_y` holds there.
    """
    return guard(x != 0, jnp.multiply, x, log_y)


def log_ratio(x: jax.Array, y: jax.Array, log_x: jax.Array, log_y: jax.Array) -> jax.Array:
    """`log(x / y)` from two non-negative numbers and their logs, accurate where x ≈ y.

    `log_x - log_y` loses the relative precision of a small difference (each
    logarithm carries an error of a few ulps of `|log x|`); within a factor
    of two `x - y` is exact, so `log1p((x - y) / y)` keeps it. Elsewhere,
    and where `y = 0`, the difference of the logs is used (`+inf` for
    `x > 0 = y`).
    """
    close = (y > 0) & (x >= 0.5 * y) & (x <= 2.0 * y)
    near = guard(close, lambda a, b: jnp.log1p((a - b) / b), x, y)
    return jax.lax.select(close, near, log_x - log_y)


def safe_sqrt(x: jax.Array) -> jax.Array:
    """`sqrt(x)` with a zero (rather than infinite) gradient at `x = 0`."""
    return guard(x > 0, jnp.sqrt, x)


def psum(x: jax.Array, axis_name: str | tuple[str, ...] | None) -> jax.Array:
    """Sum over the devices of `axis_name`, a mesh axis or a tuple of them (identity without
    one)."""
    return x if axis_name is None else jax.lax.psum(x, axis_name)


def pmax(x: jax.Array, axis_name: str | tuple[str, ...] | None) -> jax.Array:
    """Maximum over the devices of `axis_name` (identity without one)."""
    return x if axis_name is None else jax.lax.pmax(x, axis_name)


def explicit_spec(x: jax.Array) -> tuple:
    """The entries of the sharding `x`'s type carries (explicit mesh axes), `()` if none.

    Automatic shardings do not show in types at trace time; their entries read as None.
    """
    sharding = getattr(jax.typeof(x), "sharding", None)
    return tuple(getattr(sharding, "spec", ()))


def vary(tree: T, axis_name: str | tuple[str, ...] | None) -> T:
    """`tree` marked as differing between the devices of `axis_name` (identity without one).

    Inside `shard_map` a loop carry that starts equal on every device (a
    zero) but accumulates per-device values must be typed as varying from the
    start. `jax.lax.pcast` in recent jax, `jax.lax.pvary` before it; a jax
    without either does not type the variance.
    """
    if axis_name is None:
        return tree
    if hasattr(jax.lax, "pcast"):
        return jax.tree.map(lambda x: jax.lax.pcast(x, axis_name, to="varying"), tree)
    if hasattr(jax.lax, "pvary"):
        return jax.tree.map(lambda x: jax.lax.pvary(x, axis_name), tree)  # type: ignore[attr-defined]
    return tree


def max_over(x: jax.Array, *, axis: int | tuple[int, ...], axis_name: str | None) -> jax.Array:
    """Differentiable maximum over a (possibly sharded) axis.

    Sharded, the gradient goes to the shards that hold the maximum (split
    evenly between ties), as for `jnp.max` on one device.
    """
    local = jnp.max(x, axis=axis)
    if axis_name is None:
        return local
    top = pmax(jax.lax.stop_gradient(local), axis_name)
    holds = local == top
    count = psum(holds.astype(x.dtype), axis_name)
    return psum(jnp.where(holds, local, 0.0), axis_name) / count


def pany(x: jax.Array, axis_name: str | None) -> jax.Array:
    """Logical or over the devices of `axis_name`."""
    return x if axis_name is None else pmax(x.astype(jnp.int32), axis_name) > 0


def logsumexp(
    s: jax.Array, *, axis: int | tuple[int, ...], axis_name: str | None = None
) -> jax.Array:
    """`log(sum(exp(s)))` over `axis`, finite-gradient at the boundaries.

    A row that is entirely `-inf` gives `-inf`; a row holding `+inf` gives
    `+inf`. Both get a zero gradient instead of NaN. With `axis_name` the
    axis is split over devices (inside `shard_map`): the maxima are combined
    with `pmax` and the sums with `psum`.
    """
    has_pos_inf = pany(jnp.any(s == jnp.inf, axis=axis), axis_name)
    has_finite = pany(jnp.any(jnp.isfinite(s), axis=axis), axis_name)
    s_safe = jnp.where(jnp.expand_dims(has_finite & ~has_pos_inf, axis), s, 0.0)
    shift = pmax(jax.lax.stop_gradient(jnp.max(s_safe, axis=axis, keepdims=True)), axis_name)
    total = psum(jnp.sum(jnp.exp(s_safe - shift), axis=axis), axis_name)
    out = jnp.log(total) + jnp.squeeze(shift, axis)
    return jnp.where(has_pos_inf, jnp.inf, jnp.where(has_finite, out, -jnp.inf))


class SoftmaxParts(NamedTuple):
    """A row of logits taken apart for a softmax (see `softmax_parts`)."""

    z: jax.Array  #: shifted logits, ``-inf`` where masked
    e: jax.Array  #: ``exp(z)``
    s: jax.Array  #: ``sum(e)`` over the axis (kept dims), 1 for an empty row
    shift: jax.Array  #: the row maximum subtracted (kept dims), 0 for an empty row


def row_shift(
    logits: jax.Array,
    *,
    axis: int | tuple[int, ...],
    mask: jax.Array | None,
    axis_name: str | None = None,
) -> jax.Array:
    """The maximum of each row's unmasked logits (dims kept), 0 for a row without a finite
    maximum; no gradient flows through it. With `axis_name` it is combined with `pmax`."""
    if mask is not None:
        logits = jnp.where(mask, logits, -jnp.inf)
    shift = pmax(jax.lax.stop_gradient(jnp.max(logits, axis=axis, keepdims=True)), axis_name)
    return jnp.where(jnp.isfinite(shift), shift, 0.0)


def shifted(logits: jax.Array, *, mask: jax.Array | None, shift: jax.Array) -> jax.Array:
    """`logits - shift`, with `-inf` at masked entries."""
    if mask is not None:
        logits = jnp.where(mask, logits, -jnp.inf)
    return logits - shift


def softmax_parts(
    logits: jax.Array,
    *,
    axis: int | tuple[int, ...],
    mask: jax.Array | None,
    axis_name: str | None = None,
    shift: jax.Array | None = None,
) -> SoftmaxParts:
    """Shifted logits `z`, `e = exp(z)`, `s = sum(e)` over `axis`, and the shift.

    `log softmax = z - log s` and `softmax = e / s`. Masked entries and
    `-inf` logits get `z = -inf` and `e = 0`; a fully masked (or all
    `-inf`) row has zero mass, `s = 1` and shift 0, so nothing is NaN. The
    row maximum (`row_shift`, unless `shift` is given) is subtracted
    first, so logits of magnitude 1e4 keep full relative precision. With
    `axis_name` the row is split over devices and the sum is combined with
    `psum`.
    """
    if shift is None:
        shift = row_shift(logits, axis=axis, mask=mask, axis_name=axis_name)
    z = shifted(logits, mask=mask, shift=shift)
    e = jnp.exp(z)
    s = psum(jnp.sum(e, axis=axis, keepdims=True), axis_name)
    return SoftmaxParts(z, e, jnp.where(s == 0, 1.0, s), shift)  # a NaN sum stays NaN


def log_softmax(
    logits: jax.Array,
    *,
    axis: int | tuple[int, ...],
    mask: jax.Array | None,
    axis_name: str | None = None,
) -> jax.Array:
    """Log-probabilities from logits, normalised over the unmasked entries (see
    `softmax_parts`): `-inf` for masked entries, `-inf` logits and
    fully masked rows, never NaN."""
    parts = softmax_parts(logits, axis=axis, mask=mask, axis_name=axis_name)
    return parts.z - jnp.log(parts.s)


def to_base(x: jax.Array, base: float | None) -> jax.Array:
    """Converts a quantity in nats to units of `log(base)` (bits for base 2)."""
    return x if base is None else x / math.log(base)


def focal_modulation(miss: jax.Array, gamma: float) -> jax.Array:
    """The focal factor `miss ** gamma`, `miss = 1 - p_target`, with `0 ** gamma = 0` (1 for
    `gamma = 0`) and a zero gradient at `miss = 0`, where `gamma < 1` makes it infinite."""
    if gamma == 0:
        return jnp.ones_like(miss)
    return guard(miss > 0, lambda m: jnp.power(m, gamma), miss, safe=1.0, otherwise=0.0)


def safe_log1m(x: jax.Array) -> jax.Array:
    """`log(1 - x)` (via `log1p`) with `log(0) = -inf` and a zero gradient at `x = 1`."""
    return guard(x < 1, lambda y: jnp.log1p(-y), x, safe=0.0, otherwise=-jnp.inf)


def masked_mean(
    values: jax.Array, where: jax.Array | None = None, *, axis_name: str | None = None
) -> jax.Array:
    """The mean of `values` over the entries where `where` holds, as a scalar.

    The one masked mean of jaxdiv's losses (distillation, mixture objectives):

    * `where=None` averages every entry;
    * an empty `values` or an all-False `where` gives 0, with a zero
      gradient (not NaN): a fully masked batch contributes nothing, as a fully
      masked row of the discrete API does;
    * masked entries get an exactly zero gradient, whatever they hold (NaN
      included);
    * 16-bit values are summed in float32 and the mean is returned in the
      accumulation dtype (at least float32); their gradients come back in the
      dtype of `values`;
    * with `axis_name` (inside `shard_map`) the sum and the count are
      taken over the devices of that mesh axis.
    """
    values = jnp.asarray(values)
    acc = jnp.promote_types(values.dtype, jnp.float32)
    values = values.astype(acc)
    if where is None:
        total, count = jnp.sum(values), jnp.asarray(values.size, acc)
    else:
        where = jnp.broadcast_to(jnp.asarray(where, bool), values.shape)
        total = jnp.sum(jnp.where(where, values, jnp.zeros((), acc)))
        count = jnp.sum(where, dtype=jnp.int32)
    total, count = psum(total, axis_name), psum(count, axis_name)
    return total / jnp.maximum(count, 1).astype(acc)


#: Taylor coefficients 1/k! of exp(x) - 1 - x, k = 2, 3, ...: through k = 8 the truncation
#: error at |x| = 1/2 is below 5e-8 relative (float32 and 16-bit), through k = 14 below 2e-16.
_EXPM1_MINUS_X_LAST_TERM = {32: 8, 64: 14}


def _expm1_minus_x_series(x: jax.Array) -> jax.Array:
    last = _EXPM1_MINUS_X_LAST_TERM[64 if x.dtype == jnp.float64 else 32]
    acc = jnp.full_like(x, 1 / math.factorial(last))
    for k in range(last - 1, 1, -1):  # Horner: x^2 (1/2! + x (1/3! + ... + x / last!))
        acc = 1 / math.factorial(k) + x * acc
    return jnp.square(x) * acc


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def expm1_minus_x(x: jax.Array, scale: float = 1.0) -> jax.Array:
    """`scale * (exp(x) - 1 - x)` without cancellation near 0.

    A Taylor polynomial for `|x| < 1/2` and `exp(x) - 1 - x` beyond, where the
    subtraction loses at most a factor 10 of the dtype's precision (the value is
    at least 0.1 there): relative error below 2e-6 in float32. One exponential, as
    the hand-written Gaussian KL has; the derivative `scale * expm1(x)` is read
    from the value, `f(x) + scale * x`, so the gradient costs no second one.

    `scale` multiplies both branches before the choice between them. A
    caller's factor applied to the result instead (`0.5 * expm1_minus_x(x)`)
    made XLA:CPU write the constant out as an array of its own, shared by the
    choice's pass and the caller's sum: a third pass over the data.
    """
    x = jnp.asarray(x)
    series = scale * _expm1_minus_x_series(x)
    return jnp.where(jnp.abs(x) < 0.5, series, scale * jnp.exp(x) - scale - scale * x)


@expm1_minus_x.defjvp
def _expm1_minus_x_jvp(
    scale: float, primals: tuple[jax.Array], tangents: tuple[jax.Array]
) -> tuple[jax.Array, jax.Array]:
    (x,), (dx,) = primals, tangents
    value = expm1_minus_x(x, scale)
    # expm1(-inf) = -1, not inf - inf
    derivative = jnp.where(x == -jnp.inf, -scale, value + scale * x)
    return value, derivative * dx
