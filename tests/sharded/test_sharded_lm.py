"""The fused cross-entropy over several devices: the vocabulary and the tokens split inside
shard_map, tokens split by jit, explicit shardings (eight CPU devices, see
tests/sharded/conftest.py)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, PartitionSpec

from jaxdiv import lm

shard_map = getattr(jax, "shard_map", None)
if shard_map is None:  # jax < 0.7
    from jax.experimental.shard_map import shard_map

OPTIONS = {"label_smoothing": 0.1, "z_loss": 1e-2, "logit_softcap": 4.0, "ignore_index": -1}


def _problem(rng, n=24, h=5, v=32):
    hidden, weight, bias = rng.normal(size=(n, h)), rng.normal(size=(h, v)), rng.normal(size=v)
    labels = rng.integers(0, v, size=n)
    labels[::5] = -1
    return hidden, weight, bias, labels, rng.uniform(size=n) < 0.8


@pytest.mark.parametrize(
    "mesh_shape", [(1, 2), (1, 8), (4, 1), (2, 4)], ids=["vocab2", "vocab8", "tokens4", "both"]
)
def test_fused_cross_entropy_inside_shard_map(mesh_shape, rng):
    """Vocabulary over `axis_name` and tokens over `token_axis_name`: the mean loss, and the
    per-token loss with statistics, equal the unsharded ones, values and gradients (hidden
    states, weight columns, bias)."""
    h, w, b, y, m = _problem(rng)
    devices = np.array(jax.devices()[: math.prod(mesh_shape)]).reshape(mesh_shape)
    mesh = Mesh(devices, ("data", "vocab"))
    spec = PartitionSpec
    specs = (spec("data", None), spec(None, "vocab"), spec("vocab"), spec("data"), spec("data"))
    names = {"axis_name": "vocab", "token_axis_name": "data"}
    cot = rng.normal(size=(4, h.shape[0]))

    def mean_loss(h, w, b, y, m, **names):
        return lm.fused_linear_cross_entropy(
            h, w, y, bias=b, where=m, chunk_size=5, **OPTIONS, **names
        )

    def per_token(h, w, b, y, m, **names):
        loss, st = lm.fused_linear_cross_entropy(
            h,
            w,
            y,
            bias=b,
            where=m,
            chunk_size=5,
            reduction="none",
            return_stats=True,
            **OPTIONS,
            **names,
        )
        return jnp.stack([loss, *st])

    for fn, out_spec in ((mean_loss, spec()), (per_token, spec(None, "data"))):
        sharded = shard_map(
            lambda *a, fn=fn: fn(*a, **names), mesh=mesh, in_specs=specs, out_specs=out_spec
        )
        weights = 1.0 if fn is mean_loss else cot

        def scalar(h, w, b, f=sharded, weights=weights):
            return jnp.sum(weights * f(h, w, b, y, m))

        def expected(h, w, b, fn=fn, weights=weights):
            return jnp.sum(weights * fn(h, w, b, y, m))

        value, grads = jax.jit(jax.value_and_grad(scalar, argnums=(0, 1, 2)))(h, w, b)
        ref, ref_grads = jax.value_and_grad(expected, argnums=(0, 1, 2))(h, w, b)
        assert math.isfinite(float(ref))
        np.testing.assert_allclose(value, ref, rtol=1e-10, err_msg=fn.__name__)
        for g, r in zip(grads, ref_grads, strict=True):
            np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-12, err_msg=fn.__name__)


@pytest.mark.parametrize("axis_type", ["Explicit", "Auto"])
def test_fused_cross_entropy_with_tokens_split_by_jit(axis_type, rng, axis_types):
    """Under plain jit with [batch, seq] tokens split over 8 devices (explicit and automatic
    meshes), and with the weight split over the vocabulary (explicit): the unsplit loss and
    gradients, with no all-gather of the hidden states on the automatic mesh."""
    h, w, b, y, m = _problem(rng, n=32)
    h, y, m = h.reshape(8, 4, -1), y.reshape(8, 4), m.reshape(8, 4)
    mesh = jax.make_mesh((8,), ("data",), axis_types=(getattr(axis_types, axis_type),))

    def put(x, *spec):
        return jax.device_put(x, jax.sharding.NamedSharding(mesh, PartitionSpec(*spec)))

    def loss(h, w, b, y, m):
        return lm.fused_linear_cross_entropy(h, w, y, bias=b, where=m, chunk_size=3, **OPTIONS)

    args = (put(h, "data", None, None), put(w), put(b), put(y, "data", None), put(m, "data"))
    value_and_grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))
    if axis_type == "Auto":
        assert "all-gather" not in value_and_grad.lower(*args).compile().as_text()
    value, grads = value_and_grad(*args)
    ref, ref_grads = jax.value_and_grad(loss, argnums=(0, 1, 2))(h, w, b, y, m)
    np.testing.assert_allclose(value, ref, rtol=1e-10)
    for g, r in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-12)
    if axis_type == "Explicit":
        cols = put(w, None, "data")
        value, grads = value_and_grad(put(h), cols, put(b, "data"), put(y), put(m))
        np.testing.assert_allclose(value, ref, rtol=1e-10)
        np.testing.assert_allclose(grads[1], ref_grads[1], rtol=1e-9, atol=1e-12)
