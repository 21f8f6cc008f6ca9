"""Same-block attacks: the sandwich and self-liquidation for profit.

Several transactions go into one block (tests/security/blocks.py: automine off, then one `evm_mine`), in
the order an attacker who controls the block's ordering would choose. The defences under test:
- the victim's own slippage limit (`baseAssetAmountLimit`);
- the fluctuation limit: within a block, every trade executes within ±limit of the price at the block's start;
- the mark TWAP in the liquidation margin ratio (the more favourable of spot and 15-minute TWAP): a price
  pushed inside a block has no weight in the TWAP yet, so it cannot make a healthy position liquidatable;
- restriction mode: after a liquidation, whoever already traded in the block cannot trade again in it, so the
  pusher cannot unwind in the block where the liquidation happened.

Each attack is measured as the attackers' total wealth (free vault balances once every position is closed),
which must not grow; the first test shows the same measurement does catch a profitable sandwich.
"""

from __future__ import annotations

from typing import Any

from brownie import chain

from perp_ops.deploy import deploy_protocol
from tests.helpers import BUY, SELL, wad
from tests.integration.risk_helpers import assert_reconciles, event, set_index
from tests.security.blocks import call, send_in_one_block
from tests.trading import input_price, mul, next_second

FLUCTUATION = 12 * 10**15  # 1.2 %


def _wealth(d: Any, traders: list[Any]) -> int:
    return sum(d.vault.balanceOfWad(t) for t in traders)


def _fund(d: Any, traders: list[Any], amount: int = wad(1_000)) -> None:
    for t in traders:
        d.quote_token.mint(t, amount, {"from": t})
        d.quote_token.approve(d.vault, amount, {"from": t})
        d.vault.deposit(amount, {"from": t})


def _sandwich(d: Any, attacker: Any, victim: Any, front: tuple[int, int], victim_trade: tuple[int, int, int]) -> list[Any]:
    ch, amm = d.clearing_house, d.amm
    return send_in_one_block(
        [
            call(ch.openPosition, amm, BUY, front[0], front[1], 0, sender=attacker),
            call(ch.openPosition, amm, BUY, *victim_trade, sender=victim),
            call(ch.closePosition, amm, 0, sender=attacker),
        ]
    )


def test_an_unprotected_sandwich_profits(protocol, alice, bob, fund_deposit):
    """The threat, and proof that the measurement catches it: no slippage limit, no fluctuation limit. The
    attacker's profit is the victim's unrealised loss, more than the market holds until the victim closes: the
    InsuranceFund prepays it (with an empty fund the attacker's close is refused, tests/security/test_solvency.py)."""
    d = protocol
    _fund(d, [alice, bob])
    fund_deposit(wad(1_000))
    start = _wealth(d, [bob])
    txs = _sandwich(d, bob, alice, (wad(20), wad(10)), (wad(10), wad(10), 0))
    assert [tx.status for tx in txs] == [1, 1, 1]
    assert _wealth(d, [bob]) - start > wad(30)  # ~31.5 taken from the victim's execution price


def test_a_slippage_limit_defeats_the_sandwich(protocol, alice, bob):
    """The victim asks for the base quoted before the block: the front-run makes its trade revert, and the
    attacker's round trip alone cannot profit."""
    d = protocol
    _fund(d, [alice, bob])
    q, b = d.amm.getReserve()
    quoted = input_price(True, wad(100), q, b)
    start_attacker, start_victim = _wealth(d, [bob]), _wealth(d, [alice])
    txs = _sandwich(d, bob, alice, (wad(20), wad(10)), (wad(10), wad(10), quoted * 995 // 1000))
    assert [tx.status for tx in txs] == [1, 0, 1]
    assert txs[1].revert_msg.split(":")[0] == "SlippageExceeded"
    assert _wealth(d, [bob]) <= start_attacker
    assert _wealth(d, [alice]) == start_victim
    assert d.clearing_house.getPosition(d.amm, alice)[0] == 0


def test_the_fluctuation_limit_bounds_what_a_block_can_do_to_a_trade(owner, alice, bob):
    """With a 1.2 % fluctuation limit, a front-run that moves the price more reverts; one that fits leaves the
    victim a trade that executes within 1.2 % of the block's opening price, or reverts."""
    d = deploy_protocol({"fluctuation_limit_ratio": FLUCTUATION}, owner)
    ch, amm = d.clearing_house, d.amm
    _fund(d, [alice, bob])
    next_second()
    open_price = amm.getSpotPrice()
    start_attacker, start_victim = _wealth(d, [bob]), _wealth(d, [alice])

    # a large front-run: refused; the victim's trade then runs at the undisturbed price
    txs = _sandwich(d, bob, alice, (wad(20), wad(10)), (wad("0.5"), wad(10), 0))
    assert [tx.status for tx in txs] == [0, 1, 0]
    assert txs[0].revert_msg.split(":")[0] == "FluctuationLimitExceeded"
    assert txs[2].revert_msg.split(":")[0] == "NoPosition"
    ch.closePosition(amm, 0, {"from": alice})
    next_second()

    # a front-run that fits the limit: the victim's trade that would cross it reverts (the victim keeps its money)
    open_price = amm.getSpotPrice()
    txs = _sandwich(d, bob, alice, (wad("0.5"), wad(10)), (wad(10), wad(10), 0))
    assert [tx.status for tx in txs] == [1, 0, 1]
    assert txs[1].revert_msg.split(":")[0] == "FluctuationLimitExceeded"
    next_second()

    # a victim's trade small enough to fit: its execution price stays within the limit of the opening price
    open_price = amm.getSpotPrice()
    txs = _sandwich(d, bob, alice, (wad("0.2"), wad(10)), (wad("0.1"), wad(10), 0))
    assert [tx.status for tx in txs] == [1, 1, 1]
    victim = txs[1].events["PositionChanged"][0]
    execution_price = victim["positionNotional"] * 10**18 // victim["exchangedPositionSize"]
    assert execution_price <= open_price * (10**18 + FLUCTUATION) // 10**18
    ch.closePosition(amm, 0, {"from": alice})
    # the attacker's gain is bounded by the limit times the victim's notional (1 quote unit here)
    assert _wealth(d, [bob]) - start_attacker <= wad(1) * FLUCTUATION // 10**18
    assert _wealth(d, [alice]) >= start_victim - wad(1) * FLUCTUATION // 10**18


def _liquidatable_setup(
    d: Any, owner: Any, victim: Any, pusher: Any, liquidator: Any, margin: int = wad(10), leverage: int = wad(20)
) -> None:
    """The attackers' own position: `victim` holds a long opened 15 minutes ago (the TWAP has seen it)."""
    _fund(d, [victim, pusher, liquidator])
    d.quote_token.mint(owner, wad(100), {"from": owner})
    d.quote_token.approve(d.insurance_fund, wad(100), {"from": owner})
    d.insurance_fund.deposit(wad(100), {"from": owner})
    d.clearing_house.openPosition(d.amm, BUY, margin, leverage, 0, {"from": victim})
    chain.sleep(900)
    chain.mine()


def test_a_price_pushed_inside_a_block_cannot_make_a_position_liquidatable(protocol, owner, alice, bob, carol):
    """Self-liquidation for profit: the attackers push the price, liquidate their own 20x long (collecting the
    fee, leaving the bad debt to the InsuranceFund) and unwind, all in one block. The mark TWAP has not seen the
    pushed price, so the liquidation is refused; the attackers end no richer and the fund loses nothing."""
    d = protocol
    ch, amm = d.clearing_house, d.amm
    attackers = [alice, bob, carol]
    _liquidatable_setup(d, owner, alice, bob, carol)
    set_index(d.aggregators["ETH"], amm.getSpotPrice(), owner)
    start, fund = _wealth(d, attackers) + ch.getPosition(amm, alice)[1], d.vault.balanceOfWad(d.insurance_fund)
    txs = send_in_one_block(
        [
            call(ch.openPosition, amm, SELL, wad(100), wad(5), 0, sender=bob),  # crash the spot price
            call(ch.liquidate, amm, alice, sender=carol),
            call(ch.closePosition, amm, 0, sender=bob),
        ]
    )
    assert [tx.status for tx in txs] == [1, 0, 1]
    assert txs[1].revert_msg.split(":")[0] == "MarginRatioHealthy"
    ch.closePosition(amm, 0, {"from": alice})
    assert _wealth(d, attackers) <= start
    assert d.vault.balanceOfWad(d.insurance_fund) >= fund


def test_the_pusher_cannot_unwind_in_the_liquidation_block(protocol, owner, alice, bob, carol):
    """When the position is liquidatable already (the price has been low for 15 minutes), an attacker who pushes
    the price further in the liquidation's block, to deepen the bad debt its counter-position profits from, is
    stuck in it until the next block (restriction mode), exposed to every arbitrageur."""
    d = protocol
    ch, amm = d.clearing_house, d.amm
    _liquidatable_setup(d, owner, alice, bob, carol)
    ch.openPosition(amm, SELL, wad(5), wad(10), 0, {"from": carol})  # a third party's crash, 15 minutes long
    chain.sleep(900)
    set_index(d.aggregators["ETH"], amm.getSpotPrice(), owner)
    assert ch.getMarginRatio(amm, alice) < ch.maintenanceMarginRatio()
    txs = send_in_one_block(
        [
            call(ch.openPosition, amm, SELL, wad(5), wad(10), 0, sender=bob),  # spot stays within 10 % of the index
            call(ch.liquidate, amm, alice, sender=carol),
            call(ch.closePosition, amm, 0, sender=bob),
            call(ch.openPosition, amm, BUY, wad(5), wad(10), 0, sender=bob),
        ]
    )
    assert [tx.status for tx in txs] == [1, 1, 0, 0], [tx.revert_msg for tx in txs]
    assert [tx.revert_msg.split(":")[0] for tx in txs[2:]] == ["RestrictionMode", "RestrictionMode"]
    assert ch.getPosition(amm, bob)[0] < 0
    ch.closePosition(amm, 0, {"from": bob})  # the next block


def test_the_fluctuation_limit_stops_the_push(owner, alice, bob, carol):
    """With a fluctuation limit the push itself is refused: a block can move the price by 1.2 % at most, far
    less than the 5 % a 10x long can lose before it is liquidatable."""
    d = deploy_protocol({"fluctuation_limit_ratio": FLUCTUATION}, owner)
    ch, amm = d.clearing_house, d.amm
    # 5 of notional at 10x fits the limit (at 20x, with v1's 5 % initial = maintenance ratio, the closing
    # slippage alone leaves a position liquidatable: test_self_liquidation_at_once_loses_money)
    _liquidatable_setup(d, owner, alice, bob, carol, margin=wad("0.5"), leverage=wad(10))
    txs = send_in_one_block(
        [
            call(ch.openPosition, amm, SELL, wad(20), wad(5), 0, sender=bob),
            call(ch.liquidate, amm, alice, sender=carol),
        ]
    )
    assert [tx.status for tx in txs] == [0, 0]
    assert txs[0].revert_msg.split(":")[0] == "FluctuationLimitExceeded"
    assert txs[1].revert_msg.split(":")[0] == "MarginRatioHealthy"


def test_self_liquidation_at_once_loses_money(protocol, owner, alice, bob):
    """With v1's defaults (initial = maintenance margin ratio = 5 %) a position opened at 20x is liquidatable at
    once by a few wei (closing it would slip). Liquidating it oneself in the same block pays the liquidator half
    the penalty and the rest of the margin to the InsuranceFund: the attackers lose, the fund gains."""
    d = protocol
    ch, amm = d.clearing_house, d.amm
    _fund(d, [alice, bob])
    start, fund = _wealth(d, [alice, bob]), d.vault.balanceOfWad(d.insurance_fund)
    txs = send_in_one_block(
        [
            call(ch.openPosition, amm, BUY, wad(10), wad(20), 0, sender=alice),
            call(ch.liquidate, amm, alice, sender=bob),
        ]
    )
    assert [tx.status for tx in txs] == [1, 1]
    assert ch.getPosition(amm, alice)[0] == 0
    loss = start - _wealth(d, [alice, bob])
    assert loss > wad(4)  # the margin (10) less the liquidator's fee (200 * 5 % / 2 = 5), less slippage
    gain = d.vault.balanceOfWad(d.insurance_fund) - fund
    assert 0 < loss - gain < 100  # the pool's rounding (against the trader) stays in the market's collateral
    assert ch.getMarket(amm)[1] == loss - gain


def _funding_due_with_longs_receiving(d: Any, alice: Any, bob: Any, owner: Any) -> None:
    """alice long 100 notional, bob short 20; the index far above the mark (the shorts pay the longs); the
    funding payment is due."""
    ch, amm = d.clearing_house, d.amm
    ch.openPosition(amm, BUY, wad(50), wad(2), 0, {"from": alice})
    ch.openPosition(amm, SELL, wad(10), wad(2), 0, {"from": bob})
    set_index(d.aggregators["ETH"], wad(30), owner)
    chain.sleep(amm.nextFundingTime() - chain.time() + 1)


def _snipe(d: Any, sniper: Any, keeper: Any) -> list[Any]:
    """The sniper joins the receiving side, funding is paid, the sniper leaves: one block, in that order."""
    ch, amm = d.clearing_house, d.amm
    return send_in_one_block(
        [
            call(ch.openPosition, amm, BUY, wad(300), wad(5), 0, sender=sniper),
            call(ch.payFunding, amm, sender=keeper),
            call(ch.closePosition, amm, 0, sender=sniper),
        ]
    )


def test_a_same_block_funding_sniper_with_an_empty_fund_only_dilutes_the_receivers(protocol, owner, alice, bob, carol, keeper, rando):
    """Snapshot funding (v1's, `continuous_funding` 0) pays a whole period to whoever holds a position at
    `payFunding`, so joining the receiving side for the one block of the payment collects a share of it (issue 12,
    item 4: what the continuous mode is for). With an empty InsuranceFund the share comes only out of what the
    payers pay: the other receivers get less, and nothing else moves. No deposit, no fund money, no market halt."""
    d = protocol
    ch, amm = d.clearing_house, d.amm
    _fund(d, [alice, bob, carol, rando])
    _funding_due_with_longs_receiving(d, alice, bob, owner)
    assert d.insurance_fund.fundBalance() == 0
    alice_size, bob_size = ch.getPosition(amm, alice)[0], -ch.getPosition(amm, bob)[0]
    sniper_before, bystander_before = d.vault.balanceOfWad(carol), d.vault.balanceOfWad(rando)

    opened, paid, closed = _snipe(d, carol, keeper)
    assert opened.status == paid.status == closed.status == 1
    sniper_size = opened.events["PositionChanged"]["exchangedPositionSize"]
    pf = paid.events["FundingPaid"]["premiumFraction"]
    assert pf < 0 and "FundingShortfall" in paid.events and "MarketHalted" not in paid.events
    sniper_received = -closed.events["PositionChanged"]["fundingPayment"]
    bob_pays = mul(pf, -bob_size)
    # the sniper's receipt is its share of the payers' payment, rounded down, and no more
    assert 0 < sniper_received <= bob_pays * sniper_size // (alice_size + sniper_size)
    assert d.vault.balanceOfWad(carol) - sniper_before <= sniper_received  # the round trip itself earned nothing
    assert d.insurance_fund.fundBalance() == 0 and amm.open() and not amm.isShutdown()

    # the payers pay in full, the receivers together get at most that: the sniper's gain is alice's loss
    assert event(ch.closePosition(amm, 0, {"from": bob}), "PositionChanged")["fundingPayment"] == bob_pays
    alice_received = -event(ch.closePosition(amm, 0, {"from": alice}), "PositionChanged")["fundingPayment"]
    assert alice_received + sniper_received <= bob_pays
    assert d.vault.balanceOfWad(rando) == bystander_before  # a bystander's deposit is untouched, and withdrawable
    d.vault.withdraw(d.vault.balanceOf(rando), {"from": rando})
    assert ch.getMarket(amm)[1] >= 0
    assert_reconciles(d, [alice, bob, carol, keeper, rando, owner], exact=True)


def test_a_same_block_funding_sniper_takes_at_most_the_funds_surplus(protocol, owner, alice, bob, carol, keeper, rando, fund_deposit):
    """With money in the InsuranceFund the sniper's share of the imbalance is paid by the fund: out of its
    surplus only, so a sniper can take no more than that (bounded per period by the funding-rate cap), never a
    trader's deposit. What it takes is v1's snapshot-funding exposure, documented in docs/security.md §5."""
    d = protocol
    ch, amm = d.clearing_house, d.amm
    _fund(d, [alice, bob, carol, rando])
    fund_deposit(wad(5))
    _funding_due_with_longs_receiving(d, alice, bob, owner)
    surplus_before = d.insurance_fund.surplus()
    bystander_before = d.vault.balanceOfWad(rando)

    opened, paid, closed = _snipe(d, carol, keeper)
    assert opened.status == paid.status == closed.status == 1
    fund_paid = surplus_before - d.insurance_fund.surplus()
    assert 0 < fund_paid <= surplus_before
    assert "MarketHalted" not in paid.events and amm.open()
    ch.closePosition(amm, 0, {"from": bob})
    ch.closePosition(amm, 0, {"from": alice})
    assert d.vault.balanceOfWad(rando) == bystander_before
    assert ch.getMarket(amm)[1] >= 0
    assert_reconciles(d, [alice, bob, carol, keeper, rando, owner], exact=True)
