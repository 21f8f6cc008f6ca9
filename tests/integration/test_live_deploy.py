"""The live deploy path end to end, on an anvil of our own registered as the live network `local-live`
(its port and chain id from a deploy configuration file: config/deploy/local-live.yaml with this test's
port): refused without a key or on the wrong chain, interrupted part-way, resumed, re-run without sending
anything, rejected when the record does not match the chain, then traded on through perp_client. With a
timelock, a guardian and an InsuranceFund seed: the markets stay closed while the deployer cannot seed the
fund, the deploy resumes across an interrupted hand-over, and every contract ends up owned by the timelock.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from web3 import Web3

from perp_client import PerpClient, PerpError
from perp_ops.deploy_config import CONFIG_DIR
from perp_ops.networks import (
    LiveNetwork,
    network_config_path,
    register_networks,
    upsert,
)
from tests.integration.perp_clients import anvil_key

ROOT = Path(__file__).resolve().parents[2]
ANVIL = ROOT / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PORT = free_port()  # not local-live's usual 8645: a hand-started local-live (or another test run) may hold that
RPC = f"http://127.0.0.1:{PORT}"
BASE_CONFIG = yaml.safe_load((CONFIG_DIR / "local-live.yaml").read_text())
CHAIN_ID = BASE_CONFIG["network"]["chain_id"]
WRONG = LiveNetwork("local-live-wrong-chain", "local-live with a wrong chain id (test)", 1, host=RPC)


def port_busy(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def forget_brownie_artifacts() -> None:
    """brownie keeps live deployments in build/deployments/<chainId>: ours die with the anvil."""
    shutil.rmtree(ROOT / "build" / "deployments" / str(CHAIN_ID), ignore_errors=True)
    map_file = ROOT / "build" / "deployments" / "map.json"
    if map_file.is_file():
        data = json.loads(map_file.read_text())
        if data.pop(str(CHAIN_ID), None) is not None:
            map_file.write_text(json.dumps(data, indent=2))


def write_config(path: Path, **changes: object) -> Path:
    """config/deploy/local-live.yaml with this test's RPC and `changes` (top-level keys) applied."""
    config = {**BASE_CONFIG, **changes, "network": {"chain_id": CHAIN_ID, "rpc": RPC}}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def local_config(tmp_path_factory) -> Path:
    return write_config(tmp_path_factory.mktemp("config") / "local-live.yaml")


@pytest.fixture(scope="module")
def live_chain(local_config) -> Iterator[Web3]:
    if port_busy(PORT):
        pytest.skip(f"port {PORT} is busy: another anvil is running there")
    proc = subprocess.Popen(
        [str(ANVIL), "--port", str(PORT), "--chain-id", str(CHAIN_ID), "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        w3 = Web3(Web3.HTTPProvider(RPC))
        deadline = time.monotonic() + 15
        while not w3.is_connected():
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"anvil did not start on port {PORT}")
            time.sleep(0.1)
        register_networks(env={}, only=("local-live",), local_config=local_config)
        forget_brownie_artifacts()
        yield w3
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        forget_brownie_artifacts()


@pytest.fixture
def deploy(tmp_path, local_config):
    """Run `brownie run scripts/deploy.py --network NAME` in a subprocess; the record goes to tmp_path."""

    def _run(network: str = "local-live", **env: str) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if k != "DEPLOY_STOP_AFTER"}
        full_env.update({"DEPLOYMENTS_DIR": str(tmp_path), "PRIVATE_KEY": anvil_key(0), "DEPLOY_CONFIG": str(local_config), **env})
        brownie = Path(sys.executable).parent / "brownie"
        return subprocess.run(
            [str(brownie), "run", "scripts/deploy.py", "--network", network],
            cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=300, check=False,
        )

    return _run


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0 and "Traceback" not in result.stdout + result.stderr
    (line,) = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    return line


def test_deploy_interrupt_resume_rerun_and_trade(live_chain, deploy, tmp_path):
    w3 = live_chain
    record_file = tmp_path / f"{CHAIN_ID}.json"
    deployer = w3.eth.account.from_key(anvil_key(0)).address

    assert "PRIVATE_KEY is not set" in error_line(deploy(PRIVATE_KEY=""))
    assert not record_file.exists() and w3.eth.get_transaction_count(deployer) == 0

    interrupted = deploy(DEPLOY_STOP_AFTER="vault")
    assert interrupted.returncode == 3, interrupted.stdout + interrupted.stderr
    first = json.loads(record_file.read_text())
    assert [s["contract"] for s in first["steps"]] == ["MockERC20", "Vault"] and not first["complete"]
    assert w3.eth.get_transaction_count(deployer) == 2
    vault = first["steps"][1]
    assert vault["block"] == 2 and vault["args"] == [first["steps"][0]["address"], deployer] and vault["git_commit"]
    with pytest.raises(PerpError, match="unfinished deployment"):
        PerpClient.connect(RPC, record_file)

    resumed = deploy()
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "reuse   Vault" in resumed.stdout and "deployment complete and verified" in resumed.stdout
    done = json.loads(record_file.read_text())
    assert done["steps"][:2] == first["steps"] and done["complete"]
    roles = {"quote_token", "vault", "insurance_fund", "clearing_house", "price_feed", "amm_ETH", "amm_BTC", "aggregator_ETH"}
    assert roles <= set(done["contracts"])
    assert done["contracts"]["vault"]["address"] == vault["address"]
    nonce = w3.eth.get_transaction_count(deployer)
    assert nonce == len(done["steps"])

    text = record_file.read_text()
    rerun = deploy()
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "deploy  " not in rerun.stdout and "send    " not in rerun.stdout
    kinds = [s["kind"] for s in done["steps"]]
    assert rerun.stdout.count("reuse   ") == kinds.count("deploy") and rerun.stdout.count("done    ") == kinds.count("call")
    assert record_file.read_text() == text and w3.eth.get_transaction_count(deployer) == nonce

    trader = PerpClient.connect(RPC, record_file, anvil_key(1))
    trader.send(trader.token.functions.mint(trader.address, 5_000 * 10**6), "mint")
    trader.deposit(1_000)
    q = trader.quote_open("ETH", "long", 100, 5)
    (event,) = trader.open_position("ETH", "long", 100, 5).events
    assert event.position_size_after == q.size_after == trader.position("ETH").size
    trader.close_position("ETH")
    assert trader.position("ETH").size == 0

    tampered = json.loads(text)
    tampered["steps"][1]["address"] = "0x000000000000000000000000000000000000dEaD"
    record_file.write_text(json.dumps(tampered))
    line = error_line(deploy())
    assert "does not match chain 31338" in line and "deploy Vault at 0x000000000000000000000000000000000000dEaD: no code" in line
    assert w3.eth.get_transaction_count(deployer) == nonce


def test_wrong_chain_id_is_refused(live_chain, deploy, tmp_path):
    path = network_config_path()
    config = yaml.safe_load(path.read_text())
    upsert(config, WRONG, RPC)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        line = error_line(deploy(WRONG.id))
    finally:
        config = yaml.safe_load(path.read_text())
        for group in config.get("live", []):
            group["networks"] = [n for n in group.get("networks", []) if n.get("id") != WRONG.id]
        path.write_text(yaml.safe_dump(config, sort_keys=False))
    assert "wrong chain: network 'local-live-wrong-chain' is chain 1 but its RPC serves chain 31338" in line
    assert not any(tmp_path.iterdir())


MINT_ABI = [
    {"type": "function", "name": "mint", "stateMutability": "nonpayable", "outputs": [],
     "inputs": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}]},
]
VIEW_ABI = [
    {"type": "function", "name": name, "stateMutability": "view", "inputs": [], "outputs": [{"name": "", "type": kind}]}
    for name, kind in (("owner", "address"), ("open", "bool"), ("guardian", "address"), ("fundBalance", "uint256"),
                       ("getMinDelay", "uint256"))
]
SET_PARAMS_ABI = [
    {"type": "function", "name": "setParams", "stateMutability": "nonpayable", "outputs": [],
     "inputs": [{"name": n, "type": "uint256"} for n in ("a", "b", "c", "d")]},
]


def test_timelock_guardian_seed_and_an_interrupted_hand_over(live_chain, deploy, tmp_path, tmp_path_factory):
    w3 = live_chain
    guardian = w3.eth.account.from_key(anvil_key(2)).address
    config = write_config(
        tmp_path_factory.mktemp("governed") / "local-live.yaml",
        timelock={"delay": 120, "proposers": None, "executors": None},
        guardian=guardian,
        insurance_fund_seed=500,
    )
    key = anvil_key(3)
    deployer = w3.eth.account.from_key(key).address
    record_file = tmp_path / f"{CHAIN_ID}.json"

    def run(**env: str) -> subprocess.CompletedProcess[str]:
        return deploy(PRIVATE_KEY=key, DEPLOY_CONFIG=str(config), **env)

    # the deployer holds no token: the fund cannot be seeded, the markets stay closed
    unseeded = run()
    assert "error:" in unseeded.stderr, unseeded.stdout[-3000:] + unseeded.stderr
    line = error_line(unseeded)
    assert "the InsuranceFund seed is 500000000 token units but the deployer" in line and "holds 0" in line
    steps = json.loads(record_file.read_text())["steps"]
    assert not any((s.get("function") or "").startswith("setOpen") for s in steps)
    amms = [s["address"] for s in steps if s["contract"] == "Amm" and s["kind"] == "deploy"]
    assert len(amms) == 2 and not any(w3.eth.contract(a, abi=VIEW_ABI).functions.open().call() for a in amms)

    # the operator sends the deployer the seed; the deploy resumes and stops in the middle of the hand-over
    token = w3.eth.contract(steps[0]["address"], abi=MINT_ABI)
    token.functions.mint(deployer, 500 * 10**6).transact({"from": w3.eth.accounts[0]})
    interrupted = run(DEPLOY_STOP_AFTER="transferOwnership")
    assert interrupted.returncode == 3, interrupted.stdout + interrupted.stderr
    owners = {w3.eth.contract(s["address"], abi=VIEW_ABI).functions.owner().call()
              for s in json.loads(record_file.read_text())["steps"] if s["contract"] in ("Vault", "ClearingHouse") and s["kind"] == "deploy"}
    assert len(owners) == 2  # one handed over, one not yet

    resumed = run()
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "owner of every contract: timelock" in resumed.stdout
    done = json.loads(record_file.read_text())
    c = done["contracts"]
    timelock = c["timelock"]["address"]
    view = {role: w3.eth.contract(entry["address"], abi=VIEW_ABI).functions for role, entry in c.items()}
    for role in ("vault", "insurance_fund", "clearing_house", "price_feed", "amm_ETH", "amm_BTC"):
        assert view[role].owner().call() == timelock, role
    assert view["clearing_house"].guardian().call() == guardian
    assert view["timelock"].getMinDelay().call() == 120
    assert view["insurance_fund"].fundBalance().call() == 500 * 10**18
    assert view["amm_ETH"].open().call() and view["amm_BTC"].open().call()
    # the deployer's key has no power left
    ch = w3.eth.contract(c["clearing_house"]["address"], abi=SET_PARAMS_ABI)
    with pytest.raises(Exception, match="OwnableUnauthorizedAccount|0x118cdaa7"):
        ch.functions.setParams(10**17, 5 * 10**16, 10**16, 0).call({"from": deployer})

    # a re-run sends nothing and checks who owns what
    nonce = w3.eth.get_transaction_count(deployer)
    rerun = run()
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "send    " not in rerun.stdout and "owner of every contract: timelock" in rerun.stdout
    assert w3.eth.get_transaction_count(deployer) == nonce


def test_a_bad_deploy_config_sends_nothing(live_chain, deploy, tmp_path, tmp_path_factory):
    w3 = live_chain
    key = anvil_key(4)
    deployer = w3.eth.account.from_key(key).address
    folder = tmp_path_factory.mktemp("bad")
    for changes, cause in [
        ({"guardain": None}, "unknown key(s) in the file: guardain"),
        ({"timelock": {"delay": -5}}, "timelock.delay is -5: expected a whole number >= 0"),
        ({"insurance_fund_seed": -1}, "insurance_fund_seed is -1: expected a number >= 0"),
    ]:
        config = write_config(folder / "local-live.yaml", **changes)
        line = error_line(deploy(PRIVATE_KEY=key, DEPLOY_CONFIG=str(config)))
        assert cause in line and "nothing was sent" in line, line
    assert w3.eth.get_transaction_count(deployer) == 0 and not any(tmp_path.iterdir())
