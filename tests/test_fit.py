"""jaxdiv.fit: optima against closed forms, restarts, the stopping rule, bad options, jit."""

import functools
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxdiv
from jaxdiv import expfam, fit, mixture
from jaxdiv.mixture import GaussianMixture

KEY = jax.random.key(0)


def _normal(mean, std):
    return expfam.Normal.from_mean_std(mean, std)


def _bimodal(d):
    """N(-d/2, 1) / 2 + N(d/2, 1) / 2."""
    return GaussianMixture.univariate(jnp.full(2, 0.5), jnp.array([-d / 2, d / 2]), jnp.ones(2))


def _quadrature_kl(p, q):
    return mixture.kl_divergence(p, q, method="quadrature")


@pytest.mark.parametrize("divergence", ["forward_kl", "reverse_kl"])
def test_normal_fitted_to_a_normal_recovers_it(divergence):
    # Same family: the objective is the closed-form KL, whose minimiser is the target itself
    # (for forward KL, the moment match of the target).
    target = _normal(2.0, 0.5)
    r = fit.fit(
        _normal(0.0, 1.0),
        target,
        divergence=divergence,
        optimizer=optax.adam(0.05),
        steps=600,
        key=KEY,
    )
    np.testing.assert_allclose([r.model.loc, r.model.std], [2.0, 0.5], atol=1e-5)
    assert r.kl_method == "exact" and float(r.forward_kl) < 1e-9 and float(r.reverse_kl) < 1e-9
    # the loss history is the exact KL at each step: the first is KL from the start
    start = _normal(0.0, 1.0)
    pair = (target, start) if divergence == "forward_kl" else (start, target)
    np.testing.assert_allclose(r.losses[0], jax.jit(expfam.kl_divergence)(*pair), rtol=1e-12)
    assert int(r.num_steps) == 600 and not bool(r.converged) and not bool(r.diverged)


def test_optimisers_that_take_the_loss_work_too():
    # optax.lbfgs's line search calls the objective: fit passes it (and the loss) along.
    r = fit.fit(_normal(0.0, 1.0), _normal(2.0, 0.5), divergence="reverse_kl",
                optimizer=optax.lbfgs(), steps=40, key=KEY)  # fmt: skip
    np.testing.assert_allclose([r.model.loc, r.model.std], [2.0, 0.5], atol=1e-6)


def test_forward_kl_on_samples_is_the_moment_match_of_the_samples():
    # Maximum likelihood of a Gaussian: the sample mean and the (biased) sample std, exactly.
    x = 3.0 + 0.7 * jax.random.normal(jax.random.key(1), (400,))
    r = fit.fit(
        _normal(0.0, 1.0),
        x,
        divergence="forward_kl",
        optimizer=optax.adam(optax.cosine_decay_schedule(0.1, 800)),
        steps=800,
        key=KEY,
    )
    np.testing.assert_allclose([r.model.loc, r.model.std], [x.mean(), x.std()], atol=1e-5)
    assert r.forward_kl is None and r.reverse_kl is None and r.kl_method is None


def test_any_family_fits_samples_by_likelihood():
    counts = jax.random.poisson(jax.random.key(2), 4.0, (300,))
    r = fit.fit(
        expfam.Poisson.from_rate(1.0),
        counts,
        divergence="forward_kl",
        optimizer=optax.adam(optax.cosine_decay_schedule(0.1, 600)),
        steps=600,
        key=KEY,
    )
    np.testing.assert_allclose(r.model.mean_parameters()[0], counts.mean(), rtol=1e-5)


def test_reverse_kl_seeks_a_mode_and_forward_kl_covers_both():
    target = _bimodal(6.0)
    opt = optax.adam(optax.cosine_decay_schedule(0.05, 500))
    fwd = fit.fit(_normal(1.0, 1.0), target, divergence="forward_kl", optimizer=opt, steps=500,
                  key=KEY, num_samples=2048)  # fmt: skip
    rev = fit.fit(_normal(2.0, 1.0), target, divergence="reverse_kl", optimizer=opt, steps=500,
                  key=KEY)  # fmt: skip
    # forward: the moments of the target, mean 0 and variance 1 + 9 (mass-covering)
    np.testing.assert_allclose([fwd.model.loc, fwd.model.std], [0.0, np.sqrt(10.0)], atol=0.1)
    # reverse: one mode, nearly N(3, 1) (mode-seeking)
    np.testing.assert_allclose([rev.model.loc, rev.model.std], [3.0, 1.0], atol=0.05)
    assert fwd.kl_method == rev.kl_method == "quadrature"
    assert float(fwd.forward_kl) < float(rev.forward_kl)  # each wins on its own divergence
    assert float(rev.reverse_kl) < float(fwd.reverse_kl)
    # Checked: the quadrature's error estimate within its tolerance, as in eager mode.
    error, quadrature = jax.jit(jaxdiv.checked(_quadrature_kl))(rev.model, target)
    error.throw()
    np.testing.assert_allclose(rev.reverse_kl, quadrature, rtol=1e-9)
    np.testing.assert_allclose(rev.reverse_kl, np.log(2.0), atol=0.01)  # one mode of two
    # The target's own log_prob as a log-density: a mixture's takes points [N, 1], a Normal
    # model's points are scalars; either point shape is accepted, with the same fit.
    by_function = fit.fit(_normal(2.0, 1.0), target.log_prob, divergence="reverse_kl",
                          optimizer=opt, steps=500, key=KEY)  # fmt: skip
    np.testing.assert_allclose(by_function.losses, rev.losses, rtol=1e-5, atol=1e-6)


def test_a_mixture_fitted_by_reverse_kl_finds_both_modes():
    target = _bimodal(6.0)
    start = GaussianMixture.univariate(jnp.array([0.3, 0.7]), jnp.array([-1.0, 1.0]), jnp.ones(2))
    r = fit.fit(start, target.log_prob, divergence="reverse_kl", optimizer=optax.adam(0.05),
                steps=400, key=KEY, num_samples=128)  # fmt: skip
    assert isinstance(r.model, GaussianMixture)
    np.testing.assert_allclose(jnp.sort(r.model.means[:, 0]), [-3.0, 3.0], atol=0.1)
    np.testing.assert_allclose(r.model.weights, [0.5, 0.5], atol=0.05)


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_renyi_and_alpha_losses_against_quadrature(alpha):
    # The first loss of each fit is the objective at the start: against the quadrature values.
    target, start = _bimodal(3.0), _normal(0.5, 1.2)
    opt = optax.sgd(0.0)
    kw = {"optimizer": opt, "steps": 1, "key": KEY, "alpha": alpha, "num_samples": 20000}
    renyi = fit.fit(start, target, divergence="renyi", **kw).losses[0]
    amari = fit.fit(start, target, divergence="alpha", **kw).losses[0]
    renyi_by_quadrature = functools.partial(
        mixture.renyi_divergence, alpha=alpha, method="quadrature"
    )
    error, exact = jax.jit(jaxdiv.checked(renyi_by_quadrature))(start, target)
    error.throw()  # the error estimate within its tolerance, as in eager mode
    integral = np.exp((alpha - 1) * exact)
    np.testing.assert_allclose(renyi, exact, rtol=0.02)
    np.testing.assert_allclose(amari, (1 - integral) / (alpha * (1 - alpha)), rtol=0.02)


@pytest.mark.parametrize("divergence", ["renyi", "alpha"])
def test_renyi_and_alpha_exact_fits_recover_the_target(divergence):
    target = _normal(-1.0, 2.0)
    r = fit.fit(_normal(0.0, 1.0), target, divergence=divergence, alpha=0.5,
                optimizer=optax.adam(0.05), steps=600, key=KEY)  # fmt: skip
    np.testing.assert_allclose([r.model.loc, r.model.std], [-1.0, 2.0], atol=1e-4)
    renyi0 = expfam.renyi_divergence(_normal(0.0, 1.0), target, alpha=0.5)
    first = renyi0 if divergence == "renyi" else -np.expm1(-0.5 * renyi0) / 0.25
    np.testing.assert_allclose(r.losses[0], first, rtol=1e-12)


def test_restarts_run_side_by_side_with_per_restart_results():
    target = _normal(1.0, 0.5)
    starts = [_normal(0.0, 1.0), _normal(3.0, 2.0), _normal(-2.0, 0.3)]
    kw = {"divergence": "reverse_kl", "optimizer": optax.adam(0.05), "steps": 50}
    r = fit.fit(starts, target, key=KEY, **kw)
    assert r.num_restarts == 3 and r.losses.shape == (3, 50) and r.model.loc.shape == (3,)
    assert r.final_loss.shape == r.reverse_kl.shape == r.num_steps.shape == (3,)
    # each restart is the fit of its own start with its own key (split from the key)
    for i, (start, k) in enumerate(zip(starts, jax.random.split(KEY, 3), strict=True)):
        alone = fit.fit(start, target, key=k, **kw)
        np.testing.assert_allclose(r.restart(i).losses, alone.losses, rtol=1e-10)
        np.testing.assert_allclose(r.restart(i).model.loc, alone.model.loc, rtol=1e-10)
    assert int(r.best_restart()) == int(np.argmin(r.final_loss))
    assert r.best().losses.shape == (50,)


def test_best_restart_skips_diverged_restarts():
    r = fit.fit([_normal(0.0, 1.0)] * 3, _normal(1.0, 1.0), divergence="reverse_kl",
                optimizer=optax.sgd(0.1), steps=5, key=KEY)  # fmt: skip
    r = fit.FitResult(**{**r.__dict__, "final_loss": jnp.array([0.0, 2.0, 1.0]),
                         "diverged": jnp.array([True, False, False])})  # fmt: skip
    assert int(r.best_restart()) == 2


def test_plateau_stops_a_converged_fit():
    target = _normal(1.0, 0.5)
    kw = {"divergence": "reverse_kl", "optimizer": optax.adam(0.05), "steps": 2000, "key": KEY}
    r = fit.fit(_normal(0.0, 1.0), target, stopping=fit.Plateau(window=50, tol=1e-6), **kw)
    n = int(r.num_steps)
    assert bool(r.converged) and not bool(r.diverged) and n < 2000 and n % 50 == 0
    assert np.all(np.isfinite(r.losses[:n])) and np.all(np.isnan(r.losses[n:]))
    last, before = r.losses[n - 50 : n].mean(), r.losses[n - 100 : n - 50].mean()
    assert before - last <= 1e-6
    everything = fit.fit(_normal(0.0, 1.0), target, **kw)
    assert int(everything.num_steps) == 2000 and not bool(everything.converged)


def test_a_non_finite_loss_stops_the_fit_at_the_last_finite_parameters():
    r = fit.fit(_normal(0.0, 1.0), _normal(1.0, 0.5), divergence="reverse_kl",
                optimizer=optax.sgd(1e6), steps=100, key=KEY)  # fmt: skip
    n = int(r.num_steps)
    assert bool(r.diverged) and not bool(r.converged) and n < 100
    assert not np.isfinite(r.losses[n - 1]) and np.all(np.isfinite(r.losses[: n - 1]))
    assert np.isfinite(float(r.model.loc)) and np.isfinite(float(r.model.log_std))


def test_under_jit_and_as_a_pytree():
    target = _bimodal(4.0)
    starts = [_normal(0.0, 1.0), _normal(2.0, 1.0)]
    opt = optax.adam(0.05)

    def run(starts, key):
        return fit.fit(starts, target, divergence="reverse_kl", optimizer=opt, steps=30, key=key)

    eager, jitted = run(starts, KEY), jax.jit(run)(starts, KEY)
    assert isinstance(jitted, fit.FitResult) and jitted.divergence == "reverse_kl"
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-9), eager, jitted)
    leaves, treedef = jax.tree.flatten(jitted)
    again = jax.tree.unflatten(treedef, leaves)
    assert again.kl_method == "quadrature" and isinstance(again.model, expfam.Normal)


def test_two_dimensional_gaussians_and_a_mixture_target():
    target = GaussianMixture.from_covariances(
        jnp.full(2, 0.5), jnp.array([[-2.0, 0.0], [2.0, 0.0]]), jnp.stack([0.5 * jnp.eye(2)] * 2)
    )
    start = expfam.MultivariateNormal.from_mean_cov(jnp.array([0.5, 0.5]), jnp.eye(2))
    x = jax.jit(target.sample, static_argnums=1)(jax.random.key(3), (4000,))
    r = fit.fit(start, x, divergence="forward_kl", optimizer=optax.adam(0.05), steps=400, key=KEY)
    mean, cov = jax.jit(lambda m: (m.mean(), m.covariance()))(r.model)
    np.testing.assert_allclose(mean, x.mean(0), atol=1e-3)
    np.testing.assert_allclose(cov, np.cov(np.asarray(x).T, bias=True), atol=1e-3)
    near_a_mode = expfam.MultivariateNormal.from_mean_cov(jnp.array([1.5, 0.3]), jnp.eye(2))
    rev = fit.fit(near_a_mode, target, divergence="reverse_kl", optimizer=optax.adam(0.05),
                  steps=300, key=KEY, num_eval_samples=4096)  # fmt: skip
    np.testing.assert_allclose(jax.jit(rev.model.mean)(), [2.0, 0.0], atol=0.05)  # on the mode
    assert rev.kl_method == "monte_carlo" and float(rev.reverse_kl) < float(rev.forward_kl)


_BAD = [
    ({"divergence": "hellinger"}, ValueError, "divergence must be one of"),
    ({"divergence": "renyi"}, ValueError, "needs an order alpha"),
    ({"divergence": "renyi", "alpha": 0.0}, ValueError, "alpha must be a finite number > 0"),
    ({"divergence": "alpha", "alpha": float("inf")}, ValueError, "alpha must be a finite"),
    ({"alpha": 0.5}, ValueError, "alpha applies only to"),
    ({"steps": 0}, ValueError, "steps must be an integer >= 1"),
    ({"num_samples": 0}, ValueError, "num_samples must be an integer >= 1"),
    ({"optimizer": "adam"}, TypeError, "optimizer must be an optax transformation"),
    ({"key": 0}, TypeError, "key must be a PRNG key"),
    ({"stopping": 10}, TypeError, "stopping must be a jaxdiv.fit.Plateau"),
    ({"target": lambda x: -(x**2)}, ValueError, "'forward_kl' needs samples from the target"),
    ({"divergence": "reverse_kl", "target": jnp.zeros(5)}, ValueError, "not samples"),
    ({"target": jnp.zeros((5, 2))}, ValueError, "samples must have shape [N, *()]"),
    ({"target": _bimodal(1.0).sample(KEY, (3,)) @ jnp.ones((1, 2))}, ValueError, "samples must"),
    ({"model": expfam.Poisson.from_rate(1.0), "divergence": "reverse_kl"}, ValueError, "needs a"),
    ({"model": expfam.Normal.from_mean_std(jnp.zeros(2), 1.0)}, ValueError, "batch shape ()"),
    ({"model": [_normal(0.0, 1.0), expfam.Poisson.from_rate(1.0)]}, ValueError, "type and sh"),
    ({"model": []}, ValueError, "list of starting models is empty"),
    ({"model": "normal"}, TypeError, "model must be a GaussianMixture"),
    (
        {"target": expfam.MultivariateNormal.from_mean_cov(jnp.zeros(2), jnp.eye(2))},
        ValueError,
        "dimension 1 and the target of dimension 2",
    ),
    (
        {"divergence": "reverse_kl", "target": expfam.Gamma.from_shape_rate(2.0, 1.0)},
        TypeError,
        "from a Normal model to a Gamma target has no route",
    ),
    (
        {"divergence": "reverse_kl", "target": lambda x: jnp.sum(x, axis=(-2, -1))},
        ValueError,
        "must map points [N, *point_shape] to [N] values, with point_shape () or (1,)",
    ),
]


@pytest.mark.parametrize(("change", "error", "message"), _BAD)
def test_bad_options_raise_clear_errors(change, error, message):
    args = {
        "model": _normal(0.0, 1.0),
        "target": _normal(1.0, 1.0),
        "divergence": "forward_kl",
        "optimizer": optax.adam(0.1),
        "steps": 10,
        "key": KEY,
        **change,
    }
    model, target = args.pop("model"), args.pop("target")
    with pytest.raises(error) as info:
        jax.jit(lambda: fit.fit(model, target, **args))()
    assert message in str(info.value), str(info.value)


def test_plateau_checks_its_fields():
    with pytest.raises(ValueError, match="window must be an integer >= 1"):
        fit.Plateau(window=0)
    with pytest.raises(ValueError, match="tol must be a finite number >= 0"):
        fit.Plateau(tol=-1.0)


def test_importing_switches_on_no_float64():
    code = (
        "import jax, jaxdiv, jaxdiv.fit, experiments.fit_gmm, experiments.gmm, "
        "experiments.demo, experiments.figures; print(jax.config.jax_enable_x64)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
