"""The benchmark scripts run end to end on tiny inputs (a smoke test: no timing is checked)."""

import json
import pathlib
import re
import shutil
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
        (
            "benchmarks.mvn_kl",
            [
                "--batch",
                "4",
                "--dim",
                "3",
                "--diag",
                "8x4",
                "--repeats",
                "2",
                "--markdown",
                "{tmp}",
            ],
            {"timings"},
        ),
        ("benchmarks.knn", ["--quick", "--dims", "1", "3"], {"machine", "results"}),
        (
            "benchmarks.sweep",
            ["--shapes", "6x3", "2x40", "--repeats", "2", "--allocator", "default"],
            {"machine", "results"},
        ),
    ],
)
def test_benchmark_runs_and_writes_json(module, args, keys, tmp_path):
    out, table = tmp_path / "result.json", tmp_path / "table.md"
    args = [str(table) if a == "{tmp}" else a for a in args]
    run = subprocess.run(
        [sys.executable, "-m", module, *args, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "median" in run.stdout or "MiB" in run.stdout
    assert keys <= set(json.loads(out.read_text()))
    if "--markdown" in args:  # the table names its commit and has a row per case
        text = table.read_text()
        assert re.search(r"commit [0-9a-f]{7,40}", text) and "| d = 3, 4 pairs | forward |" in text
        assert "| Normal from mean, log-std, [8, 4] | value and grad |" in text


def test_benchmark_rejects_bad_sizes():
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.logits_kl", "--rows", "0", "--allocator", "default"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 2 and "error:" in run.stderr and "Traceback" not in run.stderr


# What each published table measures: a table is out of date once one of these files changed
# after the commit the table names (git log), and `make bench` regenerates it.
TABLE_SOURCES = {
    "lm_cpu.md": ["jaxdiv/lm/_cross_entropy.py", "jaxdiv/lm/_chunking.py"],
    "mvn_cpu.md": [
        "jaxdiv/_linalg.py",
        "jaxdiv/_numerics.py",
        "jaxdiv/expfam/_mvn.py",
        "jaxdiv/expfam/_mvn_diag.py",
        "jaxdiv/expfam/_normal.py",
    ],
    "lm_cpu_bf16.md": ["jaxdiv/lm/_cross_entropy.py", "jaxdiv/lm/_chunking.py"],
    "sweep_cpu.md": ["jaxdiv/_logits.py", "jaxdiv/_fused.py", "jaxdiv/_row_blocks.py"],
    "sweep_h200.md": ["jaxdiv/_logits.py", "jaxdiv/_fused.py", "jaxdiv/_row_blocks.py"],
    "knn_cpu.md": ["jaxdiv/samples"],
    "knn_h200.md": ["jaxdiv/samples"],
    "samples_accuracy.md": ["jaxdiv/samples"],
}
# Every table also depends on its script and the shared timing helpers.
SCRIPTS = {
    "lm_cpu.md": "benchmarks/lm_cross_entropy.py",
    "mvn_cpu.md": "benchmarks/mvn_kl.py",
    "lm_cpu_bf16.md": "benchmarks/lm_cross_entropy.py",
    "sweep_cpu.md": "benchmarks/sweep.py",
    "sweep_h200.md": "benchmarks/sweep.py",
    "knn_cpu.md": "benchmarks/knn.py",
    "knn_h200.md": "benchmarks/knn.py",
    "samples_accuracy.md": "benchmarks/knn_accuracy.py",
}
# Tables known to be out of date, each to be regenerated (issue 24) and then removed from here;
# the H200 tables need a GPU, and samples_accuracy.md names no commit.
STALE = {"sweep_h200.md", "knn_cpu.md", "knn_h200.md", "samples_accuracy.md"}

ROOT = pathlib.Path(__file__).resolve().parents[1]
TABLES = ROOT / "benchmarks" / "tables"


def _git(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


def _changed_since(commit: str, paths: list[str]) -> list[str]:
    run = _git("log", "--format=%h %s", f"{commit}..HEAD", "--", *paths)
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()


@pytest.mark.parametrize("table", sorted(p.name for p in TABLES.glob("*.md")))
def test_a_published_table_was_measured_on_the_code_it_names(table):
    """Each table names the commit it was measured on, and none of the files it measures has
    changed since (read from git log); tables known to be out of date are listed in STALE and
    must really be out of date, so the list shrinks as they are regenerated."""
    assert table in TABLE_SOURCES and table in SCRIPTS, f"say what {table} measures"
    if shutil.which("git") is None or _git("rev-parse", "HEAD").returncode != 0:
        pytest.skip("no git history")
    text = (TABLES / table).read_text()
    found = re.search(r"commit ([0-9a-f]{7,40})(?! with uncommitted)", text)
    paths = [*TABLE_SOURCES[table], SCRIPTS[table], "benchmarks/_timing.py"]
    if table in STALE:
        stale = found is None or _changed_since(found.group(1), paths)
        assert stale, f"{table} is up to date: remove it from STALE"
        return
    assert found, f"{table} names no commit (or one with uncommitted changes)"
    commit = found.group(1)
    if _git("cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        pytest.skip(f"commit {commit} is not in this clone's history")
    changed = _changed_since(commit, paths)
    assert not changed, f"{table} measured {commit}; since then: {changed} (run make bench)"
