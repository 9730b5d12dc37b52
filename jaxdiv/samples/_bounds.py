r"""Variational lower bounds on mutual information from critic scores.

Every bound here takes a matrix of critic scores `scores[..., i, j] = f(x_i, y_j)`
for a batch of `N` joint samples $(x_i, y_i) \sim P_{XY}$: the diagonal holds the
joint pairs, the off-diagonal entries pairs $(x_i, y_j)$, $i \ne j$, that stand in
for samples of the product of the marginals $P_X \otimes P_Y$. The bounds differ in
how they turn those scores into a number below
$I(X; Y) = \mathrm{KL}(P_{XY} \,\|\, P_X \otimes P_Y)$, and so in their bias and
variance (Poole et al. 2019 is the survey these functions follow).

The `where` mask is a mask of *samples*, shape `[..., N]`: `where[..., i] = False`
removes sample `i`, that is row `i` and column `i` of the scores, exactly as
boolean indexing `scores[w][:, w]` would (padding in a batch of variable size).
A batch entry with too few samples left to contrast gives 0 with a zero gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxdiv import _numerics as num
from jaxdiv import _validation as val


class _Scores(NamedTuple):
    """Scores prepared for a bound: cleaned, in the compute dtype, with their masks."""

    s: jax.Array  # [..., N, N], 0 where the pair involves a masked sample
    valid: jax.Array  # [..., N], the samples that take part
    n_valid: jax.Array  # [...], how many samples take part
    base: float | None


def _prepare(
    fn: str,
    scores: ArrayLike,
    where: ArrayLike | None,
    base: float | None,
    *,
    min_samples: int,
) -> _Scores:
    name = f"samples.{fn}"
    s = val.as_float("scores", scores, fn=name)
    if s.ndim < 2 or s.shape[-1] != s.shape[-2]:
        raise ValueError(
            f"jaxdiv.{name}: scores must be a batch of square matrices [..., N, N] of critic "
            f"values f(x_i, y_j), the joint pairs on the diagonal; got shape {s.shape}."
        )
    n = s.shape[-1]
    if n < min_samples:
        raise ValueError(
            f"jaxdiv.{name}: needs at least {min_samples} samples (scores of shape "
            f"[..., N, N] with N >= {min_samples}) to contrast joint and marginal pairs; got "
            f"shape {s.shape}."
        )
    base = val.check_base(base, fn=name)
    s = s.astype(val.compute_dtype(s))
    mask = val.broadcast_mask(where, s.shape[:-1], fn=name)
    if mask is None:
        valid = jnp.ones(s.shape[:-1], bool)
        count = jnp.full(s.shape[:-2], n, jnp.int32)
    else:
        valid = mask
        count = jnp.sum(mask, axis=-1, dtype=jnp.int32)
        pairs = valid[..., :, None] & valid[..., None, :]
        s = jnp.where(pairs, s, jnp.zeros((), s.dtype))  # garbage in padding never reaches us
    return _Scores(s, valid, count, base)


def _joint_mean(p: _Scores, fn: Callable[[jax.Array], jax.Array] | None = None) -> jax.Array:
    """The mean over the unmasked joint pairs of `fn(scores_ii)` (of the scores without fn)."""
    diag = jnp.diagonal(p.s, axis1=-2, axis2=-1)
    terms = diag if fn is None else fn(diag)
    total = jnp.sum(jnp.where(p.valid, terms, jnp.zeros((), terms.dtype)), axis=-1)
    return total / jnp.maximum(p.n_valid, 1).astype(total.dtype)


def _off_diagonal(p: _Scores) -> tuple[jax.Array, jax.Array]:
    """The mask of the unmasked pairs `(i, j)`, `i != j`, and their number."""
    n = p.s.shape[-1]
    off = ~jnp.eye(n, dtype=bool).reshape((1,) * (p.s.ndim - 2) + (n, n))
    pairs = p.valid[..., :, None] & p.valid[..., None, :] & off
    return pairs, p.n_valid * (p.n_valid - 1)


def _log_mean_exp_marginal(p: _Scores) -> tuple[jax.Array, jax.Array]:
    """`log mean exp(scores_ij)` over the unmasked pairs with `i != j`, and where it exists."""
    pairs, npairs = _off_diagonal(p)
    lse = num.logsumexp(jnp.where(pairs, p.s, -jnp.inf), axis=(-2, -1))
    exists = npairs > 0
    lse = jnp.where(exists, lse, jnp.zeros((), lse.dtype))
    return lse - jnp.log(jnp.maximum(npairs, 1).astype(lse.dtype)), exists


def infonce_bound(
    scores: ArrayLike,
    *,
    where: ArrayLike | None = None,
    base: float | None = None,
) -> jax.Array:
    r"""The InfoNCE lower bound on mutual information (contrastive predictive coding).

    Each joint pair is classified against the other $N - 1$ samples of its row:

    $$
    I_{\mathrm{NCE}} = \frac{1}{N} \sum_{i=1}^{N}
      \log \frac{e^{f(x_i, y_i)}}{\frac{1}{N} \sum_{j=1}^{N} e^{f(x_i, y_j)}}
      \;\le\; I(X; Y) ,
    $$

    that is $\log N$ minus the mean cross-entropy of the softmax over each row with
    the diagonal as the label. It holds for any critic and any $N$ in expectation.

    Bias and variance: low variance (the normaliser is a mean of $N$ terms inside a
    log), but the value can never exceed $\log N$, reached by a perfect critic that
    puts all of each row's mass on its diagonal. InfoNCE is therefore badly biased
    when $I(X; Y) \gtrsim \log N$: its large-$N$ cost is the price of its low
    variance. The optimal critic is $f(x, y) = \log p(y \mid x) + c(x)$.

    Args:
      scores: critic values `[..., N, N]`, `scores[..., i, j] = f(x_i, y_j)`, the
        joint pairs on the diagonal.
      where: optional sample mask `[..., N]`; `False` removes sample `i` (row and
        column `i`), as `scores[w][:, w]` would, and `N` is then the number of
        samples left.
      base: None for nats, 2 for bits.

    Returns:
      The bound, shape `[...]`: at most $\log N$. 0 where no sample is left.

    Raises:
      TypeError: non-floating scores or a non-boolean mask.
      ValueError: scores that are not square matrices, or a mask that does not
        broadcast to `scores.shape[:-1]`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import samples
      >>> perfect = 100.0 * jnp.eye(4)  # every joint pair recognised: the bound is log 4
      >>> round(float(samples.infonce_bound(perfect, base=2)), 6)
      2.0
      >>> float(samples.infonce_bound(jnp.zeros((4, 4))))  # an uninformative critic
      0.0

    References:
      A. van den Oord, Y. Li and O. Vinyals, Representation learning with
      contrastive predictive coding, 2018; B. Poole, S. Ozair, A. van den Oord,
      A. Alemi and G. Tucker, On variational bounds of mutual information, ICML 2019.
    """
    p = _prepare("infonce_bound", scores, where, base, min_samples=1)
    columns = jnp.broadcast_to(p.valid[..., None, :], p.s.shape)
    row_lse = num.logsumexp(jnp.where(columns, p.s, -jnp.inf), axis=-1)
    row_lse = jnp.where(p.valid, row_lse, jnp.zeros((), row_lse.dtype))  # masked rows: -inf
    diag = jnp.diagonal(p.s, axis1=-2, axis2=-1)
    total = jnp.sum(jnp.where(p.valid, diag - row_lse, jnp.zeros((), diag.dtype)), axis=-1)
    n = jnp.maximum(p.n_valid, 1).astype(total.dtype)
    value = total / n + jnp.log(n)
    return num.to_base(jnp.where(p.n_valid > 0, value, jnp.zeros((), value.dtype)), p.base)


def nwj_bound(
    scores: ArrayLike,
    *,
    where: ArrayLike | None = None,
    base: float | None = None,
) -> jax.Array:
    r"""The Nguyen-Wainwright-Jordan (NWJ, f-GAN KL, MINE-f) lower bound on mutual information.

    The variational form of the KL divergence as an f-divergence, $f(u) = u \log u$
    with convex conjugate $f^*(t) = e^{t - 1}$:

    $$
    I_{\mathrm{NWJ}} = \mathbb{E}_{P_{XY}}[f(x, y)]
      - e^{-1}\, \mathbb{E}_{P_X \otimes P_Y}\!\left[e^{f(x, y)}\right]
      \;\le\; I(X; Y) ,
    $$

    the first expectation over the diagonal, the second over the $N(N-1)$
    off-diagonal pairs. The factor $e^{-1}$ is that of Nguyen et al. and of
    TensorFlow Probability's `lower_bound_nguyen_wainwright_jordan`; the optimal
    critic is $f(x, y) = 1 + \log \frac{p(x, y)}{p(x)\,p(y)}$, at which the bound is
    tight.

    Bias and variance: unbiased (an average of sample terms, no log outside), not
    capped at $\log N$, but the exponential of the critic makes its variance grow
    like $e^{I(X; Y)}$: reliable for small mutual information, very noisy for large.
    The exponential also means large scores give a very negative (in float32
    eventually `-inf`) value: that is the bound, not an overflow to hide.

    Args:
      scores: critic values `[..., N, N]`, `scores[..., i, j] = f(x_i, y_j)`, the
        joint pairs on the diagonal; `N >= 2`.
      where: optional sample mask `[..., N]`; `False` removes sample `i` (row and
        column `i`), as `scores[w][:, w]` would.
      base: None for nats, 2 for bits.

    Returns:
      The bound, shape `[...]`; 0 where fewer than two samples are left.

    Raises:
      TypeError: non-floating scores or a non-boolean mask.
      ValueError: scores that are not square matrices with `N >= 2`, or a mask that
        does not broadcast to `scores.shape[:-1]`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import samples
      >>> float(samples.nwj_bound(jnp.ones((3, 3))))  # a constant critic 1: 1 - e^0 = 0
      0.0

    References:
      X. Nguyen, M. J. Wainwright and M. I. Jordan, Estimating divergence
      functionals and the likelihood ratio by convex risk minimization, IEEE
      Trans. Inf. Theory 56(11), 2010; B. Poole et al., On variational bounds of
      mutual information, ICML 2019.
    """
    p = _prepare("nwj_bound", scores, where, base, min_samples=2)
    lme, exists = _log_mean_exp_marginal(p)
    value = _joint_mean(p) - jnp.exp(lme - 1.0)
    return num.to_base(jnp.where(exists, value, jnp.zeros((), value.dtype)), p.base)


def donsker_varadhan_bound(
    scores: ArrayLike,
    *,
    where: ArrayLike | None = None,
    base: float | None = None,
) -> jax.Array:
    r"""The Donsker-Varadhan lower bound on mutual information (the bound MINE maximises).

    $$
    I_{\mathrm{DV}} = \mathbb{E}_{P_{XY}}[f(x, y)]
      - \log \mathbb{E}_{P_X \otimes P_Y}\!\left[e^{f(x, y)}\right]
      \;\le\; I(X; Y) ,
    $$

    the first expectation over the diagonal, the second over the $N(N-1)$
    off-diagonal pairs (a log-mean-exp, computed with a shifted logsumexp, so
    scores of any size are fine). Any shift of the critic cancels; the optimal
    critic is $\log \frac{p(x, y)}{p(x)\,p(y)}$ plus any constant.

    Bias and variance: tighter than [`nwj_bound`][jaxdiv.samples.nwj_bound] for the
    same critic (NWJ is DV with $\log z \le z/e$), but the log of a sample mean makes
    the estimate biased for finite $N$, and so is its gradient: the gradient of
    $\log \bar{Z}$ is $\nabla \bar{Z} / \bar{Z}$ with the batch mean $\bar{Z}$ in
    the denominator. [`mine_loss`][jaxdiv.samples.mine_loss] replaces that
    denominator by a moving average (MINE's correction). Its variance, like NWJ's,
    grows with the mutual information.

    Args:
      scores: critic values `[..., N, N]`, `scores[..., i, j] = f(x_i, y_j)`, the
        joint pairs on the diagonal; `N >= 2`.
      where: optional sample mask `[..., N]`; `False` removes sample `i` (row and
        column `i`), as `scores[w][:, w]` would.
      base: None for nats, 2 for bits.

    Returns:
      The bound, shape `[...]`; 0 where fewer than two samples are left.

    Raises:
      TypeError: non-floating scores or a non-boolean mask.
      ValueError: scores that are not square matrices with `N >= 2`, or a mask that
        does not broadcast to `scores.shape[:-1]`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import samples
      >>> s = jnp.array([[2.0, 0.0], [0.0, 2.0]])  # joint pairs score 2, the others 0
      >>> float(samples.donsker_varadhan_bound(s))
      2.0

    References:
      M. D. Donsker and S. R. S. Varadhan, Asymptotic evaluation of certain Markov
      process expectations for large time IV, 1983; M. I. Belghazi et al., Mutual
      information neural estimation (MINE), ICML 2018; B. Poole et al., On
      variational bounds of mutual information, ICML 2019.
    """
    p = _prepare("donsker_varadhan_bound", scores, where, base, min_samples=2)
    lme, exists = _log_mean_exp_marginal(p)
    value = _joint_mean(p) - lme
    return num.to_base(jnp.where(exists, value, jnp.zeros((), value.dtype)), p.base)


class MineLoss(NamedTuple):
    """What [`mine_loss`][jaxdiv.samples.mine_loss] returns: a named tuple of three arrays.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import samples
      >>> loss, bound, state = samples.mine_loss(jnp.array([[2.0, 0.0], [0.0, 2.0]]))
      >>> float(bound), float(state)
      (2.0, 0.0)
    """

    loss: jax.Array
    """The surrogate to minimise: its value is `-bound`, its gradient MINE's corrected one."""
    bound: jax.Array
    """The Donsker-Varadhan bound on this batch, in nats."""
    log_moving_average: jax.Array
    """The new state: the log of the moving average of the marginal mean of `exp(f)`."""


def mine_loss(
    scores: ArrayLike,
    log_moving_average: ArrayLike | None = None,
    *,
    decay: float = 0.99,
    where: ArrayLike | None = None,
) -> MineLoss:
    r"""MINE's loss: the Donsker-Varadhan bound with the moving-average gradient correction.

    The gradient of [`donsker_varadhan_bound`][jaxdiv.samples.donsker_varadhan_bound]
    divides $\nabla \bar{Z}$ by the batch mean $\bar{Z}$ of $e^{f}$ over the marginal
    pairs, a biased estimate of the true gradient for small batches. MINE replaces
    the denominator by an exponential moving average $m$ over the batches,

    $$
    m_t = \mathrm{decay}\; m_{t-1} + (1 - \mathrm{decay})\, \bar{Z}_t, \qquad
    \nabla \approx \nabla\, \mathbb{E}_{P_{XY}}[f] - \frac{\nabla \bar{Z}_t}{m_t} ,
    $$

    and this function returns a surrogate whose value is minus the bound and whose
    gradient is minus that corrected one. It is functional: the state, kept in log
    space (`log m`, so that scores of any size are safe), goes in and comes out;
    thread it through the training loop. With `log_moving_average=None` the average
    starts at the current batch, so the first step is the plain DV gradient.

    Args:
      scores: critic values `[..., N, N]`, `scores[..., i, j] = f(x_i, y_j)`, the
        joint pairs on the diagonal; `N >= 2`.
      log_moving_average: the state returned by the previous call (shape `[...]`),
        or None to start.
      decay: the moving average's decay in [0, 1); 0 gives the plain DV gradient.
      where: optional sample mask `[..., N]`, as in
        [`donsker_varadhan_bound`][jaxdiv.samples.donsker_varadhan_bound]; a batch
        entry with fewer than two samples left keeps its state and has loss 0.

    Returns:
      A [`MineLoss`][jaxdiv.samples.MineLoss] `(loss, bound, log_moving_average)`, each
      of shape `[...]`.

    Raises:
      TypeError: non-floating scores or a non-boolean mask.
      ValueError: scores that are not square matrices with `N >= 2`, a mask that does
        not broadcast to `scores.shape[:-1]`, or `decay` outside [0, 1).

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from jaxdiv import samples
      >>> s = jnp.array([[2.0, 0.0], [0.0, 2.0]])
      >>> out = samples.mine_loss(s)
      >>> float(out.loss), float(out.bound), float(out.log_moving_average)
      (-2.0, 2.0, 0.0)
      >>> out = samples.mine_loss(s + 1.0, out.log_moving_average, decay=0.9)
      >>> round(float(out.log_moving_average), 4)  # log(0.9 * 1 + 0.1 * e)
      0.1586

    References:
      M. I. Belghazi et al., Mutual information neural estimation (MINE), ICML 2018;
      B. Poole et al., On variational bounds of mutual information, ICML 2019.
    """
    fn = "mine_loss"
    d = val.concrete_float("decay", decay, fn=f"samples.{fn}")
    if not 0.0 <= d < 1.0:
        raise ValueError(f"jaxdiv.samples.{fn}: decay must lie in [0, 1), got {decay!r}.")
    p = _prepare(fn, scores, where, None, min_samples=2)
    lme, exists = _log_mean_exp_marginal(p)
    joint = _joint_mean(p)
    batch_lme = jax.lax.stop_gradient(lme)
    if log_moving_average is None:
        old = batch_lme
    else:
        old = jnp.asarray(log_moving_average)
        if not jnp.issubdtype(old.dtype, jnp.floating):
            raise TypeError(
                f"jaxdiv.samples.{fn}: log_moving_average must be a floating array (the state "
                f"a previous call returned) or None, got dtype {old.dtype}."
            )
        try:
            old = jnp.broadcast_to(old.astype(lme.dtype), lme.shape)
        except ValueError:
            raise ValueError(
                f"jaxdiv.samples.{fn}: log_moving_average has shape {old.shape}; expected the "
                f"batch shape of the scores, {lme.shape}."
            ) from None
        old = jax.lax.stop_gradient(old)
    log_d = math.log(d) if d > 0 else -math.inf
    new = jnp.logaddexp(log_d + old, math.log1p(-d) + batch_lme)  # log(d m + (1 - d) Z)
    new = jnp.where(exists, new, old)
    ratio = jnp.exp(lme - new)  # Z / m, at most 1 / (1 - decay): never overflows
    surrogate = joint - batch_lme - ratio + jax.lax.stop_gradient(ratio)
    zero = jnp.zeros((), surrogate.dtype)
    bound = jnp.where(exists, joint - lme, zero)
    return MineLoss(jnp.where(exists, -surrogate, zero), bound, new)


def jensen_shannon_bound(
    scores: ArrayLike,
    *,
    where: ArrayLike | None = None,
    base: float | None = None,
) -> jax.Array:
    r"""The f-GAN Jensen-Shannon lower bound (the GAN discriminator's objective, Deep InfoMax).

    With the discriminator $D = \sigma(f)$ telling joint pairs from marginal ones,

    $$
    I_{\mathrm{JS}} = \mathbb{E}_{P_{XY}}\!\left[-\operatorname{softplus}(-f(x, y))\right]
      - \mathbb{E}_{P_X \otimes P_Y}\!\left[\operatorname{softplus}(f(x, y))\right]
      \;\le\; 2\, \mathrm{JS}(P_{XY} \,\|\, P_X \otimes P_Y) - \log 4 ,
    $$

    the first expectation over the diagonal, the second over the off-diagonal
    pairs; this is TensorFlow Probability's `lower_bound_jensen_shannon`. It bounds
    the Jensen-Shannon divergence, not the mutual information: it lies in
    $[-\log 4, 0]$ at the optimum, which is the log density ratio
    $f = \log \frac{p(x, y)}{p(x)\,p(y)}$. Poole et al. (2019) train the critic with
    this objective and then evaluate the mutual information with
    [`nwj_bound`][jaxdiv.samples.nwj_bound] on `scores + 1`.

    Bias and variance: the softplus terms are bounded in their gradients
    (sigmoids), so training is stable and low variance, as in Hjelm et al.'s Deep
    InfoMax, where the JS objective outperformed DV and NCE as a training signal;
    but the value is a different divergence, which saturates at $\log 4$ rather
    than growing with $I(X; Y)$.

    Args:
      scores: critic values `[..., N, N]`, `scores[..., i, j] = f(x_i, y_j)`, the
        joint pairs on the diagonal; `N >= 2`.
      where: optional sample mask `[..., N]`; `False` removes sample `i` (row and
        column `i`), as `scores[w][:, w]` would.
      base: None for nats, 2 for bits.

    Returns:
      The bound, shape `[...]`, at most 0; 0 where fewer than two samples are left.

    Raises:
      TypeError: non-floating scores or a non-boolean mask.
      ValueError: scores that are not square matrices with `N >= 2`, or a mask that
        does not broadcast to `scores.shape[:-1]`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import samples
      >>> round(float(samples.jensen_shannon_bound(jnp.zeros((3, 3)))), 6)  # -2 log 2
      -1.386294

    References:
      S. Nowozin, B. Cseke and R. Tomioka, f-GAN: training generative neural
      samplers using variational divergence minimization, NeurIPS 2016; R. D.
      Hjelm et al., Learning deep representations by mutual information estimation
      and maximization, ICLR 2019; B. Poole et al., On variational bounds of mutual
      information, ICML 2019.
    """
    p = _prepare("jensen_shannon_bound", scores, where, base, min_samples=2)
    joint = -_joint_mean(p, lambda d: jax.nn.softplus(-d))
    pairs, npairs = _off_diagonal(p)
    total = jnp.sum(jnp.where(pairs, jax.nn.softplus(p.s), jnp.zeros((), p.s.dtype)), (-2, -1))
    marginal = total / jnp.maximum(npairs, 1).astype(total.dtype)
    value = joint - marginal
    return num.to_base(jnp.where(npairs > 0, value, jnp.zeros((), value.dtype)), p.base)


def barber_agakov_bound(
    log_q: ArrayLike,
    entropy: ArrayLike,
    *,
    where: ArrayLike | None = None,
    base: float | None = None,
) -> jax.Array:
    r"""The Barber-Agakov lower bound on mutual information, from a variational decoder.

    With a decoder $q(x \mid y)$ in place of the unknown $p(x \mid y)$ and the
    entropy $H(X)$ known,

    $$
    I_{\mathrm{BA}} = \mathbb{E}_{P_{XY}}[\log q(x \mid y)] + H(X)
      = I(X; Y) - \mathbb{E}_{P_Y}\!\left[\mathrm{KL}(p(x \mid y) \,\|\, q(x \mid y))\right]
      \;\le\; I(X; Y) ,
    $$

    tight when the decoder is the true conditional. For continuous $X$ both terms
    are differential (the entropy may be negative). This is TensorFlow
    Probability's `lower_bound_barber_agakov`.

    Bias and variance: the only bound here that needs no negative samples, so its
    variance is that of a plain sample mean of $\log q$; its bias is the expected KL
    of the decoder, which a tractable decoder family may never close, and it needs
    $H(X)$, which is rarely known outside of designed experiments.

    Args:
      log_q: `[..., N]`, $\log q(x_i \mid y_i)$ for the joint samples.
      entropy: $H(X)$ in nats, broadcastable to `log_q.shape[:-1]`.
      where: optional sample mask `[..., N]`; the mean is over the unmasked samples.
      base: None for nats, 2 for bits (`entropy` is always given in nats).

    Returns:
      The bound, shape `[...]`; 0 where no sample is left.

    Raises:
      TypeError: non-floating `log_q` or a non-boolean mask.
      ValueError: `log_q` without a sample axis, an `entropy` that does not
        broadcast to `log_q.shape[:-1]`, or a mask that does not broadcast to
        `log_q.shape`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import samples
      >>> log_q = jnp.array([-1.0, -2.0, -3.0])
      >>> float(samples.barber_agakov_bound(log_q, 2.5))
      0.5

    References:
      D. Barber and F. Agakov, The IM algorithm: a variational approach to
      information maximization, NeurIPS 2003; B. Poole et al., On variational bounds
      of mutual information, ICML 2019.
    """
    name = "samples.barber_agakov_bound"
    lq = val.as_float("log_q", log_q, fn=name)
    if lq.ndim < 1:
        raise ValueError(
            f"jaxdiv.{name}: log_q must hold log q(x_i | y_i) along a sample axis, [..., N]; "
            "got a scalar."
        )
    base = val.check_base(base, fn=name)
    (h,) = val.float_params(name, entropy=entropy)
    dtype = val.compute_dtype(lq, h)
    lq, h = lq.astype(dtype), h.astype(dtype)
    try:
        h = jnp.broadcast_to(h, lq.shape[:-1])
    except ValueError:
        raise ValueError(
            f"jaxdiv.{name}: entropy has shape {h.shape}, which does not broadcast to the batch "
            f"shape {lq.shape[:-1]} of log_q (shape {lq.shape})."
        ) from None
    mask = val.broadcast_mask(where, lq.shape, fn=name)
    if mask is None:
        value = jnp.mean(lq, axis=-1) + h
        return num.to_base(value, base)
    count = jnp.sum(mask, axis=-1, dtype=jnp.int32)
    total = jnp.sum(jnp.where(mask, lq, jnp.zeros((), dtype)), axis=-1)
    value = total / jnp.maximum(count, 1).astype(dtype) + h
    return num.to_base(jnp.where(count > 0, value, jnp.zeros((), dtype)), base)
