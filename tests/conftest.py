"""Shared fixtures: a fresh protocol per test (chain snapshot isolation), role-named accounts."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.fixtures.accounts", "tests.fixtures.protocol"]


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    pass
