"""jaxdiv.numerical's compiled programs are reused by repeated eager calls (counted through
the jitted programs' caches, not timed), and other libraries' `MixtureSameFamily` of Normals
take the quadrature."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats

from jaxdiv import expfam, mixture, numerical
from jaxdiv.numerical import _divergences


def _sizes():
    return (
        _divergences._quadrature_program._cache_size(),
        _divergences._closed_form_program._cache_size(),
    )


def test_repeated_eager_calls_reuse_the_compiled_program():
    laplace = expfam.Laplace.from_loc_scale(0.0, 1.0)
    normal = expfam.Normal.from_mean_std(0.0, 3.0)
    calls = [
        lambda p, q: numerical.kl_divergence(p, q),
        lambda p, q: numerical.renyi_divergence(p, q, alpha=0.5),
        lambda p, q: numerical.f_divergence(p, q, "jensen_shannon"),
    ]
    for i, call in enumerate(calls):
        first = call(laplace, normal)
        before = _sizes()
        again = call(laplace, normal)
        # New parameter values of the same shapes: the same program (a Laplace's location is
        # a static field, so it stays).
        other = call(expfam.Laplace.from_loc_scale(0.0, 2.0), expfam.Normal.from_mean_std(1.0, 2.0))
        assert _sizes() == before
        np.testing.assert_array_equal(np.asarray(first), np.asarray(again))
        assert not np.allclose(np.asarray(first), np.asarray(other))
        if i == 0:  # the same program gives the same value under the user's jit
            np.testing.assert_allclose(jax.jit(call)(laplace, normal), first, rtol=1e-6)
    # The closed form too.
    a, b = expfam.Normal.from_mean_std(0.0, 1.0), normal
    numerical.kl_divergence(a, b)
    before = _sizes()
    assert float(numerical.kl_divergence(a, b)) == float(numerical.kl_divergence(a, b))
    assert _sizes() == before


def _mixture_kl_oracle(*params):
    """KL between two univariate mixtures (weights, means, stds of each) by scipy's quad,
    computed once per module for each set of parameters (both libraries' tests share it)."""
    return _cached_mixture_kl_oracle(*(tuple(np.asarray(a, float).tolist()) for a in params))


@functools.cache
def _cached_mixture_kl_oracle(w1, m1, s1, w2, m2, s2):
    def logpdf(x, w, m, s):
        logs = np.log(np.asarray(w, float)) + stats.norm.logpdf(x, np.asarray(m), np.asarray(s))
        return special.logsumexp(logs)

    def f(x):
        lp = logpdf(x, w1, m1, s1)
        return math.exp(lp) * (lp - logpdf(x, w2, m2, s2))

    # Beyond +-30 both mixtures hold less than 1e-100.
    return integrate.quad(f, -30, 30, points=(-1.0, 0.0, 1.5, 2.0), epsrel=1e-10, limit=200)[0]


@pytest.mark.parametrize("library", ["tfp", "numpyro"])
def test_foreign_mixture_same_family_takes_the_quadrature(library):
    w1, m1, s1 = jnp.array([0.3, 0.7]), jnp.array([-1.0, 1.5]), jnp.array([0.5, 1.0])
    w2, m2, s2 = jnp.array([0.6, 0.4]), jnp.array([0.0, 2.0]), jnp.array([1.5, 0.7])
    if library == "tfp":
        tfd = pytest.importorskip("tensorflow_probability.substrates.jax").distributions
        foreign = tfd.MixtureSameFamily(tfd.Categorical(probs=w1), tfd.Normal(m1, s1))
    else:
        nd = pytest.importorskip("numpyro.distributions")
        foreign = nd.MixtureSameFamily(nd.Categorical(probs=w1), nd.Normal(m1, s1))
    ours = mixture.GaussianMixture.univariate(w2, m2, s2)
    want = _mixture_kl_oracle(w1, m1, s1, w2, m2, s2)
    got = numerical.kl_divergence(foreign, ours, return_error=True)  # no key: quadrature
    np.testing.assert_allclose(float(got.value), want, rtol=1e-4)
    assert float(got.error) > 0.0
    back = numerical.kl_divergence(ours, foreign, method="quadrature")
    np.testing.assert_allclose(float(back), _mixture_kl_oracle(w2, m2, s2, w1, m1, s1), rtol=1e-4)


_BACKEND_COMPILES = [0]


def _count_backend_compiles(event: str, duration: float, **_: object) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        _BACKEND_COMPILES[0] += 1


jax.monitoring.register_event_duration_secs_listener(_count_backend_compiles)


def _library_normal_and_logistic(library):
    """Constructors of a Normal and a Logistic from `library` (loc, scale), skipping where
    the library is not installed."""
    if library == "tfp":
        tfd = pytest.importorskip("tensorflow_probability.substrates.jax").distributions
        return tfd.Normal, tfd.Logistic
    if library == "numpyro":
        nd = pytest.importorskip("numpyro.distributions")
        return nd.Normal, nd.Logistic
    distrax = pytest.importorskip("distrax")
    return distrax.Normal, distrax.Logistic


@pytest.mark.parametrize("library", ["tfp", "numpyro", "distrax"])
def test_other_libraries_objects_and_monte_carlo_compile_once(library):
    """Repeated eager calls with other libraries' distributions, new parameters and new keys
    compile nothing new on every route: the closed form (two Normals), the quadrature (a
    Logistic, no closed form) and Monte Carlo (parameters and key are program arguments)."""
    normal, logistic = _library_normal_and_logistic(library)

    def calls(i):
        m, s = 0.1 * i, 1.0 + 0.25 * i
        p, q = normal(jnp.float32(m), jnp.float32(s)), normal(jnp.float32(1.0), jnp.float32(2.0))
        key = jax.random.key(i)
        closed = numerical.kl_divergence(p, q)
        by_quadrature = numerical.kl_divergence(p, logistic(jnp.float32(0.0), jnp.float32(1.0)))
        sampled = numerical.kl_divergence(
            p, q, method="monte_carlo", key=key, num_samples=2048, return_error=True
        )
        k3 = numerical.kl_divergence(p, q, method="monte_carlo", key=key, estimator="k3")
        entropy = numerical.entropy(p, method="monte_carlo", key=key, num_samples=2048)
        renyi = numerical.renyi_divergence(p, q, alpha=0.5, method="monte_carlo", key=key)
        exact = math.log(2.0 / s) + (s**2 + (m - 1.0) ** 2) / 8.0 - 0.5
        return exact, closed, by_quadrature, sampled, k3, entropy, renyi

    calls(0)  # compiles each program once
    before = _BACKEND_COMPILES[0]
    results = [calls(i) for i in (1, 2, 3)]
    assert _BACKEND_COMPILES[0] == before, "a repeated call compiled a new program"
    for i, (exact, closed, by_quadrature, sampled, k3, entropy, renyi) in zip(
        (1, 2, 3), results, strict=True
    ):
        s = 1.0 + 0.25 * i
        np.testing.assert_allclose(float(closed), exact, rtol=1e-5)
        assert abs(float(sampled.value) - exact) < 5 * float(sampled.error)
        assert abs(float(k3) - exact) < 0.1
        h = 0.5 * math.log(2 * math.pi * math.e * s**2)
        assert abs(float(entropy) - h) < 0.1
        assert 0.0 < float(renyi) < exact
        assert np.isfinite(float(by_quadrature)) and float(by_quadrature) > 0.0
    # New keys and parameters give new draws and new values (nothing was baked in).
    assert len({float(r[3].value) for r in results}) == 3
    assert len({float(r[2]) for r in results}) == 3


@jax.tree_util.register_pytree_node_class
class _NeedsAConcreteScale:
    """A user's distribution that is a pytree but reads its scale as a Python float (so it
    cannot be traced): a Normal(0, scale) density."""

    def __init__(self, scale):
        self.scale = scale

    def tree_flatten(self):
        return (self.scale,), None

    @classmethod
    def tree_unflatten(cls, _, children):
        return cls(*children)

    def log_prob(self, x):
        s = float(self.scale)  # concrete only
        return -0.5 * (x / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)

    def sample(self, seed, sample_shape=()):
        return float(self.scale) * jax.random.normal(seed, sample_shape)


def test_objects_that_need_concrete_parameters_still_work():
    """Such an object goes to a program compiled with its parameters as constants (its
    structure is remembered, so the traced attempt is made once)."""
    p, q = _NeedsAConcreteScale(1.0), _NeedsAConcreteScale(2.0)
    want = math.log(2.0) + 1 / 8 - 0.5
    got = numerical.kl_divergence(
        p, q, method="monte_carlo", key=jax.random.key(0), return_error=True
    )
    assert abs(float(got.value) - want) < 5 * float(got.error)
    again = numerical.kl_divergence(p, q, method="monte_carlo", key=jax.random.key(0))
    assert float(again) == float(got.value)
    assert _divergences._structure(p) in _divergences._NEEDS_CONSTANTS
