"""Distributions of distrax, TensorFlow Probability (JAX substrate) and NumPyro as families.

[`from_distribution`][jaxdiv.expfam.from_distribution] reads the parameters of another
library's distribution object the way that library stores them and builds the
jaxdiv member with the same distribution. Dispatch is by the object's class
name, looked up along its method resolution order among the classes of its own
library, so a user's subclass of `tfd.Normal` converts as a Normal. None of
those libraries is imported here: an object of theirs is recognised by the
module its class comes from, and its parameters are read as attributes, so
gradients flow from the foreign parameters through the conversion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxdiv import _linalg
from jaxdiv import _validation as val
from jaxdiv._libraries import LIBRARY_MODULES, LIBRARY_NAMES, library_of
from jaxdiv.expfam._bernoulli import Bernoulli
from jaxdiv.expfam._beta import Beta
from jaxdiv.expfam._binomial import Binomial
from jaxdiv.expfam._categorical import Categorical
from jaxdiv.expfam._chi import Chi
from jaxdiv.expfam._chi_square import ChiSquare
from jaxdiv.expfam._continuous_bernoulli import ContinuousBernoulli
from jaxdiv.expfam._dirichlet import Dirichlet
from jaxdiv.expfam._exponential import Exponential
from jaxdiv.expfam._family import ExponentialFamily, as_params
from jaxdiv.expfam._gamma import Gamma
from jaxdiv.expfam._geometric import Geometric
from jaxdiv.expfam._half_normal import HalfNormal
from jaxdiv.expfam._inverse_gamma import InverseGamma
from jaxdiv.expfam._inverse_gaussian import InverseGaussian
from jaxdiv.expfam._laplace import Laplace
from jaxdiv.expfam._lognormal import LogNormal
from jaxdiv.expfam._multinomial import Multinomial
from jaxdiv.expfam._mvn import MultivariateNormal
from jaxdiv.expfam._mvn_diag import MultivariateNormalDiag
from jaxdiv.expfam._negative_binomial import NegativeBinomial
from jaxdiv.expfam._normal import Normal
from jaxdiv.expfam._pareto import Pareto
from jaxdiv.expfam._poisson import Poisson
from jaxdiv.expfam._von_mises import VonMises
from jaxdiv.expfam._von_mises_fisher import VonMisesFisher
from jaxdiv.expfam._weibull import Weibull
from jaxdiv.expfam._wishart import Wishart

_FN = "jaxdiv.expfam.from_distribution"

Converter = Callable[[Any], ExponentialFamily]

# ------------------------------------------------------------------ reading parameters


def _array(x: Any) -> jax.Array:
    """A foreign parameter as a JAX array (a traced value stays traced)."""
    return jnp.asarray(x)


def _static_int(name: str, value: Any, cls: str) -> int:
    """A count that jaxdiv keeps static (a Binomial's `n`): one concrete integer."""
    if isinstance(value, jax.core.Tracer):
        raise TypeError(
            f"{_FN}: the {cls}'s {name} is a traced value; jaxdiv keeps it static, so it "
            "must be a concrete number (build the distribution outside jit, or close over it)."
        )
    counts = np.asarray(value)
    first = counts.reshape(-1)[:1]
    if counts.size == 0 or not np.all(counts == first) or first[0] != np.round(first[0]):
        raise ValueError(
            f"{_FN}: the {cls}'s {name} must be one whole number shared by the whole batch "
            f"(jaxdiv keeps it static), got {counts!r}."
        )
    return int(first[0])


def _static_float(name: str, value: Any, cls: str) -> float:
    """A parameter that jaxdiv keeps static (a Laplace's location, a Weibull's shape):
    one concrete number shared by the whole batch."""
    if isinstance(value, jax.core.Tracer):
        raise TypeError(
            f"{_FN}: the {cls}'s {name} is a traced value; jaxdiv keeps it static, so it "
            "must be a concrete number (build the distribution outside jit, or close over it)."
        )
    values = np.asarray(value, dtype=float)
    first = values.reshape(-1)[:1]
    if values.size == 0 or not np.all(values == first):
        raise ValueError(
            f"{_FN}: the {cls}'s {name} must be one number shared by the whole batch "
            f"(jaxdiv keeps it static), got {values!r}."
        )
    return float(first[0])


def _logits_or_probs(d: Any, private: bool) -> tuple[str, jax.Array]:
    """`("logits", x)` or `("probs", x)`: whichever of the two the object stores.

    TFP stores exactly one of them and returns None for the other; distrax
    computes the missing one in its public property, so its stored fields
    (`_logits`, `_probs`) are read to avoid a round trip through a log or a
    sigmoid.
    """
    prefix = "_" if private else ""
    logits = getattr(d, prefix + "logits", None)
    if logits is not None:
        return "logits", _array(logits)
    probs = getattr(d, prefix + "probs", None)
    if probs is not None:
        return "probs", _array(probs)
    raise TypeError(f"{_FN}: {type(d).__name__} has neither logits nor probs.")


def _bernoulli(kind: str, x: jax.Array) -> Bernoulli:
    return Bernoulli.from_logits(x) if kind == "logits" else Bernoulli.from_probs(x)


def _categorical(kind: str, x: jax.Array) -> Categorical:
    return Categorical.from_logits(x) if kind == "logits" else Categorical.from_probs(x)


def _binomial(total_count: Any, kind: str, x: jax.Array, cls: str) -> Binomial:
    n = _static_int("total_count", total_count, cls)
    if n < 1:
        raise ValueError(f"{_FN}: the {cls}'s total_count must be >= 1, got {n}.")
    if kind == "probs":
        return Binomial.from_count_probs(n, x)
    (logits,) = as_params("Binomial", logits=x)
    return Binomial(logits, n)


def _geometric(kind: str, x: jax.Array) -> Geometric:
    """Both TFP and NumPyro count the failures before the first success, as jaxdiv does."""
    if kind == "probs":
        return Geometric.from_probs(x)
    (logits,) = as_params("Geometric", logits=x)
    return Geometric(jax.nn.log_sigmoid(-logits))  # log(1 - p)


def _multinomial(total_count: Any, kind: str, x: jax.Array, cls: str) -> Multinomial:
    n = _static_int("total_count", total_count, cls)
    if kind == "probs":
        return Multinomial.from_count_probs(n, x)
    return Multinomial.from_count_logits(n, x)


def _negative_binomial(total_count: Any, kind: str, x: jax.Array, cls: str) -> NegativeBinomial:
    """TFP and NumPyro count the outcomes of probability `probs` before `total_count` of the
    other: jaxdiv's failures, so `probs` is jaxdiv's `1 - p` and its log the stored field."""
    r = _static_float("total_count", total_count, cls)
    if not r > 0:
        raise ValueError(f"{_FN}: the {cls}'s total_count must be > 0, got {r}.")
    (x,) = as_params("NegativeBinomial", **{kind: x})
    if kind == "probs":
        val.check_domain((x >= 0) & (x < 1), f"{_FN}: the {cls}'s probs must lie in [0, 1).")
        return NegativeBinomial(jnp.log(x), r)
    return NegativeBinomial(jax.nn.log_sigmoid(x), r)


def _negative_binomial_mean(mean: Any, concentration: Any) -> NegativeBinomial:
    """NumPyro's NegativeBinomial2: `total_count = concentration` and `probs = m / (m + r)`."""
    r = _static_float("concentration", concentration, "NegativeBinomial2")
    (m,) = as_params("NegativeBinomial", mean=mean)
    return _negative_binomial(r, "probs", m / (m + r), "NegativeBinomial2")


def _continuous_bernoulli(kind: str, x: jax.Array) -> ContinuousBernoulli:
    if kind == "logits":
        return ContinuousBernoulli.from_logits(x)
    return ContinuousBernoulli.from_probs(x)


def _mvn_tril(loc: Any, scale_tril: Any) -> MultivariateNormal:
    return MultivariateNormal.from_mean_scale_tril(_array(loc), _array(scale_tril))


def _mvn_cov(loc: Any, cov: Any) -> MultivariateNormal:
    return MultivariateNormal.from_mean_cov(_array(loc), _array(cov))


def _mvn_diag(loc: Any, scale_diag: Any) -> MultivariateNormalDiag:
    """A diagonal scale as the libraries read it: the standard deviations are `|scale_diag|`."""
    return MultivariateNormalDiag.from_mean_std(_array(loc), jnp.abs(_array(scale_diag)))


def _wishart(df: Any, scale_tril: jax.Array) -> Wishart:
    scale = _linalg.matmul(scale_tril, jnp.swapaxes(scale_tril, -1, -2))
    return Wishart.from_df_scale(_array(df), scale)


def _independent(inner: Any, ndims: Any, cls: str) -> ExponentialFamily:
    """An Independent over a Normal with one reinterpreted axis is a MultivariateNormalDiag."""
    member = from_distribution(inner)
    n = _static_int("reinterpreted_batch_ndims", ndims, cls)
    if n == 0:
        return member
    if n == 1 and type(member) is Normal:
        return MultivariateNormalDiag.from_mean_log_std(member.loc, member.log_std)
    raise TypeError(
        f"{_FN}: an {cls} is supported over a Normal with reinterpreted_batch_ndims=1 "
        f"(it becomes a MultivariateNormalDiag), got one over a {type(inner).__name__} with "
        f"reinterpreted_batch_ndims={n}."
    )


# ---------------------------------------------------------------------- per library


def _tfp_rate(d: Any) -> jax.Array:
    """A TFP rate given as `rate` or as `log_rate`."""
    rate = getattr(d, "rate", None)
    return _array(rate) if rate is not None else jnp.exp(_array(d.log_rate))


def _tfp_given(d: Any, name: str) -> Any:
    """A parameter as it was given to the constructor (TFP keeps them in `parameters`):
    a Python count stays concrete there under `jit`, where the stored array is traced."""
    given = getattr(d, "parameters", {}).get(name)
    return given if given is not None else getattr(d, name)


def _tfp_tril(d: Any) -> MultivariateNormal:
    return _mvn_tril(d.mean(), d.scale.to_dense())


def _tfp_wishart(d: Any) -> Wishart:
    if bool(getattr(d, "input_output_cholesky", False)):
        raise ValueError(
            f"{_FN}: a {type(d).__name__} with input_output_cholesky=True is a distribution "
            "over Cholesky factors, not over matrices; jaxdiv's Wishart is over matrices."
        )
    return _wishart(d.df, _array(d.scale.to_dense()))


def _tfp_gaussian_process(d: Any) -> MultivariateNormal:
    """The Gaussian its `log_prob` uses: covariance plus `jitter` on the diagonal."""
    cov = _array(d.covariance())
    jitter = _array(getattr(d, "jitter", 0.0)).astype(cov.dtype)
    return _mvn_cov(d.mean(), cov + jitter * jnp.eye(cov.shape[-1], dtype=cov.dtype))


def _tfp_poisson(d: Any) -> Poisson:
    rate = getattr(d, "rate", None)
    if rate is not None:
        return Poisson.from_rate(_array(rate))
    (log_rate,) = as_params("Poisson", log_rate=d.log_rate)
    return Poisson(log_rate)


_TFP: dict[str, Converter] = {
    "Normal": lambda d: Normal.from_mean_std(_array(d.loc), _array(d.scale)),
    "LogNormal": lambda d: LogNormal.from_mean_std(_array(d.loc), _array(d.scale)),
    "MultivariateNormalTriL": _tfp_tril,
    "MultivariateNormalFullCovariance": _tfp_tril,
    "MultivariateNormalDiag": lambda d: _mvn_diag(d.mean(), d.scale.diag_part()),
    "MultivariateNormalLinearOperator": lambda d: _mvn_cov(d.mean(), d.covariance()),
    "MultivariateNormalDiagPlusLowRank": lambda d: _mvn_cov(d.mean(), d.covariance()),
    "MultivariateNormalDiagPlusLowRankCovariance": lambda d: _mvn_cov(d.mean(), d.covariance()),
    # A Gaussian process at its index points (regression models and variational ones are
    # subclasses): the Gaussian of its mean and covariance there, observation noise included.
    "GaussianProcess": _tfp_gaussian_process,
    "Independent": lambda d: _independent(
        d.distribution, d.reinterpreted_batch_ndims, "Independent"
    ),
    "Gamma": lambda d: Gamma.from_shape_rate(_array(d.concentration), _tfp_rate(d)),
    "Exponential": lambda d: Exponential.from_rate(_tfp_rate(d)),
    "Beta": lambda d: Beta.from_concentrations(_array(d.concentration1), _array(d.concentration0)),
    "Dirichlet": lambda d: Dirichlet.from_concentration(_array(d.concentration)),
    "Bernoulli": lambda d: _bernoulli(*_logits_or_probs(d, private=False)),
    "Categorical": lambda d: _categorical(*_logits_or_probs(d, private=False)),
    # One-hot events carry the same distribution over K outcomes (distrax's OneHotCategorical
    # is found through its Categorical base class).
    "OneHotCategorical": lambda d: _categorical(*_logits_or_probs(d, private=False)),
    "Binomial": lambda d: _binomial(
        _tfp_given(d, "total_count"), *_logits_or_probs(d, False), "Binomial"
    ),
    "Poisson": _tfp_poisson,
    "Geometric": lambda d: _geometric(*_logits_or_probs(d, private=False)),
    "VonMises": lambda d: VonMises.from_mean_concentration(_array(d.loc), _array(d.concentration)),
    "WishartTriL": _tfp_wishart,
    "WishartLinearOperator": _tfp_wishart,
    "InverseGamma": lambda d: InverseGamma.from_shape_scale(
        _array(d.concentration), _array(d.scale)
    ),
    "InverseGaussian": lambda d: InverseGaussian.from_mean_shape(
        _array(d.loc), _array(d.concentration)
    ),
    "Weibull": lambda d: Weibull.from_shape_scale(
        _static_float("concentration", _tfp_given(d, "concentration"), "Weibull"),
        _array(d.scale),
    ),
    "Chi": lambda d: Chi.from_df(_array(d.df)),
    "Chi2": lambda d: ChiSquare.from_df(_array(d.df)),
    "HalfNormal": lambda d: HalfNormal.from_scale(_array(d.scale)),
    "Laplace": lambda d: Laplace.from_loc_scale(
        _static_float("loc", _tfp_given(d, "loc"), "Laplace"), _array(d.scale)
    ),
    "Pareto": lambda d: Pareto.from_scale_shape(
        _static_float("scale", _tfp_given(d, "scale"), "Pareto"), _array(d.concentration)
    ),
    "NegativeBinomial": lambda d: _negative_binomial(
        _tfp_given(d, "total_count"), *_logits_or_probs(d, False), "NegativeBinomial"
    ),
    "Multinomial": lambda d: _multinomial(
        _tfp_given(d, "total_count"), *_logits_or_probs(d, False), "Multinomial"
    ),
    "ContinuousBernoulli": lambda d: _continuous_bernoulli(*_logits_or_probs(d, False)),
    "VonMisesFisher": lambda d: VonMisesFisher.from_mean_direction_concentration(
        _array(d.mean_direction), _array(d.concentration)
    ),
}


def _distrax_tri(d: Any) -> MultivariateNormal:
    if d.is_lower:
        return _mvn_tril(d.loc, d.scale_tri)
    upper = _array(d.scale_tri)
    return _mvn_cov(d.loc, _linalg.matmul(upper, jnp.swapaxes(upper, -1, -2)))


_DISTRAX: dict[str, Converter] = {
    "Normal": lambda d: Normal.from_mean_std(_array(d.loc), _array(d.scale)),
    "LogStddevNormal": lambda d: Normal.from_mean_log_std(_array(d.loc), _array(d.log_scale)),
    "MultivariateNormalTri": _distrax_tri,
    "MultivariateNormalFullCovariance": _distrax_tri,
    "MultivariateNormalDiag": lambda d: _mvn_diag(d.loc, d.scale_diag),
    "MultivariateNormalDiagPlusLowRank": lambda d: _mvn_cov(d.loc, d.covariance()),
    "Independent": lambda d: _independent(
        d.distribution, d.reinterpreted_batch_ndims, "Independent"
    ),
    "Gamma": lambda d: Gamma.from_shape_rate(_array(d.concentration), _array(d.rate)),
    "Beta": lambda d: Beta.from_concentrations(_array(d.alpha), _array(d.beta)),
    "Dirichlet": lambda d: Dirichlet.from_concentration(_array(d.concentration)),
    "Bernoulli": lambda d: _bernoulli(*_logits_or_probs(d, private=True)),
    "Categorical": lambda d: _categorical(*_logits_or_probs(d, private=True)),
    "VonMises": lambda d: VonMises.from_mean_concentration(_array(d.loc), _array(d.concentration)),
    "Laplace": lambda d: Laplace.from_loc_scale(
        _static_float("loc", d.loc, "Laplace"), _array(d.scale)
    ),
    "Multinomial": lambda d: _multinomial(
        d.total_count, *_logits_or_probs(d, private=True), "Multinomial"
    ),
}


def _numpyro_expanded(d: Any) -> ExponentialFamily:
    return from_distribution(d.base_dist).broadcast_to(tuple(d.batch_shape))


_NUMPYRO: dict[str, Converter] = {
    "Normal": lambda d: Normal.from_mean_std(_array(d.loc), _array(d.scale)),
    "LogNormal": lambda d: LogNormal.from_mean_std(_array(d.loc), _array(d.scale)),
    "MultivariateNormal": lambda d: _mvn_tril(d.loc, d.scale_tril),
    "LowRankMultivariateNormal": lambda d: _mvn_cov(d.loc, d.covariance_matrix),
    "CirculantNormal": lambda d: _mvn_cov(d.mean, d.covariance_matrix),
    "Independent": lambda d: _independent(d.base_dist, d.reinterpreted_batch_ndims, "Independent"),
    "ExpandedDistribution": _numpyro_expanded,
    "Gamma": lambda d: Gamma.from_shape_rate(_array(d.concentration), _array(d.rate)),
    "Exponential": lambda d: Exponential.from_rate(_array(d.rate)),
    "Beta": lambda d: Beta.from_concentrations(_array(d.concentration1), _array(d.concentration0)),
    "Dirichlet": lambda d: Dirichlet.from_concentration(_array(d.concentration)),
    "BernoulliProbs": lambda d: Bernoulli.from_probs(_array(d.probs)),
    "BernoulliLogits": lambda d: Bernoulli.from_logits(_array(d.logits)),
    "CategoricalProbs": lambda d: Categorical.from_probs(_array(d.probs)),
    "CategoricalLogits": lambda d: Categorical.from_logits(_array(d.logits)),
    "BinomialProbs": lambda d: _binomial(d.total_count, "probs", _array(d.probs), "Binomial"),
    "BinomialLogits": lambda d: _binomial(d.total_count, "logits", _array(d.logits), "Binomial"),
    "Poisson": lambda d: Poisson.from_rate(_array(d.rate)),
    "GeometricProbs": lambda d: _geometric("probs", _array(d.probs)),
    "GeometricLogits": lambda d: _geometric("logits", _array(d.logits)),
    "VonMises": lambda d: VonMises.from_mean_concentration(_array(d.loc), _array(d.concentration)),
    "Wishart": lambda d: _wishart(d.concentration, _array(d.scale_tril)),
    "InverseGamma": lambda d: InverseGamma.from_shape_scale(
        _array(d.concentration), _array(d.rate)
    ),
    "Weibull": lambda d: Weibull.from_shape_scale(
        _static_float("concentration", d.concentration, "Weibull"), _array(d.scale)
    ),
    "Chi2": lambda d: ChiSquare.from_df(_array(d.df)),
    "HalfNormal": lambda d: HalfNormal.from_scale(_array(d.scale)),
    "Laplace": lambda d: Laplace.from_loc_scale(
        _static_float("loc", d.loc, "Laplace"), _array(d.scale)
    ),
    "Pareto": lambda d: Pareto.from_scale_shape(
        _static_float("scale", d.scale, "Pareto"), _array(d.alpha)
    ),
    "NegativeBinomialProbs": lambda d: _negative_binomial(
        d.total_count, "probs", _array(d.probs), "NegativeBinomial"
    ),
    "NegativeBinomialLogits": lambda d: _negative_binomial(
        d.total_count, "logits", _array(d.logits), "NegativeBinomial"
    ),
    "NegativeBinomial2": lambda d: _negative_binomial_mean(d.mean, d.concentration),
    "MultinomialProbs": lambda d: _multinomial(
        d.total_count, "probs", _array(d.probs), "Multinomial"
    ),
    "MultinomialLogits": lambda d: _multinomial(
        d.total_count, "logits", _array(d.logits), "Multinomial"
    ),
}

CONVERTERS: dict[str, dict[str, Converter]] = {
    "distrax": _DISTRAX,
    "tensorflow_probability": _TFP,
    "numpyro": _NUMPYRO,
}


def supported_types() -> str:
    """The classes each library converts, for error messages."""
    return "; ".join(
        f"{LIBRARY_NAMES[lib]}: {', '.join(sorted(table))}" for lib, table in CONVERTERS.items()
    )


def _converter(d: object, library: str) -> Converter | None:
    """The converter of the first class along `d`'s MRO (within its library) in the table."""
    table = CONVERTERS[library]
    for cls in type(d).__mro__:
        if (cls.__module__ or "").startswith(LIBRARY_MODULES[library]) and cls.__name__ in table:
            return table[cls.__name__]
    return None


def from_distribution(d: Any) -> ExponentialFamily:
    r"""The jaxdiv exponential-family member with the distribution of another library's object.

    Accepts a [distrax](https://github.com/google-deepmind/distrax),
    [TensorFlow Probability](https://www.tensorflow.org/probability) (JAX substrate,
    `tensorflow_probability.substrates.jax`) or [NumPyro](https://num.pyro.ai)
    distribution and reads its parameters as that library stores them (logits or
    probabilities, a rate or a log-rate, a scale factor or a covariance), so
    the result has the same batch shape and gradients flow from the foreign
    parameters through the conversion. None of those libraries is imported
    by jaxdiv; every `jaxdiv.expfam` function calls this on arguments that are
    not jaxdiv members, so they can be passed directly. A jaxdiv member is
    returned as it is.

    | jaxdiv | distrax | TFP | NumPyro |
    |---|---|---|---|
    | `Normal` | `Normal`, `LogStddevNormal` | `Normal` | `Normal` |
    | `LogNormal` | | `LogNormal` | `LogNormal` |
    |`MultivariateNormal`|`MultivariateNormalTri`|`MultivariateNormalTriL`|`MultivariateNormal`|
    | `MultivariateNormalDiag` | `MultivariateNormalDiag` | `MultivariateNormalDiag` | |
    | `MultivariateNormalDiag` | `Independent` (2) | `Independent` (2) | `Independent` (2) |
    | `Gamma` | `Gamma` | `Gamma` (3) | `Gamma` |
    | `Exponential` | | `Exponential` | `Exponential` |
    | `Beta` | `Beta` | `Beta` | `Beta` |
    | `Dirichlet` | `Dirichlet` | `Dirichlet` | `Dirichlet` |
    | `Bernoulli` | `Bernoulli` (4) | `Bernoulli` (4) | `Bernoulli` (4) |
    | `Categorical` | `Categorical` (4) | `Categorical` (4) | `Categorical` (4) |
    | `Binomial` | | `Binomial` (4, 5) | `Binomial` (4, 5) |
    | `Poisson` | | `Poisson` (3) | `Poisson` |
    | `Geometric` | | `Geometric` (4, 6) | `Geometric` (4, 6) |
    | `VonMises` | `VonMises` | `VonMises` | `VonMises` |
    | `Wishart` | | `WishartTriL`, `WishartLinearOperator` | `Wishart` |
    | `InverseGamma` | | `InverseGamma` | `InverseGamma` |
    | `InverseGaussian` | | `InverseGaussian` | |
    | `Weibull` | | `Weibull` (7) | `Weibull` (7) |
    | `Chi` | | `Chi` | |
    | `ChiSquare` | | `Chi2` | `Chi2` |
    | `HalfNormal` | | `HalfNormal` | `HalfNormal` |
    | `Laplace` | `Laplace` (7) | `Laplace` (7) | `Laplace` (7) |
    | `Pareto` | | `Pareto` (7) | `Pareto` (7) |
    | `NegativeBinomial` | | `NegativeBinomial` (4, 5, 8) | `NegativeBinomial` (4, 5, 8) |
    | `Multinomial` | `Multinomial` (4, 5) | `Multinomial` (4, 5) | `Multinomial` (4, 5) |
    | `ContinuousBernoulli` | | `ContinuousBernoulli` (4) | |
    | `VonMisesFisher` | | `VonMisesFisher` | |

    1. The Gaussians with a full covariance are also `MultivariateNormalFullCovariance`
       (distrax, TFP), an upper-triangular `MultivariateNormalTri` (distrax), and
       through their covariance distrax's
       `MultivariateNormalDiagPlusLowRank`, TFP's `MultivariateNormalLinearOperator`
       and `MultivariateNormalDiagPlusLowRank(Covariance)`, NumPyro's
       `LowRankMultivariateNormal` and `CirculantNormal`; and TFP's
       `GaussianProcess` (and its subclasses) at its index points, with the
       covariance its `log_prob` uses (observation noise and `jitter` included).
    2. Over a Normal with `reinterpreted_batch_ndims=1` (NumPyro's
       `Normal(...).to_event(1)`); with 0 it is the inner distribution.
    3. Given by its rate or its log-rate.
    4. Given by its probabilities or its logits, whichever the object stores.
    5. The count becomes jaxdiv's static `total_count`, so it must be one
       concrete whole number for the whole batch (under `jit`, see 7).
    6. All three count the failures before the first success, on {0, 1, 2, ...}.
    7. The parameter jaxdiv keeps static (a Weibull's shape, a Laplace's location, a
       Pareto's scale) must be one concrete number for the whole batch; gradients
       flow to the other parameters. Under `jit`, TFP's are read from the arguments
       given to its constructor and NumPyro keeps a Python number as it is, so both
       stay concrete; distrax stores them as arrays, which `jit` traces, and the
       conversion then raises a TypeError: build those distrax objects outside `jit`.
    8. TFP and NumPyro give `probs` of the counted outcome (jaxdiv's failure,
       `1 - p`); NumPyro's `NegativeBinomial2(mean, concentration)` converts too.

    NumPyro's `expand` (an `ExpandedDistribution`) broadcasts the converted
    member. The names in the first column are the families of `jaxdiv.expfam`
    ([`Normal`][jaxdiv.expfam.Normal], [`MultivariateNormal`][jaxdiv.expfam.MultivariateNormal],
    ...).

    Args:
      d: a distribution object of distrax, TFP's JAX substrate or NumPyro,
        or a jaxdiv member.

    Returns:
      The jaxdiv member, with the batch shape of `d`.

    Raises:
      TypeError: for an object of another kind or a class not in the table
        (the message lists the supported classes of each library).
      ValueError: for parameters outside the family's domain (eagerly), or a
        Binomial count that is not one whole number.

    Examples:
      >>> import jax.numpy as jnp
      >>> from tensorflow_probability.substrates import jax as tfp
      >>> from jaxdiv import expfam
      >>> p = tfp.distributions.Normal(loc=jnp.zeros(3), scale=jnp.array([1.0, 2.0, 3.0]))
      >>> expfam.from_distribution(p).batch_shape
      (3,)
      >>> q = tfp.distributions.Normal(loc=1.0, scale=1.0)
      >>> kl = expfam.kl_divergence(p, q)  # foreign objects are accepted directly
      >>> [round(float(v), 4) for v in kl]
      [0.5, 1.3069, 3.4014]
    """
    if isinstance(d, ExponentialFamily):
        return d
    library = library_of(d, fn=_FN)
    convert = _converter(d, library) if library is not None else None
    if convert is None:
        raise TypeError(
            f"{_FN}: cannot convert a {type(d).__module__}.{type(d).__qualname__} to a jaxdiv "
            f"exponential family. Supported are {supported_types()}."
        )
    return convert(d)
