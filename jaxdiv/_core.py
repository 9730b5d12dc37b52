"""The shared machinery of the discrete divergences.

Every discrete divergence is written once, as a *kernel* over two
`Dist` values (probabilities together with their logarithms) and a
`Reduction` (the axis, mask and units). The public functions only build
those from probabilities, from logits or from Bernoulli parameters, so the
probability and logits forms share one implementation of each formula and its
boundary handling.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxdiv import _numerics as num
from jaxdiv import _validation as val


class Dist(NamedTuple):
    """A batch of discrete distributions: probabilities and their logs (`-inf` at 0)."""

    prob: jax.Array
    logp: jax.Array

    @property
    def support(self) -> jax.Array:
        """Where the probability is positive, read from the logs: a probability that
        underflows to 0 (a logit 100 below its row's maximum) is still in the support."""
        return self.logp > -jnp.inf


@dataclasses.dataclass(frozen=True)
class Reduction:
    """How terms are summed: over `axis`, with an optional mask, in units of `base`."""

    axis: int | tuple[int, ...]
    mask: jax.Array | None
    base: float | None
    axis_name: str | None = None  # the mesh axis that splits `axis`, inside shard_map
    nan: jax.Array | None = None  # rows whose unmasked inputs hold a NaN

    def sum(self, terms: jax.Array) -> jax.Array:
        return num.psum(jnp.sum(terms, axis=self.axis), self.axis_name)

    def max(self, terms: jax.Array) -> jax.Array:
        return num.max_over(terms, axis=self.axis, axis_name=self.axis_name)

    def logsumexp(self, s: jax.Array) -> jax.Array:
        return num.logsumexp(s, axis=self.axis, axis_name=self.axis_name)

    def finish(self, value: jax.Array) -> jax.Array:
        """Sets fully masked rows to 0 and rows with a NaN input to NaN, and converts nats to
        the requested units."""
        if self.mask is not None:
            nonempty = num.pany(jnp.any(self.mask, axis=self.axis), self.axis_name)
            value = jnp.where(nonempty, value, 0.0)
        if self.nan is not None:
            value = jnp.where(self.nan, jnp.nan, value)
        return num.to_base(value, self.base)

    def with_nan_rows(self, *arrays: jax.Array) -> Reduction:
        """This reduction, marking the rows where an unmasked entry of `arrays` is NaN.

        The boundary guards read a NaN probability as "not positive" and the
        convention `0 log 0 = 0` would hide a NaN in `q` where `p = 0`; a NaN
        in must give NaN out, so those rows are set to NaN at the end.
        """
        bad = functools.reduce(jnp.logical_or, [jnp.isnan(x) for x in arrays])
        if self.mask is not None:
            bad = bad & self.mask
        rows = num.pany(jnp.any(bad, axis=self.axis), self.axis_name)
        return dataclasses.replace(self, nan=rows)


def prepare(
    fn: str,
    named: list[tuple[str, jax.typing.ArrayLike]],
    *,
    axis: int | tuple[int, ...] | None,
    where: jax.typing.ArrayLike | None,
    base: float | None = None,
) -> tuple[list[jax.Array], tuple[int, ...] | None, jax.Array | None, float | None]:
    """Checks and broadcasts inputs; returns `(arrays, axes, mask, base)`.

    Arrays come back in the compute dtype (their common float dtype, at least
    float32, so 16-bit inputs accumulate in float32); `axes` is the sorted
    tuple of the distribution axes (see `merge_axes`).
    """
    base = val.check_base(base, fn=fn)
    arrays = [val.as_float(name, x, fn=fn) for name, x in named]
    dtype = val.compute_dtype(*arrays)
    arrays, axes = val.broadcast_inputs(
        [(name, x) for (name, _), x in zip(named, arrays, strict=True)], axis=axis, fn=fn
    )
    arrays = [x.astype(dtype) for x in arrays]
    mask = val.broadcast_mask(where, arrays[0].shape, fn=fn)
    return arrays, axes, mask, base


def merge_axes(
    arrays: list[jax.Array], mask: jax.Array | None, axes: tuple[int, ...] | None
) -> tuple[list[jax.Array], int, jax.Array | None]:
    """One distribution axis: returns `(arrays, axis, mask)`.

    Several axes are merged into one last axis (the other axes keep their
    order). An empty distribution axis has no outcomes: it is treated as a
    fully masked row (one masked entry is appended), so every function gives
    0 there, as for a fully masked row.
    """
    if axes is None:
        raise TypeError("merge_axes needs the distribution axes (prepare with an axis).")
    if len(axes) > 1:
        arrays = [val.flatten_axes(x, axes) for x in arrays]
        mask = None if mask is None else val.flatten_axes(mask, axes)
    axis = arrays[0].ndim - 1 if len(axes) > 1 else axes[0]
    if arrays[0].shape[axis] == 0:
        valid = jnp.ones(arrays[0].shape, bool) if mask is None else mask
        pad = list(arrays[0].shape)
        pad[axis] = 1
        arrays = [jnp.concatenate([x, jnp.ones(pad, x.dtype)], axis=axis) for x in arrays]
        mask = jnp.concatenate([valid, jnp.zeros(pad, bool)], axis=axis)
    return arrays, axis, mask


def from_probs(
    fn: str,
    named: list[tuple[str, jax.typing.ArrayLike]],
    *,
    axis: int | tuple[int, ...],
    where: jax.typing.ArrayLike | None,
    base: float | None = None,
) -> tuple[list[Dist], Reduction]:
    """Distributions from probabilities along `axis`; masked entries get zero mass."""
    arrays, axes, mask, base = prepare(fn, named, axis=axis, where=where, base=base)
    for (name, _), p in zip(named, arrays, strict=True):
        val.check_probabilities(name, p, axis=axes, mask=mask, fn=fn)
    arrays, axis, mask = merge_axes(arrays, mask, axes)
    dists = []
    for p in arrays:
        if mask is not None:
            p = jnp.where(mask, p, 0.0)
        dists.append(Dist(p, num.safe_log(p)))
    return dists, Reduction(axis, mask, base).with_nan_rows(*arrays)


def logits_arrays(
    fn: str,
    named: list[tuple[str, jax.typing.ArrayLike]],
    *,
    axis: int | tuple[int, ...],
    where: jax.typing.ArrayLike | None,
    base: float | None = None,
    axis_name: str | None = None,
) -> tuple[list[jax.Array], Reduction]:
    """Checked logits in the compute dtype, for the fused kernels of `jaxdiv._fused`."""
    arrays, axes, mask, base = prepare(fn, named, axis=axis, where=where, base=base)
    for (name, _), x in zip(named, arrays, strict=True):
        val.check_logits(name, x, mask=mask, fn=fn)
    arrays, axis, mask = merge_axes(arrays, mask, axes)
    return arrays, Reduction(axis, mask, base, axis_name)


def from_logits(
    fn: str,
    named: list[tuple[str, jax.typing.ArrayLike]],
    *,
    axis: int | tuple[int, ...],
    where: jax.typing.ArrayLike | None,
    base: float | None = None,
    axis_name: str | None = None,
) -> tuple[list[Dist], Reduction]:
    """Distributions from logits along `axis`, normalised over unmasked entries."""
    arrays, r = logits_arrays(fn, named, axis=axis, where=where, base=base, axis_name=axis_name)
    dists = []
    for x in arrays:
        logp = num.log_softmax(x, axis=r.axis, mask=r.mask, axis_name=axis_name)
        dists.append(Dist(jnp.exp(logp), logp))
    return dists, r.with_nan_rows(*arrays)


def bernoulli_from_probs(p: jax.Array) -> Dist:
    """The two-outcome distribution `[p, 1 - p]` on a new last axis."""
    return Dist(
        jnp.stack([p, 1.0 - p], axis=-1),
        jnp.stack([num.safe_log(p), num.safe_log1m(p)], axis=-1),
    )


def bernoulli_from_logits(z: jax.Array) -> Dist:
    """The two-outcome distribution `[sigmoid(z), sigmoid(-z)]` on a new last axis."""
    logp = jnp.stack([jax.nn.log_sigmoid(z), jax.nn.log_sigmoid(-z)], axis=-1)
    return Dist(jnp.exp(logp), logp)


def elementwise(
    fn: str,
    named: list[tuple[str, jax.typing.ArrayLike, bool]],
    *,
    where: jax.typing.ArrayLike | None,
    base: float | None,
) -> tuple[list[Dist], Reduction]:
    """Bernoulli distributions, elementwise; each entry is `(name, value, is_logits)`."""
    arrays, _, mask, base = prepare(
        fn, [(name, x) for name, x, _ in named], axis=None, where=where, base=base
    )
    dists = []
    for (name, _, is_logits), x in zip(named, arrays, strict=True):
        if is_logits:
            val.check_logits(name, x, mask=mask, fn=fn)
            dist = bernoulli_from_logits(x)
        else:
            val.check_probabilities(name, x, axis=None, mask=mask, fn=fn)
            dist = bernoulli_from_probs(x)
        if mask is not None:
            m = mask[..., None]
            dist = Dist(jnp.where(m, dist.prob, 0.0), jnp.where(m, dist.logp, -jnp.inf))
        dists.append(dist)
    mask = None if mask is None else jnp.broadcast_to(mask[..., None], dists[0].prob.shape)
    return dists, Reduction(-1, mask, base).with_nan_rows(*(d.prob for d in dists))


# --------------------------------------------------------------------------- kernels (nats)


def entropy(r: Reduction, p: Dist) -> jax.Array:
    return -r.sum(num.mul_log(p.prob, p.logp))


def cross_entropy(r: Reduction, p: Dist, q: Dist) -> jax.Array:
    return -r.sum(num.mul_log(p.prob, q.logp))


def kl(r: Reduction, p: Dist, q: Dist) -> jax.Array:
    return r.sum(num.mul_log(p.prob, num.log_ratio(p.prob, q.prob, p.logp, q.logp)))


def jeffreys(r: Reduction, p: Dist, q: Dist) -> jax.Array:
    """`sum (p - q) log(p / q)` in one sum: the two KLs' first-order terms cancel exactly
    rather than in floating point."""
    log_r = num.log_ratio(p.prob, q.prob, p.logp, q.logp)
    terms = num.guard(
        (p.prob > 0) | (q.prob > 0), lambda a, b, lr: (a - b) * lr, p.prob, q.prob, log_r
    )
    return r.sum(terms)


def log_mixture(p: Dist, q: Dist, weight: float) -> jax.Array:
    """`log(w p + (1 - w) q)` in log space, `-inf` where both are 0; `0 < w < 1`."""
    log_w, log_1mw = math.log(weight), math.log1p(-weight)
    return num.guard(
        (p.prob > 0) | (q.prob > 0),
        lambda lp, lq: jnp.logaddexp(log_w + lp, log_1mw + lq),
        p.logp,
        q.logp,
        otherwise=-jnp.inf,
    )


def js(r: Reduction, p: Dist, q: Dist, weight: float) -> jax.Array:
    if weight in (0.0, 1.0):
        return r.sum(jnp.zeros_like(p.prob))
    log_m = log_mixture(p, q, weight)
    return r.sum(
        num.mul_log(weight * p.prob, p.logp - log_m)
        + num.mul_log((1.0 - weight) * q.prob, q.logp - log_m)
    )


def log_power_mix(p: Dist, q: Dist, alpha: float, cond: jax.Array) -> jax.Array:
    """`alpha * log p + (1 - alpha) * log q` where `cond`, `-inf` elsewhere."""
    return num.guard(
        cond, lambda lp, lq: alpha * lp + (1.0 - alpha) * lq, p.logp, q.logp, otherwise=-jnp.inf
    )


def renyi(r: Reduction, p: Dist, q: Dist, alpha: float) -> jax.Array:
    if alpha == 1.0:
        return kl(r, p, q)
    if alpha == 0.0:
        return -r.logsumexp(num.guard(p.support, lambda lq: lq, q.logp, otherwise=-jnp.inf))
    if alpha == math.inf:
        log_ratio = num.guard(p.support, jnp.subtract, p.logp, q.logp, otherwise=-jnp.inf)
        return r.max(log_ratio)
    return r.logsumexp(log_power_mix(p, q, alpha, p.support)) / (alpha - 1.0)


def alpha_divergence(r: Reduction, p: Dist, q: Dist, alpha: float) -> jax.Array:
    if alpha == 1.0:
        return kl(r, p, q) + r.sum(q.prob - p.prob)
    if alpha == 0.0:
        return kl(r, q, p) + r.sum(p.prob - q.prob)
    s = log_power_mix(p, q, alpha, p.support | q.support)
    terms = jnp.exp(s) - alpha * p.prob - (1.0 - alpha) * q.prob
    return r.sum(terms) / (alpha * (alpha - 1.0))


def bhattacharyya(r: Reduction, p: Dist, q: Dist) -> jax.Array:
    return -r.logsumexp(0.5 * (p.logp + q.logp))
