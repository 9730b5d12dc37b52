"""Bad input gets a clear error at trace time; value checks are opt-in and jit-safe."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import ALL, make_inputs

import jaxdiv

P = np.array([0.2, 0.3, 0.5])


def test_mismatched_shapes_name_both_shapes():
    with pytest.raises(ValueError, match=r"p has shape \(3,\) and q has shape \(4,\)"):
        jaxdiv.kl_divergence(P, np.full(4, 0.25))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(5, 3\).*do not broadcast"):
        jaxdiv.js_divergence(np.full((2, 3), 1 / 3), np.full((5, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"p_logits has shape \(3,\) and q_logits has shape"):
        jaxdiv.kl_divergence_from_logits(np.zeros(3), np.zeros(2))


def test_distribution_axis_is_never_broadcast():
    with pytest.raises(ValueError, match="never broadcast"):
        jaxdiv.kl_divergence(P, np.ones(1))


@pytest.mark.parametrize("case", ALL, ids=repr)
@pytest.mark.parametrize("dtype", [np.int32, np.bool_])
def test_integer_or_boolean_inputs_raise_type_error(case, dtype, rng):
    args = make_inputs(case, rng, (2, 3))
    args[0] = args[0].astype(dtype)
    with pytest.raises(TypeError, match="must be a floating-point array"):
        case.fn(*args)


@pytest.mark.parametrize("base", [0, -2, 1, float("nan"), float("inf")])
def test_bad_base_raises_value_error(base):
    with pytest.raises(ValueError, match="base must be None"):
        jaxdiv.entropy(P, base=base)
    with pytest.raises(ValueError, match="base must be None"):
        jaxdiv.binary_entropy(P, base=base)


@pytest.mark.parametrize("alpha", [-0.5, float("nan")])
def test_bad_renyi_alpha_raises_value_error(alpha):
    with pytest.raises(ValueError, match="alpha must be a number >= 0"):
        jaxdiv.renyi_divergence(P, P, alpha=alpha)
    with pytest.raises(ValueError, match="alpha must be a number >= 0"):
        jaxdiv.renyi_divergence_from_logits(P, P, alpha=alpha)


def test_bad_amari_alpha_raises_value_error():
    with pytest.raises(ValueError, match="alpha must be a finite number, got inf"):
        jaxdiv.alpha_divergence(P, P, alpha=float("inf"))


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_bad_js_weight_raises_value_error(weight):
    with pytest.raises(ValueError, match=r"weight must lie in \[0, 1\]"):
        jaxdiv.js_divergence(P, P, weight=weight)


def test_js_weight_endpoints_give_zero():
    q = np.array([1.0, 0.0, 0.0])
    assert jaxdiv.js_divergence(P, q, weight=0.0) == 0
    assert jaxdiv.js_divergence(P, q, weight=1.0) == 0


def test_traced_hyperparameter_raises_type_error():
    with pytest.raises(TypeError, match="alpha must be a concrete number"):
        jax.jit(lambda a: jaxdiv.renyi_divergence(P, P, alpha=a))(0.5)


def test_bad_axis_and_mask():
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        jaxdiv.entropy(P, axis=2)
    with pytest.raises(TypeError, match="where must be a boolean mask"):
        jaxdiv.entropy(P, where=np.array([1, 0, 1]))
    with pytest.raises(ValueError, match=r"where has shape \(2,\).*\(3,\)"):
        jaxdiv.entropy(P, where=np.array([True, False]))
    with pytest.raises(ValueError, match="axes must be two different axes"):
        jaxdiv.mutual_information(np.full((2, 2), 0.25), axes=(1, 1))


def test_integer_label_errors():
    logits = np.zeros((2, 3))
    with pytest.raises(TypeError, match="labels must be an integer array"):
        jaxdiv.cross_entropy_from_integer_labels(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"logits has shape \(2, 3\) and labels has shape \(3,\)"):
        jaxdiv.cross_entropy_from_integer_labels(logits, np.array([0, 1, 2]))


def test_f_divergence_rejects_bad_generators():
    with pytest.raises(ValueError, match=r"f\(1\) = 0"):
        jaxdiv.f_divergence(P, P, lambda t: t)
    with pytest.raises(ValueError, match=r"f\(0\) is NaN"):
        jaxdiv.f_divergence(P, P, lambda t: t * jnp.log(t))


# --------------------------------------------------------------------------- checked mode


def test_checked_reports_negative_entries_under_jit():
    f = jax.jit(jaxdiv.checked(jaxdiv.kl_divergence))
    err, _ = f(np.array([-0.1, 0.6, 0.5]), P)
    with pytest.raises(ValueError, match="p has 1 entries that are not finite and >= 0"):
        err.throw()


def test_checked_reports_rows_not_summing_to_one_under_jit():
    f = jax.jit(jaxdiv.checked(lambda p, q: jaxdiv.js_divergence(p, q, axis=0)))
    err, _ = f(P[:, None], np.array([[0.5], [0.5], [0.5]]))
    with pytest.raises(ValueError, match="q does not sum to 1 along axis 0"):
        err.throw()


def test_checked_passes_valid_input_and_respects_masks():
    f = jax.jit(jaxdiv.checked(jaxdiv.entropy))
    err, value = f(P)
    err.throw()  # no error
    np.testing.assert_allclose(value, jaxdiv.entropy(P))
    # Unmasked entries sum to one; the masked entry is ignored by the check.
    err, _ = jaxdiv.checked(jaxdiv.entropy)(
        np.array([0.5, 0.5, 7.0]), where=np.array([1, 1, 0], bool)
    )
    err.throw()


def test_checked_reports_nan_logits_bad_bernoulli_and_labels():
    err, _ = jaxdiv.checked(jaxdiv.kl_divergence_from_logits)(np.array([0.0, np.nan]), np.zeros(2))
    with pytest.raises(ValueError, match="p_logits has NaN or \\+inf entries"):
        err.throw()
    err, _ = jaxdiv.checked(jaxdiv.binary_entropy)(np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match=r"not in \[0, 1\]"):
        err.throw()
    err, _ = jaxdiv.checked(
        lambda x, y: jaxdiv.cross_entropy_from_integer_labels(x, y, ignore_index=-1)
    )(np.zeros((3, 4)), np.array([0, -1, 4]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\) or equal ignore_index=-1"):
        err.throw()


def test_checks_are_off_by_default():
    """Without checked(), invalid values are computed without any check or error."""
    value = jax.jit(jaxdiv.kl_divergence)(np.array([0.5, 0.7]), np.array([0.5, 0.5]))
    assert np.isfinite(value)
