"""Bad oracle answers reach no number of the protocol.

The price feed's own rejections (stale, zero, negative, incomplete rounds, in `getPrice` and in every round of
`getTwapPrice`) are unit-tested in tests/unit/test_price_feed.py. Here the whole protocol runs on a market whose
aggregator starts answering badly, with a 1-hour staleness limit (as on the live networks): every action that
reads the index (funding, liquidation, opening and increasing, the margin-ratio view) reverts with the error that
names the bad answer and changes nothing; reducing, which reads only the pool, goes on; once the oracle answers
well again,
everything resumes (funding only once no bad round is left in its one-period TWAP window).

Fail-closed liquidations are v1's behaviour and a known limitation (docs/security.md): during an oracle outage
no position can be liquidated, so the owner should pause trading.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from brownie import chain, web3

from perp_ops.deploy import Deployment, deploy_protocol
from tests.helpers import BUY, SELL, reverts_with, wad
from tests.integration.risk_helpers import latest_ts, set_index
from tests.trading import assert_unchanged, capture_state

STALENESS = 3_600
DECIMALS = 8


@dataclass
class Ctx:
    d: Deployment
    owner: Any
    alice: Any  # long 10 at 10x, under water: liquidatable
    bob: Any
    keeper: Any

    @property
    def aggregator(self) -> Any:
        return self.d.aggregators["ETH"]

    def price(self) -> int:
        """The crashed spot price in the aggregator's decimals."""
        return self.d.amm.getSpotPrice() * 10**DECIMALS // 10**18


@pytest.fixture(scope="module")
def ctx(owner, alice, bob, keeper) -> Ctx:
    d = deploy_protocol({"max_oracle_staleness": STALENESS}, owner)
    ch, amm = d.clearing_house, d.amm
    for t in (alice, bob):
        d.quote_token.mint(t, wad(1_000), {"from": t})
        d.quote_token.approve(d.vault, wad(1_000), {"from": t})
        d.vault.deposit(wad(1_000), {"from": t})
    d.quote_token.mint(owner, wad(100), {"from": owner})
    d.quote_token.approve(d.insurance_fund, wad(100), {"from": owner})
    d.insurance_fund.deposit(wad(100), {"from": owner})
    ch.openPosition(amm, BUY, wad(10), wad(10), 0, {"from": alice})
    ch.openPosition(amm, SELL, wad(6), wad(10), 0, {"from": bob})  # the crash
    # funding is due; the mark TWAP has seen the crash; and the guard's freshness cache from the opens above (until
    # the round they read is STALENESS old) has run out, so an opening reads the latest round as a liquidation does
    # (docs/security.md §5: within that window a bad newer round refuses liquidations first). One second more than
    # STALENESS: on a fast machine the opens share the round's second, and the window ends a second later.
    chain.sleep(STALENESS + 1)
    set_index(d.aggregators["ETH"], amm.getSpotPrice(), owner)
    assert ch.getMarginRatio(amm, alice) < ch.maintenanceMarginRatio()
    return Ctx(d, owner, alice, bob, keeper)


def _stale(c: Ctx) -> tuple[Any, ...]:
    chain.sleep(STALENESS + 1)
    chain.mine()
    _, _, _, updated_at, _ = c.aggregator.latestRoundData()
    return (updated_at, STALENESS)


def _answer(value: int) -> Callable[[Ctx], tuple[Any, ...]]:
    def bad(c: Ctx) -> tuple[Any, ...]:
        c.aggregator.updateAnswer(value, {"from": c.owner})
        return (value,)

    return bad


def _incomplete(c: Ctx) -> tuple[Any, ...]:
    """A round whose answer was carried over from an earlier round (answeredInRound < roundId)."""
    latest = c.aggregator.latestRound()
    c.aggregator.updateRoundData(latest + 1, c.price(), latest_ts(), latest, {"from": c.owner})
    return (latest + 1,)


def _not_updated(c: Ctx) -> tuple[Any, ...]:
    """A round started but never answered (updatedAt = 0)."""
    latest = c.aggregator.latestRound()
    c.aggregator.updateRoundData(latest + 1, c.price(), 0, latest + 1, {"from": c.owner})
    return (latest + 1,)


def _negative_in_window(c: Ctx) -> tuple[Any, ...]:
    """A negative round inside the funding TWAP window, then a good latest round."""
    c.aggregator.updateAnswer(-5, {"from": c.owner})
    chain.sleep(60)
    c.aggregator.updateAnswer(c.price(), {"from": c.owner})
    return (-5,)


@dataclass
class Case:
    id: str
    make_bad: Callable[[Ctx], tuple[Any, ...]]
    error: str
    latest_round_bad: bool = True  # False: only an older round, in the TWAP window, is bad


CASES = [
    Case("stale", _stale, "StalePrice"),
    Case("zero", _answer(0), "NonPositivePrice"),
    Case("negative", _answer(-1), "NonPositivePrice"),
    Case("incomplete round", _incomplete, "IncompleteRound"),
    Case("round never answered", _not_updated, "IncompleteRound"),
    Case("negative round in the TWAP window", _negative_in_window, "NonPositivePrice", latest_round_bad=False),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_bad_answer_is_refused_everywhere_it_is_read(ctx, case):
    c = ctx
    ch, amm = c.d.clearing_house, c.d.amm
    args = case.make_bad(c)
    holders = [c.alice, c.bob, c.keeper]
    before = capture_state(c.d, holders)

    with reverts_with(case.error, *args):
        ch.payFunding(amm, {"from": c.keeper})
    if case.latest_round_bad:
        with reverts_with(case.error, *args):
            ch.liquidate(amm, c.alice, {"from": c.keeper})
        with reverts_with(case.error, *args):
            ch.getMarginRatio(amm, c.alice)
    assert_unchanged(before, capture_state(c.d, holders))

    # opening and increasing need the index liquidation needs: refused alike; reducing reads only the pool
    if case.latest_round_bad:
        with reverts_with(case.error, *args):
            ch.openPosition(amm, SELL, wad(1), wad(2), 0, {"from": c.bob})
    ch.openPosition(amm, BUY, wad(1), wad(2), 0, {"from": c.bob})

    # a good answer again: liquidation resumes at once; funding once no bad round is left in its TWAP window
    c.aggregator.updateAnswer(c.price(), {"from": c.owner})
    tx = ch.liquidate(amm, c.alice, {"from": c.keeper})
    assert "PositionLiquidated" in tx.events
    if case.error != "StalePrice":  # a bad round stays in the window for one funding period
        with reverts_with(case.error, *args):
            ch.payFunding(amm, {"from": c.keeper})
        chain.sleep(amm.fundingPeriod())
        c.aggregator.updateAnswer(c.price(), {"from": c.owner})
    assert "FundingPaid" in ch.payFunding(amm, {"from": c.keeper}).events


def test_funding_reads_every_round_of_a_busy_hour(owner, keeper):
    """Funding's index TWAP over a rising hour with 119 Chainlink rounds (a round every 30 s, +0.05 % each) is
    v1's exact walk over every round. Main read at most 48 rounds and stretched the oldest one read over the
    rest of the hour: its index TWAP was 106 bp high, and funding charged the longs for it."""
    d = deploy_protocol(None, owner)
    ch, amm, agg = d.clearing_house, d.amm, d.aggregators["ETH"]
    start = agg.latestRoundData()[3]  # round 1, at deployment: in force when the window opens
    now = latest_ts() + 2 * 3_600  # funding is due
    answers, stamps = [], []
    price = 10 * 10**DECIMALS
    for i in range(119):
        price = price * 10_005 // 10_000
        answers.append(price)
        stamps.append(now - 3_600 + 30 * i + 7)
    assert start < now - 3_600
    agg.updateRounds(2, answers, stamps, {"from": owner})

    web3.provider.make_request("evm_setNextBlockTimestamp", [now])
    tx = ch.payFunding(amm, {"from": keeper})
    assert tx.timestamp == now
    # v1's walk: each round weighted by the seconds it stood in [now - 1 h, now]; round 1 from the window's start
    weighted, newer = 0, now
    for answer, ts in reversed([*zip(answers, stamps)]):
        weighted += answer * (newer - ts)
        newer = ts
    weighted += 10 * 10**DECIMALS * (newer - (now - 3_600))
    exact = weighted // 3_600 * 10 ** (18 - DECIMALS)
    assert tx.events["FundingRateUpdated"]["underlyingPrice"] == exact
    print(f"payFunding reading 120 rounds: {tx.gas_used:,} gas")
