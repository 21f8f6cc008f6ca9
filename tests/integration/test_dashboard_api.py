"""The dashboard's JSON API without a browser: bad input is one line and nothing sent; the prepared
transactions do what they say when a wallet sends them; the development wallet exists only where offered."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from typing import Any

import pytest
import requests
from brownie import chain, web3

from perp_dashboard import BackgroundServer
from perp_dashboard.views import words
from perp_ops.console import client_for
from tests.helpers import wad
from tests.integration.browser import free_port, write_deployment


@pytest.fixture
def server(protocol, tmp_path):
    deployment = write_deployment(tmp_path / "deployment.json", web3.eth.chain_id, protocol)
    with BackgroundServer(web3.provider.endpoint_uri, free_port(), deployment, dev_wallet=True) as url:
        yield url


def post(url: str, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(url + path, json=body, timeout=30)


def send(prepared: dict[str, Any], trader: Any) -> None:
    """What the page's wallet does: send each prepared transaction in order."""
    for step in prepared["steps"]:
        tx = web3.eth.send_transaction({"from": trader.address, "to": step["to"], "data": step["data"], "gas": step["gas"]})
        assert web3.eth.wait_for_transaction_receipt(tx)["status"] == 1, step["label"]


def test_errors_read_as_words():
    assert words("NotEnoughFreeCollateral(freeCollateral=-1.5)") == "not enough free collateral (freeCollateral=-1.5)"
    assert words("MarketClosed()") == "market closed"
    assert words("leverage 12 is too high") == "leverage 12 is too high"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"action": "deposit", "amount": "abc"}, "deposit amount: not a number: 'abc'"),
        ({"action": "deposit", "amount": "-5"}, "deposit amount must be positive, got -5"),
        ({"action": "deposit", "amount": ""}, "deposit amount: enter an amount"),
        ({"action": "deposit", "amount": "1e40"}, "deposit: insufficient wallet balance"),
        ({"action": "withdraw", "amount": "1"}, "withdraw: insufficient vault balance: 1 asked, 0 free"),
        ({"action": "open", "symbol": "DOGE", "side": "long", "margin": "10", "leverage": "2"}, "unknown market 'DOGE'"),
        ({"action": "open", "symbol": "ETH", "side": "up", "margin": "10", "leverage": "2"}, "unknown side 'up'"),
        ({"action": "open", "symbol": "ETH", "side": "long", "margin": "10", "leverage": "2", "slippage": "2"}, "slippage must be between 0 and 0.5"),
        ({"action": "open", "symbol": "ETH", "side": "long", "margin": "10", "leverage": "30"}, "leverage 30 is too high"),
        ({"action": "close", "symbol": "ETH"}, "close ETH: no position"),
        ({"action": "close", "symbol": "ETH", "part": "1.5"}, "part to close must be between 0 and 1"),
        ({"action": "remove_margin", "symbol": "ETH", "amount": "1"}, "remove margin ETH: no position"),
        ({"action": "settle", "symbol": "ETH"}, "settle ETH: the market is not halted"),
        ({"action": "fly", "symbol": "ETH"}, "unknown action 'fly'"),
    ],
)
def test_bad_input_is_one_line_and_nothing_is_sent(server, alice, body, error):
    nonce = web3.eth.get_transaction_count(alice.address)
    r = post(server, "/api/prepare", {**body, "trader": alice.address})
    assert r.status_code == 400
    assert error in r.json()["error"] and "\n" not in r.json()["error"]
    assert web3.eth.get_transaction_count(alice.address) == nonce


def test_prepared_transactions_do_what_they_say(server, protocol, alice):
    client = client_for(protocol)
    send(post(server, "/api/prepare", {"action": "mint", "amount": "1000", "trader": alice.address}).json(), alice)
    prepared = post(server, "/api/prepare", {"action": "deposit", "amount": "600", "trader": alice.address}).json()
    assert [s["label"] for s in prepared["steps"]] == ["approve the vault", "deposit 600"]
    send(prepared, alice)
    assert client.vault_balance(alice.address) == wad(600)
    send(post(server, "/api/prepare", {"action": "withdraw", "amount": "100", "trader": alice.address}).json(), alice)
    assert client.vault_balance(alice.address) == wad(500)
    assert client.wallet_balance(alice.address) == wad(500)

    trade = {"symbol": "ETH", "side": "short", "margin": "10", "leverage": "2", "trader": alice.address}
    quote = post(server, "/api/quote", trade).json()
    assert quote["refusal"] is None
    expected = client.quote_open("ETH", "short", 10, 2, alice.address)
    send(post(server, "/api/prepare", {"action": "open", **trade}).json(), alice)
    assert client.holding("ETH", alice.address).size == expected.size_after < 0

    send(post(server, "/api/prepare", {"action": "add_margin", "symbol": "ETH", "amount": "10", "trader": alice.address}).json(), alice)
    assert client.holding("ETH", alice.address).margin == wad(20)
    too_much = post(server, "/api/prepare", {"action": "remove_margin", "symbol": "ETH", "amount": "19", "trader": alice.address})
    assert too_much.status_code == 400 and "can be removed now" in too_much.json()["error"]
    send(post(server, "/api/prepare", {"action": "remove_margin", "symbol": "ETH", "amount": "5", "trader": alice.address}).json(), alice)
    assert client.holding("ETH", alice.address).margin == wad(15)

    size = client.holding("ETH", alice.address).size
    send(post(server, "/api/prepare", {"action": "close", "symbol": "ETH", "part": "0.5", "trader": alice.address}).json(), alice)
    half = client.holding("ETH", alice.address).size
    assert abs(half * 2 - size) <= abs(size) // 10**6
    send(post(server, "/api/prepare", {"action": "close", "symbol": "ETH", "part": "1", "trader": alice.address}).json(), alice)
    assert client.holding("ETH", alice.address).size == 0

    history = requests.get(f"{server}/api/account/{alice.address}", timeout=30).json()["history"]
    assert [h["kind"] for h in history] == ["close", "reduce", "remove margin", "add margin", "open", "withdrawn", "deposited"]


def test_settling_registers_a_claim_then_collects_it_after_the_window(server, protocol, owner, alice, fund_trader):
    """In a halted market, Settle registers the position's claim (the position becomes a claim row with its
    payout); before the window closes collecting is refused in words; after it, Settle pays the claim."""
    client = client_for(protocol)
    ch, amm = protocol.clearing_house, protocol.amm
    fund_trader(alice, wad(100))
    ch.openPosition(amm, 1, wad(10), wad(2), 0, {"from": alice})
    amm.shutdown({"from": owner})
    account = f"{server}/api/account/{alice.address}"
    send(post(server, "/api/prepare", {"action": "settle", "symbol": "ETH", "trader": alice.address}).json(), alice)
    claim, payout = ch.getSettlementClaim(amm, alice)
    assert claim > 0 and payout == claim and client.holding("ETH", alice.address).size == 0
    row = requests.get(account, timeout=30).json()["positions"][0]
    assert (row["side"], row["settle_only"], row["margin_wad"], row["pnl_wad"]) == ("claim", True, str(claim), str(payout))
    early = post(server, "/api/prepare", {"action": "settle", "symbol": "ETH", "trader": alice.address})
    assert early.status_code == 400 and "is registered; it is paid once the claim window closes" in early.json()["error"]
    chain.sleep(amm.settlementWindowEnd() - chain.time() + 1)
    chain.mine()
    before = client.vault_balance(alice.address)
    prepared = post(server, "/api/prepare", {"action": "settle", "symbol": "ETH", "trader": alice.address}).json()
    assert [s["label"] for s in prepared["steps"]] == ["collect the ETH settlement"]
    send(prepared, alice)
    assert client.vault_balance(alice.address) == before + payout
    data = requests.get(account, timeout=30).json()
    assert data["positions"] == []
    assert [h["kind"] for h in data["history"]][:3] == ["settle", "settle", "open"]


def test_a_refused_trade_says_why_in_words(server, protocol, owner, alice, fund_trader):
    fund_trader(alice, wad(100))
    protocol.amm.setCap(wad(1), 0, {"from": owner})  # at most 1 base per trader
    r = post(server, "/api/quote", {"symbol": "ETH", "side": "long", "margin": "20", "leverage": "2", "trader": alice.address}).json()
    assert r["preview"]["base_text"] and r["refusal"].startswith("long ETH: the protocol refuses: ")
    reason = r["refusal"].split("refuses: ")[1]
    assert reason[0].islower() and " " in reason.split("(")[0]  # words, not a raw error name
    nonce = web3.eth.get_transaction_count(alice.address)
    assert post(server, "/api/prepare", {"action": "open", "symbol": "ETH", "side": "long", "margin": "20", "leverage": "2", "trader": alice.address}).status_code == 400
    assert web3.eth.get_transaction_count(alice.address) == nonce


def test_the_development_wallet_is_offered_only_when_asked(protocol, tmp_path):
    deployment = write_deployment(tmp_path / "deployment.json", web3.eth.chain_id, protocol)
    with BackgroundServer(web3.provider.endpoint_uri, free_port(), deployment) as url:
        assert requests.get(url + "/api/config", timeout=30).json()["dev_wallet"] is False
        r = post(url, "/dev-rpc", {"jsonrpc": "2.0", "id": 1, "method": "eth_accounts", "params": []})
        assert r.status_code == 403 and "only offered on a local anvil chain" in r.json()["error"]["message"]
        mint = post(url, "/api/prepare", {"action": "mint", "amount": "1", "trader": protocol.owner.address})
        assert mint.status_code == 400
    with BackgroundServer(web3.provider.endpoint_uri, free_port(), deployment, dev_wallet=True) as url:
        ok = post(url, "/dev-rpc", {"jsonrpc": "2.0", "id": 1, "method": "eth_accounts", "params": []}).json()
        assert ok["result"][0].lower() == web3.eth.accounts[0].lower()
        refused = post(url, "/dev-rpc", {"jsonrpc": "2.0", "id": 2, "method": "anvil_setBalance", "params": []}).json()
        assert "does not support anvil_setBalance" in refused["error"]["message"]


def test_history_follows_a_chain_that_went_back(server, protocol, alice, fund_trader):
    fund_trader(alice, wad(100))
    chain.snapshot()
    protocol.clearing_house.openPosition(protocol.amm, 0, wad(10), wad(2), 0, {"from": alice})
    account = f"{server}/api/account/{alice.address}"
    assert [h["kind"] for h in requests.get(account, timeout=30).json()["history"]] == ["open", "deposited"]
    chain.revert()  # a reorg, a restarted chain: the block the trade was in is gone
    assert [h["kind"] for h in requests.get(account, timeout=30).json()["history"]] == ["deposited"]


def test_a_node_that_stops_answering_is_rpc_down_then_recovers(tmp_path):
    port = free_port()
    anvil = [shutil.which("anvil") or "anvil", "--port", str(port), "--silent"]
    deployment = tmp_path / "deployment.json"
    fake = {role: {"address": f"0x{i:040x}", "block": 0} for i, role in enumerate(
        ("quote_token", "vault", "insurance_fund", "clearing_house", "price_feed", "amm_ETH"), start=1)}
    deployment.write_text(json.dumps({"chain_id": 31337, "complete": True, "contracts": fake}))
    node = subprocess.Popen(anvil)
    try:
        wait_for_node(port)
        with BackgroundServer(f"http://127.0.0.1:{port}", free_port(), deployment) as url:
            assert requests.get(url + "/api/markets", timeout=30).status_code == 502  # answers, no contracts there
            node.terminate()
            node.wait(10)
            down = requests.get(url + "/api/markets", timeout=30)
            assert down.status_code == 503 and down.json()["error"].startswith("RPC down")
            node = subprocess.Popen(anvil)
            wait_for_node(port)
            assert requests.get(url + "/api/markets", timeout=30).status_code == 502
    finally:
        node.terminate()
        node.wait(10)


def wait_for_node(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            requests.post(f"http://127.0.0.1:{port}", json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError(f"anvil did not start on port {port}")


def test_other_sites_cannot_use_the_development_wallet(server):
    call = {"jsonrpc": "2.0", "id": 1, "method": "eth_accounts", "params": []}
    plain = requests.post(server + "/dev-rpc", data=json.dumps(call), headers={"content-type": "text/plain"}, timeout=30)
    foreign = requests.post(server + "/dev-rpc", json=call, headers={"origin": "https://evil.example"}, timeout=30)
    own = requests.post(server + "/dev-rpc", json=call, headers={"origin": server}, timeout=30)
    assert plain.status_code == foreign.status_code == 403
    assert own.status_code == 200 and own.json()["result"]


def test_reads_are_computed_once_per_block(protocol, tmp_path, alice, fund_trader):
    deployment = write_deployment(tmp_path / "deployment.json", web3.eth.chain_id, protocol)
    background = BackgroundServer(web3.provider.endpoint_uri, free_port(), deployment)
    with background as url:
        state = background.server.config.app.state.dashboard
        first = requests.get(url + "/api/markets", timeout=30).json()
        again = requests.get(url + "/api/markets", timeout=30).json()
        assert again == first and state.cache_hits == 1
        fund_trader(alice, wad(100))
        protocol.clearing_house.openPosition(protocol.amm, 0, wad(10), wad(2), 0, {"from": alice})
        moved = requests.get(url + "/api/markets", timeout=30).json()
        assert state.cache_hits == 1 and moved["markets"][0]["mark_wad"] != first["markets"][0]["mark_wad"]
