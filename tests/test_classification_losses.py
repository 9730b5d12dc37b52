"""Label smoothing on the integer-label cross-entropy and the focal losses, against optax in
float64, at their boundaries (confident predictions, -inf logits, masks, shards of classes are
covered by the cross-entropy's own tests), with finite gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdiv


def test_label_smoothing_equals_optax_smooth_labels(rng):
    """`label_smoothing` equals optax's `smooth_labels` route on the dense one-hot, value and
    gradient, with ignored labels and with a class mask (the mass spread over the unmasked
    classes); 0 is the plain cross-entropy."""
    logits = rng.normal(size=(6, 9)) * 3
    labels = rng.integers(0, 9, size=6)
    labels[2] = -100
    eps = 0.15

    def ours(z, mask):
        return jaxdiv.cross_entropy_from_integer_labels(
            z, labels, ignore_index=-100, label_smoothing=eps, where=mask
        )

    def reference(z, mask):
        keep = labels != -100
        targets = optax.smooth_labels(jax.nn.one_hot(np.where(keep, labels, 0), 9), eps)
        if mask is not None:  # the uniform part over the unmasked classes only
            onehot = jax.nn.one_hot(np.where(keep, labels, 0), 9)
            targets = (1 - eps) * onehot + eps * mask / mask.sum(-1, keepdims=True)
            z = jnp.where(mask, z, -jnp.inf)
        logp = jax.nn.log_softmax(z, axis=-1)
        return jnp.where(keep, -jnp.sum(jnp.where(targets > 0, targets * logp, 0.0), -1), 0.0)

    class_mask = np.ones((6, 9), bool)
    class_mask[:, 7:] = False
    class_mask[np.arange(6), np.where(labels >= 0, labels, 0)] = True
    for mask in (None, class_mask):
        fn = jax.jit(lambda z, m=mask: ours(z, m))
        np.testing.assert_allclose(fn(logits), reference(logits, mask), rtol=1e-12)
        g = jax.jit(jax.grad(lambda z, m=mask: ours(z, m).sum()))(logits)
        g_ref = jax.grad(lambda z, m=mask: reference(z, m).sum())(logits)
        np.testing.assert_allclose(g, g_ref, rtol=1e-10, atol=1e-12)
    plain = jaxdiv.cross_entropy_from_integer_labels(logits, labels, ignore_index=-100)
    zero = jaxdiv.cross_entropy_from_integer_labels(
        logits, labels, ignore_index=-100, label_smoothing=0.0
    )
    np.testing.assert_array_equal(plain, zero)
    with pytest.raises(ValueError, match=r"label_smoothing must lie in \[0, 1\]"):
        jaxdiv.cross_entropy_from_integer_labels(logits, labels, label_smoothing=-0.1)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_focal_losses_equal_their_formulas_and_optax(gamma, rng):
    """The softmax focal loss equals -(1 - p_y)^gamma log p_y from float64 probabilities (gamma
    0: the cross-entropy); the sigmoid form equals optax.sigmoid_focal_loss with and without
    alpha. Confident predictions (logits 1e4) give 0 with finite, zero gradients for every
    gamma, including gamma < 1 where the factor is not differentiable."""
    logits = rng.normal(size=(5, 6)) * 2
    labels = rng.integers(0, 6, size=5)
    p = jax.nn.softmax(logits)[np.arange(5), labels]
    got = jaxdiv.focal_loss_from_integer_labels(logits, labels, gamma=gamma)
    np.testing.assert_allclose(got, -((1 - p) ** gamma) * np.log(p), rtol=1e-12)
    targets = (rng.uniform(size=(5, 6)) < 0.4).astype(float)
    for alpha in (None, 0.25):
        got = jaxdiv.binary_focal_loss_from_logits(targets, logits, gamma=gamma, alpha=alpha)
        want = optax.sigmoid_focal_loss(logits, targets, alpha=alpha, gamma=gamma)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
    confident = jnp.array([[1e4, 0.0, -3.0]])
    value, grad = jax.value_and_grad(
        lambda z: jaxdiv.focal_loss_from_integer_labels(z, jnp.array([0]), gamma=gamma).sum()
    )(confident)
    assert value == 0 and np.all(np.isfinite(grad))
    value, grad = jax.value_and_grad(
        lambda z: jaxdiv.binary_focal_loss_from_logits(jnp.ones(2), z, gamma=gamma).sum()
    )(jnp.array([1e4, 50.0]))
    assert np.all(np.isfinite(grad)) and value < 1e-20
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        jaxdiv.focal_loss_from_integer_labels(logits, labels, gamma=-1.0)
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]"):
        jaxdiv.binary_focal_loss_from_logits(targets, logits, alpha=1.5)
