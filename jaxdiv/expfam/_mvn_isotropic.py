r"""The isotropic multivariate Normal family: N(mean, s^2 I), theta = (mean / s^2, -1 / (2 s^2)).

$T(x) = (x, \lVert x \rVert^2)$: one variance shared by the d coordinates. The
member stores the mean and the log standard deviation, as the other Gaussian
families do (see `jaxdiv.expfam._normal`), so that divergences stay finite with
exact gradients far beyond the range where `-1 / (2 s^2)` is representable.
"""

from __future__ import annotations

from typing import Self

import jax
import jax.numpy as jnp

from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv._numerics import LOG_2PI, expm1_minus_x
from jaxdiv.expfam._family import ExponentialFamily, Params, as_params, family
from jaxdiv.expfam._registry import register_kl


def _sqnorm(x: jax.Array) -> jax.Array:
    return jnp.sum(jnp.square(x), -1)


@family
class MultivariateNormalIsotropic(ExponentialFamily):
    r"""Normal(mean, std^2 I) in d dimensions: one variance for all coordinates.

    $$
    \theta = \Big(\frac{m}{s^2}, -\frac{1}{2 s^2}\Big), \quad
    T(x) = (x, \lVert x \rVert^2), \quad
    A = \frac{\lVert m \rVert^2}{2 s^2} + d \log s,
    $$

    with the base measure $(2\pi)^{-d/2}$. The member stores `loc` `[..., d]` and
    `log_std` `[...]`. The KL is
    $\tfrac{d}{2}\big(e^{2\delta} - 1 - 2\delta\big) + \lVert m_p - m_q \rVert^2 / (2 s_q^2)$
    with $\delta = \log s_p - \log s_q$.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import expfam
      >>> p = expfam.MultivariateNormalIsotropic.from_mean_std(jnp.zeros(3), 1.0)
      >>> q = expfam.MultivariateNormalIsotropic.from_mean_std(jnp.ones(3), 2.0)
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # 3 (log 2 + 1/8 - 1/2) + 3 / 8
      1.329442
    """

    loc: jax.Array
    log_std: jax.Array
    natural_event_ndims = (1, 0)
    boundary_members = False  # finite natural parameters at every member

    @classmethod
    def _build(
        cls, fn: str, mean: jax.typing.ArrayLike, name: str, value: jax.typing.ArrayLike
    ) -> tuple[jax.Array, jax.Array]:
        (mean,) = as_params(fn, mean=mean)
        (value,) = as_params(fn, **{name: value})
        if mean.ndim < 1:
            raise ValueError(
                f"jaxdiv.expfam.{fn}: mean needs an event axis [..., d], got shape {mean.shape}."
            )
        try:
            batch = jnp.broadcast_shapes(mean.shape[:-1], value.shape)
        except ValueError:
            raise ValueError(
                f"jaxdiv.expfam.{fn}: mean has batch shape {mean.shape[:-1]} (shape "
                f"{mean.shape}) and {name} has shape {value.shape}, which do not broadcast "
                f"({name} has one value per distribution, no event axis)."
            ) from None
        return jnp.broadcast_to(mean, batch + mean.shape[-1:]), jnp.broadcast_to(value, batch)

    @classmethod
    def from_mean_std(cls, mean: jax.typing.ArrayLike, std: jax.typing.ArrayLike) -> Self:
        """The member with mean `mean` `[..., d]` and standard deviation `std` `[...]` (> 0).

        Examples:
          >>> import jax.numpy as jnp
          >>> from jaxdiv import expfam
          >>> d = expfam.MultivariateNormalIsotropic.from_mean_std(jnp.zeros((4, 2)), 3.0)
          >>> d.batch_shape, d.dim
          ((4,), 2)
        """
        fn = f"{cls.__name__}.from_mean_std"
        mean, std = cls._build(fn, mean, "std", std)
        val.check_domain(std > 0, f"jaxdiv.expfam.{fn}: std must be > 0.")
        return cls(mean, num.safe_log(std))

    @classmethod
    def from_mean_log_std(cls, mean: jax.typing.ArrayLike, log_std: jax.typing.ArrayLike) -> Self:
        """The member with mean `mean` `[..., d]` and standard deviation `exp(log_std)`.

        Examples:
          >>> import jax.numpy as jnp
          >>> from jaxdiv import expfam
          >>> d = expfam.MultivariateNormalIsotropic.from_mean_log_std(jnp.zeros(2), 0.0)
          >>> float(d.std)
          1.0
        """
        fn = f"{cls.__name__}.from_mean_log_std"
        mean, log_std = cls._build(fn, mean, "log_std", log_std)
        val.check_domain(jnp.isfinite(log_std), f"jaxdiv.expfam.{fn}: log_std must be finite.")
        return cls(mean, log_std)

    @classmethod
    def from_mean_parameters(cls, mu: Params) -> Self:
        """The member with `E[x] = mu[0]` and `E[|x|^2] = mu[1]`."""
        m1, m2 = (jnp.asarray(m) for m in mu)
        d = m1.shape[-1]
        return cls.from_mean_std(m1, jnp.sqrt((m2 - _sqnorm(m1)) / d))

    @property
    def dim(self) -> int:
        return self.loc.shape[-1]

    @property
    def std(self) -> jax.Array:
        return jnp.exp(self.log_std)

    def mean(self) -> jax.Array:
        return self.loc

    def natural_parameters(self) -> Params:
        precision = jnp.exp(-2 * self.log_std)
        return (self.loc * precision[..., None], -0.5 * precision)

    def with_natural_parameters(self, theta: Params) -> Self:
        eta1, eta2 = (jnp.asarray(t) for t in theta)
        return type(self)(-eta1 / (2 * eta2[..., None]), -0.5 * jnp.log(-2 * eta2))

    def log_normalizer(self) -> jax.Array:
        """`A = |mean|^2 / (2 s^2) + d log s`."""
        return 0.5 * _sqnorm(self.loc) * jnp.exp(-2 * self.log_std) + self.dim * self.log_std

    def log_normalizer_minus_inner(self, other: Self) -> jax.Array:
        """`d log s + (d s_o^2 + |m_o - m|^2) / (2 s^2)`, with no ratio of variances formed."""
        z2 = _sqnorm(other.loc - self.loc) * jnp.exp(-2 * self.log_std)
        ratio = jnp.exp(2 * (other.log_std - self.log_std))
        return self.dim * self.log_std + 0.5 * (self.dim * ratio + z2)

    def mean_parameters(self) -> Params:
        m = self.loc
        return (m, _sqnorm(m) + self.dim * jnp.exp(2 * self.log_std))

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        x = jnp.asarray(x, self.dtype)
        return (x, _sqnorm(x))

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        return jnp.full(jnp.shape(x)[:-1], -0.5 * self.dim * LOG_2PI, self.dtype)

    def expected_log_base_measure(self) -> jax.Array:
        return jnp.full(self.batch_shape, -0.5 * self.dim * LOG_2PI, self.dtype)

    def in_domain(self) -> jax.Array:
        return jnp.all(jnp.isfinite(self.loc), -1) & jnp.isfinite(self.log_std)

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Reparameterised: `mean + s z` with `z ~ N(0, I)`."""
        z = jax.random.normal(key, tuple(shape) + self.loc.shape, self.dtype)
        std = jnp.broadcast_to(self.std[..., None], z.shape)
        return jnp.broadcast_to(self.loc, z.shape) + std * z


@register_kl(MultivariateNormalIsotropic)
def _isotropic_kl(p: MultivariateNormalIsotropic, q: MultivariateNormalIsotropic) -> jax.Array:
    """`(d (e^(2 delta) - 1 - 2 delta) + |m_p - m_q|^2 / s_q^2) / 2`, `delta = log(s_p / s_q)`."""
    delta = p.log_std - q.log_std
    z2 = _sqnorm(p.loc - q.loc) * jnp.exp(-2 * q.log_std)
    return 0.5 * (p.dim * expm1_minus_x(2 * delta) + z2)
