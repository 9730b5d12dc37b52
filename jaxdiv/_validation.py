"""Static argument checks and the opt-in, jit-safe value checks.

Static checks (shapes, dtypes, axes, hyperparameters) run at trace time and
raise `TypeError` or `ValueError` whose messages say what was wrong and what
was expected. Value checks (negative probabilities, rows that do not sum to
one, NaN logits) cost a reduction per call, so they are opt-in: they are traced
only inside [`checked`][jaxdiv.checked], which runs a function under
`jax.experimental.checkify.checkify` so that the checks also work under
`jax.jit`.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import numbers
import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

_CHECKS = contextvars.ContextVar("jaxdiv_value_checks", default=False)


def value_checks_enabled() -> bool:
    """Whether value checks are being traced (inside [`checked`][jaxdiv.checked])."""
    return _CHECKS.get()


@contextlib.contextmanager
def _enable_value_checks() -> Iterator[None]:
    token = _CHECKS.set(True)
    try:
        yield
    finally:
        _CHECKS.reset(token)


def checked(fn: Callable[..., Any]) -> Callable[..., tuple[checkify.Error, Any]]:
    """Runs `fn` with jaxdiv's value checks switched on.

    jaxdiv checks shapes, dtypes and hyperparameters at trace time, always.
    Checks on the *values* of its inputs (probabilities that are negative or do
    not sum to one along `axis`, NaN or `+inf` logits, integer labels out of
    range) are opt-in: they are traced only while `fn` runs inside
    `checked`. The wrapped function returns `(error, result)` as
    `jax.experimental.checkify.checkify` does; call `error.throw()` to
    raise the first failed check as a `ValueError`.

    Wrap *before* jitting, so that the checks are part of the traced program:

    ```python
    safe_kl = jax.jit(jaxdiv.checked(jaxdiv.kl_divergence))
    error, kl = safe_kl(p, q)
    error.throw()
    ```

    Args:
      fn: any function that calls jaxdiv functions.

    Returns:
      A function with the signature of `fn` that returns `(error, result)`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import jaxdiv
      >>> err, kl = jaxdiv.checked(jaxdiv.kl_divergence)(
      ...     jnp.array([0.5, 0.7]), jnp.array([0.5, 0.5]))
      >>> print(err.get())
      jaxdiv.kl_divergence: p does not sum to 1 along axis 0 (largest deviation 0.2...) ...
    """

    if not callable(fn):
        raise TypeError(f"jaxdiv.checked: fn must be a callable, got {fn!r}.")

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> tuple[checkify.Error, Any]:
        with _enable_value_checks():
            return checkify.checkify(fn, errors=checkify.user_checks)(*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------- dtypes and shapes


def as_float(name: str, x: jax.typing.ArrayLike, *, fn: str) -> jax.Array:
    """Converts `x` to a floating array, rejecting integer, boolean and complex input."""
    try:
        x = jnp.asarray(x)
    except (TypeError, ValueError):
        raise TypeError(
            f"jaxdiv.{fn}: {name} must be an array of probabilities or logits, got "
            f"{_describe_object(x)}.{_object_hint(x)}"
        ) from None
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(
            f"jaxdiv.{fn}: {name} must be a floating-point array of probabilities or "
            f"logits, got dtype {x.dtype}; convert it with .astype(jnp.float32)."
        )
    return x


def _describe_object(x: Any) -> str:
    cls = type(x)
    if cls.__module__ == "builtins":
        return f"a {cls.__name__}" + (" (ragged nested lists?)" if cls in (list, tuple) else "")
    module = ".".join(m for m in cls.__module__.split(".") if not m.startswith("_"))
    return f"a {module}.{cls.__name__}"


def _object_hint(x: Any) -> str:
    """Where to go with a distribution object passed to the array API."""
    module = type(x).__module__
    if module.startswith("jaxdiv.expfam"):
        return (
            " For exponential-family members use jaxdiv.expfam.kl_divergence(p, q) "
            "(and the other functions of jaxdiv.expfam)."
        )
    if module.startswith("jaxdiv.mixture"):
        return " For Gaussian mixtures use jaxdiv.mixture.kl_divergence(p, q)."
    return ""


def float_params(fn: str, **named: jax.typing.ArrayLike) -> list[jax.Array]:
    """Real parameters as arrays of one floating dtype, each keeping its own shape.

    Python numbers and integer arrays become JAX's default float (float64 when
    x64 is on); 16-bit parameters are raised to float32.
    """
    arrays = [jnp.asarray(x) for x in named.values()]
    for name, x in zip(named, arrays, strict=True):
        if not (jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.integer)):
            raise TypeError(
                f"jaxdiv.{fn}: {name} must be a real number or array, got dtype {x.dtype}."
            )
    dtype = jnp.result_type(*arrays, float)
    if jnp.finfo(dtype).bits < 32:
        dtype = jnp.float32
    return [x.astype(dtype) for x in arrays]


def compute_dtype(*arrays: jax.Array) -> np.dtype:
    """The dtype in which to compute: the inputs' common dtype, at least float32.

    JAX's promotion rules decide, so Python numbers (weakly typed) follow the
    arrays they meet and alone give the default float (float64 under
    `jax_enable_x64`); 16-bit results are raised to float32.
    """
    dtype = jnp.result_type(*arrays)
    return jnp.dtype(jnp.float32) if jnp.finfo(dtype).bits < 32 else dtype


def normalize_axis(axis: Any, ndim: int, *, fn: str) -> int:
    """`axis` (any integer, NumPy's too, never a bool) in `[0, ndim)`."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"jaxdiv.{fn}: axis must be an int or a tuple of ints, got {axis!r}.")
    index = operator.index(axis)
    if not -ndim <= index < ndim:
        raise ValueError(
            f"jaxdiv.{fn}: axis {axis} is out of range for inputs with {ndim} dimensions."
        )
    return index % ndim


def normalize_axes(axis: int | Sequence[int], ndim: int, *, fn: str) -> tuple[int, ...]:
    """`axis` (an int or a tuple of distinct ints) as a sorted tuple of non-negative axes."""
    if isinstance(axis, tuple | list):
        axes = tuple(normalize_axis(a, ndim, fn=fn) for a in axis)
        if not axes:
            raise ValueError(
                f"jaxdiv.{fn}: axis must name at least one axis, got {axis!r}; the "
                "distribution lies along it."
            )
        if len(set(axes)) != len(axes):
            raise ValueError(f"jaxdiv.{fn}: axis {axis!r} names an axis twice.")
        return tuple(sorted(axes))
    return (normalize_axis(axis, ndim, fn=fn),)


def flatten_axes(x: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    """`x` with `axes` moved to the end and merged into one, the other axes in order."""
    if axes == (x.ndim - 1,):
        return x
    x = jnp.moveaxis(x, axes, tuple(range(x.ndim - len(axes), x.ndim)))
    return x.reshape(*x.shape[: x.ndim - len(axes)], -1)


def broadcast_inputs(
    named: Sequence[tuple[str, jax.Array]],
    *,
    axis: int | Sequence[int] | None,
    fn: str,
) -> tuple[list[jax.Array], tuple[int, ...] | None]:
    """Broadcasts arrays to one shape; the distribution axes must match exactly.

    Returns the broadcast arrays and `axis` as a sorted tuple of
    non-negative indices into the broadcast shape (`None` for elementwise
    functions).
    """
    shapes = [x.shape for _, x in named]
    ndim = max(len(s) for s in shapes)
    padded = [(1,) * (ndim - len(s)) + s for s in shapes]
    try:
        shape = jnp.broadcast_shapes(*shapes)
    except ValueError:
        desc = " and ".join(f"{n} has shape {x.shape}" for n, x in named)
        raise ValueError(f"jaxdiv.{fn}: {desc}, which do not broadcast.") from None
    axes = None
    if axis is not None:
        if ndim == 0:
            raise ValueError(f"jaxdiv.{fn}: expected arrays with a distribution axis, got scalars.")
        axes = normalize_axes(axis, ndim, fn=fn)
        for ax in axes:
            if len({p[ax] for p in padded}) > 1:
                desc = " and ".join(f"{n} has shape {x.shape}" for n, x in named)
                raise ValueError(
                    f"jaxdiv.{fn}: {desc}; the distribution axis {ax} must have the same "
                    "size in both (it is never broadcast)."
                )
    return [jnp.broadcast_to(x, shape) for _, x in named], axes


def broadcast_mask(
    where: jax.typing.ArrayLike | None, shape: tuple[int, ...], *, fn: str
) -> jax.Array | None:
    """Checks the `where` mask and broadcasts it to `shape`."""
    if where is None:
        return None
    where = jnp.asarray(where)
    if where.dtype != jnp.bool_:
        raise TypeError(f"jaxdiv.{fn}: where must be a boolean mask, got dtype {where.dtype}.")
    try:
        return jnp.broadcast_to(where, shape)
    except ValueError:
        raise ValueError(
            f"jaxdiv.{fn}: where has shape {where.shape}, which does not broadcast to the "
            f"inputs' shape {tuple(shape)}."
        ) from None


def check_square(name: str, m: jax.Array, *, fn: str) -> None:
    """Raises ``ValueError`` unless `m` is a batch of square matrices `[..., d, d]`."""
    if m.ndim < 2 or m.shape[-1] != m.shape[-2]:
        raise ValueError(
            f"jaxdiv.{fn}: {name} must be a batch of square matrices [..., d, d], "
            f"got shape {m.shape}."
        )


# --------------------------------------------------------------------------- hyperparameters


def concrete_float(name: str, value: Any, *, fn: str) -> float:
    """`value` as a Python float; hyperparameters must be known at trace time."""
    if isinstance(value, str | bytes):  # float("2") would accept it
        raise TypeError(f"jaxdiv.{fn}: {name} must be a number, got the string {value!r}.")
    try:
        return float(value)
    except (jax.errors.ConcretizationTypeError, TypeError, ValueError):
        raise TypeError(
            f"jaxdiv.{fn}: {name} must be a concrete number (a Python float), got {value!r}; "
            "it selects the formula at trace time, so it cannot be a traced value."
        ) from None


def finite_float(name: str, value: Any, *, fn: str, positive: bool = False) -> float:
    """`value` as a finite Python float, and > 0 when `positive` (an order, a temperature)."""
    x = concrete_float(name, value, fn=fn)
    if not math.isfinite(x) or (positive and not x > 0):
        need = "a finite number > 0" if positive else "a finite number"
        raise ValueError(f"jaxdiv.{fn}: {name} must be {need}, got {value!r}.")
    return x


def positive_int(name: str, value: Any, *, fn: str) -> int:
    """`value` as a Python int >= 1: any integer (NumPy's too), never a bool or a float."""
    problem = None
    if isinstance(value, bool | np.bool_):
        problem = "a bool"
    else:
        try:
            n = operator.index(value)
        except TypeError:
            problem = f"of type {type(value).__name__}"
        else:
            if n < 1:
                problem = "not positive"
    if problem is not None:
        raise ValueError(f"jaxdiv.{fn}: {name} must be an integer >= 1, got {value!r} ({problem}).")
    return n


def check_base(base: float | None, *, fn: str) -> float | None:
    """Validates `base`: None for nats, else a number > 0 and != 1."""
    if base is None:
        return None
    b = concrete_float("base", base, fn=fn)
    if not (b > 0 and b != 1 and math.isfinite(b)):
        raise ValueError(
            f"jaxdiv.{fn}: base must be None (nats) or a finite number > 0 other than 1 "
            f"(2 for bits), got {base!r}."
        )
    return b


def check_alpha(alpha: Any, *, fn: str, lower: float = 0.0) -> float:
    a = concrete_float("alpha", alpha, fn=fn)
    if math.isnan(a) or a < lower:
        raise ValueError(f"jaxdiv.{fn}: alpha must be a number >= {lower:g}, got {alpha!r}.")
    return a


def check_weight(weight: Any, *, fn: str, name: str = "weight") -> float:
    """A mixture weight in [0, 1], as a Python float; `name` is the argument's name."""
    w = concrete_float(name, weight, fn=fn)
    if not 0.0 <= w <= 1.0:
        raise ValueError(f"jaxdiv.{fn}: {name} must lie in [0, 1], got {weight!r}.")
    return w


# --------------------------------------------------------------------------- value checks


def _tolerance(dtype: np.dtype) -> float:
    return float(np.sqrt(np.finfo(dtype).eps)) * 4


def check_probabilities(
    name: str,
    p: jax.Array,
    *,
    axis: int | tuple[int, ...] | None,
    mask: jax.Array | None,
    fn: str,
) -> None:
    """Opt-in value checks on probabilities (traced only inside [`checked`][jaxdiv.checked]).

    With `axis`, entries must be finite and >= 0 and the unmasked entries of
    each row must sum to one (a fully masked row passes); elementwise
    (`axis=None`, the Bernoulli forms) entries must lie in [0, 1].
    """
    if not value_checks_enabled():
        return
    valid = jnp.ones(p.shape, bool) if mask is None else mask
    if axis is None:
        bad, expected = ~((p >= 0) & (p <= 1)), "in [0, 1]"
    else:
        bad, expected = ~((p >= 0) & jnp.isfinite(p)), "finite and >= 0"
    bad = bad & valid
    checkify.check(
        ~jnp.any(bad),
        f"jaxdiv.{fn}: {name} has {{n}} entries that are not {expected}",
        n=jnp.sum(bad),
    )
    if axis is None:
        return
    total = jnp.sum(jnp.where(valid, p, 0), axis=axis)
    deviation = jnp.where(jnp.any(valid, axis=axis), jnp.abs(total - 1), 0)
    checkify.check(
        jnp.all(deviation <= _tolerance(p.dtype)),
        f"jaxdiv.{fn}: {name} does not sum to 1 along {_describe_axis(axis)} "
        "(largest deviation {d})",
        d=jnp.max(deviation),
    )


def _describe_axis(axis: int | tuple[int, ...]) -> str:
    if isinstance(axis, tuple) and len(axis) == 1:
        axis = axis[0]
    return f"axes {axis}" if isinstance(axis, tuple) else f"axis {axis}"


def check_logits(name: str, x: jax.Array, *, mask: jax.Array | None, fn: str) -> None:
    """Opt-in value checks on logits: no NaN and no `+inf` where unmasked."""
    if not value_checks_enabled():
        return
    valid = jnp.ones(x.shape, bool) if mask is None else mask
    checkify.check(
        ~jnp.any(valid & (jnp.isnan(x) | (x == jnp.inf))),
        f"jaxdiv.{fn}: {name} has NaN or +inf entries; logits must be finite or -inf",
    )


def check_labels(labels: jax.Array, num_classes: int, ignore_index: int | None, *, fn: str) -> None:
    """Opt-in value check: integer labels lie in [0, num_classes) or equal `ignore_index`."""
    if not value_checks_enabled():
        return
    ok = (labels >= 0) & (labels < num_classes)
    if ignore_index is not None:
        ok = ok | (labels == ignore_index)
    checkify.check(
        jnp.all(ok),
        f"jaxdiv.{fn}: labels must lie in [0, {num_classes})"
        + ("" if ignore_index is None else f" or equal ignore_index={ignore_index}")
        + " (found {v})",
        v=jnp.where(jnp.all(ok), 0, labels.ravel()[jnp.argmin(ok.ravel())]),
    )


def check_domain(ok: jax.typing.ArrayLike, message: str) -> None:
    """A parameter-domain check: eager ValueError, opt-in checkify error under jit.

    `ok` is a boolean array that holds where the parameters are valid. With
    concrete values (eager mode) a failure raises `ValueError(message)` at
    once. Under a transformation the values are unknown at trace time; the
    check is then traced only inside [`checked`][jaxdiv.checked].
    """
    ok = jnp.asarray(ok)
    if isinstance(ok, jax.core.Tracer):
        if value_checks_enabled():
            checkify.check(jnp.all(ok), message)
        return
    if not bool(jnp.all(ok)):
        raise ValueError(message)
