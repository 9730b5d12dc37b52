"""Divergences from the log-normalizer: quadrature oracles, domains, errors, user families."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import integrate, stats

import jaxdiv
from jaxdiv import expfam


def _quad(f, lo=-np.inf, hi=np.inf):
    return integrate.quad(f, lo, hi, epsabs=1e-13, epsrel=1e-11, limit=200)[0]


@pytest.mark.parametrize("alpha", [0.3, 0.5, 2.0, 3.0])
def test_renyi_matches_quadrature_for_normals(alpha):
    p, q = stats.norm(0.3, 1.2), stats.norm(-0.4, 1.5)
    integral = _quad(lambda x: math.exp(alpha * p.logpdf(x) + (1 - alpha) * q.logpdf(x)))
    expected = math.log(integral) / (alpha - 1)
    got = jax.jit(lambda a, b: expfam.renyi_divergence(a, b, alpha=alpha))(
        expfam.Normal.from_mean_std(0.3, 1.2), expfam.Normal.from_mean_std(-0.4, 1.5)
    )
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_renyi_matches_series_for_poisson():
    lam1, lam2, alpha = 3.0, 5.5, 2.5
    k = np.arange(200)
    s = np.sum(
        np.exp(alpha * stats.poisson(lam1).logpmf(k) + (1 - alpha) * stats.poisson(lam2).logpmf(k))
    )
    got = expfam.renyi_divergence(
        expfam.Poisson.from_rate(lam1), expfam.Poisson.from_rate(lam2), alpha=alpha
    )
    np.testing.assert_allclose(got, math.log(s) / (alpha - 1), rtol=1e-6)


def test_bhattacharyya_and_hellinger_match_quadrature_for_gammas():
    p, q = stats.gamma(2.5, scale=1 / 1.5), stats.gamma(4.0, scale=1 / 0.7)
    bc = _quad(lambda x: math.sqrt(p.pdf(x) * q.pdf(x)), 0, np.inf)
    dp, dq = expfam.Gamma.from_shape_rate(2.5, 1.5), expfam.Gamma.from_shape_rate(4.0, 0.7)
    np.testing.assert_allclose(expfam.bhattacharyya_distance(dp, dq), -math.log(bc), rtol=1e-6)
    np.testing.assert_allclose(expfam.hellinger_distance(dp, dq), math.sqrt(1 - bc), rtol=1e-6)


def test_kl_matches_quadrature_for_von_mises():
    p, q = stats.vonmises(2.0, loc=0.5), stats.vonmises(0.7, loc=-1.0)
    kl = _quad(lambda x: p.pdf(x) * (p.logpdf(x) - q.logpdf(x)), -np.pi, np.pi)
    got = expfam.kl_divergence(
        expfam.VonMises.from_mean_concentration(0.5, 2.0),
        expfam.VonMises.from_mean_concentration(-1.0, 0.7),
    )
    np.testing.assert_allclose(got, kl, rtol=1e-6)


def test_renyi_outside_natural_parameter_space():
    p, q = expfam.Normal.from_mean_std(0.0, 1.0), expfam.Normal.from_mean_std(0.0, 0.5)
    # 5 * (-1/2) + (1 - 5) * (-2) = 5.5 > 0: not a valid precision.
    with pytest.raises(ValueError, match="leaves the natural parameter space of Normal"):
        expfam.renyi_divergence(p, q, alpha=5.0)
    # Under jit the integral diverges and the value is +inf, with finite gradients.
    value = jax.jit(lambda a, b: expfam.renyi_divergence(a, b, alpha=5.0))(p, q)
    assert value == np.inf
    grads = jax.jit(jax.grad(lambda a: expfam.renyi_divergence(a, q, alpha=5.0)))(p)
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    err, _ = jax.jit(jaxdiv.checked(lambda a, b: expfam.renyi_divergence(a, b, alpha=5.0)))(p, q)
    with pytest.raises(ValueError, match="leaves the natural parameter space"):
        err.throw()
    # A smaller order stays inside.
    assert np.isfinite(expfam.renyi_divergence(p, q, alpha=1.2))


def test_mixing_families_raises_type_error_naming_both():
    with pytest.raises(TypeError, match="p is a Normal and q is a Gamma"):
        expfam.kl_divergence(expfam.Normal.from_mean_std(0, 1), expfam.Gamma.from_shape_rate(1, 1))
    with pytest.raises(TypeError, match="p is a Poisson and q is a Exponential"):
        expfam.bregman_kl(expfam.Poisson.from_rate(1.0), expfam.Exponential.from_rate(1.0))
    with pytest.raises(ValueError, match="different fixed parameters"):
        expfam.kl_divergence(
            expfam.Binomial.from_count_probs(3, 0.5), expfam.Binomial.from_count_probs(4, 0.5)
        )
    with pytest.raises(ValueError, match=r"batch shape \(2,\).*\(3,\)"):
        expfam.kl_divergence(
            expfam.Normal.from_mean_std(np.zeros(2), 1.0),
            expfam.Normal.from_mean_std(np.zeros(3), 1.0),
        )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: expfam.Normal.from_mean_std(0.0, -1.0), "std must be > 0"),
        (lambda: expfam.MultivariateNormalDiag.from_mean_std(np.zeros(2), [1.0, 0.0]), "std"),
        (
            lambda: expfam.MultivariateNormal.from_mean_cov(np.zeros(2), [[1.0, 2.0], [2.0, 1.0]]),
            "cov must be symmetric positive definite",
        ),
        (
            lambda: expfam.MultivariateNormal.from_mean_cov(np.zeros(2), [[1.0, 0.5], [0.0, 1.0]]),
            "cov must be symmetric positive definite",
        ),
        (lambda: expfam.Dirichlet.from_concentration([1.0, 0.0]), "concentration must be > 0"),
        (lambda: expfam.Gamma.from_shape_rate(-1.0, 1.0), "shape and rate must be > 0"),
        (lambda: expfam.Beta.from_concentrations(1.0, 0.0), "a and b must be > 0"),
        (lambda: expfam.Poisson.from_rate(-1.0), "rate must be >= 0"),
        (lambda: expfam.Bernoulli.from_probs(1.5), r"probs must lie in \[0, 1\]"),
        (lambda: expfam.Binomial.from_count_probs(3, -0.1), r"probs must lie in \[0, 1\]"),
        (lambda: expfam.Geometric.from_probs(0.0), r"probs must lie in \(0, 1\]"),
        (lambda: expfam.Normal.from_mean_log_std(0.0, np.inf), "log_std must be finite"),
        (lambda: expfam.Wishart.from_df_scale(0.5, np.eye(2)), "df must be > p - 1"),
        (lambda: expfam.VonMises.from_mean_concentration(0.0, -1.0), "concentration must be >= 0"),
        (lambda: expfam.Binomial.from_count_probs(0, 0.5), "total_count must be a Python int"),
    ],
)
def test_parameters_outside_their_domain_raise_clear_errors(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_domain_checks_under_jit_are_opt_in():
    make = jax.jit(jaxdiv.checked(lambda s: expfam.Normal.from_mean_std(0.0, s)))
    err, _ = make(-1.0)
    with pytest.raises(ValueError, match="std must be > 0"):
        err.throw()
    err, d = make(2.0)
    err.throw()
    np.testing.assert_allclose(d.var, 4.0)


@jax.jit
def _normal_fisher_information(m, s, batch_m, batch_s):
    """The Fisher information of Normal(m, s) and of the batch Normal(batch_m, batch_s)."""
    return tuple(
        expfam.Normal.from_mean_std(loc, std).fisher_information()
        for loc, std in ((m, s), (batch_m, batch_s))
    )


def test_fisher_information_of_normal_is_covariance_of_statistics():
    m, s = 0.7, 1.3
    v = s**2
    expected = np.array([[v, 2 * m * v], [2 * m * v, 2 * v**2 + 4 * m**2 * v]])
    single, batch = _normal_fisher_information(m, s, np.array([0.0, m]), np.array([1.0, s]))
    np.testing.assert_allclose(single, expected, rtol=1e-6)
    assert batch.shape == (2, 2, 2)


def test_moment_match_pythagorean_identity_for_mixture():
    """KL(p || q) = KL(p || q*) + KL(q* || q) for p a two-component mixture, q* its M-projection."""
    w, (m1, s1), (m2, s2) = 0.3, (-1.0, 0.6), (1.5, 0.9)

    def p_pdf(x):
        return w * stats.norm.pdf(x, m1, s1) + (1 - w) * stats.norm.pdf(x, m2, s2)

    mean = w * m1 + (1 - w) * m2
    second = w * (s1**2 + m1**2) + (1 - w) * (s2**2 + m2**2)
    q_star = expfam.moment_match(expfam.Normal, (jnp.asarray(mean), jnp.asarray(second)))
    np.testing.assert_allclose(q_star.loc, mean, rtol=1e-10)

    def kl_to_normal(m, s):
        return _quad(
            lambda x: p_pdf(x) * (math.log(p_pdf(x)) - stats.norm.logpdf(x, m, s)), -15, 15
        )

    q_star_std = float(jnp.sqrt(q_star.var))
    for m, s in [(0.0, 1.0), (2.0, 0.5), (-3.0, 4.0)]:
        q = expfam.Normal.from_mean_std(m, s)
        lhs = kl_to_normal(m, s)
        rhs = kl_to_normal(float(q_star.loc), q_star_std) + float(expfam.kl_divergence(q_star, q))
        np.testing.assert_allclose(lhs, rhs, rtol=1e-7)
        # q* is the minimiser over the family.
        assert kl_to_normal(float(q_star.loc), q_star_std) <= lhs


def test_moment_match_from_samples(rng):
    x = rng.normal(size=(5000, 2)) @ np.array([[1.0, 0.0], [0.8, 0.5]]) + np.array([1.0, -2.0])
    q = expfam.moment_match(expfam.MultivariateNormal, x)
    np.testing.assert_allclose(q.mean(), x.mean(0), rtol=1e-8)
    np.testing.assert_allclose(q.covariance(), np.cov(x.T, bias=True), rtol=1e-7, atol=1e-10)
    # Weighted samples, and a template for the family's fixed parameters.
    counts = np.array([0.0, 3.0, 4.0])
    b = expfam.moment_match(
        expfam.Binomial.from_count_probs(5, 0.5), counts, weights=np.array([1.0, 1.0, 2.0])
    )
    np.testing.assert_allclose(b.probs, (3.0 + 8.0) / 4 / 5, rtol=1e-6)
    with pytest.raises(TypeError, match="pass a Categorical member as the template"):
        expfam.moment_match(expfam.Categorical, np.array([0, 1, 1]))
    c = expfam.moment_match(expfam.Categorical.from_logits(np.zeros(3)), np.array([0, 1, 1, 2]))
    np.testing.assert_allclose(c.probs, [0.25, 0.5, 0.25], rtol=1e-7)


def test_optax_fits_natural_parameters_through_the_pytree():
    """A family member is a pytree: optax can minimise a divergence over its parameters."""
    target = expfam.Normal.from_mean_std(2.0, 0.5)
    params = expfam.Normal.from_mean_std(0.0, 1.0)
    opt = optax.adam(0.05)
    state = opt.init(params)

    @jax.jit
    def step(params, state):
        loss, grads = jax.value_and_grad(lambda d: expfam.kl_divergence(target, d))(params)
        updates, state = opt.update(grads, state)
        return optax.apply_updates(params, updates), state, loss

    for _ in range(2000):
        params, state, loss = step(params, state)
    assert loss < 1e-4
    np.testing.assert_allclose(params.loc, 2.0, atol=1e-2)


# --------------------------------------------------------------------------- user families


@expfam.family
class Rayleigh(expfam.ExponentialFamily):
    """p(x) = x / s^2 exp(-x^2 / (2 s^2)): theta = -1 / (2 s^2), T(x) = x^2, h(x) = x."""

    theta: jax.Array
    natural_event_ndims = (0,)

    def log_normalizer(self):
        return -jnp.log(-2 * self.theta)

    def sufficient_statistics(self, x):
        return (jnp.square(x),)

    def log_base_measure(self, x):
        return jnp.log(x)


def _rayleigh(s):
    return Rayleigh(jnp.asarray(-0.5 / np.square(s)))


def test_user_defined_family_gets_kl_from_its_log_normalizer_alone():
    s1, s2 = np.array([0.5, 1.0, 2.0]), np.array([1.5, 1.0, 0.7])
    p, q = _rayleigh(s1), _rayleigh(s2)
    expected = 2 * np.log(s2 / s1) + (s1**2 - s2**2) / s2**2
    np.testing.assert_allclose(jax.jit(expfam.kl_divergence)(p, q), expected, rtol=1e-10)
    np.testing.assert_allclose(
        expfam.jeffreys_divergence(p, q), expected + expfam.kl_divergence(q, p)
    )
    x = np.array([0.3, 1.0, 2.5])
    np.testing.assert_allclose(p.log_prob(x), stats.rayleigh(scale=s1).logpdf(x), rtol=1e-10)
    # Mean parameter E[X^2] = 2 s^2 by autodiff.
    np.testing.assert_allclose(p.mean_parameters()[0], 2 * s1**2, rtol=1e-10)
    # Entropy needs E[log h(X)], which the minimal definition does not give.
    with pytest.raises(NotImplementedError, match="expected_log_base_measure"):
        expfam.entropy(p)

    @expfam.family
    class RayleighWithEntropy(Rayleigh):
        def expected_log_base_measure(self):
            s = jnp.sqrt(-0.5 / self.theta)
            return jnp.log(s * math.sqrt(2)) - np.euler_gamma / 2

    r = RayleighWithEntropy(p.theta)
    np.testing.assert_allclose(expfam.entropy(r), stats.rayleigh(scale=s1).entropy(), rtol=1e-10)


def test_family_decorator_checks_event_ndims():
    with pytest.raises(TypeError, match="natural_event_ndims has 1 entries"):

        @expfam.family
        class Broken(expfam.ExponentialFamily):
            a: jax.Array
            b: jax.Array
            natural_event_ndims = (0,)

    assert dataclasses.is_dataclass(Rayleigh)


# --------------------------------------------------------------------------- bregman_divergence


def test_bregman_divergence_named_generators(rng):
    x, y = rng.uniform(0.1, 2.0, (4, 5)), rng.uniform(0.1, 2.0, (4, 5))
    bd = jaxdiv.bregman_divergence
    np.testing.assert_allclose(bd("squared_euclidean", x, y), np.sum((x - y) ** 2, -1), rtol=1e-10)
    m = np.array(
        [
            [2.0, 0.3, 0, 0, 0],
            [0.3, 1.0, 0, 0, 0],
            [0, 0, 1.0, 0, 0],
            [0, 0, 0, 3.0, 0],
            [0, 0, 0, 0, 1.0],
        ]
    )
    np.testing.assert_allclose(
        bd("mahalanobis", x, y, matrix=m), np.einsum("bi,ij,bj->b", x - y, m, x - y), rtol=1e-10
    )
    gen_kl = np.sum(x * np.log(x / y) - x + y, -1)
    np.testing.assert_allclose(bd("negative_entropy", x, y), gen_kl, rtol=1e-10)
    np.testing.assert_allclose(jaxdiv.alpha_divergence(x, y, alpha=1.0), gen_kl, rtol=1e-10)
    np.testing.assert_allclose(
        bd("burg_entropy", x, y), np.sum(x / y - np.log(x / y) - 1, -1), rtol=1e-10
    )
    with pytest.raises(ValueError, match="unknown generator 'l2'"):
        bd("l2", x, y)
    with pytest.raises(ValueError, match="needs matrix"):
        bd("mahalanobis", x, y)


def test_bregman_divergence_of_log_normalizer_is_kl_and_works_on_pytrees():
    p, q = expfam.Gamma.from_shape_rate(2.0, 1.0), expfam.Gamma.from_shape_rate(3.0, 0.5)
    got = jaxdiv.bregman_divergence(
        lambda th: p.with_natural_parameters(th).log_normalizer(),
        q.natural_parameters(),
        p.natural_parameters(),
    )
    np.testing.assert_allclose(got, expfam.kl_divergence(p, q), rtol=1e-10)
    tree_x = {"a": jnp.array([1.0, 2.0]), "b": jnp.array(3.0)}
    tree_y = {"a": jnp.array([0.0, 1.0]), "b": jnp.array(1.0)}
    sq = jaxdiv.bregman_divergence(lambda t: jnp.sum(t["a"] ** 2) + t["b"] ** 2, tree_x, tree_y)
    np.testing.assert_allclose(sq, 1.0 + 1.0 + 4.0)


@jax.jit
def _natural_parameters_after_newton(member):
    """The natural parameters of the member rebuilt by Newton's method from `member`'s mean
    parameters, and `member`'s own (one program per family)."""
    recovered = type(member).from_mean_parameters(member.mean_parameters())
    return recovered.natural_parameters(), member.natural_parameters()


@pytest.mark.parametrize(
    "member",
    [
        expfam.Gamma.from_shape_rate(np.array([0.7, 3.0]), np.array([2.0, 0.5])),
        expfam.Beta.from_concentrations(np.array([0.5, 4.0]), np.array([2.0, 3.0])),
        expfam.Dirichlet.from_concentration(np.array([[0.5, 2.0, 3.0], [4.0, 1.0, 1.0]])),
        expfam.VonMises.from_mean_concentration(np.array([0.3, -2.0]), np.array([0.5, 6.0])),
        expfam.Wishart.from_df_scale(
            np.array([4.0, 7.5]), np.array([[[1.0, 0.3], [0.3, 2.0]], [[0.5, 0.0], [0.0, 0.5]]])
        ),
    ],
    ids=lambda m: type(m).__name__,
)
def test_newton_inverts_mean_parameters_without_closed_form(member):
    recovered, original = _natural_parameters_after_newton(member)
    for a, b in zip(recovered, original, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_moment_match_gamma_samples_and_user_family_with_init(rng):
    x = rng.gamma(2.5, 1 / 1.5, size=4000)
    q = expfam.moment_match(expfam.Gamma, x)
    np.testing.assert_allclose(q.mean_parameters()[0], np.mean(np.log(x)), rtol=1e-8)
    np.testing.assert_allclose(q.mean_parameters()[1], np.mean(x), rtol=1e-8)
    # A user family has no starting point of its own: pass one.
    target = _rayleigh(np.array([0.5, 2.0]))
    got = Rayleigh.from_mean_parameters(target.mean_parameters(), init=_rayleigh(np.ones(2)))
    np.testing.assert_allclose(got.theta, target.theta, rtol=1e-8)
    with pytest.raises(NotImplementedError, match="pass a member of the family as init="):
        Rayleigh.from_mean_parameters(target.mean_parameters())


@jax.jit
def _diagonal_gaussian_kls(mean, log_std):
    """KL(N(mean, e^{2 log_std}) || N(0, 1)) per row, for the diagonal and the univariate
    families, and its gradient in log_std (one program for all the rows)."""

    def total(log_std):
        p = expfam.MultivariateNormalDiag.from_mean_log_std(mean, log_std)
        prior = expfam.MultivariateNormalDiag.from_mean_std(
            jnp.zeros_like(mean), jnp.ones_like(mean)
        )
        return jnp.sum(expfam.kl_divergence(p, prior)), expfam.kl_divergence(p, prior)

    grad, kl = jax.grad(total, has_aux=True)(log_std)
    univariate = expfam.kl_divergence(
        expfam.Normal.from_mean_log_std(mean, log_std),
        expfam.Normal.from_mean_std(jnp.zeros_like(mean), jnp.ones_like(mean)),
    )
    return kl, jnp.sum(univariate, -1), grad


def test_beta_vae_kl_keeps_float32_precision_near_the_prior():
    """The β-VAE term at log-std and mean from 1e-6 to 30 in float32, where the hand formula
    `(e^{2s} + m^2 - 1) / 2 - s` loses all its digits near 0: relative error below 1e-5
    against float64 (the KL and its gradient `expm1(2 s)`), on each side of the switch from
    the Taylor polynomial to the exponential at |2 s| = 1/2."""
    s64 = np.concatenate([-np.logspace(-6, np.log10(30), 200), np.logspace(-6, np.log10(30), 200)])
    s64 = np.concatenate([s64, [0.2499, 0.25, 0.2501, -0.2499, -0.25, -0.2501]])
    m64 = np.abs(s64)
    s, m = (jnp.asarray(np.tile(a.astype(np.float32)[:, None], (1, 4))) for a in (s64, m64))
    kl, univariate, grad = (np.asarray(x, np.float64) for x in _diagonal_gaussian_kls(m, s))
    s32 = s64.astype(np.float32).astype(np.float64)
    m32 = m64.astype(np.float32).astype(np.float64)
    taylor = sum(s32**k * 2.0**k / math.factorial(k) for k in range(2, 16))
    exact_term = np.where(np.abs(s32) < 0.1, taylor, np.expm1(2 * s32) - 2 * s32)
    exact = 4 * 0.5 * (exact_term + m32**2)
    for name, got in (("MultivariateNormalDiag", kl), ("Normal", univariate)):
        rel = np.abs(got - exact) / exact
        assert np.all(rel < 1e-5), (
            f"{name}: s = {s32[rel >= 1e-5]}, relative error {rel[rel >= 1e-5]}"
        )
    want = np.expm1(2 * s32)[:, None]
    rel = np.abs(grad - want) / np.abs(want)
    assert np.all(rel < 1e-5), f"gradient: s = {s32[np.any(rel >= 1e-5, 1)]}"


def test_expm1_minus_x_with_a_scale_is_the_scaled_value_and_derivative():
    """`expm1_minus_x(x, scale)` (the Gaussian KLs take their 1/2 through it) is `scale` times
    the unscaled value, with derivative `scale * expm1(x)`, on both sides of the switch at
    |x| = 1/2 and at -inf (value +inf, derivative -scale), in float32 against float64."""
    from jaxdiv._numerics import expm1_minus_x

    x64 = np.concatenate([-np.logspace(-6, 2, 60), np.logspace(-6, np.log10(80), 60)])
    x64 = np.concatenate([x64, [0.4999, 0.5, 0.5001, -0.4999, -0.5, -0.5001]])
    x = jnp.asarray(x64, jnp.float32)
    x32 = np.asarray(x, np.float64)
    exact = np.where(
        np.abs(x32) < 0.1,
        sum(x32**k / math.factorial(k) for k in range(2, 16)),
        np.expm1(x32) - x32,
    )
    compiled = jax.jit(expm1_minus_x, static_argnums=1)
    for scale in (1.0, 0.5, 3.0):
        value = compiled(x, scale)
        np.testing.assert_allclose(np.asarray(value, np.float64), scale * exact, rtol=3e-6)
        grad = jax.vmap(jax.grad(lambda v, c=scale: expm1_minus_x(v, c)))(x)
        np.testing.assert_allclose(
            np.asarray(grad, np.float64), scale * np.expm1(x32), rtol=1e-5, atol=1e-30
        )
        at_inf = jnp.float32(-jnp.inf)
        assert expm1_minus_x(at_inf, scale) == jnp.inf
        assert jax.grad(lambda v, c=scale: expm1_minus_x(v, c))(at_inf) == -scale
