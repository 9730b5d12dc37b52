"""GaussianMixture, the mixture-KL estimators and the fitting objectives against scipy."""

import dataclasses
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy import integrate, stats

from jaxdiv import expfam, mixture
from jaxdiv.mixture import GaussianMixture

# Pairs of 1-D mixtures (weights, locs, scales), from overlapping to well separated.
PAIRS = {
    "overlapping": (
        ([0.3, 0.7], [-2.0, 1.5], [0.7, 1.2]),
        ([0.5, 0.2, 0.3], [-1.0, 0.0, 2.0], [1.0, 2.0, 0.5]),
    ),
    "separated": (
        ([0.4, 0.6], [-6.0, 6.0], [1.0, 0.8]),
        ([0.5, 0.5], [-5.5, 6.5], [1.2, 1.0]),
    ),
    "broad_vs_bimodal": (
        ([1.0], [0.0], [3.0]),
        ([0.5, 0.5], [-2.0, 2.0], [1.0, 1.0]),
    ),
    "bimodal_vs_broad": (
        ([0.5, 0.5], [-2.0, 2.0], [1.0, 1.0]),
        ([1.0], [0.0], [3.0]),
    ),
}


def _mix(spec):
    w, m, s = (np.asarray(a, float) for a in spec)
    return GaussianMixture.univariate(w, m, s)


def _pdf(spec, x):
    w, m, s = spec
    return sum(wk * stats.norm.pdf(x, mk, sk) for wk, mk, sk in zip(w, m, s, strict=True))


def _quad_kl(ps, qs):
    def f(x):
        p = _pdf(ps, x)
        return 0.0 if p == 0 else p * (np.log(p) - np.log(_pdf(qs, x)))

    return integrate.quad(f, -40, 40, limit=400, points=[-6, 0, 6])[0]


def _random_mixture(rng, k, d):
    a = rng.normal(size=(k, d, d))
    cov = a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(d)
    return rng.dirichlet(np.ones(k)), rng.normal(size=(k, d)) * 2, cov


# Each program below is compiled once (per input shape) and shared by the tests: the mixture
# functions called eagerly dispatch op by op, one compilation per operation and shape.
APPROXIMATIONS = ("variational", "goldberger", "product", "lower_bound", "upper_bound")
KL = {
    m: jax.jit(functools.partial(mixture.kl_divergence, method=m))
    for m in (*APPROXIMATIONS, "quadrature")
}
FROM_COVARIANCES = jax.jit(GaussianMixture.from_covariances)


def _estimates(p, q):
    """Every deterministic estimate of KL(p || q) (the quadrature in one dimension), each from
    the library's compiled program for its method; the quadrature's accuracy check warns
    (an error under this suite's filterwarnings) as in eager mode."""
    methods = (*APPROXIMATIONS, "quadrature") if p.dim == 1 else APPROXIMATIONS
    return {m: float(mixture.kl_divergence(p, q, method=m)) for m in methods}


@functools.cache
def _pair_estimates(name):
    """Every estimate for the pair PAIRS[name], computed once per module."""
    ps, qs = PAIRS[name]
    return _estimates(_mix(ps), _mix(qs))


@functools.cache
def _reference_kl(name):
    """The scipy quadrature of PAIRS[name], computed once per module."""
    return _quad_kl(*PAIRS[name])


# --------------------------------------------------------------------------- the pytree


def test_log_prob_matches_scipy(rng):
    w, mu, cov = _random_mixture(rng, 3, 2)
    gm = FROM_COVARIANCES(w, mu, cov)
    x = rng.normal(size=(4, 5, 2)) * 2
    ref = np.log(sum(w[k] * stats.multivariate_normal(mu[k], cov[k]).pdf(x) for k in range(3)))
    np.testing.assert_allclose(jax.jit(GaussianMixture.log_prob)(gm, x), ref, rtol=1e-10)
    chex.assert_shape(jax.jit(GaussianMixture.component_log_prob)(gm, x), (4, 5, 3))


def test_moments_and_samples(rng):
    w, mu, cov = _random_mixture(rng, 3, 2)
    gm = FROM_COVARIANCES(w, mu, cov)
    mean = w @ mu
    second = np.einsum("k,kij->ij", w, cov + mu[:, :, None] * mu[:, None, :])

    @jax.jit
    def moments_and_samples(gm, key, component_key):
        moments = (gm.mean(), gm.covariance(), gm.covariances)
        return moments, gm.sample(key, (200_000,)), gm.sample_components(component_key, (50_000,))

    (got_mean, got_cov, covs), x, per = moments_and_samples(
        gm, jax.random.key(0), jax.random.key(1)
    )
    np.testing.assert_allclose(got_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(got_cov, second - np.outer(mean, mean), rtol=1e-12)
    np.testing.assert_allclose(covs, cov, rtol=1e-12)
    np.testing.assert_allclose(np.mean(x, 0), mean, atol=0.03)
    np.testing.assert_allclose(np.cov(np.asarray(x).T), second - np.outer(mean, mean), atol=0.05)
    chex.assert_shape(per, (50_000, 3, 2))
    np.testing.assert_allclose(np.mean(per, 0), mu, atol=0.05)


def test_constructors_agree(rng):
    w, mu, cov = _random_mixture(rng, 2, 3)
    var = rng.uniform(0.5, 2, size=(2, 3))

    @jax.jit
    def constructed(w, mu, cov, chol, var):
        full = GaussianMixture.from_covariances(w, mu, cov)
        tril = GaussianMixture.from_scale_tril(w, mu, chol)
        back = GaussianMixture.from_unconstrained(**full.unconstrained())
        return full, (tril, back), GaussianMixture.diagonal(w, mu, var).covariances

    full, others, diag_covariances = constructed(w, mu, cov, np.linalg.cholesky(cov), var)
    for other in others:
        chex.assert_trees_all_close(other, full, rtol=1e-10)
    np.testing.assert_allclose(diag_covariances, var[:, :, None] * np.eye(3), rtol=1e-12)
    one = GaussianMixture.univariate([1.0], [0.5], [2.0])
    assert (one.num_components, one.dim) == (1, 1)
    np.testing.assert_allclose(one.covariance(), [[4.0]])


def test_single_gaussians_are_one_component_mixtures():
    normal = expfam.Normal.from_mean_std(0.5, 2.0)
    mvn = expfam.MultivariateNormal.from_mean_cov(jnp.array([0.5]), jnp.array([[4.0]]))
    diag = expfam.MultivariateNormalDiag.from_mean_std(jnp.array([0.5]), jnp.array([2.0]))
    ref = GaussianMixture.univariate([1.0], [0.5], [2.0])
    other = GaussianMixture.univariate([0.5, 0.5], [-1.0, 1.0], [1.0, 1.0])
    want = KL["variational"](ref, other)
    for g in (normal, mvn, diag):
        np.testing.assert_allclose(KL["variational"](g, other), want, rtol=1e-10, err_msg=str(g))


def test_pytree_jit_vmap_grad(rng):
    w, mu, cov = _random_mixture(rng, 2, 2)
    gm = FROM_COVARIANCES(w, mu, cov)
    leaves = jax.tree.leaves(gm)
    assert len(leaves) == 3
    x = rng.normal(size=(6, 2))

    @jax.jit
    def batched_and_single(gm):
        stacked = jax.tree.map(lambda a: jnp.stack([a, a]), gm)
        return jax.vmap(lambda m: m.log_prob(x))(stacked), gm.log_prob(x)

    batched, single = batched_and_single(gm)
    np.testing.assert_allclose(batched[0], single)
    params = jax.jit(GaussianMixture.unconstrained)(gm)

    @jax.jit
    def nll(params):
        return mixture.negative_log_likelihood(GaussianMixture.from_unconstrained(**params), x)

    check_grads(nll, (params,), order=1, modes=["rev"])
    grads = jax.jit(jax.grad(nll))(params)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))


def test_immutable():
    gm = GaussianMixture.univariate([1.0], [0.0], [1.0])
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign"):
        gm.means = jnp.zeros((1, 1))


def test_a_frozen_dataclass_whose_fields_are_its_leaves():
    gm = GaussianMixture.univariate([0.25, 0.75], [-1.0, 2.0], stds=[0.5, 3.0])
    assert dataclasses.is_dataclass(gm)
    assert [f.name for f in dataclasses.fields(gm)] == ["log_weights", "means", "scale_tril"]
    leaves, tree = jax.tree.flatten(gm)
    assert [x.shape for x in leaves] == [(2,), (2, 1), (2, 1, 1)]
    np.testing.assert_allclose(leaves[0], np.log([0.25, 0.75]))
    np.testing.assert_allclose(leaves[2][:, 0, 0], [0.5, 3.0])  # stds, not variances
    back = jax.tree.unflatten(tree, leaves)
    assert type(back) is GaussianMixture and back.means is leaves[1]
    # Through jit and as the gradient's type.
    moved = jax.jit(lambda m: dataclasses.replace(m, means=m.means + 1.0))(gm)
    np.testing.assert_allclose(moved.means[:, 0], [0.0, 3.0])
    grad = jax.grad(lambda m: m.log_prob(jnp.zeros((1,))))(gm)
    assert type(grad) is GaussianMixture
    # The constructor takes the stored fields, by keyword only: the old positional
    # GaussianMixture(weights, means, covariances) fails loudly instead of misreading.
    same = GaussianMixture(log_weights=gm.log_weights, means=gm.means, scale_tril=gm.scale_tril)
    np.testing.assert_allclose(same.covariances, gm.covariances)
    with pytest.raises(TypeError, match="positional"):
        GaussianMixture(jnp.ones(1), jnp.zeros((1, 1)), jnp.ones((1, 1, 1)))  # type: ignore[misc]
    # univariate's third argument is a standard deviation, diagonal's a variance.
    np.testing.assert_allclose(
        GaussianMixture.diagonal(
            [0.25, 0.75], [[-1.0], [2.0]], variances=[[0.25], [9.0]]
        ).covariances,
        gm.covariances,
    )
    with pytest.raises(TypeError, match="scales"):
        GaussianMixture.univariate([1.0], [0.0], scales=[1.0])  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: GaussianMixture.from_covariances(
                [0.5, 0.6], [[0.0], [1.0]], [[[1.0]], [[1.0]]]
            ),
            "sum to 1",
        ),
        (lambda: GaussianMixture.from_covariances([1.0], [[0.0, 1.0]], [[[1.0]]]), r"\[K, d, d\]"),
        (lambda: GaussianMixture.from_covariances([1.0], [0.0], [[[1.0]]]), r"\[K, d\]"),
        (lambda: GaussianMixture.from_covariances([1.0], [[0.0]], [[[-1.0]]]), "positive definite"),
        (
            lambda: GaussianMixture.univariate([1.0], [0.0], [0.0]),
            r"stds \(standard deviations\) must be > 0",
        ),
        (lambda: GaussianMixture.diagonal([1.0], [[0.0]], [[1.0, 1.0]]), "shape of means"),
        (
            lambda: GaussianMixture.univariate([1.0], [0.0], [1.0]).log_prob(jnp.zeros((3, 2))),
            "d = 1",
        ),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- mixture KL


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_quadrature_and_bounds_against_scipy(name):
    got, ref = _pair_estimates(name), _reference_kl(name)
    np.testing.assert_allclose(got["quadrature"], ref, rtol=1e-7, atol=1e-10)
    assert got["lower_bound"] <= ref + 1e-12
    assert got["upper_bound"] >= ref - 1e-12


# Documented bias of the approximations on these pairs (absolute error in nats):
# variational, goldberger and product are not bounds and can miss by much where
# components overlap; with well-separated components they are close.
BIAS = {
    "separated": {"variational": 0.05, "goldberger": 0.05, "product": 0.1},
    "overlapping": {"variational": 0.8, "goldberger": 1.1, "product": 0.2},
}


@pytest.mark.parametrize("name", sorted(BIAS))
def test_approximations_within_documented_bias(name):
    ref = _reference_kl(name)
    for method, tol in BIAS[name].items():
        got = _pair_estimates(name)[method]
        assert abs(got - ref) <= tol, (method, got, ref)


def test_single_gaussians_exact(rng):
    _, mu, cov = _random_mixture(rng, 2, 3)
    p = FROM_COVARIANCES(np.ones(1), mu[:1], cov[:1])
    q = FROM_COVARIANCES(np.ones(1), mu[1:], cov[1:])
    m1, s1, m2, s2 = mu[0], cov[0], mu[1], cov[1]
    inv2 = np.linalg.inv(s2)
    ref = 0.5 * (
        np.trace(inv2 @ s1)
        + (m2 - m1) @ inv2 @ (m2 - m1)
        - 3
        + np.log(np.linalg.det(s2) / np.linalg.det(s1))
    )
    got = _estimates(p, q)
    for method in ("variational", "goldberger"):
        np.testing.assert_allclose(got[method], ref, rtol=1e-10, err_msg=method)
    assert got["lower_bound"] <= ref <= got["upper_bound"]


def test_lower_bound_is_clipped_at_zero_and_stays_a_bound():
    # Durrieu et al.'s raw bound is about -0.15 for identical two-component mixtures.
    p = _mix(PAIRS["overlapping"][0])
    value, grads = jax.jit(jax.value_and_grad(KL["lower_bound"]))(p, p)
    assert float(value) == 0.0
    assert all(bool(jnp.all(g == 0)) for g in jax.tree.leaves(grads))
    for name in PAIRS:
        lo = _pair_estimates(name)["lower_bound"]
        assert 0.0 <= lo <= _reference_kl(name) + 1e-12, name


def test_monte_carlo_estimators():
    ps, qs = PAIRS["overlapping"]
    p, q = _mix(ps), _mix(qs)
    ref = _reference_kl("overlapping")
    keys = jax.random.split(jax.random.key(0), 40)

    @jax.jit
    @jax.vmap
    def estimates(key):
        return {
            e: mixture.kl_divergence(
                p, q, method="monte_carlo", estimator=e, key=key, num_samples=2000
            )
            for e in ("k1", "k2", "k3")
        }

    est = {e: np.asarray(v) for e, v in estimates(keys).items()}
    for e in ("k1", "k3"):  # unbiased: the mean of 40 runs is within 4 standard errors
        se = est[e].std(ddof=1) / np.sqrt(len(est[e]))
        assert abs(est[e].mean() - ref) < 4 * se + 1e-3, (e, est[e].mean(), ref)
    assert np.all(est["k3"] >= 0)
    assert est["k3"].std() < est["k1"].std()  # k3 has the lower variance here
    assert est["k2"].mean() > ref + 0.005  # k2 is biased (upwards on this pair)


def test_kl_errors():
    p = _mix(PAIRS["separated"][0])
    two = GaussianMixture.from_covariances([1.0], [[0.0, 0.0]], [np.eye(2)])
    with pytest.raises(ValueError, match="method must be one of"):
        mixture.kl_divergence(p, p, method="exact")
    with pytest.raises(ValueError, match="PRNG key"):
        mixture.kl_divergence(p, p, method="monte_carlo")
    with pytest.raises(ValueError, match="estimator must be one of"):
        mixture.kl_divergence(p, p, method="monte_carlo", estimator="k4", key=jax.random.key(0))
    with pytest.raises(ValueError, match="dimension"):
        mixture.kl_divergence(p, two, method="variational")
    with pytest.raises(ValueError, match="one dimension"):
        mixture.kl_divergence(two, two, method="quadrature")
    with pytest.raises(TypeError, match="GaussianMixture"):
        mixture.kl_divergence(np.ones(3), p, method="variational")
    with pytest.raises(ValueError, match="alpha"):
        mixture.renyi_divergence(p, p, alpha=-1.0, method="quadrature")


RENYI_ORDERS = (0.3, 0.5, 2.0)


@functools.cache
def _renyi_estimates():
    """Quadrature and Monte Carlo (200,000 draws) Renyi divergences of the overlapping pair for
    every order in RENYI_ORDERS, computed once per module."""
    ps, qs = PAIRS["overlapping"]
    p, q, key = _mix(ps), _mix(qs), jax.random.key(0)
    renyi = mixture.renyi_divergence
    return {
        alpha: (
            renyi(p, q, alpha=alpha, method="quadrature"),
            renyi(p, q, alpha=alpha, method="monte_carlo", key=key, num_samples=200_000),
        )
        for alpha in RENYI_ORDERS
    }


@pytest.mark.parametrize("alpha", RENYI_ORDERS)
def test_renyi_quadrature_against_scipy(alpha):
    ps, qs = PAIRS["overlapping"]
    integral = integrate.quad(
        lambda x: _pdf(ps, x) ** alpha * _pdf(qs, x) ** (1 - alpha), -40, 40, limit=400
    )[0]
    ref = np.log(integral) / (alpha - 1)
    got, mc = _renyi_estimates()[alpha]
    np.testing.assert_allclose(got, ref, rtol=1e-7)
    np.testing.assert_allclose(mc, ref, rtol=0.05)


GRADIENT_METHODS = ("quadrature", "variational", "product", "lower_bound", "upper_bound")


@jax.jit
def _gradient_methods(p, q):
    """The estimates of GRADIENT_METHODS as one vector: check_grads compares the tangent of each
    entry with its own finite difference, and the cotangent projection over all of them."""
    return jnp.stack([mixture.kl_divergence(p, q, method=m) for m in GRADIENT_METHODS])


def test_quadrature_gradients():
    ps, qs = PAIRS["overlapping"]
    check_grads(_gradient_methods, (_mix(ps), _mix(qs)), order=1)


# --------------------------------------------------------------------------- objectives


def test_reverse_kl_unbiased_and_weights_get_gradients():
    ps, qs = PAIRS["overlapping"]
    model, target = _mix(ps), _mix(qs)
    ref = _reference_kl("overlapping")
    est = jax.jit(lambda m, k: mixture.reverse_kl(m, target.log_prob, k, num_samples=100_000))
    np.testing.assert_allclose(est(model, jax.random.key(0)), ref, atol=0.01)
    params = model.unconstrained()

    def loss(params, key):
        return mixture.reverse_kl(
            GaussianMixture.from_unconstrained(**params), target.log_prob, key
        )

    def exact(params):
        m = GaussianMixture.from_unconstrained(**params)
        return mixture.kl_divergence(m, target, method="quadrature")

    keys = jax.random.split(jax.random.key(1), 200)
    grads = jax.jit(jax.vmap(jax.grad(loss), in_axes=(None, 0)))(params, keys)
    np.testing.assert_allclose(
        np.mean(grads["weight_logits"], 0),
        jax.jit(jax.grad(exact))(params)["weight_logits"],
        atol=0.02,
    )


def test_variational_renyi_limits():
    ps, qs = PAIRS["overlapping"]

    @jax.jit
    def objectives(model, target, key):
        def renyi(alpha, **kw):
            return mixture.variational_renyi(model, target.log_prob, key, alpha=alpha, **kw)

        far = {alpha: renyi(alpha, num_samples=200_000) for alpha in (0.5, 2.0)}
        kl = mixture.reverse_kl(model, target.log_prob, key)
        return renyi(1.0), kl, renyi(1.0 + 1e-6), far

    r1, kl, near, far = objectives(_mix(ps), _mix(qs), jax.random.key(3))
    np.testing.assert_allclose(r1, kl)
    np.testing.assert_allclose(near, r1, rtol=1e-4)
    for alpha in (0.5, 2.0):
        ref, _ = _renyi_estimates()[alpha]  # the quadrature
        np.testing.assert_allclose(far[alpha], ref, rtol=0.03, err_msg=alpha)


def test_objective_errors():
    m = _mix(PAIRS["separated"][0])
    with pytest.raises(TypeError, match="target_log_prob"):
        mixture.reverse_kl(m, 3.0, jax.random.key(0))
    with pytest.raises(ValueError, match="one log-density per point"):
        mixture.reverse_kl(m, lambda x: x, jax.random.key(0))
    with pytest.raises(ValueError, match="alpha"):
        mixture.variational_renyi(m, m.log_prob, jax.random.key(0), alpha=0.0)
    with pytest.raises(ValueError, match=r"\[N, d\]"):
        mixture.negative_log_likelihood(m, jnp.zeros((2, 3, 1)))


def test_negative_log_likelihood_mask():
    """The masked mean over samples equals the mean over the kept ones; the sharded form is
    in tests/sharded/test_sharded_mixture_and_fit.py."""
    model = _mix(PAIRS["overlapping"][0])
    x = np.random.default_rng(0).normal(size=(1000, 1)) * 2
    mask = np.arange(1000) < 997

    @jax.jit
    def masked_and_kept(model, x):
        kept = model.log_prob(x[:997])
        return mixture.negative_log_likelihood(model, x, where=mask), kept

    masked, kept = masked_and_kept(model, x)
    np.testing.assert_allclose(masked, -np.mean(np.asarray(kept)), rtol=1e-12)


def test_negative_log_likelihood_of_no_samples_is_zero():
    """where=<all False> gave NaN (0 / 0) where distill.distillation_loss gives 0: both use
    one masked mean now, 0 with a zero gradient for no samples or all of them masked."""
    params = _mix(PAIRS["overlapping"][0]).unconstrained()
    x = np.random.default_rng(1).normal(size=(5, 1))

    def loss(params, x, mask):
        m = GaussianMixture.from_unconstrained(**params)
        return mixture.negative_log_likelihood(m, x, where=mask)

    value_and_grad = jax.jit(jax.value_and_grad(loss))
    for args in [(x, np.zeros(5, bool)), (x[:0], np.zeros(0, bool)), (x[:0], None)]:
        value, grads = value_and_grad(params, *args)
        assert float(value) == 0.0
        for g in jax.tree.leaves(grads):
            assert np.all(g == 0)


def _two():
    return _mix(PAIRS["overlapping"][0]), _mix(PAIRS["overlapping"][1])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        # Raw JAX errors: "JAX encountered invalid PRNG key data ... Got 0".
        (
            lambda p, q: mixture.kl_divergence(p, q, method="monte_carlo", key=0),
            TypeError,
            r"kl_divergence: key must be a PRNG key, from jax.random.key\(seed\).*got int 0",
        ),
        (
            lambda p, q: mixture.reverse_kl(p, q.log_prob, None),
            TypeError,
            "reverse_kl: key must be a PRNG key.*got None",
        ),
        (lambda p, q: p.sample(3, (2,)), TypeError, "sample: key must be a PRNG key"),
        # num_samples=2.5 ran with 2 draws, True with 1; "x" raised int()'s own ValueError.
        (
            lambda p, q: mixture.kl_divergence(
                p, q, method="monte_carlo", key=jax.random.key(0), num_samples=2.5
            ),
            ValueError,
            r"num_samples must be an integer >= 1, got 2.5 \(of type float\)",
        ),
        (
            lambda p, q: mixture.reverse_kl(p, q.log_prob, jax.random.key(0), num_samples=True),
            ValueError,
            r"num_samples must be an integer >= 1, got True \(a bool\)",
        ),
        (
            lambda p, q: mixture.variational_renyi(
                p, q.log_prob, jax.random.key(0), alpha=0.5, num_samples="x"
            ),
            ValueError,
            "num_samples must be an integer >= 1",
        ),
        # 1-D samples were blamed on "GaussianMixture.component_log_prob: x".
        (
            lambda p, q: mixture.negative_log_likelihood(p, np.zeros(5)),
            ValueError,
            r"negative_log_likelihood: samples must have shape \[N, d\] with d = 1 .*\(5,\)",
        ),
        (
            lambda p, q: p.sample(jax.random.key(0), (2.5,)),
            TypeError,
            "shape must be a tuple of integers",
        ),
    ],
    ids=[
        "int-key",
        "no-key",
        "sample-int-key",
        "float-num-samples",
        "bool-num-samples",
        "str-num-samples",
        "1-D-samples",
        "float-shape",
    ],
)
def test_errors_name_what_was_wrong_and_what_was_expected(call, error, match):
    p, q = _two()
    with pytest.raises(error, match=match):
        call(p, q)


def test_sixteen_bit_weights_need_only_sum_to_one_to_their_precision():
    """bfloat16 weights [0.2, 0.3, 0.5] round to a sum of 1.00098: the eager constructor
    refused them ("must sum to 1") though no bfloat16 triple sums closer."""
    w = jnp.asarray([0.2, 0.3, 0.5], jnp.bfloat16)
    assert float(jnp.sum(w.astype(jnp.float32))) != 1.0
    m = GaussianMixture.univariate(w, jnp.zeros(3, jnp.bfloat16), jnp.ones(3, jnp.bfloat16))
    np.testing.assert_allclose(m.weights, np.asarray(w, np.float32), rtol=1e-6)
    with pytest.raises(ValueError, match="sum to 1"):  # off by more than bfloat16's precision
        GaussianMixture.univariate(
            jnp.asarray([0.2, 0.3, 0.6], jnp.bfloat16), jnp.zeros(3), jnp.ones(3)
        )
    m = GaussianMixture.univariate(w, jnp.zeros(3), jnp.ones(3))
    assert m.sample(jax.random.key(0), 4).shape == (4, 1)  # an int shape is a 1-tuple


def test_a_method_traced_inside_checked_is_not_reused_outside_it():
    """The methods' compiled programs are keyed on whether the opt-in value checks are on: a
    trace made inside jaxdiv.checked holds checkify checks, which a plain jit cannot stage."""
    import jaxdiv

    p, q = _mix(PAIRS["overlapping"][0]), _mix(PAIRS["overlapping"][1])
    for method in ("lower_bound", "quadrature"):

        def kl(a, b, method=method):
            return mixture.kl_divergence(a, b, method=method)

        err, checked_value = jax.jit(jaxdiv.checked(kl))(p, q)
        err.throw()
        value, grads = jax.jit(jax.value_and_grad(kl))(p, q)
        np.testing.assert_allclose(value, checked_value, rtol=1e-12, err_msg=method)
        assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads)), method
