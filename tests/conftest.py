"""Shared fixtures: a fresh protocol per test (chain snapshot isolation), role-named accounts."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.fixtures.accounts", "tests.fixtures.protocol"]


@pytest.fixture(scope="session", autouse=True)
def receipt_retry():
    """Retry receipt lookups briefly: anvil can report a mined tx's nonce before its receipt."""
    from perp_ops import anvil_race

    anvil_race.install()
    yield
    anvil_race.uninstall()


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    pass
