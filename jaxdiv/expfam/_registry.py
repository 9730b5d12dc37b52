"""The table of closed-form KLs between members of one family, which families fill from their own
files.

A leaf module (TensorFlow Probability's `kullback_leibler.py` is the model): it imports no family
and no divergence, so a family file can register its closed form without an import circle, and
[`kl_divergence`][jaxdiv.expfam.kl_divergence] looks the form up here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

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
