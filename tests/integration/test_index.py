"""The SQLite event index on a real chain: every event type stored exactly as the chain has it; an
interrupted sync resumes; a reorg (a chain snapshot reverted, different blocks mined) is detected and what
changed is replaced; a trader's history and the open positions; an idle sync is one round trip."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
import requests
from brownie import MockAggregator, MockSequencerUptimeFeed, chain, web3

from perp_client import PerpClient, PerpError
from perp_client.deployment import Addresses
from perp_client.index import EventIndex
from perp_client.rpc_meter import RpcMeter
from perp_ops.console import addresses_of, client_for
from perp_ops.deploy import feed_key, to_aggregator_answer
from tests.helpers import BUY, SELL, wad

WATCHED = ("ClearingHouse", "Vault", "InsuranceFund", "Amm", "ChainlinkPriceFeed")


@pytest.fixture
def client(protocol) -> PerpClient:
    return client_for(protocol)


@pytest.fixture
def fund_insurance(protocol, owner):
    def _fund(amount: int) -> None:
        protocol.quote_token.mint(owner, amount, {"from": owner})
        protocol.quote_token.approve(protocol.insurance_fund, amount, {"from": owner})
        protocol.insurance_fund.deposit(amount, {"from": owner})

    return _fund


def snapshot() -> str:
    """anvil's snapshot, taken directly: brownie's chain.snapshot() would replace the test isolation's own."""
    return str(web3.provider.make_request("evm_snapshot", [])["result"])


def revert(snapshot_id: str) -> None:
    assert web3.provider.make_request("evm_revert", [snapshot_id])["result"]


def rows(index: EventIndex) -> list[tuple[Any, ...]]:
    """Everything stored, comparable across files."""
    return [(e.block_number, e.log_index, e.block_hash, e.tx_hash, e.contract, e.name, e.args, e.timestamp) for e in index.events()]


def chain_events(client: PerpClient) -> list[tuple[int, int, str, str, dict[str, Any]]]:
    """Every event of the deployment, read event type by event type with web3's own filters."""
    contracts = [client.clearing_house, client.vault, client._contract("InsuranceFund", client.addresses.insurance_fund),
                 client._contract("ChainlinkPriceFeed", client.addresses.price_feed), *client.amms.values()]
    out = []
    for c in contracts:
        for item in c.abi:
            if item["type"] == "event":
                for e in getattr(c.events, item["name"]).get_logs(from_block=0):
                    out.append((int(e["blockNumber"]), int(e["logIndex"]), e["address"], e["event"], dict(e["args"])))
    return sorted(out, key=lambda r: (r[0], r[1]))


def every_event_type(client: PerpClient) -> set[tuple[str, str]]:
    return {(name, item["name"]) for name in WATCHED for item in client._contract(name, client.addresses.vault).abi if item["type"] == "event"}


def open_short_then_close_beyond_collateral(protocol, bob, rando) -> None:
    """tests/security/test_solvency: bob's close returns more than the market holds: the fund prepays."""
    ch, amm = protocol.clearing_house, protocol.amm
    ch.openPosition(amm, SELL, wad(20), wad(5), wad("11.12"), {"from": bob})
    ch.openPosition(amm, SELL, wad(20), wad(5), wad("13.89"), {"from": rando})
    ch.closePosition(amm, 0, {"from": bob})
    ch.addMargin(amm, wad(10), {"from": rando})  # rando's loss now exceeds her margin: she adds some, then closes
    ch.closePosition(amm, 0, {"from": rando})


def test_every_event_type_is_stored_as_the_chain_has_it(protocol, client, tmp_path, owner, alice, bob, carol, keeper, rando,
                                                       fund_trader, fund_insurance):
    d = protocol
    ch, amm, fund, vault = d.clearing_house, d.amm, d.insurance_fund, d.vault
    index = EventIndex.open(client, tmp_path / "index.sqlite", chunk=7)
    fund_insurance(wad(5_000))
    fund.raiseReserveFloor(wad(1), {"from": owner})
    fund.withdraw(owner, wad(1), {"from": owner})
    for t in (alice, bob, carol, rando):
        fund_trader(t, wad(1_000))
    index.sync()  # the rest arrives in a second sync
    open_short_then_close_beyond_collateral(d, bob, rando)
    ch.openPosition(amm, BUY, wad(10), wad(2), 0, {"from": alice})
    ch.addMargin(amm, wad(5), {"from": alice})
    ch.removeMargin(amm, wad(1), {"from": alice})
    ch.closePosition(amm, 0, {"from": alice})
    vault.withdraw(wad(1), {"from": bob})
    chain.sleep(amm.nextFundingTime() - chain.time() + 1)
    ch.payFunding(amm, {"from": keeper})
    amm.setRatios(amm.tradeLimitRatio(), 0, 0, 0, {"from": owner})
    amm.setCap(0, 0, {"from": owner})
    amm.setSettlementWindow(3_600, {"from": owner})
    ch.setFeePool(owner, {"from": owner})
    ch.setGuardian(rando, {"from": owner})
    ch.setLiquidityController(owner, {"from": owner})
    ch.pause({"from": rando})
    ch.unpause({"from": owner})
    ch.adjustK(amm, wad("1.1"), {"from": owner})
    ch.repeg(amm, amm.getSpotPrice() * 101 // 100, {"from": owner})
    btc = MockAggregator.deploy(8, to_aggregator_answer(wad(60_000)), {"from": owner})
    d.price_feed.addAggregator(feed_key("BTC"), btc, 0, {"from": owner})
    d.price_feed.removeAggregator(feed_key("BTC"), {"from": owner})
    # a liquidation whose bad debt the fund (drained to its floor) cannot pay halts the market
    fund.withdraw(owner, fund.surplus(), {"from": owner})
    # funding the drained fund cannot pay: the longs receive, the pool's side is theirs, nothing to pay it with
    ch.openPosition(amm, BUY, wad(10), wad(2), 0, {"from": carol})
    d.aggregators["ETH"].updateAnswer(to_aggregator_answer(amm.getSpotPrice() * 11 // 10), {"from": owner})
    chain.sleep(amm.nextFundingTime() - chain.time() + 1)
    assert "FundingShortfall" in ch.payFunding(amm, {"from": keeper}).events
    ch.closePosition(amm, 0, {"from": carol})
    ch.openPosition(amm, BUY, wad(25), wad(10), 0, {"from": alice})
    ch.openPosition(amm, BUY, wad(10), wad(3), 0, {"from": carol})
    ch.openPosition(amm, SELL, wad(15), wad(10), 0, {"from": bob})
    ch.openPosition(amm, SELL, wad(3), wad(3), 0, {"from": rando})
    chain.sleep(900)
    d.aggregators["ETH"].updateAnswer(to_aggregator_answer(amm.getSpotPrice()), {"from": owner})
    ch.liquidate(amm, alice, {"from": keeper})
    assert amm.isShutdown()
    for t in (carol, bob, rando):  # claims registered in the window (carol's is worth nothing: settled at once)
        ch.settlePosition(amm, {"from": t})
    chain.sleep(3_601)  # the window closes: the claims are paid pro rata, the last payout sweeps the dust
    ch.claimSettlement(amm, bob, {"from": keeper})
    ch.settlePosition(amm, {"from": rando})
    uptime = MockSequencerUptimeFeed.deploy(0, 7_200, {"from": owner})  # last: prices then wait for its grace period
    d.price_feed.setSequencerUptimeFeed(uptime, 3_600, {"from": owner})

    report = index.sync()
    assert report.added > 0 and report.removed == 0 and report.reorg_at is None
    stored = index.events()
    # a new event in a watched contract's ABI needs a step above that emits it
    assert {(e.contract, e.name) for e in stored} == every_event_type(client)
    assert [(e.block_number, e.log_index, e.address, e.name, e.args) for e in stored] == chain_events(client)
    assert all(e.timestamp == web3.eth.get_block(e.block_number)["timestamp"] for e in stored[-5:])
    assert all(e.block_hash == "0x" + bytes(web3.eth.get_block(e.block_number)["hash"]).hex() for e in stored[-5:])


def test_an_interrupted_sync_resumes_where_it_stopped(protocol, client, tmp_path, alice, bob, fund_trader):
    for t in (alice, bob):
        fund_trader(t, wad(1_000))
    for _ in range(6):
        protocol.clearing_house.openPosition(protocol.amm, BUY, wad(1), wad(2), 0, {"from": alice})
        protocol.clearing_house.openPosition(protocol.amm, SELL, wad(1), wad(2), 0, {"from": bob})
    path = tmp_path / "index.sqlite"
    w3 = client.w3
    failing = FailingSession(fail_at=4)
    w3_failing = type(w3)(type(w3.provider)(web3.provider.endpoint_uri, session=failing))
    with pytest.raises(requests.ConnectionError):
        EventIndex(w3_failing, client.addresses, path, chunk=5, reorg_depth=3).sync()
    stopped_at = sqlite3.connect(path).execute("SELECT value FROM meta WHERE key = 'tip_number'").fetchone()
    assert stopped_at is not None and 0 < int(stopped_at[0]) < web3.eth.block_number  # three chunks committed

    resumed = EventIndex(w3, client.addresses, path, chunk=5, reorg_depth=3)
    report = resumed.sync()
    assert report.from_block == int(stopped_at[0]) + 1 - 3  # from the tip, less the re-read window
    fresh = EventIndex(w3, client.addresses, tmp_path / "fresh.sqlite", chunk=5)
    fresh.sync()
    assert [r for r in rows(resumed) if r not in rows(fresh)] == []
    assert rows(resumed) == rows(fresh) and len(rows(fresh)) > 20


def test_a_reorg_is_detected_and_what_changed_is_replaced(protocol, client, tmp_path, alice, bob, carol, fund_trader):
    ch, amm = protocol.clearing_house, protocol.amm
    for t in (alice, bob, carol):
        fund_trader(t, wad(1_000))
    index = EventIndex.open(client, tmp_path / "index.sqlite", reorg_depth=2)
    index.sync()
    snap = snapshot()
    ch.openPosition(amm, BUY, wad(10), wad(2), 0, {"from": alice})
    for _ in range(5):
        chain.mine()
    ch.openPosition(amm, SELL, wad(10), wad(2), 0, {"from": bob})
    index.sync()
    assert set(index.open_positions("ETH")) == {alice.address, bob.address}
    reverted_tip = index.tip
    assert reverted_tip is not None

    revert(snap)  # those blocks are gone; different ones take their heights (deeper than the 2-block window)
    ch.openPosition(amm, SELL, wad(5), wad(2), 0, {"from": carol})
    for _ in range(8):
        chain.mine()
    assert web3.eth.block_number > reverted_tip[0]
    report = index.sync()
    assert report.reorg_at is not None and report.removed == 2 and report.added == 1
    assert set(index.open_positions("ETH")) == {carol.address}
    assert index.history(alice) == [] or all(h.kind == "deposit" for h in index.history(alice))
    fresh = EventIndex.open(client, tmp_path / "fresh.sqlite")
    fresh.sync()
    assert rows(index) == rows(fresh)


def test_a_chain_that_went_back_drops_what_is_gone(protocol, client, tmp_path, alice, fund_trader):
    fund_trader(alice, wad(100))
    index = EventIndex.open(client, tmp_path / "index.sqlite")
    snap = snapshot()
    protocol.clearing_house.openPosition(protocol.amm, BUY, wad(10), wad(2), 0, {"from": alice})
    index.sync()
    assert [h.kind for h in index.history(alice)] == ["deposit", "open"]
    revert(snap)
    report = index.sync()
    assert report.removed == 1 and report.reorg_at is not None
    assert [h.kind for h in index.history(alice)] == ["deposit"]
    assert index.tip == (web3.eth.block_number, "0x" + bytes(web3.eth.get_block("latest")["hash"]).hex())


def test_history_summary_and_open_positions(protocol, client, tmp_path, owner, alice, bob, carol, keeper, fund_trader, fund_insurance):
    ch, amm = protocol.clearing_house, protocol.amm
    fund_insurance(wad(1_000))
    for t in (alice, bob, carol):
        fund_trader(t, wad(1_000))
    txs = [
        ch.openPosition(amm, BUY, wad(10), wad(2), 0, {"from": alice}),  # open
        ch.openPosition(amm, BUY, wad(5), wad(2), 0, {"from": alice}),  # increase
        ch.openPosition(amm, SELL, wad(5), wad(1), 0, {"from": alice}),  # reduce
        ch.addMargin(amm, wad(3), {"from": alice}),
        ch.openPosition(amm, SELL, wad(30), wad(2), 0, {"from": alice}),  # reverse
        ch.closePosition(amm, 0, {"from": alice}),
        ch.openPosition(amm, BUY, wad(25), wad(10), 0, {"from": alice}),
        ch.openPosition(amm, BUY, wad(20), wad(2), 0, {"from": carol}),
        ch.openPosition(amm, SELL, wad(100), wad(5), 0, {"from": bob}),
    ]
    chain.sleep(15 * 60)
    chain.mine()
    txs.append(ch.liquidate(amm, alice, {"from": keeper}))
    index = EventIndex.open(client, tmp_path / "index.sqlite")
    index.sync()

    kinds = [h.kind for h in index.history(alice)]
    assert kinds == ["deposit", "open", "increase", "reduce", "add margin", "reverse", "close", "open", "liquidated", "liquidation"]
    changes = [dict(e) for tx in txs if "PositionChanged" in tx.events for e in tx.events["PositionChanged"] if e["trader"] == alice.address]
    s = index.summary(alice)
    assert s.trades == len(changes) == 7
    assert s.realized_pnl == sum(int(e["realizedPnl"]) for e in changes)
    assert s.fees == sum(int(e["fee"]) for e in changes)
    assert s.funding_paid - s.funding_received == sum(int(e["fundingPayment"]) for e in changes)
    assert s.liquidations == 1 and s.liquidation_penalties > 0 and s.deposited == wad(1_000)
    assert s.by_market["ETH"].realized_pnl == s.realized_pnl
    assert index.summary(keeper).liquidator_fees == protocol.vault.balanceOfWad(keeper) > 0
    assert [h.kind for h in index.history(keeper)] == ["liquidator fee"]

    assert index.open_positions("ETH") == {t.address: ch.getPosition(amm, t)[0] for t in (bob, carol)}
    assert index.open_positions(amm.address) == index.open_positions("eth")
    assert index.traders("ETH") == sorted(t.address for t in (alice, bob, carol))


def test_sync_costs_one_round_trip_when_nothing_happened(protocol, tmp_path, alice, fund_trader):
    meter = RpcMeter()
    client = PerpClient(meter.web3(web3.provider.endpoint_uri), addresses_of(protocol))
    index = EventIndex.open(client, tmp_path / "index.sqlite")
    index.sync()
    meter.reset()
    assert index.sync().unchanged and meter.round_trips == 1
    fund_trader(alice, wad(100))  # three blocks (mint, approve, deposit), one protocol event
    meter.reset()
    report = index.sync()
    assert report.added == 1 and meter.round_trips == 3  # head, the tip still on the chain, the logs


def test_another_deployment_rebuilds_and_another_chain_is_refused(protocol, client, tmp_path, alice, fund_trader):
    fund_trader(alice, wad(100))
    path = tmp_path / "index.sqlite"
    EventIndex.open(client, path).sync()
    moved = Addresses(**{**client.addresses.__dict__, "start_block": 1})
    index = EventIndex(client.w3, moved, path)
    assert index.count() == 0 and index.tip is None
    index.sync()
    assert index.count() > 0
    other = Addresses(**{**client.addresses.__dict__, "chain_id": 1})
    with pytest.raises(PerpError, match="is the index of chain"):
        EventIndex(client.w3, other, path)


class FailingSession(requests.Session):
    """A connection that drops the `fail_at`-th eth_getLogs (a node gone, a Ctrl-C)."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at
        self.seen = 0

    def post(self, url: Any, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        body = kwargs.get("data") or kwargs.get("json") or b""
        if b"eth_getLogs" in (body if isinstance(body, bytes) else str(body).encode()):
            self.seen += 1
            if self.seen == self.fail_at:
                raise requests.ConnectionError("connection dropped")
        return super().post(url, *args, **kwargs)
