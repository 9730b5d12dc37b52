"""Mixtures and the Wishart family: the CPU thread-pool hang of jaxlib 0.10.2 (issue 13).

jaxlib 0.10.2's batched LAPACK kernels deadlock XLA's CPU thread pool when several
run at once (docs/known_issues.md). The mixture KL estimators factor ``K x M``
covariances and invert their factors, so their value and gradient held several
such calls: ``jit(value_and_grad)`` of the product estimator at K = 32, d = 32
never returned on 2 cores.
"""

import textwrap

import jax
import jax.numpy as jnp
import numpy as np
from conftest import run_saved_inputs_script

from jaxdiv import expfam, mixture

_KEY = jax.random.key(0)

# The reported program: jit(value_and_grad) of the product KL between two mixtures of
# K = 32 components in d = 32, float32, called 10 times, on every core of the machine.
# In a subprocess: the hang is in XLA's thread pool and cannot be interrupted in-process.
_HANG_SCRIPT = textwrap.dedent(
    """
    import sys
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jaxdiv import mixture

    data = np.load(sys.argv[1])
    args = [jnp.asarray(data[k]) for k in ("w1", "m1", "l1", "w2", "m2", "l2")]

    def total(m1, l1, m2, l2, w1, w2):
        p = mixture.GaussianMixture.from_scale_tril(w1, m1, l1)
        q = mixture.GaussianMixture.from_scale_tril(w2, m2, l2)
        return jnp.sum(mixture.kl_divergence(p, q, method="product"))

    f = jax.jit(jax.value_and_grad(total, argnums=(0, 1, 2, 3)))
    w1, m1, l1, w2, m2, l2 = args
    for _ in range(10):
        value, grads = jax.block_until_ready(f(m1, l1, m2, l2, w1, w2))
    np.savez(sys.argv[2], value=value, g_m1=grads[0], g_l1=grads[1], g_m2=grads[2],
             g_l2=grads[3])
    """
)


def _log_overlaps(ma, la, mb, lb):
    """``[A, B]`` values ``log N(mu_a; mu_b, S_a + S_b)`` in float64 with numpy."""
    cov = (la @ np.swapaxes(la, -1, -2))[:, None] + (lb @ np.swapaxes(lb, -1, -2))[None]
    diff = ma[:, None] - mb[None]
    _, logdet = np.linalg.slogdet(cov)
    quad = np.einsum("abi,abi->ab", diff, np.linalg.solve(cov, diff[..., None])[..., 0])
    return -0.5 * (quad + logdet + ma.shape[-1] * np.log(2 * np.pi))


def _product_kl(w1, m1, l1, w2, m2, l2):
    """The product estimator (Hershey and Olsen 2007) written out in numpy float64."""

    def lse(log_w, terms):
        top = np.max(log_w + terms, axis=-1, keepdims=True)
        return top[:, 0] + np.log(np.sum(np.exp(log_w + terms - top), axis=-1))

    own = lse(np.log(w1), _log_overlaps(m1, l1, m1, l1))
    other = lse(np.log(w2), _log_overlaps(m1, l1, m2, l2))
    return np.sum(w1 * (own - other))


def test_product_kl_value_and_grad_does_not_hang_on_all_cores(tmp_path):
    """Before the mixtures left LAPACK this program never returned on 2 cores (pinned to
    one core it ran). The test also checks the value against numpy in float64 and the
    gradient against a central difference of that value along a random direction."""
    k, d = 32, 32
    rng = np.random.default_rng(13)

    def tril():
        a = rng.normal(size=(k, d, d)) / np.sqrt(d)
        return np.linalg.cholesky(a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(d))

    inputs = {
        "w1": rng.dirichlet(np.ones(k)),
        "m1": rng.normal(size=(k, d)),
        "l1": tril(),
        "w2": rng.dirichlet(np.ones(k)),
        "m2": rng.normal(size=(k, d)),
        "l2": tril(),
    }
    inputs = {name: v.astype(np.float32) for name, v in inputs.items()}
    out = run_saved_inputs_script(
        _HANG_SCRIPT,
        inputs,
        tmp_path,
        hung="jit(value_and_grad(product KL)) at K = 32, d = 32 hung (120 s, 10 calls)",
    )
    f64 = {name: v.astype(np.float64) for name, v in inputs.items()}
    expected = _product_kl(**f64)
    np.testing.assert_allclose(out["value"], expected, rtol=1e-4, atol=1e-4)

    # Directional derivative along a random direction (lower-triangular for the factors).
    names = ("m1", "l1", "m2", "l2")
    direction = {name: rng.normal(size=f64[name].shape) for name in names}
    for name in ("l1", "l2"):
        direction[name] = np.tril(direction[name])
    step = 1e-5

    def shifted(sign):
        return _product_kl(**{**f64, **{n: f64[n] + sign * step * direction[n] for n in names}})

    fd = (shifted(1) - shifted(-1)) / (2 * step)
    analytic = sum(np.sum(out[f"g_{n}"].astype(np.float64) * direction[n]) for n in names)
    for name in names:
        assert np.all(np.isfinite(out[f"g_{name}"])), name
    np.testing.assert_allclose(analytic, fd, rtol=2e-3)


def _no_custom_call(fun, *args):
    hlo = jax.jit(jax.value_and_grad(fun, argnums=tuple(range(len(args))))).lower(*args)
    text = hlo.compile().as_text()
    assert "custom-call" not in text, "a LAPACK custom call is in the compiled program"


def test_no_lapack_call_in_mixture_value_and_gradient():
    """What keeps the program above from hanging: no custom call to jaxlib's LAPACK kernels in
    the compiled mixture estimators, densities, constructors or their gradients. d = 10 so
    that the blocked factorisation of :mod:`jaxdiv._linalg` is the one compiled."""
    rng = np.random.default_rng(0)
    k, d = 3, 10
    low = jnp.asarray(np.tril(rng.normal(size=(k, d, d))) + 3 * np.eye(d))
    means = jnp.asarray(rng.normal(size=(k, d)))
    weights = jnp.full((k,), 1.0 / k)

    def everything(means, low):
        cov = low @ jnp.swapaxes(low, -1, -2)
        p = mixture.GaussianMixture.from_covariances(weights, means, cov)
        q = mixture.GaussianMixture.from_scale_tril(weights, means + 1, low)
        single = expfam.MultivariateNormal.from_mean_scale_tril(means[0], low[0])
        total = sum(
            mixture.kl_divergence(p, q, method=method)
            for method in ("variational", "goldberger", "product", "lower_bound", "upper_bound")
        )
        total = total + mixture.kl_divergence(single, q, method="product")
        total = total + mixture.kl_divergence(p, q, method="monte_carlo", key=_KEY, num_samples=8)
        return total + jnp.sum(p.log_prob(means)) + jnp.sum(q.sample(_KEY, (4,)))

    _no_custom_call(everything, means, low)


def test_no_lapack_call_in_wishart_value_and_gradient():
    """The Wishart family's constructor, log-normaliser, divergences, log-density and samples
    compile without a LAPACK custom call (p = 10: the blocked factorisation)."""
    rng = np.random.default_rng(1)
    p = 10
    a = rng.normal(size=(2, p, p))
    scale = jnp.asarray(a @ np.swapaxes(a, -1, -2) / p + np.eye(p))
    x = jnp.asarray(np.eye(p) * 2.0)

    def everything(df, scale):
        w1 = expfam.Wishart.from_df_scale(df, scale)
        w2 = expfam.Wishart.from_df_scale(df + 1, scale[::-1])
        total = expfam.kl_divergence(w1, w2) + expfam.entropy(w1) + w1.log_prob(x)
        total = total + jnp.sum(w2.scale(), (-2, -1)) + jnp.sum(w1.sample(_KEY), (-2, -1))
        return jnp.sum(total + w1.in_domain())

    _no_custom_call(everything, jnp.asarray([12.0, 15.0]), scale)
