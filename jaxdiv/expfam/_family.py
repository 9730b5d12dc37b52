r"""The exponential-family base class: a pytree of natural parameters and its A(theta).

A member of an exponential family has density

$$
p_\theta(x) = h(x) \exp\big(\langle \theta, T(x) \rangle - A(\theta)\big)
$$

with natural parameters $\theta$, sufficient statistics $T$, base measure
$h$ and log-normalizer $A$. Everything else follows from $A$ by automatic
differentiation: the mean parameters are $\nabla A$, the Fisher information is
$\nabla^2 A$, and divergences between members are expressions in `A` (see
[`jaxdiv.expfam`][jaxdiv.expfam]).

A family is a frozen dataclass whose data fields are its natural parameters
(each with any batch shape in front of its own event shape) and whose static
fields (marked `static=True` in their metadata) are fixed configuration such
as a Binomial's count. Decorate it with [`family`][jaxdiv.expfam.family] to make it a JAX pytree.
A family may instead store a better-conditioned form of the same parameters
(each field with the event rank of its natural parameter): the full-covariance
Normal stores the precision's triangular factor, the diagonal Gaussians their
log-scale. It then overrides
[`natural_parameters`][jaxdiv.expfam.ExponentialFamily.natural_parameters] and
[`with_natural_parameters`][jaxdiv.expfam.ExponentialFamily.with_natural_parameters].
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, cast, dataclass_transform

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln

from jaxdiv import _numerics as num
from jaxdiv import _validation as val
from jaxdiv.expfam import _registry

T = TypeVar("T", bound="ExponentialFamily")

Params = tuple[jax.Array, ...]


def static_field(**kwargs: Any) -> Any:
    """A dataclass field that is static configuration rather than a natural parameter.

    Examples:
      >>> from jaxdiv import expfam
      >>> p = expfam.Binomial.from_count_probs(10, 0.5)
      >>> p.total_count  # static: part of the tree structure, not a leaf
      10
    """
    return dataclasses.field(metadata={"static": True}, **kwargs)


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, static_field))
def family(cls: type[T]) -> type[T]:
    """Makes `cls` a frozen dataclass registered as a JAX pytree.

    Fields with `dataclasses.field(metadata={"static": True})` are static
    (part of the tree structure); all other fields are natural parameters.
    Their number must match `cls.natural_event_ndims`.

    Examples:
      >>> import dataclasses
      >>> from jaxdiv import expfam
      >>> dataclasses.is_dataclass(expfam.Normal)  # every family is built with it
      True

      See [`ExponentialFamily`][jaxdiv.expfam.ExponentialFamily] for a family defined from `A`
      alone.
    """
    cls = dataclasses.dataclass(frozen=True)(cls)
    fields = dataclasses.fields(cast(Any, cls))
    data = [f.name for f in fields if not f.metadata.get("static", False)]
    meta = [f.name for f in fields if f.metadata.get("static", False)]
    if len(data) != len(cls.natural_event_ndims):
        raise TypeError(
            f"{cls.__name__}: natural_event_ndims has {len(cls.natural_event_ndims)} entries "
            f"but the class has {len(data)} natural-parameter fields {data}."
        )
    cls._natural_fields = tuple(data)
    cls._static_fields = tuple(meta)
    return _register(cls, tuple(data), tuple(meta))


def _register(cls: type[T], data: tuple[str, ...], meta: tuple[str, ...]) -> type[T]:
    """Registers the family as a custom pytree node.

    Not `jax.tree_util.register_dataclass`: in jax 0.10.2 the tree structures of two
    dataclasses registered that way with the same fields compare equal (an `InverseGamma`
    and a `BetaPrime`), so a compiled program of one family could be reused for the other
    (a wrong entropy of a `ChiSquare` under `jit` was seen). A custom node's structure holds
    its class.
    """

    def flatten(d: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        return tuple(getattr(d, f) for f in data), tuple(getattr(d, f) for f in meta)

    def flatten_with_keys(d: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        keyed = tuple((jax.tree_util.GetAttrKey(f), getattr(d, f)) for f in data)
        return keyed, tuple(getattr(d, f) for f in meta)

    def unflatten(aux: tuple[Any, ...], children: Any) -> Any:
        d = object.__new__(cls)
        for name, value in zip((*data, *meta), (*children, *aux), strict=True):
            object.__setattr__(d, name, value)
        return d

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)
    return cls


def inner(a: Params, b: Params, event_ndims: tuple[int, ...]) -> jax.Array:
    """`<a, b>` summed over each parameter's event axes, batch axes kept.

    Terms where an entry of `b` is zero count as zero, with zero gradient,
    whatever `a` holds there: `b` is a statistic or a mean parameter and
    `a` a natural parameter, which is infinite at a boundary member (a
    zero-probability outcome has logit `-inf` and mean 0, and contributes
    `0 * log 0 = 0`).
    """
    terms = []
    for x, y, nd in zip(a, b, event_ndims, strict=True):
        x, y = jnp.broadcast_arrays(x, y)
        terms.append(jnp.sum(num.mul_log(y, x), axis=tuple(range(x.ndim - nd, x.ndim))))
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


class ExponentialFamily:
    """Base class of the exponential families.

    A subclass (decorated with [`family`][jaxdiv.expfam.family]) declares its natural-parameter
    fields and `natural_event_ndims`, and implements

    * [`log_normalizer`][jaxdiv.expfam.ExponentialFamily.log_normalizer] -- `A(theta)`, one value
      per batch entry;
    * [`sufficient_statistics`][jaxdiv.expfam.ExponentialFamily.sufficient_statistics] -- `T(x)` as
      a tuple in field order;
    * [`log_base_measure`][jaxdiv.expfam.ExponentialFamily.log_base_measure] -- `log h(x)`.

    With those three, KL, Bregman KL, cross-entropy, Renyi, Bhattacharyya,
    Hellinger and Jeffreys divergences, mean parameters and Fisher information
    all work (entropy also needs
    [`expected_log_base_measure`][jaxdiv.expfam.ExponentialFamily.expected_log_base_measure] when
    `h` is not constant). Built-in families add closed forms, samplers and constructors from the
    usual parameters. A family with members on the boundary of its parameter space where `A` is
    infinite (a Bernoulli with `p = 1`) overrides
    [`log_normalizer_minus_inner`][jaxdiv.expfam.ExponentialFamily.log_normalizer_minus_inner] with
    a form that stays finite; every divergence is written with it.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxdiv import expfam
      >>> @expfam.family
      ... class Rate(expfam.ExponentialFamily):
      ...     # Exponential(rate): theta = -rate, A = -log(-theta)
      ...     theta: jnp.ndarray
      ...     natural_event_ndims = (0,)
      ...     def log_normalizer(self):
      ...         return -jnp.log(-self.theta)
      ...     def sufficient_statistics(self, x):
      ...         return (x,)
      ...     def log_base_measure(self, x):
      ...         return jnp.zeros_like(x)
      >>> p, q = Rate(jnp.array(-1.0)), Rate(jnp.array(-2.0))
      >>> round(float(expfam.kl_divergence(p, q)), 6)  # log(1/2) + 2 - 1, from A alone
      0.306853
    """

    natural_event_ndims: ClassVar[tuple[int, ...]] = ()
    #: Whether some member that the constructors accept has an infinite natural parameter
    #: (an outcome of probability 0, a Poisson rate of 0). Only such members can give a
    #: divergence of `+inf` whose gradients need the limit rule of the KL-type divergences;
    #: a family whose natural parameters are finite at every member it admits sets False
    #: and its divergences are differentiated as they are written (a natural parameter that
    #: overflows the dtype at an extreme scale does not make a boundary member: there the
    #: derivatives are the formula's own). The default is the safe one.
    boundary_members: ClassVar[bool] = True
    _natural_fields: ClassVar[tuple[str, ...]] = ()
    _static_fields: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------------ parameters

    def natural_parameters(self) -> Params:
        """The natural parameters `theta` as a tuple, in field order."""
        return self.stored_parameters()

    def with_natural_parameters(self: T, theta: Params) -> T:
        """A member of the same family (same static fields) with parameters `theta`."""
        return self._with_stored(theta)

    def stored_parameters(self) -> Params:
        """The data fields as stored (the natural parameters unless the family stores
        another form of them), each with the event rank of its natural parameter."""
        return tuple(getattr(self, name) for name in self._natural_fields)

    def _with_stored(self: T, fields: Params) -> T:
        return dataclasses.replace(
            cast(Any, self), **dict(zip(self._natural_fields, fields, strict=True))
        )

    def static_parameters(self) -> tuple:
        return tuple(getattr(self, name) for name in self._static_fields)

    def lifted(self) -> ExponentialFamily | None:
        """This member written as a member of the next larger family that contains its family
        with the same densities (an Exponential as a Gamma, a Beta as a two-component
        Dirichlet, a Normal as a MultivariateNormalDiag, that as a MultivariateNormal), or
        None. The larger family registers the lift from its own file; closed forms across
        families lift both members until they meet in one family.

        Examples:
          >>> from jaxdiv import expfam
          >>> type(expfam.Exponential.from_rate(2.0).lifted()).__name__
          'Gamma'
        """
        return _registry.lift(self)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        first, nd = self.stored_parameters()[0], self.natural_event_ndims[0]
        return tuple(first.shape[: first.ndim - nd])

    @property
    def event_shapes(self) -> tuple[tuple[int, ...], ...]:
        """The event shape of each parameter (the trailing axes that are not batch axes)."""
        return tuple(
            tuple(t.shape[t.ndim - nd :])
            for t, nd in zip(self.stored_parameters(), self.natural_event_ndims, strict=True)
        )

    @property
    def dtype(self) -> np.dtype:
        return self.stored_parameters()[0].dtype

    # ------------------------------------------------------------------ to implement

    def log_normalizer(self) -> jax.Array:
        """`A(theta)`, the log-partition function, one value per batch entry."""
        raise NotImplementedError(f"{type(self).__name__} must define log_normalizer().")

    def sufficient_statistics(self, x: jax.typing.ArrayLike) -> Params:
        """`T(x)`, a tuple shaped like the natural parameters."""
        raise NotImplementedError(f"{type(self).__name__} must define sufficient_statistics(x).")

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        """`log h(x)`."""
        raise NotImplementedError(f"{type(self).__name__} must define log_base_measure(x).")

    def expected_log_base_measure(self) -> jax.Array:
        """`E[log h(X)]` under this member; needed by entropy and cross-entropy."""
        raise NotImplementedError(
            f"{type(self).__name__} must define expected_log_base_measure() for entropy and "
            "cross-entropy (KL and the other divergences do not need it)."
        )

    def in_domain(self) -> jax.Array:
        """Whether the natural parameters lie in the natural parameter space (per batch entry)."""
        return jnp.ones(self.batch_shape, bool)

    def log_normalizer_minus_inner(self, other: ExponentialFamily) -> jax.Array:
        """`A(theta) - <theta, mu_other>`, the cross-entropy `H(other, self)` without
        `other`'s base-measure term `-E_other[log h(X)]`.

        Every divergence of [`jaxdiv.expfam`][jaxdiv.expfam] other than the closed forms is
        written with it: at `other = self` it is minus the convex conjugate
        `A*(mu)`. Terms where a mean parameter of `other` is zero count as
        zero (`inner`), so boundary members whose natural parameter is
        `-inf` there (a zero-probability outcome) give their limits. A family
        whose `A` is itself infinite at a boundary member (a Bernoulli with
        `p = 1` has `A = +inf`) or loses precision at extreme parameters
        overrides this with a form that stays finite.
        """
        return self.log_normalizer() - inner(
            self.natural_parameters(), other.mean_parameters(), self.natural_event_ndims
        )

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Draws samples of shape `shape + batch_shape + event_shape`."""
        raise NotImplementedError(f"{type(self).__name__} has no sampler.")

    # ------------------------------------------------------------------ derived

    def _log_normalizer_at(self, theta: Params) -> jax.Array:
        return self.with_natural_parameters(theta).log_normalizer()

    def mean_parameters(self) -> Params:
        """`mu = grad A(theta) = E[T(X)]`, by automatic differentiation."""
        theta = self.natural_parameters()
        return jax.grad(lambda th: jnp.sum(self._log_normalizer_at(th)))(theta)

    def _flat(self) -> tuple[jax.Array, Callable[[jax.Array], Params]]:
        """The natural parameters flattened per batch entry, `[*batch, n]`, and the inverse map
        from one entry's flat vector back to a parameter tuple."""
        theta, batch = self.natural_parameters(), self.batch_shape
        event_shapes = [
            t.shape[t.ndim - nd :] for t, nd in zip(theta, self.natural_event_ndims, strict=True)
        ]
        splits = np.cumsum([math.prod(s) for s in event_shapes])[:-1].tolist()
        flat = jnp.concatenate(
            [
                jnp.reshape(jnp.broadcast_to(t, batch + s), (*batch, -1))
                for t, s in zip(theta, event_shapes, strict=True)
            ],
            axis=-1,
        )

        def unflatten(v: jax.Array) -> Params:
            parts = jnp.split(v, splits)
            return tuple(jnp.reshape(p, s) for p, s in zip(parts, event_shapes, strict=True))

        return flat, unflatten

    def _per_entry(self, fn: Callable, *args: jax.Array) -> jax.Array:
        """Maps `fn` over the batch entries of flat `[*batch, n]` arguments."""
        for _ in self.batch_shape:
            fn = jax.vmap(fn)
        return fn(*args)

    def fisher_information(self) -> jax.Array:
        """The Hessian of `A`, `Cov[T(X)]`, over the flattened natural parameters.

        Returns an array of shape `batch_shape + (n, n)`, with the parameters
        flattened in field order (row-major within each field).
        """
        flat, unflatten = self._flat()
        return self._per_entry(jax.hessian(lambda v: self._log_normalizer_at(unflatten(v))), flat)

    def solve_mean_parameters(self: T, mu: Params, *, steps: int = 60) -> T:
        """The member with mean parameters `mu`, by damped Newton steps from this member.

        Minimises the convex `A(theta) - <theta, mu>` (its gradient is
        `grad A(theta) - mu`) per batch entry; each step halves until the
        point stays in the natural parameter space and the objective does not
        increase. Families without a closed-form inverse of `grad A` use this
        in [`from_mean_parameters`][jaxdiv.expfam.ExponentialFamily.from_mean_parameters].
        """
        target = self.with_natural_parameters(tuple(jnp.asarray(m) for m in mu))
        flat_mu, _ = target._flat()
        flat, unflatten = self._flat()
        batch = jnp.broadcast_shapes(flat.shape[:-1], flat_mu.shape[:-1])
        flat = jnp.broadcast_to(flat, (*batch, flat.shape[-1]))
        flat_mu = jnp.broadcast_to(flat_mu, flat.shape).astype(flat.dtype)
        member = self.broadcast_to(batch)
        halvings = 2.0 ** -jnp.arange(16, dtype=flat.dtype)

        def solve(v: jax.Array, m: jax.Array) -> jax.Array:
            def objective(u: jax.Array) -> jax.Array:
                return member._log_normalizer_at(unflatten(u)) - jnp.dot(u, m)

            def inside(u: jax.Array) -> jax.Array:
                return member.with_natural_parameters(unflatten(u)).in_domain()

            def step(u: jax.Array, _: None) -> tuple[jax.Array, None]:
                g, h = jax.grad(objective)(u), jax.hessian(objective)(u)
                ridge = 1e-10 * (1 + jnp.max(jnp.abs(jnp.diagonal(h))))
                d = jnp.linalg.solve(h + ridge * jnp.eye(u.shape[0], dtype=u.dtype), g)
                candidates = u[None, :] - halvings[:, None] * d[None, :]
                values = jax.vmap(objective)(candidates)
                ok = jax.vmap(inside)(candidates) & jnp.isfinite(values)
                ok = ok & (values <= objective(u))
                best = candidates[jnp.argmax(ok)]
                return jnp.where(jnp.any(ok), best, u), None

            return jax.lax.scan(step, v, None, length=steps)[0]

        for _ in batch:
            solve = jax.vmap(solve)
        solved = solve(flat, flat_mu)
        theta = tuple(
            jnp.reshape(t, (*batch, *t.shape[1:]))
            for t in jax.vmap(unflatten)(jnp.reshape(solved, (-1, solved.shape[-1])))
        )
        return member.with_natural_parameters(theta)

    def log_prob(self, x: jax.typing.ArrayLike) -> jax.Array:
        """`log p(x) = <theta, T(x)> + log h(x) - A(theta)`."""
        stats = self.sufficient_statistics(x)
        return add(
            inner(self.natural_parameters(), stats, self.natural_event_ndims),
            self.log_base_measure(x),
            -self.log_normalizer(),
        )

    def broadcast_to(self: T, batch_shape: tuple[int, ...]) -> T:
        """This member with its parameters broadcast to `batch_shape`."""
        fields = tuple(
            jnp.broadcast_to(t, tuple(batch_shape) + t.shape[t.ndim - nd :])
            for t, nd in zip(self.stored_parameters(), self.natural_event_ndims, strict=True)
        )
        return self._with_stored(fields)

    @classmethod
    def _statistics_template(cls: type[T], dtype: Any, **static: Any) -> T:
        """A member with placeholder parameters, used only to evaluate `T(x)`."""
        theta = [jnp.zeros((1,) * nd, dtype) for nd in cls.natural_event_ndims]
        return cls(*theta, **static)

    @classmethod
    def from_mean_parameters(
        cls: type[T], mu: Params, *, init: T | None = None, **static: Any
    ) -> T:
        """The member whose mean parameters are `mu` (the inverse of `grad A`).

        Families with a closed-form inverse override this. Otherwise Newton's
        method ([`solve_mean_parameters`][jaxdiv.expfam.ExponentialFamily.solve_mean_parameters])
        starts from `init`, or from the family's own starting point where it defines
        `_newton_start`.
        """
        start = init if init is not None else cls._newton_start(mu, **static)
        return start.solve_mean_parameters(mu)

    @classmethod
    def _newton_start(cls: type[T], mu: Params, **static: Any) -> T:
        raise NotImplementedError(
            f"{cls.__name__} has no closed-form inverse of its mean map and no starting point "
            "for Newton's method: pass a member of the family as init=..., to "
            f"{cls.__name__}.from_mean_parameters(mu, init=...) or to "
            "jaxdiv.expfam.moment_match(family, ..., init=...)."
        )


class UnitBaseMeasure(ExponentialFamily):
    """Mixin for families with `h(x) = 1`: `log h = 0` and `E[log h(X)] = 0`.

    `data_event_ndim` is the number of trailing axes of one observation
    (0 for scalars, 1 for vectors, 2 for matrices).
    """

    data_event_ndim: ClassVar[int] = 0

    def log_base_measure(self, x: jax.typing.ArrayLike) -> jax.Array:
        shape = jnp.shape(x)
        return jnp.zeros(shape[: len(shape) - self.data_event_ndim], self.dtype)

    def expected_log_base_measure(self) -> jax.Array:
        return jnp.zeros(self.batch_shape, self.dtype)


def as_params(fn: str, **named: jax.typing.ArrayLike) -> list[jax.Array]:
    """Usual parameters as floating arrays (see `jaxdiv._validation.float_params`),
    broadcast to one shape."""
    arrays = val.float_params(f"expfam.{fn}", **named)
    try:
        return jnp.broadcast_arrays(*arrays)
    except ValueError:
        desc = " and ".join(f"{n} has shape {jnp.shape(x)}" for n, x in named.items())
        raise ValueError(f"jaxdiv.expfam.{fn}: {desc}, which do not broadcast.") from None


def log_factorial(k: jax.Array) -> jax.Array:
    """`log k!` for counts `k >= 0`, exactly 0 at `k` = 0 and 1 (float32 `gammaln(1)`
    is 5e-7, which would make the entropy of a point mass at 0 nonzero)."""
    return jnp.where(k < 2, jnp.zeros_like(k), gammaln(k + 1))


def add(*terms: jax.Array) -> jax.Array:
    """Sums arrays with explicit broadcasting (no implicit rank promotion)."""
    out, *rest = jnp.broadcast_arrays(*terms)
    for t in rest:
        out = out + t
    return out
