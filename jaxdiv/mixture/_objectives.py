"""Objectives for fitting a Gaussian mixture with optax: forward KL, reverse KL and Renyi.

All three are jittable and differentiable with respect to the model's leaves
(and so with respect to
[`GaussianMixture.unconstrained`][jaxdiv.mixture.GaussianMixture.unconstrained] values).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv.mixture._as_mixture import as_mixture
from jaxdiv.mixture._gaussian_mixture import (
    GaussianMixture,
    MixtureLike,
    check_key,
)
from jaxdiv.mixture._kl import check_num_samples, check_order

LogDensity = Callable[[jax.Array], jax.Array]


def negative_log_likelihood(
    model: MixtureLike, samples: jax.typing.ArrayLike, *, where: jax.typing.ArrayLike | None = None
) -> jax.Array:
    r"""Mean negative log-likelihood of `samples` under `model`: the forward-KL objective.

    $$
    -\frac{1}{N} \sum_n \log q(x_n) \;\to\; H(p, q) = H(p) + KL(p \| q),
    \quad x_n \sim p
    $$

    Its expectation is the cross-entropy from the target `p` to the model
    `q`, which differs from the forward KL(p || q) by the constant `H(p)`:
    minimising it is maximum likelihood, the mass-covering fit. For a single
    Gaussian model its minimiser is the sample mean and covariance.

    Data-parallel: under `jax.jit` with `samples` sharded along their first
    axis (a `jax.sharding.NamedSharding`), each device sums its own
    shard and XLA adds the partial sums, with the same result as on one device.

    Args:
      model: a [`GaussianMixture`][jaxdiv.mixture.GaussianMixture] (or a single Gaussian from
        [`jaxdiv.expfam`][jaxdiv.expfam]).
      samples: `[N, d]` draws from the target.
      where: optional `[N]` boolean mask; masked samples (padding) are left
        out of the mean. No samples, or all of them masked, give 0 with a
        zero gradient, as in [`jaxdiv.lm.distillation_loss`][jaxdiv.lm.distillation_loss].

    Returns:
      A scalar, in nats per sample.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import mixture
      >>> q = mixture.GaussianMixture.univariate(jnp.ones(1), jnp.zeros(1), jnp.ones(1))
      >>> round(float(mixture.negative_log_likelihood(q, jnp.zeros((3, 1)))), 6)
      0.918939
    """
    fn = "mixture.negative_log_likelihood"
    model = as_mixture(model, fn=fn)
    shape = jnp.shape(samples)
    if len(shape) != 2 or shape[1] != model.dim:
        raise ValueError(
            f"jaxdiv.{fn}: samples must have shape [N, d] with d = {model.dim} (the model's "
            f"dimension), got shape {shape}."
        )
    log_q = model.log_prob(samples)
    mask = val.broadcast_mask(where, log_q.shape, fn=fn)
    return -num.masked_mean(log_q, mask)


def _component_draws(
    model: MixtureLike, target_log_prob: LogDensity, key: jax.Array, num_samples: int, fn: str
) -> tuple[GaussianMixture, jax.Array]:
    """The model as a mixture, and `log q - log p` at per-component reparameterised draws
    `[S, K, d]`."""
    mixture = as_mixture(model, fn=fn)
    if not callable(target_log_prob):
        raise TypeError(
            f"jaxdiv.{fn}: target_log_prob must be a function from points [..., d] to "
            f"log-densities [...], got {type(target_log_prob).__name__}."
        )
    x = mixture.sample_components(check_key(key, fn), (check_num_samples(num_samples, fn),))
    log_p = jnp.asarray(target_log_prob(x))
    if log_p.shape != x.shape[:-1]:
        raise ValueError(
            f"jaxdiv.{fn}: target_log_prob mapped points of shape {x.shape} to shape "
            f"{log_p.shape}; expected {x.shape[:-1]} (one log-density per point)."
        )
    return mixture, mixture.log_prob(x) - log_p


def reverse_kl(
    model: MixtureLike, target_log_prob: LogDensity, key: jax.Array, *, num_samples: int = 256
) -> jax.Array:
    r"""Reverse KL(model || target) by the reparameterisation trick: the mode-seeking objective.

    $$
    KL(q \| p) = \sum_k w_k \, E_{z \sim N(0, I)}
    \big[\log q(\mu_k + L_k z) - \log p(\mu_k + L_k z)\big]
    $$

    Each of the model's components gets `num_samples` reparameterised draws,
    weighted by its mixture weight, so the estimate is unbiased and its
    gradient reaches the weights as well as the means and scales. If
    `target_log_prob` is unnormalised (`log p + log Z`) the estimate is
    shifted by `-log Z`, which does not change the gradient.

    Args:
      model: a [`GaussianMixture`][jaxdiv.mixture.GaussianMixture] (or a single Gaussian from
        [`jaxdiv.expfam`][jaxdiv.expfam]).
      target_log_prob: maps points `[..., d]` to log-densities `[...]`.
      key: PRNG key for the draws.
      num_samples: draws per component.

    Returns:
      A scalar estimate, in nats.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxdiv import mixture
      >>> q = mixture.GaussianMixture.univariate(jnp.ones(1), jnp.zeros(1), jnp.ones(1))
      >>> kl = mixture.reverse_kl(q, q.log_prob, jax.random.key(0))
      >>> float(kl)
      0.0

    References:
      Kingma and Welling, "Auto-encoding variational Bayes", ICLR 2014.
    """
    mixture, log_ratio = _component_draws(
        model, target_log_prob, key, num_samples, "mixture.reverse_kl"
    )
    return jnp.sum(num.mul_log(mixture.weights, jnp.mean(log_ratio, axis=0)))


def variational_renyi(
    model: MixtureLike,
    target_log_prob: LogDensity,
    key: jax.Array,
    *,
    alpha: float,
    num_samples: int = 256,
) -> jax.Array:
    r"""Renyi divergence `D_alpha(model || target)` by reparameterisation (Li and Turner 2016).

    $$
    D_\alpha(q \| p) = \frac{1}{\alpha - 1}
    \log \sum_k w_k \, E_{z}\Big[\Big(\frac{q(x_k)}{p(x_k)}\Big)^{\alpha - 1}\Big],
    \quad x_k = \mu_k + L_k z
    $$

    This is minus the variational Renyi bound `L_alpha` of Li and Turner
    (for a normalised target). `alpha = 1` is [`reverse_kl`][jaxdiv.mixture.reverse_kl]; as
    `alpha -> 0` the minimiser approaches the forward-KL (mass-covering)
    fit, and `alpha > 1` is more mode-seeking than reverse KL. The Monte
    Carlo estimate of the log-mean is biased for `alpha != 1` (the bias
    shrinks as `1 / num_samples`).

    Args:
      model: a [`GaussianMixture`][jaxdiv.mixture.GaussianMixture] (or a single Gaussian from
        [`jaxdiv.expfam`][jaxdiv.expfam]).
      target_log_prob: maps points `[..., d]` to log-densities `[...]`.
      key: PRNG key.
      alpha: order, a concrete number `> 0`.
      num_samples: draws per component.

    Returns:
      A scalar estimate, in nats.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxdiv import mixture
      >>> q = mixture.GaussianMixture.univariate(jnp.ones(1), jnp.zeros(1), jnp.ones(1))
      >>> float(mixture.variational_renyi(q, q.log_prob, jax.random.key(0), alpha=0.5))
      0.0

    References:
      Li and Turner, "Renyi divergence variational inference", NeurIPS 2016.
    """
    fn = "mixture.variational_renyi"
    a = check_order(alpha, fn)
    if a == 1.0:
        return reverse_kl(model, target_log_prob, key, num_samples=num_samples)
    mixture, log_ratio = _component_draws(model, target_log_prob, key, num_samples, fn)
    n = log_ratio.shape[0]
    terms = (a - 1) * log_ratio + mixture.log_weights[None, :]
    return (num.logsumexp(jnp.ravel(terms), axis=0) - math.log(n)) / (a - 1)
