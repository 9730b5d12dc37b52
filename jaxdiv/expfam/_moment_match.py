"""The M-projection: the family member whose mean parameters match a distribution's."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxdiv.expfam._family import ExponentialFamily, Params


def moment_match(
    family: type[ExponentialFamily] | ExponentialFamily,
    samples_or_mean_statistics: jax.typing.ArrayLike | Params,
    *,
    weights: jax.typing.ArrayLike | None = None,
    init: ExponentialFamily | None = None,
    **static: Any,
) -> ExponentialFamily:
    r"""The M-projection of a distribution onto an exponential family.

    The member `q*` with `E_{q*}[T(X)] = E_p[T(X)]` minimises `KL(p || q)`
    over the family, and for every member `q` the Pythagorean identity holds:

    $$
    \mathrm{KL}(p \,\|\, q) = \mathrm{KL}(p \,\|\, q^*) + \mathrm{KL}(q^* \,\|\, q)
    $$

    Args:
      family: the family's class, or a member used as a template (needed for
        Categorical samples, whose statistics depend on the number of classes).
      samples_or_mean_statistics: samples of `p` along axis 0, or the tuple of
        expected sufficient statistics `E_p[T(X)]` (as `mean_parameters()`
        returns them).
      weights: optional non-negative weights of the samples (normalised here).
      init: a member of the family to start Newton's method from, for a family
        without a closed-form inverse of its mean map and without a starting
        point of its own (a family you define); passed to
        `from_mean_parameters`. Families with a closed-form inverse do not
        use it.
      **static: fixed parameters of the family (`total_count` for Binomial)
        when `family` is a class.

    Returns:
      The member with those mean parameters (via the family's
      `from_mean_parameters`).

    Raises:
      TypeError: if `family` is not an exponential family, or `init` is not
        a member of it.
      NotImplementedError: for a family that needs `init` and was given none.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import expfam
      >>> q = expfam.moment_match(expfam.Normal, jnp.array([1.0, 2.0, 3.0, 6.0]))
      >>> float(q.loc), float(q.var)
      (3.0, 3.5)
    """
    if isinstance(family, ExponentialFamily):
        cls, template = type(family), family
        static = dict(zip(cls._static_fields, family.static_parameters(), strict=True))
    elif isinstance(family, type) and issubclass(family, ExponentialFamily):
        cls, template = family, None
    else:
        raise TypeError(
            "jaxdiv.expfam.moment_match: family must be an exponential-family class or member, "
            f"got {family!r}."
        )
    if init is not None and type(init) is not cls:
        raise TypeError(
            f"jaxdiv.expfam.moment_match: init must be a {cls.__name__} member, "
            f"got {type(init).__name__}."
        )
    if isinstance(samples_or_mean_statistics, tuple):
        mu = tuple(jnp.asarray(m) for m in samples_or_mean_statistics)
    else:
        x = jnp.asarray(samples_or_mean_statistics)
        if template is None:
            template = cls._statistics_template(x.dtype, **static)
        stats = template.sufficient_statistics(x)
        if weights is None:
            mu = tuple(jnp.mean(s, axis=0) for s in stats)
        else:
            w = jnp.asarray(weights, stats[0].dtype)
            w = w / jnp.sum(w)
            mu = tuple(jnp.tensordot(w, s, axes=(0, 0)) for s in stats)
    if init is not None and _solves_by_newton(cls):
        return cls.from_mean_parameters(mu, init=init, **static)
    return cls.from_mean_parameters(mu, **static)


def _solves_by_newton(cls: type[ExponentialFamily]) -> bool:
    """Whether `cls` inverts its mean map with the generic Newton solver (which takes init)."""
    return getattr(cls.from_mean_parameters, "__func__", None) is getattr(
        ExponentialFamily.from_mean_parameters, "__func__", None
    )
