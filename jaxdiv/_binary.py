"""Elementwise divergences between Bernoulli distributions.

Each entry of `p` (or `q`) is the probability of success of its own
Bernoulli variable, as in multi-label classification; nothing is summed. The
functions are the categorical ones applied to the two outcomes
`[p, 1 - p]`, so they share their boundary handling: `0 log 0 = 0`, honest
`+inf` values, finite gradients. `where` masks entries (a masked entry
gives 0 with zero gradient) and `base` selects the units.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdiv import _core as core
from jaxdiv import _numerics as num
from jaxdiv import _validation as val


def binary_entropy(
    p: ArrayLike, *, where: ArrayLike | None = None, base: float | None = None
) -> jax.Array:
    r"""Entropy of a Bernoulli(p) variable, elementwise.

    $$
    h(p) = -p \log p - (1 - p) \log(1 - p)
    $$

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> jaxdiv.binary_entropy(jnp.array([0.0, 0.5, 1.0]), base=2).tolist()
      [0.0, 1.0, 0.0]
    """
    fn = "binary_entropy"
    (pd,), r = core.elementwise(fn, [("p", p, False)], where=where, base=base)
    return r.finish(core.entropy(r, pd))


def binary_cross_entropy(
    p: ArrayLike, q: ArrayLike, *, where: ArrayLike | None = None, base: float | None = None
) -> jax.Array:
    r"""Cross-entropy of Bernoulli(q) relative to Bernoulli(p), elementwise.

    $$
    H(p, q) = -p \log q - (1 - p) \log(1 - q)
    $$

    `p` is the target (it may be soft), `q` the predicted probability.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> [round(v, 4) for v in jaxdiv.binary_cross_entropy(
      ...     jnp.array([1.0, 0.0]), jnp.array([0.5, 0.25]), base=2).tolist()]
      [1.0, 0.415]
    """
    fn = "binary_cross_entropy"
    (pd, qd), r = core.elementwise(fn, [("p", p, False), ("q", q, False)], where=where, base=base)
    return r.finish(core.cross_entropy(r, pd, qd))


def binary_kl_divergence(
    p: ArrayLike, q: ArrayLike, *, where: ArrayLike | None = None, base: float | None = None
) -> jax.Array:
    r"""KL(Bernoulli(p) || Bernoulli(q)), elementwise.

    $$
    \mathrm{KL}(p \,\|\, q) = p \log\frac{p}{q} + (1 - p) \log\frac{1 - p}{1 - q}
    $$

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> jaxdiv.binary_kl_divergence(jnp.array([1.0, 0.5]), jnp.array([0.5, 0.5]),
      ...                             base=2).tolist()
      [1.0, 0.0]
    """
    fn = "binary_kl_divergence"
    (pd, qd), r = core.elementwise(fn, [("p", p, False), ("q", q, False)], where=where, base=base)
    return r.finish(core.kl(r, pd, qd))


def binary_cross_entropy_from_logits(
    p: ArrayLike, q_logits: ArrayLike, *, where: ArrayLike | None = None, base: float | None = None
) -> jax.Array:
    r"""Cross-entropy of Bernoulli(sigmoid(q_logits)) relative to Bernoulli(p).

    $$
    H(p, q) = -p \log \sigma(z) - (1 - p) \log \sigma(-z)
    $$

    computed with `log_sigmoid`, so it is exact for logits of any size. The
    target `p` (a probability, possibly soft) comes first, as everywhere in
    jaxdiv; `optax.sigmoid_binary_cross_entropy(logits, labels)` computes the
    same value with the arguments the other way round.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> jaxdiv.binary_cross_entropy_from_logits(jnp.array([1.0, 0.0]),
      ...                                         jnp.array([0.0, -1e4]), base=2).tolist()
      [1.0, 0.0]
    """
    fn = "binary_cross_entropy_from_logits"
    named = [("p", p, False), ("q_logits", q_logits, True)]
    (pd, qd), r = core.elementwise(fn, named, where=where, base=base)
    return r.finish(core.cross_entropy(r, pd, qd))


def binary_kl_divergence_from_logits(
    p_logits: ArrayLike,
    q_logits: ArrayLike,
    *,
    where: ArrayLike | None = None,
    base: float | None = None,
) -> jax.Array:
    r"""KL(Bernoulli(sigmoid(p_logits)) || Bernoulli(sigmoid(q_logits))), elementwise.

    $$
    \mathrm{KL} = \sigma(a)\left(\log\sigma(a) - \log\sigma(b)\right)
        + \sigma(-a)\left(\log\sigma(-a) - \log\sigma(-b)\right)
    $$

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> jaxdiv.binary_kl_divergence_from_logits(jnp.array([3.0]), jnp.array([3.0])).tolist()
      [0.0]
    """
    fn = "binary_kl_divergence_from_logits"
    named = [("p_logits", p_logits, True), ("q_logits", q_logits, True)]
    (pd, qd), r = core.elementwise(fn, named, where=where, base=base)
    return r.finish(core.kl(r, pd, qd))


def binary_focal_loss_from_logits(
    p: ArrayLike,
    q_logits: ArrayLike,
    *,
    gamma: float = 2.0,
    alpha: float | None = None,
    where: ArrayLike | None = None,
    base: float | None = None,
) -> jax.Array:
    r"""Sigmoid focal loss: the binary cross-entropy down-weighted where the model is right.

    With $q = \sigma(z)$ and the (possibly soft) target $p$,

    $$
    \ell = \alpha_p \, (1 - q_p)^{\gamma}\, H(p, q), \qquad
    1 - q_p = p\, \sigma(-z) + (1 - p)\, \sigma(z), \qquad
    \alpha_p = \alpha p + (1 - \alpha)(1 - p),
    $$

    RetinaNet's loss (Lin et al. 2017) and `optax.sigmoid_focal_loss(z, p,
    alpha, gamma)` with the target first, as everywhere in jaxdiv.
    $H(p, q)$ is [`binary_cross_entropy_from_logits`][jaxdiv.binary_cross_entropy_from_logits],
    exact for logits of any size; without `alpha` there is no class weight.

    Args:
      p: target probabilities (labels in {0, 1}, or soft).
      q_logits: the model's logits, broadcastable with `p`.
      gamma: the focusing parameter $\gamma \ge 0$.
      alpha: the weight in [0, 1] of the positive class, or None.
      where: optional boolean mask of entries.
      base: None for nats, 2 for bits.

    Returns:
      The elementwise loss.

    Raises:
      ValueError: `gamma` that is not a finite number >= 0, or `alpha`
        outside [0, 1].

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> loss = jaxdiv.binary_focal_loss_from_logits(jnp.array([1.0, 0.0]), jnp.array([0.0, 0.0]))
      >>> [round(float(v), 4) for v in loss]  # 0.25 log 2 each
      [0.1733, 0.1733]

    References:
      T.-Y. Lin, P. Goyal, R. Girshick, K. He and P. Dollár, Focal loss for
      dense object detection, 2017.
    """
    fn = "binary_focal_loss_from_logits"
    g = val.finite_float("gamma", gamma, fn=fn)
    if g < 0:
        raise ValueError(f"jaxdiv.{fn}: gamma must be >= 0, got {gamma!r}.")
    a = None if alpha is None else val.check_weight(alpha, fn=fn, name="alpha")
    p, q_logits = val.as_float("p", p, fn=fn), val.as_float("q_logits", q_logits, fn=fn)
    ce = binary_cross_entropy_from_logits(p, q_logits, where=where)
    target = jnp.asarray(p, ce.dtype)
    z = jnp.asarray(q_logits, ce.dtype)
    miss = target * jax.nn.sigmoid(-z) + (1 - target) * jax.nn.sigmoid(z)
    loss = num.focal_modulation(miss, g) * ce
    if a is not None:
        loss = (a * target + (1 - a) * (1 - target)) * loss
    return num.to_base(loss, base)
