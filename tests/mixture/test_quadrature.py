"""Mixture quadrature against a float64 scipy oracle, over scale ratios from 1e-3 to 1e3.

A single Simpson grid spanning every component by 12 standard deviations gave
KL(N(0, 1e-3^2) || N(0, 10^2)) = 143.5 where the closed form is 8.71: the
narrow component fell between a handful of grid points, silently.
"""

import functools
import itertools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

import jaxdiv
from jaxdiv import mixture
from jaxdiv.mixture import GaussianMixture
from jaxdiv.mixture._kl import gauss_kronrod_15

RATIOS = [1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0, 1e3]
# p: one component whose std is RATIOS[i] times that of q's first component; q: two components.
Q_SPEC = ([0.6, 0.4], [0.5, -2.0], [1.0, 3.0])
# Tolerances against the oracle, relative: float64 to rounding, float32 to a few ulps of the sum.
RTOL = {np.float64: 1e-11, np.float32: 2e-6}


_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _log_pdf(spec, x):
    """log sum_k w_k N(x; m_k, s_k^2) in float64: scipy.stats.norm.logpdf's formula and
    scipy.special.logsumexp's shift, in plain Python floats (scipy.integrate.quad calls this
    hundreds of thousands of times; the scipy calls cost most of the oracle's time)."""
    w, m, s = spec
    terms = [
        math.log(wk) - 0.5 * ((x - mk) / sk) ** 2 - math.log(sk) - _LOG_SQRT_2PI
        for wk, mk, sk in zip(w, m, s, strict=True)
    ]
    top = max(terms)
    if top == -math.inf:
        return top
    return top + math.log(math.fsum(math.exp(t - top) for t in terms))


def _breaks(*specs):
    """Where scipy's quad is told to split: each component's mean +- 0, 1, 3, 6, 12 std."""
    return sorted(
        {
            mk + c * sk
            for spec in specs
            for mk, sk in zip(spec[1], spec[2], strict=True)
            for c in (-12, -6, -3, -1, 0, 1, 3, 6, 12)
        }
    )


def _piecewise_quad(f, points):
    return math.fsum(
        integrate.quad(f, a, b, limit=200, epsabs=0, epsrel=1e-12)[0]
        for a, b in itertools.pairwise(points)
    )


def _frozen(spec):
    return tuple(tuple(float(v) for v in a) for a in spec)


@functools.cache
def _cached_oracle_kl(ps, qs):
    def f(x):
        lp = _log_pdf(ps, x)
        return math.exp(lp) * (lp - _log_pdf(qs, x))

    return _piecewise_quad(f, _breaks(ps, qs))


def _oracle_kl(ps, qs):
    """KL(ps || qs) by scipy's quad, computed once per module for each pair of specs."""
    return _cached_oracle_kl(_frozen(ps), _frozen(qs))


def _oracle_renyi(ps, qs, alpha):
    def f(x):
        return math.exp(alpha * _log_pdf(ps, x) + (1 - alpha) * _log_pdf(qs, x))

    return math.log(_piecewise_quad(f, _breaks(ps, qs))) / (alpha - 1)


def _p_spec(ratio):
    return ([1.0], [0.3], [ratio])


def _mixtures(ratio, dtype):
    """p and q of one shape for every ratio, built from a traced scale (one compilation)."""
    p = GaussianMixture.univariate(
        jnp.ones(1, dtype), jnp.full(1, 0.3, dtype), jnp.reshape(ratio, (1,)).astype(dtype)
    )
    q = GaussianMixture.univariate(*(jnp.asarray(a, dtype) for a in Q_SPEC))
    return p, q


def _quadrature_kl(p, q):
    return mixture.kl_divergence(p, q, method="quadrature")


def test_gauss_kronrod_rule_is_exact_to_its_degree():
    """The 15-point Kronrod rule integrates polynomials of degree <= 22 exactly, its 7-point
    Gauss rule those of degree <= 13, whose nodes and weights are numpy's Gauss-Legendre."""
    nodes, kronrod, gauss = gauss_kronrod_15()
    for k in range(23):
        exact = 2 / (k + 1) if k % 2 == 0 else 0.0
        np.testing.assert_allclose(kronrod @ nodes**k, exact, atol=1e-15)
        if k <= 13:
            np.testing.assert_allclose(gauss @ nodes**k, exact, atol=1e-15)
    assert abs(gauss @ nodes**14 - 2 / 15) > 1e-6
    g_nodes, g_weights = np.polynomial.legendre.leggauss(7)
    np.testing.assert_allclose(nodes[gauss > 0], g_nodes, atol=1e-15)
    np.testing.assert_allclose(gauss[gauss > 0], g_weights, atol=1e-15)


def test_the_reported_case():
    """KL(N(0, 1e-3^2) || N(0, 10^2)) = log(1e4) + 1e-8 / 2 - 1/2 = 8.7103 (was 143.5)."""
    p = GaussianMixture.univariate(np.ones(1, np.float32), np.zeros(1, np.float32), [1e-3])
    q = GaussianMixture.univariate(np.ones(1, np.float32), np.zeros(1, np.float32), [10.0])
    exact = math.log(1e4) + 0.5 * 1e-8 - 0.5
    error, kl = jax.jit(jaxdiv.checked(_quadrature_kl))(p, q)
    error.throw()  # the error estimate is within the tolerance
    np.testing.assert_allclose(kl, exact, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kl_quadrature_over_scale_ratios(dtype):
    def both(ratio):
        p, q = _mixtures(ratio, dtype)
        kl = mixture.kl_divergence
        return kl(p, q, method="quadrature"), kl(q, p, method="quadrature")

    error, (forward, reverse) = jax.jit(jax.vmap(jaxdiv.checked(both)))(jnp.asarray(RATIOS, dtype))
    error.throw()  # the error estimates are within the tolerance
    for i, r in enumerate(RATIOS):
        ps = _p_spec(r)
        np.testing.assert_allclose(forward[i], _oracle_kl(ps, Q_SPEC), rtol=RTOL[dtype], err_msg=r)
        np.testing.assert_allclose(reverse[i], _oracle_kl(Q_SPEC, ps), rtol=RTOL[dtype], err_msg=r)


@pytest.mark.parametrize("alpha", [0.3, 2.0])
def test_renyi_quadrature_over_scale_ratios(alpha):
    # alpha > 1 needs p's tails inside q's: only the ratios where p is the narrower.
    ratios = RATIOS if alpha < 1 else [r for r in RATIOS if r <= 1]

    def one(ratio):
        p, q = _mixtures(ratio, np.float64)
        return mixture.renyi_divergence(p, q, alpha=alpha, method="quadrature")

    got = jax.jit(jax.vmap(one))(jnp.asarray(ratios))
    want = [_oracle_renyi(_p_spec(r), Q_SPEC, alpha) for r in ratios]
    np.testing.assert_allclose(got, want, rtol=1e-11)


@pytest.mark.parametrize("ratio", [1e-3, 1e3])
def test_quadrature_gradients_at_extreme_ratios(ratio):
    """d KL(N(0, s^2) || N(0, t^2)) / ds = -1/s + s/t^2, and / dt = 1/t - s^2/t^3."""
    s, t = ratio, 1.0

    def kl(s, t):
        p = GaussianMixture.univariate(jnp.ones(1), jnp.zeros(1), jnp.reshape(s, (1,)))
        q = GaussianMixture.univariate(jnp.ones(1), jnp.zeros(1), jnp.reshape(t, (1,)))
        return mixture.kl_divergence(p, q, method="quadrature")

    ds, dt = jax.jit(jax.grad(kl, argnums=(0, 1)))(s, t)
    np.testing.assert_allclose(ds, -1 / s + s / t**2, rtol=1e-9)
    np.testing.assert_allclose(dt, 1 / t - s**2 / t**3, rtol=1e-9)


def test_too_few_points_say_so():
    """Where the error estimate exceeds the tolerance the result says so: a RuntimeWarning in
    eager mode, an error under jit inside jaxdiv.checked; the default budget is silent."""
    p, q = _mixtures(jnp.asarray(1e-3), np.float64)

    def coarse(p, q):
        return mixture.kl_divergence(p, q, method="quadrature", num_points=30)

    def coarse_renyi(p, q):
        return mixture.renyi_divergence(p, q, alpha=0.5, method="quadrature", num_points=30)

    for fn, name in [(coarse, "kl_divergence"), (coarse_renyi, "renyi_divergence")]:
        with pytest.warns(RuntimeWarning, match=f"{name}: method='quadrature' did not converge"):
            fn(p, q)
        error, _ = jax.jit(jaxdiv.checked(fn))(p, q)
        with pytest.raises(ValueError, match="did not converge"):
            error.throw()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        mixture.kl_divergence(p, q, method="quadrature")
        error, _ = jax.jit(jaxdiv.checked(mixture.kl_divergence), static_argnames="method")(
            p, q, method="quadrature"
        )
        error.throw()


@pytest.mark.parametrize("bad", [29, 2.5, True, "many"])
def test_num_points_must_be_an_integer_budget(bad):
    p, q = _mixtures(jnp.asarray(1.0), np.float64)
    with pytest.raises(ValueError, match="num_points must be an integer >= 30"):
        mixture.kl_divergence(p, q, method="quadrature", num_points=bad)
    with pytest.raises(ValueError, match="num_points must be an integer >= 30"):
        mixture.renyi_divergence(p, q, alpha=0.5, method="quadrature", num_points=bad)
