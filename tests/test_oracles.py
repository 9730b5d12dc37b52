"""Every discrete divergence against an independent float64 oracle (scipy, numpy)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import ALL, BERN, REDUCING, OneProgramPerCase, make_inputs
from scipy import special, stats

import jaxdiv

PROGRAMS = OneProgramPerCase()

ORACLE = (7, 11)  # [rows, classes]
UNITS = (3, 5)
BASES = [2, 10, math.e, 0.5]


@PROGRAMS.check(ALL, lambda case, rng: (make_inputs(case, rng, ORACLE), None))
def oracle(case, args, _):
    return case.fn(*args)


@pytest.mark.parametrize("case", ALL, ids=repr)
def test_matches_oracle_float64(case):
    args, _, got = PROGRAMS.result(case, "oracle")
    assert got.dtype == jnp.float64, case.name
    np.testing.assert_allclose(got, case.oracle(*args), rtol=1e-6, atol=1e-12, err_msg=case.name)


WITH_BASE = [c for c in ALL if c.has_base]


@PROGRAMS.check(WITH_BASE, lambda case, rng: (make_inputs(case, rng, UNITS), BASES))
def units(case, args, bases):
    return [case.fn(*args, base=base) for base in bases]


@pytest.mark.parametrize("case", WITH_BASE, ids=repr)
@pytest.mark.parametrize("base", BASES)
def test_base_converts_units(case, base):
    args, _, values = PROGRAMS.result(case, "units")
    nats = case.oracle(*args)
    got = values[BASES.index(base)]
    np.testing.assert_allclose(
        got, nats / np.log(base), rtol=1e-6, atol=1e-12, err_msg=f"{case.name}, base {base}"
    )


def test_entropy_matches_scipy_with_base(rng):
    p = rng.dirichlet(np.ones(9), size=4)
    bases = (2, 3, 10)
    got = jax.jit(lambda p: [jaxdiv.entropy(p, base=b) for b in bases])(p)
    for base, value in zip(bases, got, strict=True):
        np.testing.assert_allclose(value, stats.entropy(p, base=base, axis=-1), rtol=1e-6)


def test_kl_matches_rel_entr_on_unnormalised_zero_including_inputs(rng):
    p = rng.dirichlet(np.ones(6), size=5)
    p[:, 0] = 0.0
    q = rng.dirichlet(np.ones(6), size=5)
    np.testing.assert_allclose(
        jax.jit(jaxdiv.kl_divergence)(p, q), special.rel_entr(p, q).sum(-1), rtol=1e-6
    )


def test_mutual_information_matches_entropy_identity(rng):
    joint = rng.dirichlet(np.ones(12), size=3).reshape(3, 3, 4)
    hx = stats.entropy(joint.sum(-1), axis=-1)
    hy = stats.entropy(joint.sum(-2), axis=-1)
    hxy = stats.entropy(joint.reshape(3, 12), axis=-1)
    got = jax.jit(jaxdiv.mutual_information)(joint)
    np.testing.assert_allclose(got, hx + hy - hxy, rtol=1e-6)
    got_bits = jax.jit(lambda j: jaxdiv.mutual_information(j, axes=(0, 2), base=2))(
        np.moveaxis(joint, 1, 0)
    )
    np.testing.assert_allclose(got_bits, (hx + hy - hxy) / np.log(2), rtol=1e-6)


def test_integer_labels_match_log_softmax(rng):
    logits = rng.normal(size=(6, 10)) * 3
    labels = rng.integers(0, 10, size=6)
    expected = -special.log_softmax(logits, axis=-1)[np.arange(6), labels]
    got = jax.jit(jaxdiv.cross_entropy_from_integer_labels)(logits, labels)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # Classes along axis 0, in bits.
    got0 = jax.jit(lambda x, y: jaxdiv.cross_entropy_from_integer_labels(x, y, axis=0, base=2))(
        logits.T, labels
    )
    np.testing.assert_allclose(got0, expected / np.log(2), rtol=1e-6)


def test_integer_labels_ignore_index_contributes_zero_with_zero_gradient(rng):
    logits = rng.normal(size=(4, 5))
    labels = np.array([1, -100, 3, -100])
    f = jax.jit(lambda x: jaxdiv.cross_entropy_from_integer_labels(x, labels, ignore_index=-100))
    loss = f(logits)
    assert loss[1] == 0 and loss[3] == 0
    np.testing.assert_allclose(loss[0], -special.log_softmax(logits[0])[1], rtol=1e-6)
    grad = jax.grad(lambda x: f(x).sum())(logits)
    assert np.all(grad[1] == 0) and np.all(grad[3] == 0)
    # Equal to the softmax cross-entropy against the one-hot label.
    np.testing.assert_allclose(grad[0], special.softmax(logits[0]) - np.eye(5)[1], rtol=1e-6)


def test_integer_labels_out_of_range_give_inf(rng):
    logits = rng.normal(size=(2, 3))
    loss = jax.jit(jaxdiv.cross_entropy_from_integer_labels)(logits, np.array([0, 7]))
    assert np.isfinite(loss[0]) and loss[1] == np.inf


def test_integer_labels_equal_cross_entropy_with_one_hot(rng):
    logits = rng.normal(size=(5, 8))
    labels = rng.integers(0, 8, size=5)
    onehot = np.eye(8)[labels]
    from_labels, from_one_hot = jax.jit(
        lambda x, y, p, q: (
            jaxdiv.cross_entropy_from_integer_labels(x, y),
            jaxdiv.cross_entropy(p, q),
        )
    )(logits, labels, onehot, special.softmax(logits, -1))
    np.testing.assert_allclose(from_labels, from_one_hot, rtol=1e-6)


_BY_NAME = {c.name: c for c in REDUCING}
_LOGIT_PAIRS = [
    (c, _BY_NAME[c.name.replace("_from_logits", "")])
    for c in REDUCING
    if "_from_logits" in c.name and c.name.replace("_from_logits", "") in _BY_NAME
]
_PROBABILITY_FORM = {c.name: prob_case for c, prob_case in _LOGIT_PAIRS}


def _logits_and_probabilities(case, rng):
    args = make_inputs(case, rng, (4, 6))
    return (args, [special.softmax(a, axis=-1) for a in args]), None


@PROGRAMS.check([c for c, _ in _LOGIT_PAIRS], _logits_and_probabilities)
def logits_and_probabilities(case, args, _):
    logits, probs = args
    return case.fn(*logits), _PROBABILITY_FORM[case.name].fn(*probs)


@pytest.mark.parametrize(("case", "prob_case"), _LOGIT_PAIRS, ids=[c.name for c, _ in _LOGIT_PAIRS])
def test_logits_and_probability_forms_agree(case, prob_case):
    """Each *_from_logits function equals its probability form on softmax(logits)."""
    from_logits, from_probs = PROGRAMS.result(case, "logits_and_probabilities").out
    np.testing.assert_allclose(from_logits, from_probs, rtol=1e-6, atol=1e-12, err_msg=case.name)


# Each Bernoulli form and the categorical function it equals on two outcomes.
_CATEGORICAL = {
    "binary_entropy": jaxdiv.entropy,
    "binary_cross_entropy": jaxdiv.cross_entropy,
    "binary_kl_divergence": jaxdiv.kl_divergence,
    "binary_cross_entropy_from_logits": jaxdiv.cross_entropy,
    "binary_kl_divergence_from_logits": jaxdiv.kl_divergence,
}


def _bernoulli_and_two_outcomes(case, rng):
    args = make_inputs(case, rng, (8,))
    as_probs = [
        special.expit(a)
        if (case.kind == "bern_logit2" or (i == 1 and "plogit" in case.kind))
        else a
        for i, a in enumerate(args)
    ]
    return (args, [np.stack([x, 1 - x], -1) for x in as_probs]), None


@PROGRAMS.check(BERN, _bernoulli_and_two_outcomes)
def two_outcomes(case, args, _):
    args, two = args
    return case.fn(*args), _CATEGORICAL[case.name](*two)


@pytest.mark.parametrize("case", BERN, ids=repr)
def test_bernoulli_forms_equal_two_outcome_categoricals(case):
    bernoulli, categorical = PROGRAMS.result(case, "two_outcomes").out
    np.testing.assert_allclose(bernoulli, categorical, rtol=1e-6, err_msg=case.name)
