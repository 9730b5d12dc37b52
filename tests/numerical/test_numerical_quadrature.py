"""jaxdiv.numerical's quadrature against float64 scipy.integrate.quad and textbook closed forms.

Each test jits one function and maps it over several cases (one compilation per pair of
types): heavy tails (Normal against Student-t, Cauchy against Cauchy), scales 1e-3 against 10,
mixtures, half-infinite supports, and the other quantities (entropy, cross-entropy, Renyi, the
named f-divergences).
"""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy import integrate, special, stats

from jaxdiv import expfam, mixture, numerical

RTOL = 1e-8  # what the issue asks of the quadrature in float64


def _quad(f, points, lo=-np.inf, hi=np.inf):
    """A float64 oracle: scipy's quad on the pieces between `points` (and the ends)."""
    cuts = sorted({lo, hi, *(float(x) for x in points if lo < x < hi)})
    return math.fsum(
        integrate.quad(f, a, b, epsabs=0, epsrel=1e-13, limit=500)[0]
        for a, b in itertools.pairwise(cuts)
    )


def _kl_oracle(logp, logq, points, lo=-np.inf, hi=np.inf):
    def f(x):
        lp = logp(x)
        return 0.0 if not np.isfinite(lp) else math.exp(lp) * (lp - logq(x))

    return _quad(f, points, lo, hi)


def _student_t(df, loc, scale):
    """A Student-t as a numerical.Density (not a jaxdiv family)."""

    def log_prob(x):
        z = (x - loc) / scale
        return (
            jax.scipy.special.gammaln((df + 1) / 2)
            - jax.scipy.special.gammaln(df / 2)
            - 0.5 * jnp.log(df * jnp.pi)
            - jnp.log(scale)
            - (df + 1) / 2 * jnp.log1p(z * z / df)
        )

    return numerical.Density(log_prob, loc=loc, scale=scale)


def test_normal_against_student_t_matches_scipy():
    tfd = pytest.importorskip("tensorflow_probability.substrates.jax").distributions
    ms, ss, dfs = np.array([0.0, 1.0, 0.5]), np.array([1.0, 1e-3, 10.0]), np.array([1.5, 3.0, 30.0])

    @jax.jit
    @jax.vmap
    def kl(m, s, df):
        # p a jaxdiv Normal, q a TFP Student-t: any object with log_prob.
        p = expfam.Normal.from_mean_std(m, s)
        return numerical.kl_divergence(p, tfd.StudentT(df, 0.0, 1.0), return_error=True)

    got = kl(ms, ss, dfs)
    for i, (m, s, df) in enumerate(zip(ms, ss, dfs, strict=True)):
        want = _kl_oracle(
            lambda x, m=m, s=s: stats.norm.logpdf(x, m, s),
            lambda x, df=df: stats.t.logpdf(x, df),
            [m - 10 * s, m, m + 10 * s, -1.0, 0.0, 1.0],
        )
        np.testing.assert_allclose(got.value[i], want, rtol=RTOL)
        assert 0 <= got.error[i] <= RTOL * abs(want)


def test_cauchy_against_cauchy_matches_the_closed_form():
    # KL between Cauchy(m1, s1) and Cauchy(m2, s2) = log(((s1 + s2)^2 + (m1 - m2)^2) / (4 s1 s2))
    # (Chyzak and Nielsen 2019); scales from 1e-3 to 10, both ways.
    s1, s2, m2 = np.array([1.0, 1e-3, 10.0]), np.array([2.0, 10.0, 1e-3]), np.array([1.0, 0.0, 3.0])

    @jax.jit
    @jax.vmap
    def kl(a, b, m):
        return numerical.kl_divergence(_student_t(1.0, 0.0, a), _student_t(1.0, m, b))

    want = np.log(((s1 + s2) ** 2 + m2**2) / (4 * s1 * s2))
    np.testing.assert_allclose(kl(s1, s2, m2), want, rtol=RTOL)


def test_mixtures_with_very_different_scales_match_scipy():
    # p: a mixture of a component of std 1e-3 and one of std 10; q: a Normal of std in between.
    weights = np.array([[0.3, 0.7], [0.5, 0.5], [0.9, 0.1]])
    means = np.array([[0.0, 2.0], [-1.0, 1.0], [5.0, -5.0]])
    stds = np.array([[1e-3, 10.0], [10.0, 1e-3], [1e-3, 1.0]])

    @jax.jit
    @jax.vmap
    def both(w, m, s):
        p = mixture.GaussianMixture.univariate(w, m, s)
        q = expfam.Normal.from_mean_std(0.5, 3.0)
        return numerical.kl_divergence(p, q), numerical.kl_divergence(q, p)

    forward, backward = both(weights, means, stds)
    for i in range(3):
        w, m, s = weights[i], means[i], stds[i]

        def logp(x, w=w, m=m, s=s):
            return special.logsumexp(np.log(w) + stats.norm.logpdf(x, m, s))

        def logq(x):
            return stats.norm.logpdf(x, 0.5, 3.0)

        points = [*(m + 12 * s), *(m - 12 * s), *m, 0.5, -40.0, 40.0]
        np.testing.assert_allclose(forward[i], _kl_oracle(logp, logq, points), rtol=RTOL)
        np.testing.assert_allclose(backward[i], _kl_oracle(logq, logp, points), rtol=RTOL)


def test_half_infinite_supports_match_scipy():
    shape, rate = np.array([2.0, 0.7, 50.0]), np.array([1.0, 3.0, 0.1])
    mu, sigma = np.array([0.0, -1.0, 6.0]), np.array([1.0, 2.0, 0.1])

    @jax.jit
    @jax.vmap
    def kl(a, b, m, s):
        p, q = expfam.Gamma.from_shape_rate(a, b), expfam.LogNormal.from_mean_std(m, s)
        return numerical.kl_divergence(p, q), numerical.kl_divergence(q, p)

    forward, backward = kl(shape, rate, mu, sigma)
    for i in range(3):
        a, b, m, s = shape[i], rate[i], mu[i], sigma[i]

        def logp(x, a=a, b=b):
            return stats.gamma.logpdf(x, a, scale=1 / b)

        def logq(x, m=m, s=s):
            return stats.lognorm.logpdf(x, s, scale=math.exp(m))

        points = [a / b * c for c in (1e-3, 0.1, 0.5, 1, 2, 4)] + [math.exp(m)]
        np.testing.assert_allclose(forward[i], _kl_oracle(logp, logq, points, lo=0), rtol=RTOL)
        np.testing.assert_allclose(backward[i], _kl_oracle(logq, logp, points, lo=0), rtol=RTOL)


def test_entropy_cross_entropy_renyi_and_f_divergences_match_scipy():
    """One jitted function for a Normal against a Student-t with 4 degrees of freedom."""
    names = ("jensen_shannon", "squared_hellinger", "total_variation", "triangular", "pearson")

    @jax.jit
    def all_of(m):
        p, q = expfam.Normal.from_mean_std(m, 0.5), _student_t(4.0, 0.0, 1.0)
        out = {
            "entropy": numerical.entropy(q),
            "cross_entropy": numerical.cross_entropy(p, q),
            "renyi_0.5": numerical.renyi_divergence(p, q, alpha=0.5),
            "renyi_2": numerical.renyi_divergence(p, q, alpha=2.0),
        }
        return out | {n: numerical.f_divergence(p, q, n) for n in names}

    m = 0.7
    got = all_of(m)
    logp = lambda x: stats.norm.logpdf(x, m, 0.5)  # noqa: E731
    logq = lambda x: stats.t.logpdf(x, 4.0)  # noqa: E731
    pts = [m - 6, m - 3, m, m + 3, m + 6, -1.0, 0.0, 1.0]
    generators = {
        "jensen_shannon": lambda a, b: (
            0.5 * (special.xlogy(a, 2 * a / (a + b)) + special.xlogy(b, 2 * b / (a + b)))
        ),
        "squared_hellinger": lambda a, b: 0.5 * (np.sqrt(a) - np.sqrt(b)) ** 2,
        "total_variation": lambda a, b: 0.5 * abs(a - b),
        "triangular": lambda a, b: (a - b) ** 2 / (a + b),
        "pearson": lambda a, b: (a - b) ** 2 / b,
    }
    want = {
        "entropy": stats.t.entropy(4.0),
        "cross_entropy": _quad(lambda x: -math.exp(logp(x)) * logq(x), pts),
        "renyi_0.5": -2 * math.log(_quad(lambda x: math.exp(0.5 * (logp(x) + logq(x))), pts)),
        "renyi_2": math.log(_quad(lambda x: math.exp(2 * logp(x) - logq(x)), pts)),
    }
    for n, g in generators.items():
        want[n] = _quad(lambda x, g=g: g(math.exp(logp(x)), math.exp(logq(x))), pts)
    for k, v in want.items():
        np.testing.assert_allclose(got[k], v, rtol=RTOL, err_msg=k)


def test_quadrature_gradients():
    """check_grads on a pair with no closed form, and the gradient of a pair that has one
    against the closed form's."""

    def kl_normal_student(m, log_s, df):
        p = expfam.Normal.from_mean_log_std(m, log_s)
        return numerical.kl_divergence(p, _student_t(df, 0.3, 1.5), method="quadrature")

    check_grads(jax.jit(kl_normal_student), (0.4, -0.2, 3.0), order=1, modes=("rev",), rtol=1e-6)

    def kl(rate, a, b, method):
        p, q = expfam.Exponential.from_rate(rate), expfam.Gamma.from_shape_rate(a, b)
        return numerical.kl_divergence(p, q, method=method)

    args = (2.0, 2.5, 0.7)
    by_quadrature = jax.jit(jax.grad(lambda *a: kl(*a, "quadrature"), argnums=(0, 1, 2)))(*args)
    closed = jax.grad(lambda *a: kl(*a, "closed_form"), argnums=(0, 1, 2))(*args)
    np.testing.assert_allclose(by_quadrature, closed, rtol=1e-8)


def test_float32_reaches_its_own_tolerance():
    """In float32 (default tolerance 1e-4 relative) on a pair of very different scales: the value
    to a few ulps, and an error estimate that covers the actual error.

    (The Normal is written as a Density in its standardised form: `expfam.Normal.log_prob`
    goes through the natural parameters, `(m / s^2, -1 / (2 s^2))`, whose terms cancel to
    about 1e-2 in float32 at s = 1e-3; the quadrature's error estimate then reports that.)
    """
    f32 = jnp.float32

    def normal(m, s):
        def log_prob(x):
            z = (x - m) / s
            return -0.5 * z * z - jnp.log(s) - f32(0.5 * math.log(2 * math.pi))

        return numerical.Density(log_prob, loc=m, scale=s)

    @jax.jit
    def kl(m, s):
        return numerical.kl_divergence(
            normal(m, s), _student_t(f32(3.0), f32(0.0), f32(1.0)), return_error=True
        )

    got = kl(np.float32(0.5), np.float32(1e-3))
    assert got.value.dtype == f32
    want = _kl_oracle(
        lambda x: stats.norm.logpdf(x, 0.5, 1e-3),
        lambda x: stats.t.logpdf(x, 3.0),
        [0.49, 0.5, 0.51, -1.0, 0.0, 1.0],
    )
    np.testing.assert_allclose(got.value, want, rtol=2e-6)
    assert abs(float(got.value) - want) <= float(got.error) <= 1e-4 * abs(want)


@pytest.mark.parametrize("library", ["tfp", "numpyro"])
def test_supports_that_are_not_nested_give_an_honest_inf(library):
    """KL(p || q) is +inf (error 0) where p has mass outside q's support; by quadrature the
    unused panels once multiplied an infinite integrand by a zero weight (NaN +- NaN)."""
    if library == "tfp":
        uniform = pytest.importorskip("tensorflow_probability.substrates.jax").distributions
        uniform = uniform.Uniform
    else:
        uniform = pytest.importorskip("numpyro.distributions").Uniform
    inner, outer, beside = uniform(0.0, 1.0), uniform(-1.0, 2.0), uniform(0.5, 2.0)
    for p, q in ((outer, inner), (inner, beside), (beside, inner)):
        got = numerical.kl_divergence(p, q, method="quadrature", return_error=True)
        assert float(got.value) == math.inf and float(got.error) == 0.0
    nested = numerical.kl_divergence(inner, outer, method="quadrature")
    np.testing.assert_allclose(float(nested), math.log(3.0), rtol=1e-6)


def test_numpyro_supports_are_read_from_their_constraints():
    """NumPyro's constraints are callable objects: their bounds place the quadrature (these
    distributions used to be refused without support= or a key), and the entropies and a KL
    match scipy's in float64."""
    nd = pytest.importorskip("numpyro.distributions")
    cases = [
        (nd.TruncatedNormal(0.0, 1.0, low=-1.0, high=2.0), stats.truncnorm(-1.0, 2.0)),
        (nd.TruncatedNormal(0.0, 1.0, low=0.0), stats.halfnorm()),
        (nd.LogUniform(1.0, 3.0), stats.loguniform(1.0, 3.0)),
    ]
    for d, oracle in cases:
        got = numerical.entropy(d, return_error=True)
        np.testing.assert_allclose(float(got.value), oracle.entropy(), rtol=RTOL)
    p, q = cases[0][0], nd.Normal(0.5, 2.0)
    want = _kl_oracle(cases[0][1].logpdf, stats.norm(0.5, 2.0).logpdf, [0.0], lo=-1.0, hi=2.0)
    np.testing.assert_allclose(float(numerical.kl_divergence(p, q)), want, rtol=RTOL)
