r"""Expectations of log-gamma terms under count distributions, by one quadrature.

The entropies of the Negative Binomial and the logarithmic distribution need
`E[log Gamma(X + r) - log Gamma(X + 1)]` and `E[log X]`, which have no closed
form. Both are integrals against the Laplace transform of the count (Malmsten's
and Frullani's integrals):

$$
\log \Gamma(y + r) - \log \Gamma(y + 1) - \log \Gamma(r)
  = \int_0^\infty \frac{e^{-t} - e^{-r t}}{1 - e^{-t}} \, (1 - e^{-y t}) \, \frac{dt}{t},
\qquad
\log(1 + y) = \int_0^\infty e^{-t} (1 - e^{-y t}) \, \frac{dt}{t},
$$

so for a count `Y >= 0` with $S(t) = 1 - E[e^{-t Y}]$ both expectations are
$\int_0^\infty k(t) S(t) \, dt / t$ with a known kernel `k`. For an
exponential family with statistic `Y`, $S(t) = -\operatorname{expm1}(A(\theta - t) - A(\theta))$,
which each family writes in a form without cancellation.

The integral is taken over $u = \log t$ (where $dt / t = du$) by composite
Gauss-Legendre quadrature on a grid that depends only on the dtype (64 panels of
10 nodes): the integrand is smooth in `u`, with its nearest complex singularities
at distance $\pi / 2$ or more from the real axis, so panels of width below 1.8
are exact to about 1e-12 relative. The range ends where the neglected parts are
below the dtype's resolution for counts of mean up to 1e30: below, $S(t) \le t E[Y]$;
above, the kernel has decayed like $e^{-c t}$ past $e^{-46}$. The kernel is
evaluated once, in numpy float64, at trace time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(10)
_PANELS = 64
_MAX_MEAN = 1e30


def laplace_integral(
    kernel: Callable[[np.ndarray], np.ndarray],
    survival: Callable[[jax.Array], jax.Array],
    *,
    dtype: Any,
    decay: float,
    batch_ndim: int,
) -> jax.Array:
    """`int_0^inf kernel(t) survival(t) dt / t`, summed over the last axis of the nodes.

    `survival(t)` is `1 - E[exp(-t Y)]` for a count `Y >= 0`, called once with the
    nodes `t` (a constant of shape `(1,) * batch_ndim + (n,)`) and returning
    `batch + (n,)`; `kernel`
    is a numpy function, bounded near 0 and decaying at least like `exp(-decay t)`.
    """
    eps = float(jnp.finfo(dtype).eps) / 16
    lo = np.log(eps) - np.log1p(_MAX_MEAN)
    hi = np.log(46.0 / decay)
    width = (hi - lo) / _PANELS
    u = lo + width * (np.arange(_PANELS)[:, None] + 0.5 * (_NODES[None, :] + 1)).ravel()
    t = np.exp(u)
    weights = width * np.tile(0.5 * _WEIGHTS, _PANELS) * kernel(t)
    lead = (1,) * batch_ndim
    values = survival(jnp.asarray(np.reshape(t, lead + t.shape), dtype))
    return jnp.sum(values * jnp.asarray(np.reshape(weights, lead + t.shape), dtype), axis=-1)
