"""L2 sequencer outages and a stale index: nobody is liquidated, and nobody opens, while the protocol cannot see
the market or its traders cannot act.

SPEC §9. With Chainlink's L2 sequencer uptime feed named (`ChainlinkPriceFeed.setSequencerUptimeFeed`), while the
sequencer is down and for the grace period after it is back, liquidating and opening or increasing a position
revert (`SequencerDown`, `SequencerGracePeriod`); closing, reducing, adding and removing margin and withdrawing stay
open, so a trader under water after the outage can defend the position before liquidations resume. A stale index
(older than its feed's own `maxStaleness`) refuses opening and increasing exactly when it refuses liquidation
(`StalePrice`): both read the same guarded index.

Main served a 2-hour-old index after an outage without error, let a 10x long be liquidated 514 s after the
restart, and accepted new positions on a stale index while every liquidation reverted; every test here fails there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from brownie import MockAggregator, MockSequencerUptimeFeed, accounts, chain, web3

from perp_ops.deploy import Deployment, deploy_protocol, feed_key
from tests.helpers import BUY, SELL, reverts_with, wad
from tests.integration.risk_helpers import latest_ts, set_index
from tests.trading import assert_unchanged, capture_state, deposit

GRACE = 3_600
STALENESS = 7_200
OUTAGE = 2 * 3_600
DOWN, UP = 1, 0


def at(ts: int) -> None:
    """The next block gets timestamp `ts`."""
    res = web3.provider.make_request("evm_setNextBlockTimestamp", [int(ts)])
    assert "error" not in res, res


@dataclass
class Ctx:
    d: Deployment
    owner: Any
    alice: Any  # long 10 at 10x, under water after the crash: defends herself with margin during the grace period
    dave: Any  # long 10 at 10x, under water after the crash: liquidated once the grace period is over
    bob: Any  # the crash: a short
    carol: Any  # a healthy short: reduces, closes, moves margin, withdraws throughout
    rando: Any  # wants to open during the outage
    keeper: Any

    @property
    def holders(self) -> list[Any]:
        return [self.alice, self.dave, self.bob, self.carol, self.rando, self.keeper]

    def index_to_spot(self) -> None:
        set_index(self.d.aggregators["ETH"], self.d.amm.getSpotPrice(), self.owner)

    def sequencer(self, answer: int, since: int) -> None:
        feed = self.d.sequencer_feed
        round_id = feed.latestRoundData()[0] + 1
        feed.updateRoundData(round_id, answer, since, since, {"from": self.owner})


@pytest.fixture(scope="module")
def ctx(owner, alice, bob, carol, keeper, rando) -> Ctx:
    dave = accounts[6]
    d = deploy_protocol(
        {"sequencer_grace_period": GRACE, "max_oracle_staleness": STALENESS, "insurance_fund_seed": wad(1_000)}, owner
    )
    ch, amm = d.clearing_house, d.amm
    for t in (alice, dave, bob, carol, rando):
        deposit(d, t, wad(1_000))
    ch.openPosition(amm, SELL, wad(5), wad(2), 0, {"from": carol})
    ch.openPosition(amm, BUY, wad(10), wad(10), 0, {"from": alice})
    ch.openPosition(amm, BUY, wad(10), wad(10), 0, {"from": dave})
    ch.openPosition(amm, SELL, wad(15), wad(10), 0, {"from": bob})  # the crash
    chain.sleep(1_800)  # the mark TWAP has seen it
    c = Ctx(d, owner, alice, dave, bob, carol, rando, keeper)
    c.index_to_spot()
    mmr = ch.maintenanceMarginRatio()
    assert ch.getMarginRatio(amm, alice) < mmr and ch.getMarginRatio(amm, dave) < mmr
    assert ch.getMarginRatio(amm, carol) > mmr
    return c


def _refused_alike(c: Ctx, error: str, *args: Any) -> None:
    """Liquidating, opening, increasing and reversing all revert with `error`, and change nothing."""
    ch, amm = c.d.clearing_house, c.d.amm
    before = capture_state(c.d, c.holders)
    with reverts_with(error, *args):
        ch.liquidate(amm, c.dave, {"from": c.keeper})
    with reverts_with(error, *args):
        ch.openPosition(amm, BUY, wad(1), wad(2), 0, {"from": c.rando})  # new
    with reverts_with(error, *args):
        ch.openPosition(amm, SELL, wad(1), wad(2), 0, {"from": c.carol})  # increase
    size, *_ = ch.getPosition(amm, c.carol)
    with reverts_with(error, *args):
        ch.openPosition(amm, BUY, wad(20), wad(2), 0, {"from": c.carol})  # reverse: close, then open the rest long
    assert ch.getPosition(amm, c.carol)[0] == size
    assert_unchanged(before, capture_state(c.d, c.holders))


def _defending_stays_open(c: Ctx) -> None:
    """Reducing, adding and removing margin, withdrawing: each goes through."""
    ch, amm, vault = c.d.clearing_house, c.d.amm, c.d.vault
    size = ch.getPosition(amm, c.carol)[0]
    ch.openPosition(amm, BUY, wad(1), wad(1), 0, {"from": c.carol})  # reduce the short
    assert size < ch.getPosition(amm, c.carol)[0] < 0
    ch.addMargin(amm, wad(3), {"from": c.carol})
    ch.removeMargin(amm, wad(1), {"from": c.carol})
    vault.withdraw(10**18, {"from": c.carol})


def test_an_outage_and_its_grace_period_stop_liquidations_and_openings_only(ctx):
    c = ctx
    ch, amm = c.d.clearing_house, c.d.amm
    down = latest_ts() + 10
    at(down)
    c.sequencer(DOWN, down)
    _refused_alike(c, "SequencerDown", down)
    _defending_stays_open(c)
    assert ch.getMarginRatio(amm, c.alice) < ch.maintenanceMarginRatio()  # the views answer

    # two hours later the sequencer is back, and so is the index (a new Chainlink round)
    back = down + OUTAGE
    at(back)
    c.sequencer(UP, back)
    c.index_to_spot()
    _refused_alike(c, "SequencerGracePeriod", back, back + GRACE)
    _defending_stays_open(c)
    ch.addMargin(amm, wad(40), {"from": c.alice})  # alice reacts within the grace period
    assert ch.getMarginRatio(amm, c.alice) > ch.maintenanceMarginRatio()

    at(back + GRACE - 1)
    with reverts_with("SequencerGracePeriod", back, back + GRACE):
        ch.liquidate(amm, c.dave, {"from": c.keeper})

    # the grace period is over: liquidations and openings resume
    at(back + GRACE)
    tx = ch.liquidate(amm, c.dave, {"from": c.keeper})
    assert "PositionLiquidated" in tx.events and tx.timestamp == back + GRACE
    chain.mine()
    with reverts_with("MarginRatioHealthy"):
        ch.liquidate(amm, c.alice, {"from": c.keeper})  # she added margin in time
    ch.openPosition(amm, BUY, wad(1), wad(2), 0, {"from": c.rando})
    ch.openPosition(amm, SELL, wad(1), wad(2), 0, {"from": c.carol})
    ch.closePosition(amm, 0, {"from": c.carol})


def test_closing_stays_open_during_an_outage(ctx):
    c = ctx
    ch, amm = c.d.clearing_house, c.d.amm
    c.sequencer(DOWN, latest_ts())
    ch.closePosition(amm, 0, {"from": c.carol})
    assert ch.getPosition(amm, c.carol)[0] == 0
    c.d.vault.withdraw(c.d.vault.balanceOf(c.carol), {"from": c.carol})


def test_an_uptime_round_without_start_or_with_another_answer_refuses(ctx):
    c = ctx
    ch, amm, feed = c.d.clearing_house, c.d.amm, c.d.sequencer_feed
    feed.updateRoundData(7, 2, latest_ts(), latest_ts() - 2 * GRACE, {"from": c.owner})  # neither up nor down
    with reverts_with("SequencerDown"):
        ch.liquidate(amm, c.dave, {"from": c.keeper})
    feed.updateRoundData(8, UP, latest_ts(), 0, {"from": c.owner})  # an invalid round (startedAt 0)
    with reverts_with("IncompleteRound", 8):
        ch.openPosition(amm, BUY, wad(1), wad(2), 0, {"from": c.rando})
    feed.updateRoundData(9, UP, latest_ts(), latest_ts() - GRACE, {"from": c.owner})
    ch.openPosition(amm, BUY, wad(1), wad(2), 0, {"from": c.rando})


def test_a_stale_index_refuses_opening_exactly_as_liquidation(ctx):
    """No sequencer trouble: the index alone is older than its feed's maxStaleness."""
    c = ctx
    agg = c.d.aggregators["ETH"]
    updated = agg.latestRoundData()[3]
    chain.sleep(STALENESS + 1)
    chain.mine()
    _refused_alike(c, "StalePrice", updated, STALENESS)
    _defending_stays_open(c)
    c.index_to_spot()  # a fresh round: both resume
    c.d.clearing_house.openPosition(c.d.amm, BUY, wad(1), wad(2), 0, {"from": c.rando})
    assert "PositionLiquidated" in c.d.clearing_house.liquidate(c.d.amm, c.dave, {"from": c.keeper}).events


def test_staleness_is_per_feed(owner, alice):
    """ETH's feed allows an hour, BTC's a day (each its heartbeat plus a margin): after two silent hours ETH refuses
    new positions and BTC does not."""
    d = deploy_protocol(
        {"max_oracle_staleness": 3_600, "markets": {"BTC": {"index_price": wad(100), "max_oracle_staleness": 90_000}}},
        owner,
    )
    ch, eth, btc = d.clearing_house, d.amms["ETH"], d.amms["BTC"]
    assert d.price_feed.getAggregator(feed_key("ETH"))[2] == 3_600
    assert d.price_feed.getAggregator(feed_key("BTC"))[2] == 90_000
    deposit(d, alice, wad(100))
    chain.sleep(2 * 3_600)
    chain.mine()
    updated = d.aggregators["ETH"].latestRoundData()[3]
    with reverts_with("StalePrice", updated, 3_600):
        ch.openPosition(eth, BUY, wad(1), wad(2), 0, {"from": alice})
    ch.openPosition(btc, BUY, wad(1), wad(2), 0, {"from": alice})


def test_a_fresh_local_deployment_trades_at_once(owner, alice):
    d = deploy_protocol({"sequencer_grace_period": GRACE}, owner)
    feed = d.sequencer_feed
    assert d.price_feed.sequencerUptimeFeed() == feed and d.price_feed.sequencerGracePeriod() == GRACE
    _, answer, started_at, _, _ = feed.latestRoundData()
    assert answer == UP and started_at < latest_ts() - GRACE
    deposit(d, alice, wad(100))
    d.clearing_house.openPosition(d.amm, BUY, wad(1), wad(2), 0, {"from": alice})
    assert deploy_protocol(None, owner).sequencer_feed is None  # grace period 0: no uptime feed, no check


@pytest.fixture
def feed_and_uptime(owner):
    d = deploy_protocol(None, owner)
    return d.price_feed, MockSequencerUptimeFeed.deploy(UP, 2 * GRACE, {"from": owner})


def test_set_sequencer_uptime_feed_refuses_bad_input(feed_and_uptime, owner, rando):
    price_feed, uptime = feed_and_uptime
    zero = "0x" + "00" * 20
    price_aggregator = MockAggregator.deploy(8, 3_000 * 10**8, {"from": owner})
    never_started = MockSequencerUptimeFeed.deploy(UP, 0, {"from": owner})
    never_started.updateRoundData(1, UP, latest_ts(), 0, {"from": owner})
    max_grace = price_feed.MAX_GRACE_PERIOD()
    assert max_grace == 86_400
    for args, error in [
        ((zero, GRACE), ("ZeroAddress",)),
        ((uptime, 0), ("InvalidGracePeriod", 0, max_grace)),
        ((uptime, max_grace + 1), ("InvalidGracePeriod", max_grace + 1, max_grace)),
        ((price_aggregator, GRACE), ("NotAnUptimeFeed", price_aggregator.address.lower())),
        ((never_started, GRACE), ("NotAnUptimeFeed", never_started.address.lower())),
    ]:
        with reverts_with(*error):
            price_feed.setSequencerUptimeFeed(*args, {"from": owner})
    with reverts_with("OwnableUnauthorizedAccount", rando.address.lower()):
        price_feed.setSequencerUptimeFeed(uptime, GRACE, {"from": rando})
    assert price_feed.sequencerUptimeFeed() == zero and price_feed.sequencerGracePeriod() == 0

    tx = price_feed.setSequencerUptimeFeed(uptime, max_grace, {"from": owner})
    assert tx.events["SequencerUptimeFeedSet"] == {"feed": uptime.address, "gracePeriod": max_grace}
    assert price_feed.sequencerUptimeFeed() == uptime and price_feed.sequencerGracePeriod() == max_grace


def test_opening_reads_freshness_from_a_cache(ctx):
    """Opening reads the latest round only when the one it read last may have gone stale (docs/security.md §5):
    staleness is refused exactly as liquidation refuses it; a later non-positive round refuses liquidations at
    once and openings when the cached window ends."""
    c = ctx
    ch, amm, agg = c.d.clearing_house, c.d.amm, c.d.aggregators["ETH"]
    c.index_to_spot()
    updated = agg.latestRoundData()[3]
    ch.openPosition(amm, BUY, wad(1), wad(2), 0, {"from": c.rando})  # reads the round: fresh until updated + limit
    agg.updateAnswer(0, {"from": c.owner})
    with reverts_with("NonPositivePrice", 0):
        ch.liquidate(amm, c.dave, {"from": c.keeper})
    ch.openPosition(amm, BUY, wad(1), wad(2), 0, {"from": c.rando})  # the cached window
    at(updated + STALENESS + 1)
    with reverts_with("NonPositivePrice", 0):
        ch.openPosition(amm, BUY, wad(1), wad(2), 0, {"from": c.rando})
