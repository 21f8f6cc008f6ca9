"""How `perp` shows things: rich tables for a person, exact JSON for a program (`--json`), one line per error.

Amounts are human: quote amounts in the collateral token's units, prices in quote per base, sizes in base, ratios
in percent; never raw wad integers. Tables round for reading (2 decimals for money, 4 for prices, 6 for sizes);
JSON carries every value exactly, as a decimal string in the same human unit.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterable, Sequence
from decimal import ROUND_DOWN, Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from perp_client.units import from_wad

MONEY, PRICE, SIZE, PCT = 2, 4, 6, 2


def console() -> Console:
    """stdout; wide enough for the tables when it is not a terminal (a pipe, a file, a test)."""
    if sys.stdout.isatty():
        return Console()
    return Console(width=max(shutil.get_terminal_size((160, 24)).columns, 160), no_color=True, highlight=False)


def exact(wad: int | None) -> str | None:
    """A wad as its exact human decimal ('3000.1', '0.333322222222222222'); None stays None."""
    if wad is None:
        return None
    d = from_wad(wad)
    text = f"{d.normalize():f}" if d else "0"
    return text


def units(wad: int | None, decimals: int) -> str | None:
    """A wad rounded down to `decimals` places (a token amount a person can type back)."""
    if wad is None:
        return None
    return f"{from_wad(wad).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN):f}"


def fmt(wad: int | None, places: int) -> str:
    if wad is None:
        return "-"
    return f"{from_wad(wad):,.{places}f}"


def money(wad: int | None) -> str:
    return fmt(wad, MONEY)


def price(wad: int | None) -> str:
    return fmt(wad, PRICE)


def size(wad: int | None) -> str:
    return fmt(wad, SIZE)


def pct(wad: int | None, places: int = PCT) -> str:
    return "-" if wad is None else f"{from_wad(wad) * 100:,.{places}f} %"


def signed(text: str) -> str:
    return text if text.startswith(("-", "+")) or text in ("-", "0.00") else f"+{text}"


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]], right: Iterable[str] = ()) -> Table:
    """A table; the columns named in `right` are right-aligned (numbers)."""
    t = Table(title=title, title_justify="left", show_edge=False, pad_edge=False, box=None, header_style="bold")
    aligned = set(right)
    for c in columns:
        t.add_column(c, justify="right" if c in aligned else "left", no_wrap=True)
    for r in rows:
        t.add_row(*(str(x) for x in r))
    return t


def pairs(title: str, rows: Sequence[tuple[str, str]]) -> Table:
    """A two-column key/value table."""
    t = Table(title=title, title_justify="left", show_header=False, show_edge=False, pad_edge=False, box=None)
    t.add_column("", style="bold", no_wrap=True)
    t.add_column("", no_wrap=True)
    for k, v in rows:
        t.add_row(k, v)
    return t


def emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))
