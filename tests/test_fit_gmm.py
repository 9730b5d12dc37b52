"""The fitting experiments: optax fits against exact optima, and the command line's contract."""

import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("scipy")

from experiments import _io, fit_gmm, gmm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 600


def _single_fit(divergence, separation, init, **kw):
    if divergence != "forward":  # the centred optimum at d = 6 is flat: 4096 draws hold it to 1%
        kw.setdefault("num_samples", 4096)
    config = gmm.FitConfig(
        separation=separation, divergence=divergence, steps=STEPS, restarts=1, **kw
    )
    target = gmm.separated_1d(separation)
    model = gmm.fit(config, target, [gmm.single_gaussian([init[0]], [init[1]])]).best().model
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
    assert 4.5 < crit.local < 5.0 < crit.best < 6.0
    opt = gmm.reverse_kl_optima(5.0)
    np.testing.assert_allclose(opt.from_a_mode[:2], [2.3861, 1.1365], atol=2e-3)
    assert opt.centred.divergence < opt.from_a_mode.divergence  # at d = 5 centred is still best
    assert opt.curvature_in_mean_at_centre > 0


def test_same_seed_same_numbers():
    config = gmm.FitConfig(target="three-1d", components=2, steps=50, restarts=2, num_samples=64)
    a, b = gmm.fit(config), gmm.fit(config)
    assert a.losses.shape == (2, 50)
    np.testing.assert_array_equal(a.losses, b.losses)
    c = gmm.fit(dataclasses.replace(config, seed=1))
    assert not np.array_equal(a.losses, c.losses)


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


# Runs `python -m experiments.fit_gmm` on each of several command lines in one process, as the
# interpreter would: its exit status (SystemExit's code; 1 and a traceback for an uncaught
# exception), and everything written to file descriptor 2 captured into a file of its own, in
# the working directory given. The command lines that fail before any fitting share this one
# process (one start of Python, jax and matplotlib instead of one per command line).
_MANY_COMMAND_LINES = textwrap.dedent(
    """
    import json, os, runpy, sys, traceback

    cases_path, statuses_path = sys.argv[1:]
    statuses = []
    for argv, cwd, stderr_path in json.load(open(cases_path)):
        os.chdir(cwd)
        sys.stderr.flush()
        saved = os.dup(2)
        with open(stderr_path, "w") as stderr:
            os.dup2(stderr.fileno(), 2)
        sys.argv = ["fit_gmm", *argv]
        try:
            runpy.run_module("experiments.fit_gmm", run_name="__main__", alter_sys=True)
            status = 0
        except SystemExit as e:
            status = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
            if isinstance(e.code, str):
                print(e.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
            status = 1
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        statuses.append(status)
    json.dump(statuses, open(statuses_path, "w"))
    """
)


def _cli_runs(command_lines, tmp_path):
    """`(returncode, stderr)` of each `(args, cwd)` in `command_lines`, from one process."""
    cases = [
        (list(args), str(cwd), str(tmp_path / f"stderr-{i}.txt"))
        for i, (args, cwd) in enumerate(command_lines)
    ]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    env = {**os.environ, "PYTHONPATH": ROOT}
    files = [str(tmp_path / "cases.json"), str(tmp_path / "statuses.json")]
    script = [sys.executable, "-c", _MANY_COMMAND_LINES, *files]
    run = subprocess.run(script, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    statuses = json.loads((tmp_path / "statuses.json").read_text())
    stderrs = [pathlib.Path(path).read_text() for _, _, path in cases]
    return list(zip(statuses, stderrs, strict=True))


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


BAD_CONFIGURATIONS = [
    (["fit", "--divergence", "hellinger"], "unknown divergence"),
    (["fit", "--divergence", "renyi", "--alpha", "0"], "alpha must be"),
    (["fit", "--divergence", "renyi", "--alpha", "nan"], "alpha must be"),
    (["fit", "--divergence", "alpha", "--alpha", "-1"], "alpha must be"),
    (["fit", "--learning-rate", "-0.1"], "learning rate must be"),
    (["fit", "--components", "0"], "components must be >= 1"),
    (["fit", "--optimizer", "newton"], "unknown optimizer"),
    (["fit", "--target", "moon"], "invalid choice"),
    (["fit", "--steps", "many"], "invalid int value"),
    (["fit", "--out", "/proc/version/run"], "cannot write to output folder"),
    (["demo", "--out", "/proc/version/run"], "cannot write to output folder"),
    # Options that do not apply to the configuration were silently accepted.
    (["fit", "--divergence", "forward", "--alpha", "-1"], "--alpha applies only to"),
    (["fit", "--alpha", "2"], "--alpha applies only to --divergence renyi"),
    (["fit", "--target", "ring", "--separation", "2"], "--separation applies only to"),
    (["fit", "--divergence", "reverse", "--num-data", "10"], "--num-data applies only to"),
    (["fit", "--divergence", "forward", "--num-samples", "8"], "--num-samples applies only"),
    (["fit", "--seed", "-1"], "seed must be an integer in [0, 2**63)"),
    (["fit", "--seed", str(2**64)], "seed must be an integer in [0, 2**63)"),
    # Sizes that cannot fit in memory: refused before any work (was a 24-line traceback).
    (["fit", "--components", "100000"], "needs about"),
    (["fit", "--steps", str(10**13)], "the loss curves"),
    (["demo", "--seed", str(2**64)], "seed must be an integer in [0, 2**63)"),
    (["demo", "--steps", "0"], "steps must be >= 1"),
    (["demo", "--steps", str(10**13)], "the loss curves"),
]


@pytest.fixture(scope="module")
def bad_configuration_runs(tmp_path_factory):
    """`(returncode, stderr, cwd)` of every command line in BAD_CONFIGURATIONS, each run in an
    empty working directory of its own, all in one process."""
    root = tmp_path_factory.mktemp("bad_configurations")
    cwds = [root / f"case-{i}" for i in range(len(BAD_CONFIGURATIONS))]
    for cwd in cwds:
        cwd.mkdir()
    command_lines = [args for args, _ in BAD_CONFIGURATIONS]
    runs = _cli_runs(list(zip(command_lines, cwds, strict=True)), root)
    runs = zip(command_lines, runs, cwds, strict=True)
    by_args = {tuple(args): (*run, cwd) for args, run, cwd in runs}
    assert len(by_args) == len(command_lines)  # one entry per command line
    return by_args


@pytest.mark.parametrize(("args", "message"), BAD_CONFIGURATIONS)
def test_cli_bad_configuration(args, message, bad_configuration_runs):
    returncode, stderr, cwd = bad_configuration_runs[tuple(args)]
    assert returncode == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], stderr
    assert "Traceback" not in stderr
    assert not list(cwd.rglob("metrics.json"))


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


def test_cli_without_a_command_prints_the_usage(tmp_path):
    """No subcommand started the two-minute demo; it prints the usage and exits with 2."""
    proc = _cli(cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "usage: python -m experiments.fit_gmm" in proc.stderr and "{fit,demo}" in proc.stderr
    assert "Traceback" not in proc.stderr and not list(tmp_path.iterdir())


def _strict_load(path):
    """json.load that rejects NaN and Infinity, as strict parsers do."""

    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_cli_diverged_fit_exits_1_with_strict_metrics(tmp_path):
    """--learning-rate 1e6 exited 0, printed NaN divergences and wrote NaN into metrics.json.
    Now: one line on stderr, exit status 1, strict JSON saying why, no figure."""
    out = tmp_path / "run"
    args = ["fit", "--learning-rate", "1e6", "--steps", "30", "--restarts", "2"]
    proc = _cli(*args, "--num-samples", "64", "--out", str(out), "--quiet", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "the fit diverged" in lines[0] and "--learning-rate" in lines[0]
    assert "Traceback" not in proc.stderr
    metrics = _strict_load(out / "metrics.json")
    assert metrics["status"] == "diverged" and metrics["diverged_restarts"] == [0, 1]
    assert None in metrics["loss_curves"][0]
    assert "loss_curves" in metrics[_io.NON_FINITE_KEY]
    assert not (out / "fit.png").exists()
    assert [p.name for p in out.iterdir()] == ["metrics.json"]  # no temporary file left


@pytest.mark.parametrize(
    "error",
    [
        MemoryError(),
        "RESOURCE_EXHAUSTED: Out of memory allocating 1638427878400736 bytes.",
        OSError(28, "No space left on device"),
    ],
    ids=["MemoryError", "XLA", "disk-full"],
)
def test_cli_reports_resources_running_out_in_one_line(error, tmp_path, monkeypatch, capsys):
    """Out of memory at run time (XLA's RESOURCE_EXHAUSTED) printed a 24-line traceback."""
    import jax

    if isinstance(error, str):
        error = jax.errors.JaxRuntimeError(error)

    def fail(*a, **k):
        raise error

    monkeypatch.setattr(gmm, "fit", fail)
    out = tmp_path / "run"
    assert fit_gmm.main(["fit", "--out", str(out), "--quiet"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fit_gmm: error: "), lines
    assert ("out of memory" in lines[0]) != isinstance(error, OSError)
    assert not (out / "metrics.json").exists()


def test_cli_does_not_hide_bugs(tmp_path, monkeypatch):
    """Only user mistakes and resources running out are one-liners: a bug still raises."""

    def bug(*a, **k):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(gmm, "fit", bug)
    with pytest.raises(ZeroDivisionError):
        fit_gmm.main(["fit", "--out", str(tmp_path / "run"), "--quiet"])


def test_strict_json_writes_non_finite_numbers_as_null_and_says_why(tmp_path):
    payload = {
        "kl": float("nan"),
        "nested": {"values": [1.0, float("inf"), np.float32(2.0)]},
        "curves": np.array([[np.nan, 1.0, -np.inf], [np.nan, np.nan, 0.5]]),
        "count": np.int64(3),
    }
    path = tmp_path / "metrics.json"
    _io.write_json(str(path), payload)
    got = _strict_load(path)
    assert got["kl"] is None and got["nested"]["values"] == [1.0, None, 2.0]
    assert got["curves"] == [[None, 1.0, None], [None, None, 0.5]] and got["count"] == 3
    notes = got[_io.NON_FINITE_KEY]
    assert notes["kl"] == "was NaN (written as null)"
    assert notes["nested.values[1]"] == "was +inf (written as null)"
    assert (
        notes["curves"].startswith("4 values were -inf or NaN")
        and "curves[0][0]" in notes["curves"]
    )
    assert set(notes) == {"kl", "nested.values[1]", "curves"}


def test_every_divergence_of_the_command_line_runs_through_jaxdiv_fit():
    config = gmm.FitConfig(divergence="alpha", alpha=0.5, steps=20, restarts=2, num_samples=64)
    result = gmm.fit(config)
    assert result.divergence == "alpha" and result.losses.shape == (2, 20)
    assert np.all(np.isfinite(result.losses)) and np.all(np.asarray(result.reverse_kl) > 0)
