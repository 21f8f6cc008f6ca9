"""Mark TWAP on fast chains (the L2 issue, item 1): funding's mark TWAP is exact over its window whatever the
number of trading blocks in it, a price that stood for one block weighs that block's seconds, and every other
TWAP is exact over what the observation ring holds, or refuses (`TwapUnavailable`).

One market lives through four phases, each a module fixture that builds on the one before (about 4,300 blocks,
mined by raw JSON-RPC: 1-2 minutes in all):
  A. an hour of 2-second blocks (OP, Base) with a trade in each of 1,800: funding pays the exact average;
  B. the attack: a one-block price spike, undone in the next block, then 1,023 dust trades, the pattern that made
     the old 1,024-entry ring stretch the spike over the first 26 minutes of the funding window;
  C. 200 blocks at four a second (Arbitrum's pace): blocks sharing a second share an observation, and the
     15-minute margin TWAP is exact;
  D. a trade a second until the 4,096-entry ring wraps: a TWAP inside what it holds is exact, one reaching further
     back refuses, and funding stays exact.
Expected numbers come, in Python, from every block's timestamp and closing price (the PositionChanged events).
On the old code A and B fail by the prices its wrapped 1,024-entry ring stretched back over the window, D by
answering where it should refuse (C does not wrap it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from brownie import web3

from tests.busy_blocks import Mined, events, one_per_block
from tests.helpers import BUY, SELL, reverts_with, wad
from tests.integration.risk_helpers import (
    ONE_HOUR,
    aggregator_rounds,
    at,
    event,
    expected_funding,
    index_twap,
    latest_ts,
)

PERIOD = 3_600  # deploy_protocol's default funding period
RING = 4_096  # MarkTwap.CAPACITY


@dataclass
class History:
    """The market's price path: (timestamp, the price in force from then on), one entry per trading block."""

    path: list[tuple[int, int]] = field(default_factory=list)
    observation_seconds: list[int] = field(default_factory=list)  # seconds in which the pool moved, in order

    def add(self, ts: int, price: int) -> None:
        self.path.append((ts, price))
        if not self.observation_seconds or self.observation_seconds[-1] != ts:
            self.observation_seconds.append(ts)

    def twap(self, start: int, end: int) -> int:
        """Σ price × seconds over [start, end] / (end − start), from every block's price."""
        total = 0
        for (ts, price), (next_ts, _) in zip(self.path, [*self.path[1:], (end, 0)], strict=True):
            lo, hi = max(ts, start), min(next_ts, end)
            if hi > lo:
                total += price * (hi - lo)
        return total // (end - start)


@dataclass
class Market:
    d: Any
    traders: dict[str, Any]
    history: History


def _amount(i: int) -> int:
    """A margin between 0.1 and 1.1 (quote), different from one trade to the next (scaled down by the callers)."""
    return wad("0.1") + (i * 7_919 % 1_000) * 10**15


def _trades(m: Market, times: list[int], scale: int = 1) -> Iterator[tuple[int, dict[str, Any]]]:
    """At each time, a trade: alice buys and bob sells in turn, `_amount(i) / scale` at 1x."""
    ch, amm = m.d.clearing_house, m.d.amm
    for i, ts in enumerate(times):
        side, trader = (BUY, m.traders["alice"]) if i % 2 == 0 else (SELL, m.traders["bob"])
        data = ch.openPosition.encode_input(amm, side, _amount(i) // scale, wad(1), 0)
        yield ts, {"from": trader.address, "to": ch.address, "data": data}


def _record(m: Market, mined: Mined, trades: int) -> None:
    """Every block's closing price, from its PositionChanged event (one per block: each trade landed)."""
    changed = events(m.d.clearing_house, "PositionChanged", mined)
    assert len(changed) == trades == len(mined.timestamps)
    for e in changed:
        m.history.add(mined.timestamp(e["blockNumber"]), e["args"]["spotPrice"])


def _pay_funding(m: Market, ts: int) -> tuple[Any, int]:
    """payFunding at `ts`; returns the transaction and the premium fraction it added."""
    ch, amm = m.d.clearing_house, m.d.amm
    before = ch.getLatestCumulativePremiumFraction(amm)
    at(ts)
    tx = ch.payFunding(amm, {"from": m.traders["keeper"]})
    return tx, ch.getLatestCumulativePremiumFraction(amm) - before


def _assert_exact_funding(m: Market, window_start: int, tx: Any, premium_fraction: int) -> None:
    now = tx.timestamp
    mark = m.history.twap(window_start, now)
    index = index_twap(aggregator_rounds(m.d.aggregators["ETH"]), now, PERIOD)
    f = expected_funding(mark, index, PERIOD)
    assert event(tx, "FundingRateUpdated") == {"rate": f.rate, "underlyingPrice": index}
    assert premium_fraction == f.premium_fraction != 0


# ============================================================================================== phases
@pytest.fixture(scope="module")
def market(protocol, fund_trader, owner, alice, bob, carol, rando) -> Market:
    d = protocol
    for t in (alice, bob, carol):
        fund_trader(t, wad(100_000))
    d.quote_token.mint(owner, wad(10_000), {"from": owner})
    d.quote_token.approve(d.insurance_fund, wad(10_000), {"from": owner})
    d.insurance_fund.deposit(wad(10_000), {"from": owner})
    history = History()
    history.add(d.amm.tx.timestamp, d.amm.getSpotPrice())  # the first observation, at deployment
    return Market(d, {"alice": alice, "bob": bob, "carol": carol, "keeper": rando}, history)


@pytest.fixture(scope="module")
def hour_of_two_second_blocks(market, owner) -> tuple[Any, int, int]:
    """Phase A: the market reopens on the hour H, trades in each 2-second block up to H + 3,600, funding at
    H + 3,602. Returns (the payFunding transaction, its premium fraction, H)."""
    m, amm = market, market.d.amm
    hour = (latest_ts() // ONE_HOUR + 1) * ONE_HOUR
    amm.setOpen(False, {"from": owner})
    at(hour)
    amm.setOpen(True, {"from": owner})
    assert amm.nextFundingTime() == hour + PERIOD
    assert amm.fundingWindowStart() == hour  # v1's window for an on-time first settlement
    times = [hour + 2 * k for k in range(1, 1_801)]
    _record(m, one_per_block(_trades(m, times, scale=10)), len(times))
    tx, premium_fraction = _pay_funding(m, hour + PERIOD + 2)
    return tx, premium_fraction, hour


@pytest.fixture(scope="module")
def spike_then_dust(market, hour_of_two_second_blocks) -> tuple[Any, int, int, int]:
    """Phase B: in the next funding window, carol pushes the price for one block and closes in the next one,
    then 1,023 dust trades fill 2-second blocks up to the funding time. Returns (the payFunding transaction, its
    premium fraction, the window's start, the spike's price)."""
    m, ch, amm = market, market.d.clearing_house, market.d.amm
    window_start = hour_of_two_second_blocks[0].timestamp
    assert amm.fundingWindowStart() == window_start
    pay_at = amm.nextFundingTime()
    dust = [pay_at - 2 * j for j in range(1_023, 0, -1)]
    carol = m.traders["carol"].address
    spike = (pay_at - 2 * 1_025, {"from": carol, "to": ch.address,
                                  "data": ch.openPosition.encode_input(amm, BUY, wad(100), wad(1), 0)})
    undo = (pay_at - 2 * 1_024, {"from": carol, "to": ch.address, "data": ch.closePosition.encode_input(amm, 0)})
    mined = one_per_block([spike, undo, *_trades(m, dust, scale=100)])
    _record(m, mined, 2 + len(dust))
    spike_price = m.history.path[-len(dust) - 2][1]
    tx, premium_fraction = _pay_funding(m, pay_at)
    return tx, premium_fraction, window_start, spike_price


@pytest.fixture(scope="module")
def four_blocks_a_second(market, spike_then_dust) -> int:
    """Phase C: 200 blocks at four a second, a trade in each. Returns the time of the last one."""
    m = market
    start = latest_ts() + 1
    times = [start + i // 4 for i in range(200)]
    _record(m, one_per_block(_trades(m, times, scale=10)), len(times))
    return times[-1]


@pytest.fixture(scope="module")
def wrapped_ring(market, four_blocks_a_second) -> int:
    """Phase D: a trade a second until the ring has wrapped (more trading seconds than it holds). Returns the
    time of the last one."""
    m = market
    more = RING - len(m.history.observation_seconds) + 20
    start = latest_ts() + 1
    times = [start + i for i in range(more)]
    _record(m, one_per_block(_trades(m, times, scale=10)), len(times))
    assert len(m.history.observation_seconds) > RING
    return times[-1]


# =============================================================================================== tests
def test_funding_is_exact_over_an_hour_of_two_second_blocks(market, hour_of_two_second_blocks):
    """1,800 trading blocks in the funding window (the old ring held 1,024): the premium is the exact
    time-weighted average of every block's price over [the window's start, now]."""
    tx, premium_fraction, hour = hour_of_two_second_blocks
    _assert_exact_funding(market, hour, tx, premium_fraction)
    now = tx.timestamp
    assert market.d.amm.fundingWindowStart() == now  # the next window starts at this settlement
    # the view, inside what the ring holds, is exact too
    for interval in (900, PERIOD):
        assert market.d.amm.getTwapPrice(interval) == market.history.twap(now - interval, now)


def test_a_one_block_spike_weighs_its_two_seconds(market, spike_then_dust):
    """The spike stood 2 seconds, 26 minutes into the window: it weighs 2 seconds in the funding TWAP. The old ring
    had kept only the 1,024 blocks from the undo on, and took the spike's price back to the window's start."""
    tx, premium_fraction, window_start, spike_price = spike_then_dust
    _assert_exact_funding(market, window_start, tx, premium_fraction)
    path = market.history.path
    spike_at, before_spike = path.index((path[-1_025][0], spike_price)), path[-1_026][1]
    assert spike_price > before_spike * 12 // 10  # a real push: over 20 %
    assert path[spike_at + 1][0] - path[spike_at][0] == 2  # undone in the next block, 2 s later
    # what the spike adds to the window's average: its excess over the price it replaced, for 2 s
    without = History(path=[*path[:spike_at], (path[spike_at][0], before_spike), *path[spike_at + 1:]])
    window = tx.timestamp - window_start
    excess = market.history.twap(window_start, tx.timestamp) - without.twap(window_start, tx.timestamp)
    assert abs(excess - (spike_price - before_spike) * 2 // window) <= 1


def test_margin_twap_is_exact_at_four_blocks_a_second(market, four_blocks_a_second):
    """Blocks that share a second share an observation (200 blocks, 50 observations): a price that stood for a
    block of no seconds weighs nothing, and the 15-minute TWAP (margin ratio, liquidation) is exact."""
    now = web3.eth.get_block("latest").timestamp
    assert now == four_blocks_a_second
    for interval in (60, 900):
        assert market.d.amm.getTwapPrice(interval) == market.history.twap(now - interval, now), interval


def test_a_twap_reaching_past_the_ring_refuses(market, wrapped_ring):
    """Once the ring has wrapped, a TWAP inside what it holds is exact, and one that reaches back further
    reverts `TwapUnavailable(windowStart, oldestObservation)` instead of stretching the oldest price over the rest."""
    amm = market.d.amm
    now = web3.eth.get_block("latest").timestamp
    assert now == wrapped_ring
    oldest = market.history.observation_seconds[-RING]
    for interval in (900, PERIOD, now - oldest):
        assert amm.getTwapPrice(interval) == market.history.twap(now - interval, now), interval
    for interval in (now - oldest + 1, 3 * PERIOD):
        with reverts_with("TwapUnavailable", now - interval, oldest):
            amm.getTwapPrice(interval)


def test_funding_stays_exact_after_the_ring_wrapped(market, spike_then_dust, wrapped_ring):
    """The funding window's start is kept apart from the ring: funding needs no observation the ring dropped."""
    amm = market.d.amm
    window_start = spike_then_dust[0].timestamp
    assert amm.fundingWindowStart() == window_start
    tx, premium_fraction = _pay_funding(market, amm.nextFundingTime())
    _assert_exact_funding(market, window_start, tx, premium_fraction)
