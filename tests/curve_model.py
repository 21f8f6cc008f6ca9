"""Python model of a curve change (k adjustment, repeg) and its cost, with Perp v1's pool rounding.

Independent of the contracts: `k = q * b // 1e18`, `quoteAfter = k * 1e18 // baseAfter`, and when
`k * 1e18 % baseAfter != 0` the trader gets 1 wei less (adding base) or pays 1 wei more (removing base).
All values are wad ints; sizes are signed (long positive).
"""

from __future__ import annotations

from tests.model.protocol_model import curve_change_cost
from tests.trading import WAD, output_price, spot_price

__all__ = ["close_value", "curve_change_cost", "notional_and_pnl", "repegged", "scaled", "spot_price"]


def close_value(net_size: int, q: int, b: int) -> int:
    """What closing the traders' net position exchanges: paid to a net long, received from a net short."""
    return output_price(net_size > 0, abs(net_size), q, b)


def scaled(q: int, b: int, factor: int) -> tuple[int, int]:
    """Reserves after `adjustK(factor)`."""
    return q * factor // WAD, b * factor // WAD


def repegged(b: int, price: int) -> tuple[int, int]:
    """Reserves after `repeg(price)`: base unchanged, quote = base × price."""
    return b * price // WAD, b


def notional_and_pnl(size: int, open_notional: int, q: int, b: int) -> tuple[int, int]:
    """A position's spot notional and unrealized PnL on the curve (q, b)."""
    if size == 0:
        return 0, 0
    notional = output_price(size > 0, abs(size), q, b)
    pnl = notional - open_notional if size > 0 else open_notional - notional
    return notional, pnl
