"""expfam.from_distribution: distrax, TFP (JAX substrate) and NumPyro objects as jaxdiv members.

The oracle is each library itself: for every supported family the converted
member's log-density at the library's own samples, its entropy and the KL
divergence of the pair equal the library's, in float32, with the batch shape
kept; gradients with respect to the foreign object's parameters (the object
built inside the differentiated function) equal those of the library's own
value. The libraries come with the test extra and are skipped where absent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdiv import expfam

RNG = np.random.default_rng(20261127)


def _f32(x: Any) -> np.ndarray:
    return np.asarray(x, np.float32)


def _pos(*shape: int, lo: float = 0.5, hi: float = 2.0) -> np.ndarray:
    return _f32(RNG.uniform(lo, hi, shape))


def _real(*shape: int) -> np.ndarray:
    return _f32(RNG.normal(size=shape))


def _probs(*shape: int) -> np.ndarray:
    return _f32(RNG.dirichlet(np.ones(shape[-1]), size=shape[:-1]))


def _unit(*shape: int) -> np.ndarray:
    return _f32(RNG.uniform(0.15, 0.85, shape))


def _tril(*shape: int) -> np.ndarray:
    """Lower-triangular factors with a positive diagonal, `shape = (..., d, d)`."""
    m = np.tril(RNG.normal(scale=0.3, size=shape), -1)
    return _f32(m + np.eye(shape[-1]) * RNG.uniform(0.7, 1.5, shape[:-1])[..., None])


def _simplex_tangent(g: jax.Array) -> jax.Array:
    return g - jnp.mean(g, axis=-1, keepdims=True)


def _lower(g: jax.Array) -> jax.Array:
    return jnp.tril(g)


def _cov(*shape: int) -> np.ndarray:
    chol = _tril(*shape).astype(np.float64)
    return _f32(chol @ np.swapaxes(chol, -1, -2))


@dataclasses.dataclass(frozen=True)
class Case:
    """A foreign family: `build(*params)` makes the object; `p` and `q` are two members'
    parameters. `kl` and `entropy` say whether the library computes them for the pair."""

    name: str
    family: type
    build: Callable[..., Any]
    p: tuple[np.ndarray, ...]
    q: tuple[np.ndarray, ...]
    kl: bool = True
    entropy: bool = True
    rtol: float = 2e-5
    # Gradients are compared once per family and way of giving its parameters (in the
    # first library below that has it, to keep the compile time down); elsewhere the values
    # are still computed under jit from traced parameters, so a conversion that left JAX
    # (numpy, float()) would fail there.
    grads: bool = True
    # distrax keeps a Laplace's location and a Multinomial's count as arrays, traced under
    # jit; jaxdiv keeps them static, so those objects convert only outside jit.
    jit: bool = True
    # Where the libraries differ off the set of valid parameters, the gradients are
    # compared on it: their projections onto the simplex, their lower triangles.
    grad_views: dict[int, Callable[[jax.Array], jax.Array]] = dataclasses.field(
        default_factory=dict
    )


@dataclasses.dataclass(frozen=True)
class Library:
    name: str
    kl: Callable[[Any, Any], jax.Array]
    sample: Callable[[Any, jax.Array], jax.Array]


def _tfp_cases() -> tuple[Library, list[Case]]:
    tfp = pytest.importorskip("tensorflow_probability.substrates.jax")
    tfd = tfp.distributions
    lib = Library("tfp", tfd.kl_divergence, lambda d, key: d.sample(seed=key))
    n = 5
    cases = [
        Case("Normal", expfam.Normal, tfd.Normal, (_real(3), _pos(3)), (_real(3), _pos(3))),
        Case(
            "LogNormal", expfam.LogNormal, tfd.LogNormal, (_real(3), _pos(3)), (_real(3), _pos(3))
        ),
        Case(
            "MultivariateNormalTriL",
            expfam.MultivariateNormal,
            lambda m, s: tfd.MultivariateNormalTriL(m, s),
            (_real(2, 3), _tril(2, 3, 3)),
            (_real(2, 3), _tril(2, 3, 3)),
            rtol=1e-4,
            grad_views={1: _lower},
        ),
        Case(
            "MultivariateNormalDiag",
            expfam.MultivariateNormalDiag,
            lambda m, s: tfd.MultivariateNormalDiag(m, s),
            (_real(2, 3), _pos(2, 3)),
            (_real(2, 3), _pos(2, 3)),
        ),
        Case(
            "Independent",
            expfam.MultivariateNormalDiag,
            lambda m, s: tfd.Independent(tfd.Normal(m, s), reinterpreted_batch_ndims=1),
            (_real(2, 3), _pos(2, 3)),
            (_real(2, 3), _pos(2, 3)),
        ),
        Case("Gamma", expfam.Gamma, tfd.Gamma, (_pos(3), _pos(3)), (_pos(3), _pos(3))),
        Case(
            "Gamma(log_rate)",
            expfam.Gamma,
            lambda a, lr: tfd.Gamma(a, log_rate=lr),
            (_pos(3), _real(3)),
            (_pos(3), _real(3)),
        ),
        Case("Exponential", expfam.Exponential, tfd.Exponential, (_pos(3),), (_pos(3),)),
        Case("Beta", expfam.Beta, tfd.Beta, (_pos(3), _pos(3)), (_pos(3), _pos(3))),
        Case("Dirichlet", expfam.Dirichlet, tfd.Dirichlet, (_pos(2, 4),), (_pos(2, 4),)),
        Case(
            "Bernoulli(probs)",
            expfam.Bernoulli,
            lambda p: tfd.Bernoulli(probs=p),
            (_unit(3),),
            (_unit(3),),
        ),
        Case(
            "Bernoulli(logits)",
            expfam.Bernoulli,
            lambda x: tfd.Bernoulli(logits=x),
            (_real(3),),
            (_real(3),),
        ),
        Case(
            "Categorical(probs)",
            expfam.Categorical,
            lambda p: tfd.Categorical(probs=p),
            (_probs(2, 4),),
            (_probs(2, 4),),
            grad_views={0: _simplex_tangent},
        ),
        Case(
            "Categorical(logits)",
            expfam.Categorical,
            lambda x: tfd.Categorical(logits=x),
            (_real(2, 4),),
            (_real(2, 4),),
        ),
        Case(
            "Binomial(probs)",
            expfam.Binomial,
            lambda p: tfd.Binomial(total_count=float(n), probs=p),
            (_unit(3),),
            (_unit(3),),
            kl=False,
            entropy=False,
        ),
        Case(
            "Binomial(logits)",
            expfam.Binomial,
            lambda x: tfd.Binomial(total_count=float(n), logits=x),
            (_real(3),),
            (_real(3),),
            kl=False,
            entropy=False,
        ),
        Case(
            "Poisson",
            expfam.Poisson,
            lambda r: tfd.Poisson(rate=r),
            (_pos(3),),
            (_pos(3),),
            kl=False,
            entropy=False,
        ),
        Case(
            "Poisson(log_rate)",
            expfam.Poisson,
            lambda lr: tfd.Poisson(log_rate=lr),
            (_real(3),),
            (_real(3),),
            kl=False,
            entropy=False,
        ),
        Case(
            "Geometric(probs)",
            expfam.Geometric,
            lambda p: tfd.Geometric(probs=p),
            (_unit(3),),
            (_unit(3),),
            kl=False,
        ),
        Case(
            "Geometric(logits)",
            expfam.Geometric,
            lambda x: tfd.Geometric(logits=x),
            (_real(3),),
            (_real(3),),
            kl=False,
        ),
        Case("VonMises", expfam.VonMises, tfd.VonMises, (_real(3), _pos(3)), (_real(3), _pos(3))),
        Case(
            "WishartTriL",
            expfam.Wishart,
            lambda df, s: tfd.WishartTriL(df, scale_tril=s),
            (_pos(2, lo=3.5, hi=6.0), _tril(2, 3, 3)),
            (_pos(2, lo=3.5, hi=6.0), _tril(2, 3, 3)),
            rtol=1e-4,
            kl=False,
            grad_views={1: _lower},
        ),
    ]
    cases += [
        Case(
            "InverseGamma",
            expfam.InverseGamma,
            tfd.InverseGamma,
            (_pos(3), _pos(3)),
            (_pos(3), _pos(3)),
            kl=False,
        ),
        Case(
            "InverseGaussian",
            expfam.InverseGaussian,
            tfd.InverseGaussian,
            (_pos(3), _pos(3)),
            (_pos(3), _pos(3)),
            kl=False,
            entropy=False,
        ),
        Case("Weibull", expfam.Weibull, lambda s: tfd.Weibull(1.7, s), (_pos(3),), (_pos(3),)),
        Case("Chi", expfam.Chi, tfd.Chi, (_pos(3, hi=4.0),), (_pos(3, hi=4.0),)),
        Case("Chi2", expfam.ChiSquare, tfd.Chi2, (_pos(3, hi=4.0),), (_pos(3, hi=4.0),)),
        Case("HalfNormal", expfam.HalfNormal, tfd.HalfNormal, (_pos(3),), (_pos(3),)),
        Case("Laplace", expfam.Laplace, lambda s: tfd.Laplace(0.5, s), (_pos(3),), (_pos(3),)),
        Case(
            "Pareto",
            expfam.Pareto,
            lambda a: tfd.Pareto(a, 0.8),
            (_pos(3),),
            (_pos(3),),
            entropy=False,
        ),
        Case(
            "NegativeBinomial(probs)",
            expfam.NegativeBinomial,
            lambda p: tfd.NegativeBinomial(3.5, probs=p),
            (_unit(3),),
            (_unit(3),),
            kl=False,
            entropy=False,
        ),
        Case(
            "NegativeBinomial(logits)",
            expfam.NegativeBinomial,
            lambda x: tfd.NegativeBinomial(3.0, logits=x),
            (_real(3),),
            (_real(3),),
            kl=False,
            entropy=False,
        ),
        Case(
            "Multinomial",
            expfam.Multinomial,
            lambda x: tfd.Multinomial(4.0, logits=x),
            (_real(2, 3),),
            (_real(2, 3),),
            kl=False,
            entropy=False,
        ),
        Case(
            "ContinuousBernoulli",
            expfam.ContinuousBernoulli,
            lambda p: tfd.ContinuousBernoulli(probs=p),
            (_unit(3),),
            (_unit(3),),
        ),
        Case(
            "VonMisesFisher",
            expfam.VonMisesFisher,
            lambda m, k: tfd.VonMisesFisher(m / jnp.linalg.norm(m, axis=-1, keepdims=True), k),
            (_real(2, 3), _pos(2)),
            (_real(2, 3), _pos(2)),
            kl=False,
        ),
    ]
    return lib, cases


def _distrax_cases() -> tuple[Library, list[Case]]:
    distrax = pytest.importorskip("distrax")
    lib = Library("distrax", lambda p, q: p.kl_divergence(q), lambda d, key: d.sample(seed=key))
    cases = [
        Case("Normal", expfam.Normal, distrax.Normal, (_real(3), _pos(3)), (_real(3), _pos(3))),
        Case(
            "LogStddevNormal",
            expfam.Normal,
            distrax.LogStddevNormal,
            (_real(3), _real(3)),
            (_real(3), _real(3)),
        ),
        Case(
            "MultivariateNormalTri",
            expfam.MultivariateNormal,
            distrax.MultivariateNormalTri,
            (_real(2, 3), _tril(2, 3, 3)),
            (_real(2, 3), _tril(2, 3, 3)),
            rtol=1e-4,
            grad_views={1: _lower},
        ),
        Case(
            "MultivariateNormalTri(upper)",
            expfam.MultivariateNormal,
            lambda m, s: distrax.MultivariateNormalTri(m, jnp.swapaxes(s, -1, -2), is_lower=False),
            (_real(2, 3), _tril(2, 3, 3)),
            (_real(2, 3), _tril(2, 3, 3)),
            rtol=1e-4,
            grad_views={1: _lower},
        ),
        Case(
            "MultivariateNormalDiag",
            expfam.MultivariateNormalDiag,
            distrax.MultivariateNormalDiag,
            (_real(2, 3), _pos(2, 3)),
            (_real(2, 3), _pos(2, 3)),
        ),
        Case(
            "Independent",
            expfam.MultivariateNormalDiag,
            lambda m, s: distrax.Independent(distrax.Normal(m, s), 1),
            (_real(2, 3), _pos(2, 3)),
            (_real(2, 3), _pos(2, 3)),
        ),
        Case("Gamma", expfam.Gamma, distrax.Gamma, (_pos(3), _pos(3)), (_pos(3), _pos(3))),
        Case("Beta", expfam.Beta, distrax.Beta, (_pos(3), _pos(3)), (_pos(3), _pos(3))),
        Case("Dirichlet", expfam.Dirichlet, distrax.Dirichlet, (_pos(2, 4),), (_pos(2, 4),)),
        Case(
            "Bernoulli(probs)",
            expfam.Bernoulli,
            lambda p: distrax.Bernoulli(probs=p),
            (_unit(3),),
            (_unit(3),),
        ),
        Case(
            "Bernoulli(logits)",
            expfam.Bernoulli,
            lambda x: distrax.Bernoulli(logits=x),
            (_real(3),),
            (_real(3),),
        ),
        Case(
            "Categorical(probs)",
            expfam.Categorical,
            lambda p: distrax.Categorical(probs=p),
            (_probs(2, 4),),
            (_probs(2, 4),),
            grad_views={0: _simplex_tangent},
        ),
        Case(
            "Categorical(logits)",
            expfam.Categorical,
            lambda x: distrax.Categorical(logits=x),
            (_real(2, 4),),
            (_real(2, 4),),
        ),
        Case(
            "VonMises",
            expfam.VonMises,
            distrax.VonMises,
            (_real(3), _pos(3)),
            (_real(3), _pos(3)),
        ),
    ]
    cases += [
        Case(
            "Laplace",
            expfam.Laplace,
            lambda s: distrax.Laplace(0.5, s),
            (_pos(3),),
            (_pos(3),),
            jit=False,
        ),
        Case(
            "Multinomial",
            expfam.Multinomial,
            lambda p: distrax.Multinomial(4, probs=p),
            (_probs(2, 3),),
            (_probs(2, 3),),
            kl=False,
            grad_views={0: _simplex_tangent},
            jit=False,
        ),
    ]
    return lib, cases


def _numpyro_cases() -> tuple[Library, list[Case]]:
    pytest.importorskip("numpyro")
    import numpyro.distributions as nd
    from numpyro.distributions.kl import kl_divergence

    lib = Library("numpyro", kl_divergence, lambda d, key: d.sample(key))
    n = 5
    cases = [
        Case("Normal", expfam.Normal, nd.Normal, (_real(3), _pos(3)), (_real(3), _pos(3))),
        Case(
            "LogNormal",
            expfam.LogNormal,
            nd.LogNormal,
            (_real(3), _pos(3)),
            (_real(3), _pos(3)),
            kl=False,
        ),
        Case(
            "MultivariateNormal(scale_tril)",
            expfam.MultivariateNormal,
            lambda m, s: nd.MultivariateNormal(m, scale_tril=s),
            (_real(2, 3), _tril(2, 3, 3)),
            (_real(2, 3), _tril(2, 3, 3)),
            rtol=1e-4,
            grad_views={1: _lower},
        ),
        Case(
            "LowRankMultivariateNormal",
            expfam.MultivariateNormal,
            nd.LowRankMultivariateNormal,
            (_real(2, 3), _real(2, 3, 1), _pos(2, 3)),
            (_real(2, 3), _real(2, 3, 1), _pos(2, 3)),
            rtol=1e-4,
            kl=False,
        ),
        Case(
            "Independent",
            expfam.MultivariateNormalDiag,
            lambda m, s: nd.Normal(m, s).to_event(1),
            (_real(2, 3), _pos(2, 3)),
            (_real(2, 3), _pos(2, 3)),
        ),
        Case(
            "ExpandedDistribution",
            expfam.Normal,
            lambda m, s: nd.Normal(m, s).expand((2, 3)),
            (_real(3), _pos(3)),
            (_real(3), _pos(3)),
        ),
        Case("Gamma", expfam.Gamma, nd.Gamma, (_pos(3), _pos(3)), (_pos(3), _pos(3))),
        Case("Exponential", expfam.Exponential, nd.Exponential, (_pos(3),), (_pos(3),), kl=False),
        Case("Beta", expfam.Beta, nd.Beta, (_pos(3), _pos(3)), (_pos(3), _pos(3))),
        Case("Dirichlet", expfam.Dirichlet, nd.Dirichlet, (_pos(2, 4),), (_pos(2, 4),)),
        Case(
            "Bernoulli(probs)",
            expfam.Bernoulli,
            lambda p: nd.Bernoulli(probs=p),
            (_unit(3),),
            (_unit(3),),
            kl=False,
        ),
        Case(
            "Bernoulli(logits)",
            expfam.Bernoulli,
            lambda x: nd.Bernoulli(logits=x),
            (_real(3),),
            (_real(3),),
            kl=False,
        ),
        Case(
            "Categorical(probs)",
            expfam.Categorical,
            lambda p: nd.Categorical(probs=p),
            (_probs(2, 4),),
            (_probs(2, 4),),
            grad_views={0: _simplex_tangent},
        ),
        Case(
            "Categorical(logits)",
            expfam.Categorical,
            lambda x: nd.Categorical(logits=x),
            (_real(2, 4),),
            (_real(2, 4),),
            kl=False,
        ),
        Case(
            "Binomial(probs)",
            expfam.Binomial,
            lambda p: nd.Binomial(n, probs=p),
            (_unit(3),),
            (_unit(3),),
            kl=False,
            entropy=False,
        ),
        Case(
            "Binomial(logits)",
            expfam.Binomial,
            lambda x: nd.Binomial(n, logits=x),
            (_real(3),),
            (_real(3),),
            kl=False,
            entropy=False,
        ),
        Case(
            "Poisson", expfam.Poisson, nd.Poisson, (_pos(3),), (_pos(3),), kl=False, entropy=False
        ),
        Case(
            "Geometric(probs)",
            expfam.Geometric,
            lambda p: nd.Geometric(probs=p),
            (_unit(3),),
            (_unit(3),),
            kl=False,
        ),
        Case(
            "Geometric(logits)",
            expfam.Geometric,
            lambda x: nd.Geometric(logits=x),
            (_real(3),),
            (_real(3),),
            kl=False,
        ),
        Case(
            "VonMises",
            expfam.VonMises,
            nd.VonMises,
            (_real(3), _pos(3)),
            (_real(3), _pos(3)),
            kl=False,
            entropy=False,
        ),
        Case(
            "Wishart",
            expfam.Wishart,
            lambda df, s: nd.Wishart(df, scale_tril=s),
            (_pos(2, lo=3.5, hi=6.0), _tril(2, 3, 3)),
            (_pos(2, lo=3.5, hi=6.0), _tril(2, 3, 3)),
            rtol=1e-4,
            kl=False,
            grad_views={1: _lower},
        ),
    ]
    cases += [
        Case(
            "InverseGamma",
            expfam.InverseGamma,
            nd.InverseGamma,
            (_pos(3), _pos(3)),
            (_pos(3), _pos(3)),
            kl=False,
        ),
        Case(
            "Weibull",
            expfam.Weibull,
            lambda s: nd.Weibull(s, 1.7),
            (_pos(3),),
            (_pos(3),),
            kl=False,
        ),
        Case("Chi2", expfam.ChiSquare, nd.Chi2, (_pos(3, hi=4.0),), (_pos(3, hi=4.0),)),
        Case(
            "HalfNormal",
            expfam.HalfNormal,
            nd.HalfNormal,
            (_pos(3),),
            (_pos(3),),
            kl=False,
            entropy=False,
        ),
        Case(
            "Laplace",
            expfam.Laplace,
            lambda s: nd.Laplace(0.5, s),
            (_pos(3),),
            (_pos(3),),
            kl=False,
        ),
        Case(
            "Pareto", expfam.Pareto, lambda a: nd.Pareto(0.8, a), (_pos(3),), (_pos(3),), kl=False
        ),
        Case(
            "NegativeBinomial(probs)",
            expfam.NegativeBinomial,
            lambda p: nd.NegativeBinomialProbs(3.5, p),
            (_unit(3),),
            (_unit(3),),
            kl=False,
            entropy=False,
        ),
        Case(
            "NegativeBinomial2",
            expfam.NegativeBinomial,
            lambda m: nd.NegativeBinomial2(m, np.float32(2.5)),
            (_pos(3),),
            (_pos(3),),
            kl=False,
            entropy=False,
        ),
        Case(
            "Multinomial",
            expfam.Multinomial,
            lambda x: nd.Multinomial(4, logits=x),
            (_real(2, 3),),
            (_real(2, 3),),
            kl=False,
            entropy=False,
        ),
    ]
    return lib, cases


LIBRARIES = {"tfp": _tfp_cases, "distrax": _distrax_cases, "numpyro": _numpyro_cases}

# The cases whose gradients are compared elsewhere (see Case.grads).
_SECOND_WAY = {"Bernoulli(logits)", "Categorical(logits)", "Binomial(logits)", "Geometric(logits)"}
VALUES_ONLY = {
    "tfp": _SECOND_WAY | {"Gamma(log_rate)", "Poisson(log_rate)", "NegativeBinomial(logits)"},
    "distrax": _SECOND_WAY
    | {"Normal", "MultivariateNormalDiag", "Independent", "Gamma", "Beta", "Dirichlet"}
    | {"Bernoulli(probs)", "Categorical(probs)", "VonMises", "Laplace", "Multinomial"},
    "numpyro": _SECOND_WAY
    | {"Normal", "LogNormal", "Independent", "Gamma", "Exponential", "Beta", "Dirichlet"}
    | {"Bernoulli(probs)", "Categorical(probs)", "Binomial(probs)", "Poisson"}
    | {"Geometric(probs)", "VonMises", "Wishart", "InverseGamma", "Weibull", "Chi2"}
    | {"HalfNormal", "Laplace", "Pareto", "NegativeBinomial(probs)", "Multinomial"},
}


def _points(member: expfam.ExponentialFamily) -> np.ndarray:
    """A point of the support for each batch entry of `member`, drawn in numpy (sampling
    with the libraries inside the compiled function would cost more than the rest)."""
    batch = member.batch_shape
    kind = type(member)
    if kind in (expfam.Normal, expfam.MultivariateNormalDiag):
        return _real(*member.loc.shape)
    if kind is expfam.MultivariateNormal:
        return _real(*member.loc.shape)
    if kind in (expfam.LogNormal, expfam.Gamma, expfam.Exponential):
        return _pos(*batch, lo=0.2, hi=3.0)
    if kind is expfam.Beta:
        return _unit(*batch)
    if kind is expfam.Dirichlet:
        return _probs(*member.concentration.shape)
    if kind is expfam.Bernoulli:
        return _f32(RNG.integers(0, 2, batch))
    if kind is expfam.Categorical:
        return RNG.integers(0, member.num_categories, batch).astype(np.int32)
    if kind is expfam.Binomial:
        return _f32(RNG.integers(0, member.total_count + 1, batch))
    if kind in (expfam.Poisson, expfam.Geometric):
        return _f32(RNG.integers(0, 6, batch))
    if kind is expfam.VonMises:
        return _f32(RNG.uniform(-3.0, 3.0, batch))
    if kind is expfam.Wishart:
        return _cov(*batch, member.dim, member.dim)
    if kind in (
        expfam.InverseGamma,
        expfam.InverseGaussian,
        expfam.Weibull,
        expfam.Chi,
        expfam.ChiSquare,
        expfam.HalfNormal,
    ):
        return _pos(*batch, lo=0.2, hi=3.0)
    if kind is expfam.Laplace:
        return _real(*batch)
    if kind is expfam.Pareto:
        return _f32(member.scale + RNG.uniform(0.0, 2.0, batch))
    if kind is expfam.NegativeBinomial:
        return _f32(RNG.integers(0, 6, batch))
    if kind is expfam.Multinomial:
        k = member.logits.shape[-1]
        return _f32(RNG.multinomial(member.total_count, np.ones(k) / k, batch))
    if kind is expfam.ContinuousBernoulli:
        return _unit(*batch)
    if kind is expfam.VonMisesFisher:
        x = RNG.normal(size=member.eta.shape)
        return _f32(x / np.linalg.norm(x, axis=-1, keepdims=True))
    raise AssertionError(f"no support points for {kind.__name__}")


def _values(lib: Library, case: Case, p: tuple, q: tuple, x: np.ndarray) -> dict[str, jax.Array]:
    """jaxdiv's values and the library's for one pair, and the gradients of the
    compared value (the KL where the library has it, else the entropy, else the
    log-density at `x`) with respect to p's parameters."""
    foreign_p = case.build(*p)
    member = expfam.from_distribution(foreign_p)

    def ours(*p: jax.Array) -> jax.Array:
        d = case.build(*p)
        if case.kl:
            return expfam.kl_divergence(d, case.build(*q))
        if case.entropy:
            return expfam.entropy(d)
        return expfam.from_distribution(d).log_prob(x)

    def theirs(*p: jax.Array) -> jax.Array:
        d = case.build(*p)
        if case.kl:
            return lib.kl(d, case.build(*q))
        return d.entropy() if case.entropy else d.log_prob(x)

    def value_and_grads(fn: Callable[..., jax.Array]) -> tuple[jax.Array, tuple]:
        value, vjp = jax.vjp(fn, *p)
        return value, vjp(jnp.ones_like(value))

    out = {"log_prob": member.log_prob(x), "log_prob_oracle": foreign_p.log_prob(x)}
    if case.kl and case.entropy:
        out["entropy"], out["entropy_oracle"] = expfam.entropy(member), foreign_p.entropy()
    if not case.grads:
        out["value"], out["value_oracle"] = ours(*p), theirs(*p)
        return out
    out["value"], grads = value_and_grads(ours)
    out["value_oracle"], grads_oracle = value_and_grads(theirs)
    for i, (g, g_oracle) in enumerate(zip(grads, grads_oracle, strict=True)):
        view = case.grad_views.get(i, lambda g: g)
        out[f"grad{i}"], out[f"grad{i}_oracle"] = view(g), view(g_oracle)
    return out


# The compiled checks take most of this file's time: XLA's cheaper CPU pipeline halves it.
_FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def _converted(case: Case) -> tuple[expfam.ExponentialFamily, tuple[int, ...]]:
    """The member converted from `case.build(*case.p)` and the foreign object's batch shape.

    Where the conversion works under jit the member is traced by `jax.eval_shape` (its type,
    static fields and the shapes and dtypes of its parameters; nothing is compiled, where
    eager conversion dispatches each library's constructor op by op) and returned with numpy
    zeros of those shapes for parameters: what `_points` and the type, shape and dtype checks
    read. Its values are compared in the compiled check that follows."""
    seen = {}

    def convert(p: tuple) -> expfam.ExponentialFamily:
        foreign = case.build(*p)
        seen["batch_shape"] = tuple(foreign.batch_shape)
        return expfam.from_distribution(foreign)

    if not case.jit:
        return convert(case.p), seen["batch_shape"]
    abstract = jax.eval_shape(convert, case.p)
    return jax.tree.map(lambda a: np.zeros(a.shape, a.dtype), abstract), seen["batch_shape"]


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_matches_the_library(library):
    """Log-density, KL, entropy and their gradients against the library's own, per family."""
    lib, cases = LIBRARIES[library]()
    cases = [
        dataclasses.replace(c, grads=False) if c.name in VALUES_ONLY[library] else c for c in cases
    ]
    failures = []
    with jax.numpy_rank_promotion("allow"):  # the libraries broadcast implicitly
        for case in cases:
            member, foreign_batch_shape = _converted(case)
            assert type(member) is case.family, case.name
            assert member.batch_shape == foreign_batch_shape, case.name
            assert member.dtype == jnp.float32, case.name
            x = _points(member)
            if case.jit:
                check = jax.jit(lambda p, q, x, case=case: _values(lib, case, p, q, x))
                values = check.lower(case.p, case.q, x).compile(_FAST_COMPILE)(case.p, case.q, x)
            else:
                values = _values(lib, case, case.p, case.q, x)
            for name, got in values.items():
                if name.endswith("_oracle"):
                    continue
                want = values[name + "_oracle"]
                assert got.shape == want.shape, (case.name, name, got.shape, want.shape)
                try:
                    np.testing.assert_allclose(got, want, rtol=case.rtol, atol=case.rtol)
                except AssertionError as err:
                    failures.append(f"{library} {case.name} {name}: {err}")
    assert not failures, "\n".join(failures)


def test_unsupported_objects_raise_a_type_error_listing_the_supported_ones():
    tfd = pytest.importorskip("tensorflow_probability.substrates.jax").distributions
    student = tfd.StudentT(3.0, 0.0, 1.0)
    with pytest.raises(TypeError, match=r"StudentT .*Supported are distrax: .*NumPyro: .*Normal"):
        expfam.from_distribution(student)
    with pytest.raises(TypeError, match=r"TensorFlow Probability \(JAX substrate\): .*WishartTriL"):
        expfam.kl_divergence(student, student)
    with pytest.raises(TypeError, match="p must be an exponential-family member or a distrax"):
        expfam.entropy("a string")
    with pytest.raises(TypeError, match="an Independent is supported over a Normal"):
        expfam.from_distribution(tfd.Independent(tfd.Gamma(jnp.ones(3), 1.0), 1))
    with pytest.raises(ValueError, match="over Cholesky factors"):
        expfam.from_distribution(tfd.WishartTriL(3.0, jnp.eye(2), input_output_cholesky=True))
    with pytest.raises(ValueError, match="total_count must be one whole number"):
        expfam.from_distribution(tfd.Binomial(jnp.array([2.0, 3.0]), probs=0.5))
    with pytest.raises(TypeError, match="p is a Normal and q is a Gamma"):
        expfam.kl_divergence(tfd.Normal(0.0, 1.0), tfd.Gamma(1.0, 1.0))


def test_a_binomial_built_inside_jit_keeps_its_static_count():
    """TFP stores the count as an array (traced under jit); the count given is read instead."""
    tfd = pytest.importorskip("tensorflow_probability.substrates.jax").distributions
    pytest.importorskip("numpyro")
    import numpyro.distributions as nd

    want = expfam.entropy(expfam.Binomial.from_count_probs(4, jnp.float32(0.3)))
    for build in (lambda p: tfd.Binomial(4.0, probs=p), lambda p: nd.Binomial(4, probs=p)):
        got = jax.jit(lambda p, build=build: expfam.entropy(build(p)))(jnp.float32(0.3))
        np.testing.assert_allclose(got, want, rtol=1e-6)


_OTHER_FUNCTIONS = (
    expfam.bregman_kl,
    expfam.kl_divergence_dual,
    expfam.cross_entropy,
    expfam.bhattacharyya_distance,
    expfam.hellinger_distance,
    expfam.jeffreys_divergence,
    lambda a, b: expfam.renyi_divergence(a, b, alpha=0.7),
)


@jax.jit
def _other_functions_on_foreign_gammas(p_params, q_params):
    """Every function of `_OTHER_FUNCTIONS`, the convex conjugate and a KL with one converted
    argument, on TFP Gammas and on the members converted from them, in one compiled program."""
    from tensorflow_probability.substrates import jax as tfp

    p, q = tfp.distributions.Gamma(*p_params), tfp.distributions.Gamma(*q_params)
    mp, mq = expfam.from_distribution(p), expfam.from_distribution(q)
    foreign = [fn(p, q) for fn in _OTHER_FUNCTIONS]
    converted = [fn(mp, mq) for fn in _OTHER_FUNCTIONS]
    foreign += [expfam.convex_conjugate(p), expfam.kl_divergence(p, mq)]
    converted += [expfam.convex_conjugate(mp), expfam.kl_divergence(mp, mq)]
    return foreign, converted


def test_other_expfam_functions_accept_foreign_objects():
    """Each function converts at the door: the values equal those of the converted members."""
    pytest.importorskip("tensorflow_probability.substrates.jax")
    p_params = (np.array([1.5, 2.0], np.float32), np.array([1.0, 0.5], np.float32))
    q_params = (np.float32(2.5), np.float32(1.5))
    foreign, converted = _other_functions_on_foreign_gammas(p_params, q_params)
    rtols = [1e-6] * len(_OTHER_FUNCTIONS) + [1e-7, 1e-7]  # assert_allclose's default last
    for i, (got, want, rtol) in enumerate(zip(foreign, converted, rtols, strict=True)):
        np.testing.assert_allclose(got, want, rtol=rtol, err_msg=f"function {i}")


@jax.jit
def _full_covariance_log_densities(mean, cov, x):
    """The members converted from each library's full-covariance Gaussian, their
    log-densities at `x` and the libraries' own, in one compiled program."""
    import distrax
    import numpyro.distributions as nd
    from tensorflow_probability.substrates import jax as tfp

    objects = (
        tfp.distributions.MultivariateNormalFullCovariance(mean, cov),
        distrax.MultivariateNormalFullCovariance(mean, cov),
        nd.MultivariateNormal(mean, covariance_matrix=cov),
    )
    members = [expfam.from_distribution(d) for d in objects]
    return members, [m.log_prob(x) for m in members], [d.log_prob(x) for d in objects]


def test_full_covariance_gaussians_convert():
    """The covariance-matrix constructors share their converters with the Cholesky-factor
    ones (tested with gradients above): log-densities equal the libraries'."""
    pytest.importorskip("tensorflow_probability.substrates.jax")
    pytest.importorskip("distrax")
    pytest.importorskip("numpyro")
    mean, cov, x = _real(2, 3), _cov(2, 3, 3), _real(2, 3)
    with jax.numpy_rank_promotion("allow"):
        members, got, want = _full_covariance_log_densities(mean, cov, x)
    for name, member, g, w in zip(("tfp", "distrax", "numpyro"), members, got, want, strict=True):
        assert type(member) is expfam.MultivariateNormal, name
        np.testing.assert_allclose(g, w, rtol=1e-5, err_msg=name)
