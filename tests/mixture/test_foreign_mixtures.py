"""mixture.from_distribution: the MixtureSameFamily of distrax, TFP and NumPyro as GaussianMixture.

Oracles are the libraries themselves: the converted mixture's log-density
equals the library's, and in one dimension the KL by jaxdiv's quadrature (the
foreign objects passed directly) equals a fine trapezoid rule over the
libraries' own log-densities, with equal gradients with respect to the foreign
parameters. Each library is skipped where it is not installed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdiv import mixture

RNG = np.random.default_rng(20261127)

# Compiling the checks is most of this file's time; XLA's cheaper CPU pipeline halves it.
_FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def _f32(x: Any) -> np.ndarray:
    return np.asarray(x, np.float32)


def _univariate_params() -> tuple[np.ndarray, ...]:
    """Logits, locations and scales of three components."""
    return _f32(RNG.normal(size=3)), _f32(RNG.uniform(-2, 2, 3)), _f32(RNG.uniform(0.5, 1.5, 3))


def _tril_params() -> tuple[np.ndarray, ...]:
    """Logits, means and Cholesky factors of two components in two dimensions."""
    chol = np.tril(RNG.normal(scale=0.3, size=(2, 2, 2)), -1) + np.eye(2) * RNG.uniform(
        0.6, 1.4, (2, 2, 1)
    )
    return _f32(RNG.normal(size=2)), _f32(RNG.normal(size=(2, 2))), _f32(chol)


def _diag_params() -> tuple[np.ndarray, ...]:
    """Logits, means and scales of two components in three dimensions."""
    return (
        _f32(RNG.normal(size=2)),
        _f32(RNG.normal(size=(2, 3))),
        _f32(RNG.uniform(0.5, 1.5, (2, 3))),
    )


@dataclasses.dataclass(frozen=True)
class Builders:
    """A library's mixtures from (logits, locations, scales): one-dimensional, with
    Cholesky-factor components and with diagonal components."""

    univariate: Callable[..., Any]
    tril: Callable[..., Any]
    diag: Callable[..., Any]


def _tfp() -> Builders:
    tfd = pytest.importorskip("tensorflow_probability.substrates.jax").distributions
    return Builders(
        lambda w, m, s: tfd.MixtureSameFamily(tfd.Categorical(logits=w), tfd.Normal(m, s)),
        lambda w, m, s: tfd.MixtureSameFamily(
            tfd.Categorical(logits=w), tfd.MultivariateNormalTriL(m, s)
        ),
        lambda w, m, s: tfd.MixtureSameFamily(
            tfd.Categorical(logits=w), tfd.Independent(tfd.Normal(m, s), 1)
        ),
    )


def _distrax() -> Builders:
    distrax = pytest.importorskip("distrax")
    return Builders(
        lambda w, m, s: distrax.MixtureSameFamily(
            distrax.Categorical(logits=w), distrax.Normal(m, s)
        ),
        lambda w, m, s: distrax.MixtureSameFamily(
            distrax.Categorical(logits=w), distrax.MultivariateNormalTri(m, s)
        ),
        lambda w, m, s: distrax.MixtureSameFamily(
            distrax.Categorical(probs=jax.nn.softmax(w)), distrax.MultivariateNormalDiag(m, s)
        ),
    )


def _numpyro() -> Builders:
    pytest.importorskip("numpyro")
    import numpyro.distributions as nd

    return Builders(
        lambda w, m, s: nd.MixtureSameFamily(nd.Categorical(logits=w), nd.Normal(m, s)),
        lambda w, m, s: nd.MixtureSameFamily(
            nd.Categorical(logits=w), nd.MultivariateNormal(m, scale_tril=s)
        ),
        lambda w, m, s: nd.MixtureSameFamily(
            nd.Categorical(probs=jax.nn.softmax(w)), nd.Normal(m, s).to_event(1)
        ),
    )


LIBRARIES = {"tfp": _tfp, "distrax": _distrax, "numpyro": _numpyro}

GRID = np.linspace(-12.0, 12.0, 6001, dtype=np.float32)


def _trapezoid_kl(p: Any, q: Any) -> jax.Array:
    """KL(p || q) by the trapezoid rule over the libraries' own one-dimensional densities."""
    lp, lq = p.log_prob(GRID), q.log_prob(GRID)
    f = jnp.exp(lp) * (lp - lq)
    return jnp.sum(0.5 * (f[1:] + f[:-1])) * (GRID[1] - GRID[0])


def _check_univariate(build: Callable[..., Any], p: tuple, q: tuple, x: np.ndarray) -> dict:
    def ours(*a: jax.Array) -> jax.Array:
        return mixture.kl_divergence(build(*a), build(*q), method="quadrature")

    def theirs(*a: jax.Array) -> jax.Array:
        return _trapezoid_kl(build(*a), build(*q))

    argnums = (0, 1, 2)
    return {
        "log_prob": mixture.from_distribution(build(*p)).log_prob(x[:, None]),
        "log_prob_oracle": build(*p).log_prob(x),
        "kl": ours(*p),
        "kl_oracle": theirs(*p),
        "grads": jax.grad(ours, argnums)(*p),
        "grads_oracle": jax.grad(theirs, argnums)(*p),
    }


def _check_multivariate(build: Callable[..., Any], p: tuple, x: np.ndarray) -> dict:
    def ours(*a: jax.Array) -> jax.Array:
        return jnp.sum(mixture.from_distribution(build(*a)).log_prob(x))

    def theirs(*a: jax.Array) -> jax.Array:
        return jnp.sum(build(*a).log_prob(x))

    argnums = (0, 1, 2)
    return {
        "log_prob": mixture.from_distribution(build(*p)).log_prob(x),
        "log_prob_oracle": build(*p).log_prob(x),
        "grads": jax.grad(ours, argnums)(*p),
        "grads_oracle": jax.grad(theirs, argnums)(*p),
    }


def _assert_close(values: dict, rtol: float, label: str) -> None:
    for name in [n for n in values if not n.endswith("_oracle")]:
        got, want = values[name], values[name + "_oracle"]
        for i, (g, w) in enumerate(zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True)):
            # Gradients in a Cholesky factor's upper triangle are not compared: jaxdiv reads
            # only the lower one, as the libraries' log-densities do.
            if name == "grads" and i == 2 and g.ndim == 3 and g.shape[-1] == g.shape[-2]:
                g, w = jnp.tril(g), jnp.tril(w)
            np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol, err_msg=f"{label} {name}")


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_mixtures_match_the_library(library):
    build = LIBRARIES[library]()
    with jax.numpy_rank_promotion("allow"):  # the libraries broadcast implicitly
        p, q, x = _univariate_params(), _univariate_params(), _f32(RNG.normal(size=5) * 2)
        check = jax.jit(lambda p, q, x: _check_univariate(build.univariate, p, q, x))
        values = check.lower(p, q, x).compile(_FAST_COMPILE)(p, q, x)
        _assert_close(values, 2e-4, f"{library} univariate")

        for kind, params, dim in (("tril", _tril_params(), 2), ("diag", _diag_params(), 3)):
            member_build = getattr(build, kind)
            converted = mixture.from_distribution(member_build(*params))
            assert (converted.num_components, converted.dim) == (2, dim)
            x = _f32(RNG.normal(size=(4, dim)))
            check = jax.jit(lambda p, x, b=member_build: _check_multivariate(b, p, x))
            values = check.lower(params, x).compile(_FAST_COMPILE)(params, x)
            _assert_close(values, 2e-5, f"{library} {kind}")


def test_every_mixture_function_accepts_foreign_mixtures():
    """The divergences and objectives convert at the door: values equal the converted ones'."""
    tfd = pytest.importorskip("tensorflow_probability.substrates.jax").distributions
    w, m, s = _tril_params()
    x = _f32(RNG.normal(size=(6, 2)))

    def foreign_and_converted(w, m, s, x):
        """The foreign objects and their conversions, built from arrays inside one program."""
        p = tfd.MixtureSameFamily(tfd.Categorical(logits=w), tfd.MultivariateNormalTriL(m, s))
        q = tfd.MultivariateNormalTriL(jnp.zeros(2, jnp.float32), jnp.eye(2, dtype=jnp.float32))
        mp, mq = mixture.from_distribution(p), mixture.from_distribution(q)
        assert mq.num_components == 1
        pairs = [
            (lambda a, b: mixture.kl_divergence(a, b, method="variational"), (p, q), (mp, mq)),
            (lambda a: mixture.negative_log_likelihood(a, x), (p,), (mp,)),
        ]
        return [(fn(*foreign), fn(*converted)) for fn, foreign, converted in pairs]

    with jax.numpy_rank_promotion("allow"):
        values = jax.jit(foreign_and_converted)(w, m, s, x)
    for name, (foreign, converted) in zip(("kl_divergence", "nll"), values, strict=True):
        np.testing.assert_allclose(foreign, converted, rtol=1e-6, err_msg=name)


def test_unsupported_mixtures_raise():
    tfd = pytest.importorskip("tensorflow_probability.substrates.jax").distributions
    logits = jnp.zeros((4, 2), jnp.float32)
    batched = tfd.MixtureSameFamily(tfd.Categorical(logits=logits), tfd.Normal(logits, 1.0))
    with pytest.raises(ValueError, match="batch shape \\(4,\\)"):
        mixture.from_distribution(batched)
    log_normals = tfd.MixtureSameFamily(
        tfd.Categorical(logits=logits[0]), tfd.LogNormal(logits[0], 1.0)
    )
    with pytest.raises(TypeError, match=r"components must be Gaussians.*LogNormal"):
        mixture.kl_divergence(log_normals, log_normals, method="variational")
    student = tfd.MixtureSameFamily(
        tfd.Categorical(logits=logits[0]), tfd.StudentT(3.0, logits[0], 1.0)
    )  # no exponential family at all: the message still says what a component must be
    with pytest.raises(TypeError, match=r"components must be Gaussians.*got StudentT\.$"):
        mixture.from_distribution(student)
    with pytest.raises(TypeError, match="or a MixtureSameFamily of Gaussians"):
        mixture.kl_divergence("a string", log_normals, method="variational")
