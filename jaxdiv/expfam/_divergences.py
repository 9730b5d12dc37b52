"""Divergences between members of one exponential family, from the log-normalizer.

With ``A`` the log-normalizer and ``mu = grad A(theta)`` the mean parameters:

* KL(p1 || p2) = A(theta2) - A(theta1) - <theta2 - theta1, mu1>, the Bregman
  divergence of ``A`` (computed with one ``jax.jvp``: the value of ``A`` and its
  directional derivative come out of the same pass, with no Hessian);
* the same in the dual coordinates: KL(p1 || p2) = A*(mu1) - A*(mu2) -
  <mu1 - mu2, theta2>, with the convex conjugate A*(mu) = <theta, mu> - A(theta);
* entropy H(p) = A(theta) - <theta, mu> - E[log h(X)];
* cross-entropy H(p1, p2) = A(theta2) - <theta2, mu1> - E_1[log h(X)];
* Renyi D_alpha = (alpha A(theta1) + (1 - alpha) A(theta2)
  - A(alpha theta1 + (1 - alpha) theta2)) / (1 - alpha);
* Bhattacharyya D_B = (A(theta1) + A(theta2)) / 2 - A((theta1 + theta2) / 2);
* Jeffreys J = <theta1 - theta2, mu1 - mu2>.

References:
  F. Nielsen and R. Nock, Entropies and cross-entropies of exponential
  families, 2010; F. Nielsen and S. Boltz, The Burbea-Rao and Bhattacharyya
  centroids, 2011; L. M. Bregman, 1967.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv.expfam._family import ExponentialFamily, Params, inner

_CLOSED_FORM_KL: dict[type, Callable[[ExponentialFamily, ExponentialFamily], jax.Array]] = {}


def register_kl(cls: type) -> Callable:
    """Registers a closed-form KL for members of ``cls`` (used by :func:`kl_divergence`).

    Examples:
      >>> from jaxdiv import expfam
      >>> p, q = expfam.Poisson.from_rate(2.0), expfam.Poisson.from_rate(1.0)
      >>> closed = float(expfam.kl_divergence(p, q))  # Poisson registers a closed form
      >>> round(closed - float(expfam.bregman_kl(p, q)), 9)  # which equals the Bregman form
      0.0
    """

    def decorator(fn):
        _CLOSED_FORM_KL[cls] = fn
        return fn

    return decorator


def _pair(p: ExponentialFamily, q: ExponentialFamily, fn: str):
    """Checks that p and q are members of one family and broadcasts their batch shapes."""
    for name, d in (("p", p), ("q", q)):
        if not isinstance(d, ExponentialFamily):
            raise TypeError(
                f"jaxdiv.expfam.{fn}: {name} must be an exponential-family member, "
                f"got {type(d).__name__}."
            )
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
    try:
        shape = jnp.broadcast_shapes(p.batch_shape, q.batch_shape)
    except ValueError:
        raise ValueError(
            f"jaxdiv.expfam.{fn}: p has batch shape {p.batch_shape} and q has batch shape "
            f"{q.batch_shape}, which do not broadcast."
        ) from None
    return p.broadcast_to(shape), q.broadcast_to(shape)


def _value_and_directional(d: ExponentialFamily, direction: Params) -> tuple[jax.Array, jax.Array]:
    """``A(theta)`` and ``<direction, grad A(theta)>`` from one forward-mode pass."""
    return jax.jvp(d._log_normalizer_at, (d.natural_parameters(),), (direction,))


def bregman_kl(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    r"""KL(p || q) by the generic Bregman route, for any family.

    .. math::
        \mathrm{KL}(p_{\theta_1} \,\|\, p_{\theta_2}) = A(\theta_2) - A(\theta_1)
            - \langle \theta_2 - \theta_1, \nabla A(\theta_1) \rangle

    One ``jax.jvp`` of ``A`` gives ``A(theta1)`` and the directional derivative;
    no Hessian and no closed form are used.

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Normal.from_mean_std(0.0, 1.0)
      >>> q = expfam.Normal.from_mean_std(1.0, 2.0)
      >>> round(float(expfam.bregman_kl(p, q)), 6)
      0.443147
    """
    p, q = _pair(p, q, "bregman_kl")
    direction = jax.tree.map(jnp.subtract, q.natural_parameters(), p.natural_parameters())
    a1, slope = _value_and_directional(p, direction)
    return q.log_normalizer() - a1 - slope


def kl_divergence(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    r"""KL(p || q) between two members of one exponential family.

    Uses the family's closed form where one is registered (cheaper or more
    accurate), else :func:`bregman_kl`. Batch shapes broadcast.

    Raises:
      TypeError: if ``p`` and ``q`` belong to different families (naming both).

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Poisson.from_rate(2.0)
      >>> q = expfam.Poisson.from_rate(3.0)
      >>> round(float(expfam.kl_divergence(p, q)), 4)
      0.1891
    """
    p, q = _pair(p, q, "kl_divergence")
    closed = _CLOSED_FORM_KL.get(type(p))
    return closed(p, q) if closed is not None else bregman_kl(p, q)


def convex_conjugate(p: ExponentialFamily) -> jax.Array:
    r"""The convex conjugate of ``A`` at this member's mean parameters.

    .. math::
        A^*(\mu) = \langle \theta, \mu \rangle - A(\theta), \qquad \mu = \nabla A(\theta)

    It equals the negative entropy minus ``E[log h(X)]``.

    rExamples:
    r  >>> from jaxdiv import expfam
    r  >>> p = expfam.Bernoulli.from_probs(0.5)
    r  >>> round(float(expfam.convex_conjugate(p)), 6)  # -H(p) for a unit base measure
    r  -0.693147
    r"""
    a, slope = _value_and_directional(p, p.natural_parameters())
    return slope - a


def kl_divergence_dual(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    r"""KL(p || q) as the Bregman divergence of ``A*`` over mean parameters.

    .. math::
        \mathrm{KL}(p_1 \,\|\, p_2) = A^*(\mu_1) - A^*(\mu_2)
            - \langle \mu_1 - \mu_2, \theta_2 \rangle

    (``grad A*(mu2) = theta2``). Equal to :func:`kl_divergence`; it shows the
    duality and serves as a check.

    rExamples:
    r  >>> from jaxdiv import expfam
    r  >>> p, q = expfam.Poisson.from_rate(2.0), expfam.Poisson.from_rate(1.0)
    r  >>> round(float(expfam.kl_divergence_dual(p, q)), 6)  # = kl_divergence(p, q)
    r  0.386294
    r"""
    p, q = _pair(p, q, "kl_divergence_dual")
    mu1, mu2 = p.mean_parameters(), q.mean_parameters()
    diff = jax.tree.map(jnp.subtract, mu1, mu2)
    return (
        convex_conjugate(p)
        - convex_conjugate(q)
        - inner(diff, q.natural_parameters(), p.natural_event_ndims)
    )


def entropy(p: ExponentialFamily) -> jax.Array:
    r"""Differential (or Shannon) entropy of a member, in nats.

    .. math::
        H(p) = A(\theta) - \langle \theta, \nabla A(\theta) \rangle - E[\log h(X)]

    Examples:
      >>> import math
      >>> from jaxdiv import expfam
      >>> h = expfam.entropy(expfam.Normal.from_mean_std(0.0, 1.0))
      >>> round(float(h) - 0.5 * math.log(2 * math.pi * math.e), 6)
      0.0
    """
    a, slope = _value_and_directional(p, p.natural_parameters())
    return a - slope - p.expected_log_base_measure()


def cross_entropy(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    r"""Cross-entropy H(p, q) = -E_p[log q(X)], in nats.

    .. math::
        H(p, q) = A(\theta_q) - \langle \theta_q, \mu_p \rangle - E_p[\log h(X)]
                = H(p) + \mathrm{KL}(p \,\|\, q)

    rExamples:
    r  >>> from jaxdiv import expfam
    r  >>> p = expfam.Normal.from_mean_std(0.0, 1.0)
    r  >>> q = expfam.Normal.from_mean_std(1.0, 1.0)
    r  >>> round(float(expfam.cross_entropy(p, q) - expfam.entropy(p)), 6)  # = KL(p || q)
    r  0.5
    r"""
    p, q = _pair(p, q, "cross_entropy")
    return (
        q.log_normalizer()
        - inner(q.natural_parameters(), p.mean_parameters(), p.natural_event_ndims)
        - p.expected_log_base_measure()
    )


def _interpolate(p: ExponentialFamily, q: ExponentialFamily, alpha: float) -> ExponentialFamily:
    theta = jax.tree.map(
        lambda a, b: alpha * a + (1.0 - alpha) * b, p.natural_parameters(), q.natural_parameters()
    )
    return p.with_natural_parameters(theta)


def renyi_divergence(p: ExponentialFamily, q: ExponentialFamily, *, alpha: float) -> jax.Array:
    r"""Renyi divergence of order ``alpha`` in closed form through ``A``.

    .. math::
        D_\alpha(p_1 \,\|\, p_2) = \frac{\alpha A(\theta_1) + (1 - \alpha) A(\theta_2)
            - A(\alpha \theta_1 + (1 - \alpha) \theta_2)}{1 - \alpha}

    ``alpha = 1`` gives KL. For ``alpha > 1`` the point
    ``alpha theta1 + (1 - alpha) theta2`` can leave the natural parameter
    space (the integral of ``p1^alpha p2^(1-alpha)`` diverges and the
    divergence is ``+inf``): eagerly that raises ``ValueError``; under ``jit``
    the value is ``+inf``, and :func:`jaxdiv.checked` reports it.

    Raises:
      ValueError: for ``alpha`` outside (0, inf), or a point outside the domain.

    rExamples:
    r  >>> from jaxdiv import expfam
    r  >>> p = expfam.Normal.from_mean_std(0.0, 1.0)
    r  >>> q = expfam.Normal.from_mean_std(1.0, 1.0)
    r  >>> round(float(expfam.renyi_divergence(p, q, alpha=2.0)), 6)  # alpha (m1 - m2)^2 / 2
    r  1.0
    r"""
    fn = "renyi_divergence"
    alpha = val.check_alpha(alpha, fn=f"expfam.{fn}")
    if alpha == 0 or math.isinf(alpha):
        raise ValueError(f"jaxdiv.expfam.{fn}: alpha must be finite and > 0, got {alpha!r}.")
    p, q = _pair(p, q, fn)
    if alpha == 1.0:
        return kl_divergence(p, q)
    mix = _interpolate(p, q, alpha)
    inside = mix.in_domain()
    val.check_domain(
        inside,
        f"jaxdiv.expfam.{fn}: alpha * theta_p + (1 - alpha) * theta_q leaves the natural "
        f"parameter space of {type(p).__name__} for alpha={alpha} (the divergence is +inf); "
        "choose a smaller alpha.",
    )
    safe_mix = _interpolate(p, q, 0.5)  # always inside: the domain is convex
    mix = jax.tree.map(lambda m, s: jnp.where(_expand(inside, m), m, s), mix, safe_mix)
    value = alpha * p.log_normalizer() + (1 - alpha) * q.log_normalizer() - mix.log_normalizer()
    return jnp.where(inside, value / (1 - alpha), jnp.inf)


def _expand(mask: jax.Array, leaf: jax.Array) -> jax.Array:
    """Broadcasts a batch-shaped mask against a natural-parameter leaf."""
    return jnp.reshape(mask, mask.shape + (1,) * (leaf.ndim - mask.ndim))


def bhattacharyya_distance(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    r"""Bhattacharyya distance, a Jensen gap of ``A`` (half the Renyi divergence of order 1/2).

    .. math::
        D_B(p_1, p_2) = \frac{A(\theta_1) + A(\theta_2)}{2}
            - A\!\left(\frac{\theta_1 + \theta_2}{2}\right)

    rExamples:
    r  >>> from jaxdiv import expfam
    r  >>> p = expfam.Normal.from_mean_std(0.0, 1.0)
    r  >>> q = expfam.Normal.from_mean_std(1.0, 1.0)
    r  >>> round(float(expfam.bhattacharyya_distance(p, q)), 6)  # (m1 - m2)^2 / 8
    r  0.125
    r"""
    p, q = _pair(p, q, "bhattacharyya_distance")
    mid = _interpolate(p, q, 0.5)
    return 0.5 * (p.log_normalizer() + q.log_normalizer()) - mid.log_normalizer()


def hellinger_distance(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    r"""Hellinger distance, in [0, 1].

    .. math::
        H(p_1, p_2) = \sqrt{1 - e^{-D_B(p_1, p_2)}}

    rExamples:
    r  >>> import math
    r  >>> from jaxdiv import expfam
    r  >>> p = expfam.Normal.from_mean_std(0.0, 1.0)
    r  >>> q = expfam.Normal.from_mean_std(1.0, 1.0)
    r  >>> h = float(expfam.hellinger_distance(p, q))
    r  >>> round(h - math.sqrt(1 - math.exp(-1 / 8)), 9)  # sqrt(1 - exp(-Bhattacharyya))
    r  0.0
    r"""
    return num.safe_sqrt(-jnp.expm1(-bhattacharyya_distance(p, q)))


def jeffreys_divergence(p: ExponentialFamily, q: ExponentialFamily) -> jax.Array:
    r"""Jeffreys divergence KL(p || q) + KL(q || p).

    .. math::
        J(p_1, p_2) = \langle \theta_1 - \theta_2, \mu_1 - \mu_2 \rangle

    rExamples:
    r  >>> from jaxdiv import expfam
    r  >>> p = expfam.Normal.from_mean_std(0.0, 1.0)
    r  >>> q = expfam.Normal.from_mean_std(1.0, 1.0)
    r  >>> round(float(expfam.jeffreys_divergence(p, q)), 6)  # KL(p || q) + KL(q || p)
    r  1.0
    r"""
    p, q = _pair(p, q, "jeffreys_divergence")
    d_theta = jax.tree.map(jnp.subtract, p.natural_parameters(), q.natural_parameters())
    d_mu = jax.tree.map(jnp.subtract, p.mean_parameters(), q.mean_parameters())
    return inner(d_theta, d_mu, p.natural_event_ndims)
