"""Fixed-point helpers: every protocol number is an 18-decimal integer ("wad").

The arithmetic mirrors contracts/libraries/WadMath.sol: products and quotients truncate toward zero.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

WAD = 10**18

Number = int | str | Decimal | float


class UnitError(ValueError):
    """A human amount that cannot be represented (negative, not a number, too many decimals)."""


def to_decimal(x: Number) -> Decimal:
    """A human number as an exact Decimal (floats go through their shortest repr)."""
    if isinstance(x, bool):
        raise UnitError(f"not a number: {x!r}")
    try:
        value = Decimal(str(x)) if isinstance(x, float) else Decimal(x)
    except ArithmeticError as exc:
        raise UnitError(f"not a number: {x!r}") from exc
    if not value.is_finite():
        raise UnitError(f"not a finite number: {x!r}")
    return value


def to_units(x: Number, decimals: int) -> int:
    """Human amount → integer with `decimals` decimals, exactly; more precision than that is an error."""
    with localcontext() as ctx:
        ctx.prec = 100
        scaled = to_decimal(x) * (Decimal(10) ** decimals)
    if scaled != scaled.to_integral_value():
        raise UnitError(f"{x} has more than {decimals} decimals")
    return int(scaled)


def to_wad(x: Number) -> int:
    """Human number → wad, exactly (10 → 10 * 10**18, "0.05" → 5 * 10**16)."""
    return to_units(x, 18)


def from_units(x: int, decimals: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 100
        return Decimal(x) / (Decimal(10) ** decimals)


def from_wad(x: int) -> Decimal:
    """Wad → exact Decimal."""
    return from_units(x, 18)


def div_trunc(a: int, b: int) -> int:
    """a / b truncated toward zero, like Solidity's `/` on signed integers."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def mul_wad(a: int, b: int) -> int:
    """a * b / 1e18, truncated toward zero."""
    return div_trunc(a * b, WAD)


def div_wad(a: int, b: int) -> int:
    """a * 1e18 / b, truncated toward zero."""
    return div_trunc(a * WAD, b)


def fmt_wad(x: int | None, places: int = 4) -> str:
    """Wad → '1,234.5678' (rounded for display only); None → '-'."""
    if x is None:
        return "-"
    return f"{from_wad(x):,.{places}f}"


def fmt_pct(x: int | None, places: int = 2) -> str:
    """Wad ratio → '12.34 %'; None → '-'."""
    if x is None:
        return "-"
    return f"{from_wad(x) * 100:,.{places}f} %"
