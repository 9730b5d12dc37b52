"""Boundary members of the exponential families, one contract per test.

Zero-probability outcomes (Categorical), degenerate members (Bernoulli and
Binomial with p = 0 or 1, Geometric with p = 1, Poisson with rate 0), Gaussians
built from a log standard deviation, moment matching for a user family with
``init``, and the errors for members of different dimensions. Oracles are
scipy's pmfs summed over the support (``scipy.special.rel_entr`` gives +inf
where q = 0 < p) and closed forms in numpy float64.
"""

import doctest
import functools
import math
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

import jaxdiv
from jaxdiv import expfam

PAIR_FUNCTIONS = {
    "kl_divergence": expfam.kl_divergence,
    "bregman_kl": expfam.bregman_kl,
    "kl_divergence_dual": expfam.kl_divergence_dual,
    "cross_entropy": expfam.cross_entropy,
    "jeffreys_divergence": expfam.jeffreys_divergence,
    "bhattacharyya_distance": expfam.bhattacharyya_distance,
    "hellinger_distance": expfam.hellinger_distance,
    "renyi_divergence(0.5)": lambda p, q: expfam.renyi_divergence(p, q, alpha=0.5),
    "renyi_divergence(2)": lambda p, q: expfam.renyi_divergence(p, q, alpha=2.0),
}


def _discrete_oracle(name, logp, logq):
    """Divergences between two pmfs on one support, from their log-pmfs, in float64."""
    if logq is None:
        logq = logp
    p, q = np.exp(logp), np.exp(logq)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_pq = np.sum(np.where(p > 0, p * (logp - logq), 0.0))
        kl_qp = np.sum(np.where(q > 0, q * (logq - logp), 0.0))
        h = -np.sum(np.where(p > 0, p * logp, 0.0))
        log_bc = special.logsumexp(0.5 * (logp + logq))
        if name == "entropy":
            return h
        if name in ("kl_divergence", "bregman_kl", "kl_divergence_dual"):
            return kl_pq
        if name == "cross_entropy":
            return h + kl_pq
        if name == "jeffreys_divergence":
            return kl_pq + kl_qp
        if name == "bhattacharyya_distance":
            return -log_bc
        if name == "hellinger_distance":
            return np.sqrt(np.maximum(-np.expm1(log_bc), 0.0))
        a = 0.5 if name == "renyi_divergence(0.5)" else 2.0
        t = np.where(p > 0, a * logp + (1 - a) * logq, -np.inf)
        if len(t) > 50 and t[-1] > np.max(t) - 35:  # an infinite series that does not converge
            return np.inf
        return special.logsumexp(t) / (a - 1)


def _tree_finite(tree):
    return all(np.all(np.isfinite(np.asarray(g))) for g in jax.tree.leaves(tree))


# --------------------------------------------------------------------------- Categorical

CAT_P = np.array([0.5, 0.5, 0.0])
CAT_Q = np.array([0.25, 0.25, 0.5])
CAT_R = np.array([0.0, 0.3, 0.7])  # overlaps CAT_P on one outcome
CAT_S = np.array([0.0, 0.0, 1.0])  # disjoint from CAT_P
CAT_PAIRS = [(CAT_P, CAT_Q), (CAT_Q, CAT_P), (CAT_P, CAT_R), (CAT_R, CAT_P), (CAT_P, CAT_S)]


@jax.jit
def _pair_functions_per_row(p, q):
    """Every pair function on each pair of rows, vmapped: each call sees one member of batch
    shape (), as a user's call on one member does."""
    return {name: jax.vmap(fn)(p, q) for name, fn in PAIR_FUNCTIONS.items()}


@functools.cache
def _categorical_limits(build):
    """The pair functions on CAT_PAIRS, with the members built ``from_probs`` or
    ``from_logits`` (one program for both)."""

    def make(p):
        if build == "from_probs":
            return expfam.Categorical.from_probs(p)
        with np.errstate(divide="ignore"):
            return expfam.Categorical.from_logits(np.log(p))

    a, b = (np.stack(rows) for rows in zip(*CAT_PAIRS, strict=True))
    return jax.tree.map(np.asarray, _pair_functions_per_row(make(a), make(b)))


@pytest.mark.parametrize("build", ["from_probs", "from_logits"])
@pytest.mark.parametrize("name", sorted(PAIR_FUNCTIONS))
def test_categorical_zero_probabilities_give_limits(build, name):
    results = _categorical_limits(build)[name]
    for k, (a, b) in enumerate(CAT_PAIRS):
        with np.errstate(divide="ignore"):
            expected = _discrete_oracle(name, np.log(a), np.log(b))
        if name == "renyi_divergence(2)" and not np.isfinite(expected):
            continue  # the extrapolated point leaves the space; tested below
        np.testing.assert_allclose(results[k], expected, rtol=1e-9, err_msg=f"{name}({a}, {b})")


def test_categorical_entropy_log_prob_and_mean_parameters_with_zero_probability():
    p = expfam.Categorical.from_probs(CAT_P)
    np.testing.assert_allclose(jax.jit(expfam.entropy)(p), math.log(2), rtol=1e-12)
    np.testing.assert_allclose(expfam.convex_conjugate(p), -math.log(2), rtol=1e-12)
    np.testing.assert_allclose(p.log_prob(np.array([0, 1, 2])), [-math.log(2)] * 2 + [-np.inf])
    np.testing.assert_allclose(p.mean_parameters()[0], CAT_P)
    assert _tree_finite(p.fisher_information())
    assert bool(p.in_domain())
    bad = [[np.inf, 0.0, 0.0], [-np.inf, -np.inf, -np.inf], [np.nan, 0.0, 0.0]]
    assert not np.any(expfam.Categorical.from_logits(np.array(bad)).in_domain())


def _cat(p):
    return expfam.Categorical.from_probs(p)


LOGIT_FUNCTIONS = [
    expfam.entropy,
    lambda p: expfam.kl_divergence_dual(p, _cat(CAT_Q)),
    *[lambda p, f=f: f(p, _cat(CAT_Q)) for f in (expfam.bregman_kl, expfam.cross_entropy)],
    lambda p: expfam.bhattacharyya_distance(p, _cat(CAT_Q)),
]


@jax.jit
def _logit_gradients(z):
    """The gradient in the logits z of each function of LOGIT_FUNCTIONS."""
    return [
        jax.grad(lambda z, fn=fn: fn(expfam.Categorical.from_logits(z)))(z)
        for fn in LOGIT_FUNCTIONS
    ]


@functools.cache
def _boundary_and_clipped_logit_gradients():
    logits = np.log(np.array([0.5, 0.5, 1.0]))
    boundary = np.where(CAT_P > 0, logits, -np.inf)
    # exp(-80) ~ 2e-35 (its square root 4e-18): the limit to float64 accuracy.
    clipped = np.where(CAT_P > 0, logits, -80.0)
    return [np.asarray(g) for g in _logit_gradients(boundary)], [
        np.asarray(g) for g in _logit_gradients(clipped)
    ]


@pytest.mark.parametrize("fn", LOGIT_FUNCTIONS)
def test_categorical_gradients_at_minus_inf_equal_those_of_clipped_logits(fn):
    boundary, clipped = _boundary_and_clipped_logit_gradients()
    k = LOGIT_FUNCTIONS.index(fn)
    assert _tree_finite(boundary[k])
    np.testing.assert_allclose(boundary[k], clipped[k], atol=1e-12)


# --------------------------------------------------------------------------- degenerate members

# Each family: the jaxdiv member, the scipy distribution, a support that holds
# all but 1e-15 of the mass of the members used, and the usual parameter values.
DEGENERATE = {
    "Bernoulli": (
        expfam.Bernoulli.from_probs,
        stats.bernoulli,
        np.arange(2.0),
        [0.0, 1.0, 0.3],
    ),
    "Binomial": (
        lambda p: expfam.Binomial.from_count_probs(5, p),
        lambda p: stats.binom(5, p),
        np.arange(6.0),
        [0.0, 1.0, 0.3],
    ),
    "Geometric": (
        expfam.Geometric.from_probs,
        lambda p: stats.geom(p, loc=-1),
        np.arange(200.0),
        [1.0, 0.4, 0.7],
    ),
    "Poisson": (
        expfam.Poisson.from_rate,
        stats.poisson,
        np.arange(200.0),
        [0.0, 2.5, 0.4],
    ),
}
DEGENERATE_FUNCTIONS = ["kl_divergence", "bregman_kl", "kl_divergence_dual", "cross_entropy"]
LOG_PROB_POINTS = 4  # the first points of the support where log_prob is checked


@jax.jit
def _degenerate_results(p, q, x):
    """Every pair function's value and the gradient of its finite part in both members; the
    entropy and its gradient; the log-probabilities at each point of x; in_domain."""
    pairs = {}
    for name, fn in PAIR_FUNCTIONS.items():

        def total(p, q, fn=fn):
            v = fn(p, q)
            return jnp.sum(jnp.where(jnp.isfinite(v), v, 0.0)), v

        (_, value), grads = jax.value_and_grad(total, argnums=(0, 1), has_aux=True)(p, q)
        pairs[name] = (value, grads)
    entropy_grad = jax.grad(lambda d: jnp.sum(expfam.entropy(d)))(p)
    return pairs, expfam.entropy(p), entropy_grad, jax.vmap(p.log_prob)(x), p.in_domain()


@pytest.mark.parametrize("family", sorted(DEGENERATE))
def test_degenerate_members_match_scipy(family):
    build, scipy_dist, support, values = DEGENERATE[family]
    a, b = np.meshgrid(values, values, indexing="ij")
    a, b = a.ravel(), b.ravel()
    p, q = build(a), build(b)
    pmf_p = [scipy_dist(v).logpmf(support) for v in a]
    pmf_q = [scipy_dist(v).logpmf(support) for v in b]
    x = support[:LOG_PROB_POINTS]
    pairs, entropy, entropy_grad, log_probs, in_domain = _degenerate_results(p, q, x)
    for name in DEGENERATE_FUNCTIONS + sorted(set(PAIR_FUNCTIONS) - set(DEGENERATE_FUNCTIONS)):
        expected = np.array(
            [_discrete_oracle(name, x, y) for x, y in zip(pmf_p, pmf_q, strict=True)]
        )
        got, grads = pairs[name]
        # At p = q the Hellinger distance is the square root of rounding noise (1e-16): 1e-8.
        atol = 1e-7 if name == "hellinger_distance" else 1e-12
        np.testing.assert_allclose(got, expected, rtol=1e-8, atol=atol, err_msg=name)
        for g in jax.tree.leaves(grads):  # finite wherever the value is
            assert np.all(np.isfinite(np.asarray(g)[np.isfinite(expected)])), name
    # scipy's geom(1).entropy() is NaN (0 * log 0); the sum over the support is the oracle.
    np.testing.assert_allclose(
        entropy, [_discrete_oracle("entropy", x, x) for x in pmf_p], rtol=1e-8, atol=1e-12
    )
    assert _tree_finite(entropy_grad)
    for k, xk in enumerate(x):
        expected = [scipy_dist(v).logpmf(xk) for v in a]
        np.testing.assert_allclose(log_probs[k], expected, atol=1e-12, err_msg=f"x = {xk}")
    assert np.all(in_domain)


# Degenerate members of every family that has them, as (build, parameter values).
SIMPLEX_ROWS = np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
EDGE = {
    **{name: (build, values) for name, (build, _, _, values) in DEGENERATE.items()},
    "Categorical": (
        lambda i: expfam.Categorical.from_probs(SIMPLEX_ROWS[np.asarray(i, int)]),
        [0.0, 1.0, 2.0],
    ),
    "Multinomial": (
        lambda i: expfam.Multinomial.from_count_probs(3, SIMPLEX_ROWS[np.asarray(i, int)]),
        [0.0, 1.0, 2.0],
    ),
    "NegativeBinomial": (lambda p: expfam.NegativeBinomial.from_count_probs(3, p), [1.0, 0.5, 0.3]),
    "Logarithmic": (expfam.Logarithmic.from_probs, [0.0, 0.5, 0.3]),
}
INF_FUNCTIONS = ["kl_divergence", "bregman_kl", "kl_divergence_dual", "cross_entropy"]
INF_NAMES = [*INF_FUNCTIONS, "jeffreys_divergence"]


@jax.jit
def _values_and_gradients(p, q):
    """Per-member values and the gradients of their sums (infinite members included) of the
    INF_NAMES functions, KL in both directions, and both members' mean parameters."""
    out = {}
    for name in INF_NAMES:
        fn = PAIR_FUNCTIONS[name]
        (_, v), g = jax.value_and_grad(
            lambda p, q, fn=fn: (jnp.sum(fn(p, q)), fn(p, q)), argnums=(0, 1), has_aux=True
        )(p, q)
        out[name] = (v, g)
    kl = (expfam.kl_divergence(p, q), expfam.kl_divergence(q, p))
    return out, kl, (p.mean_parameters(), q.mean_parameters())


@jax.jit
def _logits_kl_gradient(la, lb):
    """The discrete API's gradient of sum KL(softmax(la) || softmax(lb)) in lb."""
    return jax.grad(lambda y: jnp.sum(jaxdiv.kl_divergence_from_logits(la, y)))(lb)


@pytest.mark.parametrize("family", sorted(EDGE))
def test_gradients_where_the_value_is_inf_are_the_discrete_apis(family):
    """Where KL (and its Bregman and dual forms, the cross-entropy) is +inf, the gradient
    in q's natural parameters is its finite limit mu_q - mu_p, as the discrete logits
    form's softmax(b) - softmax(a), and in p it is 0; Jeffreys, the sum of two KLs,
    follows. Never NaN."""
    build, values = EDGE[family]
    a, b = np.meshgrid(values, values, indexing="ij")
    p, q = build(a.ravel()), build(b.ravel())
    results, (kl_pq, kl_qp), (mu_p, mu_q) = jax.tree.map(np.asarray, _values_and_gradients(p, q))
    mu_gap = [mq - mp for mq, mp in zip(mu_q, mu_p, strict=True)]
    for name in INF_NAMES:
        per_member, (gp, gq) = results[name]
        assert np.any(per_member == np.inf), name  # the grid has some
        for g in jax.tree.leaves((gp, gq)):
            assert not np.any(np.isnan(np.asarray(g))), (family, name)
        if name == "jeffreys_divergence":
            finite = np.isfinite(kl_pq) & np.isfinite(kl_qp)
            for g in jax.tree.leaves((gp, gq)):
                assert np.all(np.isfinite(np.asarray(g)[finite])), (family, name)
            continue
        inf = per_member == np.inf
        for leaf_p, leaf_q, gap in zip(
            jax.tree.leaves(gp), jax.tree.leaves(gq), mu_gap, strict=True
        ):
            leaf_p, leaf_q = np.asarray(leaf_p), np.asarray(leaf_q)
            np.testing.assert_array_equal(leaf_p[inf], 0.0, err_msg=f"{family} {name}")
            np.testing.assert_allclose(leaf_q[inf], gap[inf], atol=1e-12, err_msg=name)
            assert np.all(np.isfinite(leaf_q)), (family, name)
            assert np.all(np.isfinite(leaf_p[~inf])), (family, name)
    # The limit is the discrete API's: softmax(b) - softmax(a) for the logits form.
    if family in ("Bernoulli", "Categorical"):
        inf = kl_pq == np.inf
        if family == "Bernoulli":  # the log-probabilities of the outcomes {0, 1}
            la, lb = (
                jnp.stack([jax.nn.log_sigmoid(-d.logits), jax.nn.log_sigmoid(d.logits)], -1)
                for d in (p, q)
            )
        else:
            la, lb = p.logits, q.logits
        expected = _logits_kl_gradient(la, lb)
        # The gradient in q of sum KL(p || q), from the program above.
        got = results["kl_divergence"][1][1].logits[inf]
        expected = np.asarray(expected)[inf]
        np.testing.assert_allclose(got, expected[..., -1] if family == "Bernoulli" else expected)


def test_bernoulli_degenerate_members_as_in_tfp_and_pytorch():
    one, zero = expfam.Bernoulli.from_probs(1.0), expfam.Bernoulli.from_probs(0.0)
    assert expfam.kl_divergence(one, zero) == np.inf
    assert expfam.kl_divergence(zero, zero) == 0
    assert expfam.bregman_kl(one, zero) == np.inf
    assert expfam.bregman_kl(zero, zero) == 0
    both = expfam.Bernoulli(jnp.array([np.inf, -np.inf]))
    np.testing.assert_array_equal(expfam.entropy(both), [0.0, 0.0])
    np.testing.assert_array_equal(both.in_domain(), [True, True])
    np.testing.assert_array_equal(expfam.Bernoulli(jnp.array([np.nan])).in_domain(), [False])
    np.testing.assert_array_equal(both.log_prob(1.0), [0.0, -np.inf])
    np.testing.assert_array_equal(expfam.Geometric(jnp.array([0.0, -np.inf])).in_domain(), [0, 1])
    np.testing.assert_array_equal(expfam.Poisson(jnp.array([np.inf, -np.inf])).in_domain(), [0, 1])


# --------------------------------------------------------------------------- log-scale Gaussians


def _vae_kl(mu, log_std):
    """KL(N(mu, exp(2 log_std)) || N(0, 1)) in float64 numpy, and its gradient in log_std."""
    lv = 2 * log_std.astype(np.float64)
    mu = mu.astype(np.float64)
    return 0.5 * (np.exp(lv) + mu**2 - 1 - lv), np.exp(lv) - 1


LOG_STD = np.linspace(-40.0, 40.0, 33).astype(np.float32)
MU = np.linspace(-2.0, 2.0, 33).astype(np.float32)


@functools.partial(jax.jit, static_argnames=("fn", "build"))
def _vae_kl_and_gradients(mu, log_std, *, fn, build):
    """KL(MultivariateNormalDiag(mu, exp(log_std)) || N(0, I)) by ``fn``, the member built by
    ``build``, and its gradients in mu and log_std."""
    prior = expfam.MultivariateNormalDiag.from_mean_std(
        jnp.zeros((1, 1), jnp.float32), jnp.ones((1, 1), jnp.float32)
    )

    def total(mu, log_std):
        if build == "from_mean_log_std":
            p = expfam.MultivariateNormalDiag.from_mean_log_std(mu[:, None], log_std[:, None])
        else:
            p = expfam.MultivariateNormalDiag.from_mean_std(mu[:, None], jnp.exp(log_std)[:, None])
        kl = fn(p, prior)
        return jnp.sum(kl), kl

    return jax.value_and_grad(total, argnums=(0, 1), has_aux=True)(mu, log_std)


@pytest.mark.parametrize("build", ["from_mean_log_std", "from_mean_std"])
def test_beta_vae_kl_is_finite_with_exact_gradients_in_float32(build):
    """The β-VAE term: KL(MultivariateNormalDiag(mu, exp(logvar / 2)) || N(0, I))."""
    expected, grad_log_std = _vae_kl(MU, LOG_STD)
    for fn in (expfam.kl_divergence, expfam.bregman_kl):
        (_, kl), (g_mu, g_ls) = _vae_kl_and_gradients(
            jnp.asarray(MU), jnp.asarray(LOG_STD), fn=fn, build=build
        )
        assert kl.dtype == jnp.float32
        np.testing.assert_allclose(kl, expected, rtol=2e-5, err_msg=fn.__name__)
        np.testing.assert_allclose(g_ls, grad_log_std, rtol=2e-5, atol=1e-6, err_msg=fn.__name__)
        np.testing.assert_allclose(g_mu, MU, rtol=1e-5, atol=1e-6, err_msg=fn.__name__)


@jax.jit
def _entropy_and_cross_entropy_with_gradients(p, q):
    """H(p) and H(p, q), each with the gradient of its sum in p."""
    entropy = jax.grad(lambda d: jnp.sum(expfam.entropy(d)))(p)
    cross = jax.grad(lambda d: jnp.sum(expfam.cross_entropy(d, q)))(p)
    return (expfam.entropy(p), entropy), (expfam.cross_entropy(p, q), cross)


@pytest.mark.parametrize("cls", [expfam.Normal, expfam.LogNormal, expfam.MultivariateNormalDiag])
def test_log_scale_entropy_and_cross_entropy_in_float32(cls):
    ls = LOG_STD if cls is not expfam.MultivariateNormalDiag else LOG_STD[:, None]
    mu = np.zeros_like(ls)
    p = cls.from_mean_log_std(mu, ls)
    q = cls.from_mean_log_std(np.zeros_like(ls), np.full_like(ls, 3.0))
    (entropy, g_entropy), (cross_entropy, g_cross) = _entropy_and_cross_entropy_with_gradients(p, q)
    e = np.array([stats.norm(0, np.exp(np.float64(s))).entropy() for s in LOG_STD])
    np.testing.assert_allclose(entropy, e, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(g_entropy.log_std, np.ones_like(ls), rtol=1e-6)
    ls64 = LOG_STD.astype(np.float64)
    cross = e + (3.0 - ls64) + 0.5 * np.exp(2 * (ls64 - 3.0)) - 0.5
    np.testing.assert_allclose(cross_entropy, cross, rtol=2e-5)
    np.testing.assert_allclose(
        np.ravel(g_cross.log_std), np.exp(2 * (ls64 - 3.0)), rtol=2e-5, atol=1e-6
    )


def test_log_scale_constructors_agree_with_from_mean_std(rng):
    m, s = rng.normal(size=4), rng.uniform(0.2, 3.0, 4)
    for cls in (expfam.Normal, expfam.LogNormal, expfam.MultivariateNormalDiag):
        a, b = cls.from_mean_std(m, s), cls.from_mean_log_std(m, np.log(s))
        for x, y in zip(a.natural_parameters(), b.natural_parameters(), strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-13)
        np.testing.assert_allclose(b.std, s, rtol=1e-13)
    with pytest.raises(ValueError, match="log_std must be finite"):
        expfam.Normal.from_mean_log_std(0.0, -np.inf)
    with pytest.raises(ValueError, match="need an event axis"):
        expfam.MultivariateNormalDiag.from_mean_log_std(0.0, 0.0)


# --------------------------------------------------------------------------- moment_match


@expfam.family
class Rate(expfam.ExponentialFamily):
    """The docstring's user family: Exponential(rate), theta = -rate, A = -log(-theta)."""

    theta: jax.Array
    natural_event_ndims = (0,)

    def log_normalizer(self):
        return -jnp.log(-self.theta)

    def sufficient_statistics(self, x):
        return (x,)

    def log_base_measure(self, x):
        return jnp.zeros_like(x)

    def in_domain(self):
        return self.theta < 0


def test_moment_match_user_family_with_init(rng):
    x = rng.exponential(1 / 2.5, size=5000)
    q = expfam.moment_match(Rate, x, init=Rate(jnp.asarray(-1.0)))
    np.testing.assert_allclose(q.theta, -1 / np.mean(x), rtol=1e-10)
    weights = rng.uniform(size=x.shape)
    qw = expfam.moment_match(Rate, x, weights=weights, init=Rate(jnp.asarray(-1.0)))
    np.testing.assert_allclose(qw.theta, -np.sum(weights) / np.sum(weights * x), rtol=1e-10)
    # Mean statistics, and a closed-form family that does not need init.
    q = expfam.moment_match(Rate, (jnp.asarray(0.25),), init=Rate(jnp.asarray(-1.0)))
    np.testing.assert_allclose(q.theta, -4.0, rtol=1e-10)
    e = expfam.moment_match(expfam.Exponential, x, init=expfam.Exponential.from_rate(1.0))
    np.testing.assert_allclose(e.rate, 1 / np.mean(x), rtol=1e-12)
    with pytest.raises(NotImplementedError, match=r"moment_match\(family, \.\.\., init=\.\.\.\)"):
        expfam.moment_match(Rate, x)
    with pytest.raises(TypeError, match="init must be a Rate member, got Exponential"):
        expfam.moment_match(Rate, x, init=expfam.Exponential.from_rate(1.0))


# --------------------------------------------------------------------------- dimensions

MISMATCHED = {
    "MultivariateNormalDiag": (
        expfam.MultivariateNormalDiag.from_mean_std(np.zeros(3), np.ones(3)),
        expfam.MultivariateNormalDiag.from_mean_std(np.zeros(4), np.ones(4)),
        r"\(3,\).*\(4,\)",
    ),
    "Categorical": (
        expfam.Categorical.from_probs(np.full(3, 1 / 3)),
        expfam.Categorical.from_probs(np.full((2, 4), 1 / 4)),
        r"\(3,\).*\(4,\)",
    ),
    "Dirichlet": (
        expfam.Dirichlet.from_concentration(np.ones(3)),
        expfam.Dirichlet.from_concentration(np.ones(2)),
        r"\(3,\).*\(2,\)",
    ),
    "MultivariateNormal": (
        expfam.MultivariateNormal.from_mean_cov(np.zeros(2), np.eye(2)),
        expfam.MultivariateNormal.from_mean_cov(np.zeros(3), np.eye(3)),
        r"\(2,\).*\(2, 2\).*\(3,\).*\(3, 3\)",
    ),
}


@pytest.mark.parametrize("family", sorted(MISMATCHED))
@pytest.mark.parametrize("name", sorted(PAIR_FUNCTIONS))
def test_different_dimensions_raise_a_value_error_naming_both(family, name):
    p, q, shapes = MISMATCHED[family]
    with pytest.raises(ValueError, match=f"{family}s of different dimensions: p has event shape "):
        PAIR_FUNCTIONS[name](p, q)
    with pytest.raises(ValueError, match=shapes):
        PAIR_FUNCTIONS[name](p, q)


# --------------------------------------------------------------------------- doctests


def test_every_public_divergence_has_a_doctest_example():
    finder = doctest.DocTestFinder()
    for name in expfam.__all__:
        obj = getattr(expfam, name)
        if not callable(obj) or isinstance(obj, type):
            continue
        examples = [e for t in finder.find(obj, name) for e in t.examples]
        assert examples, f"expfam.{name} has no example that runs as a doctest"


# --------------------------------------------------------------------------- found by the sweep


def test_poisson_entropy_above_the_series_threshold_matches_scipy():
    """Rates >= 200 use the asymptotic series for E[log X!], which had the wrong sign."""
    rates = np.array([150.0, 350.0, 1e3, 1e5])
    got = jax.jit(expfam.entropy)(expfam.Poisson.from_rate(rates))
    # The sum over the support (scipy's own poisson(1e5).entropy() gives 3.58, not 7.18).
    expected = []
    for r in rates:
        k = np.arange(np.floor(r - 40 * np.sqrt(r)), np.ceil(r + 40 * np.sqrt(r)))
        expected.append(_discrete_oracle("entropy", stats.poisson(r).logpmf(k), None))
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_beta_and_dirichlet_log_normalizers_do_not_cancel_in_float32():
    """log B(a, b) from three log-gammas of size 8e4 lost three digits in float32."""
    a, b = np.float32(1.0), np.float32(1e4)
    beta = expfam.Beta.from_concentrations(a, b)
    np.testing.assert_allclose(beta.log_normalizer(), special.betaln(1.0, 1e4), rtol=1e-6)
    alpha = np.array([1.0, 1e4, 1e4], np.float32)
    dirichlet = expfam.Dirichlet.from_concentration(alpha)
    expected = special.gammaln(alpha.astype(np.float64)).sum() - special.gammaln(2e4 + 1)
    np.testing.assert_allclose(dirichlet.log_normalizer(), expected, rtol=1e-6)


def test_sixteen_bit_probabilities_are_accepted_to_their_precision():
    p = jnp.asarray([1 / 3, 1 / 3, 1 / 3], jnp.bfloat16)
    d = expfam.Categorical.from_probs(p)
    assert d.logits.dtype == jnp.float32
    np.testing.assert_allclose(expfam.entropy(d), np.log(3), rtol=1e-2)


def test_von_mises_sampler_at_zero_concentration_in_float32_terminates(tmp_path):
    """kappa = 0 made the rejection sampler's envelope infinite in float32: it never accepted
    and ``sample`` looped forever. Run in a subprocess so that a regression fails, not hangs."""
    code = (
        "import jax, jax.numpy as jnp, numpy as np\n"
        "from jaxdiv import expfam\n"
        "d = expfam.VonMises.from_mean_concentration(jnp.float32(0.5), jnp.float32([0.0, 1e-3]))\n"
        "x = d.sample(jax.random.key(1), (20000,))\n"
        f"np.save({str(tmp_path / 'x.npy')!r}, np.asarray(x, np.float64))\n"
    )
    try:
        subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail("VonMises.sample with concentration 0 in float32 did not return")
    x = np.load(tmp_path / "x.npy")
    centred = np.mod(x - 0.5 + np.pi, 2 * np.pi) - np.pi
    assert stats.kstest(centred[:, 0], stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3
    assert stats.kstest(centred[:, 1], stats.vonmises(1e-3).cdf).pvalue > 1e-3
