"""One table of every discrete divergence with an independent numpy/scipy oracle.

Each case says how to call jaxdiv and how to compute the same number from
scratch in float64 with numpy and scipy; the tests in this folder iterate over
the table, so every function meets every check (oracle, jit, vmap, axis, mask,
gradients, boundaries).

:class:`OneProgramPerCase` computes, per case, everything the checks of a test module
need under one ``jax.jit``, once: each parametrized test then asserts its own part.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.scipy.special as jsp
import numpy as np
from scipy import special, stats
from scipy.spatial import distance

import jaxdiv


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    fn: Callable  # fn(*args, **kwargs) with args as in `kind`
    oracle: Callable  # oracle(*args) in numpy, float64, reduced over the last axis
    kind: str  # "prob1", "prob2", "logit1", "logit2", "prob_logit", "bern1", "bern2", ...
    has_base: bool = True

    def __repr__(self):
        return self.name


def _renyi(p, q, a):
    if a == 1:
        return special.rel_entr(p, q).sum(-1)
    if a == np.inf:
        with np.errstate(divide="ignore"):
            return np.log(np.max(np.where(p > 0, p / q, 0), -1))
    if a == 0:
        return -np.log(np.where(p > 0, q, 0).sum(-1))
    return np.log(np.sum(p**a * q ** (1 - a), -1)) / (a - 1)


def _alpha(p, q, a):
    if a == 1:
        return special.rel_entr(p, q).sum(-1)
    if a == 0:
        return special.rel_entr(q, p).sum(-1)
    return (np.sum(p**a * q ** (1 - a), -1) - 1) / (a * (a - 1))


def _js(p, q, w):
    m = w * p + (1 - w) * q
    return w * special.rel_entr(p, m).sum(-1) + (1 - w) * special.rel_entr(q, m).sum(-1)


def _softmax(x):
    return special.softmax(x, axis=-1)


def _bern(p):
    return np.stack([p, 1 - p], -1)


def _sig(z):
    return np.stack([special.expit(z), special.expit(-z)], -1)


PROB2 = [
    Case("kl_divergence", jaxdiv.kl_divergence, lambda p, q: stats.entropy(p, q, axis=-1), "prob2"),
    Case(
        "cross_entropy",
        jaxdiv.cross_entropy,
        lambda p, q: stats.entropy(p, axis=-1) + special.rel_entr(p, q).sum(-1),
        "prob2",
    ),
    Case(
        "js_divergence",
        jaxdiv.js_divergence,
        lambda p, q: distance.jensenshannon(p, q, axis=-1) ** 2,
        "prob2",
    ),
    Case(
        "js_divergence_w0.2",
        lambda p, q, **kw: jaxdiv.js_divergence(p, q, weight=0.2, **kw),
        lambda p, q: _js(p, q, 0.2),
        "prob2",
    ),
    *[
        Case(
            f"renyi_divergence_{a}",
            lambda p, q, a=a, **kw: jaxdiv.renyi_divergence(p, q, alpha=a, **kw),
            lambda p, q, a=a: _renyi(p, q, a),
            "prob2",
        )
        for a in (0.0, 0.3, 0.5, 1.0, 2.0, 7.5, np.inf)
    ],
    *[
        Case(
            f"alpha_divergence_{a}",
            lambda p, q, a=a, **kw: jaxdiv.alpha_divergence(p, q, alpha=a, **kw),
            lambda p, q, a=a: _alpha(p, q, a),
            "prob2",
            has_base=False,
        )
        for a in (-1.5, 0.0, 0.5, 1.0, 2.0)
    ],
    Case(
        "total_variation",
        jaxdiv.total_variation,
        lambda p, q: 0.5 * np.abs(p - q).sum(-1),
        "prob2",
        has_base=False,
    ),
    Case(
        "hellinger_distance",
        jaxdiv.hellinger_distance,
        lambda p, q: np.sqrt(np.maximum(1 - np.sum(np.sqrt(p * q), -1), 0)),
        "prob2",
        has_base=False,
    ),
    Case(
        "chi_square_divergence",
        jaxdiv.chi_square_divergence,
        lambda p, q: np.sum(p**2 / q, -1) - 1,
        "prob2",
        has_base=False,
    ),
    Case(
        "jeffreys_divergence",
        jaxdiv.jeffreys_divergence,
        lambda p, q: stats.entropy(p, q, axis=-1) + stats.entropy(q, p, axis=-1),
        "prob2",
    ),
    Case(
        "bhattacharyya_distance",
        jaxdiv.bhattacharyya_distance,
        lambda p, q: -np.log(np.sum(np.sqrt(p * q), -1)),
        "prob2",
    ),
    Case(
        "f_divergence_kl",
        lambda p, q, **kw: jaxdiv.f_divergence(p, q, lambda t: jsp.xlogy(t, t), **kw),
        lambda p, q: stats.entropy(p, q, axis=-1),
        "prob2",
        has_base=False,
    ),
]

PROB1 = [
    Case("entropy", jaxdiv.entropy, lambda p: stats.entropy(p, axis=-1), "prob1"),
    Case(
        "perplexity",
        jaxdiv.perplexity,
        lambda p: np.exp(stats.entropy(p, axis=-1)),
        "prob1",
        has_base=False,
    ),
]

LOGIT2 = [
    Case(
        "kl_divergence_from_logits",
        jaxdiv.kl_divergence_from_logits,
        lambda a, b: stats.entropy(_softmax(a), _softmax(b), axis=-1),
        "logit2",
    ),
    Case(
        "cross_entropy_from_logits",
        jaxdiv.cross_entropy_from_logits,
        lambda a, b: -np.sum(_softmax(a) * special.log_softmax(b, axis=-1), -1),
        "logit2",
    ),
    Case(
        "js_divergence_from_logits",
        jaxdiv.js_divergence_from_logits,
        lambda a, b: distance.jensenshannon(_softmax(a), _softmax(b), axis=-1) ** 2,
        "logit2",
    ),
    Case(
        "js_divergence_from_logits_w0.7",
        lambda a, b, **kw: jaxdiv.js_divergence_from_logits(a, b, weight=0.7, **kw),
        lambda a, b: _js(_softmax(a), _softmax(b), 0.7),
        "logit2",
    ),
    *[
        Case(
            f"renyi_divergence_from_logits_{al}",
            lambda a, b, al=al, **kw: jaxdiv.renyi_divergence_from_logits(a, b, alpha=al, **kw),
            lambda a, b, al=al: _renyi(_softmax(a), _softmax(b), al),
            "logit2",
        )
        for al in (0.0, 0.5, 1.0, 3.0, np.inf)
    ],
]

LOGIT1 = [
    Case(
        "entropy_from_logits",
        jaxdiv.entropy_from_logits,
        lambda a: stats.entropy(_softmax(a), axis=-1),
        "logit1",
    ),
]

MIXED = [
    Case(
        "cross_entropy_with_logits",
        jaxdiv.cross_entropy_with_logits,
        lambda p, b: -np.sum(p * special.log_softmax(b, axis=-1), -1),
        "prob_logit",
    ),
    Case(
        "kl_divergence_with_logits",
        jaxdiv.kl_divergence_with_logits,
        lambda p, b: np.sum(special.rel_entr(p, _softmax(b)), -1),
        "prob_logit",
    ),
]

BERN = [
    Case(
        "binary_entropy",
        jaxdiv.binary_entropy,
        lambda p: stats.entropy(_bern(p), axis=-1),
        "bern1",
    ),
    Case(
        "binary_cross_entropy",
        jaxdiv.binary_cross_entropy,
        lambda p, q: -(p * np.log(q) + (1 - p) * np.log1p(-q)),
        "bern2",
    ),
    Case(
        "binary_kl_divergence",
        jaxdiv.binary_kl_divergence,
        lambda p, q: stats.entropy(_bern(p), _bern(q), axis=-1),
        "bern2",
    ),
    Case(
        "binary_cross_entropy_from_logits",
        jaxdiv.binary_cross_entropy_from_logits,
        lambda p, z: -(p * special.log_expit(z) + (1 - p) * special.log_expit(-z)),
        "bern_plogit",
    ),
    Case(
        "binary_kl_divergence_from_logits",
        jaxdiv.binary_kl_divergence_from_logits,
        lambda a, b: stats.entropy(_sig(a), _sig(b), axis=-1),
        "bern_logit2",
    ),
]

REDUCING = PROB2 + PROB1 + LOGIT2 + LOGIT1 + MIXED
ALL = REDUCING + BERN


def make_inputs(case: Case, rng, shape, *, floor=0.05):
    """Random float64 inputs for ``case``: probabilities bounded away from 0, or logits."""
    from conftest import random_simplex

    def prob():
        return random_simplex(rng, shape, floor=floor)

    def logit():
        return rng.normal(size=shape) * 2.0

    def bern():
        return rng.uniform(0.05, 0.95, size=shape)

    makers = {
        "prob1": [prob],
        "prob2": [prob, prob],
        "logit1": [logit],
        "logit2": [logit, logit],
        "bern1": [bern],
        "bern2": [bern, bern],
        "bern_plogit": [bern, logit],
        "bern_logit2": [logit, logit],
        "prob_logit": [prob, logit],
    }
    return [m() for m in makers[case.kind]]


SEED = 20261125  # the seed of conftest's ``rng`` fixture


class Result(NamedTuple):
    """The numpy inputs of one check of one case and the program's outputs for them."""

    args: Any  # the program's arguments (a pytree of arrays)
    static: Any  # what the computation closes over (masks, axes, Python numbers)
    out: Any  # the outputs, as numpy arrays


@dataclasses.dataclass(frozen=True)
class _Check:
    cases: frozenset[str]
    inputs: Callable  # inputs(case, rng) -> (args, static), in numpy
    compute: Callable  # compute(case, args, static) -> outputs, traced under jit


class OneProgramPerCase:
    """Every check of a test module, for one case, compiled as one program and run once.

    A module registers the computation of each of its checks with :meth:`check`. The first
    test that asks for a case's :meth:`result` draws the inputs of every check that applies
    to the case (each from a fresh generator with the ``rng`` fixture's seed, as the test
    would), traces all the computations into one jitted program, runs it and keeps the
    inputs and outputs; the other checks of that case read theirs from that run.
    """

    def __init__(self):
        self._checks: dict[str, _Check] = {}
        self._results: dict[str, dict[str, Result]] = {}

    def check(self, cases, inputs):
        """Decorator: registers ``compute(case, args, static)`` under its function name,
        for ``cases``, on the inputs ``inputs(case, rng)`` returns as ``(args, static)``."""

        def register(compute):
            self._checks[compute.__name__] = _Check(
                frozenset(c.name for c in cases), inputs, compute
            )
            return compute

        return register

    def result(self, case: Case, name: str) -> Result:
        """The inputs and outputs of check ``name`` for ``case``."""
        if case.name not in self._results:
            self._results[case.name] = self._run(case)
        return self._results[case.name][name]

    def _run(self, case: Case) -> dict[str, Result]:
        checks = {n: c for n, c in self._checks.items() if case.name in c.cases}
        drawn = {n: c.inputs(case, np.random.default_rng(SEED)) for n, c in checks.items()}

        def program(args):
            return {n: c.compute(case, args[n], drawn[n][1]) for n, c in checks.items()}

        out = jax.jit(program)({n: args for n, (args, _) in drawn.items()})
        out = jax.tree.map(np.asarray, out)
        return {n: Result(drawn[n][0], drawn[n][1], out[n]) for n in checks}
