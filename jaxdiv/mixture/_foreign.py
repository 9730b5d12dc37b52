"""Gaussian mixtures of distrax, TensorFlow Probability (JAX substrate) and NumPyro.

A `MixtureSameFamily` of any of the three libraries with Gaussian components
becomes a [`GaussianMixture`][jaxdiv.mixture.GaussianMixture]: the mixing
Categorical and the batch of components are converted by
[`jaxdiv.expfam.from_distribution`][jaxdiv.expfam.from_distribution], which
reads each library's own parameters, so gradients flow through. The libraries
are never imported here.
"""

from __future__ import annotations

from typing import Any

from jaxdiv import expfam
from jaxdiv._libraries import LIBRARY_NAMES, library_of
from jaxdiv.mixture._gaussian_mixture import GaussianMixture, single_gaussian_mixture

_FN = "jaxdiv.mixture.from_distribution"

#: Where each library's MixtureSameFamily keeps its mixing distribution and its components.
_PARTS = {
    "distrax": ("mixture_distribution", "components_distribution"),
    "tensorflow_probability": ("mixture_distribution", "components_distribution"),
    "numpyro": ("mixing_distribution", "component_distribution"),
}


def _is_mixture_same_family(d: object, library: str) -> bool:
    return any(
        cls.__name__ == "MixtureSameFamily" and (cls.__module__ or "").startswith(library)
        for cls in type(d).__mro__
    )


def from_distribution(d: Any) -> GaussianMixture:
    r"""A [`GaussianMixture`][jaxdiv.mixture.GaussianMixture] from another library's mixture.

    Accepts the `MixtureSameFamily` of distrax, TensorFlow Probability (JAX
    substrate) and NumPyro whose components are Gaussians that
    [`jaxdiv.expfam.from_distribution`][jaxdiv.expfam.from_distribution] converts: `Normal`
    (a one-dimensional mixture), `MultivariateNormalDiag` or an `Independent`
    Normal (diagonal covariances), and the full-covariance Gaussians
    (`MultivariateNormalTri`/`TriL`, `...FullCovariance`, NumPyro's
    `MultivariateNormal`, ...). The mixing distribution's probabilities or logits
    become the weights. A single Gaussian of one of those libraries (empty
    batch shape) is a mixture of one. A
    [`GaussianMixture`][jaxdiv.mixture.GaussianMixture] is returned as it is.
    The functions of [`jaxdiv.mixture`][jaxdiv.mixture] call this on such
    arguments, so they can be passed directly. Gradients flow from the foreign
    parameters to the mixture's.

    Args:
      d: a `MixtureSameFamily` or a single Gaussian of distrax, TFP or NumPyro,
        with an empty batch shape (a `GaussianMixture` holds one mixture).

    Returns:
      The mixture, with `K` components in `d` dimensions.

    Raises:
      TypeError: for another kind of object, or components that are not Gaussian.
      ValueError: for a mixture with a batch shape.

    Examples:
      >>> import jax.numpy as jnp
      >>> from tensorflow_probability.substrates import jax as tfp
      >>> from jaxdiv import mixture
      >>> tfd = tfp.distributions
      >>> p = tfd.MixtureSameFamily(tfd.Categorical(probs=jnp.array([0.3, 0.7])),
      ...                           tfd.Normal(jnp.array([-1.0, 1.0]), jnp.array([0.5, 1.0])))
      >>> m = mixture.from_distribution(p)
      >>> m.num_components, m.dim
      (2, 1)
      >>> q = tfd.Normal(0.0, 2.0)  # a single Gaussian is a mixture of one
      >>> kl = mixture.kl_divergence(p, q, method="quadrature")  # accepted directly
      >>> round(float(kl), 4)
      0.2257
    """
    if isinstance(d, GaussianMixture):
        return d
    library = library_of(d, fn=_FN)
    if library is None:
        raise TypeError(
            f"{_FN}: expected a MixtureSameFamily or a single Gaussian of "
            f"{', '.join(LIBRARY_NAMES.values())}, got {type(d).__name__}."
        )
    if not _is_mixture_same_family(d, library):
        return single_gaussian_mixture(expfam.from_distribution(d), fn="mixture.from_distribution")
    mixing_name, components_name = _PARTS[library]
    mixing = expfam.from_distribution(getattr(d, mixing_name))
    try:
        components = expfam.from_distribution(getattr(d, components_name))
    except TypeError as err:  # not even an exponential family: say what a component must be
        raise TypeError(_components_message(getattr(d, components_name)) + ".") from err
    if not isinstance(mixing, expfam.Categorical):
        raise TypeError(
            f"{_FN}: the mixing distribution must be a Categorical, got "
            f"{type(getattr(d, mixing_name)).__name__}."
        )
    if mixing.batch_shape != ():
        raise ValueError(
            f"{_FN}: the mixture has batch shape {mixing.batch_shape}; a GaussianMixture "
            "holds one mixture, so convert each batch entry on its own."
        )
    weights = mixing.probs
    if type(components) is expfam.Normal:  # not its subclass LogNormal
        return GaussianMixture.univariate(weights, components.loc, components.std)
    if isinstance(components, expfam.MultivariateNormalDiag):
        return GaussianMixture.diagonal(weights, components.loc, components.var)
    if isinstance(components, expfam.MultivariateNormal):
        return GaussianMixture.from_scale_tril(weights, components.loc, components.scale)
    raise TypeError(
        _components_message(getattr(d, components_name))
        + f" (a jaxdiv {type(components).__name__})."
    )


def _components_message(components: object) -> str:
    return (
        f"{_FN}: the components must be Gaussians (Normal, MultivariateNormalDiag, "
        f"Independent Normal or a full-covariance MultivariateNormal), got "
        f"{type(components).__name__}"
    )
