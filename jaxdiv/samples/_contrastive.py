r"""Contrastive losses, written as the cross-entropies they are.

Both losses compare every anchor embedding with every other one by cosine
similarity divided by a temperature, and score the anchor's positives with a
softmax over all the others: a classification problem whose classes are the
other samples of the batch. The similarities are bounded by `1 / temperature`
and every softmax is taken in log space with the row maximum subtracted, so
temperatures down to 0.01 (logits up to 100) neither overflow nor lose the
gradients. 16-bit embeddings are computed on in float32.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdiv import _logits
from jaxdiv import _validation as val


def _embeddings(name: str, z: ArrayLike, *, fn: str) -> jax.Array:
    x = val.as_float(name, z, fn=fn)
    if x.ndim < 2:
        raise ValueError(
            f"jaxdiv.{fn}: {name} must hold one embedding per row, shape [..., N, D]; got "
            f"shape {x.shape}."
        )
    return x


def _config(temperature: float, eps: float, *, fn: str) -> tuple[float, float]:
    t = val.finite_float("temperature", temperature, fn=fn, positive=True)
    e = val.finite_float("eps", eps, fn=fn, positive=True)
    return t, e


def _sample_mask(where: ArrayLike | None, shape: tuple[int, ...], *, fn: str) -> jax.Array:
    mask = val.broadcast_mask(where, shape, fn=fn)
    return jnp.ones(shape, bool) if mask is None else mask


def _cosine_logits(z: jax.Array, temperature: float, eps: float) -> jax.Array:
    """`cos(z_i, z_j) / temperature` for the rows of `z` ([..., M, D] -> [..., M, M]).

    Each row is divided by `max(||z||, eps)`: a zero embedding has similarity 0
    with everything and a finite gradient.
    """
    z = z.astype(val.compute_dtype(z))
    sq = jnp.sum(z * z, axis=-1, keepdims=True)
    u = z * jax.lax.rsqrt(jnp.maximum(sq, jnp.asarray(eps * eps, z.dtype)))
    return jnp.einsum("...id,...jd->...ij", u, u) / temperature


def _off_diagonal(n: int, ndim: int) -> jax.Array:
    """`[..., n, n]` (`ndim` axes, the leading ones of size 1): True off the diagonal."""
    return ~jnp.eye(n, dtype=bool).reshape((1,) * (ndim - 2) + (n, n))


def _mean_over(values: jax.Array, mask: jax.Array) -> jax.Array:
    """The mean of `values` over the last axis where `mask` holds; 0 where it never does."""
    count = jnp.sum(mask, axis=-1, dtype=jnp.int32)
    total = jnp.sum(jnp.where(mask, values, jnp.zeros((), values.dtype)), axis=-1)
    return total / jnp.maximum(count, 1).astype(values.dtype)


def infonce_loss(
    z1: ArrayLike,
    z2: ArrayLike,
    *,
    temperature: float = 0.1,
    where: ArrayLike | None = None,
    eps: float = 1e-8,
) -> jax.Array:
    r"""The NT-Xent (normalised temperature-scaled cross-entropy) loss of SimCLR.

    `z1[i]` and `z2[i]` are two views of sample `i`. The $2N$ embeddings are
    stacked, $u = (z_1; z_2)$, and each one, the anchor $a$, is classified
    against the $2N - 1$ others (itself left out) with cosine similarities as
    logits; its label is its other view $a^+$:

    $$
    \ell_a = -\log \frac{\exp(\cos(u_a, u_{a^+}) / \tau)}
      {\sum_{b \ne a} \exp(\cos(u_a, u_b) / \tau)}, \qquad
    \mathcal{L} = \frac{1}{2N} \sum_{a=1}^{2N} \ell_a ,
    $$

    computed as [`cross_entropy_from_integer_labels`][jaxdiv.cross_entropy_from_integer_labels]
    of those logits (masked on the diagonal) against the index of $a^+$. When
    the two views are exchangeable (the same augmentations on both sides), every
    candidate other than $a^+$ is a sample independent of the anchor, and
    $\log(2N - 1) - \mathcal{L}$ is an InfoNCE bound on the mutual information
    between the views' embeddings (see [`infonce_bound`][jaxdiv.samples.infonce_bound]).

    Args:
      z1: `[..., N, D]` embeddings of the first views.
      z2: `[..., N, D]` embeddings of the second views.
      temperature: $\tau > 0$; SimCLR uses 0.1 to 0.5.
      where: optional mask of pairs `[..., N]`; `False` removes pair `i` (both its
        views, as anchors and as negatives), as `z1[w], z2[w]` would.
      eps: each embedding is divided by `max(||z||, eps)`, so that a zero embedding
        gives similarities 0 and finite gradients.

    Returns:
      The mean loss over the anchors, shape `[...]`, in nats: float32 for 16-bit
      embeddings. 0 where no pair is left.

    Raises:
      TypeError: non-floating embeddings or a non-boolean mask.
      ValueError: embeddings without a feature axis or of different shapes, a
        temperature or `eps` that is not a finite number > 0, or a mask that does
        not broadcast to `z1.shape[:-1]`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import samples
      >>> z = jnp.eye(3)  # three orthogonal samples, both views identical
      >>> round(float(samples.infonce_loss(z, z, temperature=0.5)), 4)  # log(1 + 4 / e^2)
      0.4327

    References:
      T. Chen, S. Kornblith, M. Norouzi and G. Hinton, A simple framework for
      contrastive learning of visual representations (SimCLR), ICML 2020; A. van
      den Oord, Y. Li and O. Vinyals, Representation learning with contrastive
      predictive coding, 2018.
    """
    fn = "samples.infonce_loss"
    t, e = _config(temperature, eps, fn=fn)
    a = _embeddings("z1", z1, fn=fn)
    b = _embeddings("z2", z2, fn=fn)
    if a.shape != b.shape:
        raise ValueError(
            f"jaxdiv.{fn}: z1 has shape {a.shape} and z2 has shape {b.shape}; the two views "
            "must have the same shape, [..., N, D]."
        )
    n = a.shape[-2]
    valid = _sample_mask(where, a.shape[:-1], fn=fn)
    anchors = jnp.concatenate([valid, valid], axis=-1)  # [..., 2N]
    logits = _cosine_logits(jnp.concatenate([a, b], axis=-2), t, e)  # [..., 2N, 2N]
    others = anchors[..., None, :] & _off_diagonal(2 * n, logits.ndim)
    positive = (jnp.arange(2 * n) + n) % (2 * n)
    labels = jnp.where(anchors, positive, -1)
    losses = _logits.cross_entropy_from_integer_labels(
        logits, labels, where=others, ignore_index=-1
    )
    return _mean_over(losses, anchors)


def supervised_contrastive_loss(
    z: ArrayLike,
    labels: ArrayLike,
    *,
    temperature: float = 0.1,
    where: ArrayLike | None = None,
    eps: float = 1e-8,
) -> jax.Array:
    r"""The supervised contrastive loss of Khosla et al. (2020), in its $L_{\text{out}}$ form.

    Every sample $i$ is an anchor; its positives $P(i)$ are the *other* samples of
    its class and its candidates $A(i)$ all the other samples. With cosine
    similarities as logits,

    $$
    \ell_i = -\frac{1}{|P(i)|} \sum_{p \in P(i)}
      \log \frac{\exp(\cos(z_i, z_p) / \tau)}{\sum_{a \in A(i)} \exp(\cos(z_i, z_a) / \tau)},
    $$

    which is [`cross_entropy_with_logits`][jaxdiv.cross_entropy_with_logits] of the
    uniform distribution over $P(i)$ against the softmax over $A(i)$: the average
    of the log-probabilities sits outside the log ($L_{\text{out}}$, the form
    Khosla et al. found to train better than $L_{\text{in}}$).

    For several views, stack them along the sample axis and repeat the labels; with
    two views and every sample its own class this is
    [`infonce_loss`][jaxdiv.samples.infonce_loss]. The reference implementation's
    extra factor `temperature / base_temperature` is left out (multiply by it to
    match).

    An anchor without a positive (the only sample of its class in the batch) has
    an undefined $\ell_i$ (a mean over no terms; the reference implementation
    gives NaN): it is left out of the mean, though it still serves as a negative
    for the others. A batch entry without any anchor that has a positive gives 0
    with a zero gradient.

    Args:
      z: `[..., N, D]` embeddings.
      labels: `[..., N]` integer class labels (broadcastable to `z.shape[:-1]`).
      temperature: $\tau > 0$; Khosla et al. use 0.1.
      where: optional sample mask `[..., N]`; `False` removes sample `i` (as an
        anchor, a positive and a negative), as `z[w], labels[w]` would.
      eps: each embedding is divided by `max(||z||, eps)`, so that a zero embedding
        gives similarities 0 and finite gradients.

    Returns:
      The mean loss over the anchors that have a positive, shape `[...]`, in nats:
      float32 for 16-bit embeddings.

    Raises:
      TypeError: non-floating embeddings, non-integer labels or a non-boolean mask.
      ValueError: embeddings without a feature axis, labels or a mask that do not
        broadcast to `z.shape[:-1]`, or a temperature or `eps` that is not a
        finite number > 0.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import samples
      >>> z = jnp.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
      >>> loss = samples.supervised_contrastive_loss(z, jnp.array([0, 0, 1, 1]))
      >>> f"{float(loss):.2e}"  # each anchor's positive is a perfect match
      '9.08e-05'

    References:
      P. Khosla et al., Supervised contrastive learning, NeurIPS 2020.
    """
    fn = "samples.supervised_contrastive_loss"
    t, e = _config(temperature, eps, fn=fn)
    x = _embeddings("z", z, fn=fn)
    y = jnp.asarray(labels)
    if not jnp.issubdtype(y.dtype, jnp.integer):
        raise TypeError(f"jaxdiv.{fn}: labels must be an integer array, got dtype {y.dtype}.")
    try:
        y = jnp.broadcast_to(y, x.shape[:-1])
    except ValueError:
        raise ValueError(
            f"jaxdiv.{fn}: labels has shape {y.shape}, which does not broadcast to "
            f"z.shape[:-1] = {x.shape[:-1]} (one label per embedding)."
        ) from None
    n = x.shape[-2]
    valid = _sample_mask(where, x.shape[:-1], fn=fn)
    logits = _cosine_logits(x, t, e)
    others = valid[..., None, :] & _off_diagonal(n, logits.ndim)
    positives = others & (y[..., :, None] == y[..., None, :]) & valid[..., :, None]
    npos = jnp.sum(positives, axis=-1)
    target = positives / jnp.maximum(npos, 1)[..., None].astype(logits.dtype)
    losses = _logits.cross_entropy_with_logits(target, logits, where=others)
    return _mean_over(losses, valid & (npos > 0))
