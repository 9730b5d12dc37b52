"""The test suite's own set-up: what keeps ``make test`` inside its time budget."""

import os

import pytest
from conftest import xdist_group_name


def test_the_xdist_groups_reach_the_scheduler(request):
    """``tests/conftest.py`` marks one xdist group per file (or per family); pytest-xdist
    shows a group it honours as an ``@group`` suffix of the test id. Without it the tests of
    one file are spread over the workers and each builds the file's programs again (with
    pytest 9.2, or a conftest hook that ran after xdist's, the marks were silently lost)."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None or not request.config.getvalue("loadgroup"):
        pytest.skip("not run by pytest-xdist with --dist loadgroup")
    assert "@" in request.node.nodeid, request.node.nodeid


@pytest.mark.parametrize(
    "name",
    ["tests/test_notebooks.py:03_forward_vs_reverse_kl", "tests/a.py:Chi", "t.py:[x]@y"],
)
def test_the_scheduler_takes_each_group_whole(name):
    """pytest-xdist's scheduler reads a test's group as the text after its last ``@``, and
    only where no ``]`` follows (a group named ``file.py['Chi']`` made every test its own
    group, so a family's programs were compiled on both workers)."""
    loadgroup = pytest.importorskip("xdist.scheduler.loadgroup")
    group = xdist_group_name(name)
    nodeid = f"tests/a.py::test_x[Chi-bfloat16]@{group}"
    scheduler = loadgroup.LoadGroupScheduling.__new__(loadgroup.LoadGroupScheduling)
    assert scheduler._split_scope(nodeid) == group
