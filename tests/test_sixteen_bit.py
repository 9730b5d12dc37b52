"""bfloat16 and float16 inputs through every public function of jaxdiv.mixture and jaxdiv.distill.

The contract (README, boundary conventions): 16-bit inputs are computed on in
float32 and give float32 results; the gradient with respect to each input
comes back in that input's dtype. So a function fed 16-bit inputs must give
the float32 computation on the same inputs rounded to 16 bits (the only
difference is the order of float32 sums), finite values and finite gradients.

The cases are generated from the modules' ``__all__``: a public function (or
class) without a case fails :func:`test_every_public_function_has_a_case`.
Each case stacks all its variants (methods, divergences, orders) into one
output vector under one ``jax.jit``, so each function compiles once per dtype.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdiv import distill, mixture
from jaxdiv.mixture import GaussianMixture

MODULES = {"mixture": mixture, "distill": distill}
DTYPES = [jnp.bfloat16, jnp.float16]
# Values against the float32 computation on the same rounded inputs: float32 rounding only.
RTOL, ATOL = 1e-5, 1e-6
KEY = jax.random.key(7)


def _target():
    """A fixed float32 target mixture (not an input: a constant of the cases)."""
    return GaussianMixture.univariate(
        np.array([0.5, 0.5], np.float32),
        np.array([-1.0, 1.5], np.float32),
        np.array([0.8, 1.2], np.float32),
    )


def _model(logits, means, raw_scales):
    """A two-component 1-D mixture from unconstrained inputs [2], [2], [2]."""
    return GaussianMixture.from_unconstrained(logits, means[:, None], raw_scales[:, None, None])


def _gaussian_mixture(weights, means, scales, x):
    """Every constructor, and the densities of x [N, 1] (scales whose squares are exact in 16
    bits, so that no rounding happens outside the function under test)."""
    k = weights.shape[0]
    models = [
        GaussianMixture.from_covariances(
            weights, means[:, None], jnp.square(scales)[:, None, None]
        ),
        GaussianMixture.univariate(weights, means, scales),
        GaussianMixture.diagonal(weights, means[:, None], jnp.square(scales)[:, None]),
        GaussianMixture.from_scale_tril(weights, means[:, None], scales[:, None, None]),
        _model(scales, means, scales),  # any reals are unconstrained values
    ]
    out = [m.log_prob(x) for m in models]
    out += [models[0].component_log_prob(x).reshape(-1), models[0].component_entropies()]
    out += [models[0].mean(), models[0].covariance().reshape(-1)]
    assert models[0].num_components == k
    return jnp.concatenate(out)


def _kl_divergence(logits, means, raw_scales):
    p, q = _model(logits, means, raw_scales), _target()
    values = []
    for method in mixture.KL_METHODS:
        values += [
            mixture.kl_divergence(p, q, method=method, key=KEY, num_samples=256),
            mixture.kl_divergence(q, p, method=method, key=KEY, num_samples=256),
        ]
    return jnp.stack(values)


def _renyi_divergence(logits, means, raw_scales):
    p, q = _model(logits, means, raw_scales), _target()
    return jnp.stack(
        [
            mixture.renyi_divergence(p, q, alpha=alpha, method=method, key=KEY, num_samples=256)
            for alpha in (0.5, 2.0)
            for method in ("quadrature", "monte_carlo")
        ]
    )


def _negative_log_likelihood(logits, means, raw_scales, x):
    model = _model(logits, means, raw_scales)
    mask = jnp.arange(x.shape[0]) % 3 != 0
    return jnp.stack(
        [
            mixture.negative_log_likelihood(model, x),
            mixture.negative_log_likelihood(model, x, where=mask),
        ]
    )


def _reverse_kl(logits, means, raw_scales):
    model = _model(logits, means, raw_scales)
    return mixture.reverse_kl(model, _target().log_prob, KEY, num_samples=64)[None]


def _variational_renyi(logits, means, raw_scales):
    model = _model(logits, means, raw_scales)
    return jnp.stack(
        [
            mixture.variational_renyi(model, _target().log_prob, KEY, alpha=a, num_samples=64)
            for a in (0.5, 2.0)
        ]
    )


DIVERGENCES = ("forward_kl", "reverse_kl", "jsd")


def _distillation_loss(student, teacher):
    mask = jnp.arange(student.shape[0]) % 4 != 1
    return jnp.stack(
        [
            distill.distillation_loss(
                student, teacher, divergence=d, beta=0.3, temperature=1.5, where=mask
            )
            for d in DIVERGENCES
        ]
    )


def _fused_linear_distillation_loss(hs, ws, ht, wt):
    mask = jnp.arange(hs.shape[0]) % 4 != 1
    return jnp.stack(
        [
            distill.fused_linear_distillation_loss(
                hs, ws, ht, wt, divergence=d, beta=0.3, temperature=1.5, where=mask, chunk_size=8
            )
            for d in DIVERGENCES
        ]
    )


def _unconstrained(rng):
    return [rng.normal(size=2), rng.normal(size=2) * 2, rng.normal(size=2) * 0.5 + 0.5]


def _inputs(name, rng):
    """The float32 inputs of each case (rounded to 16 bits by the test)."""
    if name == "mixture.GaussianMixture":
        return [
            np.array([0.25, 0.75]),
            np.array([-1.0, 2.0]),
            np.array([0.5, 1.5]),
            rng.normal(size=(6, 1)) * 2,
        ]
    if name == "mixture.negative_log_likelihood":
        return [*_unconstrained(rng), rng.normal(size=(12, 1)) * 2]
    if name.startswith("mixture."):
        return _unconstrained(rng)
    if name == "distill.distillation_loss":
        return [rng.normal(size=(10, 33)) * 2, rng.normal(size=(10, 33)) * 2]
    n, h, h_t, v = 21, 8, 6, 40
    return [
        rng.normal(size=(n, h)),
        rng.normal(size=(h, v)) * 0.5,
        rng.normal(size=(n, h_t)),
        rng.normal(size=(h_t, v)) * 0.5,
    ]


CASES = {
    "mixture.GaussianMixture": _gaussian_mixture,
    "mixture.kl_divergence": _kl_divergence,
    "mixture.renyi_divergence": _renyi_divergence,
    "mixture.negative_log_likelihood": _negative_log_likelihood,
    "mixture.reverse_kl": _reverse_kl,
    "mixture.variational_renyi": _variational_renyi,
    "distill.distillation_loss": _distillation_loss,
    "distill.fused_linear_distillation_loss": _fused_linear_distillation_loss,
}


def _values_and_grads(fn):
    """One jitted program: the case's values and the gradient of their sum for every input."""

    def run(*args):
        grads = jax.grad(lambda *a: jnp.sum(fn(*a)), argnums=tuple(range(len(args))))(*args)
        return fn(*args), grads

    return jax.jit(run)


_COMPILED = {name: _values_and_grads(fn) for name, fn in CASES.items()}


def test_every_public_function_has_a_case():
    public = {
        f"{module_name}.{name}"
        for module_name, module in MODULES.items()
        for name in module.__all__
        if callable(getattr(module, name))
    }
    # Converters of other libraries' objects take no arrays: mixture.from_distribution's 16-bit
    # behaviour is that of the GaussianMixture constructors it calls, which have cases.
    public -= {"mixture.from_distribution"}
    assert public - set(CASES) == set(), "public functions without a 16-bit case"
    assert set(CASES) - public == set(), "cases for names that are not public"


@pytest.mark.parametrize("dtype", DTYPES, ids=["bfloat16", "float16"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_sixteen_bit_inputs(name, dtype, rng):
    run = _COMPILED[name]
    low = [jnp.asarray(x, dtype) for x in _inputs(name, rng)]
    rounded = [x.astype(jnp.float32) for x in low]
    values, grads = run(*low)
    want, want_grads = run(*rounded)
    assert values.dtype == jnp.float32, values.dtype
    assert np.all(np.isfinite(values)), values
    np.testing.assert_allclose(values, want, rtol=RTOL, atol=ATOL)
    for g, x, w in zip(grads, low, want_grads, strict=True):
        assert g.dtype == dtype and g.shape == x.shape
        assert np.all(np.isfinite(np.asarray(g, np.float32)))
        # The same gradient, rounded once to the input's 16 bits.
        np.testing.assert_allclose(
            np.asarray(g, np.float32),
            w,
            rtol=2 * float(jnp.finfo(dtype).eps),
            atol=2 * float(jnp.finfo(dtype).eps) * float(np.max(np.abs(w))),
        )
