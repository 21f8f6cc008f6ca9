"""Griefing: the liquidated trader cannot block its liquidation.

What the trader controls: its own transactions in the liquidation's block (before it, in any order), its
address (a contract with hooks, on a token with hooks), and other positions of its own. None stops the
liquidation:
- a liquidation reads no restriction on the liquidated trader, so trading or adding too little margin first in
  the same block changes nothing;
- a liquidation moves no tokens (the liquidator's fee and the fund's share are Vault ledger entries), so a
  trader contract whose token hook reverts is liquidated all the same;
- an InsuranceFund too small for the bad debt does not make the liquidation revert: the market halts
  (shutdown, then settlement) instead;
- the one lever left is the fluctuation limit: a close that crosses it freezes the market for the rest of the
  block, liquidations included. That delays a liquidation by one block, once per position large enough to cross
  the limit, which the trader must have built over several earlier blocks (docs/security.md: limitations).
"""

from __future__ import annotations

from typing import Any

from brownie import HookERC20, ReentrantAttacker, chain

from perp_ops.deploy import deploy_protocol
from tests.helpers import BUY, SELL, wad
from tests.integration.risk_helpers import set_index
from tests.security.blocks import call, send_in_one_block
from tests.trading import next_second


def _fund(d: Any, traders: list[Any], amount: int = wad(10_000)) -> None:
    for t in traders:
        d.quote_token.mint(t, amount, {"from": t})
        d.quote_token.approve(d.vault, amount, {"from": t})
        d.vault.deposit(amount, {"from": t})


def _fund_insurance(d: Any, owner: Any, amount: int = wad(100)) -> None:
    d.quote_token.mint(owner, amount, {"from": owner})
    d.quote_token.approve(d.insurance_fund, amount, {"from": owner})
    d.insurance_fund.deposit(amount, {"from": owner})


def _crash_until_liquidatable(d: Any, owner: Any, victim: Any, crasher: Any) -> None:
    ch, amm = d.clearing_house, d.amm
    ch.openPosition(amm, SELL, wad(20), wad(5), 0, {"from": crasher})
    chain.sleep(900)
    set_index(d.aggregators["ETH"], amm.getSpotPrice(), owner)
    assert ch.getMarginRatio(amm, victim) < ch.maintenanceMarginRatio()


def test_acting_first_in_the_block_does_not_save_the_position(protocol, owner, alice, bob, keeper):
    d = protocol
    ch, amm = d.clearing_house, d.amm
    _fund(d, [alice, bob])
    _fund_insurance(d, owner)
    ch.openPosition(amm, BUY, wad(10), wad(10), 0, {"from": alice})
    _crash_until_liquidatable(d, owner, alice, bob)
    txs = send_in_one_block(
        [
            call(ch.addMargin, amm, wad("0.01"), sender=alice),  # too little to be healthy
            call(ch.openPosition, amm, BUY, wad(1), wad(1), 0, sender=alice),  # refused: under water
            call(ch.closePosition, amm, 0, sender=alice),  # refused: bad debt
            call(ch.liquidate, amm, alice, sender=keeper),
        ]
    )
    assert [tx.status for tx in txs] == [1, 0, 0, 1]
    assert [tx.revert_msg.split(":")[0] for tx in txs[1:3]] == ["MarginRatioTooLow", "BadDebt"]
    assert ch.getPosition(amm, alice)[0] == 0
    assert "PositionLiquidated" in txs[3].events


def test_a_hostile_trader_contract_is_liquidated_all_the_same(owner, alice, bob, keeper):
    """The trader is a contract on a token that calls it on every transfer, armed to revert: a liquidation
    transfers no token, so the hook never runs."""
    token = HookERC20.deploy(18, {"from": owner})
    d = deploy_protocol(deployer=owner, quote_token=token)
    ch, amm, vault = d.clearing_house, d.amm, d.vault
    _fund(d, [bob])
    _fund_insurance(d, owner)
    trader = ReentrantAttacker.deploy({"from": alice})
    token.mint(trader, wad(100), {"from": alice})
    trader.execute(token, token.approve.encode_input(vault, wad(100)), {"from": alice})
    trader.execute(vault, vault.deposit.encode_input(wad(100)), {"from": alice})
    trader.execute(ch, ch.openPosition.encode_input(amm, BUY, wad(10), wad(10), 0), {"from": alice})
    _crash_until_liquidatable(d, owner, trader, bob)
    # from now on any transfer reverts: the hook re-enters with a withdrawal the trader cannot cover
    trader.arm(vault, vault.withdraw.encode_input(wad(10**9)), {"from": alice})
    token.setHook(trader, True, {"from": alice})
    tx = ch.liquidate(amm, trader, {"from": keeper})
    assert "PositionLiquidated" in tx.events
    assert ch.getPosition(amm, trader)[0] == 0
    assert trader.armed() and trader.reentered() == 0


def test_an_empty_insurance_fund_halts_the_market_instead_of_blocking(protocol, owner, alice, bob, keeper):
    """Bad debt beyond the InsuranceFund: the liquidation goes through and the market halts (fail safe)."""
    d = protocol
    ch, amm = d.clearing_house, d.amm
    _fund(d, [alice, bob])
    assert d.vault.balanceOfWad(d.insurance_fund) == 0
    ch.openPosition(amm, BUY, wad(10), wad(10), 0, {"from": alice})
    _crash_until_liquidatable(d, owner, alice, bob)
    tx = ch.liquidate(amm, alice, {"from": keeper})
    assert "PositionLiquidated" in tx.events
    assert tx.events["PositionChanged"][0]["badDebt"] > 0
    assert "MarketHalted" in tx.events
    assert amm.isShutdown()


def test_freezing_the_block_delays_a_liquidation_by_one_block_only(owner, alice, bob, carol, keeper):
    """With a 5 % fluctuation limit, the trader's accomplice (carol) builds a long over two blocks, each within
    the limit, and closes it at once in the liquidation's block: the close may cross the limit, once, and the
    market is frozen for the rest of that block, so the liquidation reverts. In the next block it goes through.
    """
    d = deploy_protocol(
        {"fluctuation_limit_ratio": 5 * 10**16, "quote_asset_reserve": wad(100_000), "base_asset_reserve": wad(10_000)},
        owner,
    )
    ch, amm = d.clearing_house, d.amm
    _fund(d, [alice, bob, carol])
    _fund_insurance(d, owner)
    ch.openPosition(amm, BUY, wad(10), wad(10), 0, {"from": alice})
    for _ in range(2):
        next_second()
        ch.openPosition(amm, BUY, wad(700), wad(2), 0, {"from": carol})  # +2.8 % each block
    for _ in range(4):
        next_second()
        ch.openPosition(amm, SELL, wad(150), wad(10), 0, {"from": bob})  # -3 % each block
    chain.sleep(900)
    set_index(d.aggregators["ETH"], amm.getSpotPrice(), owner)
    assert ch.getMarginRatio(amm, alice) < ch.maintenanceMarginRatio()
    next_second()
    txs = send_in_one_block(
        [
            call(ch.closePosition, amm, 0, sender=carol),  # -5.6 %: crosses the limit, once
            call(ch.liquidate, amm, alice, sender=keeper),
        ]
    )
    assert [tx.status for tx in txs] == [1, 0], [tx.revert_msg for tx in txs]
    assert txs[1].revert_msg.split(":")[0] == "FluctuationLimitExceeded"
    next_second()
    tx = ch.liquidate(amm, alice, {"from": keeper})
    assert "PositionLiquidated" in tx.events
