"""perp_client against the chain: reads, exact quotes, transactions, events, readable refusals."""

from __future__ import annotations

from math import isqrt

import pytest
from brownie import accounts, web3
from eth_account import Account

from perp_client import PerpError
from perp_client.deployment import Addresses
from perp_client.units import WAD, div_wad
from perp_ops.console import addresses_of, client_for
from tests.helpers import BUY, SELL, SPOT, wad
from tests.integration.perp_clients import anvil_key, client_as

MMR = 5 * 10**16  # deploy_protocol defaults


@pytest.fixture
def alice_client(protocol, alice, fund_trader):
    fund_trader(alice, wad(1000))
    return client_as(protocol, alice)


def move_mark_to(protocol, trader, price: int) -> None:
    """Trade (as `trader`, funded here) so that the mark lands on `price`, up to pool rounding."""
    amm, ch = protocol.amm, protocol.clearing_house
    q, b = amm.getReserve()
    target = isqrt(q * b // WAD * price)
    notional, side = (q - target, SELL) if target < q else (target - q, BUY)
    protocol.quote_token.mint(trader, notional, {"from": trader})
    protocol.quote_token.approve(protocol.vault, notional, {"from": trader})
    protocol.vault.deposit(notional, {"from": trader})
    ch.openPosition(amm, side, notional, WAD, 0, {"from": trader})


def spot_ratio(protocol, trader) -> int:
    ch, amm = protocol.clearing_house, protocol.amm
    margin = ch.getPosition(amm, trader)[1]
    notional, pnl = ch.getPositionNotionalAndUnrealizedPnl(amm, trader, SPOT)
    return div_wad(margin + pnl, notional)


def test_anvil_keys_are_brownie_accounts():
    assert all(Account.from_key(anvil_key(i)).address == accounts[i].address for i in range(6))


def test_market_reads_match_the_chain(protocol):
    client = client_for(protocol)
    m = client.market("eth")
    amm = protocol.amm
    assert client.symbols == ["ETH"]
    assert [m.quote_reserve, m.base_reserve] == [int(x) for x in amm.getReserve()]
    assert m.mark_price == amm.getSpotPrice() == wad(10)
    assert m.index_price == amm.getUnderlyingPrice()
    assert m.next_funding_time == amm.nextFundingTime()
    assert m.funding_period == 3600 and m.open
    assert "mark price" in m.table() and "next funding" in m.table()


def test_quote_equals_the_trade_to_the_wei(protocol, owner, alice_client, alice):
    protocol.amm.setRatios(9 * 10**17, 0, wad("0.001"), wad("0.002"), {"from": owner})
    q = alice_client.quote_open("ETH", "long", 60, 10)
    before = protocol.vault.balanceOfWad(alice)
    result = alice_client.open_position("ETH", "long", 60, 10)
    (event,) = result.events
    size, margin, open_notional, _ = protocol.clearing_house.getPosition(protocol.amm, alice)
    assert (size, margin, open_notional) == (q.size_after, q.margin_after, q.open_notional_after)
    assert event.exchanged_position_size == q.exchanged_base and event.fee == q.fee == wad("1.8")
    assert event.spot_price == q.spot_after
    assert protocol.clearing_house.getMarginRatio(protocol.amm, alice) == q.margin_ratio_after
    assert before - protocol.vault.balanceOfWad(alice) == q.cash_required
    assert q.average_price == q.notional * WAD // q.exchanged_base
    assert q.price_impact > 0 and q.liquidation_price < q.spot_after


@pytest.mark.parametrize("margin", [10, 50], ids=["reduce", "reverse"])
def test_quote_of_a_reduce_or_reverse_equals_the_trade(protocol, alice_client, alice, margin):
    alice_client.open_position("ETH", "long", 25, 10)
    q = alice_client.quote_open("ETH", "short", margin, 10)
    alice_client.open_position("ETH", "short", margin, 10)
    size, margin_after, open_notional, _ = protocol.clearing_house.getPosition(protocol.amm, alice)
    assert (size, margin_after, open_notional) == (q.size_after, q.margin_after, q.open_notional_after)
    assert (size > 0) == (margin == 10)


@pytest.mark.parametrize("side", ["long", "short"])
def test_liquidation_price_is_where_the_spot_ratio_meets_maintenance(protocol, alice_client, alice, bob, side):
    alice_client.open_position("ETH", side, 25, 10)
    liq = alice_client.position("ETH").liquidation_price
    safe, unsafe = (liq * 1001 // 1000, liq * 999 // 1000) if side == "long" else (liq * 999 // 1000, liq * 1001 // 1000)
    assert (liq < protocol.amm.getSpotPrice()) == (side == "long")
    move_mark_to(protocol, bob, safe)
    assert spot_ratio(protocol, alice) >= MMR
    move_mark_to(protocol, bob, unsafe)
    assert spot_ratio(protocol, alice) < MMR


def test_position_table_and_events(protocol, alice_client, alice):
    alice_client.open_position("ETH", "short", 40, 5)
    p = alice_client.position("ETH")
    assert p.size == -wad(25)  # 200 of quote out of 1000 / 100: exactly 25 base
    assert p.margin == wad(40) and p.margin_ratio == protocol.clearing_house.getMarginRatio(protocol.amm, alice)
    for field in ("size", "margin", "open notional", "unrealized PnL", "margin ratio", "liquidation price", "vault balance"):
        assert field in p.table()
    alice_client.close_position("ETH")
    changes = alice_client.position_changes(symbol="ETH")
    assert [c.position_size_after for c in changes] == [p.size, 0]
    assert alice_client.position("ETH").side == "none"


def test_deposit_and_withdraw(protocol, alice):
    client = client_as(protocol, alice)
    client.send(client.token.functions.mint(alice.address, wad(50)), "mint")
    client.deposit(50)
    assert protocol.vault.balanceOf(alice) == wad(50)
    client.withdraw("20.5")
    assert protocol.vault.balanceOf(alice) == wad("29.5")


def test_bad_input_is_refused_before_sending(protocol, alice_client, alice, bob):
    nonce = web3.eth.get_transaction_count(alice.address)
    cases = {
        "unknown market 'DOGE'": lambda: alice_client.open_position("DOGE", "long", 1, 1),
        "insufficient vault balance": lambda: alice_client.open_position("ETH", "long", 2000, 1),
        "trade limit": lambda: alice_client.open_position("ETH", "long", 5000, 2),
        "leverage 30 is too high": lambda: alice_client.open_position("ETH", "long", 1, 30),
        "insufficient wallet balance": lambda: alice_client.deposit(10**9),
        "unknown side": lambda: alice_client.quote_open("ETH", "up", 1, 1),
        "remove margin ETH: no position": lambda: alice_client.remove_margin("ETH", 1),
        "close ETH: no position": lambda: alice_client.close_position("ETH"),
        "more than 18 decimals": lambda: alice_client.add_margin("ETH", "0.0000000000000000001"),
    }
    for expected, call in cases.items():
        with pytest.raises(PerpError, match=expected) as info:
            call()
        assert "\n" not in str(info.value)
    assert web3.eth.get_transaction_count(alice.address) == nonce
    with pytest.raises(PerpError, match="no private key"):
        client_for(protocol).pay_funding("ETH")
    with pytest.raises(PerpError, match="private key is not valid"):
        client_for(protocol, "0x1234")
    wrong = Addresses(**{**addresses_of(protocol).__dict__, "chain_id": 1})
    with pytest.raises(PerpError, match="wrong chain: the deployment is for chain 1"):
        type(alice_client)(alice_client.w3, wrong)
