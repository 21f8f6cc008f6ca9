"""Shared fixtures: a fresh protocol per test (chain snapshot isolation), role-named accounts."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tests.fixtures.accounts", "tests.fixtures.protocol"]

ROOT = Path(__file__).resolve().parent.parent

# The slowest files (the toolkit's end-to-end runs: CLI, dashboard in a browser, simulation, keepers, live
# deploy, demo stories; the property machine, the model's hypothesis tests, v1's vectors on the chain), marked
# `slow` here, in one place: `make test` runs everything else (about 12 minutes on
# a 2-core machine), `make test-slow` runs these, and CI runs both (.ci/run). Every test is in exactly one of
# the two, whatever is added later.
SLOW_FILES = frozenset(
    {
        "tests/property/test_differential.py",
        "tests/vectors/test_chain_replay.py",
        "tests/model/test_model.py",
        "tests/integration/test_simulation.py",
        "tests/integration/test_controller.py",
        "tests/integration/test_live_deploy.py",
        "tests/integration/test_cli.py",
        "tests/integration/test_dashboard.py",
        "tests/integration/test_dashboard_api.py",
        "tests/integration/test_alice_bob.py",
        "tests/integration/test_operator.py",
        "tests/integration/test_demo.py",
        "tests/integration/test_keepers.py",
        "tests/integration/test_client.py",
        "tests/integration/test_console.py",
        "tests/integration/test_index.py",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix() in SLOW_FILES:
            item.add_marker(pytest.mark.slow)


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
