"""A generated boundary sweep: every family, every divergence, both directions, four dtypes.

For each family of ``jaxdiv.expfam.__all__`` (a new family fails
:func:`test_every_family_has_a_sweep_entry` until it gets an entry here) the
sweep takes members at extreme but valid parameters (scales 1e-6 to 1e6,
probabilities 1e-7 from the edge, concentrations 1e-3 to 1e4, the degenerate
members p = 0 and 1, rate 0), pairs every member with every other (so both
directions of each divergence are covered), and evaluates every public
divergence with its gradient with respect to both members' parameters in one
jitted program per family and dtype.

References, in float64: the textbook closed-form KL from the usual parameters
(``families.py``), the entropy from scipy or a closed form, and identities
from them (cross-entropy = H + KL, Jeffreys = KL + KL). Renyi, Bhattacharyya
and Hellinger are checked in float64 against bounds from the textbook KL
(0 <= D_B <= KL / 2, R_2 >= KL) and against their own identities, and the
float32 values against the float64 evaluation.

Tolerances. float64 values: ``1e-8 |ref| + 1e-10 scale``; float32:
``2e-4 |ref| + 2e-5 scale``, where ``scale = 1 + |A(theta_p)| + |A(theta_q)| +
|A*(mu_p)| + |A*(mu_q)|`` is the size of the terms that a divergence between
the two members cancels (a KL of 1e-3 between two Gammas of shape 1e4 is a
difference of log-normalizers of size 8e4; float32 cannot give it to better
than about 8e4 * 6e-8 = 5e-3, which is genuine ill-conditioning, not a bug).
The reference is computed at the parameters as the tested dtype represents
them, so input rounding is not counted as error. float32 gradients are
compared with the float64 gradients with the same reasoning, relative to the
largest float64 gradient entry of the pair.

The 16-bit pass builds every member from bfloat16 and float16 parameters:
the constructors compute in float32, every function returns float32, and the
values equal the float32 sweep's at the same (rounded) parameters.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import families_continuous
import families_discrete
import families_multivariate
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from case_types import Sweep
from families import FAMILIES
from scipy import special, stats

from jaxdiv import expfam

# Spread over the xdist workers by family (see tests/conftest.py): a family's sweep and
# 16-bit passes share its compiled programs, and nothing crosses families.
XDIST_SPLIT_BY = "family"

CASES = {case.name: case for case in FAMILIES}

FUNCTIONS: dict[str, Callable] = {
    "kl_divergence": expfam.kl_divergence,
    "bregman_kl": expfam.bregman_kl,
    "kl_divergence_dual": expfam.kl_divergence_dual,
    "entropy": lambda p, q: expfam.entropy(p),
    "cross_entropy": expfam.cross_entropy,
    "renyi_divergence(0.5)": lambda p, q: expfam.renyi_divergence(p, q, alpha=0.5),
    "renyi_divergence(2)": lambda p, q: expfam.renyi_divergence(p, q, alpha=2.0),
    "bhattacharyya_distance": expfam.bhattacharyya_distance,
    "hellinger_distance": expfam.hellinger_distance,
    "jeffreys_divergence": expfam.jeffreys_divergence,
}
KL_LIKE = ("kl_divergence", "bregman_kl", "kl_divergence_dual")


def _entr_sum(logpmf):
    p = np.exp(logpmf)
    return -np.sum(np.where(p > 0, p * logpmf, 0.0))


def _poisson_entropy(rate):
    if rate == 0:
        return 0.0
    width = 40 * np.sqrt(rate) + 40
    k = np.arange(max(0.0, np.floor(rate - width)), np.ceil(rate + width))
    return _entr_sum(stats.poisson(rate).logpmf(k))


def _von_mises_entropy(a):
    k = a["k"]
    ratio = special.i1e(k) / special.i0e(k)
    return np.log(2 * np.pi * special.i0e(k)) + k - k * ratio


def _scipy_entropy(name):
    return lambda a: CASES[name].scipy(a).entropy()


def _small_concentration_slack(*keys):
    """Concentrations below 1e-2 are stored as ``a - 1`` (about -1), which float32 holds to
    6e-8 absolute, 6e-5 relative to ``a = 1e-3``; ``trigamma(1e-3) = 1e6`` amplifies that
    in every gradient through the mean parameters, to a few percent. Such pairs get 50
    times the gradient tolerance (their values meet the general one)."""

    def slack(p, q):
        smallest = min(float(np.min(d[k])) for d in (p, q) for k in keys)
        return 50.0 if smallest < 1e-2 else 1.0

    return slack


def _spd(scale, corr=0.0):
    return scale * np.array([[1.0, corr], [corr, 1.0]])


EDGE = 1e-7
PROBS = [0.0, EDGE, 0.3, 1 - EDGE, 1.0]

SWEEPS = {
    "Bernoulli": Sweep(
        "Bernoulli",
        [{"p": p} for p in PROBS],
        lambda a: special.entr(a["p"]) + special.entr(1 - a["p"]),
    ),
    "Binomial": Sweep(
        "Binomial",
        [{"p": p} for p in PROBS],
        lambda a: _entr_sum(stats.binom(7, a["p"]).logpmf(np.arange(8))),
    ),
    "Categorical": Sweep(
        "Categorical",
        [
            {"p": np.array(p)}
            for p in [
                [EDGE, EDGE, 1 - 2 * EDGE],
                [1 / 3, 1 / 3, 1 / 3],
                [0.5, 0.5, 0.0],
                [1 - EDGE, EDGE / 2, EDGE / 2],
                [0.0, 0.0, 1.0],
            ]
        ],
        lambda a: np.sum(special.entr(a["p"])),
    ),
    "Geometric": Sweep(
        "Geometric",
        [{"p": p} for p in [EDGE, 1e-3, 0.5, 1 - EDGE, 1.0]],
        lambda a: (special.entr(a["p"]) + special.entr(1 - a["p"])) / a["p"],
    ),
    "Poisson": Sweep(
        "Poisson",
        [{"rate": r} for r in [0.0, 1e-6, 1.0, 1e3, 1e6]],
        lambda a: _poisson_entropy(a["rate"]),
    ),
    "Exponential": Sweep(
        "Exponential",
        [{"rate": r} for r in [1e-6, 1e-3, 1.0, 1e3, 1e6]],
        lambda a: 1 - np.log(a["rate"]),
    ),
    "Gamma": Sweep(
        "Gamma",
        [{"a": a, "b": b} for a in [1e-3, 1.0, 1e4] for b in [1e-6, 1.0, 1e6]],
        _scipy_entropy("Gamma"),
        _small_concentration_slack("a"),
    ),
    "Beta": Sweep(
        "Beta",
        [{"a": a, "b": b} for a in [1e-3, 1.0, 1e4] for b in [1e-3, 1.0, 1e4]],
        _scipy_entropy("Beta"),
        _small_concentration_slack("a", "b"),
    ),
    "Dirichlet": Sweep(
        "Dirichlet",
        [
            {"alpha": np.array(a)}
            for a in [[1e-3] * 3, [1.0] * 3, [1e4] * 3, [1e-3, 1.0, 1e4], [1e4, 1e-3, 1e-3]]
        ],
        _scipy_entropy("Dirichlet"),
        _small_concentration_slack("alpha"),
    ),
    "Normal": Sweep(
        "Normal",
        [{"m": m, "s": s} for m in [0.0, 3.0] for s in [1e-6, 1.0, 1e6]],
        _scipy_entropy("Normal"),
    ),
    "LogNormal": Sweep(
        "LogNormal",
        [{"m": m, "s": s} for m in [0.0, -3.0] for s in [1e-6, 1.0, 1e6]],
        lambda a: 0.5 * np.log(2 * np.pi * np.e * a["s"] ** 2) + a["m"],
    ),
    "MultivariateNormalDiag": Sweep(
        "MultivariateNormalDiag",
        [
            {"m": np.array(m), "s": np.array(s)}
            for m, s in [
                ([0.0, 0.0], [1e-6, 1e6]),
                ([1.0, -1.0], [1.0, 1.0]),
                ([0.0, 2.0], [1e6, 1e-6]),
                ([3.0, 0.0], [1e-3, 1e3]),
            ]
        ],
        lambda a: np.sum(0.5 * np.log(2 * np.pi * np.e * a["s"] ** 2)),
    ),
    "MultivariateNormal": Sweep(
        "MultivariateNormal",
        [
            {"m": np.array(m), "c": c}
            for m, c in [
                ([0.0, 0.0], _spd(1e-6)),
                ([1.0, -1.0], _spd(1.0, 0.9)),
                ([0.0, 2.0], _spd(1e6)),
                ([3.0, 0.0], _spd(1e-3, -0.5)),
            ]
        ],
        _scipy_entropy("MultivariateNormal"),
    ),
    "VonMises": Sweep(
        "VonMises",
        [
            {"m": m, "k": k}
            for m, k in [(0.0, 0.0), (1.0, 1e-3), (-2.0, 1.0), (0.5, 1e2), (3.0, 1e4)]
        ],
        _von_mises_entropy,
    ),
    "Wishart": Sweep(
        "Wishart",
        [{"df": df, "v": v} for df in [1.5, 1e4] for v in [_spd(1e-6), _spd(1.0, 0.5), _spd(1e6)]],
        _scipy_entropy("Wishart"),
    ),
    **families_continuous.SWEEPS,
    **families_discrete.SWEEPS,
    **families_multivariate.SWEEPS,
}


def _family_classes():
    return sorted(
        name
        for name in expfam.__all__
        if inspect.isclass(getattr(expfam, name))
        and issubclass(getattr(expfam, name), expfam.ExponentialFamily)
        and getattr(expfam, name) is not expfam.ExponentialFamily
    )


def test_every_family_has_a_sweep_entry():
    missing = sorted(set(_family_classes()) - set(SWEEPS))
    assert not missing, f"add a sweep entry (extreme parameters) for {missing}"


@pytest.mark.parametrize("dtype", (np.float64, np.float32), ids=lambda d: np.dtype(d).name)
def test_boundary_members_flag_matches_the_sweep(dtype):
    """A family declares ``boundary_members = False`` (its divergences then skip the limit
    rule of the KL-type divergences) only if no member of its sweep, at the most extreme
    parameters it accepts, has an infinite natural parameter; and a family that declares
    True has such a member in its sweep (so the rule is exercised)."""
    wrong = []
    for family, sweep in SWEEPS.items():
        member = CASES[sweep.case].build(_cast(_stack(sweep.members), dtype))
        infinite = any(bool(np.any(np.isinf(t))) for t in member.natural_parameters())
        if type(member).boundary_members != infinite:
            wrong.append((family, type(member).boundary_members, infinite))
    assert not wrong, f"(family, boundary_members, some natural parameter infinite): {wrong}"


# --------------------------------------------------------------------------- evaluation


def _stack(members: list[dict]) -> dict:
    return {k: np.stack([np.asarray(m[k], np.float64) for m in members]) for k in members[0]}


def _item(params: dict, i: int) -> dict:
    return {k: v[i] for k, v in params.items()}


def _pairs(n: int):
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return i.ravel(), j.ravel()


def _cast(params: dict, dtype) -> dict:
    """The parameters as ``dtype`` represents them (probability rows renormalised)."""
    out = {k: np.asarray(v, dtype) for k, v in params.items()}
    if "p" in out and out["p"].ndim == 2:  # Categorical rows
        p64 = out["p"].astype(np.float64)
        out["p"] = (p64 / p64.sum(-1, keepdims=True)).astype(dtype)
    return out


def _evaluate(p, q):
    """Every function's value, and its gradient with respect to both members' fields."""
    out = {}
    for name, fn in FUNCTIONS.items():

        def total(p, q, fn=fn):
            v = fn(p, q)
            return jnp.sum(jnp.where(jnp.isfinite(v), v, 0.0)), v

        (_, value), grads = jax.value_and_grad(total, argnums=(0, 1), has_aux=True)(p, q)
        out[name] = (value, grads)
    scale_terms = [p.log_normalizer(), q.log_normalizer()]
    scale_terms += [expfam.convex_conjugate(p), expfam.convex_conjugate(q)]
    out["scale"] = 1 + sum(jnp.abs(jnp.where(jnp.isfinite(t), t, 0.0)) for t in scale_terms)
    # The gradient of A is mu: its size bounds the terms that a gradient cancels.
    mu = [m for d in (p, q) for m in d.mean_parameters()]
    batch = len(p.batch_shape)
    out["mu_scale"] = sum(
        jnp.max(jnp.abs(jnp.where(jnp.isfinite(m), m, 0.0)), axis=tuple(range(batch, m.ndim)))
        for m in mu
    )
    return out


# One program per family and dtype. The sweep's time is almost all XLA compilation of
# these programs (digamma and log-gamma gradients), which the cheaper backend passes
# cut by about 40%; the values are the same.
_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}
_COMPILED = {}


@pytest.fixture(autouse=True, scope="module")
def _release_sweep_programs():
    """The compiled sweeps are dropped with the module (see conftest's memory-map note)."""
    yield
    _COMPILED.clear()


def _evaluate_jit(p, q):
    # The classes are part of the key: the tree structures of a LogNormal and a Normal (its
    # subclass) compare equal, so a key of structures and shapes alone mixed them up.
    leaves = tuple((x.shape, x.dtype) for x in jax.tree.leaves((p, q)))
    key = type(p), type(q), jax.tree.structure((p, q)), leaves
    if key not in _COMPILED:
        lowered = jax.jit(_evaluate).lower(p, q)
        _COMPILED[key] = lowered.compile(compiler_options=_COMPILER_OPTIONS)
    return _COMPILED[key](p, q)


def _run(family: str, dtype, *, rounded_to=None):
    """Builds all pairs of the family's members in ``dtype`` and evaluates every function
    (with the parameters first rounded to ``rounded_to``, if given)."""
    sweep = SWEEPS[family]
    case = CASES[sweep.case]
    params = _cast(_cast(_stack(sweep.members), rounded_to or dtype), dtype)
    i, j = _pairs(len(sweep.members))
    pp = {k: v[i] for k, v in params.items()}
    qq = {k: v[j] for k, v in params.items()}
    p, q = case.build(pp), case.build(qq)
    result = jax.tree.map(np.asarray, _evaluate_jit(p, q))
    return params, (i, j), p, result


def _references(family: str, params: dict, pairs) -> dict:
    """float64 references at ``params`` (already rounded to the tested dtype)."""
    sweep = SWEEPS[family]
    case = CASES[sweep.case]
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    n = len(next(iter(p64.values())))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        h = np.array([sweep.entropy(_item(p64, k)) for k in range(n)])
        kl = np.array([[case.kl(_item(p64, a), _item(p64, b)) for b in range(n)] for a in range(n)])
    i, j = pairs
    ref = dict.fromkeys(KL_LIKE, kl[i, j])
    ref["entropy"] = h[i]
    ref["cross_entropy"] = h[i] + kl[i, j]
    ref["jeffreys_divergence"] = kl[i, j] + kl[j, i]
    ref["kl_qp"] = kl[j, i]
    return ref


def _close(got, want, rtol, atol):
    """Within ``rtol |want| + atol``, or the same infinity."""
    both_inf = np.isinf(want) & (got == want)
    with np.errstate(invalid="ignore"):  # inf - inf where both are infinite
        return both_inf | (np.abs(got - want) <= rtol * np.abs(want) + atol)


def _check_values(family, name, got, want, scale, rtol, atol, dtype):
    finite = np.isfinite(want)
    assert not np.any(np.isnan(got)), (
        f"{family}.{name} [{dtype}]: NaN at {np.argwhere(np.isnan(got)).ravel()}"
    )
    ok = _close(got, want, rtol, atol * scale)
    bad = np.flatnonzero(~ok)
    assert bad.size == 0, (
        f"{family}.{name} [{dtype}]: pairs {bad.tolist()} got {got[bad]} want {want[bad]} "
        f"(scale {scale[bad]})"
    )
    return finite


def _check_grads_finite(family, name, grads, finite, dtype):
    for leaf in jax.tree.leaves(grads):
        leaf = np.reshape(leaf, (leaf.shape[0], -1))
        bad = np.flatnonzero(finite & ~np.all(np.isfinite(leaf), -1))
        assert bad.size == 0, f"{family}.{name} [{dtype}]: non-finite gradient at pairs {bad}"


TOL = {np.float64: (1e-8, 1e-10), np.float32: (2e-4, 2e-5)}
GRAD_RTOL = 2e-3  # float32 gradients, relative to the entry and to the pair's largest entry
GRAD_MU = 0.01  # ... and to the mean parameters (GRAD_RTOL * GRAD_MU = 2e-5, 300 float32 ulps)


@pytest.fixture(scope="module")
def float64_runs():
    return {}


@pytest.mark.parametrize("family", sorted(SWEEPS))
def test_sweep_values_and_gradients(family, float64_runs):
    runs = {}
    for dtype in (np.float64, np.float32):
        params, pairs, _, result = _run(family, dtype)
        ref = _references(family, params, pairs)
        rtol, atol = TOL[dtype]
        scale = result["scale"].astype(np.float64)
        for name in (*KL_LIKE, "entropy", "cross_entropy", "jeffreys_divergence"):
            value, grads = result[name]
            finite = _check_values(family, name, value, ref[name], scale, rtol, atol, dtype)
            _check_grads_finite(family, name, grads, finite, dtype)
        kl_pq, kl_qp = ref["kl_divergence"], ref["kl_qp"]
        db, hell = result["bhattacharyya_distance"][0], result["hellinger_distance"][0]
        r_half, r_two = result["renyi_divergence(0.5)"][0], result["renyi_divergence(2)"][0]
        for name in ("renyi_divergence(0.5)", "renyi_divergence(2)", "bhattacharyya_distance"):
            assert not np.any(np.isnan(result[name][0])), f"{family}.{name} [{dtype}]: NaN"
        slack = rtol * np.abs(kl_pq) + atol * scale
        # D_B = R_1/2 / 2 <= KL / 2 in both directions, so finite wherever either KL is.
        bound = 0.5 * np.minimum(kl_pq, kl_qp)
        assert np.all((db >= -atol * scale) & (db <= bound + slack)), f"{family} D_B bound"
        assert np.all(_close(r_half, 2 * db, rtol, atol * scale)), f"{family} R_1/2 = 2 D_B"
        np.testing.assert_allclose(hell, np.sqrt(-np.expm1(-np.maximum(db, 0))), atol=1e-3)
        with np.errstate(invalid="ignore"):  # inf - inf where KL is infinite
            low = np.flatnonzero(np.isfinite(kl_pq) & (r_two < kl_pq - slack))
        assert low.size == 0, f"{family}: R_2 < KL at pairs {low}: {r_two[low]} {kl_pq[low]}"
        for name in ("renyi_divergence(0.5)", "renyi_divergence(2)", "bhattacharyya_distance"):
            _check_grads_finite(family, name, result[name][1], np.isfinite(result[name][0]), dtype)
        runs[dtype] = (params, result)
    # float32 against the float64 evaluation at the same (rounded) parameters: Renyi,
    # Bhattacharyya and all gradients.
    _, _, _, r64 = _run(family, np.float64, rounded_to=np.float32)
    params32, r32 = runs[np.float32]
    slack = np.ones(len(r64["scale"]))
    if SWEEPS[family].f32_grad_slack is not None:
        i, j = _pairs(len(SWEEPS[family].members))
        slack = np.array(
            [
                SWEEPS[family].f32_grad_slack(_item(params32, a), _item(params32, b))
                for a, b in zip(i, j, strict=True)
            ]
        )
    rtol, atol = TOL[np.float32]
    scale = r64["scale"]
    for name in ("renyi_divergence(0.5)", "renyi_divergence(2)", "bhattacharyya_distance"):
        v32, v64 = r32[name][0], r64[name][0]
        both = np.isfinite(v32) & np.isfinite(v64)
        ok = _close(v32[both], v64[both], rtol, atol * scale[both])
        assert np.all(ok), f"{family}.{name}: float32 {v32[both][~ok]} float64 {v64[both][~ok]}"
    for name in FUNCTIONS:
        finite = np.isfinite(r32[name][0]) & np.isfinite(r64[name][0])
        if name == "hellinger_distance":
            # sqrt(1 - exp(-D_B)) is not differentiable at p = q (a cone, like |x| at 0):
            # near it the gradient D_B' / (2 sqrt(D_B)) amplifies the rounding of D_B.
            finite &= r64["bhattacharyya_distance"][0] > 1e-4
        g32 = [np.reshape(g, (g.shape[0], -1)) for g in jax.tree.leaves(r32[name][1])]
        g64 = [np.reshape(g, (g.shape[0], -1)) for g in jax.tree.leaves(r64[name][1])]
        gmax = np.max([np.max(np.abs(g), -1) for g in g64], axis=0)
        gscale = (slack * (1 + gmax + GRAD_MU * r64["mu_scale"]))[:, None]
        for k, (a, b) in enumerate(zip(g32, g64, strict=True)):
            err = np.abs(a - b) - GRAD_RTOL * (np.abs(b) + gscale)
            bad = np.flatnonzero(finite & np.any(err > 0, -1))
            assert bad.size == 0, (
                f"{family}.{name} gradient leaf {k}: pairs {bad.tolist()} float32 {a[bad]} "
                f"float64 {b[bad]}"
            )


# --------------------------------------------------------------------------- 16-bit parameters

SIXTEEN_BIT = [jnp.bfloat16, jnp.float16]


def _representable(params: dict, dtype) -> np.ndarray:
    """Members whose parameters survive the cast to ``dtype`` (float16 overflows at 65504,
    so a scale of 1e6 is not a float16 parameter)."""
    ok = np.ones(len(next(iter(params.values()))), bool)
    for v in params.values():
        cast = np.asarray(jnp.asarray(v, dtype).astype(np.float64))
        ok &= np.all(np.isfinite(cast).reshape(len(ok), -1), -1)
    return ok


@pytest.mark.parametrize("dtype", SIXTEEN_BIT, ids=lambda d: jnp.dtype(d).name)
@pytest.mark.parametrize("family", sorted(SWEEPS))
def test_sixteen_bit_parameters_compute_in_float32(family, dtype):
    """Members built from bfloat16/float16 parameters hold float32; every function then
    gives float32 values equal to the float32 sweep at the same (rounded) parameters."""
    sweep = SWEEPS[family]
    case = CASES[sweep.case]
    stacked = _stack(sweep.members)
    # Members that do not survive the cast are replaced by one that does, which keeps the
    # shapes of the float32 sweep, so its compiled program is reused.
    keep = _representable(stacked, dtype)
    index = np.where(keep, np.arange(len(keep)), np.argmax(keep))
    params = {k: v[index] for k, v in stacked.items()}
    low = {k: jnp.asarray(_cast(params, np.float32)[k], dtype) for k in params}
    member = case.build(low)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(member)), family
    i, j = _pairs(len(keep))
    p = case.build({k: v[i] for k, v in low.items()})
    q = case.build({k: v[j] for k, v in low.items()})
    result = jax.tree.map(np.asarray, _evaluate_jit(p, q))  # the float32 program, reused
    as32 = _cast({k: np.asarray(v.astype(jnp.float32)) for k, v in low.items()}, np.float32)
    p32 = case.build({k: v[i] for k, v in as32.items()})
    q32 = case.build({k: v[j] for k, v in as32.items()})
    want = jax.tree.map(np.asarray, _evaluate_jit(p32, q32))
    for name in FUNCTIONS:
        value, grads = result[name]
        assert value.dtype == np.float32, f"{family}.{name}: {value.dtype}"
        assert not np.any(np.isnan(value)), f"{family}.{name} [{jnp.dtype(dtype).name}]: NaN"
        # Equal up to float32 rounding (Categorical rows are renormalised for the float32 run).
        ok = _close(value, want[name][0], 1e-5, 1e-5 * want["scale"])
        assert np.all(ok), f"{family}.{name}: {value[~ok]} against {want[name][0][~ok]}"
        _check_grads_finite(family, name, grads, np.isfinite(value), jnp.dtype(dtype).name)
    # The member functions too: mean parameters, a sample and its log-density, A*.
    means, x, logp, conj = _member_functions(member, jax.random.key(0))
    assert all(m.dtype == jnp.float32 for m in means), family
    assert x.dtype in (jnp.float32, jnp.int32, jnp.int64), (family, x.dtype)
    assert logp.dtype == conj.dtype == jnp.float32, family


@jax.jit
def _member_functions(member, key):
    x = member.sample(key)
    return member.mean_parameters(), x, member.log_prob(x), expfam.convex_conjugate(member)
