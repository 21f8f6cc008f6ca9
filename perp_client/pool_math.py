"""The pool and position math of contracts/libraries/PoolMath.sol and PositionMath.sol, to the wei.

A constant-product pool `quote * base = k`, k recomputed as `mulWad(quote, base)` on every quote. When
`k / reserveAfter` leaves a remainder the trader receives 1 wei less or pays 1 wei more (Perp v1's rounding).
"""

from __future__ import annotations

from perp_client.units import WAD, div_wad


def get_input_price(is_add: bool, quote_amount: int, quote_reserve: int, base_reserve: int) -> int:
    """Base received for adding `quote_amount` of quote (rounded down), or given for removing it (rounded up)."""
    if quote_amount == 0:
        return 0
    k = quote_reserve * base_reserve // WAD
    quote_after = quote_reserve + quote_amount if is_add else quote_reserve - quote_amount
    if quote_after <= 0:
        raise ValueError("the trade would empty the quote reserve")
    base_after = k * WAD // quote_after
    base_amount = base_reserve - base_after if is_add else base_after - base_reserve
    if (k * WAD) % quote_after != 0:
        base_amount += -1 if is_add else 1
    return base_amount


def get_output_price(is_add: bool, base_amount: int, quote_reserve: int, base_reserve: int) -> int:
    """Quote received for adding `base_amount` of base (rounded down), or paid for removing it (rounded up)."""
    if base_amount == 0:
        return 0
    k = quote_reserve * base_reserve // WAD
    base_after = base_reserve + base_amount if is_add else base_reserve - base_amount
    if base_after <= 0:
        raise ValueError("the trade would empty the base reserve")
    quote_after = k * WAD // base_after
    quote_amount = quote_reserve - quote_after if is_add else quote_after - quote_reserve
    if (k * WAD) % base_after != 0:
        quote_amount += -1 if is_add else 1
    return quote_amount


def spot_price(quote_reserve: int, base_reserve: int) -> int:
    """quote / base, rounded down."""
    return quote_reserve * WAD // base_reserve


def pnl(size: int, open_notional: int, notional: int) -> int:
    """Long: notional − openNotional; short: openNotional − notional."""
    return notional - open_notional if size > 0 else open_notional - notional


def spot_notional_and_pnl(size: int, open_notional: int, quote_reserve: int, base_reserve: int) -> tuple[int, int]:
    """What closing `size` now would return (pool rounding), and the PnL against `open_notional`."""
    if size == 0:
        return 0, 0
    notional = get_output_price(size > 0, abs(size), quote_reserve, base_reserve)
    return notional, pnl(size, open_notional, notional)


def margin_ratio(size: int, margin: int, open_notional: int, funding: int, quote_reserve: int, base_reserve: int) -> int:
    """(margin − funding + spot PnL) / spot notional, truncated toward zero (the contract's spot ratio)."""
    notional, unrealized = spot_notional_and_pnl(size, open_notional, quote_reserve, base_reserve)
    return div_wad(margin + unrealized - funding, notional)
