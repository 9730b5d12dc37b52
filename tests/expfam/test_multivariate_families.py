"""The multivariate families of issue #16 beyond the shared tables: the Bessel functions of
the von Mises-Fisher family against scipy, its d = 2 member against VonMises, the joint
densities of the conjugate priors against products of scipy densities, the static
covariance of the known-covariance Gaussian, and the inverse of the mean map."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from families_multivariate import _NormalGammaScipy, _NormalInverseWishartScipy, _spd
from jax.test_util import check_grads
from scipy import special

from jaxdiv import expfam
from jaxdiv.expfam import _bessel

KAPPAS = np.array([1e-6, 1e-3, 0.1, 1.0, 5.0, 20.0, 29.99, 30.01, 50.0, 300.0, 1e3, 1e4])


def _scipy_log_ive(v, k):
    return np.log(special.ive(v, k))


@jax.jit
def _bessel_table(k):
    """log ive and the ratio I_(v+1) / (k I_v) for d = 2, 3, 4, 5, 10, 40 at once."""
    return [
        (_bessel.log_bessel_ive(d / 2 - 1, k), _bessel.iv_ratio_over_x(d / 2 - 1, jnp.square(k)))
        for d in (2, 3, 4, 5, 10, 40)
    ]


def test_log_bessel_and_ratio_match_scipy_ive_in_float64():
    table = _bessel_table(jnp.asarray(KAPPAS, jnp.float64))
    for d, (log_ive, ratio) in zip((2, 3, 4, 5, 10, 40), table, strict=True):
        v = d / 2 - 1
        # Relative error of ive itself: exp of the difference of the logs.
        np.testing.assert_allclose(np.exp(log_ive - _scipy_log_ive(v, KAPPAS)), 1, atol=1e-10)
        want = special.ive(v + 1, KAPPAS) / special.ive(v, KAPPAS) / KAPPAS
        np.testing.assert_allclose(ratio, want, rtol=1e-10)


def test_log_bessel_and_ratio_in_float32_to_a_few_ulps():
    table = _bessel_table(jnp.asarray(KAPPAS, jnp.float32))
    for d, (log_ive, ratio) in zip((2, 3, 4, 5, 10, 40), table, strict=True):
        v = d / 2 - 1
        assert log_ive.dtype == ratio.dtype == jnp.float32
        want = _scipy_log_ive(v, KAPPAS.astype(np.float32).astype(np.float64))
        # float32 holds log ive to a few ulps of its size (-61 at d = 10, k = 1e-6).
        assert np.all(np.abs(log_ive - want) <= 1e-6 * np.maximum(1, np.abs(want))), d
        k = KAPPAS.astype(np.float32).astype(np.float64)
        np.testing.assert_allclose(ratio, special.ive(v + 1, k) / special.ive(v, k) / k, rtol=2e-6)


@jax.jit
def _log_normalizer_value_grad_hessian(eta):
    def log_normalizer(eta):
        return expfam.VonMisesFisher(eta).log_normalizer()

    return log_normalizer(eta), jax.grad(log_normalizer)(eta), jax.hessian(log_normalizer)(eta)


def test_log_normalizer_at_zero_concentration_is_the_uniform_limit():
    """A(0) = log(area of S^(d-1)); grad A(0) = E[x] = 0 and the Hessian is Cov[x] = I / d."""
    for dtype in (jnp.float32, jnp.float64):
        for d in (2, 5):
            value, grad, hess = _log_normalizer_value_grad_hessian(jnp.zeros(d, dtype))
            area = np.log(2) + d / 2 * np.log(np.pi) - special.gammaln(d / 2)
            np.testing.assert_allclose(value, area, rtol=1e-6)
            np.testing.assert_array_equal(grad, 0.0)
            np.testing.assert_allclose(hess, np.eye(d) / d, rtol=1e-6, atol=1e-7)


def test_log_normalizer_is_continuous_with_exact_derivatives_across_the_expansions():
    """The series gives way to the Debye expansion at radius 30: the two agree there, and
    the custom derivative (the Bessel ratio) passes check_grads to second order on both
    sides of it, near 0 and at 1e4."""
    v = 0.5  # d = 3
    edge = _bessel.DEBYE_RADIUS**2 - v * v
    u = jnp.array([edge * (1 - 1e-12), edge * (1 + 1e-12)])
    inside, outside = _bessel.log_iv_over_power(v, u)
    slope = 0.5 * _bessel.iv_ratio_over_x(v, jnp.asarray(edge))  # dF/du
    np.testing.assert_allclose(outside - inside, slope * (u[1] - u[0]), rtol=1e-3, atol=1e-14)

    @jax.jit
    def log_normalizer(eta):
        return jnp.sum(expfam.VonMisesFisher(eta).log_normalizer())

    eta = jnp.array([[1e-3, 0.0, 2e-3], [29.0, 7.0, 3.0], [30.0, 0.5, 0.5], [0.0, 8e3, 6e3]])
    check_grads(log_normalizer, (eta,), order=2, modes=["fwd", "rev"], eps=1e-5, rtol=1e-4)


@jax.jit
def _circle_functions(vm, vmf, x):
    """Log-normalizer, entropy, KL against the reversed batch and log-density of both."""
    points = jnp.stack([jnp.cos(x), jnp.sin(x)], -1)
    out = []
    for d, at in ((vm, x), (vmf, points)):
        reverse = jax.tree.map(lambda t: t[::-1], d)
        kl = expfam.kl_divergence(d, reverse)
        out.append((d.log_normalizer(), expfam.entropy(d), kl, d.log_prob(at)))
    return out


def _kl_to_reversed(member):
    return jnp.sum(expfam.kl_divergence(member, jax.tree.map(lambda t: t[::-1], member)))


@jax.jit
def _circle_kl_gradients(angle, kappa):
    def vm(angle, kappa):
        return _kl_to_reversed(expfam.VonMises.from_mean_concentration(angle, kappa))

    def vmf(angle, kappa):
        direction = jnp.stack([jnp.cos(angle), jnp.sin(angle)], -1)
        return _kl_to_reversed(expfam.VonMisesFisher(direction * kappa[:, None]))

    return jax.grad(vm, argnums=(0, 1))(angle, kappa), jax.grad(vmf, argnums=(0, 1))(angle, kappa)


def test_von_mises_fisher_in_two_dimensions_is_von_mises():
    angles = np.array([0.3, -2.0, 3.0, 1.0])
    kappas = np.array([0.0, 1e-3, 2.5, 1e3])
    vm = expfam.VonMises.from_mean_concentration(angles, kappas)
    directions = np.stack([np.cos(angles), np.sin(angles)], -1)
    vmf = expfam.VonMisesFisher.from_mean_direction_concentration(directions, kappas)
    want, got = _circle_functions(vm, vmf, jnp.linspace(-3, 3, 4))
    for g, w, rtol in zip(got, want, (1e-13, 1e-12, 1e-11, 1e-12), strict=True):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-13)
    want, got = _circle_kl_gradients(jnp.asarray(angles), jnp.asarray(kappas) + 0.5)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@jax.jit
def _sample_six(member, key):
    return member.sample(key, (6,))


def test_conjugate_prior_densities_are_products_of_scipy_densities(rng):
    """log p(mu, lam) and log p(mu, S) at sampled points against scipy's Normal x Gamma and
    multivariate_normal x invwishart log-densities (the FamilyCase oracles)."""
    ng = {"m": 0.7, "k": 2.0, "a": 3.0, "b": 0.5}
    member = expfam.NormalGamma.from_loc_kappa_shape_rate(ng["m"], ng["k"], ng["a"], ng["b"])
    x = np.asarray(_sample_six(member, jax.random.key(1)))
    got = jax.jit(type(member).log_prob)(member, x)
    np.testing.assert_allclose(got, _NormalGammaScipy(ng).logpdf(x), rtol=1e-10)

    niw = {"m": np.array([1.0, -2.0, 0.5]), "k": 0.4, "nu": 5.5, "psi": _spd(rng, 1, 3)[0]}
    member = expfam.NormalInverseWishart.from_loc_kappa_df_scale(
        niw["m"], niw["k"], niw["nu"], niw["psi"]
    )
    x = np.asarray(_sample_six(member, jax.random.key(2)))
    assert x.shape == (6, 3, 4)
    want = _NormalInverseWishartScipy(niw).logpdf(x)
    np.testing.assert_allclose(jax.jit(type(member).log_prob)(member, x), want, rtol=1e-10)
    packed = expfam.NormalInverseWishart.pack(x[..., 3], x[..., :3])
    np.testing.assert_array_equal(packed, x)
    with pytest.raises(ValueError, match=r"mean \[\.\.\., d\] and cov \[\.\.\., d, d\]"):
        expfam.NormalInverseWishart.pack(x[..., :3], x[..., 3])  # the arguments swapped


def test_known_covariance_is_static_and_checked():
    cov = np.array([[2.0, 0.3], [0.3, 1.0]])
    build = expfam.MultivariateNormalKnownCovariance.from_mean_cov
    p, q = build(np.zeros((3, 2)), cov), build(np.ones(2), cov.copy())
    # Equal covariances give equal tree structures: one compiled program serves both.
    assert jax.tree.structure(p) == jax.tree.structure(build(np.ones((3, 2)), cov.copy()))
    assert len(jax.tree.leaves(p)) == 1
    kl = jax.jit(expfam.kl_divergence)(p, q)
    np.testing.assert_allclose(kl, 0.5 * np.ones(2) @ np.linalg.solve(cov, np.ones(2)), rtol=1e-6)
    with pytest.raises(ValueError, match="different fixed parameters"):
        expfam.kl_divergence(p, build(np.zeros(2), 2 * cov))
    with pytest.raises(ValueError, match="symmetric positive definite"):
        build(np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match=r"last axis must be the dimension d = 2"):
        build(np.zeros(3), cov)
    with pytest.raises(TypeError, match="must be concrete"):
        jax.jit(lambda c: build(np.zeros(2), c))(cov)
    # Fitting the mean: the covariance comes from a member or is passed.
    x = np.array([[1.0, 2.0], [3.0, -2.0]])
    cls = expfam.MultivariateNormalKnownCovariance
    for fitted in (expfam.moment_match(p, x), expfam.moment_match(cls, x, cov=cov)):
        assert fitted.cov == p.cov
        np.testing.assert_allclose(fitted.loc, [2.0, 0.0])
    with pytest.raises(TypeError, match="covariance is fixed"):
        expfam.moment_match(cls, x)


MEAN_MAP_CASES = {
    "MultivariateNormalIsotropic": lambda: expfam.MultivariateNormalIsotropic.from_mean_std(
        np.array([[1.0, -2.0], [0.0, 3.0]]), np.array([0.5, 2.0])
    ),
    "VonMisesFisher": lambda: expfam.VonMisesFisher.from_mean_direction_concentration(
        np.array([[0.6, 0.8, 0.0], [0.0, 0.0, 1.0]]), np.array([0.5, 40.0])
    ),
    "NormalGamma": lambda: expfam.NormalGamma.from_loc_kappa_shape_rate(
        np.array([1.0, -3.0]), np.array([0.5, 4.0]), np.array([2.0, 0.7]), np.array([1.5, 0.2])
    ),
    "NormalInverseWishart": lambda: expfam.NormalInverseWishart.from_loc_kappa_df_scale(
        np.array([[1.0, -1.0], [0.0, 2.0]]),
        np.array([0.5, 3.0]),
        np.array([4.0, 7.5]),
        np.array([[[1.0, 0.3], [0.3, 2.0]], [[0.5, -0.1], [-0.1, 0.4]]]),
    ),
}


@pytest.mark.parametrize("name", sorted(MEAN_MAP_CASES))
def test_from_mean_parameters_inverts_the_mean_map(name):
    """Closed form (isotropic) or Newton from the family's own starting point."""
    member = MEAN_MAP_CASES[name]()
    cls = type(member)
    back = jax.jit(lambda mu: cls.from_mean_parameters(mu))(member.mean_parameters())
    for a, b in zip(back.natural_parameters(), member.natural_parameters(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", ["NormalInverseWishart", "VonMisesFisher"])
def test_moment_match_from_samples_of_any_dimension(name):
    """moment_match evaluates T(x) on a placeholder member (dimension 1): the statistics
    must take the dimension from the points (NormalInverseWishart read it from the member)."""
    member = jax.tree.map(lambda t: t[1], MEAN_MAP_CASES[name]())
    # The KL from the fitted to the true member is about (number of parameters) / (2 n).
    assert float(_kl_to_the_fit_of_samples(member, jax.random.key(3))) < 0.01


@jax.jit
def _kl_to_the_fit_of_samples(member, key):
    """KL(member || moment_match of 4000 of its samples), one program per family."""
    x = member.sample(key, (4000,))
    return expfam.kl_divergence(member, expfam.moment_match(type(member), x))
