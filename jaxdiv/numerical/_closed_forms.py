r"""Closed forms for the numerical route: within a family, and across families.

Two members of one family use [`jaxdiv.expfam`][jaxdiv.expfam]. Across families, a member
is first *lifted* into a larger family that contains it with the same density, until both
are members of one family (each larger family registers, from its own file, how it contains
the smaller ones):

* Exponential($\lambda$) is Gamma($1, \lambda$), ChiSquare($\nu$) is Gamma($\nu / 2, 1 / 2$);
* Beta($a, b$) is Dirichlet($(a, b)$) (the density of the first coordinate);
* Normal is MultivariateNormalDiag of dimension 1, which is MultivariateNormal;
* a GaussianMixture of one component is its MultivariateNormal.

Weibull against Gamma (both ways) has its own closed form: with $X \sim$ Weibull($k$,
$\lambda$), $E[\log X] = \log \lambda - \gamma / k$ and $E[X] = \lambda \Gamma(1 + 1/k)$;
with $X \sim$ Gamma($a$, $b$), $E[\log X] = \psi(a) - \log b$ and
$E[X^k] = \Gamma(a + k) / (\Gamma(a) b^k)$, which give the cross-entropies.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import digamma, gammaln

from jaxdiv import expfam, mixture
from jaxdiv._libraries import LIBRARY_MODULES

Quantity = Literal["kl", "entropy", "cross_entropy", "renyi"]
_EULER_GAMMA = 0.57721566490153286060651209008240243


def _weibull_type() -> type | None:
    return getattr(expfam, "Weibull", None)


def convert(d: object) -> object:
    """A foreign object as its jaxdiv family where `jaxdiv.expfam.from_distribution` knows it,
    and a one-component GaussianMixture as its Gaussian; anything else as it is."""
    if isinstance(d, mixture.GaussianMixture):
        if d.num_components == 1:
            return expfam.MultivariateNormal.from_mean_scale_tril(d.means[0], d.scale_tril[0])
        return d
    if isinstance(d, expfam.ExponentialFamily):
        return d
    from_distribution = getattr(expfam, "from_distribution", None)
    if from_distribution is not None and callable(getattr(d, "log_prob", None)):
        try:
            return from_distribution(d)
        except (TypeError, ValueError, NotImplementedError):
            return d
    return d


def _chain(d: expfam.ExponentialFamily) -> list[expfam.ExponentialFamily]:
    chain = [d]
    while (up := chain[-1].lifted()) is not None:
        chain.append(up)
    return chain


def _weibull_gamma_cross_entropy(p: Any, q: expfam.Gamma) -> jax.Array:
    """`-E_p[log q]` for p Weibull(k, lambda) and q Gamma(a, b)."""
    k, log_lam = p.shape, p.log_scale
    a, b = q.concentration, q.rate
    mean_log = log_lam - _EULER_GAMMA / k
    mean = jnp.exp(log_lam + gammaln(1 + 1 / k))
    return -(a * jnp.log(b) - gammaln(a) + (a - 1) * mean_log - b * mean)


def _gamma_weibull_cross_entropy(p: expfam.Gamma, q: Any) -> jax.Array:
    """`-E_p[log q]` for p Gamma(a, b) and q Weibull(k, lambda)."""
    k, log_lam = q.shape, q.log_scale
    a, b = p.concentration, p.rate
    mean_log = digamma(a) - jnp.log(b)
    mean_power = jnp.exp(gammaln(a + k) - gammaln(a) - k * (jnp.log(b) + log_lam))
    return -(math.log(k) - k * log_lam + (k - 1) * mean_log - mean_power)


def _cross_forms() -> dict[tuple[type, type], Callable[[Any, Any], jax.Array]]:
    weibull = _weibull_type()
    if weibull is None:
        return {}
    return {
        (weibull, expfam.Gamma): _weibull_gamma_cross_entropy,
        (expfam.Gamma, weibull): _gamma_weibull_cross_entropy,
    }


def _same_family(p: expfam.ExponentialFamily, q: expfam.ExponentialFamily) -> bool:
    return type(p) is type(q) and p.static_parameters() == q.static_parameters()


def _pair_form(
    p: expfam.ExponentialFamily, q: expfam.ExponentialFamily, quantity: Quantity, alpha: float
) -> jax.Array | None:
    """The closed form for two members, after lifting either or both; None if there is none."""
    forms = _cross_forms()
    candidates = [
        (i + j, a, b)
        for i, a in enumerate(_chain(p))
        for j, b in enumerate(_chain(q))
        if _same_family(a, b) or (quantity != "renyi" and (type(a), type(b)) in forms)
    ]
    if not candidates:
        return None
    _, a, b = min(candidates, key=lambda c: c[0])
    try:
        if _same_family(a, b):
            if quantity == "kl":
                return expfam.kl_divergence(a, b)
            if quantity == "cross_entropy":
                return expfam.cross_entropy(a, b)
            return expfam.renyi_divergence(a, b, alpha=alpha)
        cross = forms[(type(a), type(b))](a, b)
        return cross if quantity == "cross_entropy" else cross - expfam.entropy(a)
    except NotImplementedError:  # a family without E[log h(X)] has no entropy
        return None


#: Divergences that a bijection applied to both members leaves unchanged (f-divergences);
#: entropies and cross-entropies change by the expected log-Jacobian.
_BIJECTION_INVARIANT = ("kl", "renyi")


def _composite(d: object, name: str) -> bool:
    """Whether `d` is another library's distribution with `name` among its classes."""
    return (type(d).__module__ or "").startswith(tuple(LIBRARY_MODULES.values())) and any(
        c.__name__ == name for c in type(d).__mro__
    )


def _concrete_int(x: object) -> int | None:
    try:
        return int(np.asarray(x))
    except (TypeError, ValueError, jax.errors.ConcretizationTypeError):
        return None


def _independent(d: object) -> tuple[object, int] | None:
    """`(inner, k)` for an `Independent` reinterpreting `k` batch axes (TFP's and distrax's
    `distribution`, NumPyro's `base_dist`), else None."""
    if not _composite(d, "Independent"):
        return None
    inner = getattr(d, "distribution", None)
    inner = getattr(d, "base_dist", None) if inner is None else inner
    k = _concrete_int(getattr(d, "reinterpreted_batch_ndims", None))
    return None if inner is None or k is None else (inner, k)


def _sample(d: object) -> tuple[object, tuple[int, ...]] | None:
    """`(base, sample_shape)` for TFP's `Sample` (iid draws of `base` as one event), else None."""
    if not _composite(d, "Sample") or not hasattr(d, "sample_shape"):
        return None
    try:
        shape = tuple(int(k) for k in np.atleast_1d(np.asarray(d.sample_shape)))
    except (TypeError, ValueError, jax.errors.ConcretizationTypeError):
        return None
    base = getattr(d, "distribution", None)
    return None if base is None else (base, shape)


def _transformed_bases(p: object, q: object) -> tuple[object, object] | None:
    """The base distributions of two transformed distributions with the same bijector
    (TFP's `TransformedDistribution`, its `LogitNormal` and the like, by the bijectors'
    `==`; distrax's `Transformed`, by `same_as` or identity; NumPyro's
    `TransformedDistribution`, by its list of transforms' `==`), else None."""
    for name, base, bijector in (
        ("TransformedDistribution", "distribution", "bijector"),
        ("Transformed", "distribution", "bijector"),
        ("TransformedDistribution", "base_dist", "transforms"),
    ):
        if not (_composite(p, name) and _composite(q, name) and type(p) is type(q)):
            continue
        bp, bq = getattr(p, bijector, None), getattr(q, bijector, None)
        pb, qb = getattr(p, base, None), getattr(q, base, None)
        if bp is None or bq is None or pb is None or qb is None:
            continue
        same_as = getattr(bp, "same_as", None)
        try:
            same = bp is bq or bool(same_as(bq) if callable(same_as) else bp == bq)
        except (TypeError, ValueError, jax.errors.ConcretizationTypeError):
            same = False
        return (pb, qb) if same else None
    return None


def composite_parts(
    quantity: Quantity, p: object, q: object | None
) -> tuple[object, object | None, int, int]:
    """`(p', q', n, k)` with `quantity(p, q) = k * sum over the last n batch axes of
    quantity(p', q')`, peeling the composite layers of other libraries' objects that both
    members share: `Independent`s reinterpreting the same number of axes (every quantity
    here adds over independent coordinates), TFP `Sample`s of the same sample shape (`k` the
    number of iid draws), and, for the KL and Renyi divergences, transformed distributions
    with the same bijector (a bijection leaves them unchanged: TFP's own
    `_kl_transformed_transformed`). `(p, q, 0, 1)` where no layer is shared; with `q` None
    (the entropy) the `Independent` and `Sample` layers of `p`."""
    n, k = 0, 1
    while True:
        ip, iq = _independent(p), None if q is None else _independent(q)
        if ip is not None and (q is None or (iq is not None and iq[1] == ip[1])):
            p, q, n = ip[0], None if iq is None else iq[0], n + ip[1]
            continue
        sp, sq = _sample(p), None if q is None else _sample(q)
        if sp is not None and (q is None or (sq is not None and sq[1] == sp[1])):
            p, q, k = sp[0], None if sq is None else sq[0], k * math.prod(sp[1])
            continue
        bases = None
        if q is not None and quantity in _BIJECTION_INVARIANT:
            bases = _transformed_bases(p, q)
        if bases is not None:
            p, q = bases
            continue
        return p, q, n, k


def closed_form(
    quantity: Quantity, p: object, q: object | None, *, alpha: float = 1.0
) -> jax.Array | None:
    """The closed form of `quantity` for `p` (and `q`), or None where there is none."""
    p = convert(p)
    if not isinstance(p, expfam.ExponentialFamily):
        return None
    if quantity == "entropy":
        try:
            return expfam.entropy(p)
        except NotImplementedError:
            return None
    q = convert(q)
    if not isinstance(q, expfam.ExponentialFamily):
        return None
    return _pair_form(p, q, quantity, alpha)
