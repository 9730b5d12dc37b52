"""Distillation losses over several devices: the vocabulary split inside shard_map, tokens split
by jit or by ``token_axis_name``, explicit shardings (run with eight CPU devices, see
tests/sharded/conftest.py)."""

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, PartitionSpec

from jaxdiv import distill

try:
    shard_map = jax.shard_map
except AttributeError:  # jax < 0.7
    from jax.experimental.shard_map import shard_map

DIVERGENCES = ["forward_kl", "reverse_kl", "jsd"]


# The unsharded losses and gradients of test_losses_with_sharded_vocabulary, by divergence, loss
# and inputs.
_UNSHARDED = {}


@pytest.mark.parametrize("divergence", DIVERGENCES)
@pytest.mark.parametrize("shards", [2, 4, 8])
def test_losses_with_sharded_vocabulary(divergence, shards, rng):
    """Both losses inside shard_map, vocabulary split over 2, 4 and 8 devices: values and
    gradients equal the unsharded ones (the student's hidden states and weight columns for the
    fused-linear loss)."""
    n, h, h_t, v = 21, 5, 4, 32
    hs, ws = rng.normal(size=(n, h)), rng.normal(size=(h, v))
    ht, wt = rng.normal(size=(n, h_t)), rng.normal(size=(h_t, v))
    mask = rng.uniform(size=n) < 0.7
    kw = {"divergence": divergence, "beta": 0.3, "temperature": 2.0}
    mesh = Mesh(np.array(jax.devices()[:shards]), ("vocab",))
    cols, whole = PartitionSpec(None, "vocab"), PartitionSpec()

    def logits_loss(s, t, m, axis_name=None):
        return distill.distillation_loss(s, t, where=m, axis_name=axis_name, **kw)

    def fused_loss(hs, ws, wt, m, axis_name=None):
        return distill.fused_linear_distillation_loss(
            hs, ws, ht, wt, where=m, chunk_size=8, axis_name=axis_name, **kw
        )

    cases = [
        ("logits", logits_loss, (hs @ ws, ht @ wt, mask), (cols, cols, whole)),
        ("fused", fused_loss, (hs, ws, wt, mask), (whole, cols, cols, whole)),
    ]
    argnums = (0, 1)  # the student's arguments
    for name, loss, args, specs in cases:
        sharded = shard_map(
            partial(loss, axis_name="vocab"), mesh=mesh, in_specs=specs, out_specs=whole
        )
        value, grads = jax.jit(jax.value_and_grad(sharded, argnums=argnums))(*args)
        key = (divergence, name, *(np.asarray(x).tobytes() for x in (hs, ws, ht, wt, mask)))
        if key not in _UNSHARDED:  # the same for 2, 4 and 8 shards: computed once, compiled
            _UNSHARDED[key] = jax.jit(jax.value_and_grad(loss, argnums=argnums))(*args)
        expected, expected_grads = _UNSHARDED[key]
        assert math.isfinite(float(expected))
        np.testing.assert_allclose(value, expected, rtol=1e-10)
        for g, e in zip(grads, expected_grads, strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12)


def _fused_problem(rng, n=64, h=5, h_t=4, v=32):
    hs, ws = rng.normal(size=(n, h)), rng.normal(size=(h, v))
    ht, wt = rng.normal(size=(n, h_t)), rng.normal(size=(h_t, v))
    return hs, ws, ht, wt, rng.uniform(size=n) < 0.7


@pytest.mark.parametrize("divergence", DIVERGENCES)
@pytest.mark.parametrize("axis_type", ["Explicit", "Auto"])
@pytest.mark.parametrize(
    "n, chunk_size", [(64, 16), (72, 16), (64, 5)], ids=["whole-chunks", "padded", "odd-chunk-size"]
)
def test_fused_linear_loss_with_tokens_split_by_jit(
    divergence, axis_type, n, chunk_size, rng, axis_types
):
    """Data parallelism under plain jit, tokens split over an 8-device mesh.

    A loop cannot run over a split axis. With an explicit mesh lax.scan raised
    a ValueError; the loss now runs the chunks of each device's own tokens.
    With an automatic mesh XLA gathered the hidden states onto every device;
    the chunks are now strided, so that each is split like the tokens, and
    their size is rounded up to a multiple of the device count (a chunk of 5
    tokens made XLA gather them). Either way only reductions and, for the
    padded chunks, a shift of a few hidden states cross devices (no
    all-gather).
    """
    hs, ws, ht, wt, mask = _fused_problem(rng, n=n)
    mesh = jax.make_mesh((8,), ("data",), axis_types=(getattr(axis_types, axis_type),))
    rows = jax.sharding.NamedSharding(mesh, PartitionSpec("data", None))
    whole = jax.sharding.NamedSharding(mesh, PartitionSpec())
    tokens = jax.sharding.NamedSharding(mesh, PartitionSpec("data"))
    args = (
        jax.device_put(hs, rows),
        jax.device_put(ws, whole),
        jax.device_put(ht, rows),
        jax.device_put(wt, whole),
        jax.device_put(mask, tokens),
    )

    def loss(hs, ws, ht, wt, m):
        return distill.fused_linear_distillation_loss(
            hs, ws, ht, wt, where=m, chunk_size=chunk_size, divergence=divergence, temperature=1.5
        )

    value_and_grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    assert "all-gather" not in value_and_grad.lower(*args).compile().as_text()
    value, grads = value_and_grad(*args)
    expected, expected_grads = jax.value_and_grad(loss, argnums=(0, 1))(hs, ws, ht, wt, mask)
    np.testing.assert_allclose(value, expected, rtol=1e-10)
    for g, e in zip(grads, expected_grads, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12)
    assert grads[0].sharding.spec == PartitionSpec("data", None)


@pytest.mark.parametrize("divergence", DIVERGENCES)
@pytest.mark.parametrize("mesh_shape", [(4, 1), (2, 4)], ids=["tokens", "tokens-and-vocab"])
def test_fused_linear_loss_with_token_axis_name(divergence, mesh_shape, rng):
    """Inside shard_map, tokens split over one mesh axis (and the vocabulary over another):
    both losses, values and gradients."""
    hs, ws, ht, wt, mask = _fused_problem(rng)
    devices = np.array(jax.devices()[: math.prod(mesh_shape)]).reshape(mesh_shape)
    mesh = Mesh(devices, ("data", "vocab"))
    rows, cols = PartitionSpec("data", None), PartitionSpec(None, "vocab")

    def loss(hs, ws, ht, wt, m, **names):
        return distill.fused_linear_distillation_loss(
            hs, ws, ht, wt, where=m, chunk_size=5, divergence=divergence, beta=0.3, **names
        )

    def logits_loss(s, t, m, **names):
        return distill.distillation_loss(s, t, where=m, divergence=divergence, beta=0.3, **names)

    names = {"token_axis_name": "data", "axis_name": "vocab"}
    tokens, both = PartitionSpec("data"), PartitionSpec("data", "vocab")
    cases = [
        (loss, (hs, ws, ht, wt, mask), (rows, cols, rows, cols, tokens)),
        (logits_loss, (hs @ ws, ht @ wt, mask), (both, both, tokens)),
    ]
    for fn, args, specs in cases:
        sharded = shard_map(
            partial(fn, **names), mesh=mesh, in_specs=specs, out_specs=PartitionSpec()
        )
        value, grads = jax.jit(jax.value_and_grad(sharded, argnums=(0, 1)))(*args)
        expected, expected_grads = jax.value_and_grad(fn, argnums=(0, 1))(*args)
        np.testing.assert_allclose(value, expected, rtol=1e-10)
        for g, e in zip(grads, expected_grads, strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("hidden_spec", "weight_spec"),
    [
        ((None, None), (None, "model")),
        (("data", None), (None, "model")),
        (("data", "model"), (None, None)),
        ((None, None), ("model", None)),
    ],
    ids=["vocab", "tokens-and-vocab", "hidden-states-2d", "weight-rows"],
)
def test_fused_linear_loss_with_explicit_shardings(hidden_spec, weight_spec, rng, axis_types):
    """Under jit on an explicit (4, 2) mesh, any split of the operands gives the unsplit loss.

    Before, a weight split over the vocabulary raised a ShardingTypeError (a
    contraction over a split axis), and other layouts raised in shard_map or
    in the custom VJP's type check.
    """
    hs, ws, ht, wt, mask = _fused_problem(rng, n=32, h=6, h_t=4, v=16)
    mesh = jax.make_mesh((4, 2), ("data", "model"), axis_types=(axis_types.Explicit,) * 2)

    def put(x, spec):
        return jax.device_put(x, jax.sharding.NamedSharding(mesh, PartitionSpec(*spec)))

    args = (put(hs, hidden_spec), put(ws, weight_spec), put(ht, hidden_spec), put(wt, weight_spec))

    def loss(hs, ws, ht, wt):
        return distill.fused_linear_distillation_loss(
            hs, ws, ht, wt, where=mask, chunk_size=3, divergence="jsd", beta=0.4
        )

    value, grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))(*args)
    expected, expected_grads = jax.value_and_grad(loss, argnums=(0, 1))(hs, ws, ht, wt)
    np.testing.assert_allclose(value, expected, rtol=1e-10)
    for g, e in zip(grads, expected_grads, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12)
    assert grads[1].sharding.spec == PartitionSpec(*weight_spec)


def test_fused_linear_loss_rejects_tokens_and_vocabulary_on_one_axis(rng, axis_types):
    hs, ws, ht, wt, _ = _fused_problem(rng, n=16, v=16)
    mesh = jax.make_mesh((8,), ("data",), axis_types=(axis_types.Explicit,))
    rows = jax.sharding.NamedSharding(mesh, PartitionSpec("data", None))
    cols = jax.sharding.NamedSharding(mesh, PartitionSpec(None, "data"))
    with pytest.raises(ValueError, match="same mesh axes"):
        jax.jit(distill.fused_linear_distillation_loss)(
            jax.device_put(hs, rows), jax.device_put(ws, cols), ht, wt
        )


# --------------------------------------------------------------------------- boundaries


@pytest.mark.parametrize("divergence", ["forward_kl", "skew_kl", "tv"])
def test_distillation_options_with_sharded_vocabulary(divergence, rng):
    """Biases split with the vocabulary, global labels for the hard term, soft-capping, and the
    per-token and mean reductions, inside shard_map over (tokens 2, vocabulary 4): the fused
    loss equals the unsharded one in values and in the student's gradients (hidden states,
    weight columns, bias)."""
    hs, ws, ht, wt, mask = _fused_problem(rng, n=24)
    bs, bt = rng.normal(size=ws.shape[1]), rng.normal(size=ws.shape[1])
    labels = rng.integers(0, ws.shape[1], size=hs.shape[0])
    labels[::7] = -100
    mesh = Mesh(np.array(jax.devices()).reshape(2, 4), ("data", "vocab"))
    spec = PartitionSpec
    kw = {
        "divergence": divergence,
        "alpha": 0.2,
        "temperature": 1.5,
        "logit_softcap": 4.0,
        "soft_weight": 0.7,
        "hard_weight": 0.3,
        "chunk_size": 5,
    }
    cot = rng.normal(size=hs.shape[0])

    def loss(hs, ws, bs, ht, wt, bt, y, m, reduction, **names):
        out = distill.fused_linear_distillation_loss(
            hs,
            ws,
            ht,
            wt,
            student_bias=bs,
            teacher_bias=bt,
            labels=y,
            where=m,
            reduction=reduction,
            **kw,
            **names,
        )
        return out

    rows, cols, vocab, tokens = spec("data", None), spec(None, "vocab"), spec("vocab"), spec("data")
    specs = (rows, cols, vocab, rows, cols, vocab, tokens, tokens)
    names = {"axis_name": "vocab", "token_axis_name": "data"}
    for reduction, out_spec, weights in (("mean", spec(), 1.0), ("none", tokens, cot)):
        sharded = shard_map(
            partial(loss, reduction=reduction, **names),
            mesh=mesh,
            in_specs=specs,
            out_specs=out_spec,
        )

        def scalar(hs, ws, bs, f=sharded, weights=weights):
            return jnp.sum(weights * f(hs, ws, bs, ht, wt, bt, labels, mask))

        def expected(hs, ws, bs, reduction=reduction, weights=weights):
            return jnp.sum(weights * loss(hs, ws, bs, ht, wt, bt, labels, mask, reduction))

        value, grads = jax.jit(jax.value_and_grad(scalar, argnums=(0, 1, 2)))(hs, ws, bs)
        ref, ref_grads = jax.value_and_grad(expected, argnums=(0, 1, 2))(hs, ws, bs)
        assert math.isfinite(float(ref))
        np.testing.assert_allclose(value, ref, rtol=1e-10, err_msg=reduction)
        for g, r in zip(grads, ref_grads, strict=True):
            np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-12, err_msg=reduction)
