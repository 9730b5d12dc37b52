"""The fitting experiments: optax fits against exact optima, and the command line's contract."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("scipy")

from experiments import _io, fit_gmm, gmm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 600


def _single_fit(divergence, separation, init, **kw):
    config = gmm.FitConfig(
        separation=separation, divergence=divergence, steps=STEPS, restarts=1, **kw
    )
    target = gmm.separated_1d(separation)
    model = gmm.fit(config, target, init=[gmm.single_gaussian_params([init[0]], [init[1]])]).model()
    return target, float(model.means[0, 0]), float(np.sqrt(model.covariances[0, 0, 0]))


@pytest.mark.parametrize("separation", [2.0, 4.0])
def test_forward_fit_is_moment_matching(separation):
    target, mean, std = _single_fit("forward", separation, (1.0, 1.0))
    m, cov = gmm.moment_match(target)
    sd = float(np.sqrt(cov[0, 0]))
    assert abs(mean - m[0]) <= 0.01 * sd and abs(std - sd) <= 0.01 * sd, (mean, std, sd)


@pytest.mark.parametrize(
    ("separation", "init"),
    [(3.0, (1.0, 1.0)), (6.0, (3.0, 1.0)), (6.0, (0.0, 1.5)), (5.0, (-2.5, 0.5))],
)
def test_reverse_fit_reaches_the_scipy_optimum_of_its_basin(separation, init):
    target, mean, std = _single_fit("reverse", separation, init)
    opt_mean, opt_std, _ = gmm.scipy_optimum(target, "reverse", init)
    assert abs(mean - opt_mean) <= 0.01 * opt_std, (mean, opt_mean)
    assert abs(std - opt_std) <= 0.01 * opt_std, (std, opt_std)


def test_renyi_fit_reaches_the_scipy_optimum():
    target, mean, std = _single_fit("renyi", 6.0, (3.0, 1.0), alpha=2.0)
    opt_mean, opt_std, _ = gmm.scipy_optimum(target, "renyi", (3.0, 1.0), alpha=2.0)
    assert abs(mean - opt_mean) <= 0.01 * opt_std and abs(std - opt_std) <= 0.01 * opt_std


def test_forward_optimum_by_scipy_is_moment_matching():
    target = gmm.separated_1d(3.0)
    mean, std, _ = gmm.scipy_optimum(target, "forward", (1.0, 1.0))
    np.testing.assert_allclose([mean, std], [0.0, np.sqrt(3.25)], atol=1e-4)


def test_critical_separations():
    # Checked by hand: at d = 4.5 the profile of reverse KL over the mean has only the
    # centred minimum, at d = 5 a second one near each mode (scipy agrees: 2.386, 1.136).
    assert not gmm.has_mode_seeking_optimum(4.5)
    assert gmm.has_mode_seeking_optimum(5.0)
    crit = gmm.critical_separations(tol=0.05)
    assert 4.5 < crit["local"] < 5.0 < crit["global"] < 6.0
    opt = gmm.reverse_kl_optima(5.0)
    np.testing.assert_allclose(opt["from_a_mode"][:2], [2.3861, 1.1365], atol=2e-3)
    assert opt["centred"][2] < opt["from_a_mode"][2]  # at d = 5 the centred fit is still best
    assert opt["curvature_in_mean_at_centre"] > 0


def test_same_seed_same_numbers():
    config = gmm.FitConfig(target="three-1d", components=2, steps=50, restarts=2, num_samples=64)
    a, b = gmm.fit(config), gmm.fit(config)
    np.testing.assert_array_equal(a.losses, b.losses)
    c = gmm.fit(gmm.FitConfig(**{**config.__dict__, "seed": 1}))
    assert not np.array_equal(a.losses, c.losses)


def test_forward_fit_is_data_parallel_over_all_devices():
    import jax

    x, mask = gmm.shard_rows(np.arange(10.0)[:, None])
    assert len(x.sharding.device_set) == len(jax.devices()) == 8
    assert x.shape[0] % 8 == 0 and int(mask.sum()) == 10


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run(
        [sys.executable, "-m", "experiments.fit_gmm", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_cli_writes_metrics_and_figure(tmp_path):
    out = tmp_path / "run"
    args = [
        "fit",
        "--target",
        "three-1d",
        "--components",
        "2",
        "--divergence",
        "renyi",
        "--alpha",
        "0.5",
        "--steps",
        "60",
        "--restarts",
        "2",
        "--num-samples",
        "64",
        "--out",
        str(out),
        "--quiet",
    ]
    res = _cli(*args, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["divergence"] == "renyi" and len(metrics["loss_curve"]) == 60
    assert np.isclose(sum(metrics["final_parameters"]["weights"]), 1.0)
    kl = metrics["true_kl"]
    assert kl["forward_kl_target_to_fit"] > 0 and kl["reverse_kl_fit_to_target"] > 0
    assert (out / "fit.png").stat().st_size > 1000
    again = _cli(*args[:-3], "--out", str(tmp_path / "again"), "--quiet", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (
        json.loads((tmp_path / "again" / "metrics.json").read_text())["loss_curve"]
        == (metrics["loss_curve"])
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fit", "--divergence", "hellinger"], "unknown divergence"),
        (["fit", "--divergence", "renyi", "--alpha", "0"], "alpha must be"),
        (["fit", "--divergence", "renyi", "--alpha", "nan"], "alpha must be"),
        (["fit", "--learning-rate", "-0.1"], "learning rate must be"),
        (["fit", "--components", "0"], "components must be >= 1"),
        (["fit", "--optimizer", "newton"], "unknown optimizer"),
        (["fit", "--target", "moon"], "invalid choice"),
        (["fit", "--steps", "many"], "invalid int value"),
        (["fit", "--out", "/proc/version/run"], "cannot write to output folder"),
        (["demo", "--out", "/proc/version/run"], "cannot write to output folder"),
    ],
)
def test_cli_bad_configuration(args, message, tmp_path):
    proc = _cli(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.rglob("metrics.json"))


def test_interrupted_write_leaves_no_file(tmp_path):
    path = tmp_path / "metrics.json"

    def interrupted(tmp):
        with open(tmp, "w") as f:
            f.write('{"half": ')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _io.atomic_write(str(path), interrupted)
    assert list(tmp_path.iterdir()) == []
    _io.write_json(str(path), {"a": 1})
    with pytest.raises(TypeError):
        _io.write_json(str(path), {"a": object()})  # fails mid-way: the old file survives
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_interrupted_cli_run_exits_cleanly(tmp_path, monkeypatch):
    def stop(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(gmm, "fit", stop)
    out = tmp_path / "run"
    assert fit_gmm.main(["fit", "--out", str(out), "--quiet"]) == 130
    assert not (out / "metrics.json").exists()
