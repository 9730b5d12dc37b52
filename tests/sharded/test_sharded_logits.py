"""Logits functions with the vocabulary split over devices (shard_map over 2, 4, 8 shards).

conftest.py gives the process eight CPU devices
(``--xla_force_host_platform_device_count=8``); values and gradients must
equal the unsharded computation.
"""

import jax
import numpy as np
import pytest
from jax.sharding import Mesh, PartitionSpec

import jaxdiv
from jaxdiv import _row_blocks as row_blocks

try:
    shard_map = jax.shard_map
except AttributeError:  # jax < 0.7
    from jax.experimental.shard_map import shard_map

FUNCTIONS = {
    "kl": jaxdiv.kl_divergence_from_logits,
    "cross_entropy": jaxdiv.cross_entropy_from_logits,
    "js": jaxdiv.js_divergence_from_logits,
    "js_skew": lambda a, b, **kw: jaxdiv.js_divergence_from_logits(a, b, weight=0.3, **kw),
    "renyi_half": lambda a, b, **kw: jaxdiv.renyi_divergence_from_logits(a, b, alpha=0.5, **kw),
    "renyi_two": lambda a, b, **kw: jaxdiv.renyi_divergence_from_logits(a, b, alpha=2.0, **kw),
    "renyi_inf": lambda a, b, **kw: jaxdiv.renyi_divergence_from_logits(a, b, alpha=np.inf, **kw),
    "entropy": lambda a, b, **kw: jaxdiv.entropy_from_logits(a, **kw),
}


def _inputs(rng, rows=3, vocab=32):
    a = rng.normal(size=(rows, vocab)) * 3
    b = rng.normal(size=(rows, vocab)) * 3
    a[0, :5] = -np.inf  # zero-probability entries in both, across shard boundaries
    b[0, :5] = -np.inf
    mask = rng.uniform(size=(rows, vocab)) < 0.8
    mask[:, 5] = True
    mask[2] = False  # a fully masked row
    return a, b, mask


def _sharded(fn, n, *, masked):
    mesh = Mesh(np.array(jax.devices()[:n]), ("vocab",))
    spec = PartitionSpec(None, "vocab")

    def local(a, b, m):
        return fn(a, b, where=m if masked else None, axis_name="vocab")

    return shard_map(local, mesh=mesh, in_specs=(spec, spec, spec), out_specs=PartitionSpec())


_UNSHARDED = {}


def _unsharded(name, a, b, where):
    """The unsharded value and gradients (of the sum) of FUNCTIONS[name], compiled; computed once
    per function and inputs, and shared by the tests of 2, 4 and 8 shards."""
    key = (name, a.tobytes(), b.tobytes(), None if where is None else where.tobytes())
    if key not in _UNSHARDED:
        fn = FUNCTIONS[name]

        @jax.jit
        def value_and_grads(a, b):
            grads = jax.grad(lambda a, b: fn(a, b, where=where).sum(), argnums=(0, 1))(a, b)
            return fn(a, b, where=where), grads

        _UNSHARDED[key] = value_and_grads(a, b)
    return _UNSHARDED[key]


@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("shards", [2, 4, 8])
@pytest.mark.parametrize("masked", [False, True])
def test_sharded_vocabulary_matches_unsharded(name, shards, masked, rng):
    assert len(jax.devices()) >= 8
    fn = FUNCTIONS[name]
    a, b, mask = _inputs(rng)
    expected, expected_grads = _unsharded(name, a, b, mask if masked else None)
    sharded = jax.jit(_sharded(fn, shards, masked=masked))
    np.testing.assert_allclose(sharded(a, b, mask), expected, rtol=1e-10, atol=1e-12)

    def loss_sharded(a, b):
        return sharded(a, b, mask).sum()

    grads = jax.jit(jax.grad(loss_sharded, argnums=(0, 1)))(a, b)
    for g, e in zip(grads, expected_grads, strict=True):
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shards", [2, 4, 8])
def test_sharded_integer_labels_match_unsharded(shards, rng):
    logits = rng.normal(size=(6, 32)) * 3
    labels = np.array([0, 31, 7, -100, 16, 40])  # an ignored label and an out-of-range one
    mesh = Mesh(np.array(jax.devices()[:shards]), ("vocab",))

    def local(x, y):
        return jaxdiv.cross_entropy_from_integer_labels(x, y, ignore_index=-100, axis_name="vocab")

    sharded = jax.jit(
        shard_map(
            local,
            mesh=mesh,
            in_specs=(PartitionSpec(None, "vocab"), PartitionSpec()),
            out_specs=PartitionSpec(),
        )
    )
    expected = jaxdiv.cross_entropy_from_integer_labels(logits, labels, ignore_index=-100)
    got = sharded(logits, labels)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    assert got[3] == 0 and got[5] == np.inf
    keep = np.array([1, 1, 1, 0, 1, 0], bool)
    grads = jax.jit(jax.grad(lambda x: sharded(x, labels)[keep].sum()))(logits)
    expected_grads = jax.grad(
        lambda x: jaxdiv.cross_entropy_from_integer_labels(x, labels, ignore_index=-100)[keep].sum()
    )(logits)
    np.testing.assert_allclose(grads, expected_grads, rtol=1e-9, atol=1e-12)


FUSED = {name: FUNCTIONS[name] for name in ("kl", "cross_entropy", "js")}  # the fused kernels


@pytest.mark.parametrize("name", list(FUSED))
@pytest.mark.parametrize(
    ("axis_type", "one_cpu"),
    [("Explicit", False), ("Auto", False), ("Explicit", True)],
    ids=["explicit", "auto", "explicit-blocks-on"],
)
def test_rows_sharded_by_jit_stay_local(name, axis_type, one_cpu, rng, axis_types):
    """Data parallelism: rows split over 8 devices by ``jit`` (no ``shard_map``).

    The CPU row blocks are a loop over rows, which cannot be partitioned:
    with an explicit mesh ``lax.map`` refused the sharded axis (a
    ValueError), and with an automatic one XLA gathered the whole logits
    onto every device. With ``one_cpu`` the process is taken for one with a
    single CPU device, where the blocks are used for unsharded inputs: an
    explicit sharding must still turn them off (on an accelerator the CPU
    branch is traced too). An automatic sharding cannot be seen at trace
    time, but a process with one CPU device cannot shard over CPUs, and an
    accelerator's lowering drops the CPU branch.
    """
    if one_cpu:  # blocks of 2 rows, on although the process has several CPU devices
        blocks = row_blocks.configured(enabled=True, block_bytes=2 * 32 * 8, min_vocab=1)
    else:
        blocks = row_blocks.configured()
    with blocks:
        _check_rows_stay_local(FUSED[name], axis_type, rng, axis_types)


def _check_rows_stay_local(fn, axis_type, rng, axis_types):
    mesh = jax.make_mesh((8,), ("data",), axis_types=(getattr(axis_types, axis_type),))
    rows = jax.sharding.NamedSharding(mesh, PartitionSpec("data", None))
    a, b = (rng.normal(size=(32, 32)) * 3 for _ in range(2))
    a[0, :5] = -np.inf
    sa, sb = jax.device_put(a, rows), jax.device_put(b, rows)

    def loss(a, b):
        return fn(a, b).sum()

    value_and_grad = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    hlo = value_and_grad.lower(sa, sb).compile().as_text()
    assert "all-gather" not in hlo and "all-to-all" not in hlo
    got = value_and_grad(sa, sb)
    expected = jax.value_and_grad(loss, argnums=(0, 1))(a, b)
    for g, e in zip(jax.tree.leaves(got), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)
    assert got[1][0].sharding.spec == PartitionSpec("data", None)
    # The value alone (the select-free formulas at this vocabulary) stays local too.
    value = jax.jit(lambda a, b: fn(a, b))
    assert "all-gather" not in value.lower(sa, sb).compile().as_text()
    np.testing.assert_allclose(value(sa, sb), fn(a, b), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(FUSED))
@pytest.mark.parametrize("spec", [(None, "model"), ("data", "model")], ids=["vocab", "both"])
def test_vocabulary_sharded_by_jit(name, spec, rng, axis_types):
    """Tensor parallelism under plain jit: the vocabulary (and rows) split over an explicit
    (4, 2) mesh, no axis_name; XLA combines the row reductions across devices."""
    fn = FUSED[name]
    mesh = jax.make_mesh((4, 2), ("data", "model"), axis_types=(axis_types.Explicit,) * 2)
    sharding = jax.sharding.NamedSharding(mesh, PartitionSpec(*spec))
    a, b = (rng.normal(size=(8, 16)) * 3 for _ in range(2))
    b[1, 3] = -np.inf

    def loss(a, b):
        return fn(a, b).sum()

    sa, sb = jax.device_put(a, sharding), jax.device_put(b, sharding)
    got = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))(sa, sb)
    expected = jax.value_and_grad(loss, argnums=(0, 1))(a, b)
    for g, e in zip(jax.tree.leaves(got), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(jax.jit(fn)(sa, sb), fn(a, b), rtol=1e-10, atol=1e-12)
