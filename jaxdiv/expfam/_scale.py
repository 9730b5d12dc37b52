r"""One-parameter scale families, stored as the logarithm of the scale.

Rayleigh, HalfNormal, Laplace (location fixed), Weibull (shape fixed) and Pareto
(scale fixed, the family in the shape) have one natural parameter
$\theta = -c\, e^{-k \ell}$ with $\ell$ the logarithm of a positive parameter
(the scale, or for Pareto the shape with $k = -1$), and log-normalizer
$A = -w \log(-\theta) + w \log c = w k \ell$. The mean parameter is
$\mu = w / (-\theta) = (w / c)\, e^{k \ell}$, and the KL divergence is

$$
\mathrm{KL}(p_1 \,\|\, p_2) = w \big(e^{k d} - 1 - k d\big), \qquad d = \ell_1 - \ell_2 ,
$$

a function of the log-ratio alone. The members store $\ell$ rather than
$\theta$ (as the Gaussian families store `log_std`): $\theta$ and the
gradients through it overflow in float32 once $k |\ell|$ passes about 88, while
the forms written with $\ell$ stay finite; `from_log_scale` builds a member
from $\ell$ directly.
"""

from __future__ import annotations

from typing import ClassVar, Self

import jax
import jax.numpy as jnp

from jaxdiv import _validation as val
from jaxdiv._numerics import expm1_minus_x
from jaxdiv.expfam._family import ExponentialFamily, Params, as_params


class ScaleFamily(ExponentialFamily):
    """Shared by the one-parameter families whose natural parameter is
    `-theta_coef * exp(-power * log_scale)`; the one data field is the log-scale.

    A family sets `theta_coef` (`c`), `normalizer_weight` (`w`) and either the
    class attribute `scale_power` (`k`) or a `power()` method (Weibull's power is
    its static shape).
    """

    natural_event_ndims: ClassVar[tuple[int, ...]] = (0,)
    boundary_members = False  # finite natural parameters at every member of each family
    theta_coef: ClassVar[float] = 1.0
    normalizer_weight: ClassVar[float] = 1.0
    scale_power: ClassVar[float] = 1.0

    def power(self) -> float:
        """`k`: the natural parameter is `-c exp(-k log_scale)`."""
        return self.scale_power

    def log_scale_field(self) -> jax.Array:
        """The stored logarithm (of the scale; of the shape for Pareto)."""
        return self.stored_parameters()[0]

    @classmethod
    def _checked_scale(cls, fn: str, name: str, value: jax.typing.ArrayLike) -> jax.Array:
        (x,) = as_params(fn, **{name: value})
        val.check_domain(
            (x > 0) & jnp.isfinite(x), f"jaxdiv.expfam.{fn}: {name} must be finite and > 0."
        )
        return jnp.log(x)

    @classmethod
    def _checked_log_scale(cls, fn: str, name: str, value: jax.typing.ArrayLike) -> jax.Array:
        (x,) = as_params(fn, **{name: value})
        val.check_domain(jnp.isfinite(x), f"jaxdiv.expfam.{fn}: {name} must be finite.")
        return x

    def natural_parameters(self) -> Params:
        return (-self.theta_coef * jnp.exp(-self.power() * self.log_scale_field()),)

    def with_natural_parameters(self, theta: Params) -> Self:
        # Outside the domain (theta >= 0) the log-scale is NaN, which in_domain rejects.
        log_scale = -jnp.log(-theta[0] / self.theta_coef) / self.power()
        return self._with_stored((log_scale,))

    def log_normalizer(self) -> jax.Array:
        return self.normalizer_weight * self.power() * self.log_scale_field()

    def mean_parameters(self) -> Params:
        w, c = self.normalizer_weight, self.theta_coef
        return ((w / c) * jnp.exp(self.power() * self.log_scale_field()),)

    def log_normalizer_minus_inner(self, other: ExponentialFamily) -> jax.Array:
        """`w k l_self + w exp(k (l_other - l_self))`: no natural parameter is formed."""
        assert isinstance(other, ScaleFamily)
        k, w = self.power(), self.normalizer_weight
        mine, theirs = self.log_scale_field(), other.log_scale_field()
        return w * k * mine + w * jnp.exp(k * (theirs - mine))

    def in_domain(self) -> jax.Array:
        return jnp.isfinite(self.log_scale_field())

    def log_scale_from_mean(self, mean: jax.typing.ArrayLike) -> jax.Array:
        """The log-scale whose mean parameter is `mean` (the inverse of the mean map)."""
        w, c = self.normalizer_weight, self.theta_coef
        return jnp.log(c * jnp.asarray(mean) / w) / self.power()


def scale_kl(p: ScaleFamily, q: ScaleFamily) -> jax.Array:
    """`w (exp(k d) - 1 - k d)` with `d = l_p - l_q`, without cancellation near `d = 0`."""
    k = p.power()
    return p.normalizer_weight * expm1_minus_x(k * (p.log_scale_field() - q.log_scale_field()))
