"""Divergences between members of one exponential family, from the log-normalizer.

With `A` the log-normalizer, `mu = grad A(theta)` the mean parameters and
`C(theta, mu) = A(theta) - <theta, mu>` (the member's
[`log_normalizer_minus_inner`][jaxdiv.expfam.ExponentialFamily.log_normalizer_minus_inner]):

* KL(p1 || p2) = A(theta2) - A(theta1) - <theta2 - theta1, mu1>, the Bregman
  divergence of `A`, computed as C(theta2, mu1) - C(theta1, mu1);
* the same in the dual coordinates: KL(p1 || p2) = A*(mu1) - A*(mu2) -
  <mu1 - mu2, theta2>, with the convex conjugate A*(mu) = <theta, mu> - A(theta);
* entropy H(p) = A(theta) - <theta, mu> - E[log h(X)];
* cross-entropy H(p1, p2) = A(theta2) - <theta2, mu1> - E_1[log h(X)];
* Renyi D_alpha = (alpha A(theta1) + (1 - alpha) A(theta2)
  - A(alpha theta1 + (1 - alpha) theta2)) / (1 - alpha), computed as
  (alpha KL(m || p1) + (1 - alpha) KL(m || p2)) / (1 - alpha) with m the member
  at alpha theta1 + (1 - alpha) theta2;
* Bhattacharyya D_B = (A(theta1) + A(theta2)) / 2 - A((theta1 + theta2) / 2);
* Jeffreys J = <theta1 - theta2, mu1 - mu2> = KL(p1 || p2) + KL(p2 || p1).

Boundary members (an outcome of probability 0, a Bernoulli with p = 1, a
Poisson with rate 0) have infinite natural parameters. The forms above are
chosen so that they give the limits there, never NaN: inner products skip the
terms whose mean parameter is 0 (`0 log 0 = 0`), and no two infinite values
of `A` are subtracted (the Renyi form uses KLs, which are finite or +inf).

References:
  F. Nielsen and R. Nock, Entropies and cross-entropies of exponential
  families, 2010; F. Nielsen and S. Boltz, The Burbea-Rao and Bhattacharyya
  centroids, 2011; L. M. Bregman, 1967.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv._libraries import is_foreign
from jaxdiv.expfam import _foreign
from jaxdiv.expfam._family import ExponentialFamily
from jaxdiv.expfam._limit_gradients import with_limit_gradients
from jaxdiv.expfam._registry import closed_form_kl


def _pair(
    p: ExponentialFamily, q: ExponentialFamily, fn: str
) -> tuple[ExponentialFamily, ExponentialFamily]:
    """Checks that p and q are members of one family (converting other libraries'
    distributions) and broadcasts their batch shapes."""
    p, q = as_member(p, "p", fn), as_member(q, "q", fn)
    if type(p) is not type(q):
        raise TypeError(
            f"jaxdiv.expfam.{fn}: p is a {type(p).__name__} and q is a {type(q).__name__}; "
            "both must be members of the same family."
        )
    if p.static_parameters() != q.static_parameters():
        raise ValueError(
            f"jaxdiv.expfam.{fn}: p and q are {type(p).__name__}s with different fixed "
            f"parameters {p.static_parameters()} and {q.static_parameters()}."
        )
    if p.event_shapes != q.event_shapes:
        raise ValueError(
            f"jaxdiv.expfam.{fn}: p and q are {type(p).__name__}s of different dimensions: "
            f"p has event shape {_describe_events(p)} and q has event shape "
            f"{_describe_events(q)}; both must have the same event shape (the batch shapes "
            "in front of it broadcast)."
        )
    try:
        shape = jnp.broadcast_shapes(p.batch_shape, q.batch_shape)
    except ValueError:
        raise ValueError(
            f"jaxdiv.expfam.{fn}: p has batch shape {p.batch_shape} and q has batch shape "
            f"{q.batch_shape}, which do not broadcast."
        ) from None
    return p.broadcast_to(shape), q.broadcast_to(shape)


def as_member(d: object, name: str, fn: str) -> ExponentialFamily:
    """`d` as a member: a jaxdiv member as it is, a distrax, TFP or NumPyro distribution
    converted by [`from_distribution`][jaxdiv.expfam.from_distribution]."""
    if isinstance(d, ExponentialFamily):
        return d
    if is_foreign(d, fn=f"jaxdiv.expfam.{fn}"):
        return _foreign.from_distribution(d)
    raise TypeError(
        f"jaxdiv.expfam.{fn}: {name} must be an exponential-family member or a distrax, "
        f"TensorFlow Probability (JAX substrate) or NumPyro distribution, got {type(d).__name__}."
    )


def _describe_events(d: ExponentialFamily) -> str:
    """The event shape of each parameter, named (one shape when all parameters agree)."""
    shapes = d.event_shapes
    if len(set(shapes)) == 1:
        return str(shapes[0])
    names = type(d)._natural_fields
    return "(" + ", ".join(f"{n}: {s}" for n, s in zip(names, shapes, strict=True)) + ")"


def bregman_kl(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    r"""KL(p || q) by the generic Bregman route, for any family.

    $$
    \mathrm{KL}(p_{\theta_1} \,\|\, p_{\theta_2}) = A(\theta_2) - A(\theta_1)
        - \langle \theta_2 - \theta_1, \nabla A(\theta_1) \rangle
    $$

    computed as `C(theta2, mu1) - C(theta1, mu1)` with
    `C(theta, mu) = A(theta) - <theta, mu>`
    ([`log_normalizer_minus_inner`][jaxdiv.expfam.ExponentialFamily.log_normalizer_minus_inner]), so
    that boundary members give the limit: terms with `mu1 = 0` count as 0,
    and `+inf` where `q` gives zero probability to an outcome that `p`
    can take. No closed form of the KL is used.

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Normal.from_mean_std(0.0, 1.0)
      >>> q = expfam.Normal.from_mean_std(1.0, 2.0)
      >>> round(float(expfam.bregman_kl(p, q)), 6)
      0.443147
    """
    p, q = _pair(p, q, "bregman_kl")
    return with_limit_gradients(_bregman, p, q)


def _bregman(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    return q.log_normalizer_minus_inner(p) - p.log_normalizer_minus_inner(p)


def kl_divergence(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    r"""KL(p || q) between two members of one exponential family.

    Uses the family's closed form where one is registered (cheaper or more
    accurate), else [`bregman_kl`][jaxdiv.expfam.bregman_kl]. Batch shapes broadcast.

    Raises:
      TypeError: if `p` and `q` belong to different families (naming both).
      ValueError: if their event shapes (dimensions) differ, naming both.

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Poisson.from_rate(2.0)
      >>> q = expfam.Poisson.from_rate(3.0)
      >>> round(float(expfam.kl_divergence(p, q)), 4)
      0.1891
    """
    p, q = _pair(p, q, "kl_divergence")
    closed = closed_form_kl(type(p))
    return with_limit_gradients(closed if closed is not None else _bregman, p, q)


def convex_conjugate(p: ExponentialFamily) -> jax.Array:
    r"""The convex conjugate of `A` at this member's mean parameters.

    $$
    A^*(\mu) = \langle \theta, \mu \rangle - A(\theta), \qquad \mu = \nabla A(\theta)
    $$

    It equals the negative entropy minus `E[log h(X)]`.

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Bernoulli.from_probs(0.5)
      >>> round(float(expfam.convex_conjugate(p)), 6)  # -H(p) for a unit base measure
      -0.693147
    """
    p = as_member(p, "p", "convex_conjugate")
    return -p.log_normalizer_minus_inner(p)


def kl_divergence_dual(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    r"""KL(p || q) as the Bregman divergence of `A*` over mean parameters.

    $$
    \mathrm{KL}(p_1 \,\|\, p_2) = A^*(\mu_1) - A^*(\mu_2)
        - \langle \mu_1 - \mu_2, \theta_2 \rangle
    $$

    (`grad A*(mu2) = theta2`). Equal to [`kl_divergence`][jaxdiv.expfam.kl_divergence]; it shows the
    duality and serves as a check. Terms of the inner product where
    `mu1 = mu2` and `theta2` is infinite count as 0.

    Examples:
      >>> from jaxdiv import expfam
      >>> p, q = expfam.Poisson.from_rate(2.0), expfam.Poisson.from_rate(1.0)
      >>> round(float(expfam.kl_divergence_dual(p, q)), 6)  # = kl_divergence(p, q)
      0.386294
    """
    p, q = _pair(p, q, "kl_divergence_dual")
    return with_limit_gradients(_dual, p, q)


def _dual(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    diff = jax.tree.map(jnp.subtract, p.mean_parameters(), q.mean_parameters())
    return convex_conjugate(p) - convex_conjugate(q) - _inner_of_difference(q, diff)


def _inner_of_difference(q: ExponentialFamily, diff: tuple[jax.Array, ...]) -> jax.Array:
    """`<theta_q, mu_p - mu_q>`, a term with `mu_p = mu_q` and `theta_q` infinite counting as
    0 (zero gradient). A finite `theta_q` keeps its gradient `theta_q` in `mu_p` where the
    difference is 0 (at `p = q` the KL's gradient is `F (theta_p - theta_q) = 0`)."""
    total = jnp.zeros((), diff[0].dtype)
    for theta, d, nd in zip(q.natural_parameters(), diff, q.natural_event_ndims, strict=True):
        theta, d = jnp.broadcast_arrays(theta, d)
        term = num.guard((d != 0) | jnp.isfinite(theta), jnp.multiply, theta, d)
        total = total + jnp.sum(term, axis=tuple(range(d.ndim - nd, d.ndim)))
    return total


def entropy(p: ExponentialFamily) -> jax.Array:
    r"""Differential (or Shannon) entropy of a member, in nats.

    $$
    H(p) = A(\theta) - \langle \theta, \nabla A(\theta) \rangle - E[\log h(X)]
    $$

    A boundary member gives the limit (0 for a Bernoulli with `p` = 0 or 1).

    Examples:
      >>> import math
      >>> from jaxdiv import expfam
      >>> h = expfam.entropy(expfam.Normal.from_mean_std(0.0, 1.0))
      >>> round(float(h) - 0.5 * math.log(2 * math.pi * math.e), 6)
      0.0
    """
    p = as_member(p, "p", "entropy")
    return p.log_normalizer_minus_inner(p) - p.expected_log_base_measure()


def cross_entropy(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    r"""Cross-entropy H(p, q) = -E_p[log q(X)], in nats.

    $$
    H(p, q) = A(\theta_q) - \langle \theta_q, \mu_p \rangle - E_p[\log h(X)]
            = H(p) + \mathrm{KL}(p \,\|\, q)
    $$

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Normal.from_mean_std(0.0, 1.0)
      >>> q = expfam.Normal.from_mean_std(1.0, 1.0)
      >>> round(float(expfam.cross_entropy(p, q) - expfam.entropy(p)), 6)  # = KL(p || q)
      0.5
    """
    p, q = _pair(p, q, "cross_entropy")
    return with_limit_gradients(_cross_entropy, p, q)


def _cross_entropy(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    return q.log_normalizer_minus_inner(p) - p.expected_log_base_measure()


def _expand(mask: jax.Array, leaf: jax.Array) -> jax.Array:
    """Broadcasts a batch-shaped mask against a parameter leaf."""
    return jnp.reshape(mask, mask.shape + (1,) * (leaf.ndim - mask.ndim))


def _select(mask: jax.Array, a: ExponentialFamily, b: ExponentialFamily) -> ExponentialFamily:
    """`a` where the batch-shaped `mask` holds, else `b` (same family and shapes)."""
    return jax.tree.map(lambda x, y: jnp.where(_expand(mask, x), x, y), a, b)


def _mixture(
    p: ExponentialFamily, q: ExponentialFamily, alpha: float
) -> tuple[ExponentialFamily, jax.Array]:
    """The member at `alpha theta_p + (1 - alpha) theta_q` and where it has no mass.

    Equal infinite parameters stay as they are (`inf - inf` would be NaN).
    Opposite infinite ones (a Bernoulli with p = 1 against one with p = 0),
    or a point whose `A` is `-inf` (Categoricals with disjoint supports),
    mean that `p^alpha q^(1 - alpha)` has no mass: those entries are flagged.
    """
    nds = p.natural_event_ndims
    clash = jnp.zeros(p.batch_shape, bool)
    theta = []
    for a, b, nd in zip(p.natural_parameters(), q.natural_parameters(), nds, strict=True):
        a, b = jnp.broadcast_arrays(a, b)
        both_inf = jnp.isinf(a) & jnp.isinf(b)
        theta.append(jnp.where(both_inf & (a == b), a, alpha * a + (1 - alpha) * b))
        clash = clash | jnp.any(both_inf & (a != b), axis=tuple(range(a.ndim - nd, a.ndim)))
    mix = p.with_natural_parameters(tuple(theta))
    return mix, clash | (mix.log_normalizer() == -jnp.inf)


def _chernoff_gap(
    p: ExponentialFamily, q: ExponentialFamily, alpha: float, fn: str
) -> tuple[jax.Array, jax.Array]:
    r"""`alpha A(theta_p) + (1 - alpha) A(theta_q) - A(theta_m)`, `theta_m` the mixture.

    Written as `alpha KL(m || p) + (1 - alpha) KL(m || q)` (the affine part of
    the Bregman divergences cancels): each term is finite or `+inf`, also where
    `A` itself is infinite, and it loses less to cancellation.
    """
    mix, empty = _mixture(p, q, alpha)
    inside = mix.in_domain()
    val.check_domain(
        inside | empty,
        f"jaxdiv.expfam.{fn}: alpha * theta_p + (1 - alpha) * theta_q leaves the natural "
        f"parameter space of {type(p).__name__} for alpha={alpha} (the divergence is +inf); "
        "choose a smaller alpha.",
    )
    ok = inside & ~empty
    # Where the value is +inf, evaluate the formula at (p, p) instead: finite, with
    # a zero cotangent, so no NaN reaches the gradients of the other entries.
    m_safe, q_safe = _select(ok, mix, p), _select(ok, q, p)
    gap = alpha * kl_divergence(m_safe, p) + (1 - alpha) * kl_divergence(m_safe, q_safe)
    return gap, ok


def renyi_divergence(p: ExponentialFamily, q: ExponentialFamily, *, alpha: float) -> jax.Array:
    r"""Renyi divergence of order `alpha` in closed form through `A`.

    $$
    D_\alpha(p_1 \,\|\, p_2) = \frac{\alpha A(\theta_1) + (1 - \alpha) A(\theta_2)
        - A(\alpha \theta_1 + (1 - \alpha) \theta_2)}{1 - \alpha}
      = \frac{\alpha \mathrm{KL}(m \,\|\, p_1) + (1 - \alpha) \mathrm{KL}(m \,\|\, p_2)}
        {1 - \alpha}
    $$

    with `m` the member at `alpha theta1 + (1 - alpha) theta2` (the
    normalised `p1^alpha p2^(1 - alpha)`); the second form is the one
    computed, as it stays finite where `A` is infinite at a boundary member.
    `alpha = 1` gives KL. For `alpha > 1` the point
    `alpha theta1 + (1 - alpha) theta2` can leave the natural parameter
    space (the integral of `p1^alpha p2^(1-alpha)` diverges and the
    divergence is `+inf`): eagerly that raises `ValueError`; under `jit`
    the value is `+inf`, and [`jaxdiv.checked`][jaxdiv.checked] reports it. Members
    whose `p1^alpha p2^(1 - alpha)` has no mass (disjoint supports) give
    `+inf`.

    Raises:
      ValueError: for `alpha` outside (0, inf), or a point outside the domain.

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Normal.from_mean_std(0.0, 1.0)
      >>> q = expfam.Normal.from_mean_std(1.0, 1.0)
      >>> round(float(expfam.renyi_divergence(p, q, alpha=2.0)), 6)  # alpha (m1 - m2)^2 / 2
      1.0
    """
    fn = "renyi_divergence"
    alpha = val.finite_float("alpha", alpha, fn=f"expfam.{fn}", positive=True)
    p, q = _pair(p, q, fn)
    if alpha == 1.0:
        return kl_divergence(p, q)
    gap, ok = _chernoff_gap(p, q, alpha, fn)
    return jnp.where(ok, gap / (1 - alpha), jnp.inf)


def bhattacharyya_distance(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    r"""Bhattacharyya distance, a Jensen gap of `A` (half the Renyi divergence of order 1/2).

    $$
    D_B(p_1, p_2) = \frac{A(\theta_1) + A(\theta_2)}{2}
        - A\!\left(\frac{\theta_1 + \theta_2}{2}\right)
    $$

    computed as `(KL(m || p1) + KL(m || p2)) / 2` with `m` the member at
    `(theta1 + theta2) / 2`; `+inf` for members with disjoint supports.

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Normal.from_mean_std(0.0, 1.0)
      >>> q = expfam.Normal.from_mean_std(1.0, 1.0)
      >>> round(float(expfam.bhattacharyya_distance(p, q)), 6)  # (m1 - m2)^2 / 8
      0.125
    """
    fn = "bhattacharyya_distance"
    p, q = _pair(p, q, fn)
    gap, ok = _chernoff_gap(p, q, 0.5, fn)
    return jnp.where(ok, gap, jnp.inf)


def hellinger_distance(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    r"""Hellinger distance, in [0, 1].

    $$
    H(p_1, p_2) = \sqrt{1 - e^{-D_B(p_1, p_2)}}
    $$

    Examples:
      >>> import math
      >>> from jaxdiv import expfam
      >>> p = expfam.Normal.from_mean_std(0.0, 1.0)
      >>> q = expfam.Normal.from_mean_std(1.0, 1.0)
      >>> h = float(expfam.hellinger_distance(p, q))
      >>> round(h - math.sqrt(1 - math.exp(-1 / 8)), 9)  # sqrt(1 - exp(-Bhattacharyya))
      0.0
    """
    return num.safe_sqrt(-jnp.expm1(-bhattacharyya_distance(p, q)))


def jeffreys_divergence(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    r"""Jeffreys divergence KL(p || q) + KL(q || p).

    $$
    J(p_1, p_2) = \langle \theta_1 - \theta_2, \mu_1 - \mu_2 \rangle
        = \mathrm{KL}(p_1 \,\|\, p_2) + \mathrm{KL}(p_2 \,\|\, p_1)
    $$

    computed as the sum of the two KLs ([`kl_divergence`][jaxdiv.expfam.kl_divergence]), which stays
    exact at boundary members where the inner product would meet `inf - inf`.

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Normal.from_mean_std(0.0, 1.0)
      >>> q = expfam.Normal.from_mean_std(1.0, 1.0)
      >>> round(float(expfam.jeffreys_divergence(p, q)), 6)  # KL(p || q) + KL(q || p)
      1.0
    """
    p, q = _pair(p, q, "jeffreys_divergence")
    return kl_divergence(p, q) + kl_divergence(q, p)
