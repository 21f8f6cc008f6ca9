"""`perp`, the command line, run as a user runs it against the test chain (one DEMO deployment for the module; every
test starts from it, the chain snapshot reverted after each). Human units in and out, the same argument order
everywhere, `--json` on the reads, keys from the environment or a keystore, and every bad input one `error:` line on
stderr with a non-zero exit status and nothing sent.

`perp_cli` runs the installed `perp` script in a subprocess, from a directory outside the repository; `perp` calls
the same entry point (`perp_ops.cli:main`) in this process, with its own environment and output, to keep the long
table of refusals fast."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from brownie import chain, web3
from eth_account import Account
from web3.exceptions import ContractLogicError

from perp_client import PerpClient
from perp_client.tx import revert_reason
from perp_client.units import WAD
from perp_ops.cli import main as cli_main
from perp_ops.console import record_dev_deployment
from perp_ops.deploy import DEMO_CONFIG, Deployment, deploy_protocol
from perp_ops.networks import network_config_path
from tests.helpers import BUY, SELL
from tests.integration.perp_clients import anvil_key

PERP = Path(sys.executable).parent / "perp"
TOKEN = 10**6  # DEMO_CONFIG's collateral: 6 decimals


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def error(self) -> str:
        """The one error line (and nothing else on stderr)."""
        lines = self.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), self.err
        return lines[0]

    def json(self) -> Any:
        assert self.code == 0, self.err
        return json.loads(self.out)


@pytest.fixture(scope="module")
def demo(owner, tmp_path_factory) -> tuple[Deployment, Path]:
    """DEMO_CONFIG (ETH and BTC, a 6-decimal token, 1.2 % fluctuation limit) and its record in a folder of its own."""
    folder = tmp_path_factory.mktemp("deployments")
    d = deploy_protocol(DEMO_CONFIG, deployer=owner)
    saved = os.environ.get("DEPLOYMENTS_DIR")
    os.environ["DEPLOYMENTS_DIR"] = str(folder)
    try:
        path = record_dev_deployment(d)
    finally:
        if saved is None:
            del os.environ["DEPLOYMENTS_DIR"]
        else:
            os.environ["DEPLOYMENTS_DIR"] = saved
    return d, path


def _environ(path: Path, key: int | str | None, env: dict[str, str] | None) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PRIVATE_KEY", "PERP_"))}
    environ.update(RPC_URL=web3.provider.endpoint_uri, PERP_DEPLOYMENT=str(path), DEPLOYMENTS_DIR=str(path.parent))
    if key is not None:
        environ["PRIVATE_KEY"] = anvil_key(key) if isinstance(key, int) else key
    environ.update(env or {})
    return environ


@pytest.fixture
def perp_cli(demo, tmp_path):
    """Run the installed `perp ARGS` as account `key` (an index of anvil's accounts, a raw key, or None: no key)."""
    _, path = demo

    def run(*args: str, key: int | str | None = None, env: dict[str, str] | None = None) -> Run:
        done = subprocess.run([str(PERP), *args], check=False, cwd=tmp_path, env=_environ(path, key, env),
                              capture_output=True, text=True, timeout=180)
        return Run(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def perp(demo, tmp_path, monkeypatch):
    """`perp ARGS` through the console script's entry point, in this process (same arguments as `perp_cli`)."""
    _, path = demo

    def run(*args: str, key: int | str | None = None, env: dict[str, str] | None = None) -> Run:
        out, err = io.StringIO(), io.StringIO()
        environ = _environ(path, key, env)
        with monkeypatch.context() as m:
            for name in list(os.environ):
                m.delenv(name)
            for name, value in environ.items():
                m.setenv(name, value)
            m.chdir(tmp_path)
            with redirect_stdout(out), redirect_stderr(err):
                code = cli_main(list(args))
        return Run(code, out.getvalue(), err.getvalue())

    return run


def fund(d: Deployment, trader: Any, amount: int) -> None:
    """`amount` tokens into `trader`'s vault balance (in-process: faster than the command line)."""
    d.quote_token.mint(trader, amount * TOKEN, {"from": trader})
    d.quote_token.approve(d.vault, amount * TOKEN, {"from": trader})
    d.vault.deposit(amount * TOKEN, {"from": trader})


def dec(x: str | None) -> Decimal:
    assert x is not None
    return Decimal(x)


# --------------------------------------------------------------------------------------------- a session


def test_a_traders_session(perp, perp_cli, demo, alice):
    d, _ = demo
    minted = perp("mint", "5000", key=1)
    assert minted.code == 0 and "wallet 5,000.00" in minted.out and d.quote_token.balanceOf(alice) == 5_000 * TOKEN
    run = perp_cli("deposit", "2000", key=1)
    assert run.code == 0 and run.out.startswith("deposit: amount 2000, vault balance 2,000.00 (tx 0x"), run.err

    quoted = perp("quote", "ETH", "long", "100", "5", "--json", key=1).json()
    assert quoted["market"] == "ETH" and dec(quoted["notional"]) == 500 and dec(quoted["fee"]) == Decimal("0.5")
    opened = perp_cli("open", "eth", "long", "100", "5", "--json", key=1).json()
    assert opened["size_change"] == quoted["base"] and opened["mark"] == quoted["mark_after"]  # the quote, to the wei

    table = perp_cli("account", key=1)
    assert table.code == 0
    for heading in ("market", "side", "size", "entry", "mark", "index", "margin", "margin ratio", "liq. price", "unrealized PnL",
                    "funding owed", "free collateral"):
        assert heading in table.out
    assert "ETH" in table.out and "long" in table.out and "1,899.50" in table.out  # the vault balance after margin and fee

    assert perp("margin", "add", "ETH", "20", key=1).code == 0
    removed = perp("margin", "remove", "ETH", "--max", "--json", key=1).json()
    account = perp("account", alice.address, "--json").json()  # read-only: no key, an address
    (position,) = account["positions"]
    assert position["market"] == "ETH" and position["side"] == "long" and dec(position["size"]) == dec(quoted["base"])
    assert dec(position["margin"]) == 120 - dec(removed["amount"]) and dec(position["free_collateral"]) < Decimal("0.01")
    for key in ("entry_price", "mark", "index", "margin_ratio", "liquidation_price", "unrealized_pnl", "funding_owed"):
        assert position[key] is not None, key
    assert dec(account["vault_balance"]) == 2000 - 100 - Decimal("0.5") - 20 + dec(removed["amount"])

    half = dec(position["size"]) / 2
    half_text = f"{half.quantize(Decimal('1e-18'))}"
    partial = perp("close", "ETH", half_text, "--json", key=1).json()
    assert abs(dec(partial["size_change"]) + dec(half_text)) < Decimal("1e-15") and dec(partial["size_after"]) > 0  # reduce-only
    closed = perp_cli("close", "ETH", key=1)
    assert closed.code == 0 and "size now 0.000000" in closed.out
    history = perp("history", "--json", key=1).json()
    kinds = [e["kind"] for e in history["entries"]]
    assert kinds == ["deposit", "open", "add margin", "remove margin", "reduce", "close"], kinds
    assert all(e["realized_pnl"] is not None for e in history["entries"] if e["kind"] in ("reduce", "close"))
    assert perp("withdraw", "100", key=1).code == 0
    markets = perp("markets", "--json").json()
    assert [m["symbol"] for m in markets] == ["ETH", "BTC"] and dec(markets[1]["index"]) == 60_000
    shown = perp_cli("markets")
    assert shown.code == 0 and all(h in shown.out for h in ("mark", "index", "premium", "TWAP 15m", "funding", "open interest"))
    assert "3,000.0000" in shown.out and "60,000.0000" in shown.out


def test_trades_in_consecutive_blocks_are_not_refused(perp_cli, demo, alice, bob):
    """The client simulated at 'latest', inside the block of the previous trade, where the fluctuation limit (1.2 %)
    is measured from that block's opening price: a trade in the next block was refused with FluctuationLimitExceeded.
    It simulates on the pending block now."""
    d, _ = demo
    fund(d, alice, 20_000)
    fund(d, bob, 20_000)
    d.clearing_house.openPosition(d.amm, BUY, 15_000 * WAD, 10 * WAD, 0, {"from": alice})  # +1.0 % in its block
    client = PerpClient.connect(web3.provider.endpoint_uri, demo[1], anvil_key(2))
    fn = client.clearing_house.functions.openPosition(d.amm.address, BUY, 15_000 * WAD, 10 * WAD, 0)
    assert "FluctuationLimitExceeded" in (refusal_at_latest(client, fn, bob.address) or "")  # the old simulation's answer
    run = perp_cli("open", "ETH", "long", "15000", "10", key=2)
    assert run.code == 0, run.err
    assert d.clearing_house.getPosition(d.amm, bob)[0] > 0


def refusal_at_latest(client: PerpClient, fn: Any, sender: str) -> str | None:
    try:
        fn.call({"from": sender}, block_identifier="latest")
    except ContractLogicError as exc:
        return revert_reason(exc, client.decoder)
    return None


# ------------------------------------------------------------------------------------------- bad input


def test_bad_input_is_one_line_and_sends_nothing(perp, perp_cli, demo, alice, tmp_path):
    d, path = demo
    fund(d, alice, 100)
    d.clearing_house.openPosition(d.amm, BUY, 10 * WAD, 5 * WAD, 0, {"from": alice})
    nonce = web3.eth.get_transaction_count(alice.address)
    block = web3.eth.block_number
    elsewhere = tmp_path / "31337.json"
    record = json.loads(path.read_text())
    record["contracts"]["clearing_house"]["address"] = "0x000000000000000000000000000000000000dEaD"
    elsewhere.write_text(json.dumps(record))
    cases = [
        (("open", "DOGE", "long", "1", "1"), 1, "unknown market 'DOGE' (markets: ETH, BTC)"),
        (("open", "ETH", "up", "1", "2"), 2, "Invalid value for 'SIDE': 'up' is not one of 'long', 'short'"),
        (("open", "ETH", "long", "1"), 2, "Missing argument 'LEVERAGE'"),
        (("open", "ETH", "long", "1.1234567", "2"), 1, "margin: 1.1234567 has more than 6 decimals (the collateral token has 6)"),
        (("open", "ETH", "long", "abc", "2"), 1, "margin: not a number: 'abc'"),
        (("open", "ETH", "long", "-5", "2"), 2, "No such option '-5'"),
        (("open", "ETH", "long", "1", "20"), 1, "leverage 20 is too high: the maximum is 10.00x"),
        (("open", "ETH", "long", "500", "2"), 1, "insufficient vault balance"),
        (("open", "ETH", "long", "1", "2", "--slippage", "60%"), 1, "slippage must be between 0 and 50 %"),
        (("open", "ETH", "long", "1", "2", "--private-key", anvil_key(1)), 2, "No such option '--private-key'"),
        (("close", "BTC"), 1, "close BTC: no position"),
        (("close", "ETH", "7"), 1, "is not less than the position's size"),
        (("margin", "remove", "ETH", "9"), 1, "remove margin ETH: 9 asked, at most"),
        (("margin", "remove", "ETH"), 1, "give an AMOUNT or --max, not neither"),
        (("margin", "add", "ETH", "1000"), 1, "insufficient vault balance"),
        (("settle", "ETH"), 1, "settle ETH: the market is not halted: close the position instead"),
        (("withdraw", "1000"), 1, "withdraw: insufficient vault balance: 1000 asked"),
        (("history", "--limit", "0"), 2, "Invalid value for '--limit'"),
        (("account", "0x1234"), 1, "not an address: '0x1234'"),
        (("markets", "--rpc", "http://127.0.0.1:9"), 1, "cannot reach an Ethereum node at http://127.0.0.1:9"),
        (("markets", "--deployment", str(tmp_path / "none.json")), 1, "no deployment file at"),
        (("account", "--deployment", str(elsewhere)), 1, "is not on this chain (chain 31337 has no contract at its ClearingHouse"),
    ]
    errors = {}
    for args, status, message in cases:
        run = perp(*args, key=1)
        assert run.code == status, (args, run.out, run.err)
        assert message in run.error, (args, run.error)
        assert "Traceback" not in run.err and run.out == "", (args, run.out)
        errors[args] = run.error
    restart = errors[("account", "--deployment", str(elsewhere))]
    assert "restarted or reset" in restart and "perp deploy" in restart
    for args in (("account", "--deployment", str(elsewhere)), ("open", "ETH", "up", "1", "2"), ("markets", "--rpc", "http://127.0.0.1:9")):
        as_user = perp_cli(*args, key=1)  # the installed script: the same line, no traceback
        assert as_user.code in (1, 2) and as_user.error == errors[args] and as_user.out == ""
    removable = errors[("margin", "remove", "ETH", "9")]
    most = removable.split("at most ")[1].split(" ")[0]
    assert 0 < Decimal(most) < 5 and "--max" in removable
    # keys: none, malformed, a keystore with the wrong password
    assert "no key to sign with: set PRIVATE_KEY" in perp("open", "ETH", "long", "1", "2").error
    assert "private key is not valid" in perp("open", "ETH", "long", "1", "2", key="0x1234").error
    store = tmp_path / "key.json"
    store.write_text(json.dumps(Account.encrypt(anvil_key(1), "right horse")))
    wrong = perp("open", "ETH", "long", "1", "2", "--keystore", str(store), env={"PERP_KEYSTORE_PASSWORD": "wrong"})
    assert "cannot decrypt the keystore" in wrong.error and "wrong password" in wrong.error
    assert web3.eth.get_transaction_count(alice.address) == nonce and web3.eth.block_number == block  # nothing was sent
    # the largest removal the error names goes through
    assert perp("margin", "remove", "ETH", most, key=1).code == 0


def test_a_keystore_signs(perp, perp_cli, demo, carol, tmp_path):
    d, _ = demo
    fund(d, carol, 100)
    store = tmp_path / "carol.json"
    store.write_text(json.dumps(Account.encrypt(anvil_key(3), "s3cret")))
    run = perp_cli("open", "BTC", "short", "50", "2", "--keystore", str(store), env={"PERP_KEYSTORE_PASSWORD": "s3cret"})
    assert run.code == 0, run.err
    assert d.clearing_house.getPosition(d.amms["BTC"], carol)[0] < 0
    mine = perp("account", "--json", env={"PERP_KEYSTORE": str(store)}).json()  # the address from the keystore, no password
    assert mine["address"] == carol.address and mine["positions"][0]["side"] == "short"


# ---------------------------------------------------------------------------------- halts, liquidations


def test_settle_after_a_halt(perp, demo, alice, bob, owner):
    d, _ = demo
    fund(d, alice, 1_000)
    fund(d, bob, 1_000)
    d.clearing_house.openPosition(d.amm, BUY, 100 * WAD, 5 * WAD, 0, {"from": alice})
    d.clearing_house.openPosition(d.amm, SELL, 50 * WAD, 2 * WAD, 0, {"from": bob})
    d.amm.shutdown({"from": owner})
    markets = perp("markets", "--json").json()
    assert markets[0]["state"] == "halted"
    account = perp("account", key=1)
    assert account.code == 0 and "halted: settle" in account.out
    assert "market ETH is closed" in perp("close", "ETH", key=1).error
    before = d.vault.balanceOfWad(alice)
    # in the claim window: the position becomes a claim, nothing is paid yet
    registered = perp("settle", "ETH", "--json", key=1).json()
    assert d.clearing_house.getPosition(d.amm, alice)[0] == 0 and d.vault.balanceOfWad(alice) == before
    assert dec(registered["claim"]) > 0 and registered["paid_after"]
    early = perp("settle", "ETH", key=1).error
    assert "your claim is registered; it is paid after the claim window closes" in early
    # after the window: the claim's share is paid into the vault balance
    chain.sleep(d.amm.settlementWindowEnd() - chain.time() + 1)
    chain.mine()
    settled = perp("settle", "ETH", "--json", key=1).json()
    assert d.vault.balanceOfWad(alice) > before and dec(settled["credited"]) > 0
    assert "no position and no claim to settle" in perp("settle", "ETH", key=1).error
    kinds = [e["kind"] for e in perp("history", alice.address, "--json").json()["entries"]]
    assert "settlement claim" in kinds and "settle" in kinds, kinds


def test_history_shows_a_liquidation_and_the_keeper_runs(perp, perp_cli, demo, alice, bob, keeper, owner):
    """A 10x long, the mark pushed 5 % down in five blocks (the 1.2 % fluctuation limit), 15 minutes for the TWAP:
    `perp keeper liquidator --once` liquidates it, and the trader's history says so."""
    d, _ = demo
    fund(d, alice, 1_000)
    fund(d, bob, 100_000)
    d.quote_token.mint(owner, 10_000 * TOKEN, {"from": owner})
    d.quote_token.approve(d.insurance_fund, 10_000 * TOKEN, {"from": owner})
    d.insurance_fund.deposit(10_000 * TOKEN, {"from": owner})
    d.clearing_house.openPosition(d.amm, BUY, 100 * WAD, 10 * WAD, 0, {"from": alice})
    for _ in range(5):
        d.clearing_house.openPosition(d.amm, SELL, 15_000 * WAD, 10 * WAD, 0, {"from": bob})
    chain.sleep(900)
    chain.mine()
    run = perp_cli("keeper", "liquidator", "--once", key=4)
    assert run.code == 0, run.err
    assert "liquidate ETH" in run.err  # the bots log to stderr
    kinds = [e["kind"] for e in perp("history", alice.address, "--json").json()["entries"]]
    assert "liquidated" in kinds or "liquidation" in kinds
    table = perp("history", alice.address, "--market", "ETH")
    assert table.code == 0 and "liquidat" in table.out


# ------------------------------------------------------------------------------------------- operators


def test_operator_commands(perp, demo, owner):
    d, _ = demo
    status = perp("operator", "status", "--json")
    data = json.loads(status.out)
    assert [m["symbol"] for m in data["markets"]] == ["ETH", "BTC"] and data["paused"] is False
    assert status.code == (1 if data["problems"] else 0)  # an empty InsuranceFund needs a person
    assert "this deployment has no timelock" in perp("operator", "pending").error
    refused = perp("operator", "pause", key=5).error  # neither the owner nor the guardian
    assert refused.startswith("error: pause: OwnableUnauthorizedAccount") and not d.clearing_house.paused()
    assert perp("operator", "pause", key=0).code == 0  # the owner may pause
    assert d.clearing_house.paused()
    after = perp("operator", "status")
    assert after.code == 1 and "trading is paused" in after.out
    assert all(m["state"] == "paused" for m in perp("markets", "--json").json())


def test_deploy_with_a_wrong_rpc_url_is_one_line(perp_cli):
    """A live network whose RPC URL is wrong: brownie printed a 30-line traceback from inside the deploy."""
    config_file = network_config_path()
    saved = config_file.read_text()
    config = yaml.safe_load(saved)
    config.setdefault("live", []).append({"name": "Test", "networks": [
        {"id": "perp-test-bad-rpc", "name": "bad", "chainid": 31338, "host": "http://127.0.0.1:9"}]})
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        run = perp_cli("deploy", "--network", "perp-test-bad-rpc", key=0)
    finally:
        config_file.write_text(saved)
    assert run.code == 1
    (line,) = [ln for ln in run.err.strip().splitlines() if ln.strip()]
    assert line.startswith("error: cannot reach the node of network 'perp-test-bad-rpc' at http://127.0.0.1:9 (connection refused)")
    assert "Traceback" not in run.out + run.err


def test_the_dashboard_refuses_a_wrong_rpc_in_one_line(perp):
    run = perp("dashboard", "--rpc", "http://127.0.0.1:9", "--port", "1")
    assert run.code == 1 and "cannot reach an Ethereum node" in run.error
