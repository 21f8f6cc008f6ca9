"""The Makefile's way of running scripts (perp_ops.brownie_run), as a subprocess from a project whose path holds a
dot: brownie's own `run` fails there with `ModuleNotFoundError: No module named 'home.jane'`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from brownie import web3

from perp_ops.networks import network_config_path

ROOT = Path(__file__).resolve().parents[2]
PROBE = '''from brownie import Vault, web3


def main(word):
    print(f"probe {word} {__name__} chain {web3.eth.chain_id} {Vault._name}")
'''


def test_a_script_runs_from_a_path_with_a_dot(tmp_path):
    project = tmp_path / "jane.doe" / "perp"
    project.mkdir(parents=True)
    shutil.copy(ROOT / "brownie-config.yaml", project)
    for folder in ("contracts", "interfaces"):
        shutil.copytree(ROOT / folder, project / folder)
    for folder in ("contracts", "interfaces"):  # the compiled project: nothing to compile again
        shutil.copytree(ROOT / "build" / folder, project / "build" / folder)
    (project / "node_modules").symlink_to(ROOT / "node_modules")
    (project / "scripts").mkdir()
    (project / "scripts" / "__init__.py").write_text("")
    (project / "scripts" / "probe.py").write_text(PROBE)
    config_file = network_config_path()
    saved = config_file.read_text()
    config = yaml.safe_load(saved)
    config.setdefault("live", []).append({"name": "Test", "networks": [
        {"id": "perp-test-attach", "name": "the test chain", "chainid": web3.eth.chain_id, "host": web3.provider.endpoint_uri}]})
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        done = subprocess.run([sys.executable, "-m", "perp_ops.brownie_run", "scripts/probe.py", "main", "hello",
                               "--network", "perp-test-attach"], cwd=project, capture_output=True, text=True, timeout=300,
                              check=False)
    finally:
        config_file.write_text(saved)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"probe hello scripts.probe chain {web3.eth.chain_id} Vault" in done.stdout
