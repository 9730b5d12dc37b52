"""Variational bounds on mutual information: TensorFlow Probability's functions on the same
scores, the log N ceiling of InfoNCE, the Gaussian truth under the optimal critic, masks
against boolean indexing, MINE's corrected gradient, and gradients (check_grads, huge and
16-bit scores)."""

import math
import pathlib
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxdiv import samples

CRITIC_BOUNDS = {
    "infonce": samples.infonce_bound,
    "nwj": samples.nwj_bound,
    "dv": samples.donsker_varadhan_bound,
    "js": samples.jensen_shannon_bound,
}


def _tfp_mutual_information():
    """TFP's `tfp.vi.mutual_information`, run on its JAX backend.

    The JAX substrate leaves the module out (its masked forms call `tf.boolean_mask`, which
    the JAX backend lacks), so the TensorFlow source shipped with the package is executed
    against the JAX backend, with `boolean_mask` supplied. Skips when TFP is not installed.
    """
    tfp = pytest.importorskip("tensorflow_probability.substrates.jax")
    path = pathlib.Path(tfp.__file__).parents[2] / "python" / "vi" / "mutual_information.py"
    if not path.exists():
        pytest.skip("this TFP ships no vi/mutual_information.py")
    from tensorflow_probability.python.internal.backend.jax.compat import v2 as tf_jax

    tf = types.SimpleNamespace(**{k: getattr(tf_jax, k) for k in dir(tf_jax) if k[:2] != "__"})
    tf.boolean_mask = lambda x, m: jnp.asarray(x)[np.asarray(m)]
    src = path.read_text()
    src = src.replace("import tensorflow.compat.v2 as tf", "tf = _tf")
    src = src.replace(
        "from tensorflow_probability.python.internal import",
        "from tensorflow_probability.substrates.jax.internal import",
    )
    module = types.ModuleType("tfp_mutual_information")
    module.__dict__["_tf"] = tf
    exec(compile(src, str(path), "exec"), module.__dict__)
    return module


# Compiled once per input shape and dtype and shared by the tests (called eagerly, each bound
# dispatches its operations one by one). `where` and `base` are keyword arguments of each.
COMPILED = {name: jax.jit(fn, static_argnames="base") for name, fn in CRITIC_BOUNDS.items()}
BARBER_AGAKOV = jax.jit(samples.barber_agakov_bound)
MINE_LOSS = jax.jit(samples.mine_loss, static_argnames="decay")
VALUE_AND_GRAD = {name: jax.jit(jax.value_and_grad(fn)) for name, fn in CRITIC_BOUNDS.items()}


@pytest.fixture(scope="module")
def tfp_mi():
    return _tfp_mutual_information()


def test_equal_to_tensorflow_probability(rng, tfp_mi):
    s = rng.normal(size=(3, 7, 7)) * 2.0
    cases = [
        ("infonce", tfp_mi.lower_bound_info_nce),
        ("nwj", tfp_mi.lower_bound_nguyen_wainwright_jordan),
        ("js", tfp_mi.lower_bound_jensen_shannon),
    ]
    # TFP's functions run eagerly (they do not trace under jit); ours compiled.
    for name, theirs in cases:
        ours = COMPILED[name]
        expected = np.asarray(theirs(jnp.asarray(s)))  # numpy input would become float32
        assert expected.dtype == np.float64
        np.testing.assert_allclose(ours(s), expected, rtol=1e-12, atol=1e-12, err_msg=name)
        # TFP's explicit mask of the joint pairs (the diagonal) on one matrix
        np.testing.assert_allclose(
            ours(s[0]),
            theirs(jnp.asarray(s[0]), joint_sample_mask=np.eye(7, dtype=bool)),
            rtol=1e-12,
            err_msg=name,
        )
    log_q = rng.normal(size=(3, 9)) - 1.0
    np.testing.assert_allclose(
        BARBER_AGAKOV(log_q, 1.4189),
        tfp_mi.lower_bound_barber_agakov(jnp.asarray(log_q), 1.4189),
        rtol=1e-12,
    )


def test_masked_bounds_equal_tfp_on_the_kept_samples(rng, tfp_mi):
    s = rng.normal(size=(9, 9))
    w = np.array([1, 0, 1, 1, 0, 1, 1, 1, 0], bool)
    kept = s[w][:, w]
    for name, theirs in [
        ("infonce", tfp_mi.lower_bound_info_nce),
        ("nwj", tfp_mi.lower_bound_nguyen_wainwright_jordan),
        ("js", tfp_mi.lower_bound_jensen_shannon),
    ]:
        np.testing.assert_allclose(
            COMPILED[name](s, where=w),
            theirs(jnp.asarray(kept)),
            rtol=1e-12,
            err_msg=name,
        )


def _off(s):
    return s[~np.eye(s.shape[-1], dtype=bool)]


def _log_mean_exp(v):
    return np.logaddexp.reduce(v) - np.log(v.size)


# Plain float64 references, one matrix [N, N] at a time, written from the papers' formulas.
REFERENCES = {
    "infonce": lambda s: np.mean(np.diag(s) - np.logaddexp.reduce(s, axis=1)) + np.log(len(s)),
    "nwj": lambda s: np.mean(np.diag(s)) - np.exp(_log_mean_exp(_off(s)) - 1.0),
    "dv": lambda s: np.mean(np.diag(s)) - _log_mean_exp(_off(s)),
    "js": lambda s: -np.mean(np.logaddexp(0, -np.diag(s))) - np.mean(np.logaddexp(0, _off(s))),
}


def test_equal_to_plain_references(rng):
    s = rng.normal(size=(3, 6, 6)) * 4.0
    for name, fn in COMPILED.items():
        expected = [REFERENCES[name](m) for m in s]
        np.testing.assert_allclose(fn(s), expected, rtol=1e-12, err_msg=name)


def test_masks_equal_boolean_indexing(rng):
    """A sample mask removes rows and columns; padding holding NaN and inf changes nothing and
    gets exactly zero gradient; too few samples give 0 (not NaN), with a zero gradient."""
    n = 8
    s = rng.normal(size=(5, n, n)) * 3.0
    w = rng.random((5, n)) < 0.6
    w[0] = True
    w[1, 0], w[2, 3], w[3], w[4] = True, True, False, False
    w[1, 1:] = False  # a single sample
    w[4, [2, 5]] = True  # two samples
    garbage = np.where(w[:, :, None] & w[:, None, :], s, np.nan)
    garbage[:, 0, -1] = np.where(w[:, 0] & w[:, -1], garbage[:, 0, -1], np.inf)
    minimum = {"infonce": 1, "nwj": 2, "dv": 2, "js": 2}
    for name, fn in CRITIC_BOUNDS.items():
        value = jax.jit(lambda x, m, fn=fn: fn(x, where=m))
        got = value(garbage, w)
        grad = jax.jit(jax.grad(lambda x, m, fn=fn: jnp.sum(fn(x, where=m))))(garbage, w)
        for b in range(5):
            if w[b].sum() < minimum[name]:
                assert got[b] == 0.0, (name, b)
            else:
                expected = REFERENCES[name](s[b][w[b]][:, w[b]])
                np.testing.assert_allclose(got[b], expected, rtol=1e-12, err_msg=name)
        pairs = w[:, :, None] & w[:, None, :]
        assert np.all(np.isfinite(grad)), name
        assert np.all(grad[~pairs] == 0.0), name
    log_q = rng.normal(size=(5, n))
    ba = BARBER_AGAKOV(np.where(w, log_q, np.nan), 0.7, where=w)
    for b in range(5):
        expected = log_q[b][w[b]].mean() + 0.7 if w[b].any() else 0.0
        np.testing.assert_allclose(ba[b], expected, rtol=1e-12)


def test_infonce_is_at_most_log_n_and_a_perfect_critic_reaches_it(rng):
    n = 16
    scales = np.array([0.1, 1.0, 10.0, 100.0])[:, None, None, None]
    s = rng.normal(size=(4, 50, n, n)) * scales
    infonce = COMPILED["infonce"]
    assert np.all(np.asarray(infonce(s)) <= math.log(n) + 1e-12)
    # a perfect critic: the diagonal c above the rest; the gap is log(1 + (N - 1) e^-c)
    c = np.array([1.0, 5.0, 20.0, 40.0])
    perfect = c[:, None, None] * np.eye(n)
    got = np.asarray(infonce(perfect))
    np.testing.assert_allclose(got, math.log(n) - np.log1p((n - 1) * np.exp(-c)), rtol=1e-12)
    assert math.log(n) - got[-1] < 1e-15 * n + 1e-14
    np.testing.assert_allclose(infonce(perfect, base=2), got / math.log(2))


def test_the_optimal_critic_for_correlated_gaussians_gives_the_true_mutual_information():
    """x, y standard normal with correlation rho: I = -1/2 log(1 - rho^2), and the critic
    log p(x, y) / (p(x) p(y)) makes DV and InfoNCE (and NWJ with 1 added) close to it."""
    key = jax.random.key(17)
    rhos = np.array([0.0, 0.5, 0.8, 0.9])
    n = 1500
    e = np.asarray(jax.random.normal(key, (2, len(rhos), n)))
    x = e[0]
    y = rhos[:, None] * x + np.sqrt(1 - rhos[:, None] ** 2) * e[1]
    truth = -0.5 * np.log1p(-(rhos**2))
    r = rhos[:, None, None]
    xi, yj = x[:, :, None], y[:, None, :]
    pmi = -0.5 * np.log1p(-(r**2)) - (r**2 * xi**2 - 2 * r * xi * yj + r**2 * yj**2) / (
        2 * (1 - r**2)
    )
    dv = np.asarray(COMPILED["dv"](pmi))
    nce = np.asarray(COMPILED["infonce"](pmi))
    nwj = np.asarray(COMPILED["nwj"](pmi + 1.0))
    js = np.asarray(COMPILED["js"](pmi))
    np.testing.assert_allclose(dv, truth, atol=0.05)
    np.testing.assert_allclose(nwj, truth, atol=0.05)
    np.testing.assert_allclose(nce, truth, atol=0.05)
    assert np.all(nce <= math.log(n))
    assert np.all((js <= 0.02) & (js >= -math.log(4) - 0.02))
    assert abs(js[0] + math.log(4)) < 0.02  # independent: JS = 0, the bound -log 4
    # Barber-Agakov with the true conditional q(x | y) and H(X) = 1/2 log(2 pi e)
    cond_var = 1 - rhos[:, None] ** 2
    log_q = -0.5 * np.log(2 * np.pi * cond_var) - (x - rhos[:, None] * y) ** 2 / (2 * cond_var)
    ba = BARBER_AGAKOV(log_q, 0.5 * math.log(2 * math.pi * math.e))
    np.testing.assert_allclose(ba, truth, atol=0.05)


def test_gradients(rng):
    s = rng.normal(size=(2, 5, 5))
    w = np.array([[1, 1, 1, 1, 1], [1, 0, 1, 1, 0]], bool)
    for fn in CRITIC_BOUNDS.values():
        check_grads(jax.jit(lambda x, fn=fn: fn(x, where=w)), (s,), order=1, modes=("fwd", "rev"))
    log_q = rng.normal(size=(2, 5))
    check_grads(
        jax.jit(lambda a, h: samples.barber_agakov_bound(a, h, where=w)), (log_q, 0.3), order=1
    )


def test_huge_and_sixteen_bit_scores_keep_finite_gradients(rng):
    s = (rng.normal(size=(6, 6)) * 1e4).astype(np.float32)
    for name in ("infonce", "dv", "js"):
        value, grad = VALUE_AND_GRAD[name](jnp.asarray(s))
        assert value.dtype == jnp.float32 and np.isfinite(value), name
        assert np.all(np.isfinite(grad)), name
    out, grad = jax.jit(jax.value_and_grad(lambda x: samples.mine_loss(x, 5e3).loss))(
        jnp.asarray(s)
    )
    assert np.isfinite(out) and np.all(np.isfinite(grad))
    # NWJ exponentiates the critic: 80 is about the float32 limit, and stays finite there
    big = rng.uniform(40.0, 80.0, size=(6, 6)).astype(np.float32)
    value, grad = VALUE_AND_GRAD["nwj"](jnp.asarray(big))
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    bf = jnp.asarray(rng.normal(size=(6, 6)) * 30, jnp.bfloat16)
    reference = np.asarray(bf, np.float64)
    for name, value_and_grad in VALUE_AND_GRAD.items():
        value, grad = value_and_grad(bf)
        assert value.dtype == jnp.float32 and grad.dtype == jnp.bfloat16, name
        assert np.all(np.isfinite(np.asarray(grad, np.float32))), name
        np.testing.assert_allclose(
            value, COMPILED[name](reference), rtol=1e-5, atol=1e-5, err_msg=name
        )


def test_mine_loss_is_the_dv_bound_with_the_moving_average_in_the_gradient(rng):
    n, decay = 6, 0.9
    s = rng.normal(size=(2, n, n))
    state = np.array([0.3, -0.2])
    out = MINE_LOSS(s, state, decay=decay)
    dv = COMPILED["dv"](s)
    np.testing.assert_allclose(out.loss, -dv, rtol=1e-12)
    np.testing.assert_allclose(out.bound, dv, rtol=1e-12)
    off = ~np.eye(n, dtype=bool)
    z = np.exp(s)[:, off].mean(axis=-1)  # the batch's mean of e^f over the marginal pairs
    m = decay * np.exp(state) + (1 - decay) * z
    np.testing.assert_allclose(out.log_moving_average, np.log(m), rtol=1e-12)
    # the corrected gradient of -(E_P[f] - Z / m): -1/N on the diagonal, e^f / (N(N-1) m) off it
    grad = jax.jit(jax.grad(lambda x: jnp.sum(samples.mine_loss(x, state, decay=decay).loss)))(s)
    expected = np.where(off, np.exp(s) / (n * (n - 1) * m[:, None, None]), -np.eye(n) / n)
    np.testing.assert_allclose(grad, expected, rtol=1e-12)
    # starting without a state (or with decay 0) is the plain DV gradient
    dv_grad = jax.jit(jax.grad(lambda x: -jnp.sum(samples.donsker_varadhan_bound(x))))(s)
    for first in (
        lambda x: samples.mine_loss(x).loss,
        lambda x: samples.mine_loss(x, state, decay=0.0).loss,
    ):
        np.testing.assert_allclose(jax.jit(jax.grad(lambda x, f=first: jnp.sum(f(x))))(s), dv_grad)
    # a batch entry with fewer than two samples keeps its state and contributes nothing
    w = np.array([[True] * n, [True] + [False] * (n - 1)])
    masked = MINE_LOSS(s, state, decay=decay, where=w)
    assert masked.loss[1] == 0.0 and masked.log_moving_average[1] == state[1]


def test_bad_input_is_reported():
    with pytest.raises(ValueError, match=r"square matrices \[\.\.\., N, N\].*\(3, 4\)"):
        samples.infonce_bound(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        samples.nwj_bound(np.zeros((1, 1)))
    with pytest.raises(TypeError, match="floating-point"):
        samples.donsker_varadhan_bound(np.zeros((3, 3), int))
    with pytest.raises(TypeError, match="boolean mask"):
        samples.jensen_shannon_bound(np.zeros((3, 3)), where=np.ones(3))
    with pytest.raises(ValueError, match="does not broadcast"):
        samples.infonce_bound(np.zeros((3, 3)), where=np.ones(4, bool))
    with pytest.raises(ValueError, match=r"decay must lie in \[0, 1\)"):
        samples.mine_loss(np.zeros((3, 3)), decay=1.0)
    with pytest.raises(ValueError, match="log_moving_average has shape"):
        samples.mine_loss(np.zeros((2, 3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="entropy has shape"):
        samples.barber_agakov_bound(np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="base must be"):
        samples.infonce_bound(np.zeros((3, 3)), base=1)
