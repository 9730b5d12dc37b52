"""The univariate Normal family: theta = (mu / sigma^2, -1 / (2 sigma^2)), T(x) = (x, x^2).

The Gaussian families (Normal, LogNormal, MultivariateNormalDiag) store the
mean and the log standard deviation of each coordinate rather than the natural
parameters: in float32 the natural parameter `-1 / (2 sigma^2)` and the
gradients through it overflow or underflow once `|log sigma|` passes about
22 (a β-VAE encoder's `logvar` of 44), while the closed forms written with
`log sigma` stay finite, with exact gradients, for `|log sigma|` up to about
40. `natural_parameters()` computes `theta` from them, and the generic
divergences get the cross term `A(theta) - <theta, mu>` in closed form.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Self

import jax
import jax.numpy as jnp

from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv._numerics import LOG_2PI, expm1_minus_x
from jaxdiv.expfam._family import ExponentialFamily, Params, as_params, family
from jaxdiv.expfam._registry import register_kl

#: `z * sqrt(1/2)` squared is `z^2 / 2`.
_SQRT_HALF = math.sqrt(0.5)


def gaussian_kl(
    m1: jax.Array,
    log_std1: jax.Array,
    m2: jax.Array,
    log_std2: jax.Array,
    *,
    sum_axis: int | None = None,
) -> jax.Array:
    """KL(N(m1, s1^2) || N(m2, s2^2)) elementwise, from means and log standard deviations
    (summed over `sum_axis` if given: the KL of independent coordinates).

    ``log(s2 / s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2
    = (expm1(2 d) - 2 d) / 2 + ((m1 - m2) / s2)^2 / 2`` with `d = log s1 - log s2`:
    no ratio of variances is formed, so nothing overflows before the KL itself
    does, and the gradient in `log s1` is `expm1(2 d)`. The halving is taken
    inside both terms (`expm1_minus_x`'s `scale`, and `z / sqrt(2)` squared) so
    that XLA:CPU compiles the sum of the terms into one pass with the caller's
    reduction: a factor 1/2 outside, shared with the constant 1/2 in
    `expm1_minus_x`'s choice of branch, was written out as an array of its own
    (1.1 to 1.4 times the hand-written formula's time at [4096, 64]).
    """
    d = log_std1 - log_std2
    z = (m1 - m2) * (jnp.exp(-log_std2) * _SQRT_HALF)
    kl = expm1_minus_x(2 * d, 0.5) + jnp.square(z)
    return kl if sum_axis is None else jnp.sum(kl, sum_axis)


def gaussian_cross_term(
    m1: jax.Array, log_std1: jax.Array, m2: jax.Array, log_std2: jax.Array
) -> jax.Array:
    """`A(theta_2) - <theta_2, mu_1> = log s2 + (s1^2 + (m1 - m2)^2) / (2 s2^2)`, elementwise."""
    z = (m1 - m2) * jnp.exp(-log_std2)
    return log_std2 + 0.5 * (jnp.exp(2 * (log_std1 - log_std2)) + jnp.square(z))


class GaussianCoordinates(ExponentialFamily):
    """Shared by the families of independent Gaussian coordinates (Normal, LogNormal,
    MultivariateNormalDiag): fields `loc` and `log_std`, natural parameters
    `(loc / var, -1 / (2 var))` per coordinate."""

    loc: jax.Array
    log_std: jax.Array
    boundary_members = False  # finite natural parameters at every member of each family

    if TYPE_CHECKING:  # the constructor each family's dataclass defines

        def __init__(self, loc: jax.Array, log_std: jax.Array) -> None: ...

    @classmethod
    def from_mean_std(cls, mean: jax.typing.ArrayLike, std: jax.typing.ArrayLike) -> Self:
        """The member with mean `mean` and standard deviation `std` (> 0)."""
        fn = f"{cls.__name__}.from_mean_std"
        mean, std = cls._check_params(fn, mean=mean, std=std)
        val.check_domain(std > 0, f"jaxdiv.expfam.{fn}: std must be > 0.")
        return cls(mean, num.safe_log(std))

    @classmethod
    def from_mean_log_std(cls, mean: jax.typing.ArrayLike, log_std: jax.typing.ArrayLike) -> Self:
        """The member with mean `mean` and standard deviation `exp(log_std)`.

        What an encoder outputs: with `logvar`, pass `log_std = logvar / 2`.
        Divergences stay finite, with exact gradients, for `|log_std|` up to
        about 40 in float32.
        """
        fn = f"{cls.__name__}.from_mean_log_std"
        mean, log_std = cls._check_params(fn, mean=mean, log_std=log_std)
        val.check_domain(jnp.isfinite(log_std), f"jaxdiv.expfam.{fn}: log_std must be finite.")
        return cls(mean, log_std)

    @classmethod
    def _check_params(cls, fn: str, **named: jax.typing.ArrayLike) -> list[jax.Array]:
        return as_params(fn, **named)

    @classmethod
    def from_mean_parameters(cls, mu: Params) -> Self:
        m1, m2 = mu
        return cls.from_mean_std(m1, jnp.sqrt(m2 - jnp.square(m1)))

    def natural_parameters(self) -> Params:
        precision = jnp.exp(-2 * self.log_std)
        return (self.loc * precision, -0.5 * precision)

    def with_natural_parameters(self, theta: Params) -> Self:
        eta1, eta2 = theta
        return type(self)(-eta1 / (2 * eta2), -0.5 * jnp.log(-2 * eta2))

    @property
    def std(self) -> jax.Array:
        return jnp.exp(self.log_std)

    @property
    def var(self) -> jax.Array:
        return jnp.exp(2 * self.log_std)

    def _sum_event(self, x: jax.Array) -> jax.Array:
        nd = self.natural_event_ndims[0]
        return jnp.sum(x, axis=tuple(range(x.ndim - nd, x.ndim)))

    def log_normalizer(self) -> jax.Array:
        """`A = loc^2 / (2 var) + log std` per coordinate."""
        return self._sum_event(0.5 * jnp.square(self.loc * jnp.exp(-self.log_std)) + self.log_std)

    def log_normalizer_minus_inner(self, other: Self) -> jax.Array:
        return self._sum_event(
            gaussian_cross_term(other.loc, other.log_std, self.loc, self.log_std)
        )

    def mean_parameters(self) -> Params:
        m = self.loc
        return (m, jnp.square(m) + self.var)

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        x = jnp.asarray(x, self.dtype)
        return (x, jnp.square(x))

    def in_domain(self) -> jax.Array:
        ok = jnp.isfinite(self.loc) & jnp.isfinite(self.log_std)
        return jnp.all(ok, axis=tuple(range(ok.ndim - self.natural_event_ndims[0], ok.ndim)))

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Reparameterised: `loc + std * N(0, 1)`."""
        z = jax.random.normal(key, tuple(shape) + self.loc.shape, self.dtype)
        loc, std = (jnp.broadcast_to(t, z.shape) for t in (self.loc, self.std))
        return loc + std * z


@family
class Normal(GaussianCoordinates, ExponentialFamily):
    """Normal(mean, std) with natural parameters `(mean / var, -1 / (2 var))`.

    The member stores `loc` and `log_std` (see the module notes);
    `from_mean_log_std` builds one from a log standard deviation.

    Examples:
      >>> from jaxdiv import expfam
      >>> d = expfam.Normal.from_mean_std(1.0, 2.0)
      >>> [round(float(m), 4) for m in d.mean_parameters()]
      [1.0, 5.0]
      >>> p = expfam.Normal.from_mean_log_std(0.0, 40.0)  # std e^40, far beyond float32's 1/var
      >>> q = expfam.Normal.from_mean_std(0.0, 1.0)
      >>> round(float(expfam.kl_divergence(q, p)), 4)  # 40 + e^-80 / 2 - 1/2
      39.5
    """

    loc: jax.Array
    log_std: jax.Array
    natural_event_ndims = (0, 0)

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        return jnp.full(jnp.shape(x), -0.5 * LOG_2PI, self.dtype)

    def expected_log_base_measure(self) -> jax.Array:
        return jnp.full(self.batch_shape, -0.5 * LOG_2PI, self.dtype)


@register_kl(Normal)
def _normal_kl(p: Normal, q: Normal) -> jax.Array:
    return gaussian_kl(p.loc, p.log_std, q.loc, q.log_std)
