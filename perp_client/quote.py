"""Trade simulation with the ClearingHouse's rules, and the liquidation price of a position.

`simulate_open` follows ClearingHouse.openPosition: increase (new or same side), reduce (opposite side,
smaller notional: v1's realised-PnL formula) or close-and-reverse (opposite side, larger notional, the rest
opened at the same leverage). Everything is integer wad math with the pool's rounding, so a quote equals
what the chain does when nothing else trades first.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isqrt

from perp_client import pool_math as pm
from perp_client.units import WAD, div_trunc, div_wad, mul_wad


class QuoteError(ValueError):
    """The trade cannot be made (leverage too high, trade limit, an empty pool...)."""


@dataclass(frozen=True)
class Pool:
    """What a quote needs from a market (all wad)."""

    quote_reserve: int
    base_reserve: int
    toll_ratio: int = 0
    spread_ratio: int = 0
    trade_limit_ratio: int = WAD

    @property
    def spot(self) -> int:
        return pm.spot_price(self.quote_reserve, self.base_reserve)


@dataclass(frozen=True)
class Holding:
    """A position as the ClearingHouse stores it, with the funding it owes now (positive: it pays)."""

    size: int = 0
    margin: int = 0
    open_notional: int = 0
    funding_payment: int = 0


@dataclass(frozen=True)
class TradeResult:
    """The position after a trade and what the trade exchanged (wad; sizes signed, long positive)."""

    holding: Holding
    exchanged_quote: int
    exchanged_size: int
    realized_pnl: int
    margin_to_vault: int  # > 0 taken from the vault balance, < 0 returned to it
    fee: int
    pool_after: Pool
    bad_debt: int = 0


def _check_trade_limit(is_long: bool, quote_amount: int, base_amount: int, pool: Pool) -> None:
    if is_long:
        amount, limit = base_amount, mul_wad(pool.base_reserve, pool.trade_limit_ratio)
    else:
        amount, limit = quote_amount, mul_wad(pool.quote_reserve, pool.trade_limit_ratio)
    if amount > limit:
        raise QuoteError(f"the trade exceeds the market's trade limit ({amount} > {limit} wad)")


def _swap_quote(pool: Pool, is_long: bool, notional: int) -> tuple[int, Pool]:
    """Swap `notional` of quote in (long) or out (short); returns the base exchanged and the pool after."""
    try:
        base = pm.get_input_price(is_long, notional, pool.quote_reserve, pool.base_reserve)
    except ValueError as exc:
        raise QuoteError(str(exc)) from exc
    _check_trade_limit(is_long, notional, base, pool)
    if is_long:
        after = (pool.quote_reserve + notional, pool.base_reserve - base)
    else:
        after = (pool.quote_reserve - notional, pool.base_reserve + base)
    return base, Pool(after[0], after[1], pool.toll_ratio, pool.spread_ratio, pool.trade_limit_ratio)


def _increase(pool: Pool, old: Holding, is_long: bool, notional: int, leverage: int) -> TradeResult:
    base, after = _swap_quote(pool, is_long, notional)
    exchanged = base if is_long else -base
    requirement = div_wad(notional, leverage)
    margin = old.margin + requirement - old.funding_payment
    if margin < 0:
        raise QuoteError(f"the position owes {-margin} wad more funding than its margin")
    holding = Holding(old.size + exchanged, margin, old.open_notional + notional)
    return TradeResult(holding, notional, exchanged, 0, requirement, 0, after)


def _close(pool: Pool, old: Holding) -> TradeResult:
    is_long = old.size > 0
    size = abs(old.size)
    notional, unrealized = pm.spot_notional_and_pnl(old.size, old.open_notional, pool.quote_reserve, pool.base_reserve)
    # swapOutput's limit: the quote leaving the pool (closing a long) or the base leaving it (a short)
    amount, reserve = (notional, pool.quote_reserve) if is_long else (size, pool.base_reserve)
    if amount > mul_wad(reserve, pool.trade_limit_ratio):
        raise QuoteError("closing at once exceeds the market's trade limit")
    remain = old.margin + unrealized - old.funding_payment
    if is_long:
        after = (pool.quote_reserve - notional, pool.base_reserve + size)
    else:
        after = (pool.quote_reserve + notional, pool.base_reserve - size)
    pool_after = Pool(after[0], after[1], pool.toll_ratio, pool.spread_ratio, pool.trade_limit_ratio)
    return TradeResult(
        Holding(), notional, -old.size, unrealized, -max(remain, 0), 0, pool_after, bad_debt=max(-remain, 0)
    )


def _reduce(pool: Pool, old: Holding, is_long: bool, notional: int, old_notional: int, unrealized: int) -> TradeResult:
    base, after = _swap_quote(pool, is_long, notional)
    exchanged = base if is_long else -base
    realized = div_wad(mul_wad(unrealized, base), abs(old.size))
    remain = old.margin + realized - old.funding_payment
    unrealized_after = unrealized - realized
    if old.size > 0:
        open_notional = old_notional - notional - unrealized_after
    else:
        open_notional = unrealized_after + old_notional - notional
    if open_notional <= 0:
        raise QuoteError("the reduction would leave a non-positive open notional; close the position instead")
    if remain < 0:
        raise QuoteError(f"the position is under water by {-remain} wad: it can only be liquidated")
    holding = Holding(old.size + exchanged, remain, open_notional)
    return TradeResult(holding, notional, exchanged, realized, 0, 0, after)


def simulate_open(pool: Pool, old: Holding, is_long: bool, margin: int, leverage: int) -> TradeResult:
    """ClearingHouse.openPosition(side, margin, leverage) against `pool` for a trader holding `old`."""
    if margin <= 0 or leverage <= 0:
        raise QuoteError("margin and leverage must be positive")
    notional = mul_wad(margin, leverage)
    if old.size == 0 or (old.size > 0) == is_long:
        result = _increase(pool, old, is_long, notional, leverage)
    else:
        old_notional, unrealized = pm.spot_notional_and_pnl(
            old.size, old.open_notional, pool.quote_reserve, pool.base_reserve
        )
        if old_notional > notional:
            result = _reduce(pool, old, is_long, notional, old_notional, unrealized)
        else:
            closed = _close(pool, old)
            if closed.bad_debt:
                raise QuoteError(f"the position is under water by {closed.bad_debt} wad: it can only be liquidated")
            rest = notional - closed.exchanged_quote
            if div_wad(rest, leverage) == 0:
                result = closed
            else:
                opened = _increase(closed.pool_after, Holding(), is_long, rest, leverage)
                result = TradeResult(
                    opened.holding,
                    notional,
                    closed.exchanged_size + opened.exchanged_size,
                    closed.realized_pnl,
                    closed.margin_to_vault + opened.margin_to_vault,
                    0,
                    opened.pool_after,
                )
    fee = mul_wad(result.exchanged_quote, pool.toll_ratio) + mul_wad(result.exchanged_quote, pool.spread_ratio)
    return TradeResult(
        result.holding,
        result.exchanged_quote,
        result.exchanged_size,
        result.realized_pnl,
        result.margin_to_vault,
        fee,
        result.pool_after,
        result.bad_debt,
    )


def simulate_close(pool: Pool, old: Holding) -> TradeResult:
    """ClearingHouse.closePosition (whole close) against `pool`."""
    if old.size == 0:
        raise QuoteError("there is no position to close")
    closed = _close(pool, old)
    fee = mul_wad(closed.exchanged_quote, pool.toll_ratio) + mul_wad(closed.exchanged_quote, pool.spread_ratio)
    return TradeResult(
        closed.holding, closed.exchanged_quote, closed.exchanged_size, closed.realized_pnl,
        closed.margin_to_vault, fee, closed.pool_after, closed.bad_debt,
    )


def simulate_reduce(pool: Pool, old: Holding, base_amount: int) -> tuple[int, TradeResult]:
    """A partial close: reduce `old` by `base_amount` of base (0 < base_amount < |size|), reduce-only.

    The trade is openPosition on the opposite side at 1x for the quote notional that exchanges exactly
    `base_amount` at the pool now (its output price, pool rounding); returns that notional and the result.
    """
    if old.size == 0:
        raise QuoteError("there is no position to reduce")
    if not 0 < base_amount < abs(old.size):
        raise QuoteError("a partial close takes a size between 0 and the position's size")
    is_long = old.size > 0
    try:
        notional = pm.get_output_price(is_long, base_amount, pool.quote_reserve, pool.base_reserve)
    except ValueError as exc:
        raise QuoteError(str(exc)) from exc
    result = simulate_open(pool, old, not is_long, notional, WAD)
    if result.holding.size == 0 or (result.holding.size > 0) != is_long:
        raise QuoteError("the trade would not only reduce the position")
    return notional, result


# ------------------------------------------------------------------------------------- liquidation price


def _pool_at_price(k: int, price: int) -> tuple[int, int]:
    """Reserves on the curve `quote * base = k` (wad) where quote / base = `price`."""
    quote = isqrt(k * price)
    return quote, k * WAD // quote


def _ratio_at_price(h: Holding, k: int, price: int) -> int | None:
    """Spot margin ratio of `h` if the mark were `price` on the same curve; None when it cannot be closed."""
    quote, base = _pool_at_price(k, price)
    if quote == 0 or (h.size < 0 and base <= abs(h.size)):
        return None
    notional, unrealized = pm.spot_notional_and_pnl(h.size, h.open_notional, quote, base)
    if notional == 0:
        return None
    return div_wad(h.margin + unrealized - h.funding_payment, notional)


def liquidation_price(h: Holding, pool: Pool, maintenance_margin_ratio: int) -> int | None:
    """The mark price (wad) at which the spot margin ratio of `h` falls to `maintenance_margin_ratio`.

    The pool is assumed to move along its curve (k constant, as other traders' trades move it). Long: the
    highest price at or below which it is liquidatable; short: the lowest at or above which it is. None for
    no position, or a long that can never fall below maintenance (margin >= open notional). The contract
    also looks at the 15-minute TWAP and, far from the oracle, at the index: this is the spot answer.
    """
    if h.size == 0:
        return None
    k = pool.quote_reserve * pool.base_reserve // WAD
    mmr = maintenance_margin_ratio
    if h.size > 0:
        if h.margin - h.funding_payment >= h.open_notional:
            return None

        def healthy(p: int) -> bool:
            r = _ratio_at_price(h, k, p)
            return r is not None and r >= mmr

        lo, hi = 1, max(pool.spot, 1)
        while not healthy(hi):
            lo, hi = hi, hi * 2
        # invariant: liquidatable at lo (or lo == 1), healthy at hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if healthy(mid) else (mid, hi)
        return lo

    def short_healthy(p: int) -> bool:
        r = _ratio_at_price(h, k, p)
        return r is not None and r >= mmr

    lo, hi = 1, max(pool.spot, 1)
    if not short_healthy(lo):
        return lo
    while short_healthy(hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if short_healthy(mid) else (lo, mid)
    return hi


def price_impact(spot_before: int, spot_after: int) -> int:
    """(after − before) / before, wad, signed."""
    return div_trunc((spot_after - spot_before) * WAD, spot_before)
