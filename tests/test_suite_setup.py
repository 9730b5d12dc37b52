"""The test suite's own set-up: what keeps ``make test`` inside its time budget."""

import os

import pytest


def test_the_xdist_groups_reach_the_scheduler(request):
    """``tests/conftest.py`` marks one xdist group per file (or per family); pytest-xdist
    shows a group it honours as an ``@group`` suffix of the test id. Without it the tests of
    one file are spread over the workers and each builds the file's programs again (with
    pytest 9.2, or a conftest hook that ran after xdist's, the marks were silently lost)."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None or not request.config.getvalue("loadgroup"):
        pytest.skip("not run by pytest-xdist with --dist loadgroup")
    assert "@" in request.node.nodeid, request.node.nodeid
