"""The continuous Bernoulli through the removable singularity of its normalizer, in float32.

At natural parameter 0 (probs = 1/2) `A = log((e^theta - 1) / theta)` is 0 / 0. The
float32 log-normalizer, mean parameter and Fisher information (first and second
derivatives by autodiff as well as the closed form) are compared with float64 references
from numpy (`log(expm1(theta) / theta)`, and the Taylor series of the derivatives where
their closed forms cancel), on both sides of the switch between series and closed form.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv import expfam

THETA = np.array([0.0, 1e-7, -1e-4, 1e-2, -0.3, 0.999, 1.001, -1.5, 3.0, 20.0, -80.0])


def _references(theta):
    t = theta.astype(np.float64)
    small = np.abs(t) < 1e-2
    safe = np.where(small, 1.0, t)
    a = np.where(t == 0, 0.0, np.log(np.expm1(safe) / safe))
    a = np.where(small, t / 2 + t**2 / 24 - t**4 / 2880, a)
    mean = np.where(small, 0.5 + t / 12 - t**3 / 720, 1 / -np.expm1(-safe) - 1 / safe)
    # A'' = 1 / t^2 - e^t / (e^t - 1)^2 = 1/12 - t^2 / 240 + t^4 / 6048 - ...
    fisher = np.where(
        small, 1 / 12 - t**2 / 240 + t**4 / 6048, 1 / safe**2 - 0.25 / np.sinh(safe / 2) ** 2
    )
    return a, mean, fisher


@jax.jit
def _float32_values(theta):
    def a(t):
        return expfam.ContinuousBernoulli(t).log_normalizer()

    d = expfam.ContinuousBernoulli(theta)
    return (
        d.log_normalizer(),
        d.mean_parameters()[0],
        jax.vmap(jax.grad(a))(theta),
        jax.vmap(jax.grad(jax.grad(a)))(theta),
        d.fisher_information()[:, 0, 0],
    )


def test_normalizer_mean_and_fisher_are_accurate_in_float32_through_zero():
    a, mean, grad_a, hess_a, fisher = _float32_values(jnp.asarray(THETA, jnp.float32))
    ref_a, ref_mean, ref_fisher = _references(THETA.astype(np.float32))
    for got in (a, mean, grad_a, hess_a, fisher):
        assert got.dtype == jnp.float32 and np.all(np.isfinite(got))
    np.testing.assert_allclose(a, ref_a, rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(mean, ref_mean, rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(grad_a, ref_mean, rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(hess_a, ref_fisher, rtol=2e-5, atol=1e-8)
    np.testing.assert_allclose(fisher, ref_fisher, rtol=2e-5, atol=1e-8)
    # The uniform density: A = 0, mean 1/2, variance 1/12, entropy 0.
    assert float(a[0]) == 0.0 and float(mean[0]) == 0.5
    np.testing.assert_allclose(hess_a[0], 1 / 12, rtol=1e-6)
    uniform = expfam.ContinuousBernoulli.from_probs(jnp.float32(0.5))
    assert float(expfam.entropy(uniform)) == 0.0


def test_samples_at_and_near_one_half_are_uniform_and_reparameterised():
    d = expfam.ContinuousBernoulli(jnp.asarray([0.0, 1e-6, -1e-6], jnp.float32))
    x = jax.jit(lambda d: d.sample(jax.random.key(1), (4000,)))(d)
    assert np.all((x >= 0) & (x <= 1))
    # Each column against the uniform distribution (its CDF is x): Kolmogorov-Smirnov
    # distance below the 0.1% critical value 1.95 / sqrt(n).
    for col in np.sort(np.asarray(x), axis=0).T:
        ks = np.max(np.abs(col - (np.arange(1, len(col) + 1) - 0.5) / len(col)))
        assert ks < 1.95 / np.sqrt(len(col))


def test_sample_gradients_match_the_inverse_cdf_through_zero():
    """d x / d theta for x = log1p(u expm1(theta)) / theta with the same uniform draws:
    u (1 - u) / 2 at theta = 0, float64 central differences elsewhere."""
    theta = np.array([0.0, 1e-6, -1e-6, 0.05, -0.099, 0.101, -0.3, 2.0, -7.0], np.float32)
    key = jax.random.key(3)

    def draws(t):
        return expfam.ContinuousBernoulli(t).sample(key, (64,))

    x, tangent = jax.jit(lambda t: jax.jvp(draws, (t,), (jnp.ones_like(t),)))(jnp.asarray(theta))
    u = np.asarray(jax.random.uniform(key, (64, len(theta)), jnp.float32), np.float64)
    t = theta.astype(np.float64)

    def inverse_cdf(t):
        return np.where(t == 0, u, np.log1p(u * np.expm1(t)) / np.where(t == 0, 1.0, t))

    h = 1e-4
    diff = (inverse_cdf(t + h) - inverse_cdf(t - h)) / (2 * h)
    diff = np.where(np.abs(t) < 1e-3, u * (1 - u) / 2, diff)  # the series' first coefficient
    np.testing.assert_allclose(x, inverse_cdf(t), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tangent, diff, rtol=2e-4, atol=2e-6)
