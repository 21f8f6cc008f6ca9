"""Reads at L2 scale: a quote in one round trip; a liquidation scan whose round trips do not grow with the
number of traders (Multicall3 pages); a page too large for the node's gas is split; one trader's failed
read (a position closed meanwhile) does not spoil the others'."""

from __future__ import annotations

import math

import pytest
from brownie import chain, web3

from perp_client import PerpClient
from perp_client.batch import BatchReader
from perp_client.index import EventIndex
from perp_client.liquidations import scan
from perp_client.rpc_meter import RpcMeter
from perp_ops.console import addresses_of, client_for
from perp_ops.keeper_bench import open_positions
from tests.helpers import BUY, wad

SYNC_ROUND_TRIPS = 3  # the head moved: head block, the tip's hash, the logs


@pytest.fixture
def metered(protocol):
    meter = RpcMeter()
    return meter, PerpClient(meter.web3(web3.provider.endpoint_uri), addresses_of(protocol))


def test_a_quote_is_one_round_trip_and_equals_the_unbatched_quote(protocol, metered, alice, fund_trader):
    meter, client = metered
    fund_trader(alice, wad(100))
    protocol.clearing_house.openPosition(protocol.amm, BUY, wad(10), wad(2), 0, {"from": alice})
    meter.reset()
    quote = client.quote_open("ETH", "short", 5, 3, trader=alice.address)
    assert meter.round_trips == 1  # the bound is 2
    unbatched = client_for(protocol)
    unbatched._batch = BatchReader(unbatched.w3, None)  # one eth_call per value, as before
    assert unbatched.quote_open("ETH", "short", 5, 3, trader=alice.address) == quote
    meter.reset()
    client.position("ETH", alice.address)
    client.market("ETH")
    assert meter.round_trips == 2


def scan_round_trips(meter: RpcMeter, client: PerpClient, index: EventIndex) -> tuple[int, int]:
    scan(client, index)  # the index catches up
    chain.mine()  # a new head: a steady pass syncs one block
    meter.reset()
    result = scan(client, index)
    return meter.round_trips, result.checked


def test_a_liquidation_scan_costs_the_same_round_trips_for_3_or_60_traders(protocol, metered, owner, tmp_path):
    meter, client = metered
    index = EventIndex.open(client, tmp_path / "index.sqlite")
    open_positions(protocol, owner, 3)
    few = scan_round_trips(meter, client, index)
    open_positions(protocol, owner, 57, first=3)
    many = scan_round_trips(meter, client, index)
    assert few == (SYNC_ROUND_TRIPS + 1, 3) and many == (SYNC_ROUND_TRIPS + 1, 60)
    # pages of 16 calls: 61 calls (the maintenance ratio and 60 traders) in 4 eth_calls
    client.batch.page = 16
    assert scan_round_trips(meter, client, index) == (SYNC_ROUND_TRIPS + math.ceil(61 / 16), 60)
    assert SYNC_ROUND_TRIPS + math.ceil(1_001 / 400) <= 10  # 1,000 traders at the default page


def test_a_page_that_runs_out_of_gas_is_split(protocol, owner, tmp_path):
    traders = open_positions(protocol, owner, 40)
    client = client_for(protocol)
    ch = client.clearing_house.functions
    calls = [ch.getMarginRatio(protocol.amm.address, t) for t in traders]
    _, whole = client.batch.read(calls)
    small = BatchReader(client.w3, protocol.multicall.address, page=400, gas=300_000)  # ~20k gas per call
    _, split = small.read(calls)
    assert [o.value for o in split] == [o.value for o in whole] and all(o.ok for o in split)
    assert small.page < 40


def test_one_failed_read_does_not_spoil_the_others(protocol, owner, tmp_path):
    traders = open_positions(protocol, owner, 4)
    client = client_for(protocol)
    index = EventIndex.open(client, tmp_path / "index.sqlite")
    index.sync()
    protocol.clearing_house.closePosition(protocol.amm, 0, {"from": traders[1]})  # after the index saw it
    ch = client.clearing_house.functions
    _, outcomes = client.batch.read([ch.getMarginRatio(protocol.amm.address, t) for t in traders])
    assert [o.ok for o in outcomes] == [True, False, True, True]
    assert client.reason(outcomes[1]) == "NoPosition()"
    result = scan(client, index)
    assert result.checked == 3 and result.closed == [] and result.candidates == []  # the index saw the close
