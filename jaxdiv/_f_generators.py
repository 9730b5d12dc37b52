r"""The named generators of the Csiszar f-divergences, with their limits built in.

An f-divergence is defined by a convex $f$ on $(0, \infty)$ with $f(1) = 0$:

$$
D_f(p \,\|\, q) = \sum_{q_i > 0} q_i\, f\!\left(\frac{p_i}{q_i}\right)
    + f'(\infty) \sum_{q_i = 0} p_i,
\qquad f(0) = \lim_{t \to 0^+} f(t), \quad f'(\infty) = \lim_{t \to \infty} \frac{f(t)}{t}
$$

(an entry with $p_i = 0 < q_i$ contributes $q_i f(0)$; Csiszar 1967, Liese & Vajda
2006). Most generators are not defined at 0 as written ($t \log t$, $-\log t$), so
a user who passes a callable has to know the limit. `generator`
returns an `FGenerator` that carries, with `f`
itself, its limits at 0 and at infinity and the one-sided derivatives there, so
that zeros in `p` or `q` give the exact finite value or an honest `+inf`, and the
gradients there are the limits of the interior ones (or 0 where those are
infinite, the convention of the discrete API for an entry held at zero mass).

The names are public within the package (no leading underscore) so that both the
discrete [`jaxdiv.f_divergence`][jaxdiv.f_divergence] and the numerical route
(`jaxdiv.numerical`) accept the same strings. The table:

Each entry: the generator $f(t)$; its limits $f(0)$ and $f'(\infty)$; the divergence.

* `"kl_forward"`: $t \log t$; $0$, $\infty$; $\mathrm{KL}(p \Vert q)$.
* `"kl_reverse"`: $-\log t$; $\infty$, $0$; $\mathrm{KL}(q \Vert p)$.
* `"jensen_shannon"`: $\tfrac12\left[t \log t - (1 + t) \log \tfrac{1 + t}{2}\right]$;
  $\tfrac12 \log 2$, $\tfrac12 \log 2$; $\mathrm{JS}(p, q)$ with weight 1/2, at most $\log 2$.
* `"squared_hellinger"`: $\tfrac12 (\sqrt t - 1)^2$; $\tfrac12$, $\tfrac12$;
  $1 - \sum_i \sqrt{p_i q_i}$, the square of
  [`jaxdiv.hellinger_distance`][jaxdiv.hellinger_distance].
* `"total_variation"`: $\tfrac12 \lvert t - 1 \rvert$; $\tfrac12$, $\tfrac12$;
  $\tfrac12 \sum_i \lvert p_i - q_i \rvert$.
* `"pearson"`: $(t - 1)^2$; $1$, $\infty$; $\chi^2(p \Vert q) = \sum_i (p_i - q_i)^2 / q_i$.
* `"neyman"`: $(1 - t)^2 / t$; $\infty$, $1$; $\chi^2(q \Vert p) = \sum_i (p_i - q_i)^2 / p_i$.
* `"triangular"`: $(t - 1)^2 / (t + 1)$; $1$, $1$; $\sum_i (p_i - q_i)^2 / (p_i + q_i)$,
  at most 2 (Le Cam's triangular discrimination).
* `"jeffreys"`: $(t - 1) \log t$; $\infty$, $\infty$;
  $\mathrm{KL}(p \Vert q) + \mathrm{KL}(q \Vert p)$.
* `"amari_alpha"` (`alpha=` $\alpha$):
  $\dfrac{t^\alpha - \alpha t - (1 - \alpha)}{\alpha (\alpha - 1)}$;
  $1/\alpha$ for $\alpha > 0$, else $\infty$; $1/(1 - \alpha)$ for $\alpha < 1$, else $\infty$;
  Amari's $\alpha$-divergence $\frac{1 - \sum_i p_i^\alpha q_i^{1 - \alpha}}{\alpha (1 - \alpha)}$.
* `"t_power"` (`t=` $\tau$): $s\,[t^\tau - 1 - \tau (t - 1)]$ with $s = -1$ for
  $0 < \tau < 1$, else $s = 1$; $\lvert \tau - 1 \rvert$ for $\tau > 0$, else $\infty$;
  $\lvert \tau \rvert$ for $\tau < 1$, else $\infty$;
  $s \left(\sum_i p_i^\tau q_i^{1 - \tau} - 1\right)$.
* `"log1p_abs"`: $e^{\lvert \log t \rvert} - 1$; $\infty$, $1$;
  $\sum_{p_i \ge q_i} (p_i - q_i) + \sum_{p_i < q_i} q_i (q_i - p_i) / p_i$.
* `"modified_gan"`: $\log \tfrac{1 + t}{2 t} + \tfrac12 (t - 1)$; $\infty$, $\tfrac12$;
  $\mathrm{KL}(q \Vert p) - \mathrm{KL}(q \Vert m)$ with $m = \tfrac12 (p + q)$.

`amari_alpha` at $\alpha = 1$ is $t \log t - t + 1$ and at $\alpha = 0$ is
$-\log t + t - 1$ (the limits), matching [`jaxdiv.alpha_divergence`][jaxdiv.alpha_divergence].
`t_power` (with `t=` the exponent $\tau$) is the self-normalised form
($f'(1) = 0$), a positive multiple $\lvert \tau (\tau - 1) \rvert$ of
`amari_alpha` at $\alpha = \tau$; $\tau = 0$ and $\tau = 1$ give the zero function
and are rejected. `modified_gan` is the self-normalised form of
$\log(1 + 1/t)$, shifted by $-\log 2$ so that $f(1) = 0$: the divergence that
the "$-\log D$" generator loss of a GAN minimises. Terms linear in $t - 1$
(`amari_alpha`, `t_power`, `modified_gan`) add $c \sum_i (p_i - q_i)$, which is
0 for normalised distributions and keeps the divergence non-negative on
unnormalised ones (masked rows).

References:
  I. Csiszar, Information-type measures of difference of probability
  distributions and indirect observations, 1967;
  F. Liese and I. Vajda, On divergences and informations in statistics and
  information theory, 2006;
  I. Sason and S. Verdu, f-divergence inequalities, 2016;
  S. Nowozin, B. Cseke and R. Tomioka, f-GAN: training generative neural samplers
  using variational divergence minimization, 2016 (the GAN generators);
  I. Goodfellow et al., Generative adversarial nets, 2014 (the $-\log D$ loss);
  S. Amari, Differential-Geometrical Methods in Statistics, 1985.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, NamedTuple, get_args

import jax
import jax.numpy as jnp

from jaxdiv import _numerics as num

GeneratorName = Literal[
    "kl_forward",
    "kl_reverse",
    "jensen_shannon",
    "squared_hellinger",
    "total_variation",
    "pearson",
    "neyman",
    "triangular",
    "jeffreys",
    "amari_alpha",
    "t_power",
    "log1p_abs",
    "modified_gan",
]

#: The names `generator` accepts, in the table's order.
GENERATOR_NAMES: tuple[str, ...] = get_args(GeneratorName)

#: The keyword parameter each parametrised generator needs.
GENERATOR_PARAMETERS: dict[str, str] = {"amari_alpha": "alpha", "t_power": "t"}

_INF = math.inf
_LOG2 = math.log(2.0)


class FGenerator(NamedTuple):
    r"""A convex generator $f$ with $f(1) = 0$ and its limits at the ends of $(0, \infty)$.

    Attributes:
      name: the generator's name, with its parameter (`"amari_alpha(alpha=0.5)"`).
      f: $f(t)$, elementwise, for $t > 0$.
      perspective: $q f(p / q)$, elementwise, for $p, q > 0$, written in a form
        that keeps precision (`p * (log p - log q)` rather than `q * f(p / q)`).
      f_at_zero: $f(0) = \lim_{t \to 0^+} f(t)$, possibly `inf`; an entry with
        $p_i = 0 < q_i$ contributes $q_i f(0)$.
      slope_at_infinity: $f'(\infty) = \lim_{t \to \infty} f(t) / t$, possibly `inf`;
        an entry with $q_i = 0 < p_i$ contributes $p_i f'(\infty)$.
      derivative_at_zero: $\lim_{t \to 0^+} f'(t)$, possibly `-inf`: the derivative of
        the term $q f(p / q)$ in $p$ where $p = 0 < q$.
      intercept_at_infinity: $\lim_{t \to \infty} [f(t) - t f'(t)]$, possibly `-inf`:
        the derivative of the term in $q$ where $q = 0 < p$.
    """

    name: str
    f: Callable[[jax.Array], jax.Array]
    perspective: Callable[[jax.Array, jax.Array], jax.Array]
    f_at_zero: float
    slope_at_infinity: float
    derivative_at_zero: float
    intercept_at_infinity: float


def _from_perspective(
    name: str,
    perspective: Callable[[jax.Array, jax.Array], jax.Array],
    f_at_zero: float,
    slope_at_infinity: float,
    derivative_at_zero: float,
    intercept_at_infinity: float,
) -> FGenerator:
    def f(t: jax.Array) -> jax.Array:
        t = jnp.asarray(t)
        return perspective(t, jnp.ones_like(t))

    return FGenerator(
        name,
        f,
        perspective,
        f_at_zero,
        slope_at_infinity,
        derivative_at_zero,
        intercept_at_infinity,
    )


def _log_ratio(p: jax.Array, q: jax.Array) -> jax.Array:
    """`log(p / q)` for p, q > 0, through `log1p` where the two are within a factor of two.

    Each branch sees safe inputs where it is not taken (`num.guard`), so a ratio
    of 1e-24, where `log1p((p - q) / q)` rounds to `log1p(-1)`, has no NaN gradient.
    """
    close = (p >= 0.5 * q) & (p <= 2.0 * q)
    near = num.guard(close, lambda a, b: jnp.log1p((a - b) / b), p, q)
    far = num.guard(~close, lambda a, b: jnp.log(a) - jnp.log(b), p, q)
    return near + far


def _kl_forward(p: jax.Array, q: jax.Array) -> jax.Array:
    return p * _log_ratio(p, q)


def _kl_reverse(p: jax.Array, q: jax.Array) -> jax.Array:
    return q * _log_ratio(q, p)


def _jensen_shannon(p: jax.Array, q: jax.Array) -> jax.Array:
    m = 0.5 * (p + q)
    return 0.5 * (p * _log_ratio(p, m) + q * _log_ratio(q, m))


def _squared_hellinger(p: jax.Array, q: jax.Array) -> jax.Array:
    return 0.5 * (jnp.sqrt(p) - jnp.sqrt(q)) ** 2


def _total_variation(p: jax.Array, q: jax.Array) -> jax.Array:
    return 0.5 * jnp.abs(p - q)


def _pearson(p: jax.Array, q: jax.Array) -> jax.Array:
    return (p - q) ** 2 / q


def _neyman(p: jax.Array, q: jax.Array) -> jax.Array:
    return (p - q) ** 2 / p


def _triangular(p: jax.Array, q: jax.Array) -> jax.Array:
    return (p - q) ** 2 / (p + q)


def _jeffreys(p: jax.Array, q: jax.Array) -> jax.Array:
    return (p - q) * _log_ratio(p, q)


def _log1p_abs(p: jax.Array, q: jax.Array) -> jax.Array:
    return jnp.where(p >= q, p - q, q * (q - p) / p)


def _modified_gan(p: jax.Array, q: jax.Array) -> jax.Array:
    return q * _log_ratio(p + q, 2.0 * p) + 0.5 * (p - q)


def _amari(alpha: float) -> FGenerator:
    name = f"amari_alpha(alpha={alpha!r})"
    if alpha == 1.0:

        def kl_term(p: jax.Array, q: jax.Array) -> jax.Array:
            return p * _log_ratio(p, q) - p + q

        return _from_perspective(name, kl_term, 1.0, _INF, -_INF, -_INF)
    if alpha == 0.0:

        def reverse_term(p: jax.Array, q: jax.Array) -> jax.Array:
            return q * _log_ratio(q, p) - q + p

        return _from_perspective(name, reverse_term, _INF, 1.0, -_INF, -_INF)
    scale = 1.0 / (alpha * (alpha - 1.0))

    def term(p: jax.Array, q: jax.Array) -> jax.Array:
        mixed = jnp.exp(alpha * jnp.log(p) + (1.0 - alpha) * jnp.log(q))
        return scale * (mixed - alpha * p - (1.0 - alpha) * q)

    return _from_perspective(
        name,
        term,
        1.0 / alpha if alpha > 0 else _INF,
        1.0 / (1.0 - alpha) if alpha < 1 else _INF,
        1.0 / (1.0 - alpha) if alpha > 1 else -_INF,
        1.0 / alpha if alpha < 0 else -_INF,
    )


def _t_power(t: float) -> FGenerator:
    base = _amari(t)
    c = abs(t * (t - 1.0))

    def term(p: jax.Array, q: jax.Array) -> jax.Array:
        return c * base.perspective(p, q)

    return _from_perspective(
        f"t_power(t={t!r})",
        term,
        c * base.f_at_zero,
        c * base.slope_at_infinity,
        c * base.derivative_at_zero,
        c * base.intercept_at_infinity,
    )


_FIXED: dict[str, tuple[Callable[[jax.Array, jax.Array], jax.Array], float, float, float, float]]
_FIXED = {
    # name: (perspective, f(0), f'(inf), f'(0+), lim f(t) - t f'(t) at infinity)
    "kl_forward": (_kl_forward, 0.0, _INF, -_INF, -_INF),
    "kl_reverse": (_kl_reverse, _INF, 0.0, -_INF, -_INF),
    "jensen_shannon": (_jensen_shannon, 0.5 * _LOG2, 0.5 * _LOG2, -_INF, -_INF),
    "squared_hellinger": (_squared_hellinger, 0.5, 0.5, -_INF, -_INF),
    "total_variation": (_total_variation, 0.5, 0.5, -0.5, -0.5),
    "pearson": (_pearson, 1.0, _INF, -2.0, -_INF),
    "neyman": (_neyman, _INF, 1.0, -_INF, -2.0),
    "triangular": (_triangular, 1.0, 1.0, -3.0, -3.0),
    "jeffreys": (_jeffreys, _INF, _INF, -_INF, -_INF),
    "log1p_abs": (_log1p_abs, _INF, 1.0, -_INF, -1.0),
    "modified_gan": (_modified_gan, _INF, 0.5, -_INF, -_LOG2 - 0.5),
}


def _parameter(name: str, key: str, value: float | None, *, fn: str) -> float:
    if value is None:
        raise ValueError(f"{fn}: the generator {name!r} needs {key}= (a finite number).")
    if isinstance(value, str | bytes | bool):
        raise TypeError(f"{fn}: {key} must be a number, got {value!r}.")
    try:
        x = float(value)
    except (jax.errors.ConcretizationTypeError, TypeError, ValueError):
        raise TypeError(
            f"{fn}: {key} must be a concrete number (a Python float), got {value!r}; it "
            "selects the generator's limits at trace time, so it cannot be a traced value."
        ) from None
    if not math.isfinite(x):
        raise ValueError(f"{fn}: {key} must be a finite number, got {value!r}.")
    return x


def generator(
    name: str,
    *,
    alpha: float | None = None,
    t: float | None = None,
    fn: str = "jaxdiv.f_divergence",
) -> FGenerator:
    r"""The named generator `name` of the table above, with its limits.

    Args:
      name: one of `GENERATOR_NAMES`.
      alpha: the order of `"amari_alpha"` (any finite number), and only of it.
      t: the exponent $\tau$ of `"t_power"` (finite, not 0 or 1), and only of it.
      fn: the public function to name in error messages.

    Returns:
      An `FGenerator`.

    Raises:
      ValueError: for an unknown name (the message lists the known ones), a
        missing or out-of-range parameter, or a parameter the generator does not take.
      TypeError: for a name that is not a string or a parameter that is not a concrete number.

    Examples:
      >>> from jaxdiv._f_generators import generator
      >>> g = generator("squared_hellinger")
      >>> g.f_at_zero, g.slope_at_infinity
      (0.5, 0.5)
      >>> float(g.f(4.0))
      0.5
      >>> generator("amari_alpha", alpha=2.0).slope_at_infinity
      inf
    """
    if not isinstance(name, str):
        raise TypeError(f"{fn}: a generator name must be a string, got {name!r}.")
    if name not in GENERATOR_NAMES:
        known = ", ".join(repr(n) for n in GENERATOR_NAMES)
        raise ValueError(f"{fn}: unknown f-divergence generator {name!r}; known: {known}.")
    given = {"alpha": alpha, "t": t}
    wanted = GENERATOR_PARAMETERS.get(name)
    for key, value in given.items():
        if value is not None and key != wanted:
            takes = f"takes only {wanted}=" if wanted else "takes no parameter"
            raise ValueError(f"{fn}: the generator {name!r} {takes}, got {key}={value!r}.")
    if name == "amari_alpha":
        return _amari(_parameter(name, "alpha", alpha, fn=fn))
    if name == "t_power":
        tau = _parameter(name, "t", t, fn=fn)
        if tau in (0.0, 1.0):
            raise ValueError(
                f"{fn}: t_power with t={t!r} is the zero function; use t outside {{0, 1}} "
                "(t=2 is the Pearson chi-square, t=1/2 the squared Hellinger distance)."
            )
        return _t_power(tau)
    return _from_perspective(name, *_FIXED[name])
