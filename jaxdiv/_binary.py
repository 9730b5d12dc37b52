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
from jax.typing import ArrayLike

from jaxdiv import _core as core


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
