"""Fitting distributions to targets by a divergence, with any optax optimiser.

[`fit`][jaxdiv.fit.fit] fits a `jaxdiv.expfam` family member or a
`GaussianMixture` to a target given as a distribution, as samples or as a
log-density, by forward KL, reverse KL, a Renyi or an alpha divergence. It
returns a [`FitResult`][jaxdiv.fit.FitResult] pytree; several starting models
run side by side under `vmap`, and a [`Plateau`][jaxdiv.fit.Plateau] rule
stops a fit whose loss has stopped falling.
"""

from jaxdiv.fit._fit import fit
from jaxdiv.fit._objectives import DIVERGENCES
from jaxdiv.fit._result import FitResult, Plateau

__all__ = ["DIVERGENCES", "FitResult", "Plateau", "fit"]
