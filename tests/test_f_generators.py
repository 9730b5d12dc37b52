"""The named generators of `jaxdiv.f_divergence` (jaxdiv/_f_generators.py).

Each named divergence against its own closed form written here with numpy and
scipy (not through the generator), at interior points and where p or q has
zeros; the callable form where it is defined; gradients by `check_grads` inside
and, at zeros, against the gradients of inputs clipped to 1e-12 and 1e-24 (where
those agree the derivative has a finite limit, which jaxdiv must give; where
they run away it is infinite and jaxdiv gives 0, the convention for an entry
held at zero mass); `axis` against `np.moveaxis` and `where` against boolean
indexing.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy import special
from scipy.spatial import distance

import jaxdiv
from jaxdiv._f_generators import GENERATOR_NAMES, generator

# Every generator, with its parameters (several orders and exponents).
CASES = [(name, {}) for name in GENERATOR_NAMES if name not in ("amari_alpha", "t_power")]
CASES += [("amari_alpha", {"alpha": a}) for a in (-1.0, 0.0, 0.5, 1.0, 2.0, 3.5)]
CASES += [("t_power", {"t": t}) for t in (-0.5, 0.5, 2.0, 3.0)]
IDS = [name + "".join(f"-{v}" for v in kw.values()) for name, kw in CASES]


def _sum(terms):
    return float(np.sum(terms))


def _power_sum(p, q, a):
    """sum p^a q^(1-a) over the entries where it is not 0^0, with 0^negative = inf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.power(p, a) * np.power(q, 1.0 - a)
    both_zero = (p == 0) & (q == 0)
    return _sum(np.where(both_zero, 0.0, terms))


def closed_form(name, p, q, *, alpha=None, t=None):
    """The divergence from its textbook formula (p, q normalised, float64)."""
    kl = _sum(special.rel_entr(p, q))
    rkl = _sum(special.rel_entr(q, p))
    d, s = p - q, p + q
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "kl_forward":
            return kl
        if name == "kl_reverse":
            return rkl
        if name == "jensen_shannon":
            return distance.jensenshannon(p, q) ** 2
        if name == "squared_hellinger":
            return 1.0 - _sum(np.sqrt(p * q))
        if name == "total_variation":
            return 0.5 * _sum(np.abs(d))
        if name == "pearson":
            return _sum(np.where(d == 0, 0.0, d**2 / q))
        if name == "neyman":
            return _sum(np.where(d == 0, 0.0, d**2 / p))
        if name == "triangular":
            return _sum(np.where(s == 0, 0.0, d**2 / s))
        if name == "jeffreys":
            return kl + rkl
        if name == "amari_alpha":
            if alpha == 1.0:
                return kl
            if alpha == 0.0:
                return rkl
            return (1.0 - _power_sum(p, q, alpha)) / (alpha * (1.0 - alpha))
        if name == "t_power":
            sign = -1.0 if 0 < t < 1 else 1.0
            return sign * (_power_sum(p, q, t) - 1.0)
        if name == "log1p_abs":
            return _sum(np.where(p >= q, d, np.where(p == 0, np.inf, q * (q - p) / p)))
        if name == "modified_gan":
            return rkl - _sum(special.rel_entr(q, 0.5 * s))
    raise AssertionError(name)


# Interior points, p with zeros, q with zeros, both, and disjoint supports.
PAIRS = [
    (np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.25, 0.25, 0.4, 0.1])),
    (np.array([0.0, 0.5, 0.0, 0.5]), np.array([0.25, 0.25, 0.4, 0.1])),
    (np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.0, 0.6, 0.4, 0.0])),
    (np.array([0.0, 0.2, 0.0, 0.8]), np.array([0.3, 0.5, 0.2, 0.0])),
    (np.array([0.5, 0.5, 0.0, 0.0]), np.array([0.0, 0.0, 0.3, 0.7])),
    (np.array([0.0, 0.5, 0.5, 0.0]), np.array([0.0, 0.5, 0.5, 0.0])),
]


@pytest.mark.parametrize(("name", "kw"), CASES, ids=IDS)
def test_named_divergence_matches_its_closed_form(name, kw):
    fn = jax.jit(lambda p, q: jaxdiv.f_divergence(p, q, name, **kw))
    got = fn(np.stack([p for p, _ in PAIRS]), np.stack([q for _, q in PAIRS]))
    expected = [closed_form(name, p, q, **kw) for p, q in PAIRS]
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_named_divergences_match_the_library_functions(rng):
    p, q = rng.dirichlet(np.ones(5), size=3), rng.dirichlet(np.ones(5), size=3)
    p[0, 1], q[1, 2] = 0.0, 0.0
    p, q = p / p.sum(-1, keepdims=True), q / q.sum(-1, keepdims=True)
    pairs = [
        (("kl_forward", {}), jaxdiv.kl_divergence(p, q)),
        (("kl_reverse", {}), jaxdiv.kl_divergence(q, p)),
        (("jensen_shannon", {}), jaxdiv.js_divergence(p, q)),
        (("squared_hellinger", {}), jaxdiv.hellinger_distance(p, q) ** 2),
        (("total_variation", {}), jaxdiv.total_variation(p, q)),
        (("pearson", {}), jaxdiv.chi_square_divergence(p, q)),
        (("neyman", {}), jaxdiv.chi_square_divergence(q, p)),
        (("jeffreys", {}), jaxdiv.jeffreys_divergence(p, q)),
        *[
            (("amari_alpha", {"alpha": a}), jaxdiv.alpha_divergence(p, q, alpha=a))
            for a in (-1.0, 0.0, 0.5, 1.0, 2.0)
        ],
        (
            ("t_power", {"t": 2.0}),
            jnp.expm1(jaxdiv.renyi_divergence(p, q, alpha=2.0)),
        ),
    ]
    for (name, kw), expected in pairs:
        got = jaxdiv.f_divergence(p, q, name, **kw)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-14, err_msg=name)


def test_named_and_callable_forms_agree(rng):
    p, q = rng.dirichlet(np.ones(6), size=4), rng.dirichlet(np.ones(6), size=4)
    p[:2, 0] = 0.0  # zeros in p: the callable's f(0) is finite for these generators
    p = p / p.sum(-1, keepdims=True)
    callables = {
        "kl_forward": (lambda t: jax.scipy.special.xlogy(t, t), math.inf),
        "total_variation": (lambda t: jnp.abs(t - 1) / 2, 0.5),
        "pearson": (lambda t: (t - 1) ** 2, math.inf),
        "squared_hellinger": (lambda t: (jnp.sqrt(t) - 1) ** 2 / 2, 0.5),
        "triangular": (lambda t: (t - 1) ** 2 / (t + 1), 1.0),
        "jensen_shannon": (
            lambda t: 0.5 * (jax.scipy.special.xlogy(t, t) - (1 + t) * jnp.log((1 + t) / 2)),
            0.5 * math.log(2),
        ),
    }
    for name, (f, slope) in callables.items():
        np.testing.assert_allclose(
            jaxdiv.f_divergence(p, q, name),
            jaxdiv.f_divergence(p, q, f, slope_at_infinity=slope),
            rtol=1e-12,
            atol=1e-15,
            err_msg=name,
        )


def test_generators_limits_are_the_limits_of_f():
    """f(1) = 0 and convexity for every generator, and each stored limit against f far out."""
    t = np.linspace(1e-3, 20.0, 401)  # evenly spaced: second differences >= 0 if convex
    for name, kw in CASES:
        g = generator(name, **kw)
        f = np.asarray(g.f(jnp.asarray(t)))
        assert abs(float(g.f(jnp.asarray(1.0)))) < 1e-15, name
        second = f[:-2] - 2 * f[1:-1] + f[2:]
        assert np.all(second >= -1e-12), f"{name} is not convex"
        small, big = float(g.f(jnp.asarray(1e-14))), float(g.f(jnp.asarray(1e14)))
        if math.isinf(g.f_at_zero):
            assert small > 5.0, name
        else:
            assert small == pytest.approx(g.f_at_zero, abs=1e-5), name
        if math.isinf(g.slope_at_infinity):
            assert big / 1e14 > 5.0, name
        else:
            assert big / 1e14 == pytest.approx(g.slope_at_infinity, abs=1e-5), name


@pytest.mark.parametrize(("name", "kw"), CASES, ids=IDS)
def test_gradients_inside_by_finite_differences(name, kw):
    p = jnp.array([0.1, 0.2, 0.3, 0.4])
    q = jnp.array([0.25, 0.25, 0.4, 0.1])
    fn = jax.jit(lambda a, b: jaxdiv.f_divergence(a, b, name, **kw))
    check_grads(fn, (p, q), order=1, modes=("rev",), atol=1e-6, rtol=1e-6)


def _clipped_limit(fn, p, q, argnum):
    """The gradient at inputs whose zeros are raised to 1e-12 and to 1e-24: where the two
    agree, the limit; elsewhere NaN (the one-sided derivative runs away, or p = q = 0)."""
    grads = []
    for eps in (1e-12, 1e-24):
        args = [np.where(p == 0, eps, p), np.where(q == 0, eps, q)]
        grads.append(np.asarray(jax.grad(fn, argnums=argnum)(*args)))
    agree = np.abs(grads[0] - grads[1]) < 1e-5 * (1 + np.abs(grads[0]))
    # Where p = q = 0 the limit depends on the direction: the entry is held at zero mass.
    return np.where(agree & ~((p == 0) & (q == 0)), grads[1], np.nan)


@pytest.mark.parametrize(("name", "kw"), CASES, ids=IDS)
def test_gradients_at_zeros(name, kw):
    fn = jax.jit(lambda a, b: jaxdiv.f_divergence(a, b, name, **kw))
    for p, q in PAIRS[1:]:
        value = fn(p, q)
        grads = [np.asarray(g) for g in jax.grad(fn, argnums=(0, 1))(p, q)]
        for g in grads:
            assert not np.any(np.isnan(g)), (name, p, q)
        if not np.isfinite(value):
            continue
        for argnum, g in enumerate(grads):
            assert np.all(np.isfinite(g)), (name, p, q)
            limit = _clipped_limit(fn, p, q, argnum)
            # A finite limit is the gradient; a runaway one is taken as 0.
            np.testing.assert_allclose(
                g, np.where(np.isnan(limit), 0.0, limit), atol=1e-6, err_msg=f"{name} {p} {q}"
            )


def test_axis_and_where(rng):
    p = rng.dirichlet(np.ones(5), size=(3, 2))  # distributions along the last axis
    q = rng.dirichlet(np.ones(5), size=(3, 2))
    p[0, 0, 1] = q[1, 1, 3] = 0.0
    mask = rng.random((3, 2, 5)) < 0.7
    mask[2, 1] = False  # a fully masked row gives 0
    for name, kw in [("jensen_shannon", {}), ("triangular", {}), ("amari_alpha", {"alpha": 0.5})]:
        expected = jaxdiv.f_divergence(p, q, name, **kw)
        moved = jaxdiv.f_divergence(
            np.moveaxis(p, -1, 0), np.moveaxis(q, -1, 0), name, axis=0, **kw
        )
        np.testing.assert_allclose(moved, expected, rtol=1e-13)
        masked = jaxdiv.f_divergence(p, q, name, where=mask, **kw)
        for i in range(3):
            for j in range(2):
                m = mask[i, j]
                want = jaxdiv.f_divergence(p[i, j][m], q[i, j][m], name, **kw) if m.any() else 0.0
                np.testing.assert_allclose(masked[i, j], want, rtol=1e-13, atol=1e-15)
        # Masked entries get a zero gradient.
        g = jax.grad(lambda a, n=name, k=kw: jaxdiv.f_divergence(a, q, n, where=mask, **k).sum())(p)
        assert np.all(g[~mask] == 0) and np.all(np.isfinite(g))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda p: jaxdiv.f_divergence(p, p, "kl"), ValueError, "unknown f-divergence generator"),
        (lambda p: jaxdiv.f_divergence(p, p, "amari_alpha"), ValueError, "needs alpha="),
        (lambda p: jaxdiv.f_divergence(p, p, "t_power", t=1.0), ValueError, "zero function"),
        (lambda p: jaxdiv.f_divergence(p, p, "pearson", t=2.0), ValueError, "takes no parameter"),
        (
            lambda p: jaxdiv.f_divergence(p, p, "t_power", alpha=2.0),
            ValueError,
            "takes only t=",
        ),
        (
            lambda p: jaxdiv.f_divergence(p, p, "amari_alpha", alpha=math.nan),
            ValueError,
            "alpha must be a finite number",
        ),
        (
            lambda p: jaxdiv.f_divergence(p, p, "pearson", slope_at_infinity=1.0),
            ValueError,
            "carries its own",
        ),
        (
            lambda p: jaxdiv.f_divergence(p, p, lambda t: (t - 1) ** 2, alpha=2.0),
            ValueError,
            "callable f takes its parameters",
        ),
        (lambda p: jaxdiv.f_divergence(p, p, 3), TypeError, "'kl_forward'"),
    ],
)
def test_bad_generators_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call(np.full(2, 0.5))
