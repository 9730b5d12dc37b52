"""Every built-in family against scipy and textbook closed forms, in float64.

Each test compiles one program per family (module-level jitted functions, so that the
program of a family is built once) and checks the family's members from it; the
second-order gradient check runs on a jitted function of stable identity.
"""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from families import FAMILIES, _item
from jax.test_util import check_grads

from jaxdiv import expfam

# Spread over the xdist workers by family (see tests/conftest.py): they share nothing.
XDIST_SPLIT_BY = "case"

N = 4


SAMPLES = 20000
RENYI_ORDERS = (0.1, 0.5, 0.9, 0.999999)  # Renyi is non-decreasing in alpha and tends to KL at 1


@jax.jit
def _entropy_and_log_prob(d, x):
    """The members' entropies, and the log-density of member i at its points x[i]."""
    return expfam.entropy(d), jax.vmap(lambda m, xi: m.log_prob(xi))(d, x)


@pytest.mark.parametrize("case", FAMILIES, ids=repr)
def test_entropy_and_log_prob_match_scipy(case, rng):
    params = case.draw(rng, N)
    points = np.stack([case.points(rng, _item(params, i)) for i in range(N)])
    entropy, logps = _entropy_and_log_prob(case.build(params), points)
    assert entropy.shape == (N,)
    for i in range(N):
        item, x, logp = _item(params, i), points[i], logps[i]
        if case.scipy is None:  # Categorical
            p = item["p"]
            np.testing.assert_allclose(entropy[i], -np.sum(p * np.log(p)), rtol=1e-6)
            np.testing.assert_allclose(logp, np.log(p[x]), rtol=1e-6, err_msg=f"member {i}")
            continue
        dist = case.scipy(item)
        np.testing.assert_allclose(
            entropy[i], dist.entropy(), rtol=1e-6, atol=1e-10, err_msg=f"member {i}"
        )
        if case.name in ("Dirichlet", "Wishart"):
            logpdf = np.array([dist.logpdf(xi) for xi in x])
        else:
            logpdf = dist.logpmf(x) if hasattr(dist, "logpmf") else dist.logpdf(x)
        np.testing.assert_allclose(logp, logpdf, rtol=1e-6, atol=1e-10, err_msg=f"member {i}")


KL_FORMS = (expfam.kl_divergence, expfam.bregman_kl, expfam.kl_divergence_dual)


@jax.jit
def _kl_forms(p, q):
    """KL(p || q) from the registered closed form, the generic Bregman route and the dual,
    and the gradients of each at (p, p) in both members (0: KL(p || p) is its minimum)."""
    at_minimum = [
        jax.grad(lambda a, b, f=f: jnp.sum(f(a, b)), argnums=(0, 1))(p, p) for f in KL_FORMS
    ]
    return tuple(f(p, q) for f in KL_FORMS), at_minimum


@pytest.mark.parametrize("case", FAMILIES, ids=repr)
def test_kl_matches_textbook_closed_form(case, rng):
    p_params, q_params = case.draw(rng, N), case.draw(rng, N)
    (kl, bregman, dual), at_minimum = _kl_forms(case.build(p_params), case.build(q_params))
    # The dual's was F theta_p at p = q until 2026-12. Matrix leaves are left out: most of
    # their entries are not free (a triangle of a Cholesky factor, a symmetric pair), so a
    # change of one entry alone leaves the family and KL(p || p) need not be its minimum.
    for f, grads in zip(KL_FORMS, at_minimum, strict=True):
        for leaf in jax.tree.leaves(grads):
            if leaf.ndim <= 2:
                np.testing.assert_allclose(leaf, 0.0, atol=1e-7, err_msg=f"{f.__name__} (p, p)")
    expected = [case.kl(_item(p_params, i), _item(q_params, i)) for i in range(N)]
    np.testing.assert_allclose(kl, expected, rtol=1e-6, atol=1e-12)
    # The generic Bregman route and the registered closed form agree.
    np.testing.assert_allclose(bregman, kl, rtol=1e-6, atol=1e-12)
    # So does the dual form over mean parameters.
    np.testing.assert_allclose(dual, kl, rtol=1e-6, atol=1e-10)


@jax.jit
def _divergences(p, q):
    return {
        "kl_pq": expfam.kl_divergence(p, q),
        "kl_qp": expfam.kl_divergence(q, p),
        "kl_pp": expfam.kl_divergence(p, p),
        "entropy": expfam.entropy(p),
        "cross_pq": expfam.cross_entropy(p, q),
        "cross_pp": expfam.cross_entropy(p, p),
        "jeffreys": expfam.jeffreys_divergence(p, q),
        "bhattacharyya": expfam.bhattacharyya_distance(p, q),
        "hellinger": expfam.hellinger_distance(p, q),
        "renyi": [expfam.renyi_divergence(p, q, alpha=a) for a in RENYI_ORDERS],
    }


@pytest.mark.parametrize("case", FAMILIES, ids=repr)
def test_identities_of_entropy_cross_entropy_and_kl(case, rng):
    p, q = case.build(case.draw(rng, N)), case.build(case.draw(rng, N))
    d = _divergences(p, q)
    kl = d["kl_pq"]
    np.testing.assert_allclose(d["cross_pq"], d["entropy"] + kl, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(d["cross_pp"], d["entropy"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(d["kl_pp"], 0.0, atol=1e-8)
    np.testing.assert_allclose(d["jeffreys"], kl + d["kl_qp"], rtol=1e-8, atol=1e-10)
    bc = d["bhattacharyya"]
    np.testing.assert_allclose(d["renyi"][RENYI_ORDERS.index(0.5)], 2 * bc, rtol=1e-8)
    np.testing.assert_allclose(d["hellinger"], np.sqrt(1 - np.exp(-bc)), rtol=1e-8, atol=1e-12)
    for (a, lo), (b, hi) in itertools.pairwise(zip(RENYI_ORDERS, d["renyi"], strict=True)):
        assert np.all(hi >= lo - 1e-9), f"Renyi of order {b} below that of order {a}"
    np.testing.assert_allclose(d["renyi"][-1], kl, rtol=1e-4, atol=1e-8)


@jax.jit
def _mean_parameters_and_samples(d, key):
    """grad A at theta, the closed-form mean parameters, samples of X with their sufficient
    statistics, and the Fisher information."""
    theta = d.natural_parameters()
    autodiff = jax.grad(lambda th: jnp.sum(d.with_natural_parameters(th).log_normalizer()))(theta)
    x = d.sample(key, (SAMPLES,))
    return autodiff, d.mean_parameters(), x, d.sufficient_statistics(x), d.fisher_information()


@pytest.mark.parametrize("case", FAMILIES, ids=repr)
def test_mean_parameters_autodiff_equals_closed_form_and_samples(case, rng):
    d = case.build(case.draw(rng, 2))
    autodiff, means, x, stats, fisher = _mean_parameters_and_samples(d, jax.random.key(0))
    for a, b in zip(autodiff, means, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-10)
    # Monte Carlo: the sample mean of T(X) approaches E[T(X)].
    n = SAMPLES
    assert x.shape[: 1 + len(d.batch_shape)] == (n, *d.batch_shape)
    for k, (s, m) in enumerate(zip(stats, means, strict=True)):
        sd = np.sqrt(np.var(np.asarray(s), axis=0))
        np.testing.assert_allclose(
            np.mean(s, axis=0), m, atol=float(np.max(5 * sd / np.sqrt(n))) + 1e-9
        )
        if k == 0 and s.ndim == 2:  # scalar first statistic: Fisher information = Var[T_0(X)]
            np.testing.assert_allclose(fisher[:, 0, 0], np.var(s, axis=0), rtol=0.1, atol=1e-3)


def _symmetric(t):
    return t if t.ndim < 3 else 0.5 * (t + jnp.swapaxes(t, -1, -2))


@functools.partial(jax.jit, static_argnames="symmetrise")
def _kl_at_natural(p, q, tp, tq, *, symmetrise):
    """KL between p and q moved to the natural parameters tp and tq; with ``symmetrise``
    the matrices are perturbed through a symmetrising map, so they stay symmetric."""
    if symmetrise:
        tp, tq = tuple(map(_symmetric, tp)), tuple(map(_symmetric, tq))
    return expfam.kl_divergence(p.with_natural_parameters(tp), q.with_natural_parameters(tq))


@functools.partial(jax.jit, static_argnames="symmetrise")
def _kl_gradients(p, q, tp, tq, *, symmetrise):
    total = lambda a, b: jnp.sum(_kl_at_natural(p, q, a, b, symmetrise=symmetrise))  # noqa: E731
    return jax.grad(total, argnums=(0, 1))(tp, tq)


@pytest.mark.parametrize("case", FAMILIES, ids=repr)
def test_kl_gradients_pass_check_grads_to_second_order(case, rng):
    p, q = case.build(case.draw(rng, 2)), case.build(case.draw(rng, 2))
    symmetrise = case.name.startswith("MultivariateNormal") or case.name == "Wishart"
    kl = functools.partial(_kl_at_natural, p, q, symmetrise=symmetrise)
    args = (p.natural_parameters(), q.natural_parameters())
    check_grads(kl, args, order=2, modes=["rev", "fwd"], eps=1e-4, rtol=1e-3, atol=1e-3)
    grads = _kl_gradients(p, q, *args, symmetrise=symmetrise)
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))


@jax.jit
def _broadcast_and_vmap(p, q):
    """KL against q's member of scalar batch shape and against q broadcast to p's batch
    shape, the vmapped KL and entropy, and the entropy."""
    single = jax.tree.map(lambda t: t[0], q)  # scalar batch shape
    q3 = jax.tree.map(lambda t: jnp.broadcast_to(t, (*p.batch_shape, *t.shape[1:])), q)
    return (
        expfam.kl_divergence(p, single),
        expfam.kl_divergence(p, q3),
        jax.vmap(expfam.kl_divergence)(p, q3),
        jax.vmap(expfam.entropy)(p),
        expfam.entropy(p),
    )


@pytest.mark.parametrize("case", FAMILIES, ids=repr)
def test_batches_broadcast_and_vmap(case, rng):
    p, q = case.build(case.draw(rng, 3)), case.build(case.draw(rng, 1))
    kl, kl_broadcast, kl_vmap, entropy_vmap, entropy = _broadcast_and_vmap(p, q)
    assert kl.shape == (3,)
    np.testing.assert_allclose(kl, kl_broadcast, rtol=1e-12)
    np.testing.assert_allclose(kl_vmap, kl, rtol=1e-10)
    np.testing.assert_allclose(entropy_vmap, entropy, rtol=1e-10)
