"""Every built-in family against scipy and textbook closed forms, in float64."""

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


@pytest.mark.parametrize("case", FAMILIES, ids=repr)
def test_entropy_and_log_prob_match_scipy(case, rng):
    params = case.draw(rng, N)
    d = case.build(params)
    entropy = jax.jit(expfam.entropy)(d)
    assert entropy.shape == (N,)
    for i in range(N):
        item = _item(params, i)
        x = case.points(rng, item)
        member = jax.tree.map(lambda t, i=i: t[i], d)
        logp = jax.jit(lambda m, x: m.log_prob(x))(member, x)
        if case.scipy is None:  # Categorical
            p = item["p"]
            np.testing.assert_allclose(entropy[i], -np.sum(p * np.log(p)), rtol=1e-6)
            np.testing.assert_allclose(logp, np.log(p[x]), rtol=1e-6)
            continue
        dist = case.scipy(item)
        np.testing.assert_allclose(entropy[i], dist.entropy(), rtol=1e-6, atol=1e-10)
        if case.name in ("Dirichlet", "Wishart"):
            logpdf = np.array([dist.logpdf(xi) for xi in x])
        else:
            logpdf = dist.logpmf(x) if hasattr(dist, "logpmf") else dist.logpdf(x)
        np.testing.assert_allclose(logp, logpdf, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("case", FAMILIES, ids=repr)
def test_kl_matches_textbook_closed_form(case, rng):
    p_params, q_params = case.draw(rng, N), case.draw(rng, N)
    p, q = case.build(p_params), case.build(q_params)
    kl = jax.jit(expfam.kl_divergence)(p, q)
    bregman = jax.jit(expfam.bregman_kl)(p, q)
    expected = [case.kl(_item(p_params, i), _item(q_params, i)) for i in range(N)]
    np.testing.assert_allclose(kl, expected, rtol=1e-6, atol=1e-12)
    # The generic Bregman route and the registered closed form agree.
    np.testing.assert_allclose(bregman, kl, rtol=1e-6, atol=1e-12)
    # So does the dual form over mean parameters.
    np.testing.assert_allclose(jax.jit(expfam.kl_divergence_dual)(p, q), kl, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("case", FAMILIES, ids=repr)
def test_identities_of_entropy_cross_entropy_and_kl(case, rng):
    p, q = case.build(case.draw(rng, N)), case.build(case.draw(rng, N))
    kl = expfam.kl_divergence(p, q)
    np.testing.assert_allclose(
        expfam.cross_entropy(p, q), expfam.entropy(p) + kl, rtol=1e-8, atol=1e-10
    )
    np.testing.assert_allclose(expfam.cross_entropy(p, p), expfam.entropy(p), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(expfam.kl_divergence(p, p), 0.0, atol=1e-8)
    np.testing.assert_allclose(
        expfam.jeffreys_divergence(p, q), kl + expfam.kl_divergence(q, p), rtol=1e-8, atol=1e-10
    )
    bc = expfam.bhattacharyya_distance(p, q)
    np.testing.assert_allclose(expfam.renyi_divergence(p, q, alpha=0.5), 2 * bc, rtol=1e-8)
    np.testing.assert_allclose(
        expfam.hellinger_distance(p, q), np.sqrt(1 - np.exp(-bc)), rtol=1e-8, atol=1e-12
    )
    # Renyi is non-decreasing in alpha and tends to KL at 1.
    orders = [0.1, 0.5, 0.9, 0.999999]
    values = [expfam.renyi_divergence(p, q, alpha=a) for a in orders]
    for lo, hi in itertools.pairwise(values):
        assert np.all(hi >= lo - 1e-9)
    np.testing.assert_allclose(values[-1], kl, rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize("case", FAMILIES, ids=repr)
def test_mean_parameters_autodiff_equals_closed_form_and_samples(case, rng):
    d = case.build(case.draw(rng, 2))
    theta = d.natural_parameters()
    autodiff = jax.grad(lambda th: jnp.sum(d.with_natural_parameters(th).log_normalizer()))(theta)
    for a, b in zip(autodiff, d.mean_parameters(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-10)
    # Monte Carlo: the sample mean of T(X) approaches E[T(X)].
    n = 20000
    x = d.sample(jax.random.key(0), (n,))
    assert x.shape[: 1 + len(d.batch_shape)] == (n, *d.batch_shape)
    stats = d.sufficient_statistics(x)
    fisher = d.fisher_information()
    for k, (s, m) in enumerate(zip(stats, d.mean_parameters(), strict=True)):
        sd = np.sqrt(np.var(np.asarray(s), axis=0))
        np.testing.assert_allclose(
            np.mean(s, axis=0), m, atol=float(np.max(5 * sd / np.sqrt(n))) + 1e-9
        )
        if k == 0 and s.ndim == 2:  # scalar first statistic: Fisher information = Var[T_0(X)]
            np.testing.assert_allclose(fisher[:, 0, 0], np.var(s, axis=0), rtol=0.1, atol=1e-3)


@pytest.mark.parametrize("case", FAMILIES, ids=repr)
def test_kl_gradients_pass_check_grads_to_second_order(case, rng):
    p, q = case.build(case.draw(rng, 2)), case.build(case.draw(rng, 2))
    if case.name.startswith("MultivariateNormal") or case.name == "Wishart":
        # Keep the matrices symmetric: perturb through a symmetrising map.
        def kl(tp, tq):
            sym = lambda t: t if t.ndim < 3 else 0.5 * (t + jnp.swapaxes(t, -1, -2))  # noqa: E731
            return expfam.kl_divergence(
                p.with_natural_parameters(tuple(map(sym, tp))),
                q.with_natural_parameters(tuple(map(sym, tq))),
            )
    else:

        def kl(tp, tq):
            return expfam.kl_divergence(
                p.with_natural_parameters(tp), q.with_natural_parameters(tq)
            )

    kl = jax.jit(kl)  # eager second-order checks dispatch op by op: minutes for VonMisesFisher
    args = (p.natural_parameters(), q.natural_parameters())
    check_grads(kl, args, order=2, modes=["rev", "fwd"], eps=1e-4, rtol=1e-3, atol=1e-3)
    grads = jax.grad(lambda a, b: jnp.sum(kl(a, b)), argnums=(0, 1))(*args)
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))


@pytest.mark.parametrize("case", FAMILIES, ids=repr)
def test_batches_broadcast_and_vmap(case, rng):
    p, q = case.build(case.draw(rng, 3)), case.build(case.draw(rng, 1))
    single = jax.tree.map(lambda t: t[0], q)  # scalar batch shape
    kl = expfam.kl_divergence(p, single)
    assert kl.shape == (3,)
    q3 = jax.tree.map(lambda t: jnp.broadcast_to(t, (3, *t.shape[1:])), q)
    np.testing.assert_allclose(kl, expfam.kl_divergence(p, q3), rtol=1e-12)
    np.testing.assert_allclose(jax.vmap(expfam.kl_divergence)(p, q3), kl, rtol=1e-10)
    np.testing.assert_allclose(jax.vmap(expfam.entropy)(p), expfam.entropy(p), rtol=1e-10)
