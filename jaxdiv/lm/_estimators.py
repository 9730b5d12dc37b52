"""Per-token estimators of KL(p || q) from the log-probabilities of samples drawn from p."""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv.lm import _chunking as chunking

KINDS = ("k1", "k2", "k3")
REDUCTIONS = ("mean", "sum", "none")


def kl_estimate(
    logp: ArrayLike,
    logq: ArrayLike,
    *,
    kind: Literal["k1", "k2", "k3"] = "k3",
    where: ArrayLike | None = None,
    reduction: Literal["mean", "sum", "none"] = "mean",
) -> jax.Array:
    r"""Schulman's estimators of KL(p || q) from samples of p, one per token.

    With $x \sim p$ and $r = \log q(x) - \log p(x)$:

    $$
    k_1 = -r, \qquad k_2 = \tfrac12 r^2, \qquad k_3 = e^{r} - 1 - r .
    $$

    $k_1$ is unbiased and can be negative; $k_2$ is biased, low-variance and
    nonnegative; $k_3$ is unbiased and nonnegative (the KL penalty of GRPO,
    with $p$ the policy and $q$ the reference model). $k_3$ is computed
    without cancellation near $r = 0$, where policy and reference agree.

    Args:
      logp: log-probabilities under p of the sampled tokens.
      logq: log-probabilities under q of the same tokens, the shape of `logp`.
      kind: `"k1"`, `"k2"` or `"k3"`.
      where: optional boolean mask of the shape of `logp` (False for padding).
      reduction: `"mean"` over the tokens where `where` holds (0 with a zero
        gradient when none does), `"sum"` over them, or `"none"` (per token,
        0 where masked).

    Returns:
      The estimate in nats: a scalar, or per token with `reduction="none"`;
      float32 for 16-bit inputs.

    Raises:
      TypeError: non-floating inputs or a non-boolean mask.
      ValueError: inputs of different shapes, a mask of another shape, or an
        unknown `kind` or `reduction`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import lm
      >>> logp = jnp.log(jnp.array([0.5, 0.25]))
      >>> round(float(lm.kl_estimate(logp, logp - 0.1, kind="k2", reduction="sum")), 6)
      0.01

    References:
      J. Schulman, "Approximating KL divergence", 2020; Z. Shao et al.,
      "DeepSeekMath" (GRPO), 2024.
    """
    fn = "lm.kl_estimate"
    if kind not in KINDS:
        raise ValueError(f"jaxdiv.{fn}: kind must be one of {', '.join(KINDS)}, got {kind!r}.")
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"jaxdiv.{fn}: reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}."
        )
    lp = val.as_float("logp", logp, fn=fn)
    lq = val.as_float("logq", logq, fn=fn)
    if lp.shape != lq.shape:
        raise ValueError(
            f"jaxdiv.{fn}: logp has shape {lp.shape} and logq has shape {lq.shape}; they must be "
            "equal (one log-probability per sampled token)."
        )
    mask = chunking.token_mask(where, lp.shape, "kl_estimate")
    acc = val.compute_dtype(lp, lq)
    r = lq.astype(acc) - lp.astype(acc)
    if mask is not None:
        r = jnp.where(mask, r, 0.0)  # masked tokens: no value and no gradient, whatever they hold
    if kind == "k1":
        values = -r
    elif kind == "k2":
        values = 0.5 * jnp.square(r)
    else:
        values = num.expm1_minus_x(r)
    if reduction == "none":
        return values if mask is None else jnp.where(mask, values, 0.0)
    if reduction == "sum":
        return jnp.sum(values if mask is None else jnp.where(mask, values, 0.0))
    return num.masked_mean(values, mask)
