"""The one conversion of a mixture argument: a `GaussianMixture`, a single Gaussian of
`jaxdiv.expfam`, or another library's mixture or Gaussian.

It sits apart from the class, which the converter of other libraries' objects imports, so that
neither module imports the other through a hidden, function-level import.
"""

from __future__ import annotations

from jaxdiv._libraries import is_foreign
from jaxdiv.mixture import _foreign
from jaxdiv.mixture._gaussian_mixture import GaussianMixture, single_gaussian_mixture


def as_mixture(p: object, *, fn: str) -> GaussianMixture:
    """`p` as a mixture: a [`GaussianMixture`][jaxdiv.mixture.GaussianMixture] as it is, a single
    Gaussian of `jaxdiv.expfam` as K = 1, a distrax, TFP or NumPyro `MixtureSameFamily` of
    Gaussians (or single Gaussian) converted by
    [`mixture.from_distribution`][jaxdiv.mixture.from_distribution]; anything else is a
    TypeError."""
    if isinstance(p, GaussianMixture):
        return p
    if is_foreign(p, fn=f"jaxdiv.{fn}"):
        return _foreign.from_distribution(p)
    return single_gaussian_mixture(p, fn=fn)
