"""Divergences between discrete distributions given as probabilities.

Conventions shared by every function here:

* Distributions lie along `axis` (default -1); all other axes are batch axes
  and broadcast. The distribution axis must have the same size in both
  arguments. Argument order always means D(p || q).
* `where` is a boolean mask, broadcastable to the inputs: masked entries are
  left out of every sum (they count as zero mass in both arguments) and get a
  zero gradient; a fully masked row gives 0. Probabilities are taken as given,
  not renormalised over the unmasked entries.
* `base` selects the units of logarithmic quantities: `None` for nats, 2 for
  bits, any other base > 0. Quantities that are not logarithmic (total
  variation, Hellinger, chi-square, alpha- and f-divergences, perplexity) take
  no `base`.
* `0 * log(0 / q) = 0`; `p > 0` where `q = 0` gives an honest `+inf`.
  Gradients are finite wherever the value is finite: at `p_i = 0` the
  derivative with respect to `p_i` (whose one-sided value is `-inf`) is
  taken as 0, the gradient of the entry held at zero mass.
* float16 and bfloat16 inputs are computed and returned in float32; float64
  works when `jax_enable_x64` is on.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdiv import _core as core
from jaxdiv import _f_generators as fgen
from jaxdiv import _numerics as num
from jaxdiv import _validation as val


def entropy(
    p: ArrayLike,
    *,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
    base: float | None = None,
) -> jax.Array:
    r"""Shannon entropy of `p`: the optimal mean code length.

    $$
    H(p) = -\sum_i p_i \log p_i
    $$

    Args:
      p: probabilities along `axis`; any batch shape.
      axis: the axis that holds each distribution.
      where: optional boolean mask; masked entries are left out.
      base: None for nats, 2 for bits.

    Returns:
      The entropy, with `axis` removed.

    Raises:
      TypeError: if `p` is not floating point.
      ValueError: for an out-of-range `axis` or `base`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> float(jaxdiv.entropy(jnp.array([0.5, 0.25, 0.25]), base=2))
      1.5

    References:
      C. E. Shannon, A mathematical theory of communication, 1948.
    """
    fn = "entropy"
    (pd,), r = core.from_probs(fn, [("p", p)], axis=axis, where=where, base=base)
    return r.finish(core.entropy(r, pd))


def cross_entropy(
    p: ArrayLike,
    q: ArrayLike,
    *,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
    base: float | None = None,
) -> jax.Array:
    r"""Cross-entropy of `q` relative to `p`: the mean code length when data
    drawn from `p` are coded with the code that is optimal for `q`.

    $$
    H(p, q) = -\sum_i p_i \log q_i = H(p) + \mathrm{KL}(p \,\|\, q)
    $$

    Args:
      p: the distribution of the data (the target), along `axis`.
      q: the model distribution, along `axis`.
      axis: the axis that holds each distribution.
      where: optional boolean mask; masked entries are left out.
      base: None for nats, 2 for bits.

    Returns:
      The cross-entropy, with `axis` removed; `+inf` where `q_i = 0 < p_i`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> float(jaxdiv.cross_entropy(jnp.array([0.5, 0.5]), jnp.array([0.25, 0.75]), base=2))
      1.207...
    """
    fn = "cross_entropy"
    (pd, qd), r = core.from_probs(fn, [("p", p), ("q", q)], axis=axis, where=where, base=base)
    return r.finish(core.cross_entropy(r, pd, qd))


def kl_divergence(
    p: ArrayLike,
    q: ArrayLike,
    *,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
    base: float | None = None,
) -> jax.Array:
    r"""Kullback-Leibler divergence KL(p || q): the extra code length paid for
    coding data from `p` with the code of `q`.

    $$
    \mathrm{KL}(p \,\|\, q) = \sum_i p_i \log \frac{p_i}{q_i}
    $$

    with $0 \log \frac{0}{q} = 0$ and $p \log \frac{p}{0} = +\infty$. Unlike
    `optax.kl_divergence(log_predictions, targets)`, the arguments are in the
    order of the notation.

    Args:
      p: the first distribution, along `axis`.
      q: the second distribution, along `axis`.
      axis: the axis that holds each distribution.
      where: optional boolean mask; masked entries are left out.
      base: None for nats, 2 for bits.

    Returns:
      KL(p || q) >= 0, with `axis` removed.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> float(jaxdiv.kl_divergence(jnp.array([0.0, 1.0]), jnp.array([1.0, 0.0])))
      inf
      >>> float(jaxdiv.kl_divergence(jnp.array([0.5, 0.5]), jnp.array([0.25, 0.75]), base=2))
      0.207...

    References:
      S. Kullback and R. A. Leibler, On information and sufficiency, 1951.
    """
    fn = "kl_divergence"
    (pd, qd), r = core.from_probs(fn, [("p", p), ("q", q)], axis=axis, where=where, base=base)
    return r.finish(core.kl(r, pd, qd))


def js_divergence(
    p: ArrayLike,
    q: ArrayLike,
    *,
    weight: float = 0.5,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
    base: float | None = None,
) -> jax.Array:
    r"""Generalised (skew) Jensen-Shannon divergence.

    $$
    \mathrm{JS}_w(p, q) = w\,\mathrm{KL}(p \,\|\, m) + (1 - w)\,\mathrm{KL}(q \,\|\, m),
    \qquad m = w p + (1 - w) q
    $$

    Always finite, and at most the binary entropy of `w` (log 2 at
    `w = 0.5`, where it is symmetric). Its square root at `w = 0.5` is the
    Jensen-Shannon distance of `scipy.spatial.distance.jensenshannon`.

    Args:
      p: the first distribution, along `axis`.
      q: the second distribution, along `axis`.
      weight: `w` in [0, 1], a concrete number.
      axis: the axis that holds each distribution.
      where: optional boolean mask; masked entries are left out.
      base: None for nats, 2 for bits.

    Returns:
      The divergence, with `axis` removed.

    Raises:
      ValueError: if `weight` is outside [0, 1].

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> float(jaxdiv.js_divergence(jnp.array([0.0, 1.0]), jnp.array([1.0, 0.0]), base=2))
      1.0

    References:
      J. Lin, Divergence measures based on the Shannon entropy, 1991.
    """
    fn = "js_divergence"
    weight = val.check_weight(weight, fn=fn)
    (pd, qd), r = core.from_probs(fn, [("p", p), ("q", q)], axis=axis, where=where, base=base)
    return r.finish(core.js(r, pd, qd, weight))


def renyi_divergence(
    p: ArrayLike,
    q: ArrayLike,
    *,
    alpha: float,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
    base: float | None = None,
) -> jax.Array:
    r"""Renyi divergence of order `alpha`.

    $$
    D_\alpha(p \,\|\, q) = \frac{1}{\alpha - 1} \log \sum_i p_i^\alpha q_i^{1 - \alpha}
    $$

    with the limits $D_0 = -\log \sum_{p_i > 0} q_i$,
    $D_1 = \mathrm{KL}(p \,\|\, q)$ and $D_\infty = \log \max_{p_i > 0} p_i / q_i$.
    Non-decreasing in `alpha`; `alpha = 0.5` gives twice the Bhattacharyya distance.

    Args:
      p: the first distribution, along `axis`.
      q: the second distribution, along `axis`.
      alpha: the order, a concrete number in [0, inf].
      axis: the axis that holds each distribution.
      where: optional boolean mask; masked entries are left out.
      base: None for nats, 2 for bits.

    Returns:
      The divergence, with `axis` removed; `+inf` where `q_i = 0 < p_i`
      and `alpha >= 1`.

    Raises:
      ValueError: if `alpha` is negative or NaN.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> p, q = jnp.array([0.5, 0.5]), jnp.array([0.25, 0.75])
      >>> [round(float(jaxdiv.renyi_divergence(p, q, alpha=a)), 4) for a in (0.5, 1, 2)]
      [0.0693, 0.1438, 0.2877]

    References:
      A. Renyi, On measures of entropy and information, 1961; T. van Erven and
      P. Harremoes, Renyi divergence and Kullback-Leibler divergence, 2014.
    """
    fn = "renyi_divergence"
    alpha = val.check_alpha(alpha, fn=fn)
    (pd, qd), r = core.from_probs(fn, [("p", p), ("q", q)], axis=axis, where=where, base=base)
    return r.finish(core.renyi(r, pd, qd, alpha))


def alpha_divergence(
    p: ArrayLike,
    q: ArrayLike,
    *,
    alpha: float,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Amari alpha-divergence (in the parameterisation of Zhu-Rohwer and Minka).

    $$
    D_\alpha(p \,\|\, q) = \frac{1}{\alpha(\alpha - 1)}
        \sum_i \left(p_i^\alpha q_i^{1-\alpha} - \alpha p_i - (1 - \alpha) q_i\right)
    $$

    `alpha = 1` gives KL(p || q), `alpha = 0` gives KL(q || p), `alpha = 0.5`
    gives four times the squared Hellinger distance and `alpha = 2` half the
    Pearson chi-square. The form is valid for unnormalised positive measures
    too, where every term is non-negative. Amari's own `alpha'` is
    `1 - 2 * alpha`. This is TensorFlow Probability's `amari_alpha` Csiszar
    function, summed.

    Args:
      p: the first distribution, along `axis`.
      q: the second distribution, along `axis`.
      alpha: any real number, concrete.
      axis: the axis that holds each distribution.
      where: optional boolean mask; masked entries are left out.

    Returns:
      The divergence (not logarithmic, so no `base`), with `axis` removed.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> p, q = jnp.array([0.5, 0.5]), jnp.array([0.25, 0.75])
      >>> round(float(jaxdiv.alpha_divergence(p, q, alpha=1.0)), 4)
      0.1438

    References:
      S. Amari, Differential-Geometrical Methods in Statistics, 1985;
      T. Minka, Divergence measures and message passing, 2005.
    """
    fn = "alpha_divergence"
    alpha = val.finite_float("alpha", alpha, fn=fn)
    (pd, qd), r = core.from_probs(fn, [("p", p), ("q", q)], axis=axis, where=where)
    return r.finish(core.alpha_divergence(r, pd, qd, alpha))


def f_divergence(
    p: ArrayLike,
    q: ArrayLike,
    f: Callable[[jax.Array], jax.Array] | fgen.GeneratorName,
    *,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
    slope_at_infinity: float | None = None,
    alpha: float | None = None,
    t: float | None = None,
) -> jax.Array:
    r"""Csiszar f-divergence for a convex generator `f` with `f(1) = 0`, named or given.

    $$
    D_f(p \,\|\, q) = \sum_{q_i > 0} q_i\, f\!\left(\frac{p_i}{q_i}\right)
        + f'(\infty) \sum_{q_i = 0} p_i,
    \qquad f'(\infty) = \lim_{t \to \infty} f(t) / t
    $$

    Entries with `p_i = 0 < q_i` contribute `q_i f(0)`, `f(0)` the limit at 0.

    **Named generators** carry their limits `f(0)` and `f'(inf)`, so zeros in
    `p` or `q` give the exact finite value or an honest `+inf`, with finite
    gradients wherever the value is finite (the limits of the interior ones, or 0
    where those are infinite, as for [`kl_divergence`][jaxdiv.kl_divergence]):

    | `f=` | $f(t)$ | $f(0)$ | $f'(\infty)$ |
    | --- | --- | --- | --- |
    | `"kl_forward"` | $t \log t$ | 0 | inf |
    | `"kl_reverse"` | $-\log t$ | inf | 0 |
    | `"jensen_shannon"` | $\tfrac12[t \log t - (1+t) \log \tfrac{1+t}{2}]$ | (5) | (5) |
    | `"squared_hellinger"` | $\tfrac12(\sqrt t - 1)^2$ | 1/2 | 1/2 |
    | `"total_variation"` | $\tfrac12 \lvert t - 1 \rvert$ | 1/2 | 1/2 |
    | `"pearson"` | $(t - 1)^2$ | 1 | inf |
    | `"neyman"` | $(1 - t)^2 / t$ | inf | 1 |
    | `"triangular"` | $(t - 1)^2 / (t + 1)$ | 1 | 1 |
    | `"jeffreys"` | $(t - 1) \log t$ | inf | inf |
    | `"amari_alpha"` | $\frac{t^\alpha - \alpha t - 1 + \alpha}{\alpha(\alpha - 1)}$ | (1) | (2) |
    | `"t_power"` | $s[t^\tau - 1 - \tau(t - 1)]$ | (3) | (4) |
    | `"log1p_abs"` | $e^{\lvert \log t \rvert} - 1$ | inf | 1 |
    | `"modified_gan"` | $\log \tfrac{1+t}{2t} + \tfrac12(t - 1)$ | inf | 1/2 |

    (1) $1/\alpha$ for $\alpha > 0$, else inf; (2) $1/(1 - \alpha)$ for $\alpha < 1$,
    else inf; (3) $\lvert \tau - 1 \rvert$ for $\tau > 0$, else inf; (4)
    $\lvert \tau \rvert$ for $\tau < 1$, else inf; (5) $\tfrac12 \log 2$. `"kl_forward"` gives
    $\mathrm{KL}(p \Vert q)$, `"kl_reverse"` $\mathrm{KL}(q \Vert p)$,
    `"jensen_shannon"` [`js_divergence`][jaxdiv.js_divergence] at weight 1/2,
    `"squared_hellinger"` the square of
    [`hellinger_distance`][jaxdiv.hellinger_distance], `"pearson"`
    [`chi_square_divergence`][jaxdiv.chi_square_divergence], `"neyman"` the
    same reversed, `"jeffreys"` [`jeffreys_divergence`][jaxdiv.jeffreys_divergence]
    in nats, `"amari_alpha"` (with `alpha=`)
    [`alpha_divergence`][jaxdiv.alpha_divergence]; `"t_power"` (with `t=` the
    exponent $\tau$, $s = -1$ for $0 < \tau < 1$, else 1) is
    $s(\sum_i p_i^\tau q_i^{1-\tau} - 1)$, and `"modified_gan"` is
    $\mathrm{KL}(q \Vert p) - \mathrm{KL}(q \Vert m)$, $m = (p + q) / 2$, the
    divergence of the $-\log D$ GAN generator loss.
    The table, with the one-sided derivatives at the ends, lives in
    `jaxdiv/_f_generators.py`, shared with the numerical route.

    **A callable** `f` is evaluated at `p / q` where both are positive and once at
    0 (so it may be infinite there but not NaN: define `t log t` at 0 with
    `jax.scipy.special.xlogy(t, t)`, or use the name); `slope_at_infinity`
    (default `inf`) gives `f'(inf)`.

    Args:
      p: the first distribution, along `axis`.
      q: the second distribution, along `axis`.
      f: a generator name from the table, or a convex, elementwise,
        JAX-traceable function of the ratio `p / q`.
      axis: the axis that holds each distribution.
      where: optional boolean mask; masked entries are left out.
      slope_at_infinity: `f'(inf)` of a callable `f` (default `inf`), used for
        entries with `q_i = 0 < p_i`; named generators carry their own.
      alpha: the order of `"amari_alpha"` (any finite number).
      t: the exponent of `"t_power"` (finite, not 0 or 1).

    Returns:
      The divergence (not logarithmic, so no `base`), with `axis` removed.

    Raises:
      ValueError: for an unknown generator name, a missing or unexpected `alpha`
        or `t`, `slope_at_infinity` with a named generator, or a callable with
        `f(1) != 0` or `f(0)` NaN (checked when `f` does not depend on traced
        values).
      TypeError: if `f` is neither a callable nor a string.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> p, q = jnp.array([0.5, 0.5]), jnp.array([0.25, 0.75])
      >>> tv = jaxdiv.f_divergence(p, q, lambda t: jnp.abs(t - 1) / 2, slope_at_infinity=0.5)
      >>> float(tv)
      0.25
      >>> p0 = jnp.array([1.0, 0.0])
      >>> round(float(jaxdiv.f_divergence(p0, q, "kl_forward")), 4)  # log 4
      1.3863
      >>> float(jaxdiv.f_divergence(p0, q, "kl_reverse"))
      inf
      >>> round(float(jaxdiv.f_divergence(p, q, "amari_alpha", alpha=0.5)), 4)
      0.1363

    References:
      I. Csiszar, Information-type measures of difference of probability
      distributions, 1967; F. Liese and I. Vajda, On divergences and
      informations in statistics and information theory, 2006; I. Sason and
      S. Verdu, f-divergence inequalities, 2016; S. Nowozin, B. Cseke and
      R. Tomioka, f-GAN, 2016.
    """
    fn = "f_divergence"
    if isinstance(f, str):
        if slope_at_infinity is not None:
            raise ValueError(
                f"jaxdiv.{fn}: the named generator {f!r} carries its own f'(inf); "
                "slope_at_infinity is only for a callable f."
            )
        gen = fgen.generator(f, alpha=alpha, t=t, fn=f"jaxdiv.{fn}")
        (pd, qd), r = core.from_probs(fn, [("p", p), ("q", q)], axis=axis, where=where)
        return r.finish(r.sum(_named_f_terms(gen, pd.prob, qd.prob)))
    if not callable(f):
        names = ", ".join(repr(n) for n in fgen.GENERATOR_NAMES)
        raise TypeError(
            f"jaxdiv.{fn}: f must be a callable generator or one of the names {names}; got {f!r}."
        )
    if alpha is not None or t is not None:
        raise ValueError(
            f"jaxdiv.{fn}: alpha= and t= parametrise the named generators 'amari_alpha' and "
            "'t_power'; a callable f takes its parameters in its closure."
        )
    slope = val.concrete_float(
        "slope_at_infinity", math.inf if slope_at_infinity is None else slope_at_infinity, fn=fn
    )
    (pd, qd), r = core.from_probs(fn, [("p", p), ("q", q)], axis=axis, where=where)
    pp, qq = pd.prob, qd.prob
    f0, f1 = f(jnp.zeros((), pp.dtype)), f(jnp.ones((), pp.dtype))
    if not isinstance(f0, jax.core.Tracer) and bool(jnp.isnan(f0)):
        raise ValueError(
            f"jaxdiv.{fn}: f(0) is NaN; define f at 0 by its limit (for t log t use "
            "jax.scipy.special.xlogy(t, t)), or pass a named generator such as 'kl_forward'."
        )
    if not isinstance(f1, jax.core.Tracer) and abs(float(f1)) > 1e-6:
        raise ValueError(f"jaxdiv.{fn}: the generator must satisfy f(1) = 0, got f(1) = {f1}.")
    terms = (
        num.guard((pp > 0) & (qq > 0), lambda a, b: b * f(a / b), pp, qq)
        + num.guard((pp == 0) & (qq > 0), lambda b: b * f0, qq)
        + num.guard((pp > 0) & (qq == 0), lambda a: a * slope, pp)
    )
    return r.finish(r.sum(terms))


def _named_f_terms(gen: fgen.FGenerator, pp: jax.Array, qq: jax.Array) -> jax.Array:
    """The terms `q_i f(p_i / q_i)` of a named generator, with its limits where p or q is 0.

    Where `p = 0 < q` the term is `q f(0) + p f'(0+)` (value `q f(0)`; the second
    part gives the derivative in `p`); where `q = 0 < p` it is
    `p f'(inf) + q c` with `c = lim f(t) - t f'(t)` (the derivative in `q`).
    A one-sided derivative that is infinite is taken as 0 (the entry held at
    zero mass), so no `0 * inf` makes a NaN.
    """
    d0 = gen.derivative_at_zero if math.isfinite(gen.derivative_at_zero) else 0.0
    c_inf = gen.intercept_at_infinity if math.isfinite(gen.intercept_at_infinity) else 0.0
    f0, slope = gen.f_at_zero, gen.slope_at_infinity
    return (
        num.guard((pp > 0) & (qq > 0), gen.perspective, pp, qq)
        + num.guard((pp == 0) & (qq > 0), lambda a, b: b * f0 + a * d0, pp, qq)
        + num.guard((pp > 0) & (qq == 0), lambda a, b: a * slope + b * c_inf, pp, qq)
    )


def total_variation(
    p: ArrayLike, q: ArrayLike, *, axis: int | tuple[int, ...] = -1, where: ArrayLike | None = None
) -> jax.Array:
    r"""Total variation distance, in [0, 1].

    $$
    \mathrm{TV}(p, q) = \tfrac{1}{2} \sum_i |p_i - q_i|
    $$

    Pinsker's inequality bounds it by $\sqrt{\mathrm{KL}(p \,\|\, q) / 2}$ (KL in nats).

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> float(jaxdiv.total_variation(jnp.array([0.5, 0.5]), jnp.array([0.25, 0.75])))
      0.25
    """
    fn = "total_variation"
    (pd, qd), r = core.from_probs(fn, [("p", p), ("q", q)], axis=axis, where=where)
    return r.finish(0.5 * r.sum(jnp.abs(pd.prob - qd.prob)))


def hellinger_distance(
    p: ArrayLike, q: ArrayLike, *, axis: int | tuple[int, ...] = -1, where: ArrayLike | None = None
) -> jax.Array:
    r"""Hellinger distance, in [0, 1].

    $$
    H(p, q) = \sqrt{\tfrac{1}{2} \sum_i \left(\sqrt{p_i} - \sqrt{q_i}\right)^2}
            = \sqrt{1 - \sum_i \sqrt{p_i q_i}}
    $$

    The gradient at `p = q` (where the distance has a kink) is taken as 0.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> float(jaxdiv.hellinger_distance(jnp.array([0.0, 1.0]), jnp.array([1.0, 0.0])))
      1.0

    References:
      E. Hellinger, 1909.
    """
    fn = "hellinger_distance"
    (pd, qd), r = core.from_probs(fn, [("p", p), ("q", q)], axis=axis, where=where)
    sq = 0.5 * r.sum(jnp.square(num.safe_sqrt(pd.prob) - num.safe_sqrt(qd.prob)))
    return r.finish(num.safe_sqrt(sq))


def chi_square_divergence(
    p: ArrayLike, q: ArrayLike, *, axis: int | tuple[int, ...] = -1, where: ArrayLike | None = None
) -> jax.Array:
    r"""Pearson chi-square divergence.

    $$
    \chi^2(p \,\|\, q) = \sum_i \frac{(p_i - q_i)^2}{q_i}
    $$

    `+inf` where `q_i = 0 < p_i`. $\mathrm{KL}(p \,\|\, q) \le \log(1 + \chi^2(p \,\|\, q))$.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> round(float(jaxdiv.chi_square_divergence(jnp.array([0.5, 0.5]),
      ...                                          jnp.array([0.25, 0.75]))), 4)
      0.3333

    References:
      K. Pearson, 1900.
    """
    fn = "chi_square_divergence"
    (pd, qd), r = core.from_probs(fn, [("p", p), ("q", q)], axis=axis, where=where)
    pp, qq = pd.prob, qd.prob
    terms = jnp.where(
        (qq == 0) & (pp > 0),
        jnp.inf,
        num.guard(qq > 0, lambda a, b: jnp.square(a - b) / b, pp, qq),
    )
    return r.finish(r.sum(terms))


def jeffreys_divergence(
    p: ArrayLike,
    q: ArrayLike,
    *,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
    base: float | None = None,
) -> jax.Array:
    r"""Jeffreys divergence, the symmetrised KL.

    $$
    J(p, q) = \mathrm{KL}(p \,\|\, q) + \mathrm{KL}(q \,\|\, p)
            = \sum_i (p_i - q_i) \log \frac{p_i}{q_i}
    $$

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> round(float(jaxdiv.jeffreys_divergence(jnp.array([0.5, 0.5]),
      ...                                        jnp.array([0.25, 0.75]))), 4)
      0.2747

    References:
      H. Jeffreys, An invariant form for the prior probability in estimation
      problems, 1946.
    """
    fn = "jeffreys_divergence"
    (pd, qd), r = core.from_probs(fn, [("p", p), ("q", q)], axis=axis, where=where, base=base)
    return r.finish(core.jeffreys(r, pd, qd))


def bhattacharyya_distance(
    p: ArrayLike,
    q: ArrayLike,
    *,
    axis: int | tuple[int, ...] = -1,
    where: ArrayLike | None = None,
    base: float | None = None,
) -> jax.Array:
    r"""Bhattacharyya distance, minus the log of the Bhattacharyya coefficient.

    $$
    D_B(p, q) = -\log \sum_i \sqrt{p_i q_i} = \tfrac{1}{2} D_{1/2}(p \,\|\, q)
    $$

    `+inf` for distributions with disjoint supports.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> round(float(jaxdiv.bhattacharyya_distance(jnp.array([0.5, 0.5]),
      ...                                           jnp.array([0.25, 0.75]))), 4)
      0.0347

    References:
      A. Bhattacharyya, On a measure of divergence between two statistical
      populations defined by their probability distributions, 1943.
    """
    fn = "bhattacharyya_distance"
    (pd, qd), r = core.from_probs(fn, [("p", p), ("q", q)], axis=axis, where=where, base=base)
    return r.finish(core.bhattacharyya(r, pd, qd))


def mutual_information(
    joint: ArrayLike,
    *,
    axes: tuple[int, int] = (-2, -1),
    where: ArrayLike | None = None,
    base: float | None = None,
) -> jax.Array:
    r"""Mutual information of a joint distribution, as a KL divergence.

    $$
    I(X; Y) = \mathrm{KL}\left(p_{XY} \,\|\, p_X \otimes p_Y\right)
            = \sum_{x, y} p(x, y) \log \frac{p(x, y)}{p(x)\, p(y)}
    $$

    Args:
      joint: joint probabilities with `X` along `axes[0]` and `Y` along
        `axes[1]`; other axes are batch axes.
      axes: the two axes of the joint table.
      where: optional boolean mask over the joint table; masked cells are left
        out of the sums and of the marginals.
      base: None for nats, 2 for bits.

    Returns:
      I(X; Y) >= 0, with both `axes` removed.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> float(jaxdiv.mutual_information(jnp.array([[0.5, 0.0], [0.0, 0.5]]), base=2))
      1.0
    """
    fn = "mutual_information"
    (joint,), _, mask, base = core.prepare(
        fn, [("joint", joint)], axis=None, where=where, base=base
    )
    if not (isinstance(axes, tuple | list) and len(axes) == 2):
        raise ValueError(f"jaxdiv.{fn}: axes must be a pair of ints, got {axes!r}.")
    if joint.ndim < 2:
        raise ValueError(f"jaxdiv.{fn}: joint must have at least 2 dimensions, got {joint.shape}.")
    ax = tuple(val.normalize_axis(a, joint.ndim, fn=fn) for a in axes)
    if ax[0] == ax[1]:
        raise ValueError(f"jaxdiv.{fn}: axes must be two different axes, got {axes!r}.")
    val.check_probabilities("joint", joint, axis=ax, mask=mask, fn=fn)
    if mask is not None:
        joint = jnp.where(mask, joint, 0.0)
    marg_x = jnp.sum(joint, axis=ax[1], keepdims=True)
    marg_y = jnp.sum(joint, axis=ax[0], keepdims=True)
    log_ratio = num.safe_log(joint) - num.safe_log(marg_x) - num.safe_log(marg_y)
    r = core.Reduction(ax, mask, base)
    return r.finish(r.sum(num.mul_log(joint, log_ratio)))


def perplexity(
    p: ArrayLike, *, axis: int | tuple[int, ...] = -1, where: ArrayLike | None = None
) -> jax.Array:
    r"""Perplexity, the effective number of equally likely outcomes.

    $$
    \mathrm{PP}(p) = e^{H(p)} = b^{H_b(p)}\ \text{for any base } b
    $$

    A fully masked row has no outcomes and gives 0.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> round(float(jaxdiv.perplexity(jnp.full(8, 1 / 8))), 4)
      8.0
    """
    fn = "perplexity"
    (pd,), r = core.from_probs(fn, [("p", p)], axis=axis, where=where)
    return r.finish(jnp.exp(core.entropy(r, pd)))
