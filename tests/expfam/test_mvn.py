"""MultivariateNormal: the CPU thread-pool hang of jaxlib 0.10.2 (issue 13) and shape errors."""

import functools
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import run_saved_inputs_script
from jax.test_util import check_grads

from jaxdiv import expfam

MVN = expfam.MultivariateNormal
_KEY = jax.random.key(0)

# The reported program: jit(value_and_grad) of the summed KL over 1024 pairs in
# dimension 32, float32, called 20 times, on every core of the machine. Run in a
# subprocess: the hang is in XLA's thread pool and cannot be interrupted in-process.
_HANG_SCRIPT = textwrap.dedent(
    """
    import sys
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jaxdiv import expfam

    data = np.load(sys.argv[1])
    args = [jnp.asarray(data[k]) for k in ("m1", "l1", "m2", "l2")]
    cov_args = [jnp.asarray(data[k]) for k in ("m1", "c1", "m2", "c2")]
    MVN = expfam.MultivariateNormal

    def total(m1, l1, m2, l2):
        p, q = MVN.from_mean_scale_tril(m1, l1), MVN.from_mean_scale_tril(m2, l2)
        return jnp.sum(expfam.kl_divergence(p, q))

    def total_cov(m1, c1, m2, c2):
        p, q = MVN.from_mean_cov(m1, c1), MVN.from_mean_cov(m2, c2)
        return jnp.sum(expfam.kl_divergence(p, q))

    f = jax.jit(jax.value_and_grad(total, argnums=(0, 1, 2, 3)))
    f_cov = jax.jit(jax.value_and_grad(total_cov, argnums=(0, 1, 2, 3)))
    for _ in range(20):
        value, grads = jax.block_until_ready(f(*args))
        value_cov, grads_cov = jax.block_until_ready(f_cov(*cov_args))
    per_pair = jax.jit(lambda *a: expfam.kl_divergence(
        MVN.from_mean_scale_tril(a[0], a[1]), MVN.from_mean_scale_tril(a[2], a[3])))(*args)
    np.savez(sys.argv[2], value=value, value_cov=value_cov, per_pair=per_pair,
             g_m1=grads[0], g_l1=grads[1], g_m2=grads[2], g_l2=grads[3])
    """
)


def test_kl_value_and_grad_does_not_hang_on_all_cores(tmp_path):
    """jaxlib 0.10.2's batched LAPACK kernels deadlock XLA's CPU thread pool when several run
    at once (docs/known_issues.md); this program never returned on 2 cores. On one core it
    cannot hang, and the test still checks the values."""
    batch, d = 1024, 32
    rng = np.random.default_rng(13)

    def tril():
        a = rng.normal(size=(batch, d, d)) / np.sqrt(d)
        return np.linalg.cholesky(a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(d))

    m1, l1, m2, l2 = rng.normal(size=(batch, d)), tril(), rng.normal(size=(batch, d)), tril()
    inputs = {"m1": m1, "l1": l1, "m2": m2, "l2": l2}
    inputs = {k: v.astype(np.float32) for k, v in inputs.items()}
    for i in (1, 2):
        low = inputs[f"l{i}"].astype(np.float64)
        inputs[f"c{i}"] = (low @ np.swapaxes(low, -1, -2)).astype(np.float32)
    out = run_saved_inputs_script(
        _HANG_SCRIPT,
        inputs,
        tmp_path,
        hung="jit(value_and_grad(KL)) over 1024 pairs in d = 32 hung (120 s, 20 calls)",
    )
    f64 = {k: v.astype(np.float64) for k, v in inputs.items()}
    args = (f64["m1"], f64["l1"], f64["m2"], f64["l2"])
    kl = _oracle(*args)[0]
    grads = dict(zip(("g_m1", "g_l1", "g_m2", "g_l2"), _kl_gradients(*args), strict=True))
    np.testing.assert_allclose(out["per_pair"], kl, rtol=5e-6)
    np.testing.assert_allclose(out["value"], kl.sum(), rtol=5e-6)
    np.testing.assert_allclose(out["value_cov"], kl.sum(), rtol=5e-6)
    for name, expected in grads.items():
        scale = np.max(np.abs(expected))
        np.testing.assert_allclose(out[name], expected, rtol=0, atol=1e-4 * scale, err_msg=name)


def test_no_lapack_call_in_value_and_gradient():
    """What keeps the program above from hanging: no custom call to jaxlib's LAPACK kernels in
    the compiled KL, entropy, cross-entropy or their gradients (a Cholesky or triangular
    solve in any of them can take part in the deadlock)."""
    rng = np.random.default_rng(0)
    d = 5
    low = np.tril(rng.normal(size=(3, d, d))) + 3 * np.eye(d)
    mean = rng.normal(size=(3, d))

    def everything(m, low):
        cov = low @ jnp.swapaxes(low, -1, -2)
        p, q = MVN.from_mean_scale_tril(m, low), MVN.from_mean_cov(m + 1, cov)
        total = expfam.kl_divergence(p, q) + expfam.cross_entropy(p, q) + expfam.entropy(p)
        total = total + expfam.bregman_kl(q, p) + q.log_prob(m) + jnp.sum(q.sample(_KEY), -1)
        return jnp.sum(total)

    hlo = (
        jax.jit(jax.value_and_grad(everything, argnums=(0, 1)))
        .lower(jnp.asarray(mean), jnp.asarray(low))
        .compile()
        .as_text()
    )
    assert "custom-call" not in hlo


def _member(d, batch=()):
    return MVN.from_mean_cov(jnp.zeros((*batch, d)), jnp.broadcast_to(jnp.eye(d), (*batch, d, d)))


@functools.cache
def _mismatched_pairs():
    """Pairs of members of different dimensions (3 against 4, unbatched and batched), built in
    one compiled program for every divergence that must refuse them."""
    return jax.jit(lambda: [(_member(3), _member(4)), (_member(4, (2,)), _member(3, (2,)))])()


@pytest.mark.parametrize(
    "divergence",
    [
        expfam.kl_divergence,
        expfam.cross_entropy,
        expfam.bregman_kl,
        expfam.kl_divergence_dual,
        expfam.jeffreys_divergence,
    ],
)
def test_pair_of_different_dimensions_names_both(divergence):
    # Was "Incompatible shapes for arguments to triangular_solve" from inside the closed form.
    for p, q in _mismatched_pairs():
        with pytest.raises(ValueError, match="different dimensions") as info:
            jax.jit(divergence)(p, q)
        message = str(info.value)
        assert f"({p.dim},)" in message and f"({q.dim},)" in message
        assert "triangular_solve" not in message


@pytest.mark.parametrize(
    "build, match",
    [
        (
            lambda: MVN.from_mean_scale_tril(jnp.zeros(3), jnp.eye(4)),
            r"mean has dimension 3 \(shape \(3,\)\) but scale_tril has dimension 4",
        ),
        (
            lambda: MVN.from_mean_cov(jnp.zeros((2, 4)), jnp.eye(3)),
            r"mean has dimension 4 .* but cov has dimension 3",
        ),
        (
            lambda: MVN.from_mean_scale_tril(jnp.zeros(3), jnp.ones((3, 4))),
            r"scale_tril must be a batch of square matrices \[..., d, d\], got shape \(3, 4\)",
        ),
        (
            lambda: MVN.from_mean_scale_tril(jnp.zeros(3), jnp.ones(3)),
            r"square matrices .* got shape \(3,\)",
        ),
        (
            lambda: MVN.from_mean_cov(0.0, jnp.eye(3)),
            r"mean has shape \(\); it must have a last axis of size d = 3",
        ),
        (
            lambda: MVN.from_mean_scale_tril(
                jnp.zeros((2, 3)), jnp.broadcast_to(jnp.eye(3), (5, 3, 3))
            ),
            r"mean has batch shape \(2,\) .* scale_tril has batch shape \(5,\) .* do not broadcast",
        ),
        (
            lambda: MVN.from_mean_parameters((jnp.zeros(3), jnp.eye(4))),
            r"\(mu\[0\]\) has dimension 3 .* \(mu\[1\]\) has dimension 4",
        ),
        (
            lambda: _member(3).with_natural_parameters((jnp.zeros(3), -0.5 * jnp.eye(4))),
            r"theta\[0\] has dimension 3 .* theta\[1\] has dimension 4",
        ),
        (
            lambda: _member(3).log_prob(jnp.zeros((5, 4))),
            r"x has shape \(5, 4\); its last axis must be the dimension d = 3",
        ),
    ],
    ids=[
        "mean_vs_scale_tril_dimension",
        "mean_vs_cov_dimension",
        "non_square_scale_tril",
        "vector_scale_tril",
        "scalar_mean",
        "batch_shapes_do_not_broadcast",
        "mean_parameters_dimension",
        "natural_parameters_dimension",
        "log_prob_point_dimension",
    ],
)
def test_shape_mistakes_raise_value_errors_naming_both_shapes(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_matching_shapes_still_broadcast():
    # Shapes only: traced abstractly, nothing is compiled.
    p = jax.eval_shape(
        lambda: MVN.from_mean_scale_tril(
            jnp.zeros((2, 1, 3)), jnp.broadcast_to(jnp.eye(3), (4, 3, 3))
        )
    )
    assert p.batch_shape == (2, 4)
    assert jax.eval_shape(lambda: _member(3).log_prob(jnp.zeros((5, 3)))).shape == (5,)


# ---------------------------------------------------------------- the closed forms in the factors


def _factors(rng, batch, d, *, flip_signs=False):
    """Random means and lower-triangular scale factors, float64 (a covariance L L')."""
    a = rng.normal(size=(batch, d, d)) / np.sqrt(d)
    low = np.linalg.cholesky(a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(d))
    if flip_signs:  # a factor with negative diagonal entries stands for the same covariance
        low = low * rng.choice([-1.0, 1.0], size=(batch, 1, d))
    return rng.normal(size=(batch, d)), low


def _oracle(m1, l1, m2, l2):
    """KL, entropy of p and cross-entropy H(p, q) from the textbook covariance forms, float64."""
    d = m1.shape[-1]
    s1, s2 = l1 @ np.swapaxes(l1, -1, -2), l2 @ np.swapaxes(l2, -1, -2)
    inv2 = np.linalg.inv(s2)
    diff = m2 - m1
    trace = np.einsum("bij,bji->b", inv2, s1)
    maha = np.einsum("bi,bij,bj->b", diff, inv2, diff)
    logdet1, logdet2 = np.linalg.slogdet(s1)[1], np.linalg.slogdet(s2)[1]
    kl = 0.5 * (trace + maha - d + logdet2 - logdet1)
    entropy = 0.5 * (d * (1 + np.log(2 * np.pi)) + logdet1)
    cross = 0.5 * (trace + maha + d * np.log(2 * np.pi) + logdet2)
    return kl, entropy, cross


def _kl_gradients(m1, l1, m2, l2):
    """d KL / d (m1, L1, m2, L2) in closed form (only the lower triangles are read).

    With S = L L': dKL/dS1 = (S2^-1 - S1^-1) / 2, dKL/dS2 = (S2^-1 - S2^-1 (S1 + dd') S2^-1) / 2
    (d = m2 - m1), and a symmetric G = dKL/dS gives dKL/dL = tril(2 G L).
    """
    s1, s2 = l1 @ np.swapaxes(l1, -1, -2), l2 @ np.swapaxes(l2, -1, -2)
    inv1, inv2 = np.linalg.inv(s1), np.linalg.inv(s2)
    diff = m2 - m1
    g_m1 = -np.einsum("bij,bj->bi", inv2, diff)
    g_s1 = 0.5 * (inv2 - inv1)
    outer = s1 + diff[..., :, None] * diff[..., None, :]
    g_s2 = 0.5 * (inv2 - inv2 @ outer @ inv2)
    return g_m1, np.tril(2 * g_s1 @ l1), -g_m1, np.tril(2 * g_s2 @ l2)


def _member_from_factors(build, m, low):
    if build == "cov":
        return MVN.from_mean_cov(m, low @ jnp.swapaxes(low, -1, -2))
    return MVN.from_mean_scale_tril(m, low)


@functools.partial(jax.jit, static_argnames="build")
def _kl_entropy_cross_entropy_bregman(m1, l1, m2, l2, *, build):
    p, q = _member_from_factors(build, m1, l1), _member_from_factors(build, m2, l2)
    return (
        expfam.kl_divergence(p, q),
        expfam.entropy(p),
        expfam.cross_entropy(p, q),
        expfam.bregman_kl(p, q),
    )


@pytest.mark.parametrize("d", [1, 3, 8, 12, 33])
@pytest.mark.parametrize("build", ["scale_tril", "cov"])
def test_kl_entropy_cross_entropy_match_the_covariance_forms(rng, d, build):
    m1, l1 = _factors(rng, 4, d, flip_signs=build == "scale_tril")
    m2, l2 = _factors(rng, 4, d, flip_signs=build == "scale_tril")
    kl, entropy, cross, bregman = _kl_entropy_cross_entropy_bregman(m1, l1, m2, l2, build=build)
    want_kl, want_entropy, want_cross = _oracle(m1, l1, m2, l2)
    np.testing.assert_allclose(kl, want_kl, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(entropy, want_entropy, rtol=1e-12)
    np.testing.assert_allclose(cross, want_cross, rtol=1e-10)
    np.testing.assert_allclose(bregman, want_kl, rtol=1e-9, atol=1e-10)


# check_grads differentiates these compiled programs (stable identities, compiled once per
# dimension): eager second-order checks dispatch every operation of the triangular solves.
@jax.jit
def _total_kl(m1, l1, m2, l2):
    p, q = MVN.from_mean_scale_tril(m1, l1), MVN.from_mean_scale_tril(m2, l2)
    return jnp.sum(expfam.kl_divergence(p, q))


@jax.jit
def _total_cross_entropy(m1, l1, m2, l2):
    p, q = MVN.from_mean_scale_tril(m1, l1), MVN.from_mean_scale_tril(m2, l2)
    return jnp.sum(expfam.cross_entropy(p, q))


_total_kl_gradients = jax.jit(jax.grad(_total_kl, argnums=(0, 1, 2, 3)))


@jax.jit
def _total_entropy_gradient(m, low):
    return jax.grad(lambda low: jnp.sum(expfam.entropy(MVN.from_mean_scale_tril(m, low))))(low)


@pytest.mark.parametrize("d", [3, 12])
def test_kl_gradients_match_the_closed_form(rng, d):
    args = (*_factors(rng, 3, d, flip_signs=True), *_factors(rng, 3, d))
    grads = _total_kl_gradients(*args)
    for name, got, want in zip(("m1", "L1", "m2", "L2"), grads, _kl_gradients(*args), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11, err_msg=name)
    check_grads(_total_kl, args, order=2, modes=("fwd", "rev"))
    check_grads(_total_cross_entropy, args, order=1, modes=("fwd", "rev"))
    # H(p) = const + sum log|L_ii|: the gradient in L is diag(1 / L_ii).
    np.testing.assert_allclose(
        _total_entropy_gradient(args[0], args[1]),
        np.eye(d) / np.diagonal(args[1], axis1=-2, axis2=-1)[..., None, :],
    )


@jax.jit
def _stored_and_natural(m, low):
    """What a member built from (m, L) stores and computes, and the member rebuilt from its
    natural parameters, in one compiled program."""
    p = MVN.from_mean_scale_tril(m, low)
    eta = p.natural_parameters()
    back = p.with_natural_parameters(eta)
    return p.loc, p.scale_tril(), eta, back.loc, back.covariance(), p.precision_factor


def test_stored_factors_and_natural_parameters_round_trip(rng):
    m, low = _factors(rng, 2, 12)
    loc, scale_tril, (eta1, eta2), back_loc, back_cov, precision_factor = _stored_and_natural(
        m, low
    )
    np.testing.assert_array_equal(loc, m)
    np.testing.assert_array_equal(scale_tril, low)
    cov = low @ np.swapaxes(low, -1, -2)
    precision = np.linalg.inv(cov)
    np.testing.assert_allclose(eta1, np.einsum("bij,bj->bi", precision, m), rtol=1e-10)
    np.testing.assert_allclose(eta2, -0.5 * precision, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(back_loc, m, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(back_cov, cov, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(precision_factor, np.linalg.inv(low), rtol=1e-10, atol=1e-12)
