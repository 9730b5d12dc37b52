"""The benchmark scripts run end to end on tiny inputs (a smoke test: no timing is checked)."""

import json
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module, args, keys",
    [
        (
            "benchmarks.logits_kl",
            ["--rows", "4", "--vocab", "64", "--repeats", "2", "--allocator", "default"],
            {"machine", "shape", "timings"},
        ),
        (
            "benchmarks.distill_memory",
            ["--tokens", "8", "--vocab", "32", "--hidden", "4", "--chunk-size", "4"],
            {"machine", "temp_bytes", "seconds"},
        ),
        (
            "benchmarks.lm_cross_entropy",
            ["--shapes", "8x32", "--hidden", "4", "--repeats", "2"],
            {"machine", "commit", "results"},
        ),
        ("benchmarks.mvn_kl", ["--batch", "4", "--dim", "3", "--repeats", "2"], {"timings"}),
        ("benchmarks.knn", ["--quick", "--dims", "1", "3"], {"machine", "results"}),
        (
            "benchmarks.sweep",
            ["--shapes", "6x3", "2x40", "--repeats", "2", "--allocator", "default"],
            {"machine", "results"},
        ),
    ],
)
def test_benchmark_runs_and_writes_json(module, args, keys, tmp_path):
    out = tmp_path / "result.json"
    run = subprocess.run(
        [sys.executable, "-m", module, *args, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "median" in run.stdout or "MiB" in run.stdout
    assert keys <= set(json.loads(out.read_text()))


def test_benchmark_rejects_bad_sizes():
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.logits_kl", "--rows", "0", "--allocator", "default"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 2 and "error:" in run.stderr and "Traceback" not in run.stderr
