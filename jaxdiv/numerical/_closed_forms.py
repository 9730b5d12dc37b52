r"""Closed forms for the numerical route: within a family, and across families.

Two members of one family use [`jaxdiv.expfam`][jaxdiv.expfam]. Across families, a member
is first *lifted* into a larger family that contains it with the same density, until both
are members of one family:

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
from typing import Any, Literal, cast

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import digamma, gammaln

from jaxdiv import expfam, mixture

Quantity = Literal["kl", "entropy", "cross_entropy", "renyi"]
_EULER_GAMMA = 0.57721566490153286060651209008240243


def _weibull_type() -> type | None:
    return getattr(expfam, "Weibull", None)


def _chi_square_type() -> type | None:
    return getattr(expfam, "ChiSquare", None)


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


def _lift(d: Any) -> expfam.ExponentialFamily | None:
    """`d` as a member of the next larger family (see the module notes), or None."""
    if type(d) is expfam.Exponential:
        return expfam.Gamma(jnp.zeros_like(d.rate), -d.rate)
    chi_square = _chi_square_type()
    if chi_square is not None and type(d) is chi_square:
        df = jnp.asarray(cast(Any, d).df)
        return expfam.Gamma(df / 2 - 1, jnp.full_like(df, -0.5))
    if type(d) is expfam.Beta:
        return expfam.Dirichlet(jnp.stack([d.a_m1, d.b_m1], axis=-1))
    if type(d) is expfam.Normal:
        return expfam.MultivariateNormalDiag(d.loc[..., None], d.log_std[..., None])
    if type(d) is expfam.MultivariateNormalDiag:
        scale = jnp.einsum("...i,ij->...ij", d.std, jnp.eye(d.dim, dtype=d.dtype))
        return expfam.MultivariateNormal.from_mean_scale_tril(d.loc, scale)
    return None


def _chain(d: expfam.ExponentialFamily) -> list[expfam.ExponentialFamily]:
    chain = [d]
    while (up := _lift(chain[-1])) is not None:
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


_LIBRARIES = ("distrax", "tensorflow_probability", "numpyro")


def independent_parts(d: object) -> tuple[object, int]:
    """`(inner, n)` for another library's `Independent` over `inner` (TFP's and distrax's
    `distribution`, NumPyro's `base_dist`; nested ones add their reinterpreted axes), and
    `(d, 0)` for anything else. Every closed form here is a sum over independent
    coordinates (KL, cross-entropy, entropy and Renyi all add), so the pair's value is the
    inner pair's summed over the last `n` batch axes."""
    n = 0
    while type(d).__module__.split(".")[0] in _LIBRARIES and any(
        c.__name__ == "Independent" for c in type(d).__mro__
    ):
        inner = getattr(d, "distribution", None)
        inner = getattr(d, "base_dist", None) if inner is None else inner
        try:
            k = int(np.asarray(d.reinterpreted_batch_ndims))  # type: ignore[attr-defined]
        except (AttributeError, TypeError, jax.errors.ConcretizationTypeError):
            break
        if inner is None:
            break
        d, n = inner, n + k
    return d, n


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
