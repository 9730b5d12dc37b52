"""The nearest-neighbour estimators of jaxdiv.samples against closed forms and scikit-learn.

Analytic truths (entropies of Gaussians, uniforms and exponentials, the KL
between Gaussians, the mutual information of correlated Gaussians) are
compared with the mean of R independent replicates, estimated in one batched
call. The tolerance is the estimator's own spread, four standard errors of
that mean (the replicates' standard deviation over sqrt(R)), plus a bias
allowance per case: the estimators are biased at finite n, most in high
dimension, and the allowance is the bias documented in the guide's table
(benchmarks/knn_accuracy.py) with room to spare. scikit-learn's
mutual_info_regression and mutual_info_classif are matched to 1e-10 in
float64 on the same data, after the same rescaling and noise that they apply.
"""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import digamma

import jaxdiv
import jaxdiv.samples as js

R = 8  # replicates per analytic case


def _mean_and_tolerance(estimates, bias):
    est = np.asarray(estimates).reshape(-1)
    return est.mean(), 4 * est.std(ddof=1) / math.sqrt(est.size) + bias


# --------------------------------------------------------------------------- analytic truth


@pytest.mark.parametrize(
    "name, d, n, truth, bias",
    [
        ("normal", 1, 1000, 0.5 * math.log(2 * math.pi * math.e), 0.02),
        ("normal", 2, 1000, math.log(2 * math.pi * math.e), 0.03),
        ("normal", 5, 2000, 2.5 * math.log(2 * math.pi * math.e), 0.1),
        ("normal", 10, 2000, 5 * math.log(2 * math.pi * math.e), 0.35),
        ("uniform", 1, 1000, 0.0, 0.02),
        ("uniform", 3, 2000, 0.0, 0.1),
        ("exponential", 1, 1000, 1.0, 0.03),
        ("exponential", 3, 2000, 3.0, 0.1),
    ],
)
def test_entropy_knn_matches_closed_forms(name, d, n, truth, bias):
    rng = np.random.default_rng(d * 100 + n)
    shape = (R, n, d)
    x = {
        "normal": rng.normal(size=shape),
        "uniform": rng.uniform(size=shape),
        "exponential": rng.exponential(size=shape),
    }[name]
    h = jax.jit(js.entropy_knn)(jnp.asarray(x, jnp.float32))
    assert h.shape == (R,) and h.dtype == jnp.float32
    mean, tol = _mean_and_tolerance(h, bias)
    assert abs(mean - truth) < tol, (mean, truth, tol)


def test_entropy_knn_correlated_gaussian_and_units():
    rng = np.random.default_rng(3)
    cov = np.array([[2.0, 0.8, 0.0], [0.8, 1.0, 0.3], [0.0, 0.3, 0.5]])
    x = rng.multivariate_normal(np.zeros(3), cov, size=(R, 2000))
    truth = 0.5 * np.linalg.slogdet(2 * math.pi * math.e * cov)[1]
    h = js.entropy_knn(x, k=4)
    mean, tol = _mean_and_tolerance(h, 0.05)
    assert abs(mean - truth) < tol
    np.testing.assert_allclose(js.entropy_knn(x, k=4, base=2), h / math.log(2), rtol=1e-12)
    # The Chebyshev ball's volume 2^d replaces the Euclidean one; both are consistent.
    h_max = js.entropy_knn(x, k=4, metric="chebyshev")
    mean, tol = _mean_and_tolerance(h_max, 0.08)
    assert abs(mean - truth) < tol


@pytest.mark.parametrize("d", [1, 3])
def test_kl_divergence_knn_between_gaussians(d):
    rng = np.random.default_rng(d)
    n, m, shift, scale = 1000, 1500, 0.7, 1.5
    x = rng.normal(size=(R, n, d))
    y = shift + scale * rng.normal(size=(R, m, d))
    truth = d * (math.log(scale) + (1 + shift**2) / (2 * scale**2) - 0.5)
    kl = js.kl_divergence_knn(x, y)
    mean, tol = _mean_and_tolerance(kl, 0.03 * d)
    assert abs(mean - truth) < tol, (mean, truth, tol)
    # Samples of one distribution: the size correction log(m / (n - 1)) keeps it near 0.
    same = js.kl_divergence_knn(x, rng.normal(size=(R, m, d)), k=3)
    mean, tol = _mean_and_tolerance(same, 0.02 * d)
    assert abs(mean) < tol


@pytest.mark.parametrize("d", [1, 2])
def test_kl_divergence_knn_matches_its_formula(d):
    """The estimates are their formulas with brute-force neighbours (in one dimension jaxdiv
    takes them from the sorted samples instead; each sample also lies beyond the other at
    both ends)."""
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(40, d)), 1.5 * rng.normal(size=(55, d)) + 0.3
    ball = math.log(2.0) if d == 1 else math.log(math.pi)
    for (x, y), k in itertools.product([(a, b), (b, a)], (1, 2, 4)):
        n, m = len(x), len(y)
        dxx = np.linalg.norm(x[:, None] - x[None], axis=-1)
        np.fill_diagonal(dxx, np.inf)
        rho = np.sort(dxx, axis=1)[:, k - 1]
        nu = np.sort(np.linalg.norm(x[:, None] - y[None], axis=-1), axis=1)[:, k - 1]
        want = d * np.mean(np.log(nu / rho)) + math.log(m / (n - 1))
        np.testing.assert_allclose(js.kl_divergence_knn(x, y, k=k), want, rtol=1e-12)
        h_want = digamma(n) - digamma(k) + ball + d * np.mean(np.log(rho))
        np.testing.assert_allclose(js.entropy_knn(x, k=k), h_want, rtol=1e-12)


def test_ksg_correlated_gaussians():
    rhos = np.array([0.0, 0.3, 0.6, 0.9, 0.99])
    n = 1000
    rng = np.random.default_rng(7)
    x = rng.normal(size=(len(rhos), R, n, 1))
    noise = rng.normal(size=(len(rhos), R, n, 1))
    r = rhos[:, None, None, None]
    y = r * x + np.sqrt(1 - r**2) * noise
    mi = np.asarray(js.mutual_information_ksg(jnp.asarray(x), jnp.asarray(y)))
    assert mi.shape == (len(rhos), R)
    for i, rho in enumerate(rhos):
        truth = -0.5 * math.log(1 - rho**2)
        mean, tol = _mean_and_tolerance(mi[i], 0.03)
        assert abs(mean - truth) < tol, (rho, mean, truth, tol)


def test_ksg_multivariate_gaussians():
    """x in R^2, y in R^2 with two correlated pairs: I = -sum log(1 - rho_i^2) / 2."""
    rng = np.random.default_rng(8)
    rho = np.array([0.5, 0.8])
    x = rng.normal(size=(R, 1000, 2))
    y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=(R, 1000, 2))
    truth = -0.5 * np.sum(np.log(1 - rho**2))
    mean, tol = _mean_and_tolerance(js.mutual_information_ksg(x, y, k=5), 0.05)
    assert abs(mean - truth) < tol


def test_mixed_gaussian_classes():
    """Two equally likely labels, x | label ~ N(±mu, 1): I by quadrature of the mixture density."""
    rng = np.random.default_rng(9)
    mu, n = 1.0, 1000
    labels = rng.integers(0, 2, size=(R, n))
    x = np.where(labels == 1, mu, -mu) + rng.normal(size=(R, n))
    grid = np.linspace(-12, 12, 200_001)
    phi = lambda t: np.exp(-0.5 * t**2) / math.sqrt(2 * math.pi)  # noqa: E731
    mix = 0.5 * (phi(grid - mu) + phi(grid + mu))
    h_mix = -np.trapezoid(mix * np.log(mix), grid)
    truth = h_mix - 0.5 * math.log(2 * math.pi * math.e)
    mi = js.mutual_information_mixed(x[..., None], labels)
    mean, tol = _mean_and_tolerance(mi, 0.03)
    assert abs(mean - truth) < tol, (mean, truth, tol)


# --------------------------------------------------------------------------- scikit-learn


def _sklearn_inputs(x, y, seed, *, discrete_target):
    """x and y after scikit-learn's rescaling and noise (its _estimate_mi, in its order)."""
    from sklearn.preprocessing import scale
    from sklearn.utils import check_random_state

    rng = check_random_state(seed)
    X = scale(x[:, None].astype(np.float64), with_mean=False)
    X += 1e-10 * np.maximum(1, np.mean(np.abs(X), axis=0)) * rng.standard_normal(size=X.shape)
    if discrete_target:
        return X[:, 0], y
    y = scale(y.astype(np.float64), with_mean=False)
    y = y + 1e-10 * np.maximum(1, np.mean(np.abs(y))) * rng.standard_normal(size=y.size)
    return X[:, 0], y


@pytest.mark.parametrize("k", [1, 3, 7])
def test_ksg_equals_sklearn_mutual_info_regression(k):
    from sklearn.feature_selection import mutual_info_regression

    rng = np.random.default_rng(k)
    ours, theirs = [], []
    for case in range(4):
        n = 300
        x = rng.normal(size=n) * (1 + case)
        y = np.sin(x) + (0.2 + 0.3 * case) * rng.standard_t(3, size=n)
        theirs.append(mutual_info_regression(x[:, None], y, n_neighbors=k, random_state=case)[0])
        xs, ys = _sklearn_inputs(x, y, case, discrete_target=False)
        ours.append((xs, ys))
    xs = np.stack([o[0] for o in ours])[..., None]
    ys = np.stack([o[1] for o in ours])[..., None]
    got = js.mutual_information_ksg(xs, ys, k=k)
    np.testing.assert_allclose(np.maximum(np.asarray(got), 0), theirs, rtol=1e-10, atol=1e-12)
    assert min(theirs) > 0.05  # the clipping at zero played no part


@pytest.mark.parametrize("k", [1, 3, 5])
def test_mixed_equals_sklearn_mutual_info_classif(k):
    """Exactly on dyadic data, where every distance is exact in both implementations.

    scikit-learn's mutual_info_classif rescales and adds noise, and then its
    Euclidean KDTree compares squared distances against the square of the radius
    nextafter(r, 0): rounding can count the k-th neighbour itself, moving a
    count by one. On its noisy data the two agree to within such counts.
    """
    from sklearn.feature_selection import mutual_info_classif
    from sklearn.feature_selection._mutual_info import _compute_mi_cd

    rng = np.random.default_rng(10 + k)
    n = 400
    labels = rng.choice([-3, 2, 7, 100], size=n, p=[0.4, 0.3, 0.2, 0.1])
    labels[:3] = [-3, 2, 55]  # one label that occurs once: left out, as scikit-learn does
    grid = rng.permutation(np.arange(-4000, 4000))[:n] / 1024.0  # distinct, exact squares
    x = np.sort(grid)[np.argsort(np.argsort(0.02 * labels + rng.normal(size=n)))]
    want = _compute_mi_cd(x, labels, k)
    got = js.mutual_information_mixed(x, jnp.asarray(labels), k=k)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert want > 0.05
    public = mutual_info_classif(x[:, None], labels, n_neighbors=k, random_state=0)[0]
    xs, _ = _sklearn_inputs(x, labels, 0, discrete_target=True)
    assert abs(js.mutual_information_mixed(xs, jnp.asarray(labels), k=k) - public) < 5 / n


# --------------------------------------------------------------------------- blocks, jit, vmap


def test_block_size_does_not_change_the_result():
    rng = np.random.default_rng(11)
    x, y = rng.normal(size=(201, 3)), rng.normal(size=(201, 2))
    labels = rng.integers(0, 3, size=201)
    y2 = rng.normal(size=(157, 3))
    for block in (7, 1000):
        for fn, args, kw in [
            (js.entropy_knn, (x,), {"k": 3}),
            (js.entropy_knn, (x,), {"k": 1, "metric": "chebyshev"}),
            (js.kl_divergence_knn, (x, y2), {"k": 2}),
            (js.mutual_information_ksg, (x, y), {"k": 3}),
            (js.mutual_information_mixed, (x, labels), {"k": 3}),
        ]:
            want = fn(*args, **kw)
            np.testing.assert_allclose(fn(*args, **kw, block_size=block), want, rtol=1e-13)


def test_jit_vmap_and_batch_axes_agree():
    rng = np.random.default_rng(12)
    x = jnp.asarray(rng.normal(size=(2, 3, 200, 2)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(2, 3, 200, 1)), jnp.float32) + x[..., :1]
    batched = js.mutual_information_ksg(x, y)
    assert batched.shape == (2, 3)
    mapped = jax.vmap(jax.vmap(jax.jit(js.mutual_information_ksg)))(x, y)
    np.testing.assert_allclose(mapped, batched, rtol=1e-6)
    one = js.mutual_information_ksg(x[1, 2], y[1, 2])
    np.testing.assert_allclose(batched[1, 2], one, rtol=1e-6)
    h = js.entropy_knn(x)
    np.testing.assert_allclose(jax.vmap(js.entropy_knn)(x.reshape(6, 200, 2)), h.ravel(), rtol=1e-6)
    kl = jax.jit(js.kl_divergence_knn)(x, x[..., ::-1] + 1)
    assert kl.shape == (2, 3) and bool(jnp.all(jnp.isfinite(kl)))


def test_vector_input_is_scalar_samples():
    x = np.random.default_rng(13).normal(size=500)
    np.testing.assert_allclose(js.entropy_knn(x), js.entropy_knn(x[:, None]), rtol=1e-14)


def test_gradients_are_finite_and_correct():
    from jax.test_util import check_grads

    rng = np.random.default_rng(14)
    # 201 and 150 points: the search pads the points to whole groups, whose derivatives
    # must stay out of the gradient. A small step keeps every neighbour the same.
    x, y = jnp.asarray(rng.normal(size=(201, 2))), jnp.asarray(rng.normal(size=(150, 2)))
    check_grads(lambda a: js.entropy_knn(a, k=2), (x,), order=1, modes=["rev"], eps=1e-6)
    check_grads(lambda a, b: js.kl_divergence_knn(a, b), (x, y), order=1, modes=["rev"], eps=1e-6)
    g = jax.grad(lambda a: js.mutual_information_ksg(a[:, :1], a[:, 1:]))(x)
    assert bool(jnp.all(g == 0))  # counts are piecewise constant in the samples


# --------------------------------------------------------------------------- ties and errors


def test_duplicates_raise_eagerly_and_jitter_breaks_them():
    x = np.repeat(np.random.default_rng(15).normal(size=(100, 2)), 2, axis=0)
    with pytest.raises(ValueError, match=r"distance 0.*jitter="):
        js.entropy_knn(x, k=1)
    with pytest.raises(ValueError, match="distance 0"):
        js.kl_divergence_knn(x, x[:50] + 1.0, k=1)
    with pytest.raises(ValueError, match="distance 0"):
        js.mutual_information_ksg(x[:, :1], x[:, 1:], k=1)
    with pytest.raises(ValueError, match="distance 0"):
        js.mutual_information_mixed(x, np.zeros(200, np.int32), k=1)
    # Under jit the check cannot raise: the documented value, -inf, not NaN.
    assert float(jax.jit(lambda a: js.entropy_knn(a, k=1))(x)) == -np.inf
    err, _ = jaxdiv.checked(lambda a: js.entropy_knn(a, k=1))(x)
    assert "distance 0" in str(err.get())
    key = jax.random.key(0)
    h = js.entropy_knn(x, k=1, jitter=1e-10, key=key)
    assert np.isfinite(h)
    assert np.isfinite(js.entropy_knn(x, k=2))  # the second neighbour is another point


def test_bad_inputs_get_clear_errors():
    x = np.random.default_rng(16).normal(size=(10, 2))
    with pytest.raises(ValueError, match=r"10 samples; k=10 neighbours need at least 11"):
        js.entropy_knn(x, k=10)
    with pytest.raises(ValueError, match="integer >= 1"):
        js.entropy_knn(x, k=0)
    with pytest.raises(ValueError, match="same batch shape and dimension"):
        js.kl_divergence_knn(x, x[:, :1])
    with pytest.raises(ValueError, match="same number of paired samples"):
        js.mutual_information_ksg(x, x[:9])
    with pytest.raises(ValueError, match="NaN or infinite"):
        js.entropy_knn(np.where(np.eye(10, 2) > 0, np.nan, x))
    with pytest.raises(ValueError, match="NaN or infinite"):
        js.mutual_information_ksg(x, np.full(10, np.inf))
    with pytest.raises(TypeError, match="real numbers"):
        js.entropy_knn(x.astype(complex))
    with pytest.raises(TypeError, match="integer labels"):
        js.mutual_information_mixed(x, np.zeros(10))
    with pytest.raises(ValueError, match="needs a key"):
        js.entropy_knn(x, jitter=1e-6)
    with pytest.raises(ValueError, match="jitter is None"):
        js.entropy_knn(x, key=jax.random.key(0))
    with pytest.raises(ValueError, match="metric must be"):
        js.entropy_knn(x, metric="manhattan")
    with pytest.raises(ValueError, match="block_size"):
        js.entropy_knn(x, block_size=0)
    with pytest.raises(ValueError, match="base"):
        js.entropy_knn(x, base=1.0)
