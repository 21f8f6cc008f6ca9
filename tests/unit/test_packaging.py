"""The installable toolkit: ABIs shipped in the package, the client working outside the repository, every brownie
entry point going through perp_ops.entry (anvil race patch, one-line errors), scripts imported from any path."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from brownie.exceptions import ContractNotFound
from web3.eth import Eth

from perp_client import PerpError
from perp_ops import abis, anvil_race, entry

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p.stem for p in (ROOT / "scripts").glob("*.py") if p.stem != "__init__")


def test_packaged_abis_match_the_build():
    problems = abis.stale(ROOT / "build")
    assert not problems, f"perp_client/abis is stale: run `make abis` and commit perp_client/abis/ ({'; '.join(problems)})"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The distribution built as a wheel and installed into a folder of its own (not the checkout)."""
    tmp = tmp_path_factory.mktemp("wheel")
    # a copy of the sources: setuptools builds in the source tree, and build/ is brownie's
    skip = shutil.ignore_patterns(".git", ".venv*", "node_modules", "build", "reports", "tests", "contracts", "dashboard",
                                  "*.egg-info", "__pycache__", ".hypothesis", ".pytest_cache", ".ruff_cache", ".solcx")
    shutil.copytree(ROOT, tmp / "src", ignore=skip)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(tmp / "src")], check=True)
    (wheel,) = (tmp / "dist").glob("perp_vamm-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(tmp / "site"), str(wheel)], check=True)
    return tmp / "site"


def test_the_client_works_installed_outside_the_repository(installed, tmp_path):
    code = (
        "import json, perp_client, perp_client.abi as a, perp_client.deployment as d\n"
        "dec = a.ErrorDecoder()\n"
        "print(json.dumps({'file': perp_client.__file__, 'abis': str(a.abi_dir()), 'n': len(a.load_abi('ClearingHouse')),\n"
        "  'deployments': str(d.deployments_dir()),\n"
        "  'err': dec.decode('0x' + __import__('eth_utils').keccak(text='NoPosition()')[:4].hex())}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True).stdout
    info = json.loads(out)
    assert info["file"].startswith(str(installed)) and info["abis"] == str(installed / "perp_client" / "abis")
    assert info["n"] > 10 and info["err"] == "NoPosition()"
    assert info["deployments"] == str(tmp_path / "deployments")  # a directory outside any project: its own deployments/
    assert (installed / "perp_client" / "deployments" / "README.md").is_file()
    assert (installed / "perp_dashboard" / "static" / "index.html").is_file()


# ------------------------------------------------------------------------------------------- brownie entries


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_brownie_entry_goes_through_perp_ops_entry(name, monkeypatch):
    """`make deploy` failed 3 runs in 8 with 'Tx dropped without known replacement': scripts/deploy.py did not install
    the anvil race patch. Every scripts/*.py `main` now runs its work through brownie_entry, which installs it."""
    module = importlib.import_module(f"scripts.{name}")
    if not hasattr(module, "main"):
        pytest.skip(f"scripts/{name}.py is imported, not run (console helper)")
    calls = []

    class Called(Exception):
        pass

    def recorder(fn, *args, **kwargs):
        calls.append(fn)
        raise Called

    monkeypatch.setattr(module, "brownie_entry", recorder, raising=False)
    with pytest.raises(Called):
        module.main()
    assert calls and calls[0].__module__.startswith("perp_ops.")


def test_the_console_helper_installs_the_patch():
    anvil_race.uninstall()
    try:
        importlib.reload(importlib.import_module("scripts.perp"))
        assert Eth.get_transaction_receipt.__qualname__.endswith("lookup")
    finally:
        anvil_race.install()


def test_brownie_entry_installs_the_anvil_race_patch():
    anvil_race.uninstall()
    try:
        assert not Eth.get_transaction_receipt.__qualname__.endswith("lookup")
        assert entry.brownie_entry(lambda x: x + 1, 1) == 2
        assert Eth.get_transaction_receipt.__qualname__.endswith("lookup")
    finally:
        anvil_race.install()


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (requests.exceptions.ConnectionError("HTTPConnectionPool(host='127.0.0.1', port=1): [Errno 111] Connection refused"),
         "cannot reach the node of network 'development' at http://127.0.0.1:8615 (connection refused)"),
        (ContractNotFound("No contract deployed at 0x5FbDB2315678afecb367f032d93F642f64180aa3"),
         "No contract deployed at 0x5FbDB2315678afecb367f032d93F642f64180aa3 on network 'development'"),
        (PerpError("unknown market 'DOGE'"), "unknown market 'DOGE'"),
    ],
)
def test_fixable_errors_are_one_line(error, expected, monkeypatch):
    monkeypatch.setattr(entry, "_network", lambda: ("development", "http://127.0.0.1:8615", 31337))

    def fail():
        raise error

    with pytest.raises(SystemExit) as exc:
        entry.brownie_entry(fail)
    message = str(exc.value.code)
    assert message.startswith(f"error: {expected}") and "\n" not in message
    if isinstance(error, ContractNotFound):
        assert "restarted" in message and "make deploy" in message


def test_a_bug_keeps_its_traceback():
    def bug():
        raise KeyError("x")

    with pytest.raises(KeyError):
        entry.brownie_entry(bug)


def test_scripts_deploy_has_specs_entry_point():
    """SPEC §7: `from scripts.deploy import deploy_protocol`, called as deploy_protocol(config, deployer)."""
    import inspect

    from scripts import deploy as entry

    params = list(inspect.signature(entry.deploy_protocol).parameters)
    assert params[:2] == ["config", "deployer"]
    assert inspect.getmodule(entry.deploy_protocol) is entry  # defined there, not only re-exported

