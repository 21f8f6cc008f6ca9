"""Keeper bots on chain: for each, a scenario where it must act and one where it must not."""

from __future__ import annotations

import logging

import pytest
from brownie import chain, web3

from perp_ops.console import record_dev_deployment
from perp_ops.keepers import arbitrageur, funding, liquidator
from perp_ops.keepers.common import run_loop
from tests.helpers import BUY, SELL, wad
from tests.integration.perp_clients import anvil_key, client_as


@pytest.fixture
def bot(protocol, keeper):
    return client_as(protocol, keeper)


@pytest.fixture
def fund_insurance(protocol, owner):
    def _fund(amount: int) -> None:
        protocol.quote_token.mint(owner, amount, {"from": owner})
        protocol.quote_token.approve(protocol.insurance_fund, amount, {"from": owner})
        protocol.insurance_fund.deposit(amount, {"from": owner})

    return _fund


# ------------------------------------------------------------------------------------------------ funding


def test_funding_waits_until_due(protocol, bot, rando):
    # pay this period by hand: the next one is then at least half a period away, whatever the clock says
    chain.sleep(3601)
    chain.mine()
    protocol.clearing_house.payFunding(protocol.amm, {"from": rando})
    before = protocol.amm.nextFundingTime()
    assert before > chain.time() + 1800 - 60
    assert funding.run_once(bot) == []
    assert protocol.amm.nextFundingTime() == before


def test_funding_pays_when_due(protocol, bot):
    before = protocol.amm.nextFundingTime()
    chain.sleep(3601)
    chain.mine()
    (action,) = funding.run_once(bot)
    assert (action.kind, action.market) == ("pay_funding", "ETH") and action.tx_hash
    assert protocol.amm.nextFundingTime() > before
    assert funding.run_once(bot) == []  # the next period is not due yet


# --------------------------------------------------------------------------------------------- liquidator


def test_liquidator_leaves_healthy_positions(protocol, bot, alice, fund_trader):
    fund_trader(alice, wad(100))
    protocol.clearing_house.openPosition(protocol.amm, BUY, wad(25), wad(10), 0, {"from": alice})
    state = liquidator.LiquidatorState()
    assert liquidator.run_once(bot, state) == []
    assert state.index is not None and set(state.index.open_positions("ETH")) == {alice.address}
    assert protocol.clearing_house.getPosition(protocol.amm, alice)[0] > 0


def test_liquidator_liquidates_under_water_longs(protocol, bot, keeper, alice, bob, carol, fund_trader, fund_insurance):
    ch, amm = protocol.clearing_house, protocol.amm
    fund_insurance(wad(1000))
    for trader in (alice, carol):
        fund_trader(trader, wad(100))
        ch.openPosition(amm, BUY, wad(25), wad(10), 0, {"from": trader})
    fund_trader(bob, wad(1000))
    ch.openPosition(amm, SELL, wad(100), wad(5), 0, {"from": bob})  # mark 22.5 → 10
    chain.sleep(15 * 60)  # let the 15-minute mark TWAP (the margin ratio takes the better of it and spot) settle
    chain.mine()
    assert all(ch.getMarginRatio(amm, t) < wad("0.05") for t in (alice, carol))
    state = liquidator.LiquidatorState()
    actions = liquidator.run_once(bot, state)
    assert sorted(a.detail.split()[0] for a in actions) == sorted([alice.address, carol.address])
    assert all(a.kind == "liquidate" for a in actions)
    assert ch.getPosition(amm, alice)[0] == ch.getPosition(amm, carol)[0] == 0
    assert state.profit == protocol.vault.balanceOfWad(keeper) > 0
    fees = [e.liquidation_fee for e in bot.liquidations()]
    assert sum(fees) == state.profit
    assert liquidator.run_once(bot, state) == []  # nothing left, and bob is healthy


def under_water(protocol, traders, bob, fund_trader, fund_insurance) -> None:
    """`traders` long at 10x, then bob's big short and 15 minutes: every one of them is below maintenance."""
    ch, amm = protocol.clearing_house, protocol.amm
    fund_insurance(wad(1000))
    for trader in traders:
        fund_trader(trader, wad(100))
        ch.openPosition(amm, BUY, wad(25), wad(10), 0, {"from": trader})
    fund_trader(bob, wad(1000))
    ch.openPosition(amm, SELL, wad(100), wad(5), 0, {"from": bob})
    chain.sleep(15 * 60)
    chain.mine()
    assert all(ch.getMarginRatio(amm, t) < wad("0.05") for t in traders)


def test_a_rival_liquidation_between_the_scan_and_the_send_does_not_abort_the_pass(
    protocol, bot, alice, bob, carol, rando, fund_trader, fund_insurance
):
    under_water(protocol, (alice, carol), bob, fund_trader, fund_insurance)
    ch, amm = protocol.clearing_house, protocol.amm
    real = bot.liquidate

    def rival_first(symbol, trader):
        if trader == alice.address:  # another liquidator takes alice after our scan read her ratio
            ch.liquidate(amm, alice, {"from": rando})
        return real(symbol, trader)

    bot.liquidate = rival_first
    actions = liquidator.run_once(bot)
    assert [a.detail.split()[0] for a in actions] == [carol.address]
    assert ch.getPosition(amm, carol)[0] == 0


def test_a_position_reorged_into_a_scanned_block_is_found(protocol, bot, alice, bob, fund_trader, fund_insurance):
    ch, amm = protocol.clearing_house, protocol.amm
    snap = web3.provider.make_request("evm_snapshot", [])["result"]  # brownie's chain.snapshot() is the isolation's
    for _ in range(12):
        chain.mine()
    state = liquidator.LiquidatorState()
    assert liquidator.run_once(bot, state) == []  # the index has read up to here
    scanned = web3.eth.block_number
    assert web3.provider.make_request("evm_revert", [snap])["result"]
    under_water(protocol, (alice,), bob, fund_trader, fund_insurance)  # in blocks the last pass already read
    assert web3.eth.block_number <= scanned
    (action,) = liquidator.run_once(bot, state)
    assert action.detail.startswith(alice.address) and ch.getPosition(amm, alice)[0] == 0


# ------------------------------------------------------------------------------------------- arbitrageur


def test_arbitrageur_does_nothing_at_the_index(protocol, bot, keeper, fund_trader):
    fund_trader(keeper, wad(1000))
    assert protocol.amm.getSpotPrice() == protocol.amm.getUnderlyingPrice()
    assert arbitrageur.run_once(bot) == []


def test_arbitrageur_does_nothing_when_fees_eat_the_edge(protocol, bot, owner, keeper, fund_trader):
    fund_trader(keeper, wad(1000))
    protocol.amm.setRatios(9 * 10**17, 0, wad("0.01"), 0, {"from": owner})
    protocol.aggregators["ETH"].updateAnswer(990_000_000, {"from": owner})  # index 9.9: 1 % below the mark
    opportunity = arbitrageur.find_opportunity(bot, "ETH", arbitrageur.ArbParams())
    assert opportunity is not None and opportunity.expected_profit < 0
    assert arbitrageur.run_once(bot) == []
    assert protocol.clearing_house.getPosition(protocol.amm, keeper)[0] == 0


def test_arbitrageur_sells_the_mark_down_to_the_index(protocol, bot, owner, keeper, fund_trader):
    fund_trader(keeper, wad(1000))
    protocol.aggregators["ETH"].updateAnswer(800_000_000, {"from": owner})  # index 8, mark 10
    (action,) = arbitrageur.run_once(bot)
    assert (action.kind, action.market) == ("arbitrage", "ETH") and "short" in action.detail
    assert protocol.clearing_house.getPosition(protocol.amm, keeper)[0] < 0
    mark = protocol.amm.getSpotPrice()
    assert abs(mark - wad(8)) * 1000 < wad(8)  # within 0.1 % of the index
    assert arbitrageur.run_once(bot) == []


# ---------------------------------------------------------------------------------------------- the CLIs


def test_cli_once_and_bad_input(protocol, keeper, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("DEPLOYMENTS_DIR", str(tmp_path))
    path = record_dev_deployment(protocol)
    rpc = web3.provider.endpoint_uri
    base = ["--rpc", rpc, "--deployment", str(path), "--once"]
    caplog.set_level(logging.INFO)
    nonce = web3.eth.get_transaction_count(keeper.address)
    monkeypatch.setenv("PRIVATE_KEY", "")
    assert liquidator.main(base) == 2
    assert "$PRIVATE_KEY is not set" in caplog.text
    monkeypatch.setenv("PRIVATE_KEY", "0x1234")
    assert funding.main(base) == 2
    assert "private key is not valid" in caplog.text
    monkeypatch.setenv("PRIVATE_KEY", anvil_key(4))
    assert funding.main([*base, "--markets", "DOGE"]) == 2
    assert "unknown market 'DOGE'" in caplog.text
    assert arbitrageur.main([*base, "--deployment", str(tmp_path / "none.json")]) == 2
    assert "no deployment file" in caplog.text
    assert web3.eth.get_transaction_count(keeper.address) == nonce  # nothing was sent
    assert funding.main(base) == 0
    assert liquidator.main(base) == 0
    assert arbitrageur.main([*base, "--leverage", "3"]) == 0


def test_loop_stops_on_ctrl_c(caplog):
    def interrupted():
        raise KeyboardInterrupt

    caplog.set_level(logging.INFO)
    assert run_loop(logging.getLogger("test"), False, 0.0, interrupted) == 0
    assert "stopped (Ctrl-C)" in caplog.text
