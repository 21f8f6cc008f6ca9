"""Restriction mode: after a liquidation in a block, a trader who already opened, closed or was liquidated in that
block cannot open or close again in it (v1's `requireNotRestrictionMode`); everyone else, and everyone in the next
block, can.

Several transactions go into one block: automine off, each sent with an explicit gas limit and
`required_confs=0`, then one `evm_mine`.
"""

from __future__ import annotations

from typing import Any

from brownie import chain, web3

from tests.helpers import BUY, SELL, wad
from tests.integration.risk_helpers import event, join_confirmations, set_index

GAS = 2_000_000


def send_in_one_block(calls: list[tuple[Any, tuple[Any, ...], Any]]) -> list[Any]:
    """Send every (contract function, args, sender) into the same block, in order, and mine it."""
    web3.provider.make_request("evm_setAutomine", [False])
    try:
        txs = [fn(*args, {"from": sender, "gas_limit": GAS, "required_confs": 0}) for fn, args, sender in calls]
        res = web3.provider.make_request("evm_mine", [])
        assert "error" not in res, res
    finally:
        web3.provider.make_request("evm_setAutomine", [True])
    for tx in txs:
        tx.wait(1)
    join_confirmations()
    assert len({tx.block_number for tx in txs}) == 1, "the transactions did not share a block"
    return txs


def test_restriction_mode_after_a_liquidation(protocol, fund_trader, alice, bob, carol, keeper, owner):
    d = protocol
    ch, amm = d.clearing_house, d.amm
    dave = keeper
    for t in (alice, bob, carol, dave):
        fund_trader(t, wad(1_000))
    d.quote_token.mint(owner, wad(100), {"from": owner})
    d.quote_token.approve(d.insurance_fund, wad(100), {"from": owner})
    d.insurance_fund.deposit(wad(100), {"from": owner})
    ch.openPosition(amm, BUY, wad(10), wad(2), 0, {"from": alice})  # alice holds a long from an earlier block
    # dave goes long, carol crashes the price, 15 minutes pass: dave is liquidatable
    ch.openPosition(amm, BUY, wad(25), wad(10), 0, {"from": dave})
    ch.openPosition(amm, SELL, wad(5), wad(10), 0, {"from": carol})
    chain.sleep(900)
    set_index(d.aggregators["ETH"], amm.getSpotPrice(), owner)
    assert ch.getMarginRatio(amm, dave) < ch.maintenanceMarginRatio()

    txs = send_in_one_block(
        [
            (ch.openPosition, (amm, BUY, wad(1), wad(2), 0), alice),  # 0 before the liquidation: allowed
            (ch.openPosition, (amm, BUY, wad(1), wad(2), 0), alice),  # 1 still no restriction: allowed
            (ch.liquidate, (amm, dave), carol),  # 2 restriction mode from here on
            (ch.openPosition, (amm, BUY, wad(1), wad(2), 0), alice),  # 3 alice acted in this block: refused
            (ch.closePosition, (amm, 0), alice),  # 4 refused
            (ch.openPosition, (amm, BUY, wad(1), wad(2), 0), dave),  # 5 liquidated in this block: refused
            (ch.openPosition, (amm, BUY, wad(1), wad(2), 0), bob),  # 6 first action in this block: allowed
            (ch.openPosition, (amm, BUY, wad(1), wad(2), 0), bob),  # 7 bob has now acted: refused
            (ch.openPosition, (amm, SELL, wad(1), wad(2), 0), carol),  # 8 the liquidator's position is untouched (v1)
            (ch.addMargin, (amm, wad(1)), alice),  # 9 margin changes are not restricted (v1)
        ]
    )
    assert [tx.status for tx in txs] == [1, 1, 1, 0, 0, 0, 1, 0, 1, 1]
    for i in (3, 4, 5, 7):
        assert txs[i].revert_msg.split(":")[0] == "RestrictionMode", (i, txs[i].revert_msg)
    assert "MarketHalted" not in txs[2].events
    block = txs[2].block_number
    assert event(txs[2], "RestrictionModeEntered") == {"amm": amm.address, "blockNumber": block}
    assert ch.getMarket(amm)[2] == block
    assert ch.getPosition(amm, dave)[0] == 0

    # the next block: everyone may act again
    ch.closePosition(amm, 0, {"from": alice})
    ch.openPosition(amm, BUY, wad(1), wad(2), 0, {"from": dave})
    ch.openPosition(amm, BUY, wad(1), wad(2), 0, {"from": bob})
    assert ch.getPosition(amm, alice)[0] == 0


def test_no_restriction_without_a_liquidation(protocol, fund_trader, alice):
    d = protocol
    ch, amm = d.clearing_house, d.amm
    fund_trader(alice, wad(1_000))
    txs = send_in_one_block(
        [
            (ch.openPosition, (amm, BUY, wad(1), wad(2), 0), alice),
            (ch.openPosition, (amm, BUY, wad(1), wad(2), 0), alice),
            (ch.closePosition, (amm, 0), alice),
            (ch.openPosition, (amm, SELL, wad(1), wad(2), 0), alice),
        ]
    )
    assert [tx.status for tx in txs] == [1, 1, 1, 1]
