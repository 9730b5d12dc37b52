"""Contrastive losses against plain float64 loop implementations of the papers' formulas:
NT-Xent (SimCLR) and supervised contrastive (Khosla et al., L_out), masks against boolean
indexing, the identity between them, and stability down to temperature 0.01 in float32 and
bfloat16."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxdiv import samples


def _unit(z):
    norm = np.linalg.norm(z, axis=-1, keepdims=True)
    return z / np.where(norm == 0, 1.0, norm)  # a zero embedding stays zero


def ntxent_reference(z1, z2, temperature):
    """SimCLR's loss, one anchor at a time: 2N anchors, each against the 2N - 1 others."""
    u = _unit(np.concatenate([z1, z2]).astype(np.float64))
    m = len(u)
    n = m // 2
    total = 0.0
    for a in range(m):
        logits = np.array([u[a] @ u[b] / temperature for b in range(m) if b != a])
        positive = (a + n) % m
        pos_logit = u[a] @ u[positive] / temperature
        total += -(pos_logit - np.logaddexp.reduce(logits))
    return total / m


def supcon_reference(z, labels, temperature):
    """Khosla et al.'s L_out, one anchor at a time; anchors without a positive left out."""
    u = _unit(z.astype(np.float64))
    losses = []
    for i in range(len(u)):
        others = [a for a in range(len(u)) if a != i]
        positives = [p for p in others if labels[p] == labels[i]]
        if not positives:
            continue
        log_norm = np.logaddexp.reduce([u[i] @ u[a] / temperature for a in others])
        losses.append(-np.mean([u[i] @ u[p] / temperature - log_norm for p in positives]))
    return np.mean(losses) if losses else 0.0


TEMPERATURES = (0.01, 0.1, 0.5)


def test_infonce_loss_equals_the_reference(rng):
    z1, z2 = rng.normal(size=(2, 3, 6, 4))
    z2 = z2 * 0.3 + z1  # correlated views
    w = rng.random((3, 6)) < 0.7
    w[0] = True
    for t in TEMPERATURES:
        got = jax.jit(lambda a, b, m, t=t: samples.infonce_loss(a, b, temperature=t, where=m))(
            z1, z2, w
        )
        for k in range(3):
            expected = ntxent_reference(z1[k][w[k]], z2[k][w[k]], t)
            np.testing.assert_allclose(got[k], expected, rtol=1e-10, atol=1e-13, err_msg=f"{t} {k}")


def test_supervised_contrastive_loss_equals_the_reference(rng):
    z = rng.normal(size=(3, 10, 5))
    labels = rng.integers(0, 4, size=(3, 10))
    labels[1, 0] = 9  # an anchor with no positive
    w = rng.random((3, 10)) < 0.8
    w[0] = True
    for t in TEMPERATURES:
        fn = jax.jit(
            lambda x, y, m, t=t: samples.supervised_contrastive_loss(x, y, temperature=t, where=m)
        )
        got = fn(z, labels, w)
        for k in range(3):
            expected = supcon_reference(z[k][w[k]], labels[k][w[k]], t)
            np.testing.assert_allclose(got[k], expected, rtol=1e-10, atol=1e-13, err_msg=f"{t} {k}")
    # no anchor with a positive at all: 0 with a zero gradient
    alone = np.arange(10)
    value, grad = jax.jit(jax.value_and_grad(samples.supervised_contrastive_loss))(z[0], alone)
    assert value == 0.0 and np.all(grad == 0.0)


def test_two_views_each_its_own_class_is_infonce(rng):
    z1, z2 = rng.normal(size=(2, 7, 3))
    labels = np.concatenate([np.arange(7), np.arange(7)])

    @jax.jit
    def both(z1, z2):
        return (
            samples.supervised_contrastive_loss(jnp.concatenate([z1, z2]), labels, temperature=0.2),
            samples.infonce_loss(z1, z2, temperature=0.2),
        )

    supervised, infonce = both(z1, z2)
    np.testing.assert_allclose(supervised, infonce, rtol=1e-12)


def test_gradients(rng):
    z1, z2 = rng.normal(size=(2, 4, 3))
    labels = np.array([0, 1, 0, 1])
    check_grads(
        jax.jit(lambda a, b: samples.infonce_loss(a, b, temperature=0.5)), (z1, z2), order=1
    )
    check_grads(
        jax.jit(lambda a: samples.supervised_contrastive_loss(a, labels, temperature=0.5)),
        (z1,),
        order=1,
    )


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_stable_at_temperature_one_hundredth(rng, dtype):
    """Logits up to 1/0.01 = 100: no overflow, finite gradients in the inputs' dtype, a zero
    embedding included, and values equal to the float64 reference on the same inputs."""
    z1 = rng.normal(size=(16, 8))
    z2 = z1 + 0.05 * rng.normal(size=(16, 8))
    z2[3] = 0.0  # a zero embedding: similarity 0 with everything
    labels = rng.integers(0, 3, size=16)
    a, b = jnp.asarray(z1, dtype), jnp.asarray(z2, dtype)

    def both(x, y):
        nce = samples.infonce_loss(x, y, temperature=0.01)
        sup = samples.supervised_contrastive_loss(x, labels, temperature=0.01)
        return nce + sup, (nce, sup)

    (_, (nce, sup)), grads = jax.jit(jax.value_and_grad(both, argnums=(0, 1), has_aux=True))(a, b)
    assert nce.dtype == jnp.float32 and sup.dtype == jnp.float32
    for g in grads:
        assert g.dtype == dtype
        assert np.all(np.isfinite(np.asarray(g, np.float32)))
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    np.testing.assert_allclose(nce, ntxent_reference(a64, b64, 0.01), rtol=1e-4)
    np.testing.assert_allclose(sup, supcon_reference(a64, labels, 0.01), rtol=1e-4)


def test_bad_input_is_reported():
    z = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"z1 has shape \(4, 3\) and z2 has shape \(5, 3\)"):
        samples.infonce_loss(z, np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"\[\.\.\., N, D\]"):
        samples.infonce_loss(np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        samples.infonce_loss(z, z, temperature=0.0)
    with pytest.raises(TypeError, match="labels must be an integer array"):
        samples.supervised_contrastive_loss(z, np.zeros(4))
    with pytest.raises(ValueError, match="labels has shape"):
        samples.supervised_contrastive_loss(z, np.zeros(3, int))
    with pytest.raises(TypeError, match="boolean mask"):
        samples.supervised_contrastive_loss(z, np.zeros(4, int), where=np.ones(4))
