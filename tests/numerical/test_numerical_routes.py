"""jaxdiv.numerical's routes: cross-family closed forms against independent oracles, what
`auto` picks, Monte Carlo within its standard error (and the standard error honest), gradients,
other libraries' objects, and the errors for what cannot be done."""

import itertools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from jaxdiv import expfam, mixture, numerical


def _quad_kl(logp, logq, lo, hi, points=()):
    def f(x):
        lp = logp(x)
        return 0.0 if math.exp(lp) == 0 else math.exp(lp) * (lp - logq(x))

    cuts = sorted({lo, hi, *(p for p in points if lo < p < hi)})
    return math.fsum(
        integrate.quad(f, a, b, epsabs=0, epsrel=1e-12, limit=400)[0]
        for a, b in itertools.pairwise(cuts)
    )


def _gaussian_kl(m1, c1, m2, c2):
    """The textbook KL between two multivariate Gaussians, in NumPy."""
    d = len(m1)
    inv = np.linalg.inv(c2)
    diff = m2 - m1
    return 0.5 * (
        np.trace(inv @ c1)
        + diff @ inv @ diff
        - d
        + np.linalg.slogdet(c2)[1]
        - np.linalg.slogdet(c1)[1]
    )


# ----------------------------------------------------------------------------- closed forms


def _cross_family_pairs():
    """(p, q, scipy log-densities of p and q, their support) for the cross-family closed forms."""
    exp_, gam = expfam.Exponential.from_rate(1.7), expfam.Gamma.from_shape_rate(2.5, 0.8)
    lexp = lambda x: stats.expon.logpdf(x, scale=1 / 1.7)  # noqa: E731
    lgam = lambda x: stats.gamma.logpdf(x, 2.5, scale=1 / 0.8)  # noqa: E731
    pairs = [(exp_, gam, lexp, lgam), (gam, exp_, lgam, lexp)]
    if hasattr(expfam, "ChiSquare"):
        chi = expfam.ChiSquare.from_df(3.0)
        lchi = lambda x: stats.chi2.logpdf(x, 3.0)  # noqa: E731
        pairs += [(chi, gam, lchi, lgam), (gam, chi, lgam, lchi)]
    if hasattr(expfam, "Weibull"):
        wei = expfam.Weibull.from_shape_scale(1.7, 2.0)
        lwei = lambda x: stats.weibull_min.logpdf(x, 1.7, scale=2.0)  # noqa: E731
        pairs += [(wei, gam, lwei, lgam), (gam, wei, lgam, lwei)]
    return pairs


def test_cross_family_closed_forms_match_scipy_and_the_quadrature():
    for p, q, logp, logq in _cross_family_pairs():
        name = f"{type(p).__name__} || {type(q).__name__}"
        est = numerical.kl_divergence(p, q, return_error=True)
        assert float(est.error) == 0.0, f"{name}: auto did not take the closed form"
        want = _quad_kl(logp, logq, 0.0, np.inf, points=(0.5, 1, 2, 4, 8))
        np.testing.assert_allclose(est.value, want, rtol=1e-9, err_msg=name)
        if type(p).__name__ == "Weibull" or type(q).__name__ == "Weibull":
            # The cross-family forms written in jaxdiv.numerical, against its quadrature too.
            quadrature = numerical.kl_divergence(p, q, method="quadrature")
            np.testing.assert_allclose(quadrature, est.value, rtol=1e-8, err_msg=name)
        h = numerical.cross_entropy(p, q, method="closed_form")
        np.testing.assert_allclose(h - numerical.entropy(p), want, rtol=1e-8, err_msg=name)


def test_gaussian_and_simplex_liftings_match_independent_forms():
    # Beta against a Dirichlet of two components: the density of the first coordinate.
    beta, dirichlet = (
        expfam.Beta.from_concentrations(2.0, 3.0),
        expfam.Dirichlet.from_concentration(jnp.array([1.5, 4.0])),
    )
    want = _quad_kl(
        lambda x: stats.beta.logpdf(x, 2.0, 3.0), lambda x: stats.beta.logpdf(x, 1.5, 4.0), 0, 1
    )
    np.testing.assert_allclose(numerical.kl_divergence(beta, dirichlet), want, rtol=1e-9)
    np.testing.assert_allclose(
        numerical.kl_divergence(dirichlet, beta, method="closed_form"),
        _quad_kl(
            lambda x: stats.beta.logpdf(x, 1.5, 4.0), lambda x: stats.beta.logpdf(x, 2.0, 3.0), 0, 1
        ),
        rtol=1e-9,
    )
    # Normal against a one-dimensional diagonal Gaussian, both ways, and the quadrature.
    normal = expfam.Normal.from_mean_std(0.3, 0.5)
    diag1 = expfam.MultivariateNormalDiag.from_mean_std(jnp.array([-1.0]), jnp.array([2.0]))
    want = _gaussian_kl(np.array([0.3]), np.eye(1) * 0.25, np.array([-1.0]), np.eye(1) * 4.0)
    np.testing.assert_allclose(numerical.kl_divergence(normal, diag1), want, rtol=1e-12)
    np.testing.assert_allclose(
        numerical.kl_divergence(diag1, normal),
        _gaussian_kl(np.array([-1.0]), np.eye(1) * 4.0, np.array([0.3]), np.eye(1) * 0.25),
        rtol=1e-12,
    )
    # A diagonal Gaussian against a full one (batch shapes broadcast in the closed forms).
    m1, s1 = np.array([[0.0, 1.0, -1.0], [2.0, 0.0, 0.5]]), np.array([[1.0, 0.5, 2.0]] * 2)
    m2, cov2 = (
        np.array([0.5, 0.0, 0.0]),
        np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0, 0.2, 1.5]]),
    )
    diag = expfam.MultivariateNormalDiag.from_mean_std(m1, s1)
    full = expfam.MultivariateNormal.from_mean_cov(m2, cov2)
    got = numerical.kl_divergence(diag, full)
    want = [_gaussian_kl(m, np.diag(s**2), m2, cov2) for m, s in zip(m1, s1, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    want = [_gaussian_kl(m2, cov2, m, np.diag(s**2)) for m, s in zip(m1, s1, strict=True)]
    np.testing.assert_allclose(numerical.kl_divergence(full, diag), want, rtol=1e-10)
    # A one-component mixture is its Gaussian.
    one = mixture.GaussianMixture.univariate(jnp.ones(1), jnp.array([0.3]), jnp.array([0.5]))
    est = numerical.kl_divergence(one, normal, return_error=True)
    assert float(est.value) == pytest.approx(0.0, abs=1e-12) and float(est.error) == 0.0


def test_auto_takes_the_expected_route():
    key = jax.random.key(0)
    normal, gamma = expfam.Normal.from_mean_std(0.0, 1.0), expfam.Gamma.from_shape_rate(2.0, 1.0)
    laplace = numerical.Density(lambda x: -jnp.abs(x) - math.log(2.0))
    mix1 = mixture.GaussianMixture.univariate(
        jnp.array([0.5, 0.5]), jnp.array([-1.0, 1.0]), jnp.ones(2)
    )
    mix2 = mixture.GaussianMixture.diagonal(
        jnp.array([0.5, 0.5]), jnp.array([[-1.0, 0.0], [1.0, 0.0]]), jnp.ones((2, 2))
    )
    mvn = expfam.MultivariateNormal.from_mean_cov(jnp.zeros(2), jnp.eye(2))
    # Closed form: the error is exactly 0 and the value that of method="closed_form".
    for p, q in [(normal, normal), (expfam.Exponential.from_rate(1.0), gamma)]:
        est = numerical.kl_divergence(p, q, return_error=True)
        assert float(est.error) == 0.0
    # Quadrature in one dimension where there is no closed form.
    for p, q in [(normal, laplace), (mix1, normal)]:
        auto = numerical.kl_divergence(p, q, return_error=True)  # a closed form has error 0
        assert 0 < float(auto.error) < 1e-8 and float(auto.value) > 0
    # Monte Carlo in two dimensions, which needs a key.
    with pytest.raises(ValueError, match="falls back to Monte Carlo, which needs a PRNG key"):
        numerical.kl_divergence(mix2, mvn)
    auto = numerical.kl_divergence(mix2, mvn, key=key, num_samples=64, return_error=True)
    assert float(auto.error) > 0


# ----------------------------------------------------------------------------- Monte Carlo


def test_monte_carlo_is_within_four_standard_errors():
    """Each quantity by Monte Carlo against its closed form (two Normals, q the narrower, so
    that every estimator has a finite variance)."""
    m1, s1, m2, s2 = 0.3, 1.2, -0.5, 1.0
    p, q = expfam.Normal.from_mean_std(m1, s1), expfam.Normal.from_mean_std(m2, s2)
    v = s1**2 + s2**2
    bhattacharyya = math.sqrt(2 * s1 * s2 / v) * math.exp(-((m1 - m2) ** 2) / (4 * v))
    truth = {
        "k1": float(expfam.kl_divergence(p, q)),
        "k3": float(expfam.kl_divergence(p, q)),
        "entropy": float(expfam.entropy(q)),
        "cross_entropy": float(expfam.cross_entropy(p, q)),
        "renyi": float(expfam.renyi_divergence(p, q, alpha=0.5)),
        "hellinger": 1 - bhattacharyya,
    }

    @jax.jit
    def every(key):
        kw = {"method": "monte_carlo", "return_error": True, "key": key, "num_samples": 4096}
        return {
            "k1": numerical.kl_divergence(p, q, **kw),
            "k3": numerical.kl_divergence(p, q, estimator="k3", **kw),
            "entropy": numerical.entropy(q, **kw),
            "cross_entropy": numerical.cross_entropy(p, q, **kw),
            "renyi": numerical.renyi_divergence(p, q, alpha=0.5, **kw),
            "hellinger": numerical.f_divergence(p, q, "squared_hellinger", **kw),
        }

    for name, est in every(jax.random.key(1)).items():
        assert 0 < float(est.error) < 0.05, name
        assert abs(float(est.value) - truth[name]) < 4 * float(est.error), name


def test_monte_carlo_standard_error_is_honest():
    """Over 400 seeds of 256 draws, about 95% of the estimates lie within 1.96 standard errors
    of the truth, and the spread of the estimates matches the mean standard error."""
    # q narrower than p, so that r = q / p has finite moments under p up to the fourth (k3's
    # terms, and the variance of their variance, would otherwise be infinite).
    p, q = expfam.Normal.from_mean_std(0.0, 1.0), expfam.Normal.from_mean_std(0.7, 0.9)
    truth = float(numerical.kl_divergence(p, q))

    @jax.jit
    @jax.vmap
    def estimates(key):
        return [
            numerical.kl_divergence(
                p, q, method="monte_carlo", key=key, num_samples=256, estimator=e, return_error=True
            )
            for e in ("k1", "k3")
        ]

    for est in estimates(jax.random.split(jax.random.key(2), 400)):
        value, error = np.asarray(est.value), np.asarray(est.error)
        covered = np.mean(np.abs(value - truth) < 1.96 * error)
        assert 0.91 <= covered <= 0.98, covered
        assert 0.85 <= np.std(value) / np.mean(error) <= 1.15


def test_monte_carlo_gradients_match_the_closed_form():
    """Reparameterised draws (Normal) and the score-function term (von Mises, whose rejection
    sampler is not reparameterised)."""

    def kl(method, m, log_s):
        p = expfam.Normal.from_mean_log_std(m, log_s)
        q = expfam.Normal.from_mean_std(0.5, 2.0)
        return numerical.kl_divergence(
            p, q, method=method, key=jax.random.key(3), num_samples=20000
        )

    args = (0.2, 0.3)
    mc = jax.jit(jax.grad(lambda *a: kl("monte_carlo", *a), argnums=(0, 1)))(*args)
    exact = jax.grad(lambda *a: kl("closed_form", *a), argnums=(0, 1))(*args)
    np.testing.assert_allclose(mc, exact, atol=0.02)

    def kl_vm(method, kappa):
        p = expfam.VonMises.from_mean_concentration(0.0, kappa)
        q = expfam.VonMises.from_mean_concentration(1.0, 2.0)
        return numerical.kl_divergence(p, q, method=method, key=jax.random.key(4), num_samples=4000)

    # Over seeds, this estimate of the gradient (0.104) has a standard deviation of 0.009.
    mc = jax.jit(jax.grad(lambda k: kl_vm("monte_carlo", k)))(1.5)
    exact = jax.grad(lambda k: kl_vm("closed_form", k))(1.5)
    np.testing.assert_allclose(mc, exact, atol=0.035)


# ----------------------------------------------------------------------------- other libraries


def test_other_libraries_objects():
    tfd = pytest.importorskip("tensorflow_probability.substrates.jax").distributions
    nd = pytest.importorskip("numpyro.distributions")
    # Converted to a jaxdiv family where expfam knows them: the closed form.
    if hasattr(expfam, "from_distribution"):
        est = numerical.kl_divergence(tfd.Normal(0.0, 1.0), nd.Normal(1.0, 2.0), return_error=True)
        assert float(est.error) == 0.0
        np.testing.assert_allclose(est.value, math.log(2) + 2 / 8 - 0.5, rtol=1e-6)
    # A TFP half-Cauchy (support from its name) against a NumPyro Student-t (support from its
    # constraint), by quadrature.
    student = nd.StudentT(5.0, 0.5, 1.0)
    half = numerical.kl_divergence(tfd.HalfCauchy(0.0, 1.0), student)
    want = _quad_kl(
        lambda x: stats.halfcauchy.logpdf(x), lambda x: stats.t.logpdf(x, 5.0, 0.5), 0, np.inf, (1,)
    )
    np.testing.assert_allclose(half, want, rtol=1e-6)  # float32 parameters
    # Monte Carlo with each library's sampler: NumPyro's sample(key, shape), TFP's seed=.
    for a, b, logp, logq in [
        (
            student,
            tfd.Laplace(0.0, 2.0),
            lambda x: stats.t.logpdf(x, 5.0, 0.5),
            lambda x: stats.laplace.logpdf(x, 0.0, 2.0),
        ),
        (
            tfd.Laplace(0.0, 2.0),
            student,
            lambda x: stats.laplace.logpdf(x, 0.0, 2.0),
            lambda x: stats.t.logpdf(x, 5.0, 0.5),
        ),
    ]:
        mc = numerical.kl_divergence(
            a, b, method="monte_carlo", key=jax.random.key(5), num_samples=4096, return_error=True
        )
        # (on +-1e3: beyond, a Laplace's log-density overflows scipy's quad; the tails there
        # hold less than 1e-10)
        want = _quad_kl(logp, logq, -1e3, 1e3, (-1.0, 0.0, 0.5, 1.0))
        assert abs(float(mc.value) - want) < 4 * float(mc.error)


# ----------------------------------------------------------------------------- errors


def test_clear_errors():
    normal, mvn = (
        expfam.Normal.from_mean_std(0.0, 1.0),
        expfam.MultivariateNormal.from_mean_cov(jnp.zeros(2), jnp.eye(2)),
    )
    mix2 = mixture.GaussianMixture.diagonal(jnp.ones(1), jnp.zeros((1, 2)), jnp.ones((1, 2)))
    laplace = numerical.Density(lambda x: -jnp.abs(x) - math.log(2.0))
    kl = numerical.kl_divergence
    with pytest.raises(ValueError, match="method must be one of"):
        kl(normal, normal, method="simpson")
    with pytest.raises(ValueError, match="estimator must be one of"):
        kl(normal, normal, method="monte_carlo", estimator="k2")
    with pytest.raises(ValueError, match="method='monte_carlo' needs a PRNG key"):
        kl(normal, laplace, method="monte_carlo")
    with pytest.raises(ValueError, match="no closed form for Normal and Density"):
        kl(normal, laplace, method="closed_form")
    with pytest.raises(ValueError, match="dimension 2 and the quadrature is one-dimensional"):
        kl(mix2, mvn, method="quadrature")
    with pytest.raises(ValueError, match="discrete"):
        kl(expfam.Poisson.from_rate(1.0), expfam.Geometric.from_probs(0.5), method="quadrature")
    with pytest.raises(ValueError, match=r"p .* has dimension 1 but q .* has dimension 2"):
        kl(normal, mvn, method="monte_carlo", key=jax.random.key(0))
    with pytest.raises(TypeError, match="must be a distribution with a log_prob method"):
        kl(normal, [0.5, 0.5])
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        kl(normal, laplace, method="monte_carlo", key=0)
    with pytest.raises(ValueError, match=r"jax\.vmap"):
        kl(expfam.Normal.from_mean_std(jnp.zeros(3), 1.0), laplace)
    with pytest.raises(ValueError, match="no closed-form route"):
        numerical.f_divergence(normal, normal, "pearson", method="closed_form")
    with pytest.raises(ValueError, match=r"f\(0\) is NaN"):
        numerical.f_divergence(normal, laplace, lambda t: t * jnp.log(t))
    with pytest.raises(ValueError, match="unknown f-divergence generator"):
        numerical.f_divergence(normal, laplace, "kl_sideways")

    class Bare:  # log_prob only: no support to integrate over until one is given
        def log_prob(self, x):
            return -jnp.abs(x) - math.log(2.0)

    with pytest.raises(ValueError, match=r"support of .*Bare is not known: pass support="):
        kl(normal, Bare(), method="quadrature")
    np.testing.assert_allclose(
        kl(normal, Bare(), support=(-math.inf, math.inf)), kl(normal, laplace), rtol=1e-12
    )


def test_a_quadrature_short_of_its_budget_says_so():
    """With one subdivision the tolerance is out of reach: a warning, and an error estimate
    that covers the actual error."""
    p = mixture.GaussianMixture.univariate(
        jnp.array([0.5, 0.5]), jnp.array([0.0, 0.01]), jnp.array([1e-3, 30.0])
    )
    q = expfam.Normal.from_mean_std(0.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        truth = numerical.kl_divergence(p, q)  # the default budget: no warning
    with pytest.warns(RuntimeWarning, match="error estimate .* exceeds rtol"):
        crude = numerical.kl_divergence(p, q, max_subdivisions=1, rtol=1e-14, return_error=True)
    assert abs(float(crude.value) - float(truth)) <= float(crude.error)


def test_a_density_that_vanishes_where_p_has_mass_gives_inf():
    """KL(Normal || Gamma) is +inf (the Gamma is 0 on the negative half-line), with error 0,
    not NaN (the Normal's tail underflows to 0 where the log-ratio is infinite)."""
    p, q = expfam.Normal.from_mean_std(0.0, 1.0), expfam.Gamma.from_shape_rate(2.0, 1.0)
    est = numerical.kl_divergence(p, q, return_error=True)
    assert float(est.value) == math.inf and float(est.error) == 0.0


@pytest.mark.parametrize("library", ["distrax", "tfp"])
def test_joint_distributions_are_refused_with_a_message(library):
    """A joint distribution (its shapes a list, one per part) is a TypeError that names the
    object and what the routes take, not a raw error from multiplying a list of shapes."""
    if library == "distrax":
        distrax = pytest.importorskip("distrax")
        joint = distrax.Joint([distrax.Normal(0.0, 1.0), distrax.Normal(1.0, 2.0)])
    else:
        tfd = pytest.importorskip("tensorflow_probability.substrates.jax").distributions
        joint = tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0), tfd.Normal(1.0, 2.0)])
    for call in (
        lambda: numerical.kl_divergence(joint, joint, key=jax.random.key(0)),
        lambda: numerical.entropy(joint, key=jax.random.key(0)),
    ):
        with pytest.raises(TypeError, match=r"is a .*Joint.*joint distribution.*pass each part"):
            call()


def test_categorical_against_one_hot_categorical_of_another_library():
    """A distrax Categorical against a TFP OneHotCategorical: the same distribution over K
    outcomes, so the closed form of two categoricals (it used to be refused)."""
    distrax = pytest.importorskip("distrax")
    tfd = pytest.importorskip("tensorflow_probability.substrates.jax").distributions
    p, q = np.array([0.2, 0.3, 0.5]), np.array([0.5, 0.25, 0.25])
    want = float(np.sum(p * np.log(p / q)))
    pairs = [
        (distrax.Categorical(probs=jnp.asarray(p)), tfd.OneHotCategorical(probs=jnp.asarray(q))),
        (tfd.OneHotCategorical(logits=jnp.log(jnp.asarray(p))), distrax.Categorical(probs=q)),
    ]
    for a, b in pairs:
        np.testing.assert_allclose(float(numerical.kl_divergence(a, b)), want, rtol=1e-6)
        np.testing.assert_allclose(float(expfam.kl_divergence(a, b)), want, rtol=1e-6)


def _independent_pairs():
    """Pairs of other libraries' Independents over families other than the Normal, with
    the library's own KL: (name, p, q, peer KL)."""
    a1, a2 = jnp.array([2.0, 3.0, 0.5]), jnp.array([1.0, 4.0, 2.0])
    out = []
    tfp = pytest.importorskip("tensorflow_probability.substrates.jax")
    tfd = tfp.distributions
    p = tfd.Independent(tfd.Gamma(a1, 1.5), 1)
    q = tfd.Independent(tfd.Gamma(a2, 0.7), 1)
    out.append(("tfp Gamma", p, q, p.kl_divergence(q)))
    nd = pytest.importorskip("numpyro.distributions")
    p, q = nd.Beta(a1, a2).to_event(1), nd.Beta(a2, a1).to_event(1)
    out.append(("numpyro Beta", p, q, nd.kl_divergence(p, q)))
    distrax = pytest.importorskip("distrax")
    p = distrax.Independent(distrax.Bernoulli(probs=jnp.array([0.2, 0.5, 0.9])), 1)
    q = distrax.Independent(distrax.Bernoulli(probs=jnp.array([0.3, 0.5, 0.6])), 1)
    out.append(("distrax Bernoulli", p, q, p.kl_divergence(q)))
    return out


def test_independents_over_any_family_have_their_closed_forms():
    """KL and entropy of two Independents are the inner families' summed over the
    reinterpreted axes (NumPyro's .to_event(1) included), equal to the library's own."""
    for name, p, q, peer in _independent_pairs():
        got = numerical.kl_divergence(p, q, return_error=True)
        np.testing.assert_allclose(float(got.value), float(peer), rtol=1e-5, err_msg=name)
        assert float(got.error) == 0.0, name  # the closed form, not an estimate
        np.testing.assert_allclose(
            float(numerical.entropy(p)), float(p.entropy()), rtol=1e-5, err_msg=name
        )


def _shared_composite_pairs():
    """Pairs that share a composite layer the peers answer exactly: TFP Samples (iid
    draws), transformed distributions with the same bijector in all three libraries
    (TFP's LogitNormal among them): (name, p, q, exact KL)."""
    tfp = pytest.importorskip("tensorflow_probability.substrates.jax")
    nd = pytest.importorskip("numpyro.distributions")
    distrax = pytest.importorskip("distrax")
    tfd, tfb = tfp.distributions, tfp.bijectors
    m1, s1 = jnp.array([0.0, 1.0]), jnp.array([1.0, 2.0])
    m2, s2 = jnp.array([0.5, -1.0]), jnp.array([1.5, 0.7])
    normals = tfd.kl_divergence(tfd.Normal(m1, s1), tfd.Normal(m2, s2))
    gammas = (tfd.Gamma(m1 + 2, s1), tfd.Gamma(m2 + 2, s2))
    return [
        ("tfp Sample", tfd.Sample(tfd.Normal(m1, s1), 3), tfd.Sample(tfd.Normal(m2, s2), 3)),
        (
            "tfp Sample of Independent",
            tfd.Sample(tfd.Independent(tfd.Normal(m1, s1), 1), [2, 3]),
            tfd.Sample(tfd.Independent(tfd.Normal(m2, s2), 1), [2, 3]),
        ),
        ("tfp LogitNormal", tfd.LogitNormal(m1, s1), tfd.LogitNormal(m2, s2)),
        (
            "tfp Scale of Gammas",
            tfd.TransformedDistribution(gammas[0], tfb.Scale(3.0)),
            tfd.TransformedDistribution(gammas[1], tfb.Scale(3.0)),
        ),
        (
            "numpyro Exp of Normals",
            nd.TransformedDistribution(nd.Normal(m1, s1), nd.transforms.ExpTransform()),
            nd.TransformedDistribution(nd.Normal(m2, s2), nd.transforms.ExpTransform()),
            normals,
        ),
        (
            "distrax Sigmoid of Normals",
            distrax.Transformed(distrax.Normal(m1, s1), distrax.Sigmoid()),
            distrax.Transformed(distrax.Normal(m2, s2), distrax.Sigmoid()),
            normals,
        ),
    ]


def test_shared_samples_and_bijectors_have_their_closed_forms():
    """Two TFP Samples of the same shape: the draws' KL times their number (entropy too); two
    transformed distributions with the same bijector: the bases' KL and Renyi divergence,
    which a bijection leaves unchanged; equal to TFP's own KL where it has one, exact (error
    0), batched. Different bijectors are not peeled: the entropy and a pair with other
    bijectors take an estimate that covers the truth."""
    tfp = pytest.importorskip("tensorflow_probability.substrates.jax")
    tfd, tfb = tfp.distributions, tfp.bijectors
    for name, p, q, *peer in _shared_composite_pairs():
        want = np.asarray(peer[0] if peer else tfd.kl_divergence(p, q))
        got = numerical.kl_divergence(p, q, return_error=True)
        np.testing.assert_allclose(np.asarray(got.value), want, rtol=1e-5, err_msg=name)
        assert np.all(np.asarray(got.error) == 0.0), name  # the closed form, not an estimate
    sample = tfd.Sample(tfd.Gamma(jnp.array([2.0, 0.5]), 1.5), 4)
    np.testing.assert_allclose(numerical.entropy(sample), sample.entropy(), rtol=1e-5)
    p, q = tfd.LogitNormal(0.3, 0.8), tfd.LogitNormal(-0.2, 1.1)
    np.testing.assert_allclose(
        numerical.renyi_divergence(p, q, alpha=0.5),
        numerical.renyi_divergence(tfd.Normal(0.3, 0.8), tfd.Normal(-0.2, 1.1), alpha=0.5),
        rtol=1e-6,
    )
    key = jax.random.key(0)
    entropy = numerical.entropy(p, key=key, return_error=True)  # not the base's entropy
    assert float(entropy.error) > 0
    assert abs(float(entropy.value) - float(tfd.Normal(0.3, 0.8).entropy())) > 0.5
    scaled = [tfd.TransformedDistribution(tfd.Normal(0.0, 1.0), tfb.Scale(c)) for c in (3.0, 2.0)]
    got = numerical.kl_divergence(*scaled, key=key, return_error=True)
    exact = math.log(2 / 3) + 9 / 8 - 0.5  # KL(N(0, 9) || N(0, 4))
    assert float(got.error) > 0 and abs(float(got.value) - exact) < 4 * float(got.error)


@jax.jit
def _converted_and_own_log_prob(d, x):
    """The log-density of `d` at `x` after `from_distribution`, and the library's own."""
    return expfam.from_distribution(d).log_prob(x), d.log_prob(x)


def test_gaussian_processes_and_circulant_normals_are_multivariate_normals():
    """TFP's GaussianProcess at its index points and NumPyro's CirculantNormal convert to the
    Gaussian of their mean and covariance (a GP's jitter included, as its log_prob has it):
    log-density and entropy equal the library's own, and the KL equals the peer's KL of
    those Gaussians (neither library registers one for these classes)."""
    tfp = pytest.importorskip("tensorflow_probability.substrates.jax")
    nd = pytest.importorskip("numpyro.distributions")
    from numpyro.distributions.kl import kl_divergence as numpyro_kl

    tfd, kernels = tfp.distributions, tfp.math.psd_kernels
    x = jnp.linspace(0.0, 1.0, 5, dtype=jnp.float32)[:, None]

    def f32(*v):
        return [jnp.float32(a) for a in v]

    gp = [
        tfd.GaussianProcess(kernels.ExponentiatedQuadratic(*f32(1.0, 0.3)), x, None, *f32(0.1)),
        tfd.GaussianProcess(
            kernels.ExponentiatedQuadratic(*f32(1.5, 0.5)), x, lambda t: t[..., 0], *f32(0.2)
        ),
    ]
    as_mvn = [
        tfd.MultivariateNormalFullCovariance(
            g.mean(), g.covariance() + g.jitter * jnp.eye(5, dtype=jnp.float32)
        )
        for g in gp
    ]
    y = jnp.array([0.1, -0.3, 0.5, 0.0, 0.2], jnp.float32)
    np.testing.assert_allclose(*_converted_and_own_log_prob(gp[0], y), rtol=1e-5)
    np.testing.assert_allclose(numerical.entropy(gp[0]), gp[0].entropy(), rtol=1e-5)
    got = numerical.kl_divergence(*gp, return_error=True)
    np.testing.assert_allclose(got.value, tfd.kl_divergence(*as_mvn), rtol=1e-4)
    assert float(got.error) == 0.0
    row = [jnp.array([1.0, 0.5, 0.2, 0.1, 0.2, 0.5]), jnp.array([2.0, 0.3, 0.1, 0.0, 0.1, 0.3])]
    circulant = [
        nd.CirculantNormal(jnp.full(6, m), covariance_row=r)
        for m, r in zip((0.0, 1.0), row, strict=True)
    ]
    mvn = [nd.MultivariateNormal(c.mean, c.covariance_matrix) for c in circulant]
    np.testing.assert_allclose(numerical.entropy(circulant[0]), circulant[0].entropy(), rtol=1e-5)
    np.testing.assert_allclose(numerical.kl_divergence(*circulant), numpyro_kl(*mvn), rtol=1e-5)
