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


@pytest.fixture(scope="session", autouse=True)
def perp_data_dir(tmp_path_factory):
    """Event indexes and keeper locks (perp_client's data directory) in a temporary folder, not ~/.perp."""
    import os

    folder = tmp_path_factory.mktemp("perp-data")
    previous = os.environ.get("PERP_DATA_DIR")
    os.environ["PERP_DATA_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("PERP_DATA_DIR", None)
    else:
        os.environ["PERP_DATA_DIR"] = previous


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    pass
