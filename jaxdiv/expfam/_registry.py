"""The table of closed-form KLs between members of one family, which families fill from their own
files.

A leaf module (TensorFlow Probability's `kullback_leibler.py` is the model): it imports no family
and no divergence, so a family file can register its closed form without an import circle, and
[`kl_divergence`][jaxdiv.expfam.kl_divergence] looks the form up here.

It also holds the *lifts*: a family that contains a smaller one with the same densities (a Gamma
contains every Exponential) registers, from its own file, how a member of the smaller family is
written as one of its members; the cross-family closed forms of `jaxdiv.numerical` lift both
members until they meet in one family.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import jax

KLForm = TypeVar("KLForm", bound=Callable[..., jax.Array])

_CLOSED_FORM_KL: dict[type, Callable[..., jax.Array]] = {}


def register_kl(cls: type) -> Callable[[KLForm], KLForm]:
    """Registers a closed-form KL for members of `cls` (used by
    [`kl_divergence`][jaxdiv.expfam.kl_divergence]).

    Examples:
      >>> from jaxdiv import expfam
      >>> p, q = expfam.Normal.from_mean_std(0.0, 1.0), expfam.Normal.from_mean_std(1.0, 2.0)
      >>> closed = float(expfam.kl_divergence(p, q))  # Normal registers a closed form
      >>> round(closed - float(expfam.bregman_kl(p, q)), 6)  # which equals the Bregman form
      0.0
    """

    def decorator(fn: KLForm) -> KLForm:
        _CLOSED_FORM_KL[cls] = fn
        return fn

    return decorator


def closed_form_kl(cls: type) -> Callable[..., jax.Array] | None:
    """The closed-form KL registered for members of exactly `cls`, or None."""
    return _CLOSED_FORM_KL.get(cls)


Lift = TypeVar("Lift", bound=Callable[[Any], Any])

_LIFTS: dict[type, Callable[[Any], Any]] = {}


def register_lift(cls: type) -> Callable[[Lift], Lift]:
    """Registers `fn(member)`, a member of `cls` written as a member of a larger family with
    the same density (registered from the larger family's file)."""

    def decorator(fn: Lift) -> Lift:
        _LIFTS[cls] = fn
        return fn

    return decorator


def lift(d: object) -> Any | None:
    """`d` as a member of the next larger family registered for its exact type, or None."""
    fn = _LIFTS.get(type(d))
    return None if fn is None else fn(d)
