"""Reference model of the vAMM protocol's integer math, written from SPEC.md and from reading Perpetual
Protocol v1 (final release). Pure Python, no chain.

Units: every amount, price and ratio is an int in 18-decimal fixed point ("wad"); sizes, PnL and funding are
signed. `mul`/`div` truncate toward zero like v1's Decimal/SignedDecimal (Python's `//` floors, so they do
not use it on signed values). Token amounts at the vault's edge (`deposit`, `withdraw`, `balance_of`) are in
the quote token's own decimals.

Time: every state-changing call takes `now` (block timestamp, seconds) and `block` (block number); views that
need a TWAP take `now`. Every public operation is atomic: on `ModelError` the whole model is restored, like a
reverted transaction.

Departures from v1 that the contracts make and this model follows (see SPEC.md and the brief):
  (a) the TWAP position notional is `mul(|size|, markTwap(15 min))`, not v1's TWAP of the output amount;
  (b) `margin_ratio` (the view, and liquidation) also takes the oracle-based ratio when the spot price is at
      least 10 % from the oracle and that ratio is higher; the maintenance check after a trade does not.
  (c) the trade limit is checked on both reserves (v1 checked only the amount the caller names).
  (d) funding's mark TWAP spans the funding window, from its start to now: the last settlement, or, after the
      market opens, nextFundingTime − fundingPeriod (v1's window for an on-time first settlement; the history's
      start if later). The index TWAP spans the funding period (SPEC). Settled on time, both are v1's window
      [now − fundingPeriod, now]; settled late, the mark's window also covers the late seconds. v1 used
      `spotPriceTwapInterval` (1 hour) for both, whatever the funding period and the settlement time: pass
      `funding_twap_interval=3600` to get v1's behaviour.
  (e) `is_over_fluctuation_limit` is False when the limit is 0 (off), and the partial close/liquidation needs
      0 < partialLiquidationRatio < 1.
  (f) with `margin_needs_position` (the contracts): addMargin and removeMargin need an open position
      (NoPosition), so margin is never parked on a position of size 0; removing more than the margin is BadDebt.
  With `twap_notional_scales_spot` (the contracts, README "TWAP notional") (a) is replaced by: the TWAP notional
  is the spot notional × markTwap(15 min) / spot, which is v1's output TWAP whenever the price was constant
  over the window. Curve changes (`adjust_k`, `repeg`) and per-market collateral are beyond v1.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ParamSpec, TypeVar

WAD = 10**18
ONE_HOUR = 3_600
ONE_DAY = 86_400
MARK_TWAP_INTERVAL = 15 * 60  # seconds; the TWAP used for position notional (margin ratio, free collateral)
MAX_ORACLE_SPREAD_RATIO = WAD // 10  # 10 %: v1's isOverSpreadLimit threshold
IGNORABLE_SIZE_FOR_SHUTDOWN = 100  # wei; v1 treats |totalPositionSize| <= 100 as no open interest
CURVE_MOVE_SHARE = WAD // 2  # of the maintenance margin ratio: one block's curve changes move positions at most that
MAX_MARK = 2**80 - 1  # wad; the most a price observation can record (beyond v1: `MarkOutOfRange`)
SETTLEMENT_WINDOW = 3 * ONE_DAY  # seconds; the claim window a shutdown opens (Amm's default)


class ModelError(Exception):
    """A revert, named like the contracts' custom error."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class Dir(IntEnum):
    ADD_TO_AMM = 0
    REMOVE_FROM_AMM = 1


class Side(IntEnum):
    BUY = 0
    SELL = 1


class PnlCalcOption(IntEnum):
    SPOT_PRICE = 0
    TWAP = 1
    ORACLE = 2


class PnlPreference(IntEnum):
    MAX_PNL = 0  # the more favourable of spot and TWAP for the trader
    MIN_PNL = 1  # the less favourable


# ------------------------------------------------------------------------------------------------------------
# fixed-point helpers (truncation toward zero, also for negatives)
# ------------------------------------------------------------------------------------------------------------


def div_toward_zero(numerator: int, denominator: int) -> int:
    if denominator == 0:
        raise ZeroDivisionError("division by zero")
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator >= 0) == (denominator > 0) else -quotient


def mul(a: int, b: int) -> int:
    """a * b / 1e18, truncated toward zero."""
    return div_toward_zero(a * b, WAD)


def div(a: int, b: int) -> int:
    """a * 1e18 / b, truncated toward zero."""
    return div_toward_zero(a * WAD, b)


def to_wad(amount: int, decimals: int) -> int:
    return amount * 10 ** (18 - decimals)


def opposite(direction: Dir) -> Dir:
    return Dir.REMOVE_FROM_AMM if direction == Dir.ADD_TO_AMM else Dir.ADD_TO_AMM


# ------------------------------------------------------------------------------------------------------------
# atomicity: a failed operation leaves no trace, like a reverted transaction
# ------------------------------------------------------------------------------------------------------------

P = ParamSpec("P")
R = TypeVar("R")


def atomic(method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        owner = args[0]
        saved = copy.deepcopy(owner.__dict__)
        try:
            return method(*args, **kwargs)
        except ModelError:
            owner.__dict__.clear()
            owner.__dict__.update(saved)
            raise

    return wrapper


@dataclass(frozen=True)
class Tx:
    """The block a call is mined in."""

    now: int
    block: int


# ------------------------------------------------------------------------------------------------------------
# index price: v1's Chainlink TWAP over aggregator rounds
# ------------------------------------------------------------------------------------------------------------


@dataclass
class IndexFeed:
    """An aggregator's rounds, oldest first; round i of the list is v1's round id i (the walk stops at 0).
    Answers are kept in the aggregator's decimals: v1 averages in those units, then scales to 18 decimals.
    The walk reads at most `max_rounds` rounds, the latest included (the contract's MAX_TWAP_ROUNDS; v1 had no
    bound): a window holding more is averaged over the seconds the rounds read cover, as when history runs out."""

    decimals: int = 18
    max_rounds: int = 1024
    rounds: list[tuple[int, int]] = field(default_factory=list)  # (timestamp, answer in feed decimals)

    def add_answer(self, timestamp: int, answer: int) -> None:
        if answer <= 0:
            raise ModelError("InvalidOraclePrice")
        self.rounds.append((timestamp, answer))

    def add_price(self, timestamp: int, price_wad: int) -> None:
        """Adds a round whose answer is `price_wad` expressed in the feed's decimals (must be exact)."""
        scale = 10 ** (18 - self.decimals)
        if price_wad % scale != 0:
            raise ValueError(f"price {price_wad} is not representable with {self.decimals} decimals")
        self.add_answer(timestamp, price_wad // scale)

    def _to_wad(self, answer: int) -> int:
        return answer * WAD // 10**self.decimals

    def price(self) -> int:
        if not self.rounds:
            raise ModelError("InvalidOraclePrice")
        return self._to_wad(self.rounds[-1][1])

    def twap(self, interval: int, now: int) -> int:
        """v1's ChainlinkPriceFeed.getTwapPrice: the rounds' walk (`snapshot_twap`) over the last `max_rounds` rounds,
        averaged in the feed's decimals, then scaled to 18 decimals."""
        if interval == 0:
            raise ValueError("interval can't be 0")
        if not self.rounds:
            raise ModelError("InvalidOraclePrice")
        return self._to_wad(snapshot_twap(self.rounds[-self.max_rounds:], interval, now))


# ------------------------------------------------------------------------------------------------------------
# Pool: one market's virtual constant-product AMM (v1's Amm)
# ------------------------------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    quote_reserve: int
    base_reserve: int
    timestamp: int
    block: int

    def price(self) -> int:
        return div(self.quote_reserve, self.base_reserve)


def input_price_with_reserves(direction: Dir, quote_amount: int, quote_reserve: int, base_reserve: int) -> int:
    """Base amount for adding/removing `quote_amount`; the pool keeps the rounding (trader gets 1 wei less
    base when adding, gives 1 wei more when removing)."""
    if quote_amount == 0:
        return 0
    invariant = mul(quote_reserve, base_reserve)
    adding = direction == Dir.ADD_TO_AMM
    quote_after = quote_reserve + quote_amount if adding else quote_reserve - quote_amount
    if quote_after <= 0:
        raise ModelError("TradeLimitExceeded")
    base_after = div(invariant, quote_after)
    base_bought = abs(base_after - base_reserve)
    if invariant * WAD % quote_after != 0:
        base_bought = base_bought - 1 if adding else base_bought + 1
    return base_bought


def output_price_with_reserves(direction: Dir, base_amount: int, quote_reserve: int, base_reserve: int) -> int:
    """Quote amount for adding/removing `base_amount`; the trader receives 1 wei less / pays 1 wei more
    when the division leaves a remainder."""
    if base_amount == 0:
        return 0
    invariant = mul(quote_reserve, base_reserve)
    adding = direction == Dir.ADD_TO_AMM
    base_after = base_reserve + base_amount if adding else base_reserve - base_amount
    if base_after <= 0:
        raise ModelError("TradeLimitExceeded")
    quote_after = div(invariant, base_after)
    quote_sold = abs(quote_after - quote_reserve)
    if invariant * WAD % base_after != 0:
        quote_sold = quote_sold - 1 if adding else quote_sold + 1
    return quote_sold


def snapshot_twap(points: list[tuple[int, int]], interval: int, now: int) -> int:
    """Perp v1's reserve-snapshot walk (`calcTwap`): `points` are (timestamp, value) in chain order, one per block
    that traded (the value after the block's last trade), the first the pool's initial state. A value holds from its
    timestamp to the next one's, the newest until `now`; the walk goes back `interval` seconds. Over a history
    shorter than the interval it averages what there is (v1 divides by zero when every point is at `now`; then the
    latest value)."""
    index = len(points) - 1
    current_timestamp, current_value = points[index]
    if interval == 0:
        return current_value
    base_timestamp = now - interval
    if len(points) == 1 or current_timestamp <= base_timestamp:
        return current_value
    previous_timestamp = current_timestamp
    period = now - previous_timestamp
    weighted = current_value * period
    while True:
        if index == 0:
            return weighted // period if period else current_value
        index -= 1
        timestamp, value = points[index]
        if timestamp <= base_timestamp:
            weighted += value * (previous_timestamp - base_timestamp)
            break
        time_fraction = previous_timestamp - timestamp
        weighted += value * time_fraction
        period += time_fraction
        previous_timestamp = timestamp
    return weighted // interval


def curve_change_cost(net_size: int, quote_before: int, base_before: int, quote_after: int, base_after: int) -> int:
    """What closing the traders' net position would exchange on the new curve minus the old one, from the traders'
    side (> 0: the pool owes the net position more), each with the pool's own rounding."""
    if net_size == 0:
        return 0
    closing = _closing_dir_of_base(net_size)
    before = output_price_with_reserves(closing, abs(net_size), quote_before, base_before)
    after = output_price_with_reserves(closing, abs(net_size), quote_after, base_after)
    return after - before if net_size > 0 else before - after


@dataclass
class Pool:
    quote_reserve: int
    base_reserve: int
    trade_limit_ratio: int
    funding_period: int
    fluctuation_limit_ratio: int = 0
    toll_ratio: int = 0
    spread_ratio: int = 0
    max_holding_base_asset: int = 0
    open_interest_notional_cap: int = 0
    max_funding_rate: int = 0
    funding_twap_interval: int | None = None  # None: the funding window (mark) and period (index); 3600 is v1's
    funding_window_start: int = 0  # timestamp; see (d)
    total_position_size: int = 0
    snapshots: list[Snapshot] = field(default_factory=list)
    next_funding_time: int = 0
    open: bool = False
    settlement_price: int = 0
    settlement_window: int = SETTLEMENT_WINDOW
    settlement_window_end: int = 0  # fixed at the shutdown
    initial_quote_reserve: int = 0
    initial_base_reserve: int = 0
    funding_rate: int = 0

    @classmethod
    def create(cls, quote_reserve: int, base_reserve: int, trade_limit_ratio: int, funding_period: int,
               tx: Tx, **params: Any) -> Pool:
        pool = cls(quote_reserve=quote_reserve, base_reserve=base_reserve, trade_limit_ratio=trade_limit_ratio,
                   funding_period=funding_period, **params)
        pool.initial_quote_reserve = quote_reserve
        pool.initial_base_reserve = base_reserve
        pool.snapshots.append(Snapshot(quote_reserve, base_reserve, tx.now, tx.block))
        return pool

    # ---- prices ----

    def spot_price(self) -> int:
        return div(self.quote_reserve, self.base_reserve)

    def input_price(self, direction: Dir, quote_amount: int) -> int:
        return input_price_with_reserves(direction, quote_amount, self.quote_reserve, self.base_reserve)

    def output_price(self, direction: Dir, base_amount: int) -> int:
        return output_price_with_reserves(direction, base_amount, self.quote_reserve, self.base_reserve)

    def twap_price(self, interval: int, now: int) -> int:
        """v1's mark TWAP: walks the per-block reserve snapshots back from the latest one."""
        return self._snapshot_twap(Snapshot.price, interval, now)

    def output_twap(self, dir_of_base: Dir, base_amount: int, interval: int, now: int) -> int:
        """v1's getOutputTwap: the same walk over what `base_amount` would fetch at each snapshot."""
        if base_amount == 0:
            return 0

        def value(snapshot: Snapshot) -> int:
            return output_price_with_reserves(dir_of_base, base_amount, snapshot.quote_reserve,
                                              snapshot.base_reserve)

        return self._snapshot_twap(value, interval, now)

    def _snapshot_twap(self, value: Callable[[Snapshot], int], interval: int, now: int) -> int:
        return snapshot_twap([(snapshot.timestamp, value(snapshot)) for snapshot in self.snapshots], interval, now)

    # ---- fluctuation limit ----

    def _reference_snapshot(self, block: int) -> Snapshot:
        """Reserves at the start of `block`: the latest snapshot of an earlier block."""
        latest = self.snapshots[-1]
        if latest.block == block and len(self.snapshots) > 1:
            return self.snapshots[-2]
        return latest

    def _price_limits(self, block: int) -> tuple[int, int]:
        last_price = self._reference_snapshot(block).price()
        upper = mul(last_price, WAD + self.fluctuation_limit_ratio)
        lower = mul(last_price, WAD - self.fluctuation_limit_ratio)
        return lower, upper

    def _price_after(self, dir_of_quote: Dir, quote_amount: int, base_amount: int) -> int:
        if dir_of_quote == Dir.ADD_TO_AMM:
            return div(self.quote_reserve + quote_amount, self.base_reserve - base_amount)
        return div(self.quote_reserve - quote_amount, self.base_reserve + base_amount)

    def is_over_fluctuation_limit(self, dir_of_base: Dir, base_amount: int, block: int) -> bool:
        """Would swapping `base_amount` now leave the price outside the block's band (0 = off: never)."""
        if self.fluctuation_limit_ratio == 0:
            return False
        lower, upper = self._price_limits(block)
        quote_amount = self.output_price(dir_of_base, base_amount)
        price = self._price_after(opposite(dir_of_base), quote_amount, base_amount)
        return not lower <= price <= upper

    def _check_fluctuation(self, dir_of_quote: Dir, quote_amount: int, base_amount: int, can_over: bool,
                           block: int) -> None:
        if self.fluctuation_limit_ratio == 0:
            return
        lower, upper = self._price_limits(block)
        if not lower <= self.spot_price() <= upper:
            raise ModelError("FluctuationLimitExceeded")  # already crossed in this block
        if not can_over and not lower <= self._price_after(dir_of_quote, quote_amount, base_amount) <= upper:
            raise ModelError("FluctuationLimitExceeded")

    # ---- swaps ----

    def _require_open(self) -> None:
        if not self.open:
            raise ModelError("MarketClosed")

    def swap_input(self, dir_of_quote: Dir, quote_amount: int, base_limit: int, can_over_fluctuation: bool,
                   tx: Tx) -> int:
        """Adds/removes `quote_amount` of quote; returns the base amount (unsigned)."""
        self._require_open()
        if quote_amount == 0:
            return 0
        adding = dir_of_quote == Dir.ADD_TO_AMM
        if not adding and quote_amount > mul(self.quote_reserve, self.trade_limit_ratio):
            raise ModelError("TradeLimitExceeded")
        base_amount = self.input_price(dir_of_quote, quote_amount)
        if adding and base_amount > mul(self.base_reserve, self.trade_limit_ratio):
            raise ModelError("TradeLimitExceeded")
        if base_limit != 0:
            if adding and base_amount < base_limit:
                raise ModelError("SlippageExceeded")  # long: fewer base than the minimum
            if not adding and base_amount > base_limit:
                raise ModelError("SlippageExceeded")  # short: more base owed than the maximum
        self._update_reserves(dir_of_quote, quote_amount, base_amount, can_over_fluctuation, tx)
        return base_amount

    def swap_output(self, dir_of_base: Dir, base_amount: int, quote_limit: int, tx: Tx) -> int:
        """Adds/removes `base_amount` of base; returns the quote amount (unsigned). Used to close, so it may
        cross the fluctuation limit (once per block, v1)."""
        self._require_open()
        if base_amount == 0:
            return 0
        adding_base = dir_of_base == Dir.ADD_TO_AMM
        if not adding_base and base_amount > mul(self.base_reserve, self.trade_limit_ratio):
            raise ModelError("TradeLimitExceeded")
        quote_amount = self.output_price(dir_of_base, base_amount)
        if adding_base and quote_amount > mul(self.quote_reserve, self.trade_limit_ratio):
            raise ModelError("TradeLimitExceeded")
        if quote_limit != 0:
            if adding_base and quote_amount < quote_limit:
                raise ModelError("SlippageExceeded")  # closing a long: less quote than the minimum
            if not adding_base and quote_amount > quote_limit:
                raise ModelError("SlippageExceeded")  # closing a short: more quote than the maximum
        self._update_reserves(opposite(dir_of_base), quote_amount, base_amount, True, tx)
        return quote_amount

    def _update_reserves(self, dir_of_quote: Dir, quote_amount: int, base_amount: int, can_over: bool,
                         tx: Tx) -> None:
        if self._price_after(dir_of_quote, quote_amount, base_amount) > MAX_MARK:
            raise ModelError("MarkOutOfRange")
        self._check_fluctuation(dir_of_quote, quote_amount, base_amount, can_over, tx.block)
        if dir_of_quote == Dir.ADD_TO_AMM:
            self.quote_reserve += quote_amount
            self.base_reserve -= base_amount
            self.total_position_size += base_amount
        else:
            self.quote_reserve -= quote_amount
            self.base_reserve += base_amount
            self.total_position_size -= base_amount
        self._add_snapshot(tx)

    def _add_snapshot(self, tx: Tx) -> None:
        latest = self.snapshots[-1]
        if latest.block == tx.block:
            latest.quote_reserve = self.quote_reserve
            latest.base_reserve = self.base_reserve
        else:
            self.snapshots.append(Snapshot(self.quote_reserve, self.base_reserve, tx.now, tx.block))

    # ---- funding ----

    def set_open(self, is_open: bool, now: int) -> None:
        if self.open == is_open:
            return
        self.open = is_open
        if is_open:
            self.next_funding_time = (now + self.funding_period) // ONE_HOUR * ONE_HOUR
            self.funding_window_start = max(self.next_funding_time - self.funding_period, self.snapshots[0].timestamp)

    def funding_interval(self) -> int:
        """The index TWAP's span (and the mark's, in v1 mode)."""
        return self.funding_twap_interval if self.funding_twap_interval else self.funding_period

    def funding_mark_twap(self, now: int) -> int:
        """Mark TWAP over the funding window, [its start, now] (v1 mode: the last `funding_twap_interval`)."""
        if self.funding_twap_interval:
            return self.twap_price(self.funding_twap_interval, now)
        return self.twap_price(now - self.funding_window_start, now)

    def settle_funding(self, index: IndexFeed, now: int) -> tuple[int, int, int]:
        """Returns (premium fraction, funding rate, index TWAP) and moves nextFundingTime."""
        self._require_open()
        if now < self.next_funding_time:
            raise ModelError("FundingTooEarly")
        index_twap = index.twap(self.funding_interval(), now)
        premium = self.funding_mark_twap(now) - index_twap
        premium_fraction = div_toward_zero(premium * self.funding_period, ONE_DAY)
        funding_rate = div(premium_fraction, index_twap)
        if self.max_funding_rate:
            cap_rate = self.max_funding_rate
            cap_fraction = mul(cap_rate, index_twap)
            funding_rate = max(-cap_rate, min(cap_rate, funding_rate))
            premium_fraction = max(-cap_fraction, min(cap_fraction, premium_fraction))
        self.funding_rate = funding_rate
        earliest_next = now + self.funding_period // 2
        next_on_the_hour = (self.next_funding_time + self.funding_period) // ONE_HOUR * ONE_HOUR
        self.next_funding_time = max(next_on_the_hour, earliest_next)
        self.funding_window_start = now
        return premium_fraction, funding_rate, index_twap

    # ---- shutdown ----

    def shutdown(self, now: int) -> int:
        """Closes the market for good at v1's settlement price (k never changed); opens the claim window."""
        previous_k = mul(self.initial_base_reserve, self.initial_quote_reserve)
        initial_quote_on_curve = div(previous_k, self.initial_base_reserve)
        notional_value = initial_quote_on_curve - self.quote_reserve
        if abs(self.total_position_size) > IGNORABLE_SIZE_FOR_SHUTDOWN:
            self.settlement_price = div(abs(notional_value), abs(self.total_position_size))
        self.open = False
        self.settlement_window_end = now + self.settlement_window
        return self.settlement_price

    def calc_fee(self, notional: int) -> tuple[int, int]:
        """(toll, spread) for a traded notional."""
        if notional == 0:
            return 0, 0
        return mul(notional, self.toll_ratio), mul(notional, self.spread_ratio)


# ------------------------------------------------------------------------------------------------------------
# positions and markets
# ------------------------------------------------------------------------------------------------------------


@dataclass
class Position:
    size: int = 0
    margin: int = 0
    open_notional: int = 0
    last_cumulative_premium_fraction: int = 0
    block: int = -1  # block of the last open/close/liquidation touching it (restriction mode)


@dataclass
class PositionResp:
    position: Position
    exchanged_notional: int = 0
    bad_debt: int = 0
    exchanged_size: int = 0
    funding_payment: int = 0
    realized_pnl: int = 0
    margin_to_vault: int = 0  # > 0: trader pays into the position; < 0: trader receives
    unrealized_pnl_after: int = 0


# ------------------------------------------------------------------------------------------------------------
# funding: two sides' cumulative premium fractions, periodic (v1) or continuous (SPEC §3, README "Funding")
# ------------------------------------------------------------------------------------------------------------

# continuous funding: a settlement advances the InsuranceFund's contribution for this many periods at the
# current imbalance (what it would pay if nothing changed); any payFunding tops it up or returns the excess
FUNDING_BUDGET_PERIODS = 2


def ceil_div(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded toward +infinity (denominator > 0)."""
    return -((-numerator) // denominator)


@dataclass
class Shortfall:
    """Receivers were paid less: the fund owed `owed` (wad) for the pool's side and paid `paid` of it."""

    owed: int
    paid: int


@dataclass
class FundingState:
    """A market's funding ledger. Longs read `cum_long`, shorts `cum_short` (they differ only after a shortfall:
    the receiving side's grows by less). Periodic (v1): both move at payFunding only. Continuous: between
    settlements both grow by `growth(t)` = premium_fraction × (t − since) / period (truncated toward zero), the
    rate of the last settlement; `budget` is the InsuranceFund's money advanced to the market for the pool's side
    (its earnings add to it); `last_accrual` is when the budget was last brought up to date."""

    cum_long: int = 0
    cum_short: int = 0
    premium_fraction: int = 0  # continuous: per period, fixed at the last settlement
    period: int = ONE_HOUR
    since: int = 0  # continuous: the time `cum_long`/`cum_short` are at
    last_accrual: int = 0
    budget: int = 0

    def growth(self, t: int) -> int:
        return div_toward_zero(self.premium_fraction * (t - self.since), self.period)

    def cumulative(self, is_long: bool, t: int) -> int:
        return (self.cum_long if is_long else self.cum_short) + self.growth(t)

    def checkpoint(self, t: int) -> None:
        """Moves both sides' cumulatives to `t` at the full rate (the regime since `since` was full)."""
        grown = self.growth(t)
        self.cum_long += grown
        self.cum_short += grown
        self.since = t


def accrue(state: FundingState, now: int, long_size: int, short_size: int) -> tuple[FundingState, Shortfall | None]:
    """Continuous funding brought up to `now` with the sizes held since `last_accrual` (a new state; the input is
    untouched). Over the interval the payers' side pays a = |growth(now) − growth(last_accrual)| per unit of size.
    The pool's side a × (payers − receivers): a gain for the fund adds to the budget (rounded down), a cost comes
    out of it (rounded up). When the budget cannot pay the cost, the receivers get what the payers pay plus the
    whole budget, a_r = (a × payers + budget) / receivers per unit (rounded down), and the cumulatives are
    checkpointed at `now`."""
    f = copy.copy(state)
    a = abs(f.growth(now) - f.growth(f.last_accrual))
    shortfall = None
    if a:
        longs_pay = f.premium_fraction > 0
        payers, receivers = (long_size, short_size) if longs_pay else (short_size, long_size)
        if payers >= receivers:
            f.budget += a * (payers - receivers) // WAD
        else:
            owed = ceil_div(a * (receivers - payers), WAD)
            if owed <= f.budget:
                f.budget -= owed
            else:
                a_r = (a * payers + f.budget * WAD) // receivers
                before = f.growth(f.last_accrual)
                received = before + (a_r if longs_pay else -a_r)
                paid_full = f.growth(now)
                if longs_pay:
                    f.cum_long, f.cum_short = f.cum_long + paid_full, f.cum_short + received
                else:
                    f.cum_long, f.cum_short = f.cum_long + received, f.cum_short + paid_full
                f.since = now
                shortfall = Shortfall(owed, f.budget)
                f.budget = 0
    f.last_accrual = now
    return f, shortfall


@dataclass
class Settlement:
    """A shut-down market's claim book (beyond v1, SPEC §4): claims registered in the window; once the first payout
    after it has finalized the book, what they share (`available`) and what has been paid."""

    claims: dict[str, int] = field(default_factory=dict)  # registered and unpaid, wad
    total_claims: int = 0
    unpaid_claims: int = 0
    finalized: bool = False
    available: int = 0
    paid: int = 0
    from_fund: int = 0
    dust: int = 0

    def share(self, claim: int) -> int:
        """A claim's payout: in full when `available` covers every claim, else pro rata, rounded down."""
        return claim if self.available == self.total_claims else claim * self.available // self.total_claims


@dataclass
class Market:
    pool: Pool
    index: IndexFeed
    continuous: bool = False  # continuous funding (SPEC §3); False: v1's periodic funding
    funding: FundingState = field(default_factory=FundingState)
    # continuous: the funding ledger brought up to the time of the operation or view under way (see `_begin`)
    accrued: FundingState | None = None
    accrued_at: int = 0
    pending_shortfall: Shortfall | None = None  # found by `_begin`, recorded by `_commit`
    shortfalls: list[Shortfall] = field(default_factory=list)  # every FundingShortfall, oldest first
    last_restriction_block: int = -1
    positions: dict[str, Position] = field(default_factory=dict)
    open_interest_notional: int = 0
    # what the market holds for its traders (wad): margins in, margins out, bad debt and curve-change costs paid in
    # by the insurance fund, the pool's funding side out to (or in from) the fund; fees never pass through it
    collateral: int = 0
    # what the insurance fund paid in ahead of the bad debt behind it (a payout beyond the collateral, v1's
    # prepaid bad debt), netted against the market's later bad debt
    prepaid_bad_debt: int = 0
    settlement: Settlement = field(default_factory=Settlement)

    def latest_cumulative_premium_fraction(self, now: int | None = None) -> int:
        """The longs' cumulative premium fraction (the shorts' too unless receivers were paid less), at `now` in
        continuous mode (None: as last brought up to date)."""
        return self.cumulative_premium_fractions(now)[0]

    def cumulative_premium_fractions(self, now: int | None = None) -> tuple[int, int]:
        """(longs', shorts') cumulative premium fractions; continuous: accrued to `now` (a view, nothing moves)."""
        if not self.continuous:
            return self.funding.cum_long, self.funding.cum_short
        t = self.funding.last_accrual if now is None else now
        f, _ = accrue(self.funding, t, *self.side_sizes())
        return f.cumulative(True, t), f.cumulative(False, t)

    def side_sizes(self) -> tuple[int, int]:
        """(Σ long sizes, Σ |short sizes|)."""
        sizes = [p.size for p in self.positions.values()]
        return sum(s for s in sizes if s > 0), -sum(s for s in sizes if s < 0)

    def position(self, trader: str) -> Position:
        return copy.copy(self.positions.get(trader, Position()))


def _side_dir(side: Side) -> Dir:
    return Dir.ADD_TO_AMM if side == Side.BUY else Dir.REMOVE_FROM_AMM


def _closing_side(size: int) -> Side:
    return Side.SELL if size > 0 else Side.BUY


def _closing_dir_of_base(size: int) -> Dir:
    return Dir.ADD_TO_AMM if size > 0 else Dir.REMOVE_FROM_AMM


# ------------------------------------------------------------------------------------------------------------
# Protocol: ClearingHouse + Vault + InsuranceFund + toll pool
# ------------------------------------------------------------------------------------------------------------


@dataclass
class Protocol:
    init_margin_ratio: int = 5 * WAD // 100
    maintenance_margin_ratio: int = 5 * WAD // 100
    liquidation_fee_ratio: int = 5 * WAD // 100
    partial_liquidation_ratio: int = 0
    quote_decimals: int = 18
    # v1 quirk: in a full liquidation where 0 < remaining margin < liquidator fee, v1 still sends the remaining
    # margin to the insurance fund after booking (fee - remaining margin) as bad debt (value counted twice).
    v1_liquidation_fee_quirk: bool = True
    # False: departure (a), TWAP notional = |size| * markTwap(15 min). True: v1's TWAP of the output amount.
    v1_twap_notional: bool = False
    # True: the TWAP notional is the spot notional scaled by markTwap / spot (the contracts, README); False: (a)
    twap_notional_scales_spot: bool = False
    # True (the contracts, departure (f)): addMargin/removeMargin need an open position, and removing more than
    # the margin after funding reverts BadDebt. False: v1 (margin on no position is allowed; "margin is not
    # enough" is NotEnoughFreeCollateral).
    margin_needs_position: bool = False
    # v1 quirk: increasing a position whose pending funding exceeds its margin (plus the added margin) silently
    # drops that bad debt (internalIncreasePosition ignores it). False (SPEC §4): such a trade reverts BadDebt.
    v1_increase_drops_bad_debt: bool = False
    markets: dict[str, Market] = field(default_factory=dict)
    vault: dict[str, int] = field(default_factory=dict)  # free balances, wad
    insurance_fund: int = 0  # wad; may go negative in the model (the contracts must halt instead)
    toll_pool: int = 0  # wad
    insurance_fund_floor: int = 0  # wad; curve changes may spend only the fund's surplus above it

    # ---- set-up ----

    def add_market(self, name: str, *, quote_reserve: int, base_reserve: int, tx: Tx,
                   trade_limit_ratio: int = 9 * WAD // 10, funding_period: int = ONE_HOUR,
                   index_price: int = 10 * WAD, index_decimals: int = 18, continuous_funding: bool = False,
                   **pool_params: Any) -> Market:
        """Deploys a market at `tx` (initial reserve snapshot, first index round) and opens it."""
        pool = Pool.create(quote_reserve, base_reserve, trade_limit_ratio, funding_period, tx, **pool_params)
        index = IndexFeed(decimals=index_decimals)
        index.add_price(tx.now, index_price)
        pool.set_open(True, tx.now)
        market = Market(pool=pool, index=index, continuous=continuous_funding,
                        funding=FundingState(period=funding_period))
        self.markets[name] = market
        return market

    def _scale(self) -> int:
        return 10 ** (18 - self.quote_decimals)

    def _require_token_amount(self, amount_wad: int) -> None:
        """v1 rejects amounts that are 0 in token units."""
        if amount_wad // self._scale() == 0:
            raise ModelError("ZeroAmount")

    # ---- vault ----

    @atomic
    def deposit(self, trader: str, amount: int) -> None:
        if amount == 0:
            raise ModelError("ZeroAmount")
        self.vault[trader] = self.vault.get(trader, 0) + amount * self._scale()

    @atomic
    def withdraw(self, trader: str, amount: int) -> None:
        if amount == 0:
            raise ModelError("ZeroAmount")
        self._debit(trader, amount * self._scale())

    def balance_of(self, trader: str) -> int:
        """Free balance in token units (rounded down)."""
        return self.vault.get(trader, 0) // self._scale()

    def insurance_fund_deposit(self, amount: int) -> None:
        self.insurance_fund += amount * self._scale()

    def _credit(self, trader: str, amount_wad: int) -> None:
        self.vault[trader] = self.vault.get(trader, 0) + amount_wad

    def _debit(self, trader: str, amount_wad: int) -> None:
        balance = self.vault.get(trader, 0)
        if balance < amount_wad:
            raise ModelError("InsufficientBalance")
        self.vault[trader] = balance - amount_wad

    # ---- views ----

    def market(self, name: str) -> Market:
        return self.markets[name]

    def get_position(self, name: str, trader: str) -> Position:
        return self.market(name).position(trader)

    def position_notional_and_pnl(self, name: str, position: Position, option: PnlCalcOption,
                                  now: int) -> tuple[int, int]:
        """(position notional, unrealized PnL) without funding; (0, 0) for no position."""
        if position.size == 0:
            return 0, 0
        market = self.market(name)
        size_abs = abs(position.size)
        if option == PnlCalcOption.SPOT_PRICE:
            notional = market.pool.output_price(_closing_dir_of_base(position.size), size_abs)
        elif option == PnlCalcOption.TWAP and self.v1_twap_notional:
            notional = market.pool.output_twap(_closing_dir_of_base(position.size), size_abs, MARK_TWAP_INTERVAL,
                                               now)
        elif option == PnlCalcOption.TWAP and self.twap_notional_scales_spot:
            # the contracts' design (README "TWAP notional"): the spot notional × TWAP / spot, one rounding down;
            # v1's number exactly whenever the price was constant over the window
            spot_notional = market.pool.output_price(_closing_dir_of_base(position.size), size_abs)
            notional = spot_notional * market.pool.twap_price(MARK_TWAP_INTERVAL, now) // market.pool.spot_price()
        elif option == PnlCalcOption.TWAP:
            notional = mul(size_abs, market.pool.twap_price(MARK_TWAP_INTERVAL, now))  # departure (a)
        else:
            notional = mul(size_abs, market.index.price())
        pnl = notional - position.open_notional if position.size > 0 else position.open_notional - notional
        return notional, pnl

    def get_position_notional_and_unrealized_pnl(self, name: str, trader: str, option: PnlCalcOption,
                                                 now: int) -> tuple[int, int]:
        return self.position_notional_and_pnl(name, self.get_position(name, trader), option, now)

    def _preferred_notional_and_pnl(self, name: str, position: Position, preference: PnlPreference,
                                    now: int) -> tuple[int, int]:
        spot_notional, spot_pnl = self.position_notional_and_pnl(name, position, PnlCalcOption.SPOT_PRICE, now)
        twap_notional, twap_pnl = self.position_notional_and_pnl(name, position, PnlCalcOption.TWAP, now)
        spot_is_better = spot_pnl > twap_pnl
        if (preference == PnlPreference.MAX_PNL) == spot_is_better:
            return spot_notional, spot_pnl
        return twap_notional, twap_pnl

    def _begin(self, market: Market, now: int) -> None:
        """Continuous funding: brings the market's funding ledger up to `now` for the operation or view under way
        (`_commit` keeps it: only operations that change the sizes or settle do)."""
        if market.continuous:
            market.accrued, market.pending_shortfall = accrue(market.funding, now, *market.side_sizes())
            market.accrued_at = now

    def _commit(self, market: Market) -> None:
        if market.continuous and market.accrued is not None:
            market.funding = market.accrued
            if market.pending_shortfall is not None:
                market.shortfalls.append(market.pending_shortfall)
                market.pending_shortfall = None

    def _cum_for(self, market: Market, size: int) -> int:
        """The cumulative premium fraction of the side of `size` (long when > 0), now."""
        if not market.continuous:
            return market.funding.cum_long if size > 0 else market.funding.cum_short
        if market.accrued is None:
            raise AssertionError("continuous funding read before _begin")
        return market.accrued.cumulative(size > 0, market.accrued_at)

    def _funding_payment(self, market: Market, position: Position) -> int:
        """What the position owes (> 0) or is owed since its last update. Periodic: v1's truncation toward zero;
        continuous: rounded against the trader (up)."""
        if position.size == 0:
            return 0
        delta = self._cum_for(market, position.size) - position.last_cumulative_premium_fraction
        if market.continuous:
            return ceil_div(delta * position.size, WAD)
        return mul(delta, position.size)

    def _remain_margin_with_funding(self, market: Market, position: Position,
                                    margin_delta: int) -> tuple[int, int, int, int]:
        """(remaining margin >= 0, bad debt >= 0, funding payment, the position's side's cumulative premium
        fraction now)."""
        latest_fraction = self._cum_for(market, position.size)
        funding_payment = self._funding_payment(market, position)
        signed_remain = margin_delta - funding_payment + position.margin
        if signed_remain < 0:
            return 0, -signed_remain, funding_payment, latest_fraction
        return signed_remain, 0, funding_payment, latest_fraction

    def _ratio(self, market: Market, position: Position, pnl: int, notional: int) -> int:
        remain, bad_debt, _, _ = self._remain_margin_with_funding(market, position, pnl)
        return div(remain - bad_debt, notional)

    def _margin_ratio_by_option(self, name: str, position: Position, option: PnlCalcOption, now: int) -> int:
        notional, pnl = self.position_notional_and_pnl(name, position, option, now)
        return self._ratio(self.market(name), position, pnl, notional)

    def _margin_ratio_spot_twap(self, name: str, position: Position, now: int) -> int:
        """v1's getMarginRatio: the more favourable of spot and TWAP (used after a trade)."""
        notional, pnl = self._preferred_notional_and_pnl(name, position, PnlPreference.MAX_PNL, now)
        return self._ratio(self.market(name), position, pnl, notional)

    def is_over_spread_limit(self, name: str) -> bool:
        market = self.market(name)
        oracle_price = market.index.price()
        spread = abs(div(market.pool.spot_price() - oracle_price, oracle_price))
        return spread >= MAX_ORACLE_SPREAD_RATIO

    def _margin_ratio_full(self, name: str, position: Position, now: int) -> int:
        ratio = self._margin_ratio_spot_twap(name, position, now)
        if self.is_over_spread_limit(name):
            oracle_ratio = self._margin_ratio_by_option(name, position, PnlCalcOption.ORACLE, now)
            ratio = max(ratio, oracle_ratio)
        return ratio

    def margin_ratio(self, name: str, trader: str, now: int) -> int:
        """getMarginRatio (departure (b): oracle-based ratio too when over the spread limit)."""
        self._begin(self.market(name), now)
        position = self.get_position(name, trader)
        if position.size == 0:
            raise ModelError("NoPosition")
        return self._margin_ratio_full(name, position, now)

    def margin_ratio_spot_twap(self, name: str, trader: str, now: int) -> int:
        """v1's getMarginRatio (no oracle): the ratio the maintenance check after a trade uses."""
        self._begin(self.market(name), now)
        position = self.get_position(name, trader)
        if position.size == 0:
            raise ModelError("NoPosition")
        return self._margin_ratio_spot_twap(name, position, now)

    def margin_ratio_by_option(self, name: str, trader: str, option: PnlCalcOption, now: int) -> int:
        self._begin(self.market(name), now)
        position = self.get_position(name, trader)
        if position.size == 0:
            raise ModelError("NoPosition")
        return self._margin_ratio_by_option(name, position, option, now)

    def _free_collateral(self, name: str, position: Position, margin_with_funding: int, now: int) -> int:
        notional, pnl = self._preferred_notional_and_pnl(name, position, PnlPreference.MIN_PNL, now)
        account_value = margin_with_funding + pnl
        min_collateral = margin_with_funding if pnl > 0 else account_value
        base_of_requirement = position.open_notional if position.size > 0 else notional
        return min_collateral - mul(base_of_requirement, self.init_margin_ratio)

    def free_collateral(self, name: str, trader: str, now: int) -> int:
        market = self.market(name)
        self._begin(market, now)
        position = market.position(trader)
        remain, bad_debt, _, _ = self._remain_margin_with_funding(market, position, 0)
        return self._free_collateral(name, position, remain - bad_debt, now)

    def margin_with_funding(self, name: str, trader: str, now: int | None = None) -> int:
        """Margin after the pending funding payment, floored at 0 (v1's getPersonalPositionWithFundingPayment);
        continuous funding: at `now` (None: as last brought up to date)."""
        market = self.market(name)
        self._begin(market, market.funding.last_accrual if now is None else now)
        remain, _, _, _ = self._remain_margin_with_funding(market, market.position(trader), 0)
        return remain

    def pending_funding_payment(self, name: str, trader: str, now: int | None = None) -> int:
        market = self.market(name)
        self._begin(market, market.funding.last_accrual if now is None else now)
        _, _, funding_payment, _ = self._remain_margin_with_funding(market, market.position(trader), 0)
        return funding_payment

    # ---- internals shared by the operations ----

    def _update_open_interest(self, market: Market, amount: int) -> None:
        cap = market.pool.open_interest_notional_cap
        if cap == 0:
            return  # v1 tracks open interest only while a cap is set
        updated = max(amount + market.open_interest_notional, 0)
        if amount > 0 and updated > cap:
            raise ModelError("OpenInterestCapExceeded")
        market.open_interest_notional = updated

    def _swap_input(self, market: Market, side: Side, quote_amount: int, base_limit: int, can_over: bool,
                    tx: Tx) -> int:
        base_amount = market.pool.swap_input(_side_dir(side), quote_amount, base_limit, can_over, tx)
        return base_amount if side == Side.BUY else -base_amount

    def _increase_position(self, name: str, trader: str, side: Side, notional: int, base_limit: int,
                           leverage: int, tx: Tx) -> PositionResp:
        market = self.market(name)
        old = market.position(trader)
        exchanged_size = self._swap_input(market, side, notional, base_limit, False, tx)
        new_size = old.size + exchanged_size
        added_margin = div(notional, leverage)
        remain, bad_debt, funding_payment, _ = self._remain_margin_with_funding(
            market, old, added_margin)
        if self.v1_increase_drops_bad_debt:
            bad_debt = 0
        elif bad_debt > 0:
            # the contracts refuse at once, before the caps and the maintenance check (the order of the errors)
            raise ModelError("BadDebt")
        cap = market.pool.max_holding_base_asset
        if cap > 0 and abs(new_size) > cap:
            raise ModelError("PositionHoldingCapExceeded")
        self._update_open_interest(market, notional)
        # v1 reports the stored (old) position's spot PnL at the new reserves here
        _, unrealized_pnl = self.position_notional_and_pnl(name, old, PnlCalcOption.SPOT_PRICE, tx.now)
        position = Position(new_size, remain, old.open_notional + notional, self._cum_for(market, new_size),
                            tx.block)
        return PositionResp(position=position, exchanged_notional=notional, bad_debt=bad_debt,
                            exchanged_size=exchanged_size, funding_payment=funding_payment,
                            margin_to_vault=added_margin, unrealized_pnl_after=unrealized_pnl)

    def _reduce_position(self, name: str, trader: str, side: Side, notional: int, base_limit: int,
                         can_over: bool, old_notional: int, unrealized_pnl: int, tx: Tx) -> PositionResp:
        market = self.market(name)
        self._update_open_interest(market, -notional)
        old = market.position(trader)
        exchanged_size = self._swap_input(market, side, notional, base_limit, can_over, tx)
        realized_pnl = div(mul(unrealized_pnl, abs(exchanged_size)), abs(old.size))
        remain, bad_debt, funding_payment, latest_fraction = self._remain_margin_with_funding(
            market, old, realized_pnl)
        unrealized_after = unrealized_pnl - realized_pnl
        if old.size > 0:
            remain_open_notional = old_notional - notional - unrealized_after
        else:
            remain_open_notional = unrealized_after + old_notional - notional
        if remain_open_notional <= 0:
            raise ModelError("OpenNotionalNotPositive")
        position = Position(old.size + exchanged_size, remain, remain_open_notional, latest_fraction, tx.block)
        return PositionResp(position=position, exchanged_notional=notional, bad_debt=bad_debt,
                            exchanged_size=exchanged_size, funding_payment=funding_payment,
                            realized_pnl=realized_pnl, unrealized_pnl_after=unrealized_after)

    def _close_position_internal(self, name: str, trader: str, quote_limit: int, tx: Tx) -> PositionResp:
        market = self.market(name)
        old = market.position(trader)
        if old.size == 0:
            raise ModelError("NoPosition")
        _, unrealized_pnl = self.position_notional_and_pnl(name, old, PnlCalcOption.SPOT_PRICE, tx.now)
        remain, bad_debt, funding_payment, _ = self._remain_margin_with_funding(market, old, unrealized_pnl)
        exchanged_notional = market.pool.swap_output(_closing_dir_of_base(old.size), abs(old.size), quote_limit, tx)
        self._update_open_interest(market, -(unrealized_pnl + bad_debt + old.open_notional))
        market.positions[trader] = Position(block=tx.block)
        return PositionResp(position=market.position(trader), exchanged_notional=exchanged_notional,
                            bad_debt=bad_debt, exchanged_size=-old.size, funding_payment=funding_payment,
                            realized_pnl=unrealized_pnl, margin_to_vault=-remain)

    def _close_and_open_reverse(self, name: str, trader: str, side: Side, quote_amount: int, leverage: int,
                                base_limit: int, tx: Tx) -> PositionResp:
        close = self._close_position_internal(name, trader, 0, tx)
        if close.bad_debt > 0:
            raise ModelError("BadDebt")
        remaining_notional = mul(quote_amount, leverage) - close.exchanged_notional
        if div(remaining_notional, leverage) == 0:
            return close  # the rest is too small to open: just close
        closed_size = abs(close.exchanged_size)
        updated_base_limit = base_limit - closed_size if base_limit > closed_size else 0
        increase = self._increase_position(name, trader, side, remaining_notional, updated_base_limit, leverage, tx)
        return PositionResp(
            position=increase.position,
            exchanged_notional=close.exchanged_notional + increase.exchanged_notional,
            bad_debt=close.bad_debt + increase.bad_debt,
            exchanged_size=close.exchanged_size + increase.exchanged_size,
            funding_payment=close.funding_payment + increase.funding_payment,
            realized_pnl=close.realized_pnl + increase.realized_pnl,
            margin_to_vault=close.margin_to_vault + increase.margin_to_vault,
            unrealized_pnl_after=0,
        )

    def _open_reverse_position(self, name: str, trader: str, side: Side, quote_amount: int, leverage: int,
                               base_limit: int, can_over: bool, tx: Tx) -> PositionResp:
        notional = mul(quote_amount, leverage)
        position = self.get_position(name, trader)
        old_notional, unrealized_pnl = self.position_notional_and_pnl(
            name, position, PnlCalcOption.SPOT_PRICE, tx.now)
        if old_notional > notional:
            return self._reduce_position(name, trader, side, notional, base_limit, can_over, old_notional,
                                         unrealized_pnl, tx)
        return self._close_and_open_reverse(name, trader, side, quote_amount, leverage, base_limit, tx)

    def _require_open_market(self, name: str) -> Market:
        market = self.market(name)
        if not market.pool.open:
            raise ModelError("MarketClosed")
        return market

    def _require_not_restricted(self, market: Market, trader: str, block: int) -> None:
        if block == market.last_restriction_block and market.position(trader).block == block:
            raise ModelError("RestrictionMode")

    def _pay_fees(self, market: Market, trader: str, notional: int) -> tuple[int, int]:
        toll, spread = market.pool.calc_fee(notional)
        self._debit(trader, toll + spread)
        self.insurance_fund += spread
        self.toll_pool += toll
        return toll, spread

    def _prepay(self, market: Market) -> int:
        """Containment: collateral below zero (a payout beyond what the market holds) is paid in by the fund now
        (prepaid bad debt); returns what the fund (its balance includes the toll pool's share) could not pay."""
        if market.collateral >= 0:
            return 0
        need = -market.collateral
        paid = max(min(need, self.insurance_fund + self.toll_pool), 0)
        self.insurance_fund -= paid
        market.prepaid_bad_debt += paid
        market.collateral += paid
        return need - paid

    def _require_prepaid(self, market: Market) -> None:
        if self._prepay(market):
            raise ModelError("InsuranceFundInsufficient")

    def _partial_keeps_penalty(self, name: str, position: Position, now: int) -> bool:
        """A partial liquidation settles all the funding owed but realises only its share of the PnL: when that
        leaves less than the penalty, the position is liquidated whole (the contracts predict it the same way)."""
        market = self.market(name)
        closing = _closing_dir_of_base(position.size)
        notional = market.pool.output_price(closing, abs(mul(position.size, self.partial_liquidation_ratio)))
        old_notional, pnl = self.position_notional_and_pnl(name, position, PnlCalcOption.SPOT_PRICE, now)
        if old_notional <= notional:
            return False
        base = market.pool.input_price(_side_dir(_closing_side(position.size)), notional)
        realized = div(mul(pnl, base), abs(position.size))
        funding = self._funding_payment(market, position)
        return position.margin + realized - funding >= mul(notional, self.liquidation_fee_ratio)

    def _move_margin(self, trader: str, margin_to_vault: int) -> None:
        if margin_to_vault > 0:
            self._debit(trader, margin_to_vault)
        elif margin_to_vault < 0:
            self._credit(trader, -margin_to_vault)

    @staticmethod
    def _result(resp: PositionResp, toll: int = 0, spread: int = 0, spot_price: int = 0) -> dict[str, Any]:
        p = resp.position
        return {
            "exchanged_size": resp.exchanged_size,
            "exchanged_notional": resp.exchanged_notional,
            "realized_pnl": resp.realized_pnl,
            "unrealized_pnl_after": resp.unrealized_pnl_after,
            "funding_payment": resp.funding_payment,
            "bad_debt": resp.bad_debt,
            "margin_to_vault": resp.margin_to_vault,
            "fee": toll + spread,
            "toll": toll,
            "spread": spread,
            "size": p.size,
            "margin": p.margin,
            "open_notional": p.open_notional,
            "last_cumulative_premium_fraction": p.last_cumulative_premium_fraction,
            "spot_price": spot_price,
            "liquidation_penalty": 0,
        }

    # ---- operations ----

    @atomic
    def open_position(self, name: str, trader: str, side: Side, quote_amount: int, leverage: int,
                      base_limit: int, now: int, block: int) -> dict[str, Any]:
        """Margin `quote_amount` at `leverage` (both wad); `base_limit` = min base for a long, max for a short."""
        tx = Tx(now, block)
        market = self._require_open_market(name)
        self._begin(market, now)
        self._require_token_amount(quote_amount)
        if leverage == 0:
            raise ModelError("ZeroAmount")
        if div(WAD, leverage) < self.init_margin_ratio:
            raise ModelError("LeverageTooHigh")
        self._require_not_restricted(market, trader, block)
        old_size = market.position(trader).size
        is_new = old_size == 0
        same_side = is_new or (Side.BUY if old_size > 0 else Side.SELL) == side
        if same_side:
            notional = mul(quote_amount, leverage)
            resp = self._increase_position(name, trader, side, notional, base_limit, leverage, tx)
        else:
            resp = self._open_reverse_position(name, trader, side, quote_amount, leverage, base_limit, False, tx)
        market.positions[trader] = resp.position
        checks_maintenance = not is_new and resp.position.size != 0
        if checks_maintenance and self._margin_ratio_spot_twap(name, resp.position, now) < self.maintenance_margin_ratio:
            raise ModelError("MarginRatioTooLow")
        if resp.bad_debt > 0:
            raise ModelError("BadDebt")
        self._move_margin(trader, resp.margin_to_vault)
        market.collateral += resp.margin_to_vault
        self._require_prepaid(market)
        toll, spread = self._pay_fees(market, trader, resp.exchanged_notional)
        self._commit(market)
        return self._result(resp, toll, spread, market.pool.spot_price())

    @atomic
    def close_position(self, name: str, trader: str, quote_limit: int, now: int, block: int) -> dict[str, Any]:
        tx = Tx(now, block)
        market = self._require_open_market(name)
        self._begin(market, now)
        self._require_not_restricted(market, trader, block)
        position = market.position(trader)
        if position.size == 0:
            raise ModelError("NoPosition")
        dir_of_base = _closing_dir_of_base(position.size)
        partial = 0 < self.partial_liquidation_ratio < WAD
        if partial and market.pool.is_over_fluctuation_limit(dir_of_base, abs(position.size), block):
            # v1 ignores quote_limit on this path
            partial_notional = market.pool.output_price(
                dir_of_base, abs(mul(position.size, self.partial_liquidation_ratio)))
            resp = self._open_reverse_position(name, trader, _closing_side(position.size), partial_notional, WAD,
                                               0, True, tx)
            market.positions[trader] = resp.position
            is_partial = True
        else:
            resp = self._close_position_internal(name, trader, quote_limit, tx)
            is_partial = False
        if resp.bad_debt > 0:
            raise ModelError("BadDebt")
        self._credit(trader, abs(resp.margin_to_vault))
        market.collateral -= abs(resp.margin_to_vault)
        self._require_prepaid(market)
        toll, spread = self._pay_fees(market, trader, resp.exchanged_notional)
        self._commit(market)
        result = self._result(resp, toll, spread, market.pool.spot_price())
        result["is_partial"] = is_partial
        return result

    @atomic
    def add_margin(self, name: str, trader: str, amount: int) -> dict[str, Any]:
        market = self._require_open_market(name)
        self._require_token_amount(amount)
        position = market.position(trader)
        if self.margin_needs_position and position.size == 0:
            raise ModelError("NoPosition")  # departure (f)
        position.margin += amount
        market.collateral += amount
        market.positions[trader] = position
        self._debit(trader, amount)
        return {"margin": position.margin, "amount": amount, "funding_payment": 0}

    @atomic
    def remove_margin(self, name: str, trader: str, amount: int, now: int) -> dict[str, Any]:
        market = self._require_open_market(name)
        self._begin(market, now)  # continuous: read at `now`; the ledger itself moves only when sizes change
        self._require_token_amount(amount)
        position = market.position(trader)
        if self.margin_needs_position and position.size == 0:
            raise ModelError("NoPosition")  # departure (f)
        remain, bad_debt, funding_payment, latest_fraction = self._remain_margin_with_funding(
            market, position, -amount)
        if bad_debt > 0:
            # v1: "margin is not enough"
            raise ModelError("BadDebt" if self.margin_needs_position else "NotEnoughFreeCollateral")
        if self._free_collateral(name, position, remain, now) < 0:
            raise ModelError("NotEnoughFreeCollateral")
        position.margin = remain
        position.last_cumulative_premium_fraction = latest_fraction
        market.positions[trader] = position
        market.collateral -= amount
        self._require_prepaid(market)
        self._credit(trader, amount)
        return {"margin": remain, "amount": -amount, "funding_payment": funding_payment}

    @atomic
    def liquidate(self, name: str, liquidator: str, trader: str, now: int, block: int) -> dict[str, Any]:
        tx = Tx(now, block)
        market = self._require_open_market(name)
        self._begin(market, now)
        position = market.position(trader)
        if position.size == 0:
            raise ModelError("NoPosition")
        if self._margin_ratio_full(name, position, now) >= self.maintenance_margin_ratio:
            raise ModelError("MarginRatioHealthy")
        spot_ratio = self._margin_ratio_by_option(name, position, PnlCalcOption.SPOT_PRICE, now)
        partial = 0 < self.partial_liquidation_ratio < WAD
        liquidation_bad_debt = 0
        quirk_extra = 0
        if spot_ratio > self.liquidation_fee_ratio and partial and self._partial_keeps_penalty(name, position, now):
            partial_notional = market.pool.output_price(
                _closing_dir_of_base(position.size), abs(mul(position.size, self.partial_liquidation_ratio)))
            resp = self._open_reverse_position(name, trader, _closing_side(position.size), partial_notional, WAD,
                                               0, True, tx)
            penalty = mul(resp.exchanged_notional, self.liquidation_fee_ratio)
            fee_to_liquidator = penalty // 2
            fee_to_insurance_fund = penalty - fee_to_liquidator
            if resp.position.margin < penalty:
                raise ModelError("BadDebt")  # v1: SafeMath underflow
            resp.position.margin -= penalty
            market.positions[trader] = resp.position
            self.insurance_fund += fee_to_insurance_fund
            market.collateral -= penalty
            is_partial = True
        else:
            penalty = position.margin
            resp = self._close_position_internal(name, trader, 0, tx)
            remain = abs(resp.margin_to_vault)
            fee_to_liquidator = mul(resp.exchanged_notional, self.liquidation_fee_ratio) // 2
            total_bad_debt = resp.bad_debt
            if fee_to_liquidator > remain:
                liquidation_bad_debt = fee_to_liquidator - remain
                total_bad_debt += liquidation_bad_debt
                if not self.v1_liquidation_fee_quirk:
                    remain = 0
                else:
                    quirk_extra = remain
            else:
                remain -= fee_to_liquidator
            netted = min(market.prepaid_bad_debt, total_bad_debt)  # prepaid for this loss already
            market.prepaid_bad_debt -= netted
            self.insurance_fund -= total_bad_debt - netted
            fee_to_insurance_fund = remain
            self.insurance_fund += fee_to_insurance_fund
            market.collateral += total_bad_debt - netted - fee_to_liquidator - fee_to_insurance_fund
            is_partial = False
        if market.collateral < 0:
            # containment: the fund prepays what the market lacks; what it cannot pay is cut from the payouts
            unpaid = self._prepay(market)
            cut = min(unpaid, fee_to_insurance_fund)
            cut_fee = min(unpaid - cut, fee_to_liquidator)
            if unpaid - cut - cut_fee:
                raise ModelError("InsuranceFundInsufficient")
            self.insurance_fund -= cut
            fee_to_insurance_fund -= cut
            fee_to_liquidator -= cut_fee
            market.collateral += cut + cut_fee
        self._credit(liquidator, fee_to_liquidator)
        market.last_restriction_block = block
        self._commit(market)
        result = self._result(resp, 0, 0, market.pool.spot_price())
        result.update({
            "is_partial": is_partial,
            "liquidation_penalty": penalty,
            "fee_to_liquidator": fee_to_liquidator,
            "fee_to_insurance_fund": fee_to_insurance_fund,
            "liquidation_bad_debt": liquidation_bad_debt,
            "v1_quirk_extra_to_insurance_fund": quirk_extra,
        })
        return result

    def fund_surplus(self) -> int:
        """What the InsuranceFund may spend on funding: its balance (the toll pool's share included) above the
        reserve floor (the model halts nothing, so no unpaid bad debt is subtracted)."""
        return max(self.insurance_fund + self.toll_pool - self.insurance_fund_floor, 0)

    @atomic
    def pay_funding(self, name: str, now: int, block: int) -> dict[str, Any]:
        market = self._require_open_market(name)
        if market.continuous:
            return self._pay_funding_continuous(market, now)
        premium_fraction, funding_rate, index_twap = market.pool.settle_funding(market.index, now)
        pool_funding_profit = mul(premium_fraction, market.pool.total_position_size)
        receivers_fraction = premium_fraction
        shortfall = None
        if pool_funding_profit < 0:
            # the fund pays the pool's side out of its surplus; the receivers share what it cannot pay (SPEC §3)
            owed = -pool_funding_profit
            paid = min(owed, self.fund_surplus())
            if paid < owed:
                long_size, short_size = market.side_sizes()
                payers, receivers = (long_size, short_size) if premium_fraction > 0 else (short_size, long_size)
                per_unit = (abs(premium_fraction) * payers + paid * WAD) // receivers  # rounded against receivers
                receivers_fraction = per_unit if premium_fraction > 0 else -per_unit
                pool_funding_profit = -paid
                shortfall = Shortfall(owed, paid)
                market.shortfalls.append(shortfall)
        f = market.funding
        if premium_fraction > 0:
            f.cum_long += premium_fraction
            f.cum_short += receivers_fraction
        else:
            f.cum_short += premium_fraction
            f.cum_long += receivers_fraction
        self.insurance_fund += pool_funding_profit  # negative: the fund pays the imbalance
        market.collateral -= pool_funding_profit
        self._require_prepaid(market)
        return {
            "premium_fraction": premium_fraction,
            "funding_rate": funding_rate,
            "index_twap": index_twap,
            "cumulative_premium_fraction": f.cum_long,
            "cumulative_premium_fractions": (f.cum_long, f.cum_short),
            "receivers_premium_fraction": receivers_fraction,
            "insurance_fund_delta": pool_funding_profit,
            "shortfall": shortfall,
            "next_funding_time": market.pool.next_funding_time,
        }

    def _pay_funding_continuous(self, market: Market, now: int) -> dict[str, Any]:
        """Continuous funding: the accrual brought up to now; when due, the next rate is set (from the last
        window's TWAPs, as v1) and the cumulatives checkpointed; then the fund's advance is rebalanced toward
        FUNDING_BUDGET_PERIODS periods of the pool's side at the current imbalance (`target`): below half of it, it is
        topped up from the fund's surplus (as much as there is); above twice it, the excess goes back to the fund;
        in between nothing moves. Callable at any time (a top-up)."""
        self._begin(market, now)
        self._commit(market)
        f = market.funding
        pool = market.pool
        funding_rate = index_twap = None
        if now >= pool.next_funding_time:
            premium_fraction, funding_rate, index_twap = pool.settle_funding(market.index, now)
            f.checkpoint(now)
            f.premium_fraction = premium_fraction
            f.period = pool.funding_period
        target = ceil_div(FUNDING_BUDGET_PERIODS * abs(f.premium_fraction) * abs(pool.total_position_size), WAD)
        moved = 0
        if f.budget > 2 * target:
            moved = f.budget - target  # > 0: back to the fund
        elif f.budget < target // 2:
            moved = -min(target - f.budget, self.fund_surplus())
        f.budget -= moved
        self.insurance_fund += moved
        market.collateral -= moved
        self._require_prepaid(market)
        cum_long, cum_short = f.cumulative(True, now), f.cumulative(False, now)
        return {
            "premium_fraction": f.premium_fraction,
            "funding_rate": funding_rate,
            "index_twap": index_twap,
            "cumulative_premium_fraction": cum_long,
            "cumulative_premium_fractions": (cum_long, cum_short),
            "insurance_fund_delta": moved,
            "budget": f.budget,
            "next_funding_time": pool.next_funding_time,
        }

    @atomic
    def shutdown(self, name: str, now: int) -> int:
        return self._require_open_market(name).pool.shutdown(now)

    # ---- settlement (beyond v1: a claim window, then pro-rata payouts; SPEC §4, README "Settlement") ----

    def settlement_value(self, name: str, trader: str) -> int:
        """margin + PnL at the settlement price − funding owed, floored at 0 (v1's PnL formula; margin − funding
        at a settlement price of 0)."""
        market = self.market(name)
        position = market.position(trader)
        value = position.margin - mul(market.latest_cumulative_premium_fraction()
                                      - position.last_cumulative_premium_fraction, position.size)
        price = market.pool.settlement_price
        if price != 0:
            value += mul(position.size, price - div(position.open_notional, abs(position.size)))
        return max(value, 0)

    def _take_position_value(self, name: str, trader: str, block: int) -> int:
        market = self.market(name)
        if market.position(trader).size == 0:
            raise ModelError("NoPosition")
        value = self.settlement_value(name, trader)
        market.positions[trader] = Position(block=block)
        return value

    @atomic
    def settle_position(self, name: str, trader: str, now: int, block: int, by_trader: bool = True) -> int:
        """`settlePosition` (by_trader) or `claimSettlement`. In the window: registers the position's value as a
        claim and returns it (a value of 0 is settled at once); after it: pays the registered claim its share (or
        a late position at most that share, out of what the claims left and the fund) and returns what is
        credited."""
        market = self.market(name)
        pool = market.pool
        if pool.open or pool.settlement_window_end == 0:
            raise ModelError("MarketOpen")
        book = market.settlement
        claim = book.claims.get(trader, 0)
        if now < pool.settlement_window_end:
            if claim:
                raise ModelError("SettlementWindowOpen")
            value = self._take_position_value(name, trader, block)
            if value:
                book.claims[trader] = value
                book.total_claims += value
                book.unpaid_claims += 1
            return value
        if not book.finalized:
            self._finalize_settlement(market)
        if claim:
            del book.claims[trader]
            paid = book.share(claim)
            book.paid += paid
            book.unpaid_claims -= 1
            market.collateral -= paid
            if book.unpaid_claims == 0:
                book.dust = book.available - book.paid
                market.collateral -= book.dust
                self.insurance_fund += book.dust
        else:
            if not by_trader:
                raise ModelError("NothingToSettle")
            paid = book.share(self._take_position_value(name, trader, block))
            reserved = book.available - book.paid if book.unpaid_claims else 0
            free = market.collateral - reserved
            if paid > free:
                from_fund = max(min(paid - free, self.insurance_fund + self.toll_pool), 0)
                self.insurance_fund -= from_fund
                paid = free + from_fund
            market.collateral -= paid
        self._credit(trader, paid)
        return paid

    def _finalize_settlement(self, market: Market) -> None:
        """The window has closed: the fund pays in what it can of the claims beyond the collateral; the claims
        share the rest."""
        book = market.settlement
        held = max(market.collateral, 0)
        if book.total_claims > held:
            book.from_fund = max(min(book.total_claims - held, self.insurance_fund + self.toll_pool), 0)
            self.insurance_fund -= book.from_fund
            market.collateral += book.from_fund
            held += book.from_fund
        book.available = min(held, book.total_claims)
        book.finalized = True

    # ---- curve changes (k adjustment, repeg): beyond v1, SPEC §3 and README "Dynamic k, repeg" ----

    @atomic
    def adjust_k(self, name: str, factor: int, now: int, block: int, max_cost: int | None = None) -> int:
        """Scales both reserves by `factor` (wad, truncated); returns the cost booked against the fund."""
        if factor == 0:
            raise ModelError("ZeroKFactor")
        pool = self.market(name).pool
        return self._move_curve(name, mul(pool.quote_reserve, factor), mul(pool.base_reserve, factor), Tx(now, block),
                                max_cost)

    @atomic
    def repeg(self, name: str, price: int, now: int, block: int, max_cost: int | None = None) -> int:
        """Moves the price to `price` at a constant base reserve (quote = base × price, truncated)."""
        if price == 0:
            raise ModelError("ZeroPrice")
        pool = self.market(name).pool
        return self._move_curve(name, mul(pool.base_reserve, price), pool.base_reserve, Tx(now, block), max_cost)

    def curve_change_cost(self, name: str, quote_after: int, base_after: int) -> int:
        """What closing the traders' net position would exchange on the new curve minus the old one, from the
        traders' side (> 0: the pool owes the net position more), each with the pool's own rounding."""
        pool = self.market(name).pool
        return curve_change_cost(pool.total_position_size, pool.quote_reserve, pool.base_reserve, quote_after, base_after)

    def max_curve_move(self) -> int:
        """The most one block's curve changes may move positions' value: half the maintenance margin ratio."""
        return self.maintenance_margin_ratio * CURVE_MOVE_SHARE // WAD

    def _move_curve(self, name: str, quote_after: int, base_after: int, tx: Tx, max_cost: int | None) -> int:
        """One curve change per block, before any trade of it (the model has no multi-call transactions), moving
        positions' value by at most `max_curve_move()`, costing at most `max_cost` and the fund's surplus."""
        market = self.market(name)
        pool = market.pool
        if not pool.open:
            raise ModelError("MarketClosed")
        if quote_after == 0 or base_after == 0:
            raise ModelError("ZeroReserve")
        cost = self.curve_change_cost(name, quote_after, base_after)
        if pool.snapshots[-1].block == tx.block:
            raise ModelError("CurveChangeAfterTrade")
        if div(quote_after, base_after) > MAX_MARK:
            raise ModelError("MarkOutOfRange")
        price_before, price_after = pool.spot_price(), div(quote_after, base_after)
        move = div(abs(price_after - price_before), price_before)
        if base_after < pool.base_reserve:
            move += div(pool.base_reserve - base_after, pool.base_reserve)
        if move > self.max_curve_move():
            raise ModelError("CurveMoveTooLarge")
        if max_cost is not None and cost > max_cost:
            raise ModelError("CurveChangeCostExceeded")
        surplus = max(self.insurance_fund - self.insurance_fund_floor, 0)
        if cost > surplus:
            raise ModelError("InsuranceFundInsufficient")
        self.insurance_fund -= cost
        market.collateral += cost
        self._require_prepaid(market)
        pool.quote_reserve, pool.base_reserve = quote_after, base_after
        pool._add_snapshot(tx)  # the new price is the mark from this block on
        return cost

    # ---- owner setters ----

    def set_index_price(self, name: str, price_wad: int, now: int) -> None:
        self.market(name).index.add_price(now, price_wad)

    def set_pool_param(self, name: str, param: str, value: int) -> None:
        pool = self.market(name).pool
        if not hasattr(pool, param):
            raise AttributeError(param)
        setattr(pool, param, value)

    # ---- accounting (for conservation checks) ----

    def total_value(self) -> int:
        """Vault balances + margins + insurance fund + toll pool + what the pools owe traders in realized terms
        (quote reserve drift minus the open notional basis) - pending funding + bad debt the fund prepaid + the fund's
        continuous-funding advance; constant across every operation but deposits/withdrawals, up to funding rounding
        dust. Continuous funding is valued as last brought up to date."""
        total = sum(self.vault.values()) + self.insurance_fund + self.toll_pool
        for market in self.markets.values():
            pool = market.pool
            basis = 0
            pending_funding = 0
            cum_long, cum_short = market.cumulative_premium_fractions()
            for position in market.positions.values():
                total += position.margin
                basis += position.open_notional if position.size > 0 else -position.open_notional
                if position.size != 0:
                    latest_fraction = cum_long if position.size > 0 else cum_short
                    pending_funding += mul(latest_fraction - position.last_cumulative_premium_fraction,
                                           position.size)
            # the fund's prepayment sits in the market's collateral until the loss it covers is realised
            total += pool.quote_reserve - pool.initial_quote_reserve - basis - pending_funding + market.prepaid_bad_debt
            total += market.funding.budget
        return total
